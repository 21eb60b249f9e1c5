//! Where everything of one installation lives: the data directory and every path inside it.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// Where everything of one installation lives.
#[derive(Debug, Clone)]
pub struct Paths {
    pub data_dir: PathBuf,
    pub config_file: PathBuf,
}

impl Paths {
    /// `data_dir` from the flag/env, else the platform default (`directories`).
    pub fn resolve(data_dir: Option<PathBuf>, config_file: Option<PathBuf>) -> anyhow::Result<Self> {
        let data_dir = match data_dir {
            Some(d) => d,
            None => directories::ProjectDirs::from("", "", "supportd")
                .map(|p| p.data_dir().to_owned())
                .context("cannot find a home directory for the data: pass --data-dir or set SUPPORTD_DATA_DIR")?,
        };
        let config_file = config_file.unwrap_or_else(|| data_dir.join("config.toml"));
        Ok(Self { data_dir, config_file })
    }

    pub fn db(&self) -> PathBuf {
        self.data_dir.join("supportd.db")
    }
    pub fn secret_key(&self) -> PathBuf {
        secret_key(&self.data_dir)
    }
    /// The local model files (`supportd model pull`, the panel's install).
    pub fn models(&self) -> PathBuf {
        models_dir(&self.data_dir)
    }
    /// The knowledge base's embedding model file.
    pub fn embedding_model(&self) -> PathBuf {
        embedding_model(&self.data_dir)
    }
    /// The knowledge base's full-text index.
    pub fn kb_index(&self) -> PathBuf {
        kb_index(&self.data_dir)
    }
    /// The ACME account and certificate.
    pub fn tls_dir(&self) -> PathBuf {
        tls_dir(&self.data_dir)
    }
    /// The files buyers and operators sent (stored and resolved by [`crate::files::Files`]).
    pub fn files_dir(&self) -> PathBuf {
        self.files().root().to_owned()
    }
    /// The files buyers and operators sent.
    pub fn files(&self) -> crate::files::Files {
        crate::files::Files::new(&self.data_dir)
    }
}

/// The embedding model's file name under `models/`.
pub const EMBEDDING_MODEL_FILE: &str = "e5-small-q4.bin";

// The same paths for code that holds only the data directory.

/// `DATA_DIR/secret.key`.
pub fn secret_key(data_dir: &Path) -> PathBuf {
    data_dir.join("secret.key")
}
/// `DATA_DIR/models/`.
pub fn models_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("models")
}
/// `DATA_DIR/models/e5-small-q4.bin`.
pub fn embedding_model(data_dir: &Path) -> PathBuf {
    models_dir(data_dir).join(EMBEDDING_MODEL_FILE)
}
/// `DATA_DIR/kb-index/`.
pub fn kb_index(data_dir: &Path) -> PathBuf {
    data_dir.join("kb-index")
}
/// `DATA_DIR/cache/nlu-sentences.bin`: the message classifier's training embeddings
/// ([`crate::nlu::sentence`]); deleting it only makes the next start slower.
pub fn nlu_cache(data_dir: &Path) -> PathBuf {
    data_dir.join("cache").join("nlu-sentences.bin")
}
/// `DATA_DIR/tls/`.
pub fn tls_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("tls")
}
