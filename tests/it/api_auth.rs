//! Sign-in, roles, CSRF, throttling, tokens, sessions.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{RETRY_AFTER, SET_COOKIE};
use serde_json::{Value, json};

use crate::harness::{TestApp, error_code};

#[tokio::test]
async fn login_gives_a_bearer_token_and_a_strict_http_only_cookie() {
    let app = TestApp::spawn().await;
    let resp = app.login_response("Admin@Localhost", &app.admin_password).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let cookies: Vec<String> =
        resp.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().expect("ascii").to_owned()).collect();
    let session = cookies.iter().find(|c| c.starts_with("supportd_session=")).expect("session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict"), "{session}");
    let csrf = cookies.iter().find(|c| c.starts_with("supportd_csrf=")).expect("csrf cookie");
    assert!(!csrf.contains("HttpOnly"), "the panel's script must read the CSRF cookie");
    let body: Value = resp.json().await.expect("json");
    let token = body["token"].as_str().expect("token");
    assert_eq!(body["user"]["role"], "admin");

    let me: Value = app.get(token, "/api/v1/auth/me").await.json().await.expect("json");
    assert_eq!(me["user"]["email"], "admin@localhost");
    assert_eq!(me["via"], "session");

    let anonymous = app.client.get(app.url("/api/v1/auth/me")).send().await.expect("get");
    assert_eq!(error_code(anonymous, StatusCode::UNAUTHORIZED).await, "unauthenticated");
    assert_eq!(error_code(app.get("forged", "/api/v1/auth/me").await, StatusCode::UNAUTHORIZED).await, "invalid_token");
}

#[tokio::test]
async fn wrong_password_and_unknown_account_get_the_same_answer() {
    let app = TestApp::spawn().await;
    let a = app.login_response("admin@localhost", "wrong password!").await;
    let b = app.login_response("nobody@shop.ru", "wrong password!").await;
    assert_eq!(error_code(a, StatusCode::UNAUTHORIZED).await, "invalid_credentials");
    assert_eq!(error_code(b, StatusCode::UNAUTHORIZED).await, "invalid_credentials");
}

#[tokio::test]
async fn roles_are_enforced_on_the_server() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, viewer_pw) = app.create_user(&admin, "viewer@shop.ru", "viewer").await;
    let (_, operator_pw) = app.create_user(&admin, "operator@shop.ru", "operator").await;
    let viewer = app.login("viewer@shop.ru", &viewer_pw).await;
    let operator = app.login("operator@shop.ru", &operator_pw).await;

    let denied = app.post(&viewer, "/api/v1/users", &json!({ "email": "x@shop.ru", "role": "admin" })).await;
    assert_eq!(error_code(denied, StatusCode::FORBIDDEN).await, "forbidden");
    for token in [&viewer, &operator] {
        for path in ["/api/v1/users", "/api/v1/audit", "/api/v1/settings/credentials", "/api/v1/users/1"] {
            assert_eq!(app.get(token, path).await.status(), StatusCode::FORBIDDEN, "{path}");
        }
        let put = app
            .client
            .put(app.url("/api/v1/settings/credentials/wb.api_token"))
            .bearer_auth(token)
            .json(&json!({ "value": "x" }))
            .send()
            .await
            .expect("put");
        assert_eq!(put.status(), StatusCode::FORBIDDEN);
    }
    // What every role may do.
    assert_eq!(app.get(&viewer, "/api/v1/auth/me").await.status(), StatusCode::OK);
    assert_eq!(app.get(&viewer, "/metrics").await.status(), StatusCode::OK);
    assert_eq!(app.get(&admin, "/api/v1/users").await.status(), StatusCode::OK);
    // Nothing was created by the denied request.
    let users: Vec<Value> = app.get(&admin, "/api/v1/users").await.json().await.expect("json");
    assert_eq!(users.len(), 3);
}

#[tokio::test]
async fn cookie_sessions_need_the_csrf_header_for_changes() {
    let app = TestApp::spawn().await;
    let browser = reqwest::Client::builder().cookie_store(true).build().expect("client");
    let login: Value = browser
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "email": "admin@localhost", "password": app.admin_password }))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let csrf = login["csrf_token"].as_str().expect("csrf").to_owned();

    // Reads need no CSRF token.
    assert_eq!(browser.get(app.url("/api/v1/auth/me")).send().await.expect("me").status(), StatusCode::OK);
    let body = json!({ "name": "script" });
    let missing = browser.post(app.url("/api/v1/tokens")).json(&body).send().await.expect("post");
    assert_eq!(error_code(missing, StatusCode::FORBIDDEN).await, "csrf_failed");
    let wrong = browser.post(app.url("/api/v1/tokens")).header("X-CSRF-Token", "nope").json(&body).send().await;
    assert_eq!(error_code(wrong.expect("post"), StatusCode::FORBIDDEN).await, "csrf_failed");
    let ok = browser.post(app.url("/api/v1/tokens")).header("X-CSRF-Token", &csrf).json(&body).send().await;
    assert_eq!(ok.expect("post").status(), StatusCode::CREATED);
    // Bearer tokens are not sent by browsers on their own: no CSRF header needed.
    let token = login["token"].as_str().expect("token");
    assert_eq!(app.post(token, "/api/v1/tokens", &body).await.status(), StatusCode::CREATED);
    // No token list entry was created by the rejected attempts.
    let tokens: Vec<Value> = app.get(token, "/api/v1/tokens").await.json().await.expect("json");
    assert_eq!(tokens.len(), 2);
}

#[tokio::test]
async fn repeated_bad_passwords_slow_the_guesser_and_never_lock_the_owner_out() {
    let app = TestApp::spawn_with(|c| c.server.trust_proxy_headers = true).await;
    let from = |ip: &'static str, password: &str| {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .header("X-Forwarded-For", ip)
            .json(&json!({ "email": "admin@localhost", "password": password }))
            .send()
    };
    for _ in 0..5 {
        let r = from("203.0.113.7", "not the password").await.expect("login");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let throttled = from("203.0.113.7", "not the password").await.expect("login");
    let retry: u64 = throttled.headers()[RETRY_AFTER].to_str().expect("ascii").parse().expect("seconds");
    assert_eq!(retry, 1, "the first delay is short");
    assert_eq!(error_code(throttled, StatusCode::TOO_MANY_REQUESTS).await, "too_many_attempts");
    // The owner signs in at once from an IP without recent failures.
    let owner = from("198.51.100.20", &app.admin_password).await.expect("login");
    assert_eq!(owner.status(), StatusCode::OK, "the guesser must not lock the owner out");
    // The guesser's delays grow with each failure: 1 s, 2 s, 4 s, …
    let mut waits = Vec::new();
    for _ in 0..4 {
        app.clock.advance(Duration::from_secs(waits.last().copied().unwrap_or(1)));
        let r = from("203.0.113.7", "still not it").await.expect("login");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "allowed once the delay has passed");
        let again = from("203.0.113.7", "still not it").await.expect("login");
        waits.push(again.headers()[RETRY_AFTER].to_str().expect("ascii").parse::<u64>().expect("seconds"));
    }
    assert_eq!(waits, vec![2, 4, 8, 16]);
    // Even the right password waits from the guessing IP; after the delay it works there too.
    assert_eq!(from("203.0.113.7", &app.admin_password).await.expect("login").status(), StatusCode::TOO_MANY_REQUESTS);
    app.clock.advance(Duration::from_secs(17));
    assert_eq!(from("203.0.113.7", &app.admin_password).await.expect("login").status(), StatusCode::OK);
    // The audit log recorded the throttling.
    let conn = app.db();
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.login_throttled'", [], |r| r.get(0))
        .expect("count");
    assert!(n >= 5);
}

#[tokio::test]
async fn repeated_failures_from_one_ip_are_throttled_across_accounts() {
    let app = TestApp::spawn_with(|c| c.auth.max_failures_per_ip = 3).await;
    for who in ["a@shop.ru", "b@shop.ru", "c@shop.ru"] {
        assert_eq!(app.login_response(who, "guessing password").await.status(), StatusCode::UNAUTHORIZED);
    }
    let r = app.login_response("admin@localhost", &app.admin_password).await;
    assert_eq!(error_code(r, StatusCode::TOO_MANY_REQUESTS).await, "too_many_attempts");
}

#[tokio::test]
async fn logout_revokes_the_session() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    assert_eq!(app.post(&token, "/api/v1/auth/logout", &json!({})).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get(&token, "/api/v1/auth/me").await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sessions_expire() {
    let app = TestApp::spawn_with(|c| c.auth.session_ttl_hours = 1).await;
    let token = app.admin_token().await;
    app.clock.advance(Duration::from_secs(3601));
    assert_eq!(error_code(app.get(&token, "/api/v1/auth/me").await, StatusCode::UNAUTHORIZED).await, "invalid_token");
}

#[tokio::test]
async fn api_tokens_are_listed_used_and_revoked() {
    let app = TestApp::spawn().await;
    let session = app.admin_token().await;
    let created: Value = app
        .post(&session, "/api/v1/tokens", &json!({ "name": "prometheus", "expires_in_days": 30 }))
        .await
        .json()
        .await
        .expect("json");
    let token = created["token"].as_str().expect("token").to_owned();
    let me: Value = app.get(&token, "/api/v1/auth/me").await.json().await.expect("json");
    assert_eq!(me["via"], "api");
    let list: Vec<Value> = app.get(&session, "/api/v1/tokens").await.json().await.expect("json");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["name"], "prometheus");
    assert!(list[0].get("token").is_none(), "the token itself is never shown again");
    let id = created["id"].as_i64().expect("id");
    let del = app.client.delete(app.url(&format!("/api/v1/tokens/{id}"))).bearer_auth(&session).send().await;
    assert_eq!(del.expect("delete").status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get(&token, "/api/v1/auth/me").await.status(), StatusCode::UNAUTHORIZED);
    let again = app.client.delete(app.url(&format!("/api/v1/tokens/{id}"))).bearer_auth(&session).send().await;
    assert_eq!(error_code(again.expect("delete"), StatusCode::NOT_FOUND).await, "not_found");
    let bad = app.post(&session, "/api/v1/tokens", &json!({ "name": "x", "expires_in_days": 0 })).await;
    assert_eq!(error_code(bad, StatusCode::UNPROCESSABLE_ENTITY).await, "invalid_body");
    // Only hashes are stored.
    let stored: i64 = app
        .db()
        .query_row("SELECT COUNT(*) FROM sessions WHERE token_hash = ?1", [&token], |r| r.get(0))
        .expect("count");
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn disabling_a_user_signs_them_out_and_the_last_admin_is_protected() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (id, pw) = app.create_user(&admin, "op@shop.ru", "operator").await;
    let op = app.login("op@shop.ru", &pw).await;
    let patch = |body: Value, path: String| app.client.patch(app.url(&path)).bearer_auth(&admin).json(&body).send();
    let r = patch(json!({ "disabled": true }), format!("/api/v1/users/{id}")).await.expect("patch");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.get(&op, "/api/v1/auth/me").await.status(), StatusCode::UNAUTHORIZED);
    let login = app.login_response("op@shop.ru", &pw).await;
    assert_eq!(error_code(login, StatusCode::FORBIDDEN).await, "account_disabled");

    let last = patch(json!({ "role": "viewer" }), "/api/v1/users/1".into()).await.expect("patch");
    assert_eq!(error_code(last, StatusCode::CONFLICT).await, "conflict");
    let missing = patch(json!({ "role": "viewer" }), "/api/v1/users/999".into()).await.expect("patch");
    assert_eq!(error_code(missing, StatusCode::NOT_FOUND).await, "not_found");
    let r = patch(json!({ "disabled": false, "role": "admin" }), format!("/api/v1/users/{id}")).await.expect("patch");
    let user: Value = r.json().await.expect("json");
    assert_eq!(user["role"], "admin");
    assert_eq!(app.login_response("op@shop.ru", &pw).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn changing_the_password_signs_out_other_sessions() {
    let app = TestApp::spawn().await;
    let a = app.admin_token().await;
    let b = app.admin_token().await;
    let wrong = app
        .post(
            &a,
            "/api/v1/auth/password",
            &json!({ "current_password": "nope nope nope", "new_password": "brand new password" }),
        )
        .await;
    assert_eq!(error_code(wrong, StatusCode::FORBIDDEN).await, "wrong_password");
    let weak = app
        .post(&a, "/api/v1/auth/password", &json!({ "current_password": app.admin_password, "new_password": "short" }))
        .await;
    assert_eq!(error_code(weak, StatusCode::UNPROCESSABLE_ENTITY).await, "invalid_body");
    let ok = app
        .post(
            &a,
            "/api/v1/auth/password",
            &json!({ "current_password": app.admin_password, "new_password": "brand new password" }),
        )
        .await;
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get(&a, "/api/v1/auth/me").await.status(), StatusCode::OK, "this session stays");
    assert_eq!(app.get(&b, "/api/v1/auth/me").await.status(), StatusCode::UNAUTHORIZED, "others end");
    assert_eq!(app.login_response("admin@localhost", &app.admin_password).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.login_response("admin@localhost", "brand new password").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn security_actions_are_audited_without_secrets() {
    let app = TestApp::spawn().await;
    let _ = app.login_response("admin@localhost", "a wrong password").await;
    let admin = app.admin_token().await;
    app.create_user(&admin, "anna@shop.ru", "operator").await;
    let put = app
        .client
        .put(app.url("/api/v1/settings/credentials/telegram.bot_token"))
        .bearer_auth(&admin)
        .json(&json!({ "value": "123456:SECRET-bot-token" }))
        .send()
        .await
        .expect("put");
    assert_eq!(put.status(), StatusCode::NO_CONTENT);
    let entries: Vec<Value> = app.get(&admin, "/api/v1/audit").await.json().await.expect("json");
    let actions: Vec<&str> = entries.iter().filter_map(|e| e["action"].as_str()).collect();
    for expected in ["auth.login_failed", "auth.login", "user.create", "credential.set"] {
        assert!(actions.contains(&expected), "{expected} missing from {actions:?}");
    }
    let text = serde_json::to_string(&entries).expect("json");
    assert!(!text.contains("SECRET") && !text.contains(&app.admin_password) && !text.contains("a wrong password"));
    let only: Vec<Value> =
        app.get(&admin, "/api/v1/audit?action=user.create&limit=5").await.json().await.expect("json");
    // The first admin (created at init) and anna, newest first.
    assert_eq!(only.len(), 2);
    assert_eq!(only[0]["target"], "anna@shop.ru");
    assert_eq!(only[1]["actor"], "system");
    let page: Vec<Value> = app
        .get(&admin, &format!("/api/v1/audit?before={}&limit=1", entries[0]["id"].as_i64().expect("id")))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(page.len(), 1);
    assert_eq!(page[0]["id"], entries[1]["id"]);
}

#[tokio::test]
async fn credentials_are_encrypted_at_rest_and_never_returned() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let put = |name: &str, value: &str| {
        app.client
            .put(app.url(&format!("/api/v1/settings/credentials/{name}")))
            .bearer_auth(&admin)
            .json(&json!({ "value": value }))
            .send()
    };
    assert_eq!(put("wb.api_token", "wb-very-secret-token").await.expect("put").status(), StatusCode::NO_CONTENT);
    let bad = put("Bad Name", "x").await.expect("put");
    assert_eq!(error_code(bad, StatusCode::UNPROCESSABLE_ENTITY).await, "invalid_body");
    let list = app.get(&admin, "/api/v1/settings/credentials").await.text().await.expect("text");
    assert!(list.contains("wb.api_token") && !list.contains("wb-very-secret-token"));
    let raw: Vec<u8> = app
        .db()
        .query_row("SELECT ciphertext FROM credentials WHERE name = 'wb.api_token'", [], |r| r.get(0))
        .expect("row");
    assert!(!raw.windows(9).any(|w| w == b"wb-very-s"), "stored in plain text");
    let cipher = supportd::crypto::Cipher::load(&app.paths.secret_key()).expect("key");
    assert_eq!(cipher.decrypt(&raw, "wb.api_token").expect("decrypt"), b"wb-very-secret-token");
    let del = app.client.delete(app.url("/api/v1/settings/credentials/wb.api_token")).bearer_auth(&admin).send().await;
    assert_eq!(del.expect("delete").status(), StatusCode::NO_CONTENT);
    let again =
        app.client.delete(app.url("/api/v1/settings/credentials/wb.api_token")).bearer_auth(&admin).send().await;
    assert_eq!(error_code(again.expect("delete"), StatusCode::NOT_FOUND).await, "not_found");
}
