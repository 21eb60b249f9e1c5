//! Marketplace connections in the settings page: status, a live "test connection", and
//! "sync now".

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::AppState;
use crate::http::auth::{Admin, Auth};
use crate::http::error::{ApiError, ErrorBody};
use crate::marketplace::access::{self, PartView};
use crate::marketplace::sync::Kind;
use crate::marketplace::{Access, KeyInfo, Market, MarketError};
use crate::store::{marketplace as store, orders as rows};
use crate::texts::connection as t;
use crate::texts::marketplace as texts;

#[derive(Serialize, ToSchema)]
pub struct MarketplaceStatus {
    pub market: Market,
    pub connected: bool,
    pub orders_cached: i64,
    #[schema(value_type = Object)]
    pub full_sync: rows::SyncState,
    #[schema(value_type = Object)]
    pub incremental_sync: rows::SyncState,
}

/// Each marketplace: connected or not, orders cached, the last syncs (with their errors).
#[utoipa::path(get, path = "/api/v1/marketplaces", tag = "marketplaces",
    responses((status = 200, body = Vec<MarketplaceStatus>), (status = 403, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, _auth: Auth<Admin>) -> Result<Json<Vec<MarketplaceStatus>>, ApiError> {
    let connected = state.orders.connected().await;
    let out = state
        .db
        .call(move |c| {
            [Market::Wb, Market::Ozon]
                .into_iter()
                .map(|m| {
                    Ok(MarketplaceStatus {
                        market: m,
                        connected: connected.contains(&m),
                        orders_cached: rows::count(c, Some(m))?,
                        full_sync: rows::sync_state(c, m, "full")?,
                        incremental_sync: rows::sync_state(c, m, "incremental")?,
                    })
                })
                .collect::<crate::store::Result<Vec<_>>>()
        })
        .await?;
    Ok(Json(out))
}

#[derive(Serialize, ToSchema)]
pub struct ConnectionTest {
    pub ok: bool,
    /// "valid", "wrong_token", "missing_scope" (the key reaches no part at all), "rate_limited",
    /// "unreachable", "not_connected", "api_changed" or "plan_limit" (keys set, but the plan does
    /// not include this marketplace).
    pub result: String,
    /// For people (Russian): the result, the key's kind and each part's access.
    pub message: String,
    /// WB: "personal", "service", "basic" or "test".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// What the key reaches, part by part.
    pub parts: Vec<PartView>,
}

fn market_of(name: &str) -> Result<Market, ApiError> {
    Market::parse(name).ok_or_else(|| ApiError::not_found("marketplace"))
}

fn failed(result: &str, message: String) -> Json<ConnectionTest> {
    Json(ConnectionTest { ok: false, result: result.into(), message, kind: None, parts: Vec::new() })
}

/// Checks the stored key live: for WB the token's own categories and kind (it is a JWT) and
/// one request that proves it valid; for Ozon one small request per part. What each part
/// reaches is recorded and reported.
#[utoipa::path(post, path = "/api/v1/marketplaces/{market}/test", tag = "marketplaces", params(("market" = String, Path, description = "`wb` or `ozon`", pattern = "^(wb|ozon)$")),
    responses((status = 200, body = ConnectionTest), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn test(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(market): Path<String>,
) -> Result<Json<ConnectionTest>, ApiError> {
    let market = market_of(&market)?;
    if state.licensing.connected_markets().await.contains(&market)
        && let Some(refusal) = state.licensing.sync_refusal(market).await
    {
        return Ok(failed("plan_limit", refusal.0));
    }
    let Some(api) = state.orders.connected_apis().await.into_iter().find(|a| a.market() == market) else {
        return Ok(failed("not_connected", t::NOT_CONNECTED.into()));
    };
    let r = tokio::time::timeout(std::time::Duration::from_secs(30), api.check()).await;
    let info = match r {
        Ok(Ok(info)) => info,
        Ok(Err(MarketError::Unauthorized)) => return Ok(failed("wrong_token", t::WRONG_TOKEN.into())),
        Ok(Err(MarketError::Forbidden(m))) => return Ok(failed("missing_scope", t::missing_scope(&m))),
        Ok(Err(MarketError::RateLimited { .. })) => return Ok(failed("rate_limited", t::RATE_LIMITED.into())),
        Ok(Err(MarketError::Shape(m))) => return Ok(failed("api_changed", t::api_changed(&m))),
        Ok(Err(e)) => return Ok(failed("unreachable", t::unreachable(&e))),
        Err(_) => return Ok(failed("unreachable", t::TIMED_OUT.into())),
    };
    let now = state.now();
    let stored = {
        let info = info.clone();
        state
            .db
            .call(move |c| {
                store::set_key(c, market, &info, "test", now)?;
                Ok((store::access(c, market)?, store::part_syncs(c, market)?))
            })
            .await?
    };
    let parts = access::merge(market, &info, &stored.0, &stored.1);
    let reachable = parts.iter().any(|p| matches!(p.access, Access::Allowed | Access::Partial));
    let kind = info.kind.as_deref().map(texts::token_kind);
    let head = if reachable { t::WORKS } else { t::NO_PART };
    let message =
        format!("{head}{}: {}.", kind.map(|k| format!(" ({k})")).unwrap_or_default(), access::summary(market, &parts));
    Ok(Json(ConnectionTest {
        ok: reachable,
        result: if reachable { "valid" } else { "missing_scope" }.into(),
        message,
        kind: info.kind,
        parts,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct MarketplaceSettings {
    pub market: Market,
    pub connected: bool,
    /// WB: "personal", "service", "basic" or "test" (read from the token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_kind: Option<String>,
    /// The key's kind in Russian, with what it implies for limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_kind_title: Option<String>,
    /// When the token expires (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    pub read_only: bool,
    /// Each part: orders, statistics, content, questions, chats, returns, stocks.
    pub parts: Vec<PartView>,
    /// "заказы FBS ✓, статистика ✗ — нет доступа, …"
    pub summary: String,
}

/// What each marketplace key reaches, part by part (`orders`, `statistics`, `content`,
/// `questions`, `chats`, `returns`, `stocks`): the token's own word (WB tokens carry their
/// categories) and the marketplace's last answers (connection test, sync, polling).
#[utoipa::path(get, path = "/api/v1/settings/marketplaces", tag = "marketplaces",
    responses((status = 200, body = Vec<MarketplaceSettings>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn settings(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
) -> Result<Json<Vec<MarketplaceSettings>>, ApiError> {
    let mut out = Vec::new();
    for api in state.orders.apis() {
        let market = api.market();
        let connected = api.has_key().await;
        let info = if connected { api.key_info().await } else { KeyInfo::default() };
        let (stored, syncs) =
            state.db.call(move |c| Ok((store::access(c, market)?, store::part_syncs(c, market)?))).await?;
        let parts = if connected { access::merge(market, &info, &stored, &syncs) } else { Vec::new() };
        out.push(MarketplaceSettings {
            market,
            connected,
            key_kind_title: info.kind.as_deref().map(|k| texts::token_kind(k).to_owned()),
            key_kind: info.kind,
            expires_at: info.expires_at.map(crate::clock::rfc3339),
            read_only: info.read_only,
            summary: if connected { access::summary(market, &parts) } else { t::NOT_CONNECTED_SHORT.into() },
            parts,
        });
    }
    Ok(Json(out))
}

/// Starts a sync now (incremental; `?full=true` for a full one); its progress shows in the
/// marketplace list.
#[utoipa::path(post, path = "/api/v1/marketplaces/{market}/sync", tag = "marketplaces", params(("market" = String, Path, description = "`wb` or `ozon`", pattern = "^(wb|ozon)$")),
    responses((status = 202), (status = 402, description = "The plan does not sync this marketplace (plan_limit)", body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn sync_now(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(market): Path<String>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<StatusCode, ApiError> {
    let market = market_of(&market)?;
    if state.licensing.connected_markets().await.contains(&market)
        && let Some(refusal) = state.licensing.sync_refusal(market).await
    {
        return Err(refusal.into());
    }
    let Some(api) = state.orders.connected_apis().await.into_iter().find(|a| a.market() == market) else {
        return Err(ApiError::new(StatusCode::CONFLICT, "conflict", "this marketplace is not connected"));
    };
    let kind = if q.get("full").is_some_and(|v| v == "true") { Kind::Full } else { Kind::Incremental };
    let syncer = state.syncer.clone();
    let span = crate::marketplace::sync::span(market, kind, "manual");
    tokio::spawn(tracing::Instrument::instrument(
        async move {
            if let Err(e) = syncer.run(api.as_ref(), kind).await {
                tracing::warn!(market = market.as_str(), error = %e, "manual sync failed");
            }
        },
        span,
    ));
    Ok(StatusCode::ACCEPTED)
}
