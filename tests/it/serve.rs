//! The real server process: backup and restore while serving, graceful stop, restart.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Server, eventually, printed_password, run_cli, stderr, temp_data_dir};

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

/// Everything the server and the command line write under the data directory is for the
/// service account only: files 0600, folders 0700 (database, index, buyers' and operators'
/// files, exports).
#[cfg(unix)]
#[tokio::test]
async fn files_under_the_data_directory_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, data) = temp_data_dir();
    let init = run_cli(&data, &["init", "--demo"], None);
    assert!(init.status.success(), "{}", stderr(&init));
    let password = printed_password(&crate::harness::stdout(&init)).expect("password");
    let client = reqwest::Client::new();
    let server = Server::start(&data);
    let token = login(&client, &server, &password).await;
    let r = client
        .post(server.url("/api/v1/inbound"))
        .bearer_auth(&token)
        .json(&json!({"message_id": "f-1", "customer": "buyer-f", "text": "позовите оператора"}))
        .send()
        .await
        .expect("inbound");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let conv = eventually(20, "the conversation listed", async || {
        let list: Value = client
            .get(server.url("/api/v1/conversations"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("json");
        list.as_array().and_then(|l| l.first()).map(|c| c["id"].as_i64().expect("id"))
    })
    .await;
    use base64::Engine as _;
    let data_b64 = base64::engine::general_purpose::STANDARD.encode(b"%PDF-1.4 label");
    let r = client
        .post(server.url(&format!("/api/v1/conversations/{conv}/messages")))
        .bearer_auth(&token)
        .json(&json!({"text": "Этикетка", "file": {"name": "label.pdf", "mime": "application/pdf", "data": data_b64}}))
        .send()
        .await
        .expect("reply");
    assert!(r.status().is_success(), "{}", r.status());
    let export = data.join("export.json");
    let e = run_cli(&data, &["kb", "export", export.to_str().expect("utf8")], None);
    assert!(e.status.success(), "{}", stderr(&e));
    assert!(server.terminate().success());
    let mut seen = 0;
    let mut stack = vec![data.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let entry = entry.expect("entry");
            let mode = entry.metadata().expect("metadata").permissions().mode() & 0o777;
            let path = entry.path();
            if path.is_dir() {
                assert_eq!(mode, 0o700, "{}", path.display());
                stack.push(path);
            } else {
                assert_eq!(mode, 0o600, "{}", path.display());
                seen += 1;
            }
        }
    }
    assert!(seen > 10, "only {seen} files");
    assert!(data.join("files").is_dir(), "the operator's file was stored");
}
