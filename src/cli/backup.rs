//! `supportd backup` and `supportd restore`.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use crate::app::{self, Paths};
use crate::store::Db;
use crate::store::audit::{self, Actor};

/// `supportd backup [FILE]`: a copy to FILE, or (without FILE) a scheduled-style copy now.
pub fn backup(paths: &Paths, db: &Db, file: Option<PathBuf>, force: bool, now: i64) -> anyhow::Result<ExitCode> {
    let Some(file) = file else {
        let config = app::load_config(paths)?;
        let copy = crate::backup::make_copy(db, &paths.data_dir, &config.backup, now)
            .map_err(|e| anyhow::anyhow!("backup failed: {e}"))?;
        db.with_conn(|c| {
            audit::record(c, &Actor::cli(), "backup.create", Some(&copy.file), serde_json::json!({}), now)
        })?;
        println!("backup written and checked: {} ({} bytes)", copy.path.display(), copy.bytes);
        if copy.encrypted {
            println!("it is encrypted with backup.passphrase, and holds the secret key: keep the passphrase safe.");
        } else {
            println!("the secret key is beside it ({}); keep both.", copy.path.with_extension("key").display());
        }
        for r in &copy.rotated {
            println!("rotated out: {r}");
        }
        return Ok(ExitCode::SUCCESS);
    };
    if file.exists() && !force {
        bail!("{} already exists; pass --force to overwrite it", file.display());
    }
    let tmp = file.with_extension("partial");
    let _ = std::fs::remove_file(&tmp);
    db.backup_to(&tmp).with_context(|| format!("backup to {} failed", file.display()))?;
    std::fs::rename(&tmp, &file).with_context(|| format!("cannot move the backup to {}", file.display()))?;
    super::restrict(&file);
    db.with_conn(|c| {
        audit::record(c, &Actor::cli(), "backup.create", Some(&file.display().to_string()), serde_json::json!({}), now)
    })?;
    println!("backup written to {}", file.display());
    println!(
        "note: stored integration keys are encrypted with {}; keep a copy of that file too.",
        paths.secret_key().display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The passphrase for an encrypted copy: standard input with `--passphrase-stdin`, else the
/// config (`backup.passphrase`, `SUPPORTD_BACKUP_PASSPHRASE`).
fn passphrase(paths: &Paths, from_stdin: bool) -> anyhow::Result<Option<String>> {
    if from_stdin {
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            bail!("--passphrase-stdin reads a pipe, e.g. `supportd restore FILE --passphrase-stdin < pass.txt`");
        }
        let mut text = String::new();
        stdin.lock().take(4096).read_to_string(&mut text).context("cannot read the passphrase")?;
        return Ok(Some(text.lines().next().unwrap_or("").to_owned()));
    }
    let config = app::load_config(paths)?;
    Ok(Some(config.backup.passphrase.expose().to_owned()).filter(|p| !p.is_empty()))
}

/// `supportd restore FILE`: a manual copy, a scheduled one (its key beside it) or an encrypted
/// one. The current database (and key, when the backup's differs) are kept beside.
pub fn restore(paths: &Paths, db: &Db, file: &Path, passphrase_stdin: bool, now: i64) -> anyhow::Result<ExitCode> {
    if !file.is_file() {
        bail!("{} does not exist", file.display());
    }
    let pass = passphrase(paths, passphrase_stdin)?;
    let opened = crate::backup::open_copy(file, pass.as_deref(), &paths.data_dir)?;
    crate::backup::check_database(&opened.db_file).with_context(|| format!("{} cannot be restored", file.display()))?;
    let keep = paths.data_dir.join(format!("supportd.db.before-restore-{}", now / 1000));
    db.backup_to(&keep).with_context(|| format!("cannot save the current database to {}", keep.display()))?;
    super::restrict(&keep);
    db.restore_from(&opened.db_file, now).with_context(|| format!("restore from {} failed", file.display()))?;
    let kept_key = match &opened.key {
        Some(key) => crate::backup::install_key(&paths.secret_key(), key, now)?,
        None => None,
    };
    let details = serde_json::json!({"encrypted": opened.encrypted, "key_restored": kept_key.is_some()});
    db.with_conn(|c| {
        audit::record(c, &Actor::cli(), "backup.restore", Some(&file.display().to_string()), details, now)
    })?;
    println!("restored {} into {}", file.display(), paths.db().display());
    println!("the previous database is kept as {}", keep.display());
    if let Some(k) = kept_key {
        println!("the backup's secret key is in place; the previous key is kept as {}", k.display());
        println!("restart supportd so that it uses the restored key");
    } else if opened.key.is_none() {
        println!("note: no secret key came with this backup; stored integration keys need the secret.key of its time.");
    }
    Ok(ExitCode::SUCCESS)
}
