//! The licence token: canonical JSON signed with Ed25519, as one line of text.
//!
//! ```text
//! SUPPORTD-LIC.<base64url(payload)>.<base64url(signature)>
//! payload = {"customer":…,"grace_days":7,"id":…,"issued":"2026-11-01T00:00:00Z","key":"<key id>",
//!            "limits":{…},"plan":…,"v":1,"valid_until":"2027-11-01T00:00:00Z"}
//! ```
//!
//! The payload is canonical JSON (object keys sorted, no whitespace, UTF-8), and the signature
//! covers exactly its bytes, so the verifier checks what it received and never re-serializes.
//! `key` names the signing key (the first 8 bytes of the SHA-256 of the public key, hex), only
//! to tell "signed with another key" from "changed after signing". Nothing here touches the
//! network or the clock: times are passed in.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::plans::{self, Limits};
use crate::clock::{Millis, rfc3339};

pub const PREFIX: &str = "SUPPORTD-LIC";
/// The payload format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// A licence dated up to this far ahead of the server's clock still installs (clock skew).
pub const FUTURE_TOLERANCE_MS: Millis = 24 * 3_600_000;
/// Longest token read (a real one is under 1 KB).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Longest grace period a licence may give.
pub const MAX_GRACE_DAYS: u32 = 90;

/// Why a licence was refused. `reason()` is the stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed: {0}")]
    Malformed(String),
    #[error("wrong key: the licence is signed with key {signed_by}, this build trusts key {trusted}")]
    WrongKey { signed_by: String, trusted: String },
    #[error("bad signature: the licence was changed after it was issued")]
    BadSignature,
    #[error("unsupported: the licence uses format {0}, made for a newer supportd")]
    Unsupported(u32),
    #[error("expired: the licence was valid until {}", rfc3339(*.valid_until))]
    Expired { valid_until: Millis },
    #[error("issued in the future ({}): check this server's clock", rfc3339(*.issued))]
    IssuedInFuture { issued: Millis },
}

impl TokenError {
    pub fn reason(&self) -> &'static str {
        match self {
            TokenError::Malformed(_) => "malformed",
            TokenError::WrongKey { .. } => "wrong_key",
            TokenError::BadSignature => "bad_signature",
            TokenError::Unsupported(_) => "unsupported",
            TokenError::Expired { .. } => "expired",
            TokenError::IssuedInFuture { .. } => "issued_in_future",
        }
    }
}

fn malformed(m: impl Into<String>) -> TokenError {
    TokenError::Malformed(m.into())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(pub String);

/// The public half of a signing key: what a build trusts.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey([u8; 32]);

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.id())
    }
}

/// SubjectPublicKeyInfo of an Ed25519 key (RFC 8410), before the 32 key bytes.
const SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

impl PublicKey {
    pub fn from_bytes(b: [u8; 32]) -> Self {
        Self(b)
    }

    /// Base64 (standard or URL-safe, padded or not) of the 32 key bytes, or a PEM
    /// `PUBLIC KEY` block (what `supportd licence keygen` and `openssl pkey -pubout` write).
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let bytes = if text.contains("-----BEGIN") {
            let der = pem_decode(text, "PUBLIC KEY")?;
            match der.strip_prefix(&SPKI_PREFIX[..]) {
                Some(key) => key.to_vec(),
                None => return Err(KeyError("the PEM block is not an Ed25519 public key".into())),
            }
        } else {
            decode_b64(text).ok_or_else(|| KeyError("the public key is neither base64 nor PEM".into()))?
        };
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| KeyError(format!("an Ed25519 public key has 32 bytes, not {}", b.len())))?;
        Ok(Self(key))
    }

    /// 16 hex digits naming the key (in tokens and messages).
    pub fn id(&self) -> String {
        Sha256::digest(self.0).iter().take(8).map(|b| format!("{b:02x}")).collect()
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    pub fn to_pem(&self) -> String {
        let mut der = SPKI_PREFIX.to_vec();
        der.extend_from_slice(&self.0);
        pem_encode("PUBLIC KEY", &der)
    }

    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.0).verify(message, signature).is_ok()
    }
}

/// The vendor's private key (or a test's). Never part of the product: it lives with whoever
/// issues licences.
pub struct SigningKey {
    pair: Ed25519KeyPair,
    pkcs8: Vec<u8>,
}

impl SigningKey {
    pub fn generate() -> Result<Self, KeyError> {
        let rng = ring::rand::SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| KeyError("cannot generate a key".into()))?;
        Self::from_pkcs8(doc.as_ref())
    }

    /// PKCS#8 DER, v1 (as OpenSSL writes it) or v2 (with the public key, as ring writes it).
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, KeyError> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(|e| KeyError(format!("not an Ed25519 private key: {e}")))?;
        Ok(Self { pair, pkcs8: der.to_vec() })
    }

    /// A PEM `PRIVATE KEY` block (`supportd licence keygen`, `openssl genpkey -algorithm ed25519`).
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        Self::from_pkcs8(&pem_decode(text, "PRIVATE KEY")?)
    }

    pub fn to_pem(&self) -> String {
        pem_encode("PRIVATE KEY", &self.pkcs8)
    }

    pub fn public_key(&self) -> PublicKey {
        let mut b = [0u8; 32];
        b.copy_from_slice(self.pair.public_key().as_ref());
        PublicKey(b)
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair.sign(message).as_ref().to_vec()
    }
}

/// A verified (or to-be-issued) licence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Licence {
    pub id: String,
    pub customer: String,
    pub plan: String,
    /// Whole seconds, as milliseconds.
    pub issued: Millis,
    pub valid_until: Millis,
    /// After `valid_until`, days the assistant keeps working while it warns.
    pub grace_days: u32,
    pub limits: Limits,
    /// The id of the key that signed it.
    pub key_id: String,
}

impl Licence {
    pub fn grace_until(&self) -> Millis {
        self.valid_until.saturating_add(i64::from(self.grace_days) * super::DAY_MS)
    }
}

/// The signed JSON, field for field.
#[derive(Serialize, Deserialize)]
struct Payload {
    v: u32,
    key: String,
    id: String,
    customer: String,
    plan: String,
    issued: String,
    valid_until: String,
    grace_days: u32,
    limits: Limits,
}

fn check_fields(l: &Licence) -> Result<(), TokenError> {
    if !plans::valid_id(&l.id) {
        return Err(malformed(format!("licence id {:?}: 1–64 letters, digits, '-', '_' or '.'", l.id)));
    }
    if !plans::valid_id(&l.plan) {
        return Err(malformed(format!("plan {:?}: 1–64 letters, digits, '-', '_' or '.'", l.plan)));
    }
    let n = l.customer.chars().count();
    if n == 0 || n > 200 || l.customer.chars().any(char::is_control) {
        return Err(malformed("customer: 1–200 characters, no control characters"));
    }
    if l.valid_until <= l.issued {
        return Err(malformed("valid_until must be after issued"));
    }
    if l.grace_days > MAX_GRACE_DAYS {
        return Err(malformed(format!("grace_days: at most {MAX_GRACE_DAYS}")));
    }
    Ok(())
}

/// Signs `licence` (its `key_id` is taken from `key`) into a token.
pub fn issue(key: &SigningKey, licence: &Licence) -> Result<String, TokenError> {
    let whole = |ms: Millis| ms.div_euclid(1000) * 1000;
    let l = Licence {
        issued: whole(licence.issued),
        valid_until: whole(licence.valid_until),
        key_id: key.public_key().id(),
        limits: licence.limits.clone().normalized(),
        ..licence.clone()
    };
    check_fields(&l)?;
    let payload = Payload {
        v: FORMAT_VERSION,
        key: l.key_id.clone(),
        id: l.id.clone(),
        customer: l.customer.clone(),
        plan: l.plan.clone(),
        issued: rfc3339(l.issued),
        valid_until: rfc3339(l.valid_until),
        grace_days: l.grace_days,
        limits: l.limits.clone(),
    };
    let value = serde_json::to_value(&payload).map_err(|e| malformed(e.to_string()))?;
    let bytes = canonical(&value).into_bytes();
    let signature = key.sign(&bytes);
    Ok(format!("{PREFIX}.{}.{}", URL_SAFE_NO_PAD.encode(&bytes), URL_SAFE_NO_PAD.encode(signature)))
}

/// The token in `text`: the text itself, or the first line of a licence file that holds one
/// (files may carry comment lines around it).
pub fn extract(text: &str) -> Option<&str> {
    let marker = format!("{PREFIX}.");
    text.lines().map(str::trim).find(|l| l.starts_with(&marker))
}

/// Checks the format and the signature against `trusted` and reads the licence. Time is not
/// looked at here (see [`check_times`]).
pub fn decode(token: &str, trusted: &PublicKey) -> Result<Licence, TokenError> {
    let token = token.trim();
    if token.len() > MAX_TOKEN_BYTES {
        return Err(malformed(format!("longer than {MAX_TOKEN_BYTES} bytes")));
    }
    let parts: Vec<&str> = token.split('.').collect();
    if parts.first() != Some(&PREFIX) {
        return Err(malformed(format!("a supportd licence starts with {PREFIX}.")));
    }
    let [_, payload_b64, signature_b64] = parts[..] else {
        return Err(malformed(format!("a licence has three parts: {PREFIX}.<data>.<signature>")));
    };
    let payload = decode_b64(payload_b64).ok_or_else(|| malformed("the data part is not base64url"))?;
    let signature = decode_b64(signature_b64).ok_or_else(|| malformed("the signature part is not base64url"))?;
    if signature.len() != 64 {
        return Err(malformed(format!("an Ed25519 signature has 64 bytes, not {}", signature.len())));
    }
    let value: Value = serde_json::from_slice(&payload).map_err(|e| malformed(format!("the data is not JSON: {e}")))?;
    let signed_by = value.get("key").and_then(Value::as_str).ok_or_else(|| malformed("the data names no key"))?;
    if signed_by != trusted.id() {
        return Err(TokenError::WrongKey { signed_by: signed_by.chars().take(32).collect(), trusted: trusted.id() });
    }
    if !trusted.verify(&payload, &signature) {
        return Err(TokenError::BadSignature);
    }
    let version = value.get("v").and_then(Value::as_u64).ok_or_else(|| malformed("the data has no format version"))?;
    if version != u64::from(FORMAT_VERSION) {
        return Err(match u32::try_from(version) {
            Ok(v) if v > FORMAT_VERSION => TokenError::Unsupported(v),
            _ => malformed(format!("format version {version}")),
        });
    }
    let p: Payload =
        serde_path_to_error::deserialize(value).map_err(|e| malformed(format!("{}: {}", e.path(), e.inner())))?;
    let time = |field: &str, s: &str| -> Result<Millis, TokenError> {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as Millis)
            .map_err(|_| malformed(format!("{field}: {s:?} is not an RFC 3339 time")))
    };
    let l = Licence {
        issued: time("issued", &p.issued)?,
        valid_until: time("valid_until", &p.valid_until)?,
        id: p.id,
        customer: p.customer,
        plan: p.plan,
        grace_days: p.grace_days,
        limits: p.limits.normalized(),
        key_id: p.key,
    };
    check_fields(&l)?;
    Ok(l)
}

/// Whether `l` may be installed at `now`: not expired, not dated ahead of the clock.
pub fn check_times(l: &Licence, now: Millis) -> Result<(), TokenError> {
    if l.issued > now.saturating_add(FUTURE_TOLERANCE_MS) {
        return Err(TokenError::IssuedInFuture { issued: l.issued });
    }
    if l.valid_until <= now {
        return Err(TokenError::Expired { valid_until: l.valid_until });
    }
    Ok(())
}

/// JSON with object keys sorted at every level and no whitespace: one text per value.
pub fn canonical(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn decode_b64(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    [URL_SAFE_NO_PAD, URL_SAFE, STANDARD, STANDARD_NO_PAD].iter().find_map(|e| e.decode(s).ok())
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn pem_decode(text: &str, label: &str) -> Result<Vec<u8>, KeyError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin).ok_or_else(|| KeyError(format!("no \"{begin}\" block")))? + begin.len();
    let stop = text[start..].find(&end).ok_or_else(|| KeyError(format!("no \"{end}\" line")))? + start;
    let body: String = text[start..stop].chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(body).map_err(|_| KeyError(format!("the {label} block is not base64")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::licence::plans::{ChannelKind, ModelAccess, Seats};

    const DAY: Millis = 86_400_000;
    const NOW: Millis = 1_790_000_000_000;

    fn licence() -> Licence {
        Licence {
            id: "LIC-2026-0042".into(),
            customer: "ООО «Ладья» \"опт\"".into(),
            plan: "business".into(),
            issued: NOW,
            valid_until: NOW + 365 * DAY,
            grace_days: 7,
            limits: Limits {
                seats: Seats::UpTo(10),
                channels: vec![ChannelKind::Widget, ChannelKind::Telegram],
                marketplaces: 2,
                models: ModelAccess::Cloud,
                exports: true,
            },
            key_id: String::new(),
        }
    }

    fn parts(token: &str) -> (Vec<u8>, Vec<u8>) {
        let p: Vec<&str> = token.split('.').collect();
        (URL_SAFE_NO_PAD.decode(p[1]).expect("payload"), URL_SAFE_NO_PAD.decode(p[2]).expect("sig"))
    }

    fn assemble(payload: &[u8], sig: &[u8]) -> String {
        format!("{PREFIX}.{}.{}", URL_SAFE_NO_PAD.encode(payload), URL_SAFE_NO_PAD.encode(sig))
    }

    #[test]
    fn a_licence_survives_the_round_trip() {
        let key = SigningKey::generate().expect("key");
        let token = issue(&key, &licence()).expect("issue");
        assert!(token.starts_with("SUPPORTD-LIC.") && !token.contains(char::is_whitespace));
        let back = decode(&token, &key.public_key()).expect("decode");
        let mut want = licence();
        want.key_id = key.public_key().id();
        want.limits = want.limits.normalized();
        assert_eq!(back, want);
        assert_eq!(back.limits.channels, vec![ChannelKind::Telegram, ChannelKind::Widget]);
        assert_eq!(back.grace_until(), NOW + 372 * DAY);
        assert!(check_times(&back, NOW + DAY).is_ok());
    }

    #[test]
    fn the_payload_is_canonical_json() {
        let key = SigningKey::generate().expect("key");
        let (payload, _) = parts(&issue(&key, &licence()).expect("issue"));
        let text = String::from_utf8(payload).expect("utf-8");
        let value: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(canonical(&value), text, "signed bytes are the canonical form");
        assert!(text.starts_with("{\"customer\":\"ООО «Ладья» \\\"опт\\\"\",\"grace_days\":7,\"id\":"), "{text}");
        assert!(text.contains("\"issued\":\"2026-09-21T14:13:20Z\""), "{text}");
        assert!(text.contains("\"limits\":{\"channels\":[\"telegram\",\"widget\"],\"exports\":true,"), "{text}");
        assert_eq!(
            canonical(&serde_json::json!({"b": [1, {"d": 1, "c": null}], "a": "x"})),
            r#"{"a":"x","b":[1,{"c":null,"d":1}]}"#
        );
    }

    #[test]
    fn a_changed_licence_is_refused_as_tampered() {
        let key = SigningKey::generate().expect("key");
        let token = issue(&key, &licence()).expect("issue");
        let (payload, sig) = parts(&token);
        let more = String::from_utf8(payload.clone()).expect("utf-8").replace("\"seats\":10", "\"seats\":99");
        assert_eq!(decode(&assemble(more.as_bytes(), &sig), &key.public_key()), Err(TokenError::BadSignature));
        let mut flipped = sig.clone();
        flipped[10] ^= 1;
        assert_eq!(decode(&assemble(&payload, &flipped), &key.public_key()), Err(TokenError::BadSignature));
        let longer = String::from_utf8(payload).expect("utf-8").replace("2027", "2037");
        let err = decode(&assemble(longer.as_bytes(), &sig), &key.public_key()).expect_err("refused");
        assert_eq!(err.reason(), "bad_signature");
    }

    #[test]
    fn a_licence_from_another_key_is_refused_as_wrong_key() {
        let vendor = SigningKey::generate().expect("key");
        let other = SigningKey::generate().expect("key");
        let token = issue(&other, &licence()).expect("issue");
        match decode(&token, &vendor.public_key()) {
            Err(TokenError::WrongKey { signed_by, trusted }) => {
                assert_eq!(signed_by, other.public_key().id());
                assert_eq!(trusted, vendor.public_key().id());
            }
            other => panic!("{other:?}"),
        }
        // Claiming the trusted key's id does not help: the signature does not verify.
        let (payload, sig) = parts(&token);
        let claimed =
            String::from_utf8(payload).expect("utf-8").replace(&other.public_key().id(), &vendor.public_key().id());
        assert_eq!(decode(&assemble(claimed.as_bytes(), &sig), &vendor.public_key()), Err(TokenError::BadSignature));
    }

    #[test]
    fn malformed_tokens_say_what_is_wrong() {
        let key = SigningKey::generate().expect("key");
        let pk = key.public_key();
        let token = issue(&key, &licence()).expect("issue");
        let (payload, sig) = parts(&token);
        let sign = |v: &Value| {
            let bytes = canonical(v).into_bytes();
            assemble(&bytes, &key.sign(&bytes))
        };
        let mut value: Value = serde_json::from_slice(&payload).expect("json");
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "starts with"),
            ("LICENCE.abc.def".into(), "starts with"),
            (format!("{PREFIX}.abc"), "three parts"),
            (format!("{PREFIX}.a.b.c"), "three parts"),
            (format!("{PREFIX}.!!!.{}", URL_SAFE_NO_PAD.encode(&sig)), "not base64url"),
            (format!("{PREFIX}.{}.AAAA", URL_SAFE_NO_PAD.encode(&payload)), "64 bytes"),
            (assemble(b"not json", &sig), "not JSON"),
            (assemble(br#"{"v":1}"#, &sig), "names no key"),
            ("x".repeat(MAX_TOKEN_BYTES + 1), "longer than"),
        ];
        for (t, want) in cases {
            match decode(&t, &pk) {
                Err(TokenError::Malformed(m)) => assert!(m.contains(want), "{t:.40}: {m}"),
                other => panic!("{t:.40}: {other:?}"),
            }
        }
        value["grace_days"] = serde_json::json!(365);
        assert!(matches!(decode(&sign(&value), &pk), Err(TokenError::Malformed(m)) if m.contains("grace_days")));
        value["grace_days"] = serde_json::json!(7);
        value["valid_until"] = serde_json::json!("next year");
        assert!(matches!(decode(&sign(&value), &pk), Err(TokenError::Malformed(m)) if m.contains("valid_until")));
        value.as_object_mut().expect("object").remove("valid_until");
        assert!(matches!(decode(&sign(&value), &pk), Err(TokenError::Malformed(m)) if m.contains("valid_until")));
        value["valid_until"] = serde_json::json!("2020-01-01T00:00:00Z");
        assert!(matches!(decode(&sign(&value), &pk), Err(TokenError::Malformed(m)) if m.contains("after issued")));
        value["v"] = serde_json::json!(2);
        assert_eq!(decode(&sign(&value), &pk), Err(TokenError::Unsupported(2)));
    }

    #[test]
    fn times_decide_whether_a_licence_installs() {
        let l = Licence { issued: NOW, valid_until: NOW + 30 * DAY, ..licence() };
        assert_eq!(check_times(&l, NOW + 30 * DAY), Err(TokenError::Expired { valid_until: NOW + 30 * DAY }));
        assert!(check_times(&l, NOW + 30 * DAY - 1).is_ok());
        assert!(check_times(&l, NOW - FUTURE_TOLERANCE_MS).is_ok(), "a clock a little behind is tolerated");
        assert_eq!(check_times(&l, NOW - FUTURE_TOLERANCE_MS - 1), Err(TokenError::IssuedInFuture { issued: NOW }));
        assert!(TokenError::Expired { valid_until: 0 }.to_string().starts_with("expired: "));
        assert!(TokenError::IssuedInFuture { issued: 0 }.to_string().starts_with("issued in the future"));
        assert!(TokenError::BadSignature.to_string().starts_with("bad signature"));
    }

    #[test]
    fn keys_read_and_write_as_pem_and_base64() {
        let key = SigningKey::generate().expect("key");
        let pem = key.to_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n") && pem.ends_with("-----END PRIVATE KEY-----\n"));
        let again = SigningKey::from_pem(&pem).expect("reads back");
        assert_eq!(again.public_key(), key.public_key());
        let pk = key.public_key();
        assert_eq!(PublicKey::parse(&pk.to_pem()).expect("pem"), pk);
        assert_eq!(PublicKey::parse(&pk.to_base64()).expect("b64"), pk);
        assert_eq!(PublicKey::parse(&URL_SAFE_NO_PAD.encode(pk.0)).expect("b64url"), pk);
        assert_eq!(pk.id().len(), 16);
        assert!(PublicKey::parse("AAAA").is_err());
        assert!(PublicKey::parse(&key.to_pem()).is_err(), "a private key is not a public key");
        // OpenSSL writes PKCS#8 v1 (seed only): 302e020100300506032b657004220420 || seed.
        let seed = [7u8; 32];
        let mut v1 =
            vec![0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
        v1.extend_from_slice(&seed);
        let openssl = SigningKey::from_pem(&pem_encode("PRIVATE KEY", &v1)).expect("v1 key");
        let direct = Ed25519KeyPair::from_seed_unchecked(&seed).expect("seed");
        assert_eq!(openssl.public_key().0.as_slice(), direct.public_key().as_ref());
    }

    #[test]
    fn a_licence_file_may_carry_comments() {
        let text = "# supportd licence for ООО Ладья\n\n  SUPPORTD-LIC.abc.def  \n# end\n";
        assert_eq!(extract(text), Some("SUPPORTD-LIC.abc.def"));
        assert_eq!(extract("hello"), None);
    }
}
