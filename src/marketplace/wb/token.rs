//! What a WB token says about itself. A token is a JWT (RFC 7519) whose payload carries its
//! kind and its categories (`api-information.json`, "About the token" / "Token fields"):
//! - `acc`: 1 base, 2 test, 3 personal, 4 service (with `for`: `self` for a personal token,
//!   `asid:{Service ID}` for a service one);
//! - `s`: a bitmask, bit N set = access to a category (1 Content, 2 Analytics, 3 Prices and
//!   discounts, 4 Marketplace, 5 Statistics, 6 Promotion, 7 Feedbacks and Questions, 9 Buyers
//!   chat, 10 Supplies, 11 Buyers returns, 12 Documents, 13 Finance, 16 Users; 30 read only);
//! - `exp`: expiry (seconds since the epoch).
//!
//! Only the payload is read; the signature is WB's to check.

use base64::Engine as _;
use serde::Deserialize;

/// The token kind (its request limits differ: basic tokens have hourly ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    Personal,
    Service,
    /// "Базовый" in the limit tables.
    Base,
    /// Works only with WB's sandbox.
    Test,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Personal => "personal",
            TokenKind::Service => "service",
            TokenKind::Base => "basic",
            TokenKind::Test => "test",
        }
    }
}

/// `x-category` of the WB documents → the bit of `s` it needs (`api-information.json`, "Bit
/// values"; `it::marketplace_specs::token_bits_and_categories_come_from_the_documents` checks
/// this table against the document).
pub const SCOPE_BITS: &[(&str, u32)] = &[
    ("content", 1),
    ("contentanalytics", 2),
    ("discountsandprices", 3),
    ("marketplace", 4),
    ("statistics", 5),
    ("advert", 6),
    ("questionsandfeedback", 7),
    ("buyerchat", 9),
    ("supplies", 10),
    ("returns", 11),
    ("documents", 12),
    ("finance", 13),
    ("usermanagement", 16),
];

/// The bit of a read-only token.
pub const READ_ONLY_BIT: u32 = 30;

/// A decoded token.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenInfo {
    pub kind: TokenKind,
    pub scopes: u64,
    pub read_only: bool,
    /// Expiry (ms).
    pub expires_at: Option<i64>,
}

impl TokenInfo {
    /// Whether the token has the category a method's `x-category` names (`all` and
    /// `commonapi` need none).
    pub fn has(&self, category: &str) -> bool {
        if matches!(category, "all" | "commonapi") {
            return true;
        }
        SCOPE_BITS.iter().find(|(c, _)| *c == category).is_some_and(|(_, bit)| self.scopes & (1 << bit) != 0)
    }
}

#[derive(Deserialize)]
struct Payload {
    acc: Option<i64>,
    s: Option<u64>,
    t: Option<bool>,
    exp: Option<i64>,
}

/// The token's kind, categories and expiry, or `None` when it is not a WB JWT.
pub fn token_info(token: &str) -> Option<TokenInfo> {
    let mut parts = token.trim().split('.');
    let (_header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let p: Payload = serde_json::from_slice(&bytes).ok()?;
    let kind = match (p.acc?, p.t.unwrap_or(false)) {
        (_, true) | (2, _) => TokenKind::Test,
        (1, _) => TokenKind::Base,
        (3, _) => TokenKind::Personal,
        (4, _) => TokenKind::Service,
        _ => return None,
    };
    let scopes = p.s?;
    Some(TokenInfo { kind, scopes, read_only: scopes & (1 << READ_ONLY_BIT) != 0, expires_at: p.exp.map(|e| e * 1000) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        let b = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.{}", b(r#"{"alg":"ES256"}"#), b(payload), b("sig"))
    }

    #[test]
    fn kinds_and_scopes_are_read_from_the_payload() {
        // Marketplace (4) and Feedbacks and Questions (7), personal.
        let t = token_info(&jwt(r#"{"acc":3,"for":"self","s":144,"t":false,"exp":1924905600}"#)).expect("decodes");
        assert_eq!(t.kind, TokenKind::Personal);
        assert!(t.has("marketplace") && t.has("questionsandfeedback") && t.has("all"));
        assert!(!t.has("statistics") && !t.has("buyerchat"));
        assert_eq!(t.expires_at, Some(1_924_905_600_000));
        let base = token_info(&jwt(r#"{"acc":1,"s":1073741856,"t":false}"#)).expect("decodes");
        assert_eq!(base.kind, TokenKind::Base);
        assert!(base.read_only && base.has("statistics"));
        assert_eq!(token_info(&jwt(r#"{"acc":2,"s":16,"t":true}"#)).map(|t| t.kind), Some(TokenKind::Test));
        assert_eq!(token_info("not-a-jwt"), None);
        assert_eq!(token_info(&jwt("[1,2]")), None);
    }
}
