//! Integration secrets, encrypted at rest with the data-dir key, and plain settings.

use rusqlite::{Connection, params};

use super::{Result, StoreError, optional};
use crate::crypto::Cipher;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialInfo {
    pub name: String,
    pub updated_at: i64,
}

pub fn put(conn: &Connection, cipher: &Cipher, name: &str, value: &str, by: Option<i64>, now: i64) -> Result<()> {
    let blob = cipher.encrypt(value.as_bytes(), name)?;
    conn.execute(
        "INSERT INTO credentials (name, ciphertext, updated_at, updated_by) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (name) DO UPDATE SET ciphertext = excluded.ciphertext, updated_at = excluded.updated_at,
         updated_by = excluded.updated_by",
        params![name, blob, now, by],
    )?;
    Ok(())
}

pub fn get(conn: &Connection, cipher: &Cipher, name: &str) -> Result<Option<String>> {
    let blob: Option<Vec<u8>> =
        optional(conn.query_row("SELECT ciphertext FROM credentials WHERE name = ?1", [name], |r| r.get(0)))?;
    let Some(blob) = blob else { return Ok(None) };
    let plain = cipher.decrypt(&blob, name)?;
    String::from_utf8(plain).map(Some).map_err(|_| StoreError::Crypto(crate::crypto::CryptoError::Decrypt))
}

pub fn delete(conn: &Connection, name: &str) -> Result<()> {
    let n = conn.execute("DELETE FROM credentials WHERE name = ?1", [name])?;
    if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

pub fn list(conn: &Connection) -> Result<Vec<CredentialInfo>> {
    let mut stmt = conn.prepare("SELECT name, updated_at FROM credentials ORDER BY name")?;
    let rows = stmt
        .query_map([], |r| Ok(CredentialInfo { name: r.get(0)?, updated_at: r.get(1)? }))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Names of the credentials that do not decrypt with `cipher` (for `doctor`).
pub fn undecryptable(conn: &Connection, cipher: &Cipher) -> Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT name, ciphertext FROM credentials ORDER BY name")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows.into_iter().filter(|(n, b)| cipher.decrypt(b, n).is_err()).map(|(n, _)| n).collect())
}

pub fn set_setting(conn: &Connection, key: &str, value: &serde_json::Value, now: i64) -> Result<()> {
    conn.execute(
        "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        params![key, value.to_string(), now],
    )?;
    Ok(())
}

pub fn setting(conn: &Connection, key: &str) -> Result<Option<serde_json::Value>> {
    let raw: Option<String> =
        optional(conn.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0)))?;
    Ok(raw.and_then(|s| serde_json::from_str(&s).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Db;

    #[test]
    fn secrets_are_stored_encrypted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(&dir.path().join("s.db"), 1, 1).expect("open");
        let cipher = Cipher::from_key(&[1u8; 32]);
        db.with_conn(|c| {
            put(c, &cipher, "wb.api_token", "wb-secret-value-123", None, 5)?;
            let raw: Vec<u8> = c.query_row("SELECT ciphertext FROM credentials", [], |r| r.get(0))?;
            assert!(!raw.windows(8).any(|w| w == b"wb-secre"));
            assert_eq!(get(c, &cipher, "wb.api_token")?.as_deref(), Some("wb-secret-value-123"));
            assert_eq!(list(c)?.len(), 1);
            assert!(undecryptable(c, &cipher)?.is_empty());
            assert_eq!(undecryptable(c, &Cipher::from_key(&[2u8; 32]))?, vec!["wb.api_token".to_owned()]);
            set_setting(c, "telegram.mode", &serde_json::json!("polling"), 6)?;
            assert_eq!(setting(c, "telegram.mode")?, Some(serde_json::json!("polling")));
            delete(c, "wb.api_token")?;
            assert!(matches!(delete(c, "wb.api_token"), Err(StoreError::NotFound)));
            Ok(())
        })
        .expect("checks");
    }
}
