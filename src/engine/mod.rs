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
pub mod dialog;
pub mod eval;
pub mod guard;
pub mod hours;
mod knowledge;
pub mod notify;
pub mod policy;
pub mod provenance;
pub mod stream;
mod trace;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::channels::{ChannelName, OutFile, Outbound, registry};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::kb::Kb;
use crate::llm::chain::{CallOptions, Llm};
use crate::llm::{ChatMessage, GenerateRequest, Sampling, TokenSink};
use crate::marketplace::{Found, Order, OrderStatus, Orders};
use crate::nlu::{Analysis, Intent, Nlu};
use crate::store::messaging::{self as msgs, Author, Conversation, Delivery, NewMessage, OutboxKey};
use crate::store::{Db, StoreError, orders as order_rows};
use crate::texts::bot;
use dialog::{Awaiting, State};
use policy::{Decision, HandoffReason, Plan};
use provenance::{ModelCall, ModelOutcome, ModelRecord, OrderRef, PlanRecord, Provenance, SilentReason, Understood};

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

/// A worker task's end: its error, or nothing after a panic (logged; the item's start was
/// counted, so it is tried again and then parked).
fn joined_ok(joined: Result<Result<(), EngineError>, tokio::task::JoinError>) -> Result<(), EngineError> {
    match joined {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "processing a buyer message panicked");
            Ok(())
        }
    }
}

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
        }
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

    /// Stores an inbound message durably (a redelivery is recognised by its message id) and
    /// wakes the worker. The channel may acknowledge once this returns.
    pub async fn accept(&self, m: &Inbound) -> Result<msgs::Accepted, EngineError> {
        if m.text.trim().is_empty() && m.attachments.is_empty() && m.verified_phone.is_none() {
            return Err(EngineError::BadPayload("the message has no text".into()));
        }
        let cut;
        let m = if m.text.chars().nth(MAX_MESSAGE_CHARS).is_some() {
            let mut short = m.clone();
            short.text = crate::kb::analyzer::prefix(&m.text, MAX_MESSAGE_CHARS).to_owned();
            cut = short;
            &cut
        } else {
            m
        };
        let payload = serde_json::to_string(m).map_err(|e| EngineError::Internal(e.to_string()))?;
        let (channel, id, now) = (m.channel, m.message_id.clone(), self.clock.now_ms());
        let accepted = self.db.call(move |c| msgs::inbox_accept(c, channel.as_str(), &id, &payload, now)).await?;
        self.wake.notify_one();
        Ok(accepted)
    }

    /// Accepts and processes one message at once (terminal chat, evaluation, tests).
    pub async fn handle(&self, m: &Inbound) -> Result<Turn, EngineError> {
        let accepted = self.accept(m).await?;
        let item = msgs::InboxItem {
            id: accepted.id,
            channel: m.channel.as_str().to_owned(),
            external_id: m.message_id.clone(),
            payload: serde_json::to_string(m).map_err(|e| EngineError::Internal(e.to_string()))?,
            attempts: 0,
        };
        self.process(&item).await
    }

    /// Processes every pending inbox item in arrival order; returns how many.
    pub async fn process_pending(&self) -> Result<usize, EngineError> {
        let mut done = 0;
        loop {
            let items = self.db.call(|c| msgs::inbox_pending(c, 64)).await?;
            if items.is_empty() {
                return Ok(done);
            }
            for item in items {
                self.process_logged(&item).await?;
                done += 1;
            }
        }
    }

    /// Processes one item. Its start is counted (and committed) first: an item whose earlier
    /// starts never finished (a crash, a hang, a panic) is parked after [`MAX_ATTEMPTS`] and
    /// handed to a person; an error is recorded on the item (retried, then parked).
    async fn process_logged(&self, item: &msgs::InboxItem) -> Result<(), EngineError> {
        let id = item.id;
        let starts = self.db.call(move |c| msgs::inbox_start(c, id)).await?;
        if starts > MAX_ATTEMPTS {
            return self.park(item, starts - 1).await;
        }
        if let Err(e) = self.process(item).await {
            tracing::error!(inbox_id = item.id, error = %e, "processing an inbound message failed");
            let err = e.to_string();
            self.db.call(move |c| msgs::inbox_failed(c, id, &err, MAX_ATTEMPTS)).await?;
        }
        Ok(())
    }

    /// Gives up on an item that `tries` starts could not finish: the buyer's message is put in
    /// its conversation with a note for the operators, the conversation waits for a person, the
    /// buyer is told a person will answer, and the worker goes on with the rest.
    async fn park(&self, item: &msgs::InboxItem, tries: i64) -> Result<(), EngineError> {
        let (id, now) = (item.id, self.clock.now_ms());
        tracing::error!(inbox_id = id, tries, "an inbound message could not be processed; a person takes it over");
        let reason = format!("processing did not finish after {tries} starts");
        let Ok(m) = serde_json::from_str::<Inbound>(&item.payload) else {
            self.db.call(move |c| msgs::inbox_park(c, id, &reason, now)).await?;
            return Ok(());
        };
        let when = self.settings().hours.promise(now);
        self.db
            .call(move |c| {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                if msgs::inbox_is_done(&tx, id)? {
                    return Ok(());
                }
                let customer = msgs::upsert_customer(&tx, m.channel.as_str(), &m.customer, &m.name, now)?;
                let conv = msgs::open_conversation(&tx, customer, m.channel.as_str(), now)?;
                let attachments = serde_json::to_string(&m.attachments).unwrap_or_else(|_| "[]".into());
                let buyer = NewMessage {
                    conversation_id: conv,
                    author: Author::Buyer,
                    author_user_id: None,
                    body: &m.text,
                    attachments: &attachments,
                    provenance: None,
                    inbox_id: Some(id),
                };
                msgs::append_message(&tx, &buyer, now)?;
                msgs::add_system_note(&tx, conv, &bot::processing_failed(tries), now)?;
                let reply = bot::handoff(&when);
                let mut provenance = Provenance::of(Action::Handoff);
                provenance.handoff_reason = Some(HandoffReason::ProcessingFailed);
                let provenance = provenance.to_json();
                let answer = NewMessage {
                    conversation_id: conv,
                    author: Author::Bot,
                    author_user_id: None,
                    body: &reply,
                    attachments: "[]",
                    provenance: Some(&provenance),
                    inbox_id: None,
                };
                let delivery = Delivery {
                    channel: m.channel.as_str(),
                    recipient: &m.customer,
                    payload: &Outbound::text(reply.clone()).to_json(),
                    key: OutboxKey::Named(&format!("reply:{id}")),
                };
                msgs::post_message(&tx, &answer, Some(&delivery), None, now)?;
                let reason_code = HandoffReason::ProcessingFailed.as_str();
                msgs::set_handler(&tx, conv, "operator", Some(reason_code), None, now)?;
                msgs::add_event(&tx, "message", Some(conv), &json!({"author": "buyer"}), now)?;
                msgs::add_event(&tx, "handoff", Some(conv), &json!({"reason": reason_code}), now)?;
                msgs::inbox_park(&tx, id, &reason, now)?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        self.outbox_wake.notify_waiters();
        Ok(())
    }

    /// Like [`Engine::process_pending`], with different buyers' messages processed at the same
    /// time (up to [`PARALLEL`]); each buyer's messages stay in arrival order.
    async fn process_pending_parallel(self: &Arc<Self>) -> Result<usize, EngineError> {
        let mut done = 0;
        loop {
            let items = self.db.call(|c| msgs::inbox_pending(c, 256)).await?;
            if items.is_empty() {
                return Ok(done);
            }
            done += items.len();
            let mut groups: Vec<(String, Vec<msgs::InboxItem>)> = Vec::new();
            for item in items {
                let key = serde_json::from_str::<Inbound>(&item.payload)
                    .map(|m| format!("{}\u{1f}{}", m.channel, m.customer))
                    .unwrap_or_else(|_| format!("item:{}", item.id));
                match groups.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, g)) => g.push(item),
                    None => groups.push((key, vec![item])),
                }
            }
            let mut running = tokio::task::JoinSet::new();
            for (_, group) in groups {
                while running.len() >= PARALLEL {
                    if let Some(joined) = running.join_next().await {
                        joined_ok(joined)?;
                    }
                }
                let me = self.clone();
                running.spawn(async move {
                    for item in &group {
                        me.process_logged(item).await?;
                    }
                    Ok::<(), EngineError>(())
                });
            }
            while let Some(joined) = running.join_next().await {
                joined_ok(joined)?;
            }
        }
    }

    /// The background worker: processes the inbox whenever something arrives.
    pub async fn run(self: Arc<Self>) {
        loop {
            if let Err(e) = self.process_pending_parallel().await {
                tracing::error!(error = %e, "the conversation worker failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
        }
    }

    /// Steps 1–7 for one inbox item, in the tracing span of one turn (`trace`).
    pub async fn process(&self, item: &msgs::InboxItem) -> Result<Turn, EngineError> {
        use tracing::Instrument as _;
        let (span, started) = (trace::turn_span(item), Instant::now());
        let turn = self.process_turn(item).instrument(span.clone()).await;
        trace::record_turn(&span, turn.as_ref().ok(), started);
        turn
    }

    async fn process_turn(&self, item: &msgs::InboxItem) -> Result<Turn, EngineError> {
        let m: Inbound = serde_json::from_str(&item.payload).map_err(|e| EngineError::BadPayload(e.to_string()))?;
        let started = Instant::now();
        let now = self.clock.now_ms();
        let inbox_id = item.id;
        let (conversation, linked) = {
            let m = m.clone();
            self.db
                .call(move |c| {
                    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                    let customer = msgs::upsert_customer(&tx, m.channel.as_str(), &m.customer, &m.name, now)?;
                    let conv = msgs::open_conversation(&tx, customer, m.channel.as_str(), now)?;
                    let attachments = serde_json::to_string(&m.attachments).unwrap_or_else(|_| "[]".into());
                    // The seller's own message in the buyer's chat (Telegram Business): shown
                    // as a person's reply, and the conversation is theirs from now on.
                    let author = if m.from_seller { Author::Operator } else { Author::Buyer };
                    let msg = NewMessage {
                        conversation_id: conv,
                        author,
                        author_user_id: None,
                        body: &m.text,
                        attachments: &attachments,
                        provenance: None,
                        inbox_id: Some(inbox_id),
                    };
                    msgs::append_message(&tx, &msg, now)?;
                    if m.from_seller {
                        msgs::set_handler(&tx, conv, "operator", Some(SELLER_REPLIED), None, now)?;
                    }
                    if let Some(phone) = &m.verified_phone {
                        msgs::set_phone(&tx, customer, phone, now)?;
                        order_rows::link_by_phone(&tx, customer, phone, now)?;
                    }
                    let conversation = msgs::conversation(&tx, conv)?;
                    let linked = order_rows::of_customer(&tx, customer)?;
                    tx.commit()?;
                    Ok((conversation, linked))
                })
                .await?
        };
        let conv = conversation.id;
        trace::record_conversation(conv);
        if conversation.handled_by == "operator" {
            let turn = Turn {
                conversation_id: conv,
                action: Action::Silent,
                reply: None,
                provenance: Provenance { reason: Some(SilentReason::Operator), ..Provenance::of(Action::Silent) },
                facts: Vec::new(),
            };
            self.commit(item, &conversation, &turn, None, &Draft::default(), now).await?;
            return Ok(turn);
        }
        if self.pause.as_ref().is_some_and(|paused| paused()) {
            let turn = Turn {
                conversation_id: conv,
                action: Action::Silent,
                reply: None,
                provenance: Provenance { reason: Some(SilentReason::Licence), ..Provenance::of(Action::Silent) },
                facts: Vec::new(),
            };
            let draft = Draft { handoff: Some(HandoffReason::Licence), ..Draft::default() };
            self.commit(item, &conversation, &turn, None, &draft, now).await?;
            return Ok(turn);
        }
        let mut state = State::parse(&conversation.state);
        if m.verified_phone.is_some() && m.text.trim().is_empty() && m.attachments.is_empty() {
            // The buyer proved their phone: their orders are theirs now.
            let lines: Vec<String> = linked.iter().take(5).map(answer::order_line).collect();
            let reply =
                if lines.is_empty() { bot::PHONE_NO_ORDERS.to_owned() } else { bot::phone_orders(&lines.join("\n")) };
            let state = State { last_order: (linked.len() == 1).then(|| linked[0].number.clone()), ..State::default() };
            let turn = Turn {
                conversation_id: conv,
                action: Action::Answer,
                reply: Some(reply),
                provenance: Provenance {
                    plan: Some(PlanRecord::VerifiedPhone),
                    linked_orders: Some(linked.len()),
                    ..Provenance::of(Action::Answer)
                },
                facts: lines,
            };
            self.commit(item, &conversation, &turn, Some(&state), &Draft::default(), now).await?;
            return Ok(turn);
        }
        if m.text.trim().is_empty() {
            // A photo or file without words: ask what it is about (a person sees the file).
            let turn = Turn {
                conversation_id: conv,
                action: Action::Clarify,
                reply: Some(bot::GOT_ATTACHMENT.into()),
                provenance: Provenance {
                    plan: Some(PlanRecord::Attachment),
                    attachments: Some(m.attachments.len()),
                    ..Provenance::of(Action::Clarify)
                },
                facts: Vec::new(),
            };
            self.commit(item, &conversation, &turn, Some(&state), &Draft::default(), now).await?;
            return Ok(turn);
        }
        // Only the bounded beginning of a long message is understood and searched.
        let text = crate::kb::analyzer::prefix(&m.text, crate::nlu::MAX_TEXT_CHARS).to_owned();
        let analysis = {
            let text = text.clone();
            tokio::task::spawn_blocking(move || Nlu::shared().analyze(&text))
                .await
                .map_err(|e| EngineError::Internal(e.to_string()))?
        };
        let settings = self.settings();
        let decision = policy::decide(
            &policy::Input { analysis: &analysis, text: &text, state: &state, linked_orders: linked.len() },
            &policy::Settings { human_only: settings.human_only.clone() },
        );
        let mut draft = Draft { settings: settings.clone(), ..Draft::default() };
        self.carry_out(&decision, &analysis, &text, &conversation, &linked, &mut state, &mut draft, now).await?;
        let action = draft.action.unwrap_or(Action::Answer);
        // Marketplace answers are public: only plain answers go out without a person.
        let channel = ChannelName::parse(&conversation.channel);
        let public = channel.is_some_and(ChannelName::is_marketplace);
        draft.hold =
            channel.is_some_and(|c| settings.draft_channels.contains(&c)) || (public && action != Action::Answer);
        let mut reply = draft.parts.join("\n\n");
        if decision.greet && matches!(action, Action::Answer | Action::Clarify) {
            reply = format!("Здравствуйте! {reply}");
        }
        // The marketplace's rules for public answers (`marketplace::rules`): cleaned, or held.
        let rules = if public {
            let verdict =
                crate::marketplace::rules::public_answer(&conversation.channel, &conversation.recipient, &reply);
            Some(crate::marketplace::rules::apply(verdict, &mut reply, &mut draft.hold, &mut draft.note))
        } else {
            None
        };
        let provenance = Provenance {
            plan: Some(PlanRecord::Policy(decision.plan.clone())),
            understood: Some(Understood::new(&analysis, decision.injection)),
            handoff_reason: draft.handoff,
            sources: draft.sources.clone(),
            orders: draft.orders.clone(),
            model: draft.model.clone(),
            guard: draft.guard.clone(),
            draft: Some(draft.hold),
            marketplace_rules: rules,
            latency_ms: Some(started.elapsed().as_millis() as u64),
            ..Provenance::of(action)
        };
        let turn = Turn { conversation_id: conv, action, reply: Some(reply), provenance, facts: draft.facts.clone() };
        self.commit(item, &conversation, &turn, Some(&state), &draft, now).await?;
        Ok(turn)
    }

    #[expect(clippy::too_many_arguments, reason = "one turn's inputs, each used once")]
    async fn carry_out(
        &self,
        d: &Decision,
        analysis: &Analysis,
        text: &str,
        conv: &Conversation,
        linked: &[Order],
        state: &mut State,
        out: &mut Draft,
        now: i64,
    ) -> Result<(), EngineError> {
        let was_awaiting_number = state.awaiting == Some(Awaiting::OrderNumber);
        if state.awaiting == Some(Awaiting::Rating) && !matches!(d.plan, Plan::Rate(_)) {
            state.awaiting = None;
        }
        if state.awaiting == Some(Awaiting::Verification) {
            match (state.verify.clone(), &d.plan) {
                (_, Plan::Handoff(_) | Plan::Rate(_) | Plan::OptOut | Plan::Orders(_)) | (None, _) => {
                    state.awaiting = None;
                    state.verify = None;
                }
                (Some(number), _) => return self.check_proof(&number, text, state, out, now).await,
            }
        }
        match &d.plan {
            Plan::Rate(score) => {
                out.action = Some(Action::Rated);
                out.rating = Some(*score);
                out.parts.push(bot::rated(*score));
                *state = State::default();
            }
            Plan::Handoff(reason) => self.hand_off(*reason, None, out, now),
            Plan::Orders(numbers) => {
                let mut found = Vec::new();
                let mut missing = Vec::new();
                for n in numbers.iter().take(3) {
                    match self.orders.find(n).await {
                        Ok(Some(f)) => found.push(f),
                        Ok(None) => missing.push(n.clone()),
                        Err(e) => {
                            tracing::warn!(error = %e, "order lookup failed");
                            missing.push(n.clone());
                        }
                    }
                }
                if out.settings.verify_by_item
                    && let Some(f) = found.iter().find(|f| !is_linked(&f.order, linked) && !f.order.items.is_empty())
                {
                    // Shown by number only: ask for proof before anything about it is said.
                    state.verify = Some(f.order.number.clone());
                    state.awaiting = Some(Awaiting::Verification);
                    out.action = Some(Action::Clarify);
                    out.parts.push(bot::verify_order(&f.order.number, f.order.phone.is_some()));
                    return Ok(());
                }
                if found.is_empty() {
                    let number = missing.first().cloned().unwrap_or_default();
                    if state.not_found.as_deref() == Some(number.as_str()) {
                        // The same number again: the buyer is sure of it, the marketplace does
                        // not know it. A person checks.
                        self.hand_off(HandoffReason::Dispute, None, out, now);
                        *state = State::default();
                        return Ok(());
                    }
                    state.not_found = Some(number.clone());
                    self.miss(state, out, bot::order_not_found(&number), now);
                    if out.action == Some(Action::Clarify) {
                        state.awaiting = Some(Awaiting::OrderNumber);
                    }
                } else {
                    self.answer_orders(&found, &missing, state, out, now);
                    if out.action == Some(Action::Answer) {
                        self.also_knowledge(d, text, state, out).await?;
                    }
                }
            }
            Plan::KnownOrders => {
                // A buyer who names the marketplace means that marketplace's order.
                let named = crate::kb::compose::Marketplace::named_in(text).map(|m| match m {
                    crate::kb::compose::Marketplace::Wb => crate::marketplace::Market::Wb,
                    crate::kb::compose::Marketplace::Ozon => crate::marketplace::Market::Ozon,
                });
                let on_named: Vec<_> = linked.iter().filter(|o| named.is_some_and(|m| o.market == m)).collect();
                let last_on_named = state
                    .last_order
                    .clone()
                    .filter(|n| named.is_none_or(|m| crate::marketplace::Market::of_number(n) == m));
                let number = last_on_named.or_else(|| match (linked, on_named.as_slice()) {
                    (_, [one]) => Some(one.number.clone()),
                    ([one], _) if named.is_none() => Some(one.number.clone()),
                    _ => None,
                });
                match number {
                    Some(n) => match self.orders.find(&n).await {
                        Ok(Some(f)) => {
                            self.answer_orders(&[f], &[], state, out, now);
                            if out.action == Some(Action::Answer) {
                                self.also_knowledge(d, text, state, out).await?;
                            }
                        }
                        _ => self.ask_number(state, out, bot::ASK_ORDER_NUMBER.into()),
                    },
                    None => {
                        let list: Vec<String> = linked.iter().take(5).map(answer::order_line).collect();
                        out.facts.extend(list.iter().cloned());
                        self.ask_number(state, out, bot::which_order(&list.join("\n")));
                    }
                }
            }
            Plan::AskOrderNumber { phone } => {
                let text = if *phone { bot::PHONE_IS_NOT_ENOUGH } else { bot::ASK_ORDER_NUMBER };
                self.ask_number(state, out, text.into());
                state.pending_intent = Some(analysis.intent);
                if ChannelName::parse(&conv.channel).is_some_and(|c| registry::of(c).phone_request) {
                    out.parts.push(bot::OR_SHARE_PHONE.into());
                    out.request_phone = true;
                }
            }
            Plan::Knowledge(intent) => {
                let earlier = if was_awaiting_number || text.split_whitespace().count() > 3 {
                    None
                } else {
                    self.previous_buyer_text(conv.id).await?
                };
                let market = state.last_order.as_deref().map(|n| crate::marketplace::Market::of_number(n).title());
                let context: Vec<&str> =
                    [earlier.as_deref(), policy::retrieval_hint(*intent), market].into_iter().flatten().collect();
                let context = (!context.is_empty()).then(|| context.join(" "));
                let answered = self.answer_knowledge(*intent, text, context, d.injection, conv, state, out).await?;
                if !answered {
                    self.miss(state, out, bot::NO_ANSWER.into(), now);
                }
            }
            Plan::Greeting => {
                out.action = Some(Action::Answer);
                out.parts.push(bot::greeting(&out.settings.shop_name, out.settings.formal));
            }
            Plan::Thanks => {
                if out.settings.ask_rating && state.answered > 0 {
                    out.action = Some(Action::Close);
                    out.parts.push(bot::ASK_RATING.into());
                    out.buttons = rating_buttons();
                    state.awaiting = Some(Awaiting::Rating);
                } else {
                    out.action = Some(Action::Answer);
                    out.parts.push(bot::YOU_ARE_WELCOME.into());
                }
            }
            Plan::NotUnderstood => self.miss(state, out, bot::NOT_UNDERSTOOD.into(), now),
            Plan::OptOut => {
                out.action = Some(Action::Answer);
                out.opt_out = true;
                out.parts.push(bot::OPTED_OUT.into());
            }
        }
        if out.action == Some(Action::Answer) && !matches!(d.plan, Plan::Greeting | Plan::Thanks | Plan::OptOut) {
            state.misses = 0;
            state.answered += 1;
        }
        Ok(())
    }

    /// The buyer's answer to "what is in order `number`?": the order is shown and linked when
    /// it names an item (or its article, or the phone's last four digits); otherwise ask again,
    /// and after `max_misses` a person takes over.
    async fn check_proof(
        &self,
        number: &str,
        text: &str,
        state: &mut State,
        out: &mut Draft,
        now: i64,
    ) -> Result<(), EngineError> {
        let found = match self.orders.find(number).await {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "order lookup failed");
                None
            }
        };
        match found {
            Some(f) if proves(&f.order, text) => {
                state.verify = None;
                self.answer_orders(&[f], &[], state, out, now);
                state.misses = 0;
                state.answered += 1;
            }
            _ => {
                self.miss(state, out, bot::VERIFY_FAILED.into(), now);
                if out.action == Some(Action::Clarify) {
                    state.awaiting = Some(Awaiting::Verification);
                    state.verify = Some(number.to_owned());
                }
            }
        }
        Ok(())
    }

    fn hand_off(&self, reason: HandoffReason, order: Option<&str>, out: &mut Draft, now: i64) {
        let when = out.settings.hours.promise(now);
        out.action = Some(Action::Handoff);
        out.handoff = Some(reason);
        out.parts.clear();
        out.parts.push(match (reason, order) {
            (HandoffReason::Dispute, _) => bot::handoff_dispute(&when),
            (_, Some(n)) => bot::handoff_order(n, &when),
            (_, None) => bot::handoff(&when),
        });
    }

    /// The assistant could not help: ask once more, or hand over after `max_misses`.
    fn miss(&self, state: &mut State, out: &mut Draft, question: String, now: i64) {
        state.misses += 1;
        if state.misses >= out.settings.max_misses {
            self.hand_off(HandoffReason::RepeatedFailure, None, out, now);
            *state = State::default();
        } else {
            out.action = Some(Action::Clarify);
            out.parts.push(question);
        }
    }

    fn ask_number(&self, state: &mut State, out: &mut Draft, question: String) {
        out.action = Some(Action::Clarify);
        out.parts.push(question);
        state.awaiting = Some(Awaiting::OrderNumber);
    }

    fn answer_orders(&self, found: &[Found], missing: &[String], state: &mut State, out: &mut Draft, now: i64) {
        let offset = out.settings.utc_offset_minutes;
        for f in found {
            out.orders.push(OrderRef {
                market: Some(f.order.market),
                number: f.order.number.clone(),
                status: f.order.status,
                source: Some(f.source),
                stale_since: f.stale_since,
            });
            out.link.push(f.order.clone());
        }
        if let Some(problem) = found.iter().find(|f| f.order.status == OrderStatus::Problem) {
            self.hand_off(HandoffReason::OrderProblem, Some(&problem.order.number), out, now);
            *state = State::default();
            return;
        }
        for f in found {
            let mut text = answer::order(&f.order, f.stale_since, now, offset);
            if let Some(r) = answer::returns(&f.returns, offset) {
                text.push('\n');
                text.push_str(&r);
            }
            out.facts.push(text.clone());
            out.parts.push(text);
        }
        for n in missing {
            out.parts.push(bot::order_not_found(n));
        }
        out.action = Some(Action::Answer);
        state.last_order = found.last().map(|f| f.order.number.clone());
        state.not_found = None;
        state.awaiting = None;
        state.pending_intent = None;
    }

    /// A second question in the same message, answered from the knowledge base.
    async fn also_knowledge(
        &self,
        d: &Decision,
        text: &str,
        state: &mut State,
        out: &mut Draft,
    ) -> Result<(), EngineError> {
        let (intent, query, context) = match (d.also, policy::rule_question(text)) {
            (Some(intent), _) => (intent, text.to_owned(), None),
            // The classifier heard only the order; a clause asks about the rules: that clause
            // is the query, the message without its numbers its context.
            (None, Some(clause)) => {
                let q = clause.clone();
                let a = tokio::task::spawn_blocking(move || Nlu::shared().analyze(&q))
                    .await
                    .map_err(|e| EngineError::Internal(e.to_string()))?;
                let rest: Vec<&str> =
                    text.split_whitespace().filter(|w| !w.chars().any(|c| c.is_ascii_digit())).collect();
                (a.intent, clause, Some(rest.join(" ")))
            }
            (None, None) => return Ok(()),
        };
        if let Some(found) = self.find_answer(&query, context, state).await? {
            out.parts.push(found.composition.text.clone());
            self.cite_composition(&found, intent, out);
            state.last_sources = out.source_docs.clone();
        }
        Ok(())
    }

    async fn previous_buyer_text(&self, conv: i64) -> Result<Option<String>, EngineError> {
        let recent = self.db.call(move |c| msgs::recent_messages(c, conv, 6)).await?;
        Ok(recent.iter().rev().filter(|m| m.author == "buyer").nth(1).map(|m| m.body.clone()))
    }

    /// Answers from the knowledge base; false when nothing relevant exists.
    #[expect(clippy::too_many_arguments, reason = "one turn's inputs, each used once")]
    async fn answer_knowledge(
        &self,
        intent: Intent,
        text: &str,
        context: Option<String>,
        injection: bool,
        conv: &Conversation,
        state: &mut State,
        out: &mut Draft,
    ) -> Result<bool, EngineError> {
        let Some(found) = self.find_answer(text, context, state).await? else { return Ok(false) };
        let mut reply = None;
        if out.settings.use_model && !injection {
            reply = self.write_with_model(&found, conv, out).await?;
        }
        self.cite_composition(&found, intent, out);
        out.parts.push(reply.unwrap_or_else(|| found.composition.text.clone()));
        out.action = Some(Action::Answer);
        state.last_sources = out.source_docs.clone();
        state.awaiting = None;
        Ok(true)
    }

    /// The chosen units phrased by the model (at most [`MODEL_SENTENCES`] sentences), each
    /// sentence checked by the guard: one that fails is dropped and the rest stands. `None`
    /// (then the caller sends the composed units themselves) without a provider, on a failure,
    /// or when no sentence passes. `out.model` records what happened (`outcome`: written,
    /// changed, rejected or failed).
    async fn write_with_model(
        &self,
        found: &knowledge::Found,
        conv: &Conversation,
        out: &mut Draft,
    ) -> Result<Option<String>, EngineError> {
        let settings = out.settings.clone();
        // The model takes seconds: show the buyer that a reply is coming.
        if let (Some(typing), Some(channel)) = (&self.typing, ChannelName::parse(&conv.channel)) {
            typing(channel, &conv.recipient);
        }
        let (id, limit) = (conv.id, settings.history_messages);
        let recent = self.db.call(move |c| msgs::recent_messages(c, id, limit)).await?;
        let history: Vec<ChatMessage> = recent
            .iter()
            .filter(|m| !m.internal)
            .map(|m| {
                let body = crate::kb::analyzer::prefix(&m.body, crate::nlu::MAX_TEXT_CHARS);
                if m.author == "buyer" { ChatMessage::user(body) } else { ChatMessage::assistant(body) }
            })
            .collect();
        let buyer: Vec<String> = recent.iter().filter(|m| m.author == "buyer").map(|m| m.body.clone()).collect();
        let llm = self.llm.clone();
        let system = bot::system_prompt(&settings.shop_name, settings.formal);
        // The facts are chosen before the model is called: it only phrases them.
        let c = &found.composition;
        let mut facts = vec![format!("{}: {}", c.title, c.text)];
        // A budget from the facts: a rephrasing is about as long as what it rephrases.
        let budget = (llm.count_tokens(&c.text) * 3 / 2 + 24).min(settings.max_answer_tokens).max(8);
        let fitted = loop {
            match crate::llm::context::fit(&system, &facts, &history, settings.context_tokens, budget, &|t| {
                llm.count_tokens(t)
            }) {
                Ok(f) => break f,
                // A small context: a shorter fact (from its start, where the best unit is).
                Err(_) if facts[0].chars().count() > 200 => {
                    let keep = facts[0].chars().count() / 2;
                    facts[0] = facts[0].chars().take(keep).collect();
                }
                Err(e) => {
                    out.model = Some(ModelRecord::failed(e.to_string()));
                    return Ok(None);
                }
            }
        };
        let mut req = GenerateRequest::new(fitted.messages);
        req.max_tokens = budget;
        // Short by design: generation ends with the last sentence that may be used.
        req.max_sentences = Some(MODEL_SENTENCES);
        req.sampling = Sampling::greedy();
        req.deadline = Some(Instant::now() + settings.model_timeout);
        let opts = CallOptions { cache: true, conversation_id: Some(conv.id) };
        // Sentences are shown as they come, each checked by the guard first (`stream`).
        let (sink, relay) = self.stream_relay(conv, &facts, &buyer);
        let generated = self.llm.generate(&req, &sink, &opts).await;
        drop(sink);
        let shown = relay.finish().await;
        match generated {
            Ok(done) => {
                let text = done.text.trim().to_owned();
                let mut checked = guard::check_sentences(&text, &facts, &buyer);
                let extra = checked.kept.len().saturating_sub(MODEL_SENTENCES);
                let cut: Vec<String> = checked.kept.drain(MODEL_SENTENCES.min(checked.kept.len())..).collect();
                let outcome = match (checked.kept.is_empty(), checked.dropped.is_empty() && extra == 0) {
                    (true, _) => ModelOutcome::Rejected,
                    (false, true) => ModelOutcome::Written,
                    (false, false) => ModelOutcome::Changed,
                };
                let reasons: Vec<guard::Violation> = checked.dropped.iter().flat_map(|(_, v)| v.clone()).collect();
                out.model = Some(ModelRecord {
                    outcome,
                    error: None,
                    call: Some(ModelCall {
                        provider: done.provider.clone(),
                        model: done.model.clone(),
                        prompt_tokens: done.prompt_tokens,
                        cached_prompt_tokens: done.cached_prompt_tokens,
                        completion_tokens: done.completion_tokens,
                        latency_ms: done.latency_ms,
                        from_cache: done.from_cache,
                        history_dropped: fitted.dropped,
                        dropped_sentences: checked.dropped.len(),
                        cut_sentences: cut.len(),
                        reasons,
                        first_text_ms: shown.first_ms,
                        drafted_tokens: done.drafted_tokens,
                        accepted_tokens: done.accepted_tokens,
                    }),
                });
                if checked.kept.is_empty() {
                    out.guard = checked.dropped.into_iter().flat_map(|(_, v)| v).collect();
                    return Ok(None);
                }
                out.guard = checked.dropped.into_iter().flat_map(|(_, v)| v).collect();
                Ok(Some(checked.kept.join(" ")))
            }
            Err(e) => {
                out.model = Some(ModelRecord::failed(e.to_string()));
                Ok(None)
            }
        }
    }

    /// The sink a model answer streams into: its sentences, checked by the guard against
    /// `facts` and the buyer's words, shown to the operators and (where the channel can show
    /// it) to the buyer.
    fn stream_relay(&self, conv: &Conversation, facts: &[String], buyer: &[String]) -> (TokenSink, stream::Relay) {
        let channel = ChannelName::parse(&conv.channel).unwrap_or(ChannelName::Api);
        let base = stream::Partial {
            conversation_id: conv.id,
            channel,
            recipient: conv.recipient.clone(),
            draft_id: conv.id.max(1),
            text: String::new(),
            done: false,
        };
        let (facts, buyer) = (facts.to_vec(), buyer.to_vec());
        let check: stream::Check = Box::new(move |t: &str| guard::check(t, &facts, &buyer).is_empty());
        let previews = crate::channels::registry::of(channel).streaming;
        stream::Relay::start(base, check, &self.streams, self.streamer.clone(), previews)
    }

    /// Step 7: everything the turn changes, in one transaction (skipped if a previous run of
    /// this inbox item got here).
    async fn commit(
        &self,
        item: &msgs::InboxItem,
        conv: &Conversation,
        turn: &Turn,
        state: Option<&State>,
        draft: &Draft,
        now: i64,
    ) -> Result<(), EngineError> {
        let (inbox_id, conv_id, customer) = (item.id, conv.id, conv.customer_id);
        let (channel, recipient) = (conv.channel.clone(), conv.recipient.clone());
        let reply = turn.reply.clone();
        let provenance = turn.provenance.to_json();
        let action = turn.action;
        let state = state.map(State::to_json);
        let handoff = draft.handoff;
        let rating = draft.rating;
        let link: Vec<Order> = draft.link.clone();
        let buttons = draft.buttons.clone();
        let opt_out = draft.opt_out;
        let hold = draft.hold;
        let note = draft.note.clone();
        let request_phone = draft.request_phone;
        let rated_docs = if rating.is_some() { State::parse(&conv.state).last_sources } else { Vec::new() };
        self.db
            .call(move |c| {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                if msgs::inbox_is_done(&tx, inbox_id)? {
                    return Ok(());
                }
                msgs::add_event(&tx, "message", Some(conv_id), &json!({"author": "buyer"}), now)?;
                if let Some(body) = &reply {
                    let m = NewMessage {
                        conversation_id: conv_id,
                        author: Author::Bot,
                        author_user_id: None,
                        body,
                        attachments: "[]",
                        provenance: Some(&provenance),
                        inbox_id: None,
                    };
                    let mut payload = Outbound::text(body.clone()).with_buttons(buttons.clone());
                    if request_phone {
                        payload.request_phone = Some(bot::SHARE_PHONE_BUTTON.to_owned());
                    }
                    let payload = payload.to_json();
                    let key = format!("reply:{inbox_id}");
                    // A held draft is not delivered: a person approves (edits and sends) it.
                    let delivery = (!hold).then(|| Delivery {
                        channel: &channel,
                        recipient: &recipient,
                        payload: &payload,
                        key: OutboxKey::Named(&key),
                    });
                    let event = json!({"author": "bot", "action": action, "draft": hold});
                    msgs::post_message(&tx, &m, delivery.as_ref(), Some(("message", &event)), now)?;
                    if let Some(n) = &note {
                        msgs::add_system_note(&tx, conv_id, n, now)?;
                    }
                    if hold {
                        msgs::set_handler(&tx, conv_id, "operator", Some("approval"), None, now)?;
                    }
                }
                if let Some(s) = &state {
                    msgs::set_state(&tx, conv_id, s, now)?;
                }
                for o in &link {
                    order_rows::link(&tx, customer, o.market, &o.number, now)?;
                }
                if opt_out {
                    order_rows::set_opt_out(&tx, customer, true)?;
                }
                if let Some(reason) = handoff {
                    msgs::set_handler(&tx, conv_id, "operator", Some(reason.as_str()), None, now)?;
                    msgs::add_event(&tx, "handoff", Some(conv_id), &json!({"reason": reason}), now)?;
                }
                if let Some(score) = rating {
                    msgs::set_rating(&tx, conv_id, i64::from(score), now)?;
                    crate::store::kb::record_used(&tx, &rated_docs, Some(score >= 4))?;
                    msgs::add_event(&tx, "rated", Some(conv_id), &json!({"score": score}), now)?;
                }
                msgs::inbox_done(&tx, inbox_id, now)?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        if turn.reply.is_some() {
            self.outbox_wake.notify_waiters();
        }
        if !draft.source_docs.is_empty() {
            let (kb, docs) = (self.kb.clone(), draft.source_docs.clone());
            if let Err(e) = tokio::task::spawn_blocking(move || kb.record_used(&docs, None)).await {
                tracing::warn!(error = %e, "cannot count knowledge-base usage");
            }
        }
        Ok(())
    }

    /// A reply the operator may edit and send: for the buyer's last message, the order facts it
    /// asks about or an answer from the knowledge base (never sent by itself). `None` when there
    /// is nothing to suggest from.
    pub async fn suggest(&self, conv: i64) -> Result<Option<String>, EngineError> {
        let settings = self.settings();
        let conversation = self.db.call(move |c| msgs::conversation(c, conv)).await?;
        let recent = self.db.call(move |c| msgs::recent_messages(c, conv, 50)).await?;
        let Some(last) = recent.iter().rev().find(|m| m.author == "buyer" && !m.internal).map(|m| m.body.clone())
        else {
            return Ok(None);
        };
        let text = last.clone();
        let analysis = tokio::task::spawn_blocking(move || Nlu::shared().analyze(&text))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        let now = self.clock.now_ms();
        let mut parts = Vec::new();
        for e in analysis
            .entities
            .iter()
            .filter(|e| matches!(e.kind, crate::nlu::EntityKind::WbOrder | crate::nlu::EntityKind::OzonPosting))
        {
            if let Ok(Some(f)) = self.orders.find(&e.normalized).await {
                parts.push(answer::order(&f.order, f.stale_since, now, settings.utc_offset_minutes));
            }
        }
        let state = State::parse(&conversation.state);
        if parts.is_empty()
            && let Some(found) =
                self.find_answer(&last, policy::retrieval_hint(analysis.intent).map(str::to_owned), &state).await?
        {
            let mut draft = Draft { settings: settings.clone(), ..Draft::default() };
            let written =
                if settings.use_model { self.write_with_model(&found, &conversation, &mut draft).await? } else { None };
            parts.push(written.unwrap_or_else(|| found.composition.text.clone()));
        }
        Ok((!parts.is_empty()).then(|| parts.join("\n\n")))
    }

    /// An operator takes the conversation: the bot stays silent until it is returned.
    pub async fn take_over(&self, conv: i64, user_id: i64) -> Result<(), EngineError> {
        let now = self.clock.now_ms();
        self.db
            .call(move |c| {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                msgs::set_handler(&tx, conv, "operator", Some("takeover"), Some(user_id), now)?;
                msgs::add_event(&tx, "takeover", Some(conv), &json!({"user_id": user_id}), now)?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        Ok(())
    }

    /// Returns the conversation to the bot; with `resolved`, the buyer is asked for a rating.
    pub async fn release(&self, conv: i64, user_id: i64, resolved: bool) -> Result<(), EngineError> {
        let now = self.clock.now_ms();
        let ask = resolved && self.settings().ask_rating;
        self.db
            .call(move |c| {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let conversation = msgs::conversation(&tx, conv)?;
                msgs::set_handler(&tx, conv, "bot", None, None, now)?;
                let mut state = State::parse(&conversation.state);
                state.misses = 0;
                state.awaiting = None;
                let (text, buttons) = if ask {
                    state.awaiting = Some(Awaiting::Rating);
                    (bot::ASK_RATING, rating_buttons())
                } else {
                    (bot::BACK_TO_BOT, Vec::new())
                };
                msgs::set_state(&tx, conv, &state.to_json(), now)?;
                let m = NewMessage {
                    conversation_id: conv,
                    author: Author::System,
                    author_user_id: Some(user_id),
                    body: text,
                    attachments: "[]",
                    provenance: None,
                    inbox_id: None,
                };
                let payload = Outbound::text(text).with_buttons(buttons).to_json();
                let delivery = Delivery {
                    channel: &conversation.channel,
                    recipient: &conversation.recipient,
                    payload: &payload,
                    key: OutboxKey::Message,
                };
                let event = json!({"user_id": user_id, "resolved": resolved});
                msgs::post_message(&tx, &m, Some(&delivery), Some(("release", &event)), now)?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        self.outbox_wake.notify_waiters();
        Ok(())
    }

    /// An operator's reply: stored and queued to the buyer's channel. Replying takes the
    /// conversation over (the bot does not talk over a person).
    pub async fn operator_reply(
        &self,
        conv: i64,
        user_id: i64,
        text: &str,
        file: Option<Attachment>,
    ) -> Result<i64, EngineError> {
        let body = text.trim().to_owned();
        if body.is_empty() && file.is_none() {
            return Err(EngineError::BadPayload("the reply is empty".into()));
        }
        // A reply published on a marketplace follows its rules: refused with the reason.
        let conversation = self.db.call(move |c| msgs::conversation(c, conv)).await?;
        let findings = crate::marketplace::rules::operator_reply(&conversation.channel, &conversation.recipient, &body);
        if !findings.is_empty() {
            return Err(EngineError::BadPayload(crate::texts::marketplace::refused(&findings)));
        }
        let attachments = serde_json::to_string(&file.iter().collect::<Vec<_>>()).unwrap_or_else(|_| "[]".into());
        let now = self.clock.now_ms();
        let id = self
            .db
            .call(move |c| {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let conversation = msgs::conversation(&tx, conv)?;
                if conversation.handled_by != "operator" {
                    msgs::set_handler(&tx, conv, "operator", Some("takeover"), Some(user_id), now)?;
                }
                let m = NewMessage {
                    conversation_id: conv,
                    author: Author::Operator,
                    author_user_id: Some(user_id),
                    body: &body,
                    attachments: &attachments,
                    provenance: None,
                    inbox_id: None,
                };
                let payload = match &file {
                    Some(f) => Outbound::text(body.clone()).with_file(OutFile {
                        path: f.path.clone(),
                        name: f.name.clone(),
                        mime: f.mime.clone(),
                    }),
                    None => Outbound::text(body.clone()),
                }
                .to_json();
                let delivery = Delivery {
                    channel: &conversation.channel,
                    recipient: &conversation.recipient,
                    payload: &payload,
                    key: OutboxKey::Message,
                };
                let event = json!({"author": "operator", "user_id": user_id});
                let id = msgs::post_message(&tx, &m, Some(&delivery), Some(("message", &event)), now)?;
                tx.commit()?;
                Ok(id)
            })
            .await?;
        self.outbox_wake.notify_waiters();
        Ok(id)
    }
}

/// The 1–5 rating as one row of buttons.
fn rating_buttons() -> Vec<Vec<String>> {
    vec![(1..=5).map(|n| n.to_string()).collect()]
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

fn is_linked(order: &Order, linked: &[Order]) -> bool {
    linked.iter().any(|l| l.market == order.market && l.number == order.number)
}

/// Whether `text` shows the buyer knows what is in `order`: an item's article, a word of an
/// item's name (compared by its first five letters, so "футболку" meets "Футболка"), or the
/// last four digits of the order's phone.
fn proves(order: &Order, text: &str) -> bool {
    let lower = text.to_lowercase();
    let stem = |w: &str| w.chars().take(5).collect::<String>();
    let said: Vec<String> =
        lower.split(|c: char| !c.is_alphanumeric()).filter(|w| w.chars().count() >= 4).map(stem).collect();
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let by_phone = order.phone.as_deref().is_some_and(|p| {
        let p: String = p.chars().filter(char::is_ascii_digit).collect();
        p.len() >= 4 && digits == p[p.len() - 4..]
    });
    by_phone
        || order.items.iter().any(|i| {
            let article = i.article.to_lowercase();
            (article.chars().count() >= 3 && lower.contains(&article))
                || i.name
                    .to_lowercase()
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| w.chars().count() >= 4 && !w.chars().all(|c| c.is_ascii_digit()))
                    .any(|w| said.contains(&stem(w)))
        })
}
