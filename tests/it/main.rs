//! Integration tests: the real server on an ephemeral loopback port with a temp data dir, the
//! real binary for CLI and lifecycle tests, and in-process fakes for external services only.

mod api_auth;
mod api_basics;
mod api_reset;
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
mod poison;
mod serve;
mod sync;
mod telegram;
mod widget;
