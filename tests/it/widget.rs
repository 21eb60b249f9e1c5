//! The web chat widget's WebSocket: allowed origins only, a conversation with the engine,
//! history on reconnect, replies written while the visitor was away.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::harness::{TestApp, eventually};

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(app: &TestApp, visitor: &str, origin: &str) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let mut req = format!("ws://{}/widget/ws?visitor={visitor}", app.addr).into_client_request().expect("request");
    req.headers_mut().insert("Origin", origin.parse().expect("header"));
    tokio_tungstenite::connect_async(req).await.map(|(ws, _)| ws)
}

async fn next(ws: &mut Ws) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("a frame in time");
        if let Some(Ok(Message::Text(t))) = frame {
            return serde_json::from_str(t.as_str()).expect("json frame");
        }
    }
}

#[tokio::test]
async fn a_visitor_chats_through_the_widget() {
    let app = TestApp::spawn_prepared(
        |paths| {
            let db = supportd::store::Db::open(&paths.db(), 1, 1).expect("open");
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("t").as_millis() as i64;
            supportd::kb::import::apply(&db, supportd::kb::import::demo(), None, "demo", now);
            db.with_conn(|c| {
                supportd::marketplace::demo::load(c, now)
                    .map_err(|e| supportd::store::StoreError::Conflict(e.to_string()))
            })
            .expect("orders");
        },
        |c| c.widget.allowed_origins = vec!["https://ladya-shop.ru".into()],
    )
    .await;
    // Another site may not connect.
    match open(&app, "v-visitor-0001", "https://evil.example").await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), StatusCode::FORBIDDEN),
        other => panic!("expected a 403, got {:?}", other.map(|_| ())),
    }
    let mut ws = open(&app, "v-visitor-0001", "https://ladya-shop.ru").await.expect("connect");
    assert_eq!(next(&mut ws).await, json!({"type": "history", "messages": []}));
    ws.send(Message::text(json!({"type": "message", "id": "c1", "text": "где мой заказ 4102938475"}).to_string()))
        .await
        .expect("send");
    assert_eq!(next(&mut ws).await, json!({"type": "ack", "id": "c1"}));
    let reply = next(&mut ws).await;
    assert_eq!(reply["type"], "message");
    assert!(reply["text"].as_str().expect("text").contains("в пути"), "{reply}");
    // Bad frames get an error, not a dropped connection.
    ws.send(Message::text("{}")).await.expect("send");
    assert_eq!(next(&mut ws).await["type"], "error");
    drop(ws);

    // While the visitor is away an operator answers; on return the history has it, once.
    let admin = app.admin_token().await;
    let list: Value = app.get(&admin, "/api/v1/conversations").await.json().await.expect("json");
    let conv = list[0]["id"].as_i64().expect("id");
    let resp =
        app.post(&admin, &format!("/api/v1/conversations/{conv}/messages"), &json!({"text": "Мы на связи!"})).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    // The dispatcher has tried it: queued for later (the visitor is offline), or pushed to the
    // socket before the server saw it close.
    eventually(10, "the operator's reply tried", async || {
        let (attempts, status): (i64, String) = app
            .db()
            .query_row(
                "SELECT attempts, status FROM outbox WHERE channel = 'widget' ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("row");
        (attempts >= 1 && status != "sending").then_some(())
    })
    .await;
    let mut ws = open(&app, "v-visitor-0001", "https://ladya-shop.ru").await.expect("reconnect");
    let history = next(&mut ws).await;
    let texts: Vec<&str> =
        history["messages"].as_array().expect("list").iter().filter_map(|m| m["text"].as_str()).collect();
    assert_eq!(texts.len(), 3, "{texts:?}");
    assert_eq!(texts[2], "Мы на связи!");
    let sent: i64 = app
        .db()
        .query_row("SELECT COUNT(*) FROM outbox WHERE channel = 'widget' AND status = 'sent'", [], |r| r.get(0))
        .expect("count");
    assert_eq!(sent, 2);
    // Nothing else arrives (the operator's reply is not pushed a second time).
    assert!(tokio::time::timeout(Duration::from_millis(700), ws.next()).await.is_err());
    // The script itself is served.
    let js = app.client.get(app.url("/widget.js")).send().await.expect("get");
    assert_eq!(js.status(), StatusCode::OK);
    assert!(js.text().await.expect("text").contains("/widget/ws"));
}
