//! Integration tests: the real server on an ephemeral loopback port with a temp data dir, the
//! real binary for CLI and lifecycle tests, and in-process fakes for external services only.

// Tests look at the database the real server wrote (SQL outside `store/`), and stamp the live
// servers' fixtures with the real time.
#![expect(
    clippy::disallowed_methods,
    clippy::await_holding_invalid_type,
    reason = "tests read the stored rows directly (also between awaits) and use the real time"
)]

mod analytics;
mod api_auth;
mod api_basics;
mod api_reset;
mod backup;
mod cli;
mod engine;
mod fakes;
mod harness;
mod install;
mod kb;
mod licence;
mod lifecycle;
mod limits;
mod llm;
mod market_fixes;
mod marketplace_specs;
mod panel;
mod poison;
mod privacy;
mod serve;
mod stream;
mod sync;
mod telegram;
mod tidy;
mod tls;
mod vk;
mod whatsapp;
mod widget;
