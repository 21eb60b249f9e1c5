//! `[licence]`, `[backup]` and `[privacy]`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Secret;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct LicenceConfig {
    /// Debug builds only (tests, development): trust this Ed25519 public key (base64 or PEM)
    /// instead of the vendor's. A release build refuses the setting.
    pub public_key: String,
}

/// Scheduled, checked copies of the database and the secret key (`backup.rs`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// Hours between scheduled copies; 0 turns them off.
    pub every_hours: u64,
    /// Scheduled copies kept; older ones are deleted.
    pub keep: u32,
    /// Where the copies go; a relative path is inside the data directory.
    pub dir: PathBuf,
    /// With a passphrase each copy (database and secret key) is one encrypted file
    /// (argon2id + XChaCha20-Poly1305); without one the key file is written beside the copy.
    pub passphrase: Secret,
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self { every_hours: 24, keep: 7, dir: PathBuf::from("backups"), passphrase: Secret::default() }
    }
}

impl BackupConfig {
    /// The backup directory resolved against the data directory.
    pub fn dir_in(&self, data_dir: &Path) -> PathBuf {
        data_dir.join(&self.dir)
    }
}

/// How long buyers' data is kept (`privacy.rs`); 0 keeps it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacyConfig {
    /// Conversations whose last message is older than this many days are deleted with their
    /// messages and files (and the buyer, when nothing of theirs is left).
    pub keep_conversations_days: u32,
    /// Buyers' photos and documents (and files operators sent) older than this many days are
    /// deleted; the messages stay, marked.
    pub keep_files_days: u32,
}
