//! `supportd doctor`: every check prints ok / warn / FAIL with a way to fix it. Exits 1 when
//! anything failed.

use std::path::Path;
use std::process::ExitCode;

use crate::app::{self, Paths};
use crate::config::Config;
use crate::crypto::Cipher;
use crate::store::{self, credentials, users};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Ok,
    Warn,
    Fail,
}

struct Report {
    failed: bool,
}

impl Report {
    fn line(&mut self, level: Level, what: &str, detail: &str, fix: Option<&str>) {
        let tag = match level {
            Level::Ok => "ok  ",
            Level::Warn => "warn",
            Level::Fail => {
                self.failed = true;
                "FAIL"
            }
        };
        println!("{tag}  {what}: {detail}");
        if let Some(fix) = fix {
            println!("      fix: {fix}");
        }
    }
}

#[cfg(unix)]
fn mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).ok().map(|m| m.permissions().mode() & 0o777)
}

#[cfg(not(unix))]
fn mode(_: &Path) -> Option<u32> {
    None
}

pub fn run(paths: &Paths) -> ExitCode {
    let mut r = Report { failed: false };
    let dir = &paths.data_dir;
    let init_fix = "run `supportd init` (or `supportd serve`, which initializes a new data directory)";

    // Data directory.
    if dir.is_dir() {
        match mode(dir) {
            Some(m) if m & 0o077 != 0 => r.line(
                Level::Warn,
                "data directory",
                &format!("{} is readable by other users (mode {m:o})", dir.display()),
                Some(&format!("chmod 700 {}", dir.display())),
            ),
            _ => r.line(Level::Ok, "data directory", &dir.display().to_string(), None),
        }
        let probe = dir.join(".doctor-write-test");
        match std::fs::write(&probe, b"x") {
            Ok(()) => {
                let _ = std::fs::remove_file(&probe);
            }
            Err(e) => r.line(
                Level::Fail,
                "data directory",
                &format!("cannot write in {}: {e}", dir.display()),
                Some("run supportd as the user that owns the data directory (e.g. `sudo -u supportd`)"),
            ),
        }
    } else {
        r.line(Level::Fail, "data directory", &format!("{} does not exist", dir.display()), Some(init_fix));
    }

    // Config.
    let config = match app::load_config(paths) {
        Ok(c) => {
            let origin = if paths.config_file.exists() {
                paths.config_file.display().to_string()
            } else {
                "no file, embedded defaults".into()
            };
            r.line(Level::Ok, "config", &format!("{origin}; listening on {}", c.server.listen), None);
            if c.server.public_url.starts_with("http://") && !c.server.listen.ip().is_loopback() {
                r.line(
                    Level::Warn,
                    "config",
                    "the server listens on a public address without HTTPS",
                    Some(
                        "listen on 127.0.0.1 behind a reverse proxy with HTTPS, and set server.public_url to https://…",
                    ),
                );
            }
            Some(c)
        }
        Err(e) => {
            r.line(
                Level::Fail,
                "config",
                &e.to_string(),
                Some("edit the file or the environment variable named above"),
            );
            None
        }
    };

    // Secret key.
    let key_path = paths.secret_key();
    let cipher = if key_path.exists() {
        match Cipher::load(&key_path) {
            Ok(c) => {
                match mode(&key_path) {
                    Some(m) if m & 0o077 != 0 => r.line(
                        Level::Fail,
                        "secret key",
                        &format!("{} is readable by other users (mode {m:o})", key_path.display()),
                        Some(&format!("chmod 600 {}", key_path.display())),
                    ),
                    _ => r.line(Level::Ok, "secret key", &key_path.display().to_string(), None),
                }
                Some(c)
            }
            Err(e) => {
                r.line(Level::Fail, "secret key", &e.to_string(), Some("restore the key file from your backup"));
                None
            }
        }
    } else {
        r.line(Level::Fail, "secret key", &format!("{} is missing", key_path.display()), Some(init_fix));
        None
    };

    // Database.
    let db_path = paths.db();
    let conn = if db_path.exists() {
        match store::open_connection(&db_path) {
            Ok(conn) => Some(conn),
            Err(e) => {
                r.line(Level::Fail, "database", &e.to_string(), Some("restore it with `supportd restore FILE`"));
                None
            }
        }
    } else {
        r.line(Level::Fail, "database", &format!("{} is missing", db_path.display()), Some(init_fix));
        None
    };
    if let Some(conn) = &conn {
        match store::integrity_check(conn) {
            Ok(()) => r.line(Level::Ok, "database integrity", &db_path.display().to_string(), None),
            Err(e) => r.line(
                Level::Fail,
                "database integrity",
                &e,
                Some("stop supportd and restore the last good backup with `supportd restore FILE`"),
            ),
        }
        match store::schema_version(conn) {
            Ok((a, e)) if a == e => r.line(Level::Ok, "database schema", &format!("version {a}"), None),
            Ok((a, e)) if a < e => r.line(
                Level::Warn,
                "database schema",
                &format!("version {a}, this supportd brings {e}"),
                Some("the migrations are applied at the next start; back up first"),
            ),
            Ok((a, e)) => r.line(
                Level::Fail,
                "database schema",
                &format!("version {a} is newer than this supportd ({e})"),
                Some("install the newer supportd that wrote this database"),
            ),
            Err(e) => r.line(Level::Fail, "database schema", &e.to_string(), None),
        }
        match users::active_admins(conn) {
            Ok(0) => r.line(
                Level::Fail,
                "accounts",
                "no active admin account",
                Some("supportd user add EMAIL --role admin (or `supportd user enable EMAIL`)"),
            ),
            Ok(n) => r.line(Level::Ok, "accounts", &format!("{n} active admin(s)"), None),
            Err(e) => r.line(Level::Fail, "accounts", &e.to_string(), None),
        }
        if let Some(cipher) = &cipher {
            check_credentials(&mut r, conn, cipher);
        }
        check_sync(&mut r, conn);
        check_access(&mut r, conn, config.as_ref(), cipher.as_ref());
        if let Some(config) = &config
            && matches!(store::schema_version(conn), Ok((a, e)) if a == e)
        {
            check_licence(&mut r, paths, config);
        }
        if let Some(config) = &config {
            check_backups(&mut r, conn, config, paths);
        }
    }
    if let Some(config) = &config {
        check_tls(&mut r, config, paths);
    }

    check_embeddings(&mut r, &paths.embedding_model());
    if let Some(config) = &config {
        check_model(&mut r, config, &config.model_path(&paths.data_dir));
        check_smtp(&mut r, config);
    }

    if r.failed {
        println!("\nsome checks failed: fix the lines marked FAIL above.");
        ExitCode::FAILURE
    } else {
        println!("\nall essential checks passed.");
        ExitCode::SUCCESS
    }
}

/// The plan in force, and what to do when it runs out.
fn check_licence(r: &mut Report, paths: &Paths, config: &Config) {
    use crate::clock::Clock;
    use crate::licence::Status;
    let clock = std::sync::Arc::new(crate::clock::SystemClock);
    let opened = store::Db::open(&paths.db(), 1, clock.now_ms())
        .map_err(anyhow::Error::from)
        .and_then(|db| crate::licence::Licensing::open(db, clock, config));
    let licensing = match opened {
        Ok(l) => l,
        Err(e) => return r.line(Level::Fail, "licence", &format!("{e:#}"), None),
    };
    let e = licensing.current();
    let until = e.valid_until.map(crate::clock::rfc3339).unwrap_or_default();
    let renew = Some("install the renewal: `supportd licence install FILE` (or Настройки → Лицензия и тариф)");
    match e.status {
        Status::Expired => r.line(
            Level::Warn,
            "licence",
            &format!("plan {} expired {until}: the bot is paused, messages wait for operators", e.plan),
            renew,
        ),
        Status::Grace => {
            r.line(Level::Warn, "licence", &format!("plan {} ended {until}, in its grace period", e.plan), renew);
        }
        Status::Active if e.days_left().is_some_and(|d| d <= crate::licence::WARN_DAYS[0]) => {
            r.line(Level::Warn, "licence", &format!("plan {} ends {until}", e.plan), renew);
        }
        Status::Active => r.line(Level::Ok, "licence", &format!("plan {} until {until}", e.plan), None),
        Status::Trial => r.line(Level::Ok, "licence", &format!("trial until {until}, then the free tier"), None),
        Status::Free => r.line(
            Level::Ok,
            "licence",
            "no licence: the free tier (1 operator, Telegram and the widget, no marketplace sync)",
            None,
        ),
    }
}

/// Integrations this build knows; each needs the named credentials.
const INTEGRATIONS: &[(&str, &[&str])] = &[
    ("Telegram", &[crate::channels::telegram::TOKEN]),
    ("WhatsApp", &[crate::channels::whatsapp::TOKEN, crate::channels::whatsapp::APP_SECRET]),
    ("VK", &[crate::channels::vk::TOKEN]),
    ("Wildberries", &[crate::marketplace::wb::TOKEN]),
    ("Ozon", &[crate::marketplace::ozon::CLIENT_ID, crate::marketplace::ozon::API_KEY]),
];

/// The last sync of each marketplace: when, how many orders, or why it stopped.
fn check_sync(r: &mut Report, conn: &rusqlite::Connection) {
    use crate::marketplace::Market;
    use crate::store::orders as rows;
    for market in [Market::Wb, Market::Ozon] {
        let (Ok(full), Ok(inc)) =
            (rows::sync_state(conn, market, "full"), rows::sync_state(conn, market, "incremental"))
        else {
            continue;
        };
        let cached = rows::count(conn, Some(market)).unwrap_or(0);
        let failed = [&full, &inc].into_iter().find(|s| s.status == "failed");
        if let Some(f) = failed {
            let error = f.error.clone().unwrap_or_default();
            let fix = if error.contains("rejected the key") {
                "set a new token in Settings → Integrations (or the config), then `supportd sync`"
            } else if error.contains("lacks access") {
                "issue a token with access to orders, then `supportd sync`"
            } else {
                "`supportd sync` continues from where it stopped"
            };
            r.line(Level::Fail, "sync", &format!("{}: the last sync stopped: {error}", market.title()), Some(fix));
        } else if let Some(t) = full.finished_at.max(inc.finished_at) {
            r.line(
                Level::Ok,
                "sync",
                &format!("{}: {cached} orders cached, last sync {}", market.title(), crate::clock::rfc3339(t)),
                None,
            );
        }
    }
}

/// What each connected marketplace key reaches, part by part: the WB token's own categories
/// and kind, and what the marketplaces answered last.
fn check_access(r: &mut Report, conn: &rusqlite::Connection, config: Option<&Config>, cipher: Option<&Cipher>) {
    use crate::marketplace::{Access, Market, access, ozon, wb};
    let stored =
        |name: &'static str| cipher.and_then(|c| credentials::get(conn, c, name).ok().flatten()).unwrap_or_default();
    let wb_token = config
        .map(|c| c.marketplaces.wb.token.expose().to_owned())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| stored(wb::TOKEN));
    let ozon_key = config
        .map(|c| c.marketplaces.ozon.api_key.expose().to_owned())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| stored(ozon::API_KEY));
    for market in [Market::Wb, Market::Ozon] {
        let (connected, info) = match market {
            Market::Wb => (!wb_token.is_empty(), wb::key_info(wb::token_info(&wb_token).as_ref())),
            Market::Ozon => (!ozon_key.is_empty(), ozon::key_info()),
        };
        if !connected {
            continue;
        }
        let (Ok(seen), Ok(syncs)) =
            (crate::store::marketplace::access(conn, market), crate::store::marketplace::part_syncs(conn, market))
        else {
            continue;
        };
        let parts = access::merge(market, &info, &seen, &syncs);
        let kind = info.kind.as_deref().map(|k| format!(" ({k} token)")).unwrap_or_default();
        let list: Vec<String> = parts.iter().map(|p| format!("{} {}", p.part.as_str(), p.access.as_str())).collect();
        r.line(Level::Ok, "marketplace access", &format!("{}{kind}: {}", market.title(), list.join(", ")), None);
        for p in parts.iter().filter(|p| matches!(p.access, Access::Denied | Access::Partial)) {
            let fix = match market {
                Market::Wb => {
                    "issue a WB token with that category (seller account → Settings → API access), store it, then test the connection"
                }
                Market::Ozon => {
                    "give the Api-Key the role it needs (or the Premium Plus subscription), then test the connection"
                }
            };
            r.line(
                Level::Warn,
                "marketplace access",
                &format!(
                    "{}: {} {}: {}",
                    market.title(),
                    p.part.as_str(),
                    p.access.as_str(),
                    p.reason.as_deref().unwrap_or("")
                ),
                Some(fix),
            );
        }
    }
}

fn check_credentials(r: &mut Report, conn: &rusqlite::Connection, cipher: &Cipher) {
    match credentials::undecryptable(conn, cipher) {
        Ok(bad) if bad.is_empty() => {}
        Ok(bad) => r.line(
            Level::Fail,
            "credentials",
            &format!("cannot decrypt {}: the secret key changed", bad.join(", ")),
            Some("restore the secret.key that belongs to this database, or enter these keys again in the settings"),
        ),
        Err(e) => r.line(Level::Fail, "credentials", &e.to_string(), None),
    }
    let stored: Vec<String> =
        credentials::list(conn).map(|l| l.into_iter().map(|c| c.name).collect()).unwrap_or_default();
    for (name, needed) in INTEGRATIONS {
        let missing: Vec<&str> = needed.iter().copied().filter(|n| !stored.iter().any(|s| s == n)).collect();
        if missing.is_empty() {
            r.line(Level::Ok, "integration", &format!("{name}: credentials stored"), None);
        } else {
            r.line(
                Level::Warn,
                "integration",
                &format!("{name} is not connected (missing {})", missing.join(", ")),
                Some("add the key in the panel: Settings → Integrations"),
            );
        }
    }
}

fn check_model(r: &mut Report, config: &crate::config::Config, path: &Path) {
    if !config.llm.chain.contains(&crate::config::LlmProvider::Local) {
        r.line(Level::Ok, "model", "the local model is not in llm.chain (cloud only)", None);
    } else {
        match std::fs::File::open(path) {
            Ok(mut f) => {
                use std::io::Read;
                let mut magic = [0u8; 4];
                let size = f.metadata().map(|m| m.len()).unwrap_or(0);
                if !(f.read_exact(&mut magic).is_ok() && &magic == b"GGUF") {
                    r.line(
                        Level::Fail,
                        "model",
                        &format!("{} is not a GGUF model file", path.display()),
                        Some("delete it and run `supportd model pull`"),
                    );
                } else if let Some(entry) = crate::llm::catalog::for_path(path) {
                    match crate::llm::catalog::verify(entry, path) {
                        Ok(()) => r.line(
                            Level::Ok,
                            "model",
                            &format!("{} ({}, {} MB, SHA-256 verified)", path.display(), entry.id, size / 1_000_000),
                            None,
                        ),
                        Err(e) => r.line(
                            Level::Fail,
                            "model",
                            &format!("{e:#}"),
                            Some("run `supportd model pull` to fetch it again"),
                        ),
                    }
                } else {
                    r.line(
                        Level::Ok,
                        "model",
                        &format!("{} ({} MB, not from the catalogue)", path.display(), size / 1_000_000),
                        None,
                    );
                }
            }
            Err(_) => r.line(
                Level::Warn,
                "model",
                &format!("no local model at {}", path.display()),
                Some("install the default model with `supportd model pull`, or set llm.local.model to a GGUF file"),
            ),
        }
    }
    for (name, key, secret) in [
        ("openai", "openai.api_key", &config.llm.openai.api_key),
        ("yandexgpt", "yandexgpt.api_key", &config.llm.yandexgpt.api_key),
    ] {
        if config.llm.chain.iter().any(|p| p.as_str() == name) && secret.is_empty() {
            r.line(
                Level::Ok,
                "model",
                &format!("{name} is in llm.chain; its key comes from the encrypted store ({key})"),
                Some(&format!("if it is not stored yet: supportd llm set-key {name}")),
            );
        }
    }
    if config.llm.chain.contains(&crate::config::LlmProvider::YandexGpt) && config.llm.yandexgpt.folder_id.is_empty() {
        r.line(
            Level::Fail,
            "model",
            "yandexgpt is in llm.chain but llm.yandexgpt.folder_id is empty",
            Some("set the folder id"),
        );
    }
}

fn check_embeddings(r: &mut Report, path: &Path) {
    if !path.exists() {
        r.line(
            Level::Warn,
            "knowledge-base search",
            &format!("no embedding model at {}: search uses BM25 only (no semantic matching)", path.display()),
            Some("install it with `supportd model pull e5-small` (or on the panel set-up page), then restart supportd"),
        );
        return;
    }
    match crate::kb::Embedder::load(path) {
        Ok(e) => {
            r.line(Level::Ok, "knowledge-base search", &format!("hybrid (BM25 + vectors, model {})", e.id()), None);
        }
        Err(e) => r.line(
            Level::Fail,
            "knowledge-base search",
            &format!("the embedding model cannot be loaded: {e}"),
            Some("install it again with `supportd model pull e5-small`"),
        ),
    }
}

fn check_smtp(r: &mut Report, config: &Config) {
    if config.smtp.enabled() {
        r.line(Level::Ok, "e-mail", &format!("relay {}:{}", config.smtp.host, config.smtp.port), None);
    } else {
        r.line(
            Level::Warn,
            "e-mail",
            "no SMTP relay: password-reset e-mails are off",
            Some("set [smtp] in the config, or give reset links with `supportd user reset-link EMAIL`"),
        );
    }
}

/// Scheduled backups: the last good copy, and whether it is older than two periods.
fn check_backups(r: &mut Report, conn: &rusqlite::Connection, config: &Config, paths: &Paths) {
    use crate::clock::Clock as _;
    let now = crate::clock::SystemClock.now_ms();
    let s = match crate::backup::status(conn, &config.backup, &paths.data_dir, now) {
        Ok(s) => s,
        Err(e) => return r.line(Level::Fail, "backups", &e.to_string(), None),
    };
    let period = format!("every {} h", s.every_hours);
    if !s.enabled {
        r.line(
            Level::Warn,
            "backups",
            "scheduled backups are off (backup.every_hours = 0)",
            Some("set backup.every_hours (24 by default), or run `supportd backup` from cron"),
        );
    }
    let how = if s.encrypted { "encrypted" } else { "with secret.key beside it" };
    match &s.last_ok {
        Some(b) if s.stale => r.line(
            Level::Warn,
            "backups",
            &format!(
                "the last good backup is {} from {}: older than two periods ({period}){}",
                b.file,
                b.at,
                s.last_error.as_ref().map(|e| format!("; the last attempt failed: {e}")).unwrap_or_default()
            ),
            Some("see the server log; `supportd backup` makes a copy now and shows what fails"),
        ),
        Some(b) => {
            r.line(Level::Ok, "backups", &format!("last good backup {} at {} ({how}, {period})", b.file, b.at), None);
            if !s.copies.contains(&b.file) {
                r.line(
                    Level::Warn,
                    "backups",
                    &format!("{} is no longer in {}", b.file, s.dir),
                    Some("check the backup directory (backup.dir)"),
                );
            }
            if let Some(e) = &s.last_error {
                r.line(Level::Warn, "backups", &format!("the last attempt failed: {e}"), Some("see the server log"));
            }
        }
        None if s.stale => r.line(
            Level::Warn,
            "backups",
            &format!(
                "no good backup yet, although one was due ({period}){}",
                s.last_error.as_ref().map(|e| format!(": {e}")).unwrap_or_default()
            ),
            Some("`supportd backup` makes a copy now and shows what fails"),
        ),
        None if s.enabled => r.line(
            Level::Ok,
            "backups",
            &format!(
                "no backup yet: the first is made {} ({period}, into {})",
                s.next_due_at.as_deref().unwrap_or("an hour after the server first starts"),
                s.dir
            ),
            None,
        ),
        None => {}
    }
    if let Some(m) = mode(Path::new(&s.dir))
        && m & 0o077 != 0
    {
        r.line(
            Level::Warn,
            "backups",
            &format!("{} is readable by other users (mode {m:o})", s.dir),
            Some(&format!("chmod 700 {}", s.dir)),
        );
    }
}

/// HTTPS in the binary: the certificate in service and its expiry.
fn check_tls(r: &mut Report, config: &Config, paths: &Paths) {
    use crate::clock::Clock as _;
    use crate::config::TlsMode;
    let now = crate::clock::SystemClock.now_ms();
    let s = &config.server;
    let info = match s.tls {
        TlsMode::Off => return,
        TlsMode::Files => Some(
            std::fs::read(paths.data_dir.join(&s.tls_cert_file))
                .map_err(anyhow::Error::from)
                .and_then(|pem| crate::tls::cert_info(&pem)),
        ),
        TlsMode::Acme => crate::tls::stored_acme_cert(&paths.data_dir),
    };
    match info {
        None => r.line(
            Level::Warn,
            "https",
            &format!(
                "no certificate for {} yet: supportd asks {} for one when it starts",
                s.domain, s.acme_directory_url
            ),
            Some("point the domain's DNS at this server and open port 80 (server.http_redirect_listen)"),
        ),
        Some(Err(e)) => r.line(Level::Fail, "https", &format!("{e:#}"), Some("check server.tls_cert_file")),
        Some(Ok(i)) => {
            let days = (i.not_after - now) / 86_400_000;
            let until = crate::clock::rfc3339(i.not_after);
            if !i.covers(&s.domain) {
                r.line(
                    Level::Fail,
                    "https",
                    &format!("the certificate is for {}, not {}", i.names.join(", "), s.domain),
                    Some("use a certificate for server.domain"),
                );
            } else if i.not_after <= now {
                r.line(Level::Fail, "https", &format!("the certificate expired at {until}"), Some("renew it"));
            } else if days < 14 {
                let fix = if s.tls == TlsMode::Acme {
                    "supportd renews it by itself: see the server log for why it did not"
                } else {
                    "replace the files with a renewed certificate (they are reloaded by themselves)"
                };
                r.line(Level::Warn, "https", &format!("the certificate expires in {days} days ({until})"), Some(fix));
            } else {
                r.line(
                    Level::Ok,
                    "https",
                    &format!(
                        "{} certificate for {} valid until {until}",
                        match s.tls {
                            TlsMode::Acme => "ACME",
                            _ => "file",
                        },
                        s.domain
                    ),
                    None,
                );
            }
        }
    }
}
