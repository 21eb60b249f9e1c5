//! Telegram through teloxide: webhook (`setWebhook` with a secret token checked on every
//! request) or long polling, chosen by `telegram.mode` or the panel at run time. Every update
//! is stored in the inbox (keyed by its `update_id`) before Telegram is answered or the polling
//! offset moves, so a redelivered update is recognised and nothing is lost. Replies leave
//! through the outbox: HTML-escaped, split at 4096 characters, inline keyboards for quick
//! choices; 429 `retry_after` is obeyed by the dispatcher.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use teloxide::net::Download;
use teloxide::payloads::{GetUpdatesSetters, SendMessageSetters, SetWebhookSetters};
use teloxide::prelude::Requester;
use teloxide::types::{
    BusinessConnectionId, ButtonRequest, ChatAction, ChatId, InlineKeyboardButton, InlineKeyboardMarkup,
    KeyboardButton, KeyboardMarkup, Message, ParseMode, ReplyMarkup, Update, UpdateKind,
};
use teloxide::{ApiError, Bot, RequestError};
use tokio::sync::Mutex;

use super::{Attachment, Channel, ChannelName, Delivered, Inbound, Inbox, Limits, OutFile, Outbound, SendError};
use crate::BoxFuture;
use crate::clock::SharedClock;
use crate::crypto::Cipher;
use crate::files::Files;
use crate::net::KeyRef;
use crate::store::{Db, credentials};

pub const NAME: ChannelName = ChannelName::Telegram;
/// The seller's own account through Telegram Business.
pub const BUSINESS: ChannelName = ChannelName::TelegramBusiness;
/// `telegram.business:<connection id>` → the connection's owner and rights.
const BUSINESS_SETTING: &str = "telegram.business:";
/// Stored credentials and settings.
pub const TOKEN: &str = "telegram.token";
pub const WEBHOOK_SECRET: &str = "telegram.webhook_secret";
pub const MODE_SETTING: &str = "telegram.mode";
const OFFSET_SETTING: &str = "telegram.offset";
/// Telegram's longest message.
pub const MAX_TEXT: usize = 4096;
/// The path Telegram posts updates to.
pub const WEBHOOK_PATH: &str = "/telegram/webhook";

/// The mode set in the config file (`TelegramMode`); the stored setting may override it.
pub use crate::config::TelegramMode as Mode;

pub struct Telegram {
    db: Db,
    cipher: Cipher,
    clock: SharedClock,
    api_url: reqwest::Url,
    token: KeyRef,
    default_mode: Mode,
    webhook_url: String,
    files: Files,
    max_file_bytes: u64,
    per_second: f64,
    /// The bot for the current token (rebuilt when the token changes).
    bot: Mutex<Option<(String, Bot)>>,
    /// The webhook secret, once read (it never changes).
    secret: tokio::sync::OnceCell<String>,
}

/// Telegram's errors in the dispatcher's terms.
fn send_error(e: RequestError) -> SendError {
    match e {
        RequestError::RetryAfter(s) => {
            SendError::Retry { after: Some(s.duration()), reason: "429: too many requests".into() }
        }
        RequestError::Api(
            ApiError::BotBlocked
            | ApiError::ChatNotFound
            | ApiError::UserDeactivated
            | ApiError::BotKicked
            | ApiError::CantInitiateConversation,
        ) => SendError::Permanent(format!("{e}")),
        RequestError::Api(ApiError::InvalidToken) => {
            SendError::Retry { after: Some(Duration::from_secs(60)), reason: "the bot token is rejected".into() }
        }
        RequestError::Api(ApiError::MessageTextIsEmpty | ApiError::MessageIsTooLong) => {
            SendError::Permanent(format!("{e}"))
        }
        e => SendError::Retry { after: None, reason: redact(&e.to_string()) },
    }
}

/// Error texts may carry request URLs, and Telegram URLs carry the token: cut them out.
pub fn redact(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split(' ') {
        if !out.is_empty() {
            out.push(' ');
        }
        if word.contains("/bot") { out.push_str("[url]") } else { out.push_str(word) }
    }
    out
}

/// `<`, `>` and `&` escaped for `parse_mode = HTML`.
pub fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

impl Telegram {
    pub fn new(
        db: Db,
        cipher: Cipher,
        clock: SharedClock,
        config: &crate::config::TelegramConfig,
        public_url: &str,
        data_dir: &std::path::Path,
    ) -> anyhow::Result<Self> {
        let api_url = reqwest::Url::parse(&config.api_url)?;
        let token = if config.token.is_empty() {
            KeyRef::Stored { db: db.clone(), cipher: cipher.clone(), name: TOKEN }
        } else {
            KeyRef::Fixed(config.token.clone())
        };
        let webhook_url = if config.webhook_url.is_empty() {
            format!("{}{WEBHOOK_PATH}", public_url.trim_end_matches('/'))
        } else {
            config.webhook_url.clone()
        };
        Ok(Self {
            db,
            cipher,
            clock,
            api_url,
            token,
            default_mode: config.mode,
            webhook_url,
            files: Files::new(data_dir),
            max_file_bytes: config.max_file_bytes,
            per_second: config.messages_per_second,
            bot: Mutex::new(None),
            secret: tokio::sync::OnceCell::new(),
        })
    }

    /// The bot for the current token, or `None` when no token is set.
    pub async fn bot(&self) -> Option<Bot> {
        let token = self.token.get().await;
        if token.is_empty() {
            return None;
        }
        let mut slot = self.bot.lock().await;
        if let Some((t, bot)) = slot.as_ref()
            && t == token.expose()
        {
            return Some(bot.clone());
        }
        let bot = Bot::new(token.expose()).set_api_url(self.api_url.clone());
        *slot = Some((token.expose().to_owned(), bot.clone()));
        Some(bot)
    }

    /// The mode chosen in the panel, or the configured one.
    pub async fn mode(&self) -> Mode {
        let stored = self.db.call(|c| credentials::setting(c, MODE_SETTING)).await.ok().flatten();
        stored.and_then(|v| v.as_str().and_then(Mode::parse)).unwrap_or(self.default_mode)
    }

    /// The secret Telegram sends with webhook requests (created once, stored encrypted).
    pub async fn webhook_secret(&self) -> anyhow::Result<String> {
        let secret = self.secret.get_or_try_init(|| self.load_webhook_secret()).await?;
        Ok(secret.clone())
    }

    async fn load_webhook_secret(&self) -> anyhow::Result<String> {
        let (cipher, now) = (self.cipher.clone(), self.clock.now_ms());
        Ok(self
            .db
            .call(move |c| {
                if let Some(s) = credentials::get(c, &cipher, WEBHOOK_SECRET)? {
                    return Ok(s);
                }
                let secret = crate::crypto::random_token().map_err(crate::store::StoreError::Crypto)?;
                // Telegram allows 1–256 characters of A-Z, a-z, 0-9, _ and -.
                let secret: String = secret.chars().filter(|c| c.is_ascii_alphanumeric()).take(64).collect();
                credentials::put(c, &cipher, WEBHOOK_SECRET, &secret, None, now)?;
                Ok(secret)
            })
            .await?)
    }

    /// `getMe` with the current token: the bot's @username, proving the token works.
    pub async fn check(&self) -> Result<String, String> {
        let bot = self.bot().await.ok_or("no bot token is set")?;
        Self::get_me(&bot).await
    }

    /// `getMe` with a token that is not stored yet.
    pub async fn check_token(&self, token: &str) -> Result<String, String> {
        Self::get_me(&Bot::new(token).set_api_url(self.api_url.clone())).await
    }

    /// Stores the bot token (encrypted) and, when given, the mode.
    pub async fn configure(&self, token: Option<String>, mode: Option<Mode>, by: Option<i64>) -> anyhow::Result<()> {
        let (cipher, now) = (self.cipher.clone(), self.clock.now_ms());
        self.db
            .call(move |c| {
                if let Some(t) = &token {
                    credentials::put(c, &cipher, TOKEN, t, by, now)?;
                }
                if let Some(m) = mode {
                    credentials::set_setting(c, MODE_SETTING, &json!(m.as_str()), now)?;
                }
                Ok(())
            })
            .await?;
        Ok(())
    }

    pub fn webhook_url(&self) -> &str {
        &self.webhook_url
    }

    /// Whether a token is configured (in the config file or the store).
    pub async fn has_token(&self) -> bool {
        !self.token.get().await.is_empty()
    }

    async fn get_me(bot: &Bot) -> Result<String, String> {
        match bot.get_me().await {
            Ok(me) => Ok(me.username().to_owned()),
            Err(RequestError::Api(ApiError::InvalidToken)) => Err("Telegram rejected the bot token".into()),
            Err(e) => Err(redact(&e.to_string())),
        }
    }

    /// Turns one update into an inbound message (downloading its photo or document), or `None`
    /// for updates the assistant does not handle (edits, joins, …). Callback queries are
    /// answered so the button stops spinning.
    pub async fn inbound(&self, update: &Update) -> Option<Inbound> {
        let external = format!("update:{}", update.id.0);
        match &update.kind {
            UpdateKind::Message(m) => self.message_inbound(external, m).await,
            UpdateKind::BusinessConnection(c) => {
                self.remember_connection(c).await;
                None
            }
            UpdateKind::BusinessMessage(m) => self.business_inbound(external, m).await,
            UpdateKind::CallbackQuery(q) => {
                if let Some(bot) = self.bot().await {
                    let id = q.id.clone();
                    tokio::spawn(async move {
                        let _ = bot.answer_callback_query(id).await;
                    });
                }
                let data = q.data.clone().filter(|d| !d.trim().is_empty())?;
                let mut m = Inbound::text(NAME, external, q.from.id.0.to_string(), data);
                m.name = full_name(&q.from.first_name, q.from.last_name.as_deref());
                Some(m)
            }
            _ => None,
        }
    }

    async fn message_inbound(&self, external: String, m: &Message) -> Option<Inbound> {
        if !m.chat.is_private() {
            return None;
        }
        let mut text = m.text().or(m.caption()).unwrap_or("").trim().to_owned();
        // `/start` with a deep-link parameter (e.g. an order number from a package insert).
        if let Some(rest) = text.strip_prefix("/start") {
            let param = rest.trim().replace('_', "-");
            text = if param.is_empty() {
                "Здравствуйте".into()
            } else {
                format!("Здравствуйте! Заказ {param}")
            };
        }
        // A contact the buyer shared about themselves proves their phone number.
        let verified_phone = m.contact().and_then(|c| {
            let own = c.user_id.zip(m.from.as_ref().map(|u| u.id)).is_some_and(|(a, b)| a == b);
            own.then(|| {
                let d: String = c.phone_number.chars().filter(char::is_ascii_digit).collect();
                if d.len() == 11 && (d.starts_with('7') || d.starts_with('8')) {
                    format!("+7{}", &d[1..])
                } else {
                    format!("+{d}")
                }
            })
        });
        let mut attachments = Vec::new();
        if let Some(photo) = m.photo().and_then(|p| p.iter().max_by_key(|s| s.width * s.height)) {
            attachments.push(self.download(&photo.file.id.0, photo.file.size, "photo", None, Some("image/jpeg")).await);
        }
        if let Some(doc) = m.document() {
            let mime = doc.mime_type.as_ref().map(ToString::to_string);
            attachments.push(
                self.download(&doc.file.id.0, doc.file.size, "document", doc.file_name.clone(), mime.as_deref()).await,
            );
        }
        if text.is_empty() && attachments.is_empty() && verified_phone.is_none() {
            return None;
        }
        let (customer, name) = match &m.from {
            Some(u) => (u.id.0.to_string(), full_name(&u.first_name, u.last_name.as_deref())),
            None => (m.chat.id.0.to_string(), String::new()),
        };
        Some(Inbound {
            channel: NAME,
            message_id: external,
            customer,
            name,
            text,
            attachments,
            verified_phone,
            from_seller: false,
        })
    }

    /// Fetches a file into the data directory, within the size limit; a file that is too large
    /// or cannot be fetched is recorded with the reason instead.
    async fn download(
        &self,
        file_id: &str,
        size: u32,
        kind: &str,
        name: Option<String>,
        mime: Option<&str>,
    ) -> Attachment {
        let mut a = Attachment {
            kind: kind.into(),
            name: name.clone(),
            mime: mime.map(str::to_owned),
            size: u64::from(size),
            path: None,
            error: None,
        };
        if u64::from(size) > self.max_file_bytes {
            a.error = Some(format!("too large: {} bytes (limit {})", size, self.max_file_bytes));
            return a;
        }
        let Some(bot) = self.bot().await else {
            a.error = Some("no bot token".into());
            return a;
        };
        let result: anyhow::Result<String> = async {
            let file = bot.get_file(teloxide::types::FileId(file_id.to_owned())).await?;
            if u64::from(file.meta.size) > self.max_file_bytes {
                anyhow::bail!("too large: {} bytes (limit {})", file.meta.size, self.max_file_bytes);
            }
            let ext = std::path::Path::new(&file.path).extension().and_then(|e| e.to_str()).unwrap_or("bin");
            let local = self.files.create(NAME.as_str(), ext).await?;
            let tmp = local.partial();
            let mut out = tokio::fs::File::create(&tmp).await?;
            bot.download_file(&file.path, &mut out).await?;
            let len = out.metadata().await?.len();
            drop(out);
            if len > self.max_file_bytes {
                let _ = tokio::fs::remove_file(&tmp).await;
                anyhow::bail!("too large: {len} bytes (limit {})", self.max_file_bytes);
            }
            local.finish().await?;
            Ok(local.reference)
        }
        .await;
        match result {
            Ok(reference) => a.path = Some(reference),
            Err(e) => a.error = Some(redact(&e.to_string())),
        }
        a
    }

    /// Long polling (while the mode is `polling`) and webhook registration (when it is
    /// `webhook`), following mode and token changes at run time.
    pub async fn run(self: Arc<Self>, inbox: Arc<dyn Inbox>) {
        let mut registered: Option<(Mode, String)> = None;
        loop {
            let Some(bot) = self.bot().await else {
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            };
            let mode = self.mode().await;
            let key = (mode, bot.token().to_owned());
            if registered.as_ref() != Some(&key) {
                let done = match mode {
                    Mode::Polling => bot.delete_webhook().await.map(|_| ()),
                    Mode::Webhook => match self.webhook_secret().await {
                        Ok(secret) => match reqwest::Url::parse(&self.webhook_url) {
                            Ok(url) => bot.set_webhook(url).secret_token(secret).await.map(|_| ()),
                            Err(e) => {
                                tracing::error!(error = %e, "telegram.webhook_url is not a URL");
                                Ok(())
                            }
                        },
                        Err(e) => {
                            tracing::error!(error = %e, "cannot create the webhook secret");
                            Ok(())
                        }
                    },
                };
                match done {
                    Ok(()) => {
                        tracing::info!(mode = mode.as_str(), "telegram connected");
                        registered = Some(key);
                    }
                    Err(e) => {
                        tracing::warn!(error = %redact(&e.to_string()), "telegram is unreachable; retrying");
                        tokio::time::sleep(Duration::from_secs(3)).await;
                        continue;
                    }
                }
            }
            if mode == Mode::Webhook {
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
            if let Err(e) = self.poll_once(&bot, inbox.as_ref()).await {
                tracing::warn!(error = %e, "telegram polling failed; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }

    /// One `getUpdates` round: each update is stored before the offset moves past it.
    pub async fn poll_once(&self, bot: &Bot, inbox: &dyn Inbox) -> anyhow::Result<usize> {
        let offset =
            self.db.call(|c| credentials::setting(c, OFFSET_SETTING)).await?.and_then(|v| v.as_i64()).unwrap_or(0);
        let updates = bot
            .get_updates()
            .offset(i32::try_from(offset).unwrap_or(0))
            .timeout(20)
            .await
            .map_err(|e| anyhow::anyhow!(redact(&e.to_string())))?;
        let n = updates.len();
        for u in updates {
            if let Some(m) = self.inbound(&u).await {
                inbox.accept(&m).await?;
            }
            let (next, now) = (i64::from(u.id.0) + 1, self.clock.now_ms());
            self.db.call(move |c| credentials::set_setting(c, OFFSET_SETTING, &json!(next), now)).await?;
        }
        Ok(n)
    }
}

impl Telegram {
    /// A photo (images) or document, with the text as its caption when it fits (1024
    /// characters), otherwise the text first.
    async fn send_file(
        &self,
        bot: &Bot,
        chat: i64,
        text: &str,
        file: &OutFile,
        business: Option<&BusinessConnectionId>,
    ) -> Result<Delivered, SendError> {
        use teloxide::payloads::{SendDocumentSetters, SendPhotoSetters};
        let rel = file.path.as_deref().unwrap_or("");
        let Some(path) = self.files.resolve(rel) else {
            return Err(SendError::Permanent("the file is missing".into()));
        };
        if !path.is_file() {
            return Err(SendError::Permanent(format!("the file {rel} is gone")));
        }
        let name = file.name.clone().unwrap_or_else(|| "file".into());
        let input = teloxide::types::InputFile::file(path).file_name(name);
        let text = text.trim();
        let caption = (!text.is_empty() && text.chars().count() <= 1024).then(|| escape_html(text));
        if !text.is_empty() && caption.is_none() {
            let mut req = bot.send_message(ChatId(chat), escape_html(text)).parse_mode(ParseMode::Html);
            if let Some(b) = business {
                req = req.business_connection_id(b.clone());
            }
            req.await.map_err(send_error)?;
        }
        let sent = if file.is_image() {
            let mut req = bot.send_photo(ChatId(chat), input).parse_mode(ParseMode::Html);
            if let Some(b) = business {
                req = req.business_connection_id(b.clone());
            }
            if let Some(c) = caption {
                req = req.caption(c);
            }
            req.await
        } else {
            let mut req = bot.send_document(ChatId(chat), input).parse_mode(ParseMode::Html);
            if let Some(b) = business {
                req = req.business_connection_id(b.clone());
            }
            if let Some(c) = caption {
                req = req.caption(c);
            }
            req.await
        };
        Ok(Delivered { external_id: Some(sent.map_err(send_error)?.id.0.to_string()) })
    }
}

fn full_name(first: &str, last: Option<&str>) -> String {
    match last {
        Some(l) if !l.is_empty() => format!("{first} {l}"),
        _ => first.to_owned(),
    }
}

impl Channel for Telegram {
    fn name(&self) -> ChannelName {
        NAME
    }

    fn limits(&self) -> Limits {
        // Bot API: about 30 messages per second overall, one per second in one chat.
        Limits { per_second: self.per_second, per_recipient: Duration::from_secs(1) }
    }

    fn send<'a>(&'a self, recipient: &'a str, message: &'a Outbound) -> BoxFuture<'a, Result<Delivered, SendError>> {
        Box::pin(async move {
            let chat: i64 =
                recipient.parse().map_err(|_| SendError::Permanent(format!("not a chat id: {recipient}")))?;
            self.deliver(chat, message, None).await
        })
    }

    fn typing<'a>(&'a self, recipient: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let (Some(bot), Ok(chat)) = (self.bot().await, recipient.parse::<i64>()) {
                let _ = bot.send_chat_action(ChatId(chat), ChatAction::Typing).await;
            }
        })
    }
}

impl Telegram {
    /// Shows `text` in a private chat as the reply being written: `sendMessageDraft`, an
    /// ephemeral preview (about 30 seconds) that the final `sendMessage` replaces. Updates of
    /// one `draft_id` are animated. Groups and channels get no preview (the method is for
    /// private chats). Best effort: nothing is stored or retried.
    pub async fn draft(&self, recipient: &str, draft_id: i64, text: &str) -> Result<(), String> {
        let chat: i64 = recipient.parse().map_err(|_| format!("{recipient:?} is not a chat id"))?;
        let text: String = text.chars().take(4096).collect();
        if chat <= 0 || draft_id == 0 || text.trim().is_empty() {
            return Ok(());
        }
        let Some(bot) = self.bot().await else { return Err("no bot token is set".into()) };
        let token = self.token.get().await;
        // Not `Url::join`: "bot123:ABC/…" would read as a URL of the scheme "bot123".
        let url = format!("{}/bot{}/sendMessageDraft", self.api_url.as_str().trim_end_matches('/'), token.expose());
        let body = serde_json::json!({"chat_id": chat, "draft_id": draft_id, "text": text});
        let resp = bot.client().post(url).json(&body).send().await.map_err(|e| redact(&e.to_string()))?;
        let status = resp.status();
        let answer: serde_json::Value = resp.json().await.map_err(|e| redact(&e.to_string()))?;
        if answer["ok"] == true {
            Ok(())
        } else {
            Err(format!("HTTP {status}: {}", answer["description"].as_str().unwrap_or("no description")))
        }
    }

    /// Sends `message` to `chat`, on behalf of the seller's business account when `business`
    /// names its connection.
    async fn deliver(
        &self,
        chat: i64,
        message: &Outbound,
        business: Option<BusinessConnectionId>,
    ) -> Result<Delivered, SendError> {
        {
            let Some(bot) = self.bot().await else {
                return Err(SendError::Retry {
                    after: Some(Duration::from_secs(30)),
                    reason: "no bot token is set".into(),
                });
            };
            let text = message.text.as_str();
            if let Some(file) = message.attachments.first() {
                return self.send_file(&bot, chat, text, file, business.as_ref()).await;
            }
            if text.trim().is_empty() {
                return Err(SendError::Permanent("empty message".into()));
            }
            // Buttons past Telegram's limits are written out as choices instead.
            let fits = super::registry::of(NAME).fits_buttons(&message.buttons);
            let written;
            let text = if fits || message.buttons.is_empty() {
                text
            } else {
                written = message.text_with_choices();
                written.as_str()
            };
            let inline = (fits && !message.buttons.is_empty()).then(|| {
                InlineKeyboardMarkup::new(message.buttons.iter().map(|row| {
                    row.iter().map(|label| InlineKeyboardButton::callback(label, label)).collect::<Vec<_>>()
                }))
            });
            // "Share my phone number": Telegram proves the number belongs to this buyer.
            let keyboard: Option<ReplyMarkup> = match message.request_phone.as_deref() {
                Some(label) => Some(ReplyMarkup::Keyboard(
                    KeyboardMarkup::new(vec![vec![KeyboardButton::new(label).request(ButtonRequest::Contact)]])
                        .one_time_keyboard()
                        .resize_keyboard(),
                )),
                None => inline.map(ReplyMarkup::InlineKeyboard),
            };
            let parts = super::split_text(text, MAX_TEXT - 96);
            let last = parts.len() - 1;
            let mut external = None;
            for (i, part) in parts.iter().enumerate() {
                let mut req = bot.send_message(ChatId(chat), escape_html(part)).parse_mode(ParseMode::Html);
                if let Some(b) = &business {
                    req = req.business_connection_id(b.clone());
                }
                if i == last
                    && let Some(k) = &keyboard
                {
                    req = req.reply_markup(k.clone());
                }
                // A 429 between parts of one long message is waited out here, so the parts
                // already sent are not sent again.
                let sent = loop {
                    match req.clone().await {
                        Err(RequestError::RetryAfter(s)) if i > 0 && s.duration() <= Duration::from_secs(30) => {
                            tokio::time::sleep(s.duration()).await;
                        }
                        other => break other,
                    }
                };
                external = Some(sent.map_err(send_error)?.id.0.to_string());
            }
            Ok(Delivered { external_id: external })
        }
    }

    /// A business connection as Telegram last described it (`None`: never heard of).
    async fn connection(&self, id: &str) -> Option<Connection> {
        let key = format!("{BUSINESS_SETTING}{id}");
        let v = self.db.call(move |c| credentials::setting(c, &key)).await.ok().flatten()?;
        serde_json::from_value(v).ok()
    }

    /// Records a `business_connection` update: who owns it and whether the bot may reply.
    async fn remember_connection(&self, c: &teloxide::types::BusinessConnection) {
        let conn = Connection {
            owner: c.user.id.0,
            can_reply: c.rights.as_ref().is_some_and(|r| r.can_reply),
            enabled: c.is_enabled,
        };
        let (key, now) = (format!("{BUSINESS_SETTING}{}", c.id.0), self.clock.now_ms());
        let value = json!(conn);
        if let Err(e) = self.db.call(move |db| credentials::set_setting(db, &key, &value, now)).await {
            tracing::error!(error = %e, "cannot store a telegram business connection");
        }
    }

    /// A message in a chat of the seller's business account: the buyer's (into the inbox as
    /// `telegram_business`), or the seller's own (the conversation is the seller's from now on).
    async fn business_inbound(&self, external: String, m: &Message) -> Option<Inbound> {
        let teloxide::types::MessageKind::Common(common) = &m.kind else { return None };
        let conn_id = common.business_connection_id.as_ref()?.0.clone();
        // Our own replies come back as business messages sent by a bot: not the seller's.
        if !m.chat.is_private() || m.sender_business_bot.is_some() {
            return None;
        }
        let conn = self.connection(&conn_id).await;
        let from = m.from.as_ref()?;
        let from_seller = conn.as_ref().is_some_and(|c| c.owner == from.id.0);
        let text = m.text().or(m.caption()).unwrap_or("").trim().to_owned();
        let mut attachments = Vec::new();
        if !from_seller {
            if let Some(photo) = m.photo().and_then(|p| p.iter().max_by_key(|s| s.width * s.height)) {
                attachments
                    .push(self.download(&photo.file.id.0, photo.file.size, "photo", None, Some("image/jpeg")).await);
            }
            if let Some(doc) = m.document() {
                let mime = doc.mime_type.as_ref().map(ToString::to_string);
                attachments.push(
                    self.download(&doc.file.id.0, doc.file.size, "document", doc.file_name.clone(), mime.as_deref())
                        .await,
                );
            }
        }
        if text.is_empty() && attachments.is_empty() {
            return None;
        }
        let name = if from_seller { String::new() } else { full_name(&from.first_name, from.last_name.as_deref()) };
        Some(Inbound {
            channel: BUSINESS,
            message_id: external,
            customer: format!("{conn_id}:{}", m.chat.id.0),
            name,
            text,
            attachments,
            verified_phone: None,
            from_seller,
        })
    }
}

/// A Telegram Business connection as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Connection {
    owner: u64,
    can_reply: bool,
    enabled: bool,
}

/// The seller's own Telegram account through Telegram Business: buyers' private chats with
/// the seller, answered on the seller's behalf while the connection allows replying.
/// Recipients are `<business_connection_id>:<chat id>`.
pub struct TelegramBusiness(pub Arc<Telegram>);

impl Channel for TelegramBusiness {
    fn name(&self) -> ChannelName {
        BUSINESS
    }

    fn limits(&self) -> Limits {
        self.0.limits()
    }

    fn send<'a>(&'a self, recipient: &'a str, message: &'a Outbound) -> BoxFuture<'a, Result<Delivered, SendError>> {
        Box::pin(async move {
            let (conn, chat) = recipient
                .rsplit_once(':')
                .and_then(|(c, chat)| Some((c, chat.parse::<i64>().ok()?)))
                .ok_or_else(|| SendError::Permanent(format!("not a business chat: {recipient}")))?;
            match self.0.connection(conn).await {
                Some(c) if c.enabled && c.can_reply => {}
                Some(_) => {
                    return Err(SendError::Permanent(
                        "the Telegram Business connection does not allow the bot to reply".into(),
                    ));
                }
                None => return Err(SendError::Permanent("unknown Telegram Business connection".into())),
            }
            self.0.deliver(chat, message, Some(BusinessConnectionId(conn.to_owned()))).await
        })
    }
}

/// What the webhook handler needs: the adapter and the inbox, nothing else of the server.
#[derive(Clone)]
pub struct Hook {
    pub telegram: Option<Arc<Telegram>>,
    pub inbox: Arc<dyn Inbox>,
}

/// `POST /telegram/webhook`: checks the secret header, stores the update, then answers 200.
pub async fn webhook(
    axum::extract::State(hook): axum::extract::State<Hook>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<axum::http::StatusCode, crate::http::error::ApiError> {
    use crate::http::error::ApiError;
    use axum::http::StatusCode;
    let Some(tg) = hook.telegram.clone() else {
        return Err(ApiError::not_found("telegram channel"));
    };
    let expected = tg.webhook_secret().await.map_err(|_| ApiError::internal())?;
    let given = headers.get("X-Telegram-Bot-Api-Secret-Token").and_then(|v| v.to_str().ok()).unwrap_or("");
    if !crate::crypto::constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid_secret", "wrong or missing secret token"));
    }
    let update: Update = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", format!("not an update: {e}")))?;
    if let Some(m) = tg.inbound(&update).await {
        hook.inbox.accept(&m).await?;
    }
    Ok(StatusCode::OK)
}
