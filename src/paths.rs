//! Where everything of one installation lives: the data directory and every path inside it.

use std::path::PathBuf;

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
        self.data_dir.join("secret.key")
    }
    pub fn models(&self) -> PathBuf {
        self.data_dir.join("models")
    }
}

/// Where a channel keeps the files buyers sent (`DATA_DIR/files/<folder>/`).
pub fn files_dir(data_dir: &std::path::Path, folder: &str) -> PathBuf {
    data_dir.join("files").join(folder)
}

/// How a stored file is named in messages and the API: relative to the data directory.
pub fn file_ref(folder: &str, file_name: &str) -> String {
    format!("files/{folder}/{file_name}")
}
