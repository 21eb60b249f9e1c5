//! Buyers' personal data (152-ФЗ requests and retention): an export of everything stored about
//! one buyer (a zip with `customer.json` and their files), erasing it on request, the daily
//! retention job, and masking phones and e-mails for viewers.
//!
//! The SQL is in `store::privacy`; this module adds the files on disk, the audit entry, the
//! compaction that removes erased text from the database file, and the schedule.

use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use anyhow::Context as _;
use regex::Regex;

use crate::clock::rfc3339;
use crate::config::PrivacyConfig;
use crate::store::audit::{self, Actor};
use crate::store::privacy::{self as rows, CustomerData, Removed};
use crate::store::{Db, StoreError};

/// The retention job's name in the `jobs` table.
pub const JOB: &str = "retention";
/// Largest export the API builds in memory; bigger ones are made with the CLI.
pub const MAX_API_EXPORT_BYTES: u64 = 256 * 1024 * 1024;

/// "+79161234567" → "+7 *** ***-**-67".
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 4 {
        return "***".into();
    }
    let tail: String = digits[digits.len() - 2..].iter().collect();
    let head = if phone.trim_start().starts_with('+') { format!("+{}", digits[0]) } else { digits[0].to_string() };
    format!("{head} *** ***-**-{tail}")
}

/// "anna.k@mail.ru" → "a***@mail.ru".
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((user, domain)) => format!("{}***@{domain}", user.chars().next().unwrap_or('*')),
        None => "***".into(),
    }
}

/// `text` with the phones and e-mails in it masked (found as the message understanding finds
/// them, so what counts as a phone is decided in one place).
pub fn mask_text(text: &str) -> String {
    use crate::nlu::entities::{EntityKind, extract};
    let mut spans: Vec<(usize, usize, String)> = extract(text)
        .into_iter()
        .filter_map(|e| {
            let masked = match e.kind {
                EntityKind::Phone => mask_phone(&e.value),
                EntityKind::Email => mask_email(&e.value),
                _ => return None,
            };
            text[e.start..].starts_with(&e.value).then(|| (e.start, e.start + e.value.len(), masked))
        })
        .collect();
    // Anything e-mail-shaped the extractor left (it skips overlaps), too.
    static EMAIL: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?i)\b[a-z0-9._%+\-]+@[a-z0-9.\-]+\.[a-z]{2,}\b").expect("a valid pattern"));
    for m in EMAIL.find_iter(text) {
        if !spans.iter().any(|(s, e, _)| m.start() < *e && *s < m.end()) {
            spans.push((m.start(), m.end(), mask_email(m.as_str())));
        }
    }
    spans.sort_by_key(|s| s.0);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (s, e, masked) in spans {
        if s < at {
            continue;
        }
        out.push_str(&text[at..s]);
        out.push_str(&masked);
        at = e;
    }
    out.push_str(&text[at..]);
    out
}

/// Timestamps (milliseconds) in an export become RFC 3339 text.
fn readable_times(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                let time_key = k == "at" || k.ends_with("_at") || k == "eta" || k == "storage_until";
                match val.as_i64() {
                    Some(ms) if time_key => *val = serde_json::Value::String(rfc3339(ms)),
                    _ => readable_times(val),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(readable_times),
        _ => {}
    }
}

/// A file of the buyer's inside the data directory (only under `files/`, never outside it).
fn data_file(data_dir: &Path, rel: &str) -> Option<PathBuf> {
    crate::files::Files::new(data_dir).resolve(rel)
}

/// The bytes of the buyer's files that are still on disk.
pub fn files_size(data: &CustomerData, data_dir: &Path) -> u64 {
    data.files()
        .iter()
        .filter_map(|f| data_file(data_dir, f))
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// Writes the export: `customer.json`, `README.txt` (what is in it, in Russian) and
/// `files/<name>` for each of the buyer's files still on disk. Returns how many files.
pub fn write_export<W: Write + Seek>(data: &CustomerData, data_dir: &Path, now: i64, out: W) -> anyhow::Result<usize> {
    let mut json = serde_json::to_value(data).context("cannot serialize the export")?;
    readable_times(&mut json);
    if let Some(map) = json.as_object_mut() {
        map.insert("exported_at".into(), rfc3339(now).into());
        map.insert("format".into(), "supportd customer export 1".into());
    }
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .unix_permissions(0o600);
    let mut zip = zip::ZipWriter::new(out);
    zip.start_file("customer.json", opts)?;
    zip.write_all(serde_json::to_string_pretty(&json)?.as_bytes())?;
    zip.start_file("README.txt", opts)?;
    zip.write_all(crate::texts::privacy::EXPORT_README.as_bytes())?;
    let mut n = 0;
    for rel in data.files() {
        let Some(path) = data_file(data_dir, &rel) else { continue };
        let Ok(bytes) = std::fs::read(&path) else { continue };
        zip.start_file(format!("files/{}", rel.rsplit('/').next().unwrap_or("file")), opts)?;
        zip.write_all(&bytes)?;
        n += 1;
    }
    zip.finish()?;
    Ok(n)
}

/// Reads everything about customer `id` and records the export in the audit log.
pub fn export_data(db: &Db, id: i64, actor: &Actor, now: i64) -> crate::store::Result<CustomerData> {
    db.with_conn(|c| {
        let data = rows::customer_data(c, id)?;
        let details = serde_json::json!({"conversations": data.conversations.len(), "files": data.files().len()});
        audit::record(c, actor, "privacy.export", Some(&format!("customer:{id}")), details, now)?;
        Ok(data)
    })
}

/// What an erase did.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Erased {
    #[serde(flatten)]
    pub removed: Removed,
    /// Files that could not be deleted (the rest were).
    pub files_left: Vec<String>,
    /// The database file was rewritten and its log emptied, so the text is gone from the disk
    /// (false: a reader held the log; it is emptied at the next checkpoint).
    pub compacted: bool,
}

/// Deletes `paths` (relative to the data directory); returns those that could not be.
fn delete_files(data_dir: &Path, paths: &[String]) -> Vec<String> {
    let mut left = Vec::new();
    for rel in paths {
        let Some(path) = data_file(data_dir, rel) else { continue };
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(file = %rel, error = %e, "cannot delete a buyer's file");
                left.push(rel.clone());
            }
        }
    }
    left
}

/// Erases customer `id` (see `store::privacy::erase_customer`), deletes their files, writes
/// an audit entry with counts only, and compacts the database file. Blocking.
pub fn erase(db: &Db, data_dir: &Path, id: i64, actor: &Actor, now: i64) -> crate::store::Result<Erased> {
    let removed = db.with_conn(|c| rows::erase_customer(c, id))?;
    let files_left = delete_files(data_dir, &removed.files);
    let details = serde_json::json!({
        "conversations": removed.conversations, "messages": removed.messages, "files": removed.files.len(),
        "orders_cleared": removed.orders_cleared, "files_left": files_left.len(),
    });
    db.with_conn(|c| audit::record(c, actor, "privacy.erase", Some(&format!("customer:{id}")), details, now))?;
    let compacted = db.with_conn(|c| rows::compact(c)).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot compact the database after an erase");
        false
    });
    tracing::info!(customer = id, conversations = removed.conversations, "a buyer's data was erased");
    Ok(Erased { removed, files_left, compacted })
}

/// One retention pass at `now`: old files first, then old conversations. Blocking.
pub fn apply_retention(db: &Db, data_dir: &Path, cfg: &PrivacyConfig, now: i64) -> Result<serde_json::Value, String> {
    const DAY: i64 = 86_400_000;
    const BATCH: u32 = 200;
    let store = |e: StoreError| format!("retention: {e}");
    let mut files = 0usize;
    let mut total = Removed::default();
    if cfg.keep_files_days > 0 {
        let cutoff = now - i64::from(cfg.keep_files_days) * DAY;
        loop {
            let batch = db
                .with_conn(|c| rows::expire_files(c, cutoff, crate::texts::privacy::FILE_EXPIRED, BATCH))
                .map_err(store)?;
            if batch.is_empty() {
                break;
            }
            files += batch.len();
            delete_files(data_dir, &batch);
        }
    }
    if cfg.keep_conversations_days > 0 {
        let cutoff = now - i64::from(cfg.keep_conversations_days) * DAY;
        loop {
            let r = db.with_conn(|c| rows::expire_conversations(c, cutoff, BATCH)).map_err(store)?;
            files += r.files.len();
            delete_files(data_dir, &r.files);
            let more = r.conversations == BATCH as usize;
            total.customers += r.customers;
            total.conversations += r.conversations;
            total.messages += r.messages;
            total.received += r.received;
            total.replies += r.replies;
            total.orders_cleared += r.orders_cleared;
            if !more {
                break;
            }
        }
    }
    if files + total.conversations + total.customers > 0 {
        let _ = db.checkpoint();
    }
    Ok(serde_json::json!({
        "files": files, "conversations": total.conversations, "messages": total.messages,
        "customers": total.customers, "orders_cleared": total.orders_cleared,
    }))
}

/// The retention schedule (daily), when a limit is set.
pub async fn schedule(db: Db, clock: crate::clock::SharedClock, data_dir: PathBuf, cfg: PrivacyConfig) {
    if cfg.keep_conversations_days == 0 && cfg.keep_files_days == 0 {
        return;
    }
    let period = std::time::Duration::from_secs(24 * 3600);
    let job_clock = clock.clone();
    crate::jobs::schedule(db.clone(), clock, JOB, period, move || {
        let (db, dir, cfg, now) = (db.clone(), data_dir.clone(), cfg.clone(), job_clock.now_ms());
        async move {
            tokio::task::spawn_blocking(move || apply_retention(&db, &dir, &cfg, now))
                .await
                .map_err(|e| format!("the retention task failed: {e}"))?
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_and_emails_are_masked() {
        assert_eq!(mask_phone("+79161234567"), "+7 *** ***-**-67");
        assert_eq!(mask_email("anna.k@mail.ru"), "a***@mail.ru");
        let text = "Мой телефон +7 (916) 123-45-67, почта anna.k@mail.ru, заказ 4102938475";
        let masked = mask_text(text);
        assert_eq!(masked, "Мой телефон +7 *** ***-**-67, почта a***@mail.ru, заказ 4102938475");
        assert_eq!(mask_text("без контактов"), "без контактов");
        assert_eq!(mask_text("звоните 89161234567"), "звоните 8 *** ***-**-67");
    }

    #[test]
    fn export_times_are_readable() {
        let mut v = serde_json::json!({"created_at": 0, "items": [{"at": 1500}], "count": 3, "status_at": "x"});
        readable_times(&mut v);
        assert_eq!(v["created_at"], "1970-01-01T00:00:00Z");
        assert_eq!(v["items"][0]["at"], "1970-01-01T00:00:01.5Z");
        assert_eq!(v["count"], 3);
    }

    #[test]
    fn only_files_under_files_are_touched() {
        let d = Path::new("/data");
        assert!(data_file(d, "files/telegram/a.jpg").is_some());
        for bad in ["secret.key", "files/../secret.key", "/etc/passwd", "files//a", "files/a\\b"] {
            assert!(data_file(d, bad).is_none(), "{bad}");
        }
    }
}
