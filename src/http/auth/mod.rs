//! Who is calling: the session/bearer-token extractor, role checks, CSRF, throttling.
//!
//! Every API handler takes an [`Auth<R>`] whose `R` names the least role the route needs;
//! the check happens on the server before the handler runs. Browser sessions (cookie) must
//! also present the session's CSRF token in `X-CSRF-Token` on every state-changing request;
//! bearer tokens are not sent by browsers on their own, so they need none.

pub mod throttle;

use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};

use crate::crypto::constant_time_eq;
use crate::domain::Role;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::store::audit::Actor;
use crate::store::{sessions, users::User};

pub const SESSION_COOKIE: &str = "supportd_session";
pub const CSRF_COOKIE: &str = "supportd_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Cookie,
    Bearer,
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: User,
    pub session_id: i64,
    pub session_kind: sessions::Kind,
    pub via: Via,
    pub ip: String,
}

impl CurrentUser {
    pub fn actor(&self) -> Actor {
        Actor { user_id: Some(self.user.id), label: self.user.email.clone(), ip: Some(self.ip.clone()) }
    }
}

pub trait MinRole: Send + Sync + 'static {
    const ROLE: Role;
}

/// Marker: any signed-in user.
pub struct Viewer;
/// Marker: operators and admins.
pub struct Operator;
/// Marker: admins only.
pub struct Admin;

impl MinRole for Viewer {
    const ROLE: Role = Role::Viewer;
}
impl MinRole for Operator {
    const ROLE: Role = Role::Operator;
}
impl MinRole for Admin {
    const ROLE: Role = Role::Admin;
}

/// Extractor: the caller, who holds at least role `R`. Rejects with 401/403.
pub struct Auth<R: MinRole>(pub CurrentUser, PhantomData<R>);

impl<R: MinRole> std::ops::Deref for Auth<R> {
    type Target = CurrentUser;
    fn deref(&self) -> &CurrentUser {
        &self.0
    }
}

/// The client's address: the TCP peer, or the proxy's header when configured to trust it.
pub fn client_ip(parts: &Parts, trust_proxy: bool) -> String {
    if trust_proxy {
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .or_else(|| parts.headers.get("x-real-ip").and_then(|v| v.to_str().ok()))
            .and_then(|v| v.trim().parse::<IpAddr>().ok());
        if let Some(ip) = forwarded {
            return ip.to_string();
        }
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |ConnectInfo(addr)| addr.ip().to_string())
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (token, via) = match bearer(&parts.headers) {
            Some(t) => (t.to_owned(), Via::Bearer),
            None => match cookie(&parts.headers, SESSION_COOKIE) {
                Some(t) => (t.to_owned(), Via::Cookie),
                None => return Err(ApiError::unauthenticated()),
            },
        };
        let now = state.now();
        let session = state.db.call(move |c| sessions::lookup(c, &token, now)).await?.ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the session or token is invalid, expired or revoked; sign in again",
            )
        })?;
        if via == Via::Cookie && !is_safe(&parts.method) {
            let presented = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
            if !constant_time_eq(presented.as_bytes(), session.csrf_token.as_bytes()) {
                return Err(ApiError::new(
                    axum::http::StatusCode::FORBIDDEN,
                    "csrf_failed",
                    "missing or wrong X-CSRF-Token header for a cookie-authenticated request",
                ));
            }
        }
        // Record use at most once a minute per session: no write on every request.
        if session.last_used_at.is_none_or(|t| now - t > 60_000) {
            let id = session.id;
            state.db.call(move |c| sessions::touch(c, id, now)).await?;
        }
        Ok(CurrentUser {
            ip: client_ip(parts, state.config.server.trust_proxy_headers),
            user: session.user,
            session_id: session.id,
            session_kind: session.kind,
            via,
        })
    }
}

impl<R: MinRole> FromRequestParts<AppState> for Auth<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        if !user.user.role.allows(R::ROLE) {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "forbidden",
                format!("this action needs the {} role; you are {}", R::ROLE, user.user.role),
            ));
        }
        Ok(Auth(user, PhantomData))
    }
}

/// The client IP as an extractor (for unauthenticated routes such as login).
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts, state.config.server.trust_proxy_headers)))
    }
}
