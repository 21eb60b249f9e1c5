//! Messengers: the only code that talks to them. Adapters hand each buyer message to an
//! [`Inbox`] (the engine implements it: stored before the messenger is answered); outbound ones
//! leave through the outbox as typed [`Outbound`] messages, delivered by [`dispatch`] with each
//! channel's rate limits, in order per recipient. What each channel can show is in
//! [`registry`]. Adapters import the layers below them (store, net, crypto, clock, the HTTP
//! error shape), never `app` or the engine.

pub mod dispatch;
pub mod message;
pub mod name;
pub mod registry;
pub mod telegram;
pub mod vk;
pub mod whatsapp;
pub mod widget;

use std::time::Duration;

pub use message::{Attachment, Inbound, OrderNotice, OutFile, Outbound};
pub use name::ChannelName;

use crate::BoxFuture;
use crate::store::messaging::Accepted;

/// Where adapters hand in buyers' messages (the engine). `accept` returns once the message is
/// stored durably; only then may the adapter acknowledge it to the messenger.
pub trait Inbox: Send + Sync {
    fn accept<'a>(&'a self, m: &'a Inbound) -> BoxFuture<'a, Result<Accepted, InboxError>>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboxError {
    /// The message cannot be taken (empty, unreadable): answer the sender so.
    #[error("{0}")]
    Rejected(String),
    /// It could not be stored now: the messenger should deliver it again.
    #[error("{0}")]
    Unavailable(String),
}

/// A message the channel accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The channel's id of the (last) message sent.
    pub external_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SendError {
    /// Try again later (after `after` when the channel said so).
    #[error("{reason}")]
    Retry { after: Option<Duration>, reason: String },
    /// Will never work (blocked by the user, chat gone, malformed): give up, marked failed.
    #[error("{0}")]
    Permanent(String),
    /// Cannot go until the buyer writes again (outside a reply window): kept queued, parked.
    #[error("{0}")]
    Park(String),
}

/// How fast a channel may send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Messages per second overall.
    pub per_second: f64,
    /// Least time between two messages to the same recipient.
    pub per_recipient: Duration,
}

pub trait Channel: Send + Sync {
    /// The name used in the inbox, outbox and conversations.
    fn name(&self) -> ChannelName;

    /// The send rate: the registry's, unless the adapter is configured otherwise.
    fn limits(&self) -> Limits {
        let c = registry::of(self.name());
        Limits { per_second: c.per_second, per_recipient: c.per_recipient() }
    }

    /// Sends one outbox message to `recipient`.
    fn send<'a>(&'a self, recipient: &'a str, message: &'a Outbound) -> BoxFuture<'a, Result<Delivered, SendError>>;

    /// Shows that a reply is being written (best effort).
    fn typing<'a>(&'a self, _recipient: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

/// Splits `text` into pieces of at most `max` characters, at paragraph, line or word ends
/// when possible.
pub fn split_text(text: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while rest.chars().count() > max {
        let byte_max = rest.char_indices().nth(max).map_or(rest.len(), |(i, _)| i);
        let head = &rest[..byte_max];
        let cut = ["\n\n", "\n", ". ", " "]
            .iter()
            .find_map(|sep| head.rfind(sep).filter(|&i| i > max / 2).map(|i| i + sep.len()))
            .unwrap_or(byte_max);
        out.push(rest[..cut].trim_end().to_owned());
        rest = rest[cut..].trim_start();
    }
    if !rest.is_empty() || out.is_empty() {
        out.push(rest.to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::split_text;

    #[test]
    fn long_texts_split_at_natural_ends() {
        assert_eq!(split_text("коротко", 4096), vec!["коротко"]);
        let para = "слово ".repeat(900);
        let text = format!("{}\n\n{}", para.trim(), para.trim());
        let parts = split_text(&text, 4096);
        assert!(parts.len() >= 2);
        assert!(parts.iter().all(|p| p.chars().count() <= 4096));
        assert_eq!(parts.concat().replace(['\n', ' '], ""), text.replace(['\n', ' '], ""));
        let dense = "я".repeat(9000);
        let parts = split_text(&dense, 4096);
        assert_eq!(parts.iter().map(|p| p.chars().count()).collect::<Vec<_>>(), vec![4096, 4096, 808]);
    }
}
