//! supportd: a self-hosted, single-binary AI customer-support appliance for marketplace sellers.
//! See ARCHITECTURE.md for the map of modules and their invariants.

pub mod accounts;
pub mod app;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod http;
pub mod kb;
pub mod llm;
pub mod mail;
pub mod net;
pub mod nlu;
pub mod store;
pub mod telemetry;
pub mod texts;
