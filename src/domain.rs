//! Parse-don't-validate value types shared by the API, the CLI and the store.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a signed-in person may do. Ordered: an admin may do everything an operator may, and so on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads conversations, the knowledge base and reports.
    Viewer,
    /// Answers buyers, takes conversations over, edits the knowledge base.
    Operator,
    /// Manages users, integrations and settings.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Operator, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }

    /// True when this role includes everything `needed` may do.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "admin" => Ok(Role::Admin),
            "operator" => Ok(Role::Operator),
            "viewer" => Ok(Role::Viewer),
            other => Err(format!("unknown role {other:?}: expected admin, operator or viewer")),
        }
    }
}

/// A normalized (trimmed, lower-cased) e-mail address used as a login.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// What [`Email::parse`] accepts, as a pattern for the API document.
    pub const PATTERN: &'static str = r"^\s*[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s.\x00-\x1f\x7f-\x9f]([^@\s\x00-\x1f\x7f-\x9f]*[^@\s.\x00-\x1f\x7f-\x9f])?\s*$";

    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim().to_lowercase();
        let invalid = || format!("{raw:?} is not a valid e-mail address");
        if s.is_empty() || s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = s.split_once('@').ok_or_else(invalid)?;
        if local.is_empty()
            || domain.is_empty()
            || domain.contains('@')
            || domain.starts_with('.')
            || domain.ends_with('.')
        {
            return Err(invalid());
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub const PASSWORD_MIN_CHARS: usize = 10;
pub const PASSWORD_MAX_CHARS: usize = 256;

/// Password policy: long enough to resist guessing, short enough not to be a hashing DoS.
pub fn check_password_policy(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < PASSWORD_MIN_CHARS {
        return Err(format!("the password must have at least {PASSWORD_MIN_CHARS} characters"));
    }
    if n > PASSWORD_MAX_CHARS {
        return Err(format!("the password must have at most {PASSWORD_MAX_CHARS} characters"));
    }
    Ok(())
}

/// Names of stored integration credentials: `telegram.bot_token`, `wb.api_token`, ...
pub fn check_credential_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!("credential name {name:?} must be 1-64 characters of a-z, 0-9, '.', '_' or '-'"))
    }
}

/// What a buyer's message is about (the NLU's classes; `engine.human_only_intents` names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    OrderStatus,
    DeliveryTime,
    ReturnRequest,
    Exchange,
    ProductInfo,
    Payment,
    Complaint,
    CancelOrder,
    Promo,
    Greeting,
    Thanks,
    HumanRequest,
    Other,
}

impl Intent {
    pub const ALL: [Intent; 13] = [
        Intent::OrderStatus,
        Intent::DeliveryTime,
        Intent::ReturnRequest,
        Intent::Exchange,
        Intent::ProductInfo,
        Intent::Payment,
        Intent::Complaint,
        Intent::CancelOrder,
        Intent::Promo,
        Intent::Greeting,
        Intent::Thanks,
        Intent::HumanRequest,
        Intent::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Intent::OrderStatus => "order_status",
            Intent::DeliveryTime => "delivery_time",
            Intent::ReturnRequest => "return_request",
            Intent::Exchange => "exchange",
            Intent::ProductInfo => "product_info",
            Intent::Payment => "payment",
            Intent::Complaint => "complaint",
            Intent::CancelOrder => "cancel_order",
            Intent::Promo => "promo",
            Intent::Greeting => "greeting",
            Intent::Thanks => "thanks",
            Intent::HumanRequest => "human_request",
            Intent::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|i| i.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Admin.allows(Role::Operator));
        assert!(Role::Operator.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Operator));
        assert_eq!("Operator".parse::<Role>(), Ok(Role::Operator));
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(Email::parse("  Anna@Shop.RU ").map(|e| e.to_string()), Ok("anna@shop.ru".into()));
        assert!(Email::parse("admin@localhost").is_ok());
        for bad in ["", "anna", "@shop.ru", "anna@", "a b@shop.ru", "a@b@c", "a@.ru"] {
            assert!(Email::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn the_documented_email_pattern_is_what_parse_accepts() {
        let re = regex::Regex::new(Email::PATTERN).expect("pattern");
        for s in [
            "a@b",
            "Admin@Localhost",
            " olga@shop.ru ",
            "x@y.z",
            "@b",
            "a@",
            "a@.b",
            "a@b.",
            "a b@c",
            "a@b@c",
            "",
            "1\u{c2}@\u{91}",
        ] {
            assert_eq!(re.is_match(s), Email::parse(s).is_ok(), "{s:?}");
        }
    }

    #[test]
    fn password_policy() {
        assert!(check_password_policy("short").is_err());
        assert!(check_password_policy("long enough pass").is_ok());
        assert!(check_password_policy(&"x".repeat(300)).is_err());
    }

    #[test]
    fn credential_names() {
        assert!(check_credential_name("telegram.bot_token").is_ok());
        assert!(check_credential_name("Bad Name").is_err());
        assert!(check_credential_name("").is_err());
    }
}
