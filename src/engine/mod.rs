//! The conversation engine: one buyer message in, one decision out, whatever the channel.
//!
//! ```text
//! accept: inbox row (durable, idempotent by the channel's message id)   ← channel acks after this
//! process (in arrival order):
//!   1. customer + conversation + buyer message (one transaction; a replay finds the same row)
//!   2. conversation with a person?        → stay silent (the operator answers)
//!   3. nlu::analyze                        → intents, entities, sentiment
//!   4. policy::decide                      → answer | clarify | hand off | rate
//!   5. facts: marketplace::Orders (cache → live → cache "as of"), kb::retrieve
//!   6. reply: order template | model answer from the facts (guarded) | knowledge quote
//!   7. bot message with provenance + outbox + state + events + inbox done (one transaction)
//! ```
//! A crash before step 7 commits leaves the inbox row pending: it is processed again and,
//! because steps 1 and 7 are idempotent per inbox row, nothing is lost or sent twice.

pub mod answer;
mod commit;
pub mod dialog;
pub mod eval;
pub mod guard;
pub mod hours;
mod knowledge;
pub mod notify;
mod operator;
pub mod policy;
pub mod provenance;
pub mod stream;
mod trace;
mod turn;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::channels::ChannelName;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::kb::Kb;
use crate::llm::chain::Llm;
use crate::marketplace::{Order, Orders};
use crate::nlu::Intent;
use crate::store::messaging as msgs;
use crate::store::{Db, StoreError};
use policy::HandoffReason;
use provenance::{ModelRecord, OrderRef, Provenance};

/// What the engine did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Answer,
    Clarify,
    Handoff,
    /// Asked for a rating after the buyer said thanks.
    Close,
    Rated,
    /// A person handles the conversation: no bot reply.
    Silent,
    /// An order status notice the bot sent unasked (never a turn's decision).
    Notify,
}

impl Action {
    pub const ALL: [Action; 7] = [
        Action::Answer,
        Action::Clarify,
        Action::Handoff,
        Action::Close,
        Action::Rated,
        Action::Silent,
        Action::Notify,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Answer => "answer",
            Action::Clarify => "clarify",
            Action::Handoff => "handoff",
            Action::Close => "close",
            Action::Rated => "rated",
            Action::Silent => "silent",
            Action::Notify => "notify",
        }
    }
}

pub use crate::channels::{Attachment, Inbound};

/// The engine's decision about one message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Turn {
    pub conversation_id: i64,
    pub action: Action,
    pub reply: Option<String>,
    /// Intent, confidence, sources, orders, provider, tokens, latency: why the bot said it.
    pub provenance: Provenance,
    /// Facts the reply could rely on (order data, knowledge passages), for checks.
    #[serde(skip)]
    pub facts: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the inbound item is unreadable: {0}")]
    BadPayload(String),
    #[error("{0}")]
    Internal(String),
}

/// Engine settings resolved from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub shop_name: String,
    /// The assistant talks formally ("formal" tone) rather than in a friendly way.
    pub formal: bool,
    pub utc_offset_minutes: i32,
    pub hours: hours::Hours,
    pub min_confidence: f32,
    pub human_only: Vec<Intent>,
    pub max_misses: u32,
    pub history_messages: u32,
    pub ask_rating: bool,
    /// Let the model chain write knowledge answers (else quote the knowledge base).
    pub use_model: bool,
    pub context_tokens: usize,
    pub max_answer_tokens: usize,
    pub model_timeout: Duration,
    /// Channels whose bot replies wait for a person's approval (marketplace questions in
    /// "draft" mode): stored as drafts, not sent.
    pub draft_channels: Vec<ChannelName>,
    /// An order number alone does not show an order: the buyer must also name what is in it.
    pub verify_by_item: bool,
}

impl Default for Settings {
    /// The configuration's defaults.
    fn default() -> Self {
        Self::from_config(&Config::default())
    }
}

impl Settings {
    pub fn from_config(c: &Config) -> Self {
        Self {
            shop_name: c.shop.name.clone(),
            formal: c.engine.tone == crate::config::Tone::Formal,
            utc_offset_minutes: c.shop.utc_offset_minutes,
            hours: hours::Hours::new(&c.shop),
            min_confidence: c.engine.min_confidence,
            human_only: c.engine.human_only_intents.clone(),
            max_misses: c.engine.max_misses.max(1),
            history_messages: c.engine.history_messages.clamp(1, 200) as u32,
            ask_rating: c.engine.ask_rating,
            verify_by_item: c.engine.verify_orders == crate::config::VerifyOrders::Item,
            use_model: c.engine.answers == crate::config::AnswerMode::Auto,
            context_tokens: c.llm.context_tokens,
            max_answer_tokens: c.llm.max_answer_tokens,
            model_timeout: Duration::from_secs(c.llm.timeout_secs),
            draft_channels: [
                (c.marketplaces.wb.questions, ChannelName::WbQuestions),
                (c.marketplaces.ozon.chats, ChannelName::OzonChat),
            ]
            .into_iter()
            .filter(|(mode, _)| *mode == crate::config::QaMode::Draft)
            .map(|(_, ch)| ch)
            .collect(),
        }
    }
}

pub struct Engine {
    db: Db,
    clock: SharedClock,
    kb: Arc<Kb>,
    llm: Arc<Llm>,
    orders: Arc<Orders>,
    settings: std::sync::RwLock<Arc<Settings>>,
    wake: tokio::sync::Notify,
    /// Wakes the outbox dispatchers when a reply is queued.
    outbox_wake: Arc<tokio::sync::Notify>,
    /// Shows "typing…" in the buyer's channel while the reply is prepared.
    typing: Option<Typing>,
    /// True while automation is paused (the licence's grace period is over).
    pause: Option<Pause>,
    /// Answers shown while they are written ([`stream`]).
    streams: stream::Streams,
    streamer: Option<stream::Streamer>,
    /// The message classifier in use (with the sentence part once it is trained).
    nlu: Arc<crate::nlu::sentence::Live>,
}

/// Asked for every message: true means no bot reply, the conversation waits for a person.
pub type Pause = Arc<dyn Fn() -> bool + Send + Sync>;

/// (channel, recipient) → show that a reply is being written.
pub type Typing = Arc<dyn Fn(ChannelName, &str) + Send + Sync>;

/// `handoff_reason` of a conversation the seller answered from their own account.
pub const SELLER_REPLIED: &str = "seller";

/// Channels whose answers are published on the marketplace (questions, reviews, chats).
pub const MARKETPLACE_CHANNELS: [ChannelName; 2] = [ChannelName::WbQuestions, ChannelName::OzonChat];

/// The longest buyer message that is stored, in characters; a longer one is cut at the channel
/// edge ([`Engine::accept`]). Only its first [`crate::nlu::MAX_TEXT_CHARS`] are analysed and
/// searched, so neither memory nor time grows with what a buyer sends.
pub const MAX_MESSAGE_CHARS: usize = 100_000;

/// Buyers whose messages are processed at the same time.
const PARALLEL: usize = 4;
/// Starts of processing an inbox item may take (an error, a panic, or a crash or hang of the
/// whole process each end one); at the next start it is parked as `failed` and handed to a
/// person instead, so one poisonous message cannot stop the shop.
pub const MAX_ATTEMPTS: i64 = 3;
/// The most sentences a model-written knowledge answer keeps.
const MODEL_SENTENCES: usize = 3;

/// What step 6 produced, before it is stored.
#[derive(Default)]
struct Draft {
    action: Option<Action>,
    parts: Vec<String>,
    facts: Vec<String>,
    sources: Vec<provenance::Source>,
    source_docs: Vec<String>,
    orders: Vec<OrderRef>,
    link: Vec<Order>,
    handoff: Option<HandoffReason>,
    rating: Option<u8>,
    model: Option<ModelRecord>,
    guard: Vec<guard::Violation>,
    buttons: Vec<Vec<String>>,
    opt_out: bool,
    /// A draft for a person to approve: stored, not sent.
    hold: bool,
    /// Offer the channel's "share my phone number" button.
    request_phone: bool,
    /// A note for the operators beside the reply (why a marketplace answer was held).
    note: Option<String>,
    /// The settings this turn reads, taken once at its start: a change from the panel while
    /// the turn runs applies to the next one, never to half of this one.
    settings: Arc<Settings>,
}

impl Engine {
    pub fn new(
        db: Db,
        clock: SharedClock,
        kb: Arc<Kb>,
        llm: Arc<Llm>,
        orders: Arc<Orders>,
        settings: Settings,
    ) -> Self {
        Self {
            db,
            clock,
            kb,
            llm,
            orders,
            settings: std::sync::RwLock::new(Arc::new(settings)),
            wake: tokio::sync::Notify::new(),
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            typing: None,
            pause: None,
            streams: stream::Streams::default(),
            streamer: None,
            nlu: Arc::default(),
        }
    }

    /// The message classifier this engine reads messages with; [`crate::nlu::sentence::Live::set`]
    /// installs the one with the sentence part.
    pub fn nlu(&self) -> &Arc<crate::nlu::sentence::Live> {
        &self.nlu
    }

    /// Understands `text` with the classifier in use, off the async threads (the sentence
    /// part runs the embedding model).
    pub(crate) async fn analyze(&self, text: String) -> Result<crate::nlu::Analysis, EngineError> {
        let nlu = self.nlu.get();
        tokio::task::spawn_blocking(move || nlu.analyze(&text)).await.map_err(|e| EngineError::Internal(e.to_string()))
    }

    /// Automation pauses while `pause` says so: buyer messages are still stored and shown,
    /// and each conversation is handed to people (`handoff_reason = "licence"`).
    pub fn with_pause(mut self, pause: Pause) -> Self {
        self.pause = Some(pause);
        self
    }

    /// Channels show "typing…" through this while a reply is prepared.
    pub fn with_typing(mut self, typing: Typing) -> Self {
        self.typing = Some(typing);
        self
    }

    /// Channels that show a reply while it is written get its checked sentences through this.
    pub fn with_streamer(mut self, streamer: stream::Streamer) -> Self {
        self.streamer = Some(streamer);
        self
    }

    /// Answers being written, for the operators' event stream.
    pub fn streams(&self) -> &stream::Streams {
        &self.streams
    }

    /// Notified whenever a message is queued in the outbox.
    pub fn outbox_signal(&self) -> Arc<tokio::sync::Notify> {
        self.outbox_wake.clone()
    }

    /// The settings in force (changed at run time by [`Engine::reconfigure`]).
    pub fn settings(&self) -> Arc<Settings> {
        self.settings.read().map(|s| s.clone()).unwrap_or_else(|p| p.into_inner().clone())
    }

    /// New settings from the panel; messages already being answered finish with the old ones.
    pub fn reconfigure(&self, settings: Settings) {
        match self.settings.write() {
            Ok(mut s) => *s = Arc::new(settings),
            Err(p) => *p.into_inner() = Arc::new(settings),
        }
    }
}

/// Channel adapters hand buyers' messages in through this (they never see the engine itself).
impl crate::channels::Inbox for Engine {
    fn accept<'a>(
        &'a self,
        m: &'a Inbound,
    ) -> crate::BoxFuture<'a, Result<msgs::Accepted, crate::channels::InboxError>> {
        Box::pin(async move { Engine::accept(self, m).await.map_err(Into::into) })
    }
}

impl From<EngineError> for crate::channels::InboxError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::BadPayload(m) => Self::Rejected(m),
            other => Self::Unavailable(other.to_string()),
        }
    }
}
