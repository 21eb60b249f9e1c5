//! In-process fakes of external services the tests cannot reach.

pub mod llm;
pub mod marketplace;
pub mod smtp;
pub mod telegram;

/// Serves `app` on an ephemeral loopback port; returns the address and the server task.
pub async fn serve(app: axum::Router) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, task)
}
