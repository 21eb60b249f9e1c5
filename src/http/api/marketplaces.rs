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
use crate::marketplace::sync::Kind;
use crate::marketplace::{Market, MarketError, Window};
use crate::store::orders as rows;
use crate::texts::connection as t;

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
    /// "valid", "wrong_token", "missing_scope", "rate_limited", "unreachable", "not_connected",
    /// "api_changed" or "plan_limit" (keys set, but the plan does not include this marketplace).
    pub result: String,
    /// For people (Russian).
    pub message: String,
}

fn market_of(name: &str) -> Result<Market, ApiError> {
    Market::parse(name).ok_or_else(|| ApiError::not_found("marketplace"))
}

/// Asks the marketplace for one page of orders with the stored key and says what came back.
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
        return Ok(Json(ConnectionTest { ok: false, result: "plan_limit".into(), message: refusal.0 }));
    }
    let Some(api) = state.orders.connected_apis().await.into_iter().find(|a| a.market() == market) else {
        return Ok(Json(ConnectionTest {
            ok: false,
            result: "not_connected".into(),
            message: t::NOT_CONNECTED.into(),
        }));
    };
    let now = state.now();
    let window = Window { from: now - 86_400_000, to: now, changed_only: false };
    let r = tokio::time::timeout(std::time::Duration::from_secs(20), api.orders_page(window, None)).await;
    let (ok, result, message) = match r {
        Ok(Ok(_)) => (true, "valid", t::VALID.to_owned()),
        Ok(Err(MarketError::Unauthorized)) => (false, "wrong_token", t::WRONG_TOKEN.into()),
        Ok(Err(MarketError::Forbidden(m))) => (false, "missing_scope", t::missing_scope(&m)),
        Ok(Err(MarketError::RateLimited { .. })) => (false, "rate_limited", t::RATE_LIMITED.into()),
        Ok(Err(MarketError::Shape(m))) => (false, "api_changed", t::api_changed(&m)),
        Ok(Err(e)) => (false, "unreachable", t::unreachable(&e)),
        Err(_) => (false, "unreachable", t::TIMED_OUT.into()),
    };
    Ok(Json(ConnectionTest { ok, result: result.into(), message }))
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
    let span = tracing::info_span!("sync", market = market.as_str(), kind = kind.as_str(), trigger = "manual");
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
