//! In-process fakes of external services the tests cannot reach.

pub mod llm;
pub mod marketplace;
pub mod smtp;
pub mod telegram;
