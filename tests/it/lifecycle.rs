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

/// At a stop, connections the kernel had already accepted (the backlog) and requests in flight
/// are answered; none is reset. 200 clients connect at once, the stop begins, then they send.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_answers_every_connection_it_had_accepted() {
    let mut app = TestApp::spawn().await;
    let addr = app.addr;
    let connects: Vec<_> = (0..200).map(|_| tokio::spawn(TcpStream::connect(addr))).collect();
    let mut streams = Vec::new();
    for c in connects {
        streams.push(c.await.expect("join").expect("connect before the stop"));
    }
    let server = app.begin_shutdown();
    let mut clients = Vec::new();
    for mut s in streams {
        clients.push(tokio::spawn(async move {
            let req = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
            if s.write_all(req.as_bytes()).await.is_err() {
                return "reset";
            }
            let mut buf = Vec::new();
            match tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut buf)).await {
                Ok(Ok(_)) if buf.starts_with(b"HTTP/1.1 200") => "answered",
                Ok(Ok(_)) if buf.is_empty() => "closed without an answer",
                Ok(Ok(_)) => "other answer",
                Ok(Err(_)) => "reset",
                Err(_) => "hung",
            }
        }));
    }
    let mut outcomes = std::collections::BTreeMap::new();
    for c in clients {
        *outcomes.entry(c.await.expect("client")).or_insert(0) += 1;
    }
    assert_eq!(outcomes.get("answered"), Some(&200), "{outcomes:?}");
    server.await.expect("join").expect("clean stop");
}
