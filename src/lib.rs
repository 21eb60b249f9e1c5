//! supportd: a self-hosted, single-binary AI customer-support appliance for marketplace sellers.
//! See ARCHITECTURE.md for the map of modules and their invariants.

pub mod accounts;
pub mod alerts;
pub mod analytics;
pub mod app;
pub mod assets;
pub mod backup;
pub mod channels;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod engine;
pub mod files;
pub mod http;
pub mod jobs;
pub mod kb;
pub mod licence;
pub mod llm;
pub mod mail;
pub mod marketplace;
pub mod net;
pub mod nlu;
pub mod paths;
pub mod privacy;
pub mod setup;
#[expect(clippy::disallowed_methods, reason = "the store is where SQL lives (clippy.toml refuses it elsewhere)")]
pub mod store;
pub mod telemetry;
pub mod texts;
pub mod tls;

/// `auth` lives under `http/` (it is part of the request path); this keeps old paths working.
pub use http::auth;

/// A boxed, sendable future: what the service traits (`llm::Provider`, `marketplace::MarketplaceApi`) return.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
