//! The files buyers and operators send: the one home for storing them under
//! `DATA_DIR/files/<folder>/` (a channel's name for what buyers sent, `out` for what operators
//! sent) and for finding them again by their reference, `files/<folder>/<name>` — the form
//! messages, the outbox and the API carry. A reference is only ever resolved inside
//! `DATA_DIR/files/`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// The data directory's folder of files, and the first segment of every reference.
pub const ROOT: &str = "files";

/// The folder of the files operators send.
pub const OUT: &str = "out";

/// Where the files of one installation live (`DATA_DIR/files/`).
#[derive(Debug, Clone)]
pub struct Files {
    root: PathBuf,
}

/// A file's place on disk and its reference (`files/<folder>/<name>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub path: PathBuf,
    pub reference: String,
}

impl StoredFile {
    /// Where the bytes are written first; [`StoredFile::finish`] renames it into place, so a
    /// half-written file never has the final name.
    pub fn partial(&self) -> PathBuf {
        self.path.with_extension("partial")
    }

    /// Moves the written [`StoredFile::partial`] to its final name.
    pub async fn finish(&self) -> std::io::Result<()> {
        tokio::fs::rename(self.partial(), &self.path).await
    }
}

impl Files {
    pub fn new(data_dir: &Path) -> Self {
        Self { root: data_dir.join(ROOT) }
    }

    /// `DATA_DIR/files/`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A new file in `folder` with a random name and the extension `ext` (sanitised: letters
    /// and digits, at most 8, `bin` when none remain). Creates the folder (0700); nothing is
    /// written: write [`StoredFile::partial`], then [`StoredFile::finish`].
    pub async fn create(&self, folder: &str, ext: &str) -> anyhow::Result<StoredFile> {
        anyhow::ensure!(safe_segment(folder), "not a folder name: {folder:?}");
        let dir = self.root.join(folder);
        let mkdir = dir.clone();
        tokio::task::spawn_blocking(move || crate::crypto::create_private_dir(&mkdir))
            .await?
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let name = format!("{}.{}", crate::crypto::random_token()?, extension(ext));
        Ok(StoredFile { path: dir.join(&name), reference: format!("{ROOT}/{folder}/{name}") })
    }

    /// Stores `bytes` as a new file in `folder` (see [`Files::create`]).
    pub async fn store(&self, folder: &str, ext: &str, bytes: &[u8]) -> anyhow::Result<StoredFile> {
        let file = self.create(folder, ext).await?;
        tokio::fs::write(file.partial(), bytes).await.with_context(|| format!("cannot write {}", file.reference))?;
        file.finish().await.with_context(|| format!("cannot write {}", file.reference))?;
        Ok(file)
    }

    /// The path of the file a reference names, or `None` when the reference is not
    /// `files/<segments>` of plain segments (no empty, `.` or `..` segment, no backslash, not
    /// absolute): nothing outside `DATA_DIR/files/` is ever named. The file may not exist.
    pub fn resolve(&self, reference: &str) -> Option<PathBuf> {
        let rest = reference.strip_prefix(ROOT)?.strip_prefix('/')?;
        rest.split('/').all(safe_segment).then(|| self.root.join(rest))
    }
}

/// A path segment that stays where it is joined: not empty, not `.` or `..`, no separator.
fn safe_segment(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains(['/', '\\', '\0'])
}

/// A stored file's extension: the letters and digits of `ext`, at most 8, else `bin`.
pub fn extension(ext: &str) -> String {
    let ext: String = ext.chars().filter(char::is_ascii_alphanumeric).take(8).collect();
    if ext.is_empty() { "bin".into() } else { ext }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_outside_files_are_refused() {
        let files = Files::new(Path::new("/data"));
        assert_eq!(files.resolve("files/telegram/a.jpg"), Some(PathBuf::from("/data/files/telegram/a.jpg")));
        for bad in [
            "secret.key",
            "files",
            "files/",
            "files/../secret.key",
            "files/telegram/../../secret.key",
            "files/./a",
            "files//a",
            "files/a\\b",
            "files/a/",
            "/etc/passwd",
            "/data/files/telegram/a.jpg",
            "filesx/a.jpg",
            "../files/a.jpg",
            "files/a\0b",
        ] {
            assert_eq!(files.resolve(bad), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_stored_file_resolves_to_its_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = Files::new(dir.path());
        let stored = files.store("telegram", "JPG", b"abc").await.expect("store");
        assert!(stored.reference.starts_with("files/telegram/"), "{}", stored.reference);
        assert_eq!(stored.path.extension().and_then(|e| e.to_str()), Some("JPG"));
        assert_eq!(files.resolve(&stored.reference).as_deref(), Some(stored.path.as_path()));
        assert_eq!(std::fs::read(&stored.path).expect("read"), b"abc");
        assert!(!stored.partial().exists(), "no partial file is left");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join("files/telegram")).expect("dir").permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        let other = files.store("out", "../../x", b"").await.expect("store");
        assert!(other.reference.starts_with("files/out/"), "{}", other.reference);
        assert_eq!(other.path.extension().and_then(|e| e.to_str()), Some("x"));
        assert_ne!(stored.path.file_name(), other.path.file_name());
        assert_eq!(extension("пдф"), "bin");
        for folder in ["", "..", "a/b", "."] {
            assert!(files.store(folder, "jpg", b"x").await.is_err(), "{folder:?}");
        }
    }
}
