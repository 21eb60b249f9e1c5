//! The real `supportd` binary: help, init, user management, doctor, config errors.

use crate::harness::{printed_password, run_cli, stderr, stdout, temp_data_dir};

#[test]
fn help_documents_every_subcommand() {
    let (_d, data) = temp_data_dir();
    let top = stdout(&run_cli(&data, &["--help"], None));
    for cmd in ["serve", "init", "user", "backup", "restore", "doctor", "--data-dir", "--config"] {
        assert!(top.contains(cmd), "{cmd} missing from --help:\n{top}");
    }
    let user = stdout(&run_cli(&data, &["user", "--help"], None));
    for cmd in ["add", "list", "passwd", "role", "disable", "enable", "reset-link"] {
        assert!(user.contains(cmd), "{cmd} missing from user --help:\n{user}");
    }
    for sub in [
        &["serve", "--help"][..],
        &["backup", "--help"],
        &["restore", "--help"],
        &["doctor", "--help"],
        &["init", "--help"],
    ] {
        let o = run_cli(&data, sub, None);
        assert!(o.status.success() && stdout(&o).contains("Usage"), "{sub:?}");
    }
    let unknown = run_cli(&data, &["frobnicate"], None);
    assert!(!unknown.status.success());
}

#[test]
fn init_creates_a_private_installation_once() {
    let (_d, data) = temp_data_dir();
    let first = run_cli(&data, &["init", "--admin-email", "owner@shop.ru"], None);
    assert!(first.status.success(), "{}", stderr(&first));
    let out = stdout(&first);
    assert!(out.contains("owner@shop.ru"));
    let password = printed_password(&out).expect("password printed");
    assert_eq!(password.len(), 20);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("secret.key")), 0o600);
        assert_eq!(mode(&data.join("config.toml")), 0o600);
        assert_eq!(mode(&data.join("supportd.db")), 0o600);
    }
    let second = run_cli(&data, &["init"], None);
    assert!(second.status.success());
    assert!(printed_password(&stdout(&second)).is_none(), "the password is shown only once");
    assert!(stdout(&second).contains("already initialized"));
    let list = stdout(&run_cli(&data, &["user", "list"], None));
    assert_eq!(list.lines().count(), 2, "one admin only:\n{list}");
}

#[test]
fn users_are_managed_from_the_command_line() {
    let (_d, data) = temp_data_dir();
    assert!(run_cli(&data, &["init"], None).status.success());
    let add = run_cli(
        &data,
        &["user", "add", "Anna@Shop.ru", "--role", "operator", "--name", "Анна"],
        Some("anna password 1\n"),
    );
    assert!(add.status.success(), "{}", stderr(&add));
    assert!(stdout(&add).contains("anna@shop.ru (operator)"));
    let dup = run_cli(&data, &["user", "add", "anna@shop.ru", "--role", "viewer"], Some("anna password 2\n"));
    assert!(!dup.status.success());
    assert!(stderr(&dup).contains("already exists"), "{}", stderr(&dup));
    let weak = run_cli(&data, &["user", "add", "b@shop.ru", "--role", "viewer"], Some("123\n"));
    assert!(!weak.status.success() && stderr(&weak).contains("at least 10"));
    let bad_role = run_cli(&data, &["user", "add", "c@shop.ru", "--role", "root"], Some("long password 3\n"));
    assert!(!bad_role.status.success() && stderr(&bad_role).contains("unknown role"));

    assert!(run_cli(&data, &["user", "role", "anna@shop.ru", "viewer"], None).status.success());
    assert!(run_cli(&data, &["user", "disable", "anna@shop.ru"], None).status.success());
    let list = stdout(&run_cli(&data, &["user", "list"], None));
    let anna = list.lines().find(|l| l.contains("anna@shop.ru")).expect("listed");
    assert!(anna.contains("viewer") && anna.contains("disabled"), "{anna}");
    assert!(run_cli(&data, &["user", "enable", "anna@shop.ru"], None).status.success());
    assert!(run_cli(&data, &["user", "passwd", "anna@shop.ru"], Some("anna new password\n")).status.success());
    let link = run_cli(&data, &["user", "reset-link", "anna@shop.ru"], None);
    assert!(link.status.success());
    assert!(stdout(&link).trim().starts_with("http://127.0.0.1:8080/#reset="), "{}", stdout(&link));
    let missing = run_cli(&data, &["user", "passwd", "ghost@shop.ru"], Some("ghost password 1\n"));
    assert!(!missing.status.success() && stderr(&missing).contains("no user"));
    let last_admin = run_cli(&data, &["user", "disable", "admin@localhost"], None);
    assert!(!last_admin.status.success() && stderr(&last_admin).contains("last active admin"));

    // Everything was audited as done from the command line.
    let conn = rusqlite::Connection::open(data.join("supportd.db")).expect("db");
    let actions: Vec<String> = conn
        .prepare("SELECT action FROM audit_log WHERE actor = 'cli' ORDER BY id")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    for a in ["user.create", "user.role", "user.disable", "user.enable", "user.password", "user.reset_link"] {
        assert!(actions.iter().any(|x| x == a), "{a} not audited: {actions:?}");
    }
}

#[test]
fn doctor_reports_problems_with_fixes() {
    let (_d, data) = temp_data_dir();
    let empty = run_cli(&data, &["doctor"], None);
    assert!(!empty.status.success());
    assert!(stdout(&empty).contains("FAIL") && stdout(&empty).contains("supportd init"));

    assert!(run_cli(&data, &["init"], None).status.success());
    let healthy = run_cli(&data, &["doctor"], None);
    let text = stdout(&healthy);
    assert!(healthy.status.success(), "{text}");
    assert!(
        text.contains("database integrity") && text.contains("model") && text.contains("Telegram is not connected")
    );

    std::fs::write(data.join("secret.key"), "garbage").expect("damage key");
    let broken = run_cli(&data, &["doctor"], None);
    assert!(!broken.status.success());
    assert!(stdout(&broken).contains("FAIL  secret key"), "{}", stdout(&broken));
}

#[test]
fn invalid_config_stops_with_the_key_named() {
    let (_d, data) = temp_data_dir();
    assert!(run_cli(&data, &["init"], None).status.success());
    std::fs::write(data.join("config.toml"), "[server]\nrequest_timeout_secs = \"soon\"\n").expect("write");
    let serve = run_cli(&data, &["serve", "--listen", "127.0.0.1:0"], None);
    assert!(!serve.status.success());
    assert!(stderr(&serve).contains("server.request_timeout_secs"), "{}", stderr(&serve));
    let doctor = run_cli(&data, &["doctor"], None);
    assert!(!doctor.status.success() && stdout(&doctor).contains("server.request_timeout_secs"));

    std::fs::write(data.join("config.toml"), "").expect("write");
    let env = std::process::Command::new(crate::harness::bin())
        .args(["serve"])
        .env("SUPPORTD_DATA_DIR", &data)
        .env("SUPPORTD_SESSION_TTL_HOURS", "forever")
        .output()
        .expect("run");
    assert!(!env.status.success());
    assert!(String::from_utf8_lossy(&env.stderr).contains("SUPPORTD_SESSION_TTL_HOURS"));
}

#[test]
fn an_empty_database_file_is_migrated() {
    let (_d, data) = temp_data_dir();
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::write(data.join("supportd.db"), b"").expect("empty db");
    let init = run_cli(&data, &["init"], None);
    assert!(init.status.success(), "{}", stderr(&init));
    let conn = rusqlite::Connection::open(data.join("supportd.db")).expect("db");
    let version: i64 = conn.query_row("SELECT MAX(version) FROM schema_migrations", [], |r| r.get(0)).expect("v");
    assert_eq!(version, supportd::store::latest_version());
    let users: i64 = conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0)).expect("n");
    assert_eq!(users, 1);
}
