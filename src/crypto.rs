//! Random tokens, token hashing, password hashing and the at-rest encryption of stored secrets.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("cannot {action} the secret key file {path}: {source}")]
    KeyIo { action: &'static str, path: PathBuf, source: std::io::Error },
    #[error("the secret key file {0} is damaged (expected 32 random bytes, base64)")]
    KeyFormat(PathBuf),
    #[error("a stored secret could not be decrypted: it was written with another secret key or was tampered with")]
    Decrypt,
    #[error("random number generator failed: {0}")]
    Random(String),
}

pub fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut buf = [0u8; N];
    getrandom::getrandom(&mut buf).map_err(|e| CryptoError::Random(e.to_string()))?;
    Ok(buf)
}

/// A 256-bit random token, URL-safe base64 (43 characters).
pub fn random_token() -> Result<String, CryptoError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// What is stored for a bearer/session/reset token: its SHA-256, never the token itself.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two secrets without leaking where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A readable generated password (no look-alike characters), 20 characters, ~115 bits.
pub fn generate_password() -> Result<String, CryptoError> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let bytes = random_bytes::<40>()?;
    let mut out = String::with_capacity(20);
    for b in bytes {
        // Rejection sampling keeps the distribution uniform.
        let limit = 256 - (256 % ALPHABET.len());
        if usize::from(b) < limit {
            out.push(char::from(ALPHABET[usize::from(b) % ALPHABET.len()]));
        }
        if out.len() == 20 {
            return Ok(out);
        }
    }
    generate_password()
}

/// argon2id with the crate's recommended parameters (19 MiB, 2 passes).
pub fn hash_password(password: &str) -> Result<String, CryptoError> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?).map_err(|e| CryptoError::Random(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CryptoError::Random(e.to_string()))
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A hash that matches no known password: verified against when the login is unknown, so that
/// an unknown e-mail costs as much time as a wrong password.
pub fn dummy_password_hash() -> &'static str {
    static HASH: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| hash_password("supportd dummy password").unwrap_or_default());
    &HASH
}

/// The data-dir key that encrypts stored credentials (XChaCha20-Poly1305).
#[derive(Clone)]
pub struct Cipher {
    aead: XChaCha20Poly1305,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(..)")
    }
}

impl Cipher {
    pub fn from_key(key: &[u8; 32]) -> Self {
        Self { aead: XChaCha20Poly1305::new(key.into()) }
    }

    /// Loads the key file, creating it (mode 0600) when it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, CryptoError> {
        if !path.exists() {
            let key = random_bytes::<32>()?;
            write_private_file(path, URL_SAFE_NO_PAD.encode(key).as_bytes()).map_err(|source| CryptoError::KeyIo {
                action: "create",
                path: path.to_owned(),
                source,
            })?;
        }
        Self::load(path)
    }

    pub fn load(path: &Path) -> Result<Self, CryptoError> {
        let text = fs::read_to_string(path).map_err(|source| CryptoError::KeyIo {
            action: "read",
            path: path.to_owned(),
            source,
        })?;
        let raw = URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| CryptoError::KeyFormat(path.to_owned()))?;
        let key: [u8; 32] = raw.try_into().map_err(|_| CryptoError::KeyFormat(path.to_owned()))?;
        Ok(Self::from_key(&key))
    }

    /// nonce (24 bytes) || ciphertext+tag. `context` (e.g. the credential's name) is bound as
    /// associated data, so a ciphertext cannot be moved to another name.
    pub fn encrypt(&self, plaintext: &[u8], context: &str) -> Result<Vec<u8>, CryptoError> {
        let nonce_bytes = random_bytes::<24>()?;
        let nonce = XNonce::from_slice(&nonce_bytes);
        let ct = self
            .aead
            .encrypt(nonce, Payload { msg: plaintext, aad: context.as_bytes() })
            .map_err(|_| CryptoError::Decrypt)?;
        let mut out = Vec::with_capacity(24 + ct.len());
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    pub fn decrypt(&self, blob: &[u8], context: &str) -> Result<Vec<u8>, CryptoError> {
        if blob.len() < 24 + 16 {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, ct) = blob.split_at(24);
        self.aead
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: context.as_bytes() })
            .map_err(|_| CryptoError::Decrypt)
    }
}

/// Creates `dir` (and missing parents) accessible by its owner only (0700 on Unix).
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

/// Writes a new file readable by its owner only (0600 on Unix).
pub fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypt_roundtrip_and_binding() {
        let c = Cipher::from_key(&[7u8; 32]);
        let blob = c.encrypt(b"secret-token", "telegram.bot_token").expect("encrypt");
        assert!(!blob.windows(12).any(|w| w == b"secret-token"));
        assert_eq!(c.decrypt(&blob, "telegram.bot_token").expect("decrypt"), b"secret-token");
        assert!(c.decrypt(&blob, "wb.api_token").is_err(), "context must be bound");
        let other = Cipher::from_key(&[8u8; 32]);
        assert!(other.decrypt(&blob, "telegram.bot_token").is_err());
    }

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong horse battery", &h));
        assert!(!verify_password("anything", dummy_password_hash()));
    }

    #[test]
    fn tokens_and_generated_passwords() {
        let t = random_token().expect("token");
        assert_eq!(t.len(), 43);
        assert_ne!(t, random_token().expect("token"));
        assert_eq!(token_hash("abc").len(), 64);
        let p = generate_password().expect("password");
        assert_eq!(p.chars().count(), 20);
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
    }

    #[test]
    fn key_file_is_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secret.key");
        let c1 = Cipher::load_or_create(&path).expect("create");
        let c2 = Cipher::load_or_create(&path).expect("load");
        let blob = c1.encrypt(b"x", "n").expect("enc");
        assert_eq!(c2.decrypt(&blob, "n").expect("dec"), b"x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }
}
