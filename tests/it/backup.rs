//! Scheduled backups: copies driven by the clock, checked, rotated, surviving restarts; shown
//! in the panel and `supportd doctor`; restored (plain with its key, or encrypted) by
//! `supportd restore`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use supportd::clock::ManualClock;
use supportd::config::Config;

use crate::harness::{Running, eventually, init_data_dir, run_cli, run_cli_env, stderr, stdout};

const HOUR: Duration = Duration::from_secs(3600);

fn scheduled(dir: &Path) -> Vec<String> {
    supportd::backup::copies(dir).into_iter().map(|(n, _)| n).collect()
}

async fn login(client: &reqwest::Client, base: &str, email: &str, password: &str) -> String {
    let resp = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json::<Value>().await.expect("json")["token"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn hourly_backups_follow_the_clock_are_checked_rotated_and_survive_restarts() {
    let clock = Arc::new(ManualClock::starting_now());
    let (_dir, paths, password) = init_data_dir(&clock);
    // The interface sellers use: SUPPORTD_BACKUP_EVERY_HOURS=1.
    let env = |k: &str| match k {
        "SUPPORTD_BACKUP_EVERY_HOURS" => Some("1".to_owned()),
        "SUPPORTD_BACKUP_KEEP" => Some("3".to_owned()),
        _ => None,
    };
    let mut config = Config::load(None, &env).expect("config");
    config.server.listen = ([127, 0, 0, 1], 0).into();
    let backups = config.backup.dir_in(&paths.data_dir);
    let client = reqwest::Client::new();

    let app = Running::start(config.clone(), &paths, clock.clone()).await;
    let admin = login(&client, &app.base, "admin@localhost", &password).await;
    let resp = client
        .post(format!("{}/api/v1/inbound", app.base))
        .bearer_auth(&admin)
        .json(&json!({"message_id": "m1", "customer": "b1", "name": "Ольга", "text": "Здравствуйте! Есть размер 46?"}))
        .send()
        .await
        .expect("inbound");
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    // The schedule exists once the job has looked at it; then nothing runs until the clock moves.
    eventually(20, "the backup job scheduled", async || {
        let db = rusqlite::Connection::open(paths.db()).ok()?;
        db.query_row("SELECT COUNT(*) FROM jobs WHERE name = 'backup'", [], |r| r.get::<_, i64>(0))
            .ok()
            .filter(|n| *n == 1)
    })
    .await;
    assert!(scheduled(&backups).is_empty(), "the first copy waits an hour after the first start");

    let mut seen = Vec::new();
    for hour in 1..=5usize {
        clock.advance(HOUR);
        let names = eventually(20, "a new scheduled copy", async || {
            let names = scheduled(&backups);
            (names.first().is_some_and(|n| !seen.contains(n))).then_some(names)
        })
        .await;
        seen.push(names[0].clone());
        assert_eq!(names.len(), hour.min(3), "at most backup.keep copies: {names:?}");
    }
    let secret = std::fs::read(paths.secret_key()).expect("key");
    for name in scheduled(&backups) {
        let path = backups.join(&name);
        supportd::backup::check_database(&path).expect("each copy opens and passes integrity_check");
        let conn = rusqlite::Connection::open(&path).expect("open copy");
        let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("check");
        assert_eq!(ok, "ok");
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0)).expect("messages");
        assert!(n >= 1, "the copy holds the data");
        assert_eq!(std::fs::read(path.with_extension("key")).expect("key beside"), secret);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name}");
        }
    }
    assert_eq!(
        std::fs::read_dir(&backups).expect("dir").count(),
        6,
        "three copies with their keys, nothing else (no partial files)"
    );

    // The panel sees the last good copy; viewers may not.
    let status: Value = client
        .get(format!("{}/api/v1/settings/backups", app.base))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("json");
    assert_eq!(status["last_ok"]["file"], seen[4].as_str(), "{status}");
    assert_eq!(status["stale"], false);
    assert_eq!(status["copies"].as_array().expect("copies").len(), 3);
    let ((), viewer_pw) = {
        let resp = client
            .post(format!("{}/api/v1/users", app.base))
            .bearer_auth(&admin)
            .json(&json!({"email": "viewer@shop.ru", "role": "viewer", "password": "viewer-password-long"}))
            .send()
            .await
            .expect("user");
        assert_eq!(resp.status(), StatusCode::CREATED);
        ((), "viewer-password-long")
    };
    let viewer = login(&client, &app.base, "viewer@shop.ru", viewer_pw).await;
    for req in [
        client.get(format!("{}/api/v1/settings/backups", app.base)),
        client.post(format!("{}/api/v1/settings/backups", app.base)),
    ] {
        assert_eq!(req.bearer_auth(&viewer).send().await.expect("send").status(), StatusCode::FORBIDDEN);
    }
    let rows = |paths: &supportd::app::Paths| -> i64 {
        let c = rusqlite::Connection::open(paths.db()).expect("db");
        c.query_row("SELECT COUNT(*) FROM backups WHERE status <> 'failed'", [], |r| r.get(0)).expect("count")
    };
    let before = rows(&paths);
    assert_eq!(before, 5);

    // A restart neither repeats the last run nor skips the next.
    app.stop().await;
    let app = Running::start(config.clone(), &paths, clock.clone()).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(rows(&paths), before, "no copy right after a restart");
    clock.advance(HOUR);
    eventually(20, "the next hour's copy after the restart", async || (rows(&paths) == before + 1).then_some(())).await;

    // "Back up now" from the panel.
    let admin = login(&client, &app.base, "admin@localhost", &password).await;
    let resp =
        client.post(format!("{}/api/v1/settings/backups", app.base)).bearer_auth(&admin).send().await.expect("now");
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    eventually(20, "the copy asked for", async || (rows(&paths) == before + 2).then_some(())).await;
    assert_eq!(scheduled(&backups).len(), 3);
    app.stop().await;
}

fn init(dir: &Path) {
    let out = run_cli(dir, &["init"], None);
    assert!(out.status.success(), "{}", stderr(&out));
}

fn only_file(dir: &Path, ext: &str) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found[0].clone()
}

#[test]
fn an_encrypted_copy_restores_with_its_passphrase_and_brings_the_key() {
    let pass = "correct horse battery staple";
    let (_a, shop) = crate::harness::temp_data_dir();
    init(&shop);
    let out = run_cli(&shop, &["llm", "set-key", "openai"], Some("sk-secret-value-123\n"));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run_cli_env(&shop, &["backup"], &[("SUPPORTD_BACKUP_PASSPHRASE", pass)], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("encrypted"), "{}", stdout(&out));
    let backups = shop.join("backups");
    let sealed = only_file(&backups, "sdbk");
    assert!(std::fs::read_dir(&backups).expect("dir").count() == 1, "no plain copy, no key file beside");
    let bytes = std::fs::read(&sealed).expect("read");
    for plain in [&b"SQLite format 3"[..], b"admin@localhost", &std::fs::read(shop.join("secret.key")).expect("key")] {
        assert!(!bytes.windows(plain.len()).any(|w| w == plain), "the copy is encrypted");
    }

    // Another machine: a fresh installation with its own key.
    let (_b, other) = crate::harness::temp_data_dir();
    init(&other);
    let own_key = std::fs::read(other.join("secret.key")).expect("key");
    let target = sealed.to_str().expect("path");
    let out = run_cli(&other, &["restore", target], None);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("encrypted") && stderr(&out).contains("SUPPORTD_BACKUP_PASSPHRASE"),
        "{}",
        stderr(&out)
    );
    let out =
        run_cli_env(&other, &["restore", target], &[("SUPPORTD_BACKUP_PASSPHRASE", "wrong passphrase here")], None);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("wrong passphrase"), "{}", stderr(&out));
    assert_eq!(std::fs::read(other.join("secret.key")).expect("key"), own_key, "nothing changed");
    let leftovers: Vec<_> = std::fs::read_dir(&other)
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".supportd-restore"))
        .collect();
    assert!(leftovers.is_empty(), "no decrypted scratch file is left behind");

    let out = run_cli(&other, &["restore", target, "--passphrase-stdin"], Some(&format!("{pass}\n")));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("secret key is in place"), "{}", stdout(&out));
    assert_eq!(
        std::fs::read(other.join("secret.key")).expect("key"),
        std::fs::read(shop.join("secret.key")).expect("k")
    );
    // The stored key decrypts with the restored secret key: doctor finds nothing undecryptable.
    let doctor = stdout(&run_cli(&other, &["doctor"], None));
    assert!(doctor.contains("integration: ") && !doctor.contains("cannot decrypt"), "{doctor}");
    let conn = rusqlite::Connection::open(other.join("supportd.db")).expect("db");
    let stored: i64 =
        conn.query_row("SELECT COUNT(*) FROM credentials WHERE name = 'openai.api_key'", [], |r| r.get(0)).expect("q");
    assert_eq!(stored, 1);
}

#[test]
fn a_plain_scheduled_copy_restores_with_the_key_beside_it_and_doctor_watches_its_age() {
    let (_a, shop) = crate::harness::temp_data_dir();
    init(&shop);
    let out = run_cli(&shop, &["llm", "set-key", "yandexgpt"], Some("AQVN-secret-key\n"));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run_cli(&shop, &["backup"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let copy = only_file(&shop.join("backups"), "db");
    assert_eq!(
        std::fs::read(copy.with_extension("key")).expect("key"),
        std::fs::read(shop.join("secret.key")).expect("k")
    );

    let hourly = [("SUPPORTD_BACKUP_EVERY_HOURS", "1")];
    let doctor = stdout(&run_cli_env(&shop, &["doctor"], &hourly, None));
    assert!(doctor.contains("ok    backups: last good backup supportd-"), "{doctor}");
    // Three hours later with hourly backups, the last good one is older than two periods.
    let conn = rusqlite::Connection::open(shop.join("supportd.db")).expect("db");
    conn.execute("UPDATE backups SET created_at = created_at - 3 * 3600 * 1000", []).expect("age");
    let doctor = stdout(&run_cli_env(&shop, &["doctor"], &hourly, None));
    assert!(doctor.contains("warn  backups:") && doctor.contains("older than two periods"), "{doctor}");
    let doctor = stdout(&run_cli(&shop, &["doctor"], None));
    assert!(doctor.contains("ok    backups:"), "daily backups: three hours is fine: {doctor}");

    // Restored into a fresh installation, the copy brings its key.
    let (_b, other) = crate::harness::temp_data_dir();
    init(&other);
    let out = run_cli(&other, &["restore", copy.to_str().expect("path")], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(other.join("secret.key")).expect("key"),
        std::fs::read(shop.join("secret.key")).expect("k")
    );
    let kept: Vec<_> = std::fs::read_dir(&other)
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("secret.key.before-restore-"))
        .collect();
    assert_eq!(kept.len(), 1, "the replaced key is kept");
    let doctor = stdout(&run_cli(&other, &["doctor"], None));
    assert!(!doctor.contains("cannot decrypt"), "{doctor}");
    let conn = rusqlite::Connection::open(other.join("supportd.db")).expect("db");
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).expect("mode");
    assert_eq!(mode, "wal", "the live database stays in WAL mode after a restore");

    // Not a backup at all.
    let junk = other.join("junk.bin");
    std::fs::write(&junk, b"hello").expect("write");
    let out = run_cli(&other, &["restore", junk.to_str().expect("path")], None);
    assert!(!out.status.success() && stderr(&out).contains("not a supportd backup"), "{}", stderr(&out));
}
