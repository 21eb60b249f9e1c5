//! The real server process: backup and restore while serving, graceful stop, restart.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Server, printed_password, run_cli, stderr, temp_data_dir};

async fn login(client: &reqwest::Client, server: &Server, password: &str) -> String {
    let resp = client
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({ "email": "admin@localhost", "password": password }))
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json::<Value>().await.expect("json")["token"].as_str().expect("token").to_owned()
}

async fn emails(client: &reqwest::Client, server: &Server, token: &str) -> Vec<String> {
    let users: Vec<Value> = client
        .get(server.url("/api/v1/users"))
        .bearer_auth(token)
        .send()
        .await
        .expect("users")
        .json()
        .await
        .expect("json");
    users.iter().map(|u| u["email"].as_str().expect("email").to_owned()).collect()
}

async fn add_user(client: &reqwest::Client, server: &Server, token: &str, email: &str) {
    let r = client
        .post(server.url("/api/v1/users"))
        .bearer_auth(token)
        .json(&json!({ "email": email, "role": "operator" }))
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn backup_restore_stop_and_restart_keep_everything() {
    let (dir, data) = temp_data_dir();
    let client = reqwest::Client::new();
    let server = Server::start(&data);
    let password = printed_password(&server.first_output).expect("first start prints the admin password");
    let token = login(&client, &server, &password).await;
    add_user(&client, &server, &token, "before@shop.ru").await;

    // A user added from the CLI while serving can sign in at once.
    let add = run_cli(&data, &["user", "add", "cli@shop.ru", "--role", "viewer"], Some("cli user password\n"));
    assert!(add.status.success(), "{}", stderr(&add));

    let backup = dir.path().join("shop.backup");
    let b = run_cli(&data, &["backup", backup.to_str().expect("utf8")], None);
    assert!(b.status.success(), "{}", stderr(&b));
    let exists = run_cli(&data, &["backup", backup.to_str().expect("utf8")], None);
    assert!(!exists.status.success(), "an existing backup is not overwritten without --force");

    add_user(&client, &server, &token, "after@shop.ru").await;
    assert!(emails(&client, &server, &token).await.contains(&"after@shop.ru".to_owned()));

    let r = run_cli(&data, &["restore", backup.to_str().expect("utf8")], None);
    assert!(r.status.success(), "{}", stderr(&r));
    // The running server sees the restored data at once.
    let now = emails(&client, &server, &token).await;
    assert!(now.contains(&"before@shop.ru".to_owned()) && now.contains(&"cli@shop.ru".to_owned()));
    assert!(!now.contains(&"after@shop.ru".to_owned()), "{now:?}");
    let not_backup = dir.path().join("junk");
    std::fs::write(&not_backup, "not a database").expect("write");
    assert!(!run_cli(&data, &["restore", not_backup.to_str().expect("utf8")], None).status.success());

    // SIGTERM stops it cleanly.
    let status = server.terminate();
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(std::fs::metadata(data.join("supportd.db-wal")).map(|m| m.len()).unwrap_or(0), 0, "WAL checkpointed");

    // Restart with the same data dir: same accounts, same sessions, no new admin.
    let server = Server::start(&data);
    assert!(printed_password(&server.first_output).is_none());
    let now = emails(&client, &server, &token).await;
    assert!(now.contains(&"before@shop.ru".to_owned()) && now.contains(&"cli@shop.ru".to_owned()));
    let cli_login = client
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({ "email": "cli@shop.ru", "password": "cli user password" }))
        .send()
        .await
        .expect("login");
    assert_eq!(cli_login.status(), StatusCode::OK);
    assert!(server.terminate().success());
}
