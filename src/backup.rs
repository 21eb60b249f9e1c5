//! Scheduled backups: a consistent copy of the live database (SQLite's online backup) and the
//! secret key, checked by opening the copy and running `PRAGMA integrity_check` before it
//! counts, then rotation down to `backup.keep` copies.
//!
//! Without a passphrase a copy is two files, `supportd-<UTC time>.db` and the key beside it as
//! `supportd-<UTC time>.key` (both 0600). With `backup.passphrase` it is one file,
//! `supportd-<UTC time>.sdbk`: the key and the database sealed with XChaCha20-Poly1305 in the
//! STREAM construction (64 KiB segments: memory stays flat whatever the database's size) under
//! a key derived from the passphrase by argon2id; the plain copy exists only inside the data
//! directory while it is made, and the sealed file is checked by opening it again.
//!
//! `supportd restore FILE` takes either kind ([`open_copy`]) and puts the key back too.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, bail};
use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::stream::{DecryptorBE32, EncryptorBE32};
use chacha20poly1305::aead::{KeyInit, Payload};
use rusqlite::OpenFlags;
use serde::Serialize;
use utoipa::ToSchema;

use crate::clock::{SharedClock, rfc3339};
use crate::config::BackupConfig;
use crate::store::ops::{self as rows, BackupRow};
use crate::store::{self, Db};

/// The job's name in the `jobs` table.
pub const JOB: &str = "backup";

/// The first bytes of a sealed copy.
const MAGIC: &[u8; 16] = b"SUPPORTD-BACKUP\x01";
/// Plaintext segment size.
const SEGMENT: usize = 64 * 1024;
const TAG: usize = 16;
/// argon2id cost: 64 MiB, 3 passes, 1 lane (stored in each file, so it can change).
const KDF: (u32, u32, u32) = (64 * 1024, 3, 1);
/// The sealed plaintext starts with this, then the key's length (u32 LE), the key, the database.
const INNER: &[u8; 4] = b"SDBK";
const HEADER_LEN: usize = 16 + 12 + 16 + 19;

/// One checked copy.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Copy {
    /// File name inside the backup directory.
    pub file: String,
    #[serde(skip)]
    pub path: PathBuf,
    pub bytes: u64,
    pub encrypted: bool,
    pub created_at: String,
    pub seconds: f64,
    /// Older copies deleted by rotation.
    pub rotated: Vec<String>,
}

/// `supportd-20250102T030000Z`, from a millisecond time.
fn stamp(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "supportd-{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A scheduled copy's name: (time stamp, sequence within the second, encrypted).
fn parse_name(name: &str) -> Option<(String, u32, bool)> {
    let (stem, encrypted) =
        if let Some(s) = name.strip_suffix(".sdbk") { (s, true) } else { (name.strip_suffix(".db")?, false) };
    let rest = stem.strip_prefix("supportd-")?;
    let (time, seq) = match rest.split_once('-') {
        Some((t, n)) => (t, n.parse().ok()?),
        None => (rest, 0),
    };
    let b = time.as_bytes();
    let ok = b.len() == 16 && b[8] == b'T' && b[15] == b'Z' && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit);
    ok.then(|| (time.to_owned(), seq, encrypted))
}

fn private_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.is_dir() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the backup directory {}", dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("cannot restrict {}", dir.display()))?;
        }
    }
    Ok(())
}

fn restrict(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
}

/// Opens `path` read-only and checks it is a sound supportd database.
pub fn check_database(path: &Path) -> anyhow::Result<()> {
    let conn = rusqlite::Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("cannot open {}", path.display()))?;
    store::integrity_check(&conn).map_err(|e| anyhow::anyhow!("integrity check failed: {e}"))?;
    let (version, _) = store::schema_version(&conn)?;
    if version == 0 {
        bail!("{} holds no supportd schema", path.display());
    }
    Ok(())
}

/// Removes what an interrupted run left behind.
fn clean_partials(dirs: &[&Path]) {
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(".supportd-backup-") && name.ends_with(".partial") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// Makes one checked copy in `cfg.dir` and rotates; records it (or the failure) in the
/// database. Blocking: call it from a blocking thread.
pub fn make_copy(db: &Db, data_dir: &Path, cfg: &BackupConfig, now: i64) -> Result<Copy, String> {
    let started = Instant::now();
    let encrypted = !cfg.passphrase.is_empty();
    let result = copy_inner(db, data_dir, cfg, now);
    let seconds = started.elapsed().as_secs_f64();
    let row = |file: String, bytes: u64, status: &str, error: Option<String>| BackupRow {
        id: 0,
        file,
        created_at: now,
        bytes: i64::try_from(bytes).unwrap_or(i64::MAX),
        encrypted,
        status: status.into(),
        error,
        seconds,
    };
    match result {
        Ok((file, path, bytes)) => {
            let r = row(file.clone(), bytes, "ok", None);
            db.with_conn(|c| rows::backup_record(c, &r)).map_err(|e| format!("cannot record the backup: {e}"))?;
            let rotated = match rotate(db, &cfg.dir_in(data_dir), cfg.keep) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot rotate old backups");
                    Vec::new()
                }
            };
            tracing::info!(file = %file, bytes, encrypted, seconds, "backup written and checked");
            Ok(Copy { file, path, bytes, encrypted, created_at: rfc3339(now), seconds, rotated })
        }
        Err(e) => {
            let message = format!("{e:#}");
            let r = row(String::new(), 0, "failed", Some(message.clone()));
            if let Err(e) = db.with_conn(|c| rows::backup_record(c, &r)) {
                tracing::warn!(error = %e, "cannot record the failed backup");
            }
            Err(message)
        }
    }
}

fn copy_inner(db: &Db, data_dir: &Path, cfg: &BackupConfig, now: i64) -> anyhow::Result<(String, PathBuf, u64)> {
    let dir = cfg.dir_in(data_dir);
    private_dir(&dir)?;
    clean_partials(&[&dir, data_dir]);
    let key = std::fs::read(crate::paths::secret_key(data_dir)).context("cannot read secret.key")?;
    let encrypted = !cfg.passphrase.is_empty();
    let ext = if encrypted { "sdbk" } else { "db" };
    let base = stamp(now);
    let mut stem = base.clone();
    for n in 1.. {
        if !dir.join(format!("{stem}.{ext}")).exists() && !dir.join(format!("{stem}.key")).exists() {
            break;
        }
        stem = format!("{base}-{n}");
    }
    let file = format!("{stem}.{ext}");
    let dest = dir.join(&file);
    if encrypted {
        // The plain copy stays inside the data directory, which holds the live database anyway.
        let plain = data_dir.join(format!(".supportd-backup-{stem}.db.partial"));
        let sealed = dir.join(format!(".supportd-backup-{stem}.sdbk.partial"));
        let check = data_dir.join(format!(".supportd-backup-{stem}.check.partial"));
        let out = (|| {
            db.backup_to(&plain).context("the online backup failed")?;
            restrict(&plain);
            check_database(&plain)?;
            seal(&plain, &key, cfg.passphrase.expose(), &sealed)?;
            // Checked as it will be restored: opened with the passphrase, then the database.
            let got = unseal(&sealed, cfg.passphrase.expose(), &check)?;
            if got != key {
                bail!("the sealed copy's key does not match");
            }
            check_database(&check)?;
            std::fs::rename(&sealed, &dest).with_context(|| format!("cannot move the backup to {}", dest.display()))
        })();
        for p in [&plain, &sealed, &check] {
            let _ = std::fs::remove_file(p);
        }
        out?;
    } else {
        let partial = dir.join(format!(".supportd-backup-{stem}.db.partial"));
        let out = (|| {
            db.backup_to(&partial).context("the online backup failed")?;
            restrict(&partial);
            check_database(&partial)?;
            let key_file = dir.join(format!("{stem}.key"));
            crate::crypto::write_private_file(&key_file, &key)
                .with_context(|| format!("cannot write {}", key_file.display()))?;
            std::fs::rename(&partial, &dest).with_context(|| format!("cannot move the backup to {}", dest.display()))
        })();
        let _ = std::fs::remove_file(&partial);
        out?;
        // Opened again under its final name before it counts.
        check_database(&dest)?;
    }
    let bytes = std::fs::metadata(&dest).map(|m| m.len()).unwrap_or(0);
    Ok((file, dest, bytes))
}

/// The scheduled copies in `dir`, newest first: (file name, encrypted).
pub fn copies(dir: &Path) -> Vec<(String, bool)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut found: Vec<(String, u32, String, bool)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            parse_name(&name).map(|(t, n, enc)| (t, n, name, enc))
        })
        .collect();
    found.sort_by(|a, b| (&b.0, b.1).cmp(&(&a.0, a.1)));
    found.into_iter().map(|(_, _, name, enc)| (name, enc)).collect()
}

/// Deletes all but the newest `keep` copies (with their key files); returns what went.
fn rotate(db: &Db, dir: &Path, keep: u32) -> anyhow::Result<Vec<String>> {
    let mut gone = Vec::new();
    for (name, encrypted) in copies(dir).into_iter().skip(keep as usize) {
        std::fs::remove_file(dir.join(&name)).with_context(|| format!("cannot delete {name}"))?;
        if !encrypted && let Some(stem) = name.strip_suffix(".db") {
            for side in [format!("{stem}.key"), format!("{name}-wal"), format!("{name}-shm"), format!("{name}-journal")]
            {
                let _ = std::fs::remove_file(dir.join(side));
            }
        }
        db.with_conn(|c| rows::backup_rotated(c, &name))?;
        gone.push(name);
    }
    Ok(gone)
}

fn derive_key(passphrase: &str, salt: &[u8], (m, t, p): (u32, u32, u32)) -> anyhow::Result<[u8; 32]> {
    if m > 1024 * 1024 || t > 16 || p > 16 {
        bail!("the file asks for an unreasonable key-derivation cost: not a supportd backup");
    }
    let params = argon2::Params::new(m, t, p, Some(32)).map_err(|e| anyhow::anyhow!("key derivation: {e}"))?;
    let mut key = [0u8; 32];
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, &mut key)
        .map_err(|e| anyhow::anyhow!("key derivation: {e}"))?;
    Ok(key)
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Seals `key` and the database file `db_file` into a new file `dest` (0600).
pub fn seal(db_file: &Path, key: &[u8], passphrase: &str, dest: &Path) -> anyhow::Result<()> {
    let salt = crate::crypto::random_bytes::<16>()?;
    let nonce = crate::crypto::random_bytes::<19>()?;
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(MAGIC);
    for v in [KDF.0, KDF.1, KDF.2] {
        header.extend_from_slice(&v.to_le_bytes());
    }
    header.extend_from_slice(&salt);
    header.extend_from_slice(&nonce);
    let aead = XChaCha20Poly1305::new(&derive_key(passphrase, &salt, KDF)?.into());
    let mut enc = EncryptorBE32::from_aead(aead, nonce.as_ref().into());

    let mut prefix = Vec::with_capacity(8 + key.len());
    prefix.extend_from_slice(INNER);
    prefix.extend_from_slice(&u32::try_from(key.len()).context("key too long")?.to_le_bytes());
    prefix.extend_from_slice(key);
    let db = std::fs::File::open(db_file).with_context(|| format!("cannot read {}", db_file.display()))?;
    let mut input = std::io::Cursor::new(prefix).chain(std::io::BufReader::new(db));

    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let file = opts.open(dest).with_context(|| format!("cannot create {}", dest.display()))?;
    let mut out = std::io::BufWriter::new(file);
    out.write_all(&header)?;
    let fail = |_| anyhow::anyhow!("encryption failed");
    let mut current = vec![0u8; SEGMENT];
    let mut next = vec![0u8; SEGMENT];
    let mut n = read_full(&mut input, &mut current)?;
    loop {
        // A full segment is the last one only when nothing follows it.
        let m = if n == SEGMENT { read_full(&mut input, &mut next)? } else { 0 };
        if m == 0 {
            out.write_all(&enc.encrypt_last(Payload { msg: &current[..n], aad: &header }).map_err(fail)?)?;
            break;
        }
        out.write_all(&enc.encrypt_next(Payload { msg: &current[..n], aad: &header }).map_err(fail)?)?;
        std::mem::swap(&mut current, &mut next);
        n = m;
    }
    let file = out.into_inner().map_err(|e| anyhow::anyhow!("cannot write {}: {e}", dest.display()))?;
    file.sync_all()?;
    Ok(())
}

/// Whether `path` is a sealed copy.
pub fn is_sealed(path: &Path) -> bool {
    let mut magic = [0u8; 16];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == MAGIC
}

/// Opens a sealed copy: writes its database to a new file `db_dest` (0600) and returns the key.
/// A wrong passphrase, a damaged or a cut-off file is an error, and nothing is left behind.
pub fn unseal(path: &Path, passphrase: &str, db_dest: &Path) -> anyhow::Result<Vec<u8>> {
    let out = unseal_inner(path, passphrase, db_dest);
    if out.is_err() {
        let _ = std::fs::remove_file(db_dest);
    }
    out
}

fn unseal_inner(path: &Path, passphrase: &str, db_dest: &Path) -> anyhow::Result<Vec<u8>> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut input = std::io::BufReader::new(file);
    let mut header = [0u8; HEADER_LEN];
    if read_full(&mut input, &mut header)? < HEADER_LEN || &header[..16] != MAGIC {
        bail!("{} is not an encrypted supportd backup", path.display());
    }
    let word = |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    let cost = (word(16), word(20), word(24));
    let (salt, nonce) = (&header[28..44], &header[44..63]);
    let aead = XChaCha20Poly1305::new(&derive_key(passphrase, salt, cost)?.into());
    let dec = DecryptorBE32::from_aead(aead, nonce.into());
    let wrong = || anyhow::anyhow!("cannot decrypt {}: wrong passphrase, or the file is damaged", path.display());

    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut out =
        std::io::BufWriter::new(opts.open(db_dest).with_context(|| format!("cannot create {}", db_dest.display()))?);
    let mut key: Option<Vec<u8>> = None;
    // One extra byte read ahead tells whether a full segment is the last.
    let mut buf = vec![0u8; SEGMENT + TAG + 1];
    let mut have = read_full(&mut input, &mut buf)?;
    let mut dec = Some(dec);
    loop {
        let last = have <= SEGMENT + TAG;
        let len = have.min(SEGMENT + TAG);
        let segment = Payload { msg: &buf[..len], aad: &header };
        let plain = match dec.as_mut() {
            Some(_) if last => dec.take().map(|d| d.decrypt_last(segment)),
            Some(d) => Some(d.decrypt_next(segment)),
            None => None,
        }
        .ok_or_else(wrong)?
        .map_err(|_| wrong())?;
        let mut body: &[u8] = &plain;
        if key.is_none() {
            if body.len() < 8 || &body[..4] != INNER {
                return Err(wrong());
            }
            let n = u32::from_le_bytes([body[4], body[5], body[6], body[7]]) as usize;
            if body.len() < 8 + n {
                return Err(wrong());
            }
            key = Some(body[8..8 + n].to_vec());
            body = &body[8 + n..];
        }
        out.write_all(body)?;
        if last {
            break;
        }
        // Carry the read-ahead byte over and fill the rest.
        buf[0] = buf[SEGMENT + TAG];
        have = 1 + read_full(&mut input, &mut buf[1..])?;
    }
    let file = out.into_inner().map_err(|e| anyhow::anyhow!("cannot write {}: {e}", db_dest.display()))?;
    file.sync_all()?;
    key.ok_or_else(wrong)
}

/// A backup file made ready for `Db::restore_from`.
pub struct Opened {
    /// The database file to restore from.
    pub db_file: PathBuf,
    /// The secret key that belongs to it: inside a sealed copy, or the `.key` file beside a
    /// plain one.
    pub key: Option<Vec<u8>>,
    pub encrypted: bool,
    _scratch: Option<tempfile::TempPath>,
}

/// Prepares `file` for a restore: a sealed copy is opened with `passphrase` into a scratch file
/// inside `scratch_dir` (removed when the result is dropped); a plain one is used as it is.
pub fn open_copy(file: &Path, passphrase: Option<&str>, scratch_dir: &Path) -> anyhow::Result<Opened> {
    if is_sealed(file) {
        let Some(passphrase) = passphrase.filter(|p| !p.is_empty()) else {
            bail!(
                "{} is encrypted: set SUPPORTD_BACKUP_PASSPHRASE (or backup.passphrase), or pipe it with --passphrase-stdin",
                file.display()
            );
        };
        let scratch = tempfile::Builder::new()
            .prefix(".supportd-restore-")
            .tempfile_in(scratch_dir)
            .context("cannot create a scratch file in the data directory")?
            .into_temp_path();
        std::fs::remove_file(&scratch).context("cannot prepare the scratch file")?;
        let key = unseal(file, passphrase, &scratch)?;
        return Ok(Opened { db_file: scratch.to_path_buf(), key: Some(key), encrypted: true, _scratch: Some(scratch) });
    }
    let mut magic = [0u8; 16];
    let is_sqlite =
        std::fs::File::open(file).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == b"SQLite format 3\0";
    if !is_sqlite {
        bail!("{} is not a supportd backup (neither a database nor an encrypted copy)", file.display());
    }
    let key_file = file.with_extension("key");
    let key = if key_file.is_file() {
        Some(std::fs::read(&key_file).with_context(|| format!("cannot read {}", key_file.display()))?)
    } else {
        None
    };
    Ok(Opened { db_file: file.to_owned(), key, encrypted: false, _scratch: None })
}

/// Puts the backup's secret key in place when it differs from the current one; the current
/// one is kept as `secret.key.before-restore-<time>`. Returns that file, when one was kept.
pub fn install_key(secret_key: &Path, key: &[u8], now: i64) -> anyhow::Result<Option<PathBuf>> {
    let current = std::fs::read(secret_key).ok();
    if current.as_deref().map(<[u8]>::trim_ascii) == Some(key.trim_ascii()) {
        return Ok(None);
    }
    let dir = secret_key.parent().unwrap_or(Path::new("."));
    let incoming = dir.join(format!(".secret.key.restore-{now}"));
    let _ = std::fs::remove_file(&incoming);
    crate::crypto::write_private_file(&incoming, key).context("cannot write the restored key")?;
    if let Err(e) = crate::crypto::Cipher::load(&incoming) {
        let _ = std::fs::remove_file(&incoming);
        bail!("the backup's key is damaged: {e}");
    }
    let kept = current.is_some().then(|| dir.join(format!("secret.key.before-restore-{}", now / 1000)));
    if let Some(kept) = &kept {
        std::fs::rename(secret_key, kept)
            .with_context(|| format!("cannot keep the current key as {}", kept.display()))?;
    }
    std::fs::rename(&incoming, secret_key).context("cannot put the restored key in place")?;
    Ok(kept)
}

/// One copy as the panel shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CopyView {
    pub file: String,
    pub at: String,
    pub bytes: i64,
    pub encrypted: bool,
}

/// Where the scheduled backups stand (the panel and `supportd doctor`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Status {
    /// `backup.every_hours` > 0.
    pub enabled: bool,
    pub every_hours: u64,
    pub keep: u32,
    pub dir: String,
    /// A passphrase is set: copies are encrypted.
    pub encrypted: bool,
    /// The newest checked copy.
    pub last_ok: Option<CopyView>,
    /// Why the last attempt failed (none after a success).
    pub last_error: Option<String>,
    pub last_attempt_at: Option<String>,
    pub next_due_at: Option<String>,
    /// The last good copy is older than two periods (or none was made although one was due).
    pub stale: bool,
    /// Copies in the directory now, newest first.
    pub copies: Vec<String>,
}

/// The backups' status at `now` from the database and the backup directory.
pub fn status(conn: &rusqlite::Connection, cfg: &BackupConfig, data_dir: &Path, now: i64) -> store::Result<Status> {
    let last = rows::backup_last_ok(conn)?;
    let job = rows::job(conn, JOB)?;
    let period = i64::try_from(cfg.every_hours).unwrap_or(0).saturating_mul(3_600_000);
    let enabled = cfg.every_hours > 0;
    let reference = last.as_ref().map(|b| b.created_at).or(job.as_ref().map(|j| j.created_at));
    let stale = enabled && reference.is_some_and(|t| now - t > 2 * period);
    let dir = cfg.dir_in(data_dir);
    Ok(Status {
        enabled,
        every_hours: cfg.every_hours,
        keep: cfg.keep,
        dir: dir.display().to_string(),
        encrypted: !cfg.passphrase.is_empty(),
        last_ok: last.map(|b| CopyView {
            file: b.file,
            at: rfc3339(b.created_at),
            bytes: b.bytes,
            encrypted: b.encrypted,
        }),
        last_error: job.as_ref().and_then(|j| j.last_error.clone()),
        last_attempt_at: job.as_ref().and_then(|j| j.last_started_at).map(rfc3339),
        next_due_at: job.as_ref().filter(|_| enabled).map(|j| rfc3339(crate::jobs::next_due(j, period))),
        stale,
        copies: copies(&dir).into_iter().map(|(n, _)| n).collect(),
    })
}

/// The server's backups: the schedule and "back up now" take turns.
pub struct Backups {
    db: Db,
    data_dir: PathBuf,
    cfg: BackupConfig,
    clock: SharedClock,
    running: Arc<tokio::sync::Mutex<()>>,
}

impl Backups {
    pub fn new(db: Db, data_dir: PathBuf, cfg: BackupConfig, clock: SharedClock) -> Self {
        Self { db, data_dir, cfg, clock, running: Arc::default() }
    }

    pub fn config(&self) -> &BackupConfig {
        &self.cfg
    }

    /// One copy now (waits for a run in progress to end first), recorded as the job's run.
    pub async fn run(&self) -> Result<Copy, String> {
        let _turn = self.running.lock().await;
        self.run_locked().await
    }

    async fn run_locked(&self) -> Result<Copy, String> {
        let (db, dir, cfg, now) = (self.db.clone(), self.data_dir.clone(), self.cfg.clone(), self.clock.now_ms());
        let work = async move {
            tokio::task::spawn_blocking(move || make_copy(&db, &dir, &cfg, now))
                .await
                .map_err(|e| format!("the backup task failed: {e}"))?
        };
        crate::jobs::tracked(&self.db, &self.clock, JOB, work, summary).await
    }

    /// Starts a copy in the background unless one is running; false when one is.
    pub fn start(self: &Arc<Self>) -> bool {
        let Ok(turn) = self.running.clone().try_lock_owned() else { return false };
        let me = self.clone();
        tokio::spawn(async move {
            let _turn = turn;
            if let Err(e) = me.run_locked().await {
                tracing::warn!(error = %e, "backup failed");
            }
        });
        true
    }

    pub async fn status(&self) -> store::Result<Status> {
        let (cfg, dir, now) = (self.cfg.clone(), self.data_dir.clone(), self.clock.now_ms());
        self.db.call(move |c| status(c, &cfg, &dir, now)).await
    }

    /// The schedule (`backup.every_hours`), for the server's lifetime.
    pub async fn schedule(self: Arc<Self>) {
        if self.cfg.every_hours == 0 {
            return;
        }
        let period = std::time::Duration::from_secs(self.cfg.every_hours * 3600);
        let me = self.clone();
        crate::jobs::schedule(self.db.clone(), self.clock.clone(), JOB, period, move || {
            let me = me.clone();
            async move {
                let _turn = me.running.lock().await;
                let (db, dir, cfg, now) = (me.db.clone(), me.data_dir.clone(), me.cfg.clone(), me.clock.now_ms());
                let made = tokio::task::spawn_blocking(move || make_copy(&db, &dir, &cfg, now))
                    .await
                    .map_err(|e| format!("the backup task failed: {e}"))??;
                Ok(summary(&made))
            }
        })
        .await;
    }
}

fn summary(c: &Copy) -> serde_json::Value {
    serde_json::json!({"file": c.file, "bytes": c.bytes, "encrypted": c.encrypted, "rotated": c.rotated})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_time_then_sequence() {
        assert_eq!(stamp(0), "supportd-19700101T000000Z");
        assert_eq!(parse_name("supportd-20250102T030405Z.db"), Some(("20250102T030405Z".into(), 0, false)));
        assert_eq!(parse_name("supportd-20250102T030405Z-2.sdbk"), Some(("20250102T030405Z".into(), 2, true)));
        for bad in ["supportd-2025.db", "backup.db", "supportd-20250102T030405Z.key", ".supportd-x.partial"] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
        let dir = tempfile::tempdir().expect("tempdir");
        for n in [
            "supportd-20250102T030405Z.db",
            "supportd-20250102T030405Z-1.db",
            "supportd-20250103T000000Z.sdbk",
            "notes.txt",
        ] {
            std::fs::write(dir.path().join(n), b"x").expect("write");
        }
        let names: Vec<String> = copies(dir.path()).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            ["supportd-20250103T000000Z.sdbk", "supportd-20250102T030405Z-1.db", "supportd-20250102T030405Z.db"]
        );
    }

    #[test]
    fn sealed_copies_round_trip_and_refuse_tampering() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("in.db");
        // Three full segments (8 bytes of header and the 32-byte key first): the read-ahead
        // must find the end.
        let content: Vec<u8> = (0..(3 * SEGMENT - 40)).map(|i| (i % 251) as u8).collect();
        std::fs::write(&db, &content).expect("write");
        let sealed = dir.path().join("c.sdbk");
        seal(&db, b"key-bytes-base64-text-here-32by+", "correct horse battery", &sealed).expect("seal");
        assert!(is_sealed(&sealed));
        let bytes = std::fs::read(&sealed).expect("read");
        assert!(!bytes.windows(12).any(|w| w == &content[1000..1012]), "the content is not readable");
        let out = dir.path().join("out.db");
        let key = unseal(&sealed, "correct horse battery", &out).expect("unseal");
        assert_eq!(key, b"key-bytes-base64-text-here-32by+");
        assert_eq!(std::fs::read(&out).expect("read"), content);
        assert_eq!(std::fs::metadata(&sealed).expect("meta").len() as usize, HEADER_LEN + 3 * (SEGMENT + TAG));
        // A small one: a single, short segment.
        let small = dir.path().join("small.db");
        std::fs::write(&small, b"tiny").expect("write");
        let (s2, o2) = (dir.path().join("s2.sdbk"), dir.path().join("o2.db"));
        seal(&small, b"k", "correct horse battery", &s2).expect("seal");
        assert_eq!(unseal(&s2, "correct horse battery", &o2).expect("unseal"), b"k");
        assert_eq!(std::fs::read(&o2).expect("read"), b"tiny");

        let wrong = dir.path().join("wrong.db");
        let err = unseal(&sealed, "wrong horse battery", &wrong).expect_err("wrong passphrase").to_string();
        assert!(err.contains("wrong passphrase"), "{err}");
        assert!(!wrong.exists(), "nothing is left behind");
        // A flipped byte, and a cut-off file.
        let mut flipped = bytes.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 1;
        std::fs::write(&sealed, &flipped).expect("write");
        assert!(unseal(&sealed, "correct horse battery", &wrong).is_err());
        std::fs::write(&sealed, &bytes[..bytes.len() - SEGMENT]).expect("write");
        assert!(unseal(&sealed, "correct horse battery", &wrong).is_err(), "truncation is detected");
        assert!(!wrong.exists());
    }

    #[test]
    fn a_restored_key_replaces_the_current_one_and_keeps_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secret.key");
        crate::crypto::Cipher::load_or_create(&path).expect("key");
        let before = std::fs::read(&path).expect("read");
        assert_eq!(install_key(&path, &before, 5_000).expect("same"), None, "the same key changes nothing");
        let other = dir.path().join("other.key");
        crate::crypto::Cipher::load_or_create(&other).expect("key");
        let new = std::fs::read(&other).expect("read");
        let kept = install_key(&path, &new, 7_000).expect("install").expect("kept");
        assert_eq!(std::fs::read(&kept).expect("read"), before);
        assert_eq!(std::fs::read(&path).expect("read"), new);
        assert!(install_key(&path, b"not a key", 8_000).is_err());
        assert_eq!(std::fs::read(&path).expect("read"), new, "a damaged key is not installed");
    }
}
