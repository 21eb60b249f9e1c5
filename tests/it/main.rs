//! Integration tests: the real server on an ephemeral loopback port with a temp data dir, the
//! real binary for CLI and lifecycle tests, and in-process fakes for external services only.

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
mod sync;
mod telegram;
mod tidy;
mod tls;
mod vk;
mod whatsapp;
mod widget;
