//! JSON API under `/api/v1`.

pub mod assistant;
pub mod audit;
pub mod auth;
pub mod channels;
pub mod conversations;
pub mod credentials;
pub mod kb;
pub mod licence;
pub mod llm;
pub mod marketplaces;
pub mod nlu;
pub mod privacy;
pub mod profile;
pub mod setup;
pub mod stats;
pub mod tokens;
pub mod users;

use axum::Router;
use axum::routing::{get, post, put};

use crate::http::AppState;

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
        .route("/assignees", get(users::assignees))
        .route("/tokens", get(tokens::list).post(tokens::create))
        .route("/tokens/{id}", axum::routing::delete(tokens::revoke))
        .route("/audit", get(audit::list))
        .route("/settings/assistant", get(assistant::get).put(assistant::put))
        .route("/settings/credentials", get(credentials::list))
        .route("/settings/credentials/{name}", put(credentials::put).delete(credentials::delete))
        .route("/kb/articles", get(kb::list_articles).post(kb::create_article))
        .route("/kb/articles/{id}", get(kb::get_article).put(kb::update_article).delete(kb::delete_article))
        .route("/kb/articles/{id}/versions", get(kb::versions))
        .route("/kb/articles/{id}/versions/{version}/restore", post(kb::restore_version))
        .route("/kb/categories", get(kb::categories))
        .route("/kb/products", get(kb::list_products).post(kb::upsert_product))
        .route("/kb/products/{id}", get(kb::get_product).delete(kb::delete_product))
        .route("/kb/search", get(kb::search).post(kb::search_post))
        .route("/kb/retrieve", post(kb::retrieve))
        .route("/kb/import", post(kb::import_kb))
        .route("/kb/export", get(kb::export))
        .route("/llm/status", get(llm::status))
        .route("/llm/usage", get(llm::usage))
        .route("/llm/ask", post(llm::ask))
        .route("/nlu/analyze", post(nlu::analyze))
        .route("/conversations", get(conversations::list))
        .route("/conversations/{id}", get(conversations::get))
        .route("/conversations/{id}/takeover", post(conversations::take_over))
        .route("/conversations/{id}/release", post(conversations::release))
        .route("/conversations/{id}/messages", post(conversations::reply))
        .route("/conversations/{id}/notes", post(conversations::note))
        .route("/conversations/{id}/assign", post(conversations::assign))
        .route("/conversations/{id}/draft", post(conversations::draft))
        .route("/files/{*path}", get(conversations::file))
        .route("/snippets", get(conversations::snippets).post(conversations::create_snippet))
        .route("/snippets/{id}", axum::routing::delete(conversations::delete_snippet))
        .route("/customers/{id}", get(conversations::customer).delete(privacy::erase))
        .route("/customers", get(privacy::find))
        .route("/customers/{id}/export", get(privacy::export))
        .route("/settings/privacy", get(privacy::settings))
        .route("/settings/backups", get(privacy::backups).post(privacy::backup_now))
        .route("/dashboard", get(conversations::dashboard))
        .route("/events", get(conversations::events))
        .route("/events/stream", get(conversations::stream))
        .route("/inbound", post(conversations::inbound))
        .route("/inbound/replies", get(conversations::inbound_replies))
        .route("/marketplaces", get(marketplaces::list))
        .route("/marketplaces/{market}/test", post(marketplaces::test))
        .route("/marketplaces/{market}/sync", post(marketplaces::sync_now))
        .route("/settings/marketplaces", get(marketplaces::settings))
        .route("/channels", get(channels::list))
        .route("/channels/telegram", get(channels::telegram_status).put(channels::telegram_update))
        .route("/channels/whatsapp", get(channels::whatsapp_status).put(channels::whatsapp_update))
        .route("/channels/whatsapp/templates", post(channels::whatsapp_sync))
        .route("/channels/vk", get(channels::vk_status).put(channels::vk_update))
        .route("/licence", get(licence::get).put(licence::put))
        .route("/usage/statement", get(licence::usage_statement))
        .route("/usage/statement.csv", get(licence::usage_statement_csv))
        .route("/stats/summary", get(stats::summary))
        .route("/stats/report", get(stats::report))
        .route("/stats/trend", get(stats::trend))
        .route("/stats/handoffs", get(stats::handoffs))
        .route("/stats/intents", get(stats::intents))
        .route("/stats/gaps", get(stats::gaps))
        .route("/stats/articles", get(stats::articles))
        .route("/stats/operators", get(stats::operators))
        .route("/stats/channels", get(stats::channels))
        .route("/stats/funnel", get(stats::funnel))
        .route("/stats/heatmap", get(stats::heatmap))
        .route("/stats/csat", get(stats::csat))
        .route("/stats/export.csv", get(stats::export_csv))
        .route("/stats/report.pdf", get(stats::report_pdf))
        .route("/settings/reports", get(stats::get_report_settings).put(stats::put_report_settings))
        .route("/settings/reports/send", post(stats::send_report_now))
        .route("/setup", get(setup::checklist))
        .route("/setup/models", get(setup::models))
        .route("/setup/models/{id}/install", post(setup::install))
        .route("/setup/models/{id}/verify", post(setup::verify))
        .route("/settings/models", get(setup::get_model_settings).put(setup::put_model_settings))
        .route("/settings/widget", get(setup::get_widget).put(setup::put_widget))
        .route("/settings/widget/check", post(setup::check_site))
        .route("/profile/alerts", get(profile::get).put(profile::put))
        .route("/profile/alerts/test", post(profile::test))
}
