//! Per-part access of a marketplace key, as the settings page, `supportd doctor` and the
//! connection test report it: what the key says of itself (a WB token's categories and kind,
//! read now) laid over what the marketplace answered last (connection test, sync, polling).

use serde::Serialize;

use super::{Access, KeyInfo, Market, Part, PartAccess};
use crate::store::marketplace::{PartSync, StoredAccess};

/// One part as shown to people.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PartView {
    pub part: Part,
    pub access: Access,
    /// "заказы FBS", "статистика (заказы FBO и продажи)", …
    pub title: String,
    /// "✓", "✗ — нет доступа", "частично", …
    pub access_title: String,
    /// Why not (English, from the token or the marketplace's answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who said so last: "token", "test", "sync", "poll".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<String>,
    /// How its last sync went ("done", "skipped", "deferred", "failed"), when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sync: Option<String>,
}

/// The parts of a key: the token's own word where it denies (it is the truth), else the
/// marketplace's last answer, else the token's word (or unknown).
pub fn merge(market: Market, decoded: &KeyInfo, stored: &[StoredAccess], syncs: &[PartSync]) -> Vec<PartView> {
    Part::ALL
        .into_iter()
        .map(|part| {
            let token = decoded.parts.iter().find(|p| p.part == part).cloned().unwrap_or(PartAccess::new(
                part,
                Access::Unknown,
                None,
            ));
            let seen = stored.iter().find(|s| s.part == part && s.source != "token");
            let (access, reason, source, checked) = match (token.access, seen) {
                (Access::Denied | Access::NotApplicable, _) | (_, None) => (
                    token.access,
                    token.reason.clone(),
                    (token.access != Access::Unknown).then(|| "token".to_owned()),
                    None,
                ),
                (Access::Partial, Some(s)) if s.access == Access::Allowed => {
                    (Access::Partial, token.reason.clone(), Some("token".to_owned()), Some(s.checked_at))
                }
                (_, Some(s)) => (s.access, s.reason.clone(), Some(s.source.clone()), Some(s.checked_at)),
            };
            PartView {
                part,
                access,
                title: crate::texts::marketplace::part_title(part, market == Market::Wb).to_owned(),
                access_title: crate::texts::marketplace::access_title(access).to_owned(),
                reason,
                source,
                checked_at: checked.map(crate::clock::rfc3339),
                last_sync: syncs.iter().find(|s| s.part == part).map(|s| s.status.clone()),
            }
        })
        .collect()
}

/// "заказы FBS ✓, статистика ✗ — нет доступа, …"
pub fn summary(market: Market, parts: &[PartView]) -> String {
    let list: Vec<(Part, Access)> = parts.iter().map(|p| (p.part, p.access)).collect();
    crate::texts::marketplace::summary(&list, market == Market::Wb)
}
