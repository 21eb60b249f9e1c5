//! JSON API under `/api/v1`.

pub mod audit;
pub mod auth;
pub mod credentials;
pub mod tokens;
pub mod users;

use axum::Router;
use axum::routing::{get, post, put};

use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/me", get(auth::me))
        .route("/auth/password", post(auth::change_password))
        .route("/auth/password-reset", post(auth::request_reset))
        .route("/auth/password-reset/confirm", post(auth::confirm_reset))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{id}", get(users::get).patch(users::update))
        .route("/users/{id}/reset-link", post(users::reset_link))
        .route("/tokens", get(tokens::list).post(tokens::create))
        .route("/tokens/{id}", axum::routing::delete(tokens::revoke))
        .route("/audit", get(audit::list))
        .route("/settings/credentials", get(credentials::list))
        .route("/settings/credentials/{name}", put(credentials::put).delete(credentials::delete))
}
