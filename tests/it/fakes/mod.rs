//! In-process fakes of external services the tests cannot reach.

pub mod llm;
pub mod marketplace;
pub mod openapi;
pub mod smtp;
pub mod spec;
pub mod telegram;
pub mod vk;
pub mod whatsapp;

/// Serves `app` on an ephemeral loopback port; returns the address and the server task.
pub async fn serve(app: axum::Router) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, task)
}

/// The text fields of a `multipart/form-data` body (teloxide sends setWebhook that way).
pub fn form_fields(content_type: &str, body: &[u8]) -> serde_json::Value {
    let Some(boundary) = content_type.split("boundary=").nth(1) else { return serde_json::json!({}) };
    let text = String::from_utf8_lossy(body);
    let mut out = serde_json::Map::new();
    for part in text.split(&format!("--{}", boundary.trim_matches('"'))) {
        let Some((head, value)) = part.split_once("\r\n\r\n") else { continue };
        let Some(name) = head.split(" name=\"").nth(1).and_then(|n| n.split('"').next()) else { continue };
        if let Some(file) = head.split("filename=\"").nth(1).and_then(|n| n.split('"').next()) {
            out.insert(format!("{name}.filename"), serde_json::json!(file));
        }
        out.insert(name.to_owned(), serde_json::json!(value.trim_end_matches("\r\n")));
    }
    serde_json::Value::Object(out)
}
