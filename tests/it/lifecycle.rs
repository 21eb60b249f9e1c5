//! Requests in flight during a stop, and the per-request time limit, over raw TCP so the test
//! controls exactly when each byte is sent.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::TestApp;

async fn read_response(stream: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut buf))
        .await
        .expect("response within 20 s")
        .expect("read");
    String::from_utf8_lossy(&buf).into_owned()
}

fn login_head(addr: std::net::SocketAddr, body_len: usize) -> String {
    format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {body_len}\r\nConnection: close\r\n\r\n"
    )
}

#[tokio::test]
async fn a_request_in_flight_finishes_during_a_graceful_stop() {
    let mut app = TestApp::spawn().await;
    let body = format!(r#"{{"email":"admin@localhost","password":"{}"}}"#, app.admin_password);
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    stream.write_all(login_head(app.addr, body.len()).as_bytes()).await.expect("head");
    let (first, rest) = body.split_at(10);
    stream.write_all(first.as_bytes()).await.expect("first half");
    // Let the server start reading the request, then ask it to stop.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let server = app.begin_shutdown();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!server.is_finished(), "the server must wait for the request in flight");
    // New connections are no longer accepted.
    assert!(TcpStream::connect(app.addr).await.is_err(), "accepting after the stop began");
    stream.write_all(rest.as_bytes()).await.expect("second half");
    let response = read_response(&mut stream).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"token\""));
    server.await.expect("join").expect("clean stop");
}

#[tokio::test]
async fn a_stalled_request_times_out_with_the_error_shape() {
    let app = TestApp::spawn_with(|c| c.server.request_timeout_secs = 1).await;
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    stream.write_all(login_head(app.addr, 100).as_bytes()).await.expect("head");
    stream.write_all(b"{\"email\":").await.expect("part");
    let response = read_response(&mut stream).await;
    assert!(response.starts_with("HTTP/1.1 503"), "{response}");
    assert!(response.contains(r#""code":"timeout""#), "{response}");
}
