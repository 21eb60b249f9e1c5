//! Password reset: by e-mail through a fake SMTP relay, and by admin-issued link.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fakes::smtp::FakeSmtp;
use crate::harness::{TestApp, error_code};

fn token_from(text: &str) -> String {
    let start = text.find("#reset=").expect("link in mail") + "#reset=".len();
    text[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}

async fn spawn_with_mail() -> (TestApp, FakeSmtp) {
    let smtp = FakeSmtp::start().await;
    let port = smtp.port;
    let app = TestApp::spawn_with(|c| {
        c.smtp.host = "127.0.0.1".into();
        c.smtp.port = port;
        c.smtp.tls = supportd::config::SmtpTls::None;
        c.smtp.from = "Магазин <support@shop.ru>".into();
        c.server.public_url = "https://support.shop.ru".into();
    })
    .await;
    (app, smtp)
}

async fn confirm(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/password-reset/confirm"))
        .json(&json!({ "token": token, "new_password": password }))
        .send()
        .await
        .expect("confirm")
}

async fn request(app: &TestApp, email: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/password-reset"))
        .json(&json!({ "email": email }))
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn reset_link_by_email_works_once() {
    let (app, smtp) = spawn_with_mail().await;
    let before = app.admin_token().await;
    assert_eq!(request(&app, "admin@localhost").await.status(), StatusCode::ACCEPTED);
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails[0].to, vec!["<admin@localhost>".to_owned()]);
    assert_eq!(mails[0].from, "<support@shop.ru>");
    let text = mails[0].text();
    assert!(text.contains("https://support.shop.ru/#reset="), "{text}");
    assert!(text.contains("Здравствуйте"), "the mail is in Russian: {text}");
    let token = token_from(&text);

    // A rejected password does not use the link up.
    let weak = confirm(&app, &token, "short").await;
    assert_eq!(error_code(weak, StatusCode::UNPROCESSABLE_ENTITY).await, "invalid_body");
    assert_eq!(confirm(&app, &token, "my new long password").await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.login_response("admin@localhost", "my new long password").await.status(), StatusCode::OK);
    assert_eq!(app.get(&before, "/api/v1/auth/me").await.status(), StatusCode::UNAUTHORIZED, "old sessions end");
    let again = confirm(&app, &token, "another long password").await;
    assert_eq!(error_code(again, StatusCode::GONE).await, "reset_token_used");
    let forged = confirm(&app, "not-a-token", "another long password").await;
    assert_eq!(error_code(forged, StatusCode::NOT_FOUND).await, "invalid_reset_token");

    // An unknown address gets the same answer and no mail.
    assert_eq!(request(&app, "nobody@shop.ru").await.status(), StatusCode::ACCEPTED);
    assert_eq!(request(&app, "admin@localhost").await.status(), StatusCode::ACCEPTED);
    let mails = smtp.wait_for(2).await;
    assert_eq!(mails.len(), 2);
    assert!(mails.iter().all(|m| m.to == vec!["<admin@localhost>".to_owned()]));
}

#[tokio::test]
async fn reset_links_expire() {
    let (app, smtp) = spawn_with_mail().await;
    assert_eq!(request(&app, "admin@localhost").await.status(), StatusCode::ACCEPTED);
    let token = token_from(&smtp.wait_for(1).await[0].text());
    app.clock.advance(Duration::from_secs(61 * 60));
    let late = confirm(&app, &token, "my new long password").await;
    assert_eq!(error_code(late, StatusCode::GONE).await, "reset_token_expired");
    assert_eq!(app.login_response("admin@localhost", &app.admin_password).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn without_smtp_admins_issue_links() {
    let app = TestApp::spawn().await;
    let r = request(&app, "admin@localhost").await;
    assert_eq!(error_code(r, StatusCode::CONFLICT).await, "email_not_configured");
    let admin = app.admin_token().await;
    let (id, _) = app.create_user(&admin, "op@shop.ru", "operator").await;
    let link: Value =
        app.post(&admin, &format!("/api/v1/users/{id}/reset-link"), &json!({})).await.json().await.expect("json");
    let token = token_from(link["url"].as_str().expect("url"));
    assert_eq!(confirm(&app, &token, "operator new password").await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.login_response("op@shop.ru", "operator new password").await.status(), StatusCode::OK);
}
