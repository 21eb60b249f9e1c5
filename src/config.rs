//! Settings: embedded defaults, then the TOML file, then `SUPPORTD_*` environment variables.
//!
//! Every key has one environment variable, listed in [`ENV_VARS`] (README prints the same
//! table). An invalid value stops the start with a message that names the key.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A secret setting: never printed by Debug/Display, so it cannot reach a log by accident.
#[derive(Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

/// A closed set of setting values: a serde enum spelled in TOML, env and JSON exactly as
/// `$text` (an unknown value is an error naming its key), with `as_str` and `parse` for the
/// places that store or print the spelling.
macro_rules! closed_set {
    ($(#[$m:meta])* pub enum $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, Serialize, utoipa::ToSchema)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in the order the documentation lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The spelling in the config file, the environment and the API.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

closed_set! {
    /// How answers are written (`engine.answers`).
    pub enum AnswerMode {
        /// With the model chain when a provider is available, else quoting the knowledge base.
        #[default]
        Auto = "auto",
        /// Always quoting the knowledge base.
        Extractive = "extractive",
    }
}

closed_set! {
    /// How the assistant talks (`engine.tone`).
    pub enum Tone {
        #[default]
        Friendly = "friendly",
        Formal = "formal",
    }
}

closed_set! {
    /// What shows an order is the buyer's (`engine.verify_orders`).
    pub enum VerifyOrders {
        /// Knowing the order number is enough.
        #[default]
        Number = "number",
        /// The buyer must also name an item of the order, its article or the phone's last digits.
        Item = "item",
    }
}

closed_set! {
    /// What the assistant does with a marketplace's buyer questions or chats
    /// (`marketplaces.wb.questions`, `marketplaces.ozon.chats`).
    pub enum QaMode {
        /// Not fetched.
        Off = "off",
        /// The bot drafts, a person publishes.
        #[default]
        Draft = "draft",
        /// The bot answers.
        Auto = "auto",
    }
}

closed_set! {
    /// How Telegram updates arrive (`telegram.mode`; the panel can switch it at run time).
    pub enum TelegramMode {
        /// Long polling: no public address needed.
        #[default]
        Polling = "polling",
        /// Telegram posts updates to the webhook.
        Webhook = "webhook",
    }
}

closed_set! {
    /// How VK community events arrive (`vk.mode`).
    pub enum VkMode {
        /// VK posts events to /vk/callback (needs a public address).
        #[default]
        Callback = "callback",
        /// Bots Long Poll.
        LongPoll = "longpoll",
    }
}

closed_set! {
    /// How YandexGPT requests authenticate (`llm.yandexgpt.auth`).
    pub enum YandexAuth {
        /// `Authorization: Api-Key …`.
        #[default]
        ApiKey = "api-key",
        /// `Authorization: Bearer <IAM token>`.
        Iam = "iam",
    }
}

closed_set! {
    /// A provider of the model chain (`llm.chain`).
    pub enum LlmProvider {
        /// The local GGUF model.
        #[default]
        Local = "local",
        YandexGpt = "yandexgpt",
        /// Any OpenAI-compatible API.
        OpenAi = "openai",
    }
}

closed_set! {
    /// When reports are mailed (`reports.schedule`).
    pub enum ReportSchedule {
        #[default]
        Off = "off",
        /// Yesterday's report.
        Daily = "daily",
        /// Last Monday–Sunday's.
        Weekly = "weekly",
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub auth: AuthConfig,
    pub log: LogConfig,
    pub smtp: SmtpConfig,
    pub llm: LlmConfig,
    pub shop: ShopConfig,
    pub engine: EngineConfig,
    pub marketplaces: MarketplacesConfig,
    pub telegram: TelegramConfig,
    pub whatsapp: WhatsAppConfig,
    pub vk: VkConfig,
    pub widget: WidgetConfig,
    pub notifications: NotificationsConfig,
    pub licence: LicenceConfig,
    pub backup: BackupConfig,
    pub privacy: PrivacyConfig,
    pub reports: ReportsConfig,
}

/// Reports e-mailed on a schedule (the settings page may override these).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ReportsConfig {
    /// "off", "daily" (yesterday's report) or "weekly" (last Monday–Sunday's).
    pub schedule: ReportSchedule,
    /// Who gets them (e-mail addresses).
    pub recipients: Vec<String>,
    /// The day a weekly report is sent, 1 = Monday … 7 = Sunday.
    pub weekday: u8,
    /// The hour it is sent, shop time (0–23).
    pub hour: u8,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        Self { schedule: ReportSchedule::Off, recipients: Vec::new(), weekday: 1, hour: 9 }
    }
}

impl ReportsConfig {
    /// The first problem with these settings, as (key, message).
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.recipients.len() > 20 {
            return Err(("reports.recipients", "at most 20 addresses".into()));
        }
        for r in &self.recipients {
            if crate::domain::Email::parse(r).is_err() {
                return Err(("reports.recipients", format!("{r:?} is not an e-mail address")));
            }
        }
        if !(1..=7).contains(&self.weekday) {
            return Err(("reports.weekday", "1 (Monday) to 7 (Sunday)".into()));
        }
        if self.hour > 23 {
            return Err(("reports.hour", "0 to 23".into()));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct LicenceConfig {
    /// Debug builds only (tests, development): trust this Ed25519 public key (base64 or PEM)
    /// instead of the vendor's. A release build refuses the setting.
    pub public_key: String,
}

/// Scheduled, checked copies of the database and the secret key (`backup.rs`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// Hours between scheduled copies; 0 turns them off.
    pub every_hours: u64,
    /// Scheduled copies kept; older ones are deleted.
    pub keep: u32,
    /// Where the copies go; a relative path is inside the data directory.
    pub dir: PathBuf,
    /// With a passphrase each copy (database and secret key) is one encrypted file
    /// (argon2id + XChaCha20-Poly1305); without one the key file is written beside the copy.
    pub passphrase: Secret,
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self { every_hours: 24, keep: 7, dir: PathBuf::from("backups"), passphrase: Secret::default() }
    }
}

impl BackupConfig {
    /// The backup directory resolved against the data directory.
    pub fn dir_in(&self, data_dir: &Path) -> PathBuf {
        data_dir.join(&self.dir)
    }
}

/// How long buyers' data is kept (`privacy.rs`); 0 keeps it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacyConfig {
    /// Conversations whose last message is older than this many days are deleted with their
    /// messages and files (and the buyer, when nothing of theirs is left).
    pub keep_conversations_days: u32,
    /// Buyers' photos and documents (and files operators sent) older than this many days are
    /// deleted; the messages stay, marked.
    pub keep_files_days: u32,
}

/// HTTPS served by supportd itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain HTTP (on loopback behind a reverse proxy that terminates HTTPS).
    #[default]
    Off,
    /// A certificate obtained and renewed by ACME (Let's Encrypt), HTTP-01 challenges.
    Acme,
    /// A certificate and key from files, reloaded when they change.
    Files,
}

/// Let's Encrypt's production ACME directory.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotificationsConfig {
    /// Tell linked buyers when their order ships, reaches the pick-up point or is cancelled.
    pub enabled: bool,
    /// Templates: {number}, {marketplace}, {items}, {eta}, {pickup_point}, {storage_until}.
    pub in_transit: String,
    pub ready_for_pickup: String,
    pub cancelled: String,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            in_transit: crate::texts::defaults::NOTIFY_IN_TRANSIT.into(),
            ready_for_pickup: crate::texts::defaults::NOTIFY_READY_FOR_PICKUP.into(),
            cancelled: crate::texts::defaults::NOTIFY_CANCELLED.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct WidgetConfig {
    /// Sites allowed to embed the chat widget ("https://shop.ru"); the panel's own origin
    /// always is. "*" allows any site.
    pub allowed_origins: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// The address people use to reach the panel (used in links sent by e-mail).
    pub public_url: String,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Longest time one request may take, in seconds.
    pub request_timeout_secs: u64,
    /// How long shutdown waits for in-flight requests, in seconds.
    pub shutdown_grace_secs: u64,
    /// Trust `X-Forwarded-For` / `X-Real-IP` (only behind your own reverse proxy).
    pub trust_proxy_headers: bool,
    /// SQLite connections in the pool.
    pub db_pool_size: usize,
    /// HTTPS in the binary: "off", "acme" or "files".
    pub tls: TlsMode,
    /// The site's name (the certificate's, and where plain HTTP is redirected), e.g. "support.shop.ru".
    pub domain: String,
    /// Contact address given to the ACME CA (it warns there before a certificate expires).
    pub acme_email: String,
    /// The ACME directory (another CA, its staging directory, or a test server).
    pub acme_directory_url: String,
    /// An extra root certificate (PEM) trusted for the ACME directory (a private CA).
    pub acme_ca_file: PathBuf,
    /// "files": the certificate chain and the private key (PEM), reloaded when they change.
    pub tls_cert_file: PathBuf,
    pub tls_key_file: PathBuf,
    /// A plain-HTTP listener that redirects to HTTPS and answers ACME challenges, e.g.
    /// "0.0.0.0:80"; empty: none.
    pub http_redirect_listen: String,
}

impl ServerConfig {
    /// The redirect listener's address, when there is one (validated at load).
    pub fn redirect_listen(&self) -> Option<SocketAddr> {
        self.http_redirect_listen.trim().parse().ok()
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: "http://127.0.0.1:8080".into(),
            max_body_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            shutdown_grace_secs: 20,
            trust_proxy_headers: false,
            db_pool_size: 4,
            tls: TlsMode::Off,
            domain: String::new(),
            acme_email: String::new(),
            acme_directory_url: LETS_ENCRYPT.into(),
            acme_ca_file: PathBuf::new(),
            tls_cert_file: PathBuf::new(),
            tls_key_file: PathBuf::new(),
            http_redirect_listen: String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Lifetime of a browser session, in hours.
    pub session_ttl_hours: u64,
    /// Default lifetime of an API token, in days.
    pub api_token_ttl_days: u64,
    /// Lifetime of a password-reset link, in minutes.
    pub reset_token_ttl_minutes: u64,
    /// Failed logins for one account within the window before it is throttled.
    pub max_failures_per_account: u32,
    /// Failed logins from one IP address within the window before it is throttled.
    pub max_failures_per_ip: u32,
    /// The throttling window, in seconds.
    pub failure_window_secs: u64,
    /// Mark cookies `Secure`; "auto" means: when public_url is https.
    pub secure_cookies: CookieSecurity,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            session_ttl_hours: 24 * 7,
            api_token_ttl_days: 365,
            reset_token_ttl_minutes: 60,
            max_failures_per_account: 5,
            max_failures_per_ip: 20,
            failure_window_secs: 15 * 60,
            secure_cookies: CookieSecurity::Auto,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CookieSecurity {
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `tracing` filter, e.g. "info" or "supportd=debug,info".
    pub level: String,
    /// "pretty" for people, "json" for log collectors.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { level: "info".into(), format: LogFormat::Pretty }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    /// Mail relay host; empty disables e-mail (reset links are then printed by the CLI).
    pub host: String,
    pub port: u16,
    /// "starttls", "tls" (implicit, port 465) or "none" (local relays only).
    pub tls: SmtpTls,
    pub username: String,
    pub password: Secret,
    /// Sender address, e.g. "Магазин <support@example.ru>".
    pub from: String,
    pub timeout_secs: u64,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: 587,
            tls: SmtpTls::Starttls,
            username: String::new(),
            password: Secret::default(),
            from: String::new(),
            timeout_secs: 15,
        }
    }
}

impl SmtpConfig {
    pub fn enabled(&self) -> bool {
        !self.host.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    #[default]
    Starttls,
    Tls,
    None,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    /// Providers tried in order: "local", "yandexgpt", "openai".
    pub chain: Vec<LlmProvider>,
    /// Tokens of prompt + answer given to the model.
    pub context_tokens: usize,
    /// Longest answer, in tokens.
    pub max_answer_tokens: usize,
    /// Longest time one provider may take for one answer, seconds.
    pub timeout_secs: u64,
    /// How long an answer to the same question with the same facts is reused; 0: never.
    pub cache_ttl_secs: u64,
    /// Consecutive failures after which a provider is paused, and for how long (seconds).
    pub breaker_failures: u32,
    pub breaker_cooldown_secs: u64,
    /// Share of a monthly budget after which a warning is shown, percent.
    pub budget_warn_percent: u32,
    pub local: LocalLlmConfig,
    pub openai: OpenAiConfig,
    pub yandexgpt: YandexGptConfig,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            chain: vec![LlmProvider::Local],
            context_tokens: 4000,
            max_answer_tokens: 300,
            timeout_secs: 30,
            cache_ttl_secs: 86_400,
            breaker_failures: 3,
            breaker_cooldown_secs: 60,
            budget_warn_percent: 80,
            local: LocalLlmConfig::default(),
            openai: OpenAiConfig::default(),
            yandexgpt: YandexGptConfig::default(),
        }
    }
}

/// Minutes since midnight of "HH:MM".
pub fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && s.trim().len() == 5).then_some(h * 60 + m)
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocalLlmConfig {
    /// The chat model (GGUF); relative paths are inside the data directory.
    pub model: PathBuf,
    /// Requests that may wait while the model answers another one.
    pub queue: usize,
    /// Longest expected or actual wait for the local model, ms, before the request goes to the
    /// next provider in the chain (0: wait within the queue bound).
    pub max_wait_ms: u64,
    /// Draft greedy answers by prompt lookup, verified in batched steps (the same tokens).
    pub speculative: bool,
}

impl Default for LocalLlmConfig {
    fn default() -> Self {
        Self { model: PathBuf::from(DEFAULT_MODEL_PATH), queue: 4, max_wait_ms: 4000, speculative: true }
    }
}

/// Where `supportd model pull` puts the default model.
pub const DEFAULT_MODEL_PATH: &str = "models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf";

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpenAiConfig {
    /// Any OpenAI-compatible API: OpenAI, vLLM, llama.cpp server, Ollama (…/v1).
    pub base_url: String,
    pub model: String,
    /// Prefer the encrypted store: `supportd llm set-key openai`.
    pub api_key: Secret,
    pub price_input_rub_per_m: f64,
    pub price_output_rub_per_m: f64,
    /// 0: no cap.
    pub monthly_budget_rub: f64,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        Self {
            base_url: "https://api.openai.com/v1".into(),
            model: "gpt-4o-mini".into(),
            api_key: Secret::default(),
            price_input_rub_per_m: 15.0,
            price_output_rub_per_m: 60.0,
            monthly_budget_rub: 0.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct YandexGptConfig {
    pub base_url: String,
    pub folder_id: String,
    /// "yandexgpt-lite/latest", "yandexgpt/latest", or a full gpt:// URI.
    pub model: String,
    /// "api-key" or "iam".
    pub auth: YandexAuth,
    /// Prefer the encrypted store: `supportd llm set-key yandexgpt`.
    pub api_key: Secret,
    pub price_input_rub_per_m: f64,
    pub price_output_rub_per_m: f64,
    pub monthly_budget_rub: f64,
}

impl Default for YandexGptConfig {
    fn default() -> Self {
        Self {
            base_url: "https://llm.api.cloud.yandex.net".into(),
            folder_id: String::new(),
            model: "yandexgpt-lite/latest".into(),
            auth: YandexAuth::ApiKey,
            api_key: Secret::default(),
            price_input_rub_per_m: 200.0,
            price_output_rub_per_m: 200.0,
            monthly_budget_rub: 0.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ShopConfig {
    /// The shop's name, as the assistant introduces it.
    pub name: String,
    /// The shop's time zone as minutes east of UTC (Moscow: 180).
    pub utc_offset_minutes: i32,
    /// Days people answer, 1 = Monday … 7 = Sunday.
    pub work_days: Vec<u8>,
    /// Hours people answer, "HH:MM" local time; `work_to` before `work_from` runs past midnight.
    pub work_from: String,
    pub work_to: String,
}

impl Default for ShopConfig {
    fn default() -> Self {
        Self {
            name: crate::texts::defaults::SHOP_NAME.into(),
            utc_offset_minutes: 180,
            work_days: vec![1, 2, 3, 4, 5, 6, 7],
            work_from: "09:00".into(),
            work_to: "21:00".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// Below this intent confidence (0–1) the assistant asks once, then hands over.
    pub min_confidence: f32,
    /// Intents always handed to a person (e.g. "complaint", "cancel_order").
    pub human_only_intents: Vec<String>,
    /// Unanswered messages in a row after which a person takes over.
    pub max_misses: u32,
    /// Earlier messages of the conversation given to the model.
    pub history_messages: usize,
    /// Ask the buyer for a 1–5 rating when a conversation is resolved.
    pub ask_rating: bool,
    /// "auto": write answers with the model chain when a provider is available, else quote the
    /// knowledge base; "extractive": always quote the knowledge base.
    pub answers: AnswerMode,
    /// How the assistant talks: "friendly" or "formal".
    pub tone: Tone,
    /// What shows an order is the buyer's: "number" (knowing the order number is enough) or
    /// "item" (the buyer must also name an item of the order, its article, or the last four
    /// digits of the phone on it, before the order is shown and linked).
    pub verify_orders: VerifyOrders,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            min_confidence: 0.45,
            human_only_intents: Vec::new(),
            max_misses: 2,
            history_messages: 20,
            ask_rating: true,
            answers: AnswerMode::Auto,
            tone: Tone::Friendly,
            verify_orders: VerifyOrders::Number,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarketplacesConfig {
    /// A cached order younger than this is answered from the cache, seconds.
    pub order_fresh_secs: u64,
    /// Incremental sync period, minutes (a full sync runs nightly after 03:00 shop time).
    pub sync_every_minutes: u64,
    /// How far back a full sync reaches, days.
    pub full_sync_days: u32,
    /// How often buyers' marketplace questions and chats are fetched, seconds.
    pub questions_every_secs: u64,
    /// Longest wait for a live order lookup before answering from the cache, milliseconds.
    pub lookup_timeout_ms: u64,
    /// The shop's own answer deadline for marketplace threads whose marketplace sets none
    /// (WB questions and chats, Ozon reviews and questions), hours.
    pub reply_target_hours: u32,
    pub wb: WbConfig,
    pub ozon: OzonConfig,
}

impl Default for MarketplacesConfig {
    fn default() -> Self {
        Self {
            order_fresh_secs: 600,
            sync_every_minutes: 15,
            full_sync_days: 90,
            questions_every_secs: 60,
            lookup_timeout_ms: 2000,
            reply_target_hours: 24,
            wb: WbConfig::default(),
            ozon: OzonConfig::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WbConfig {
    /// Sends every WB API group to this host (tests, proxies); empty: each group's real host.
    pub base_url: String,
    pub token: Secret,
    /// Buyers' questions on WB: "off", "draft" (the bot drafts, a person publishes) or "auto".
    pub questions: QaMode,
}

impl Default for WbConfig {
    fn default() -> Self {
        Self { base_url: String::new(), token: Secret::default(), questions: QaMode::Draft }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OzonConfig {
    pub base_url: String,
    pub client_id: Secret,
    pub api_key: Secret,
    /// Buyers' chats on Ozon: "off", "draft" (the bot drafts, a person sends) or "auto".
    pub chats: QaMode,
}

impl Default for OzonConfig {
    fn default() -> Self {
        Self {
            base_url: crate::marketplace::ozon::DEFAULT_BASE_URL.into(),
            client_id: Secret::default(),
            api_key: Secret::default(),
            chats: QaMode::Draft,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelegramConfig {
    /// The Bot API server (another one for tests or a local Bot API server).
    pub api_url: String,
    /// "polling" (no public address needed) or "webhook"; the panel can switch it at run time.
    pub mode: TelegramMode,
    /// Prefer the encrypted store: `supportd channel telegram set-token`.
    pub token: Secret,
    /// Where Telegram posts updates in webhook mode [default: server.public_url + /telegram/webhook].
    pub webhook_url: String,
    /// Largest photo or document fetched from buyers, bytes (the Bot API serves up to 20 MB).
    pub max_file_bytes: u64,
    /// Messages per second to Telegram overall (the Bot API allows about 30; one per second per
    /// chat always applies).
    pub messages_per_second: f64,
}

/// The Bot API's real host.
pub const TELEGRAM_API_URL: &str = "https://api.telegram.org";

impl Default for TelegramConfig {
    fn default() -> Self {
        Self {
            api_url: TELEGRAM_API_URL.into(),
            mode: TelegramMode::Polling,
            token: Secret::default(),
            webhook_url: String::new(),
            max_file_bytes: 10 * 1024 * 1024,
            messages_per_second: 30.0,
        }
    }
}

/// WhatsApp Business (Cloud API). Secrets are better stored encrypted from the settings page.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WhatsAppConfig {
    /// The Graph API server (a test double in tests).
    pub api_url: String,
    /// A system user's access token with whatsapp_business_messaging.
    pub token: Secret,
    /// The business phone number's id (not the number itself).
    pub phone_number_id: String,
    /// The WhatsApp Business Account id, for syncing the approved templates.
    pub business_account_id: String,
    /// What Meta sends back when the webhook is verified.
    pub verify_token: Secret,
    /// The Meta app's secret: every webhook POST is signed with it (X-Hub-Signature-256).
    pub app_secret: Secret,
    /// Largest image or document fetched from buyers, bytes.
    pub max_file_bytes: u64,
}

/// The Graph API's real host.
pub const WHATSAPP_API_URL: &str = "https://graph.facebook.com";

impl Default for WhatsAppConfig {
    fn default() -> Self {
        Self {
            api_url: WHATSAPP_API_URL.into(),
            token: Secret::default(),
            phone_number_id: String::new(),
            business_account_id: String::new(),
            verify_token: Secret::default(),
            app_secret: Secret::default(),
            max_file_bytes: 10 * 1024 * 1024,
        }
    }
}

/// VK community messages (Callback API or Bots Long Poll).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VkConfig {
    /// The VK API server.
    pub api_url: String,
    /// The community's access token (messages allowed).
    pub token: Secret,
    /// The community's id (digits, without the minus).
    pub group_id: u64,
    /// The string the Callback API expects back from the `confirmation` event.
    pub confirmation: String,
    /// The secret key set in the Callback API settings: every event carries it.
    pub secret: Secret,
    /// "callback" (VK posts events to /vk/callback; needs a public address) or "longpoll".
    pub mode: VkMode,
    /// Largest photo or document fetched from buyers, bytes.
    pub max_file_bytes: u64,
}

/// The VK API's real host.
pub const VK_API_URL: &str = "https://api.vk.com";

impl Default for VkConfig {
    fn default() -> Self {
        Self {
            api_url: VK_API_URL.into(),
            token: Secret::default(),
            group_id: 0,
            confirmation: String::new(),
            secret: Secret::default(),
            mode: VkMode::Callback,
            max_file_bytes: 10 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Int,
    Float,
    Bool,
    /// Comma-separated.
    List,
}

/// One environment variable per key: (variable, key, kind, description).
/// Variables only the test suite reads (README, "Testing"): never the product's configuration.
pub const TEST_ENV_VARS: &[(&str, &str)] = &[
    ("SUPPORTD_TEST_SMOLLM", "the installed SmolLM2-135M GGUF for the real-weights tests (tests/run.sh sets it)"),
    ("SUPPORTD_REQUIRE_TEST_MODELS", "set: a missing test model fails the tests instead of skipping them"),
];

pub const ENV_VARS: &[(&str, &str, Kind, &str)] = &[
    ("SUPPORTD_LISTEN", "server.listen", Kind::Str, "address to listen on"),
    ("SUPPORTD_PUBLIC_URL", "server.public_url", Kind::Str, "URL people use to reach the panel"),
    ("SUPPORTD_MAX_BODY_BYTES", "server.max_body_bytes", Kind::Int, "largest request body"),
    ("SUPPORTD_REQUEST_TIMEOUT_SECS", "server.request_timeout_secs", Kind::Int, "per-request time limit"),
    ("SUPPORTD_SHUTDOWN_GRACE_SECS", "server.shutdown_grace_secs", Kind::Int, "shutdown wait for requests"),
    ("SUPPORTD_TRUST_PROXY_HEADERS", "server.trust_proxy_headers", Kind::Bool, "trust X-Forwarded-For"),
    ("SUPPORTD_DB_POOL_SIZE", "server.db_pool_size", Kind::Int, "SQLite connections"),
    ("SUPPORTD_TLS", "server.tls", Kind::Str, "off, acme or files"),
    ("SUPPORTD_DOMAIN", "server.domain", Kind::Str, "the site's name for HTTPS"),
    ("SUPPORTD_ACME_EMAIL", "server.acme_email", Kind::Str, "contact address for the ACME CA"),
    ("SUPPORTD_ACME_DIRECTORY_URL", "server.acme_directory_url", Kind::Str, "ACME directory"),
    ("SUPPORTD_ACME_CA_FILE", "server.acme_ca_file", Kind::Str, "extra root trusted for the ACME directory"),
    ("SUPPORTD_TLS_CERT_FILE", "server.tls_cert_file", Kind::Str, "certificate chain (files mode)"),
    ("SUPPORTD_TLS_KEY_FILE", "server.tls_key_file", Kind::Str, "private key (files mode)"),
    ("SUPPORTD_HTTP_REDIRECT_LISTEN", "server.http_redirect_listen", Kind::Str, "plain-HTTP redirect listener"),
    ("SUPPORTD_SESSION_TTL_HOURS", "auth.session_ttl_hours", Kind::Int, "browser session lifetime"),
    ("SUPPORTD_API_TOKEN_TTL_DAYS", "auth.api_token_ttl_days", Kind::Int, "default API token lifetime"),
    ("SUPPORTD_RESET_TOKEN_TTL_MINUTES", "auth.reset_token_ttl_minutes", Kind::Int, "reset link lifetime"),
    ("SUPPORTD_MAX_FAILURES_PER_ACCOUNT", "auth.max_failures_per_account", Kind::Int, "login throttle"),
    ("SUPPORTD_MAX_FAILURES_PER_IP", "auth.max_failures_per_ip", Kind::Int, "login throttle per IP"),
    ("SUPPORTD_FAILURE_WINDOW_SECS", "auth.failure_window_secs", Kind::Int, "login throttle window"),
    ("SUPPORTD_SECURE_COOKIES", "auth.secure_cookies", Kind::Str, "auto, always or never"),
    ("SUPPORTD_LOG", "log.level", Kind::Str, "log filter"),
    ("SUPPORTD_LOG_FORMAT", "log.format", Kind::Str, "pretty or json"),
    ("SUPPORTD_SMTP_HOST", "smtp.host", Kind::Str, "mail relay host"),
    ("SUPPORTD_SMTP_PORT", "smtp.port", Kind::Int, "mail relay port"),
    ("SUPPORTD_SMTP_TLS", "smtp.tls", Kind::Str, "starttls, tls or none"),
    ("SUPPORTD_SMTP_USERNAME", "smtp.username", Kind::Str, "mail relay login"),
    ("SUPPORTD_SMTP_PASSWORD", "smtp.password", Kind::Str, "mail relay password"),
    ("SUPPORTD_SMTP_FROM", "smtp.from", Kind::Str, "sender address"),
    ("SUPPORTD_SMTP_TIMEOUT_SECS", "smtp.timeout_secs", Kind::Int, "mail relay timeout"),
    ("SUPPORTD_LLM_CHAIN", "llm.chain", Kind::List, "model providers in order"),
    ("SUPPORTD_LLM_CONTEXT_TOKENS", "llm.context_tokens", Kind::Int, "prompt + answer token budget"),
    ("SUPPORTD_LLM_MAX_ANSWER_TOKENS", "llm.max_answer_tokens", Kind::Int, "longest answer"),
    ("SUPPORTD_LLM_TIMEOUT_SECS", "llm.timeout_secs", Kind::Int, "time limit per provider"),
    ("SUPPORTD_LLM_CACHE_TTL_SECS", "llm.cache_ttl_secs", Kind::Int, "answer cache lifetime"),
    ("SUPPORTD_LLM_BREAKER_FAILURES", "llm.breaker_failures", Kind::Int, "failures that pause a provider"),
    ("SUPPORTD_LLM_BREAKER_COOLDOWN_SECS", "llm.breaker_cooldown_secs", Kind::Int, "pause length"),
    ("SUPPORTD_LLM_BUDGET_WARN_PERCENT", "llm.budget_warn_percent", Kind::Int, "budget warning threshold"),
    ("SUPPORTD_MODEL_PATH", "llm.local.model", Kind::Str, "local chat model file"),
    ("SUPPORTD_LLM_QUEUE", "llm.local.queue", Kind::Int, "requests waiting for the local model"),
    (
        "SUPPORTD_LLM_MAX_WAIT_MS",
        "llm.local.max_wait_ms",
        Kind::Int,
        "longest wait for the local model before the next provider answers",
    ),
    ("SUPPORTD_LLM_SPECULATIVE", "llm.local.speculative", Kind::Bool, "prompt-lookup drafting of greedy answers"),
    ("SUPPORTD_OPENAI_BASE_URL", "llm.openai.base_url", Kind::Str, "OpenAI-compatible API URL"),
    ("SUPPORTD_OPENAI_MODEL", "llm.openai.model", Kind::Str, "OpenAI model"),
    ("SUPPORTD_OPENAI_API_KEY", "llm.openai.api_key", Kind::Str, "OpenAI key"),
    (
        "SUPPORTD_OPENAI_PRICE_INPUT_RUB_PER_M",
        "llm.openai.price_input_rub_per_m",
        Kind::Float,
        "price of prompt tokens",
    ),
    (
        "SUPPORTD_OPENAI_PRICE_OUTPUT_RUB_PER_M",
        "llm.openai.price_output_rub_per_m",
        Kind::Float,
        "price of answer tokens",
    ),
    ("SUPPORTD_OPENAI_MONTHLY_BUDGET_RUB", "llm.openai.monthly_budget_rub", Kind::Float, "monthly cap, rubles"),
    ("SUPPORTD_YANDEXGPT_BASE_URL", "llm.yandexgpt.base_url", Kind::Str, "Foundation Models API URL"),
    ("SUPPORTD_YANDEXGPT_FOLDER_ID", "llm.yandexgpt.folder_id", Kind::Str, "Yandex Cloud folder"),
    ("SUPPORTD_YANDEXGPT_MODEL", "llm.yandexgpt.model", Kind::Str, "YandexGPT model"),
    ("SUPPORTD_YANDEXGPT_AUTH", "llm.yandexgpt.auth", Kind::Str, "api-key or iam"),
    ("SUPPORTD_YANDEXGPT_API_KEY", "llm.yandexgpt.api_key", Kind::Str, "API key or IAM token"),
    (
        "SUPPORTD_YANDEXGPT_PRICE_INPUT_RUB_PER_M",
        "llm.yandexgpt.price_input_rub_per_m",
        Kind::Float,
        "price of prompt tokens",
    ),
    (
        "SUPPORTD_YANDEXGPT_PRICE_OUTPUT_RUB_PER_M",
        "llm.yandexgpt.price_output_rub_per_m",
        Kind::Float,
        "price of answer tokens",
    ),
    ("SUPPORTD_YANDEXGPT_MONTHLY_BUDGET_RUB", "llm.yandexgpt.monthly_budget_rub", Kind::Float, "monthly cap, rubles"),
    ("SUPPORTD_SHOP_NAME", "shop.name", Kind::Str, "shop name"),
    ("SUPPORTD_SHOP_UTC_OFFSET_MINUTES", "shop.utc_offset_minutes", Kind::Int, "shop time zone"),
    ("SUPPORTD_SHOP_WORK_DAYS", "shop.work_days", Kind::List, "working days, 1 = Monday"),
    ("SUPPORTD_SHOP_WORK_FROM", "shop.work_from", Kind::Str, "people answer from"),
    ("SUPPORTD_SHOP_WORK_TO", "shop.work_to", Kind::Str, "people answer until"),
    ("SUPPORTD_ENGINE_MIN_CONFIDENCE", "engine.min_confidence", Kind::Float, "intent confidence to answer"),
    ("SUPPORTD_ENGINE_HUMAN_ONLY_INTENTS", "engine.human_only_intents", Kind::List, "intents for people only"),
    ("SUPPORTD_ENGINE_MAX_MISSES", "engine.max_misses", Kind::Int, "misses before handoff"),
    ("SUPPORTD_ENGINE_HISTORY_MESSAGES", "engine.history_messages", Kind::Int, "history given to the model"),
    ("SUPPORTD_ENGINE_ASK_RATING", "engine.ask_rating", Kind::Bool, "ask for a 1–5 rating"),
    ("SUPPORTD_ENGINE_ANSWERS", "engine.answers", Kind::Str, "auto or extractive"),
    ("SUPPORTD_ENGINE_TONE", "engine.tone", Kind::Str, "friendly or formal"),
    ("SUPPORTD_ENGINE_VERIFY_ORDERS", "engine.verify_orders", Kind::Str, "number or item"),
    ("SUPPORTD_ORDER_FRESH_SECS", "marketplaces.order_fresh_secs", Kind::Int, "order cache freshness"),
    ("SUPPORTD_SYNC_EVERY_MINUTES", "marketplaces.sync_every_minutes", Kind::Int, "incremental sync period"),
    ("SUPPORTD_FULL_SYNC_DAYS", "marketplaces.full_sync_days", Kind::Int, "full sync depth"),
    ("SUPPORTD_QUESTIONS_EVERY_SECS", "marketplaces.questions_every_secs", Kind::Int, "question polling period"),
    (
        "SUPPORTD_REPLY_TARGET_HOURS",
        "marketplaces.reply_target_hours",
        Kind::Int,
        "answer deadline for marketplace threads the marketplace sets none for",
    ),
    ("SUPPORTD_ORDER_LOOKUP_TIMEOUT_MS", "marketplaces.lookup_timeout_ms", Kind::Int, "live order lookup limit"),
    ("SUPPORTD_WB_BASE_URL", "marketplaces.wb.base_url", Kind::Str, "Wildberries API host override"),
    ("SUPPORTD_WB_TOKEN", "marketplaces.wb.token", Kind::Str, "Wildberries token"),
    ("SUPPORTD_WB_QUESTIONS", "marketplaces.wb.questions", Kind::Str, "off, draft or auto"),
    ("SUPPORTD_OZON_BASE_URL", "marketplaces.ozon.base_url", Kind::Str, "Ozon Seller API URL"),
    ("SUPPORTD_OZON_CLIENT_ID", "marketplaces.ozon.client_id", Kind::Str, "Ozon Client-Id"),
    ("SUPPORTD_OZON_API_KEY", "marketplaces.ozon.api_key", Kind::Str, "Ozon Api-Key"),
    ("SUPPORTD_OZON_CHATS", "marketplaces.ozon.chats", Kind::Str, "off, draft or auto"),
    ("SUPPORTD_TELEGRAM_API_URL", "telegram.api_url", Kind::Str, "Telegram Bot API server"),
    ("SUPPORTD_TELEGRAM_MODE", "telegram.mode", Kind::Str, "polling or webhook"),
    ("SUPPORTD_TELEGRAM_TOKEN", "telegram.token", Kind::Str, "Telegram bot token"),
    ("SUPPORTD_TELEGRAM_WEBHOOK_URL", "telegram.webhook_url", Kind::Str, "public webhook address"),
    ("SUPPORTD_TELEGRAM_MAX_FILE_BYTES", "telegram.max_file_bytes", Kind::Int, "largest file from buyers"),
    ("SUPPORTD_TELEGRAM_MESSAGES_PER_SECOND", "telegram.messages_per_second", Kind::Float, "send rate to Telegram"),
    ("SUPPORTD_NOTIFICATIONS_ENABLED", "notifications.enabled", Kind::Bool, "order status notifications"),
    ("SUPPORTD_WHATSAPP_API_URL", "whatsapp.api_url", Kind::Str, "WhatsApp Graph API server"),
    ("SUPPORTD_WHATSAPP_TOKEN", "whatsapp.token", Kind::Str, "WhatsApp access token"),
    ("SUPPORTD_WHATSAPP_PHONE_NUMBER_ID", "whatsapp.phone_number_id", Kind::Str, "WhatsApp phone number id"),
    (
        "SUPPORTD_WHATSAPP_BUSINESS_ACCOUNT_ID",
        "whatsapp.business_account_id",
        Kind::Str,
        "WhatsApp Business Account id (templates)",
    ),
    ("SUPPORTD_WHATSAPP_VERIFY_TOKEN", "whatsapp.verify_token", Kind::Str, "webhook verify token"),
    ("SUPPORTD_WHATSAPP_APP_SECRET", "whatsapp.app_secret", Kind::Str, "Meta app secret (signatures)"),
    ("SUPPORTD_WHATSAPP_MAX_FILE_BYTES", "whatsapp.max_file_bytes", Kind::Int, "largest file from buyers"),
    ("SUPPORTD_VK_API_URL", "vk.api_url", Kind::Str, "VK API server"),
    ("SUPPORTD_VK_TOKEN", "vk.token", Kind::Str, "VK community token"),
    ("SUPPORTD_VK_GROUP_ID", "vk.group_id", Kind::Int, "VK community id"),
    ("SUPPORTD_VK_CONFIRMATION", "vk.confirmation", Kind::Str, "Callback API confirmation string"),
    ("SUPPORTD_VK_SECRET", "vk.secret", Kind::Str, "Callback API secret key"),
    ("SUPPORTD_VK_MODE", "vk.mode", Kind::Str, "callback or longpoll"),
    ("SUPPORTD_VK_MAX_FILE_BYTES", "vk.max_file_bytes", Kind::Int, "largest file from buyers"),
    ("SUPPORTD_WIDGET_ALLOWED_ORIGINS", "widget.allowed_origins", Kind::List, "sites that may embed the widget"),
    ("SUPPORTD_LICENCE_PUBLIC_KEY", "licence.public_key", Kind::Str, "licence key to trust (debug builds only)"),
    ("SUPPORTD_BACKUP_EVERY_HOURS", "backup.every_hours", Kind::Int, "hours between scheduled backups"),
    ("SUPPORTD_BACKUP_KEEP", "backup.keep", Kind::Int, "scheduled backups kept"),
    ("SUPPORTD_BACKUP_DIR", "backup.dir", Kind::Str, "backup directory"),
    ("SUPPORTD_BACKUP_PASSPHRASE", "backup.passphrase", Kind::Str, "passphrase that encrypts backups"),
    (
        "SUPPORTD_PRIVACY_KEEP_CONVERSATIONS_DAYS",
        "privacy.keep_conversations_days",
        Kind::Int,
        "conversation retention, days",
    ),
    ("SUPPORTD_PRIVACY_KEEP_FILES_DAYS", "privacy.keep_files_days", Kind::Int, "file retention, days"),
    ("SUPPORTD_REPORTS_SCHEDULE", "reports.schedule", Kind::Str, "off, daily or weekly"),
    ("SUPPORTD_REPORTS_RECIPIENTS", "reports.recipients", Kind::List, "who gets the reports"),
    ("SUPPORTD_REPORTS_WEEKDAY", "reports.weekday", Kind::Int, "weekly report's day, 1 = Monday"),
    ("SUPPORTD_REPORTS_HOUR", "reports.hour", Kind::Int, "report hour, shop time"),
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("the config file {path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("invalid setting `{key}`{origin}: {message}")]
    Invalid { key: String, origin: String, message: String },
    #[error("invalid environment variable {var} (setting `{key}`): {message}")]
    Env { var: String, key: String, message: String },
}

/// What the settings page may change at run time (stored in the `settings` table, laid over the
/// config file at start).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssistantSettings {
    pub shop: ShopConfig,
    pub engine: EngineConfig,
}

/// The key of the stored assistant settings.
pub const ASSISTANT_SETTINGS: &str = "assistant";

impl Config {
    /// The config with stored assistant settings laid over it.
    pub fn with_assistant(&self, a: &AssistantSettings) -> Config {
        let mut c = self.clone();
        c.shop = a.shop.clone();
        c.engine = a.engine.clone();
        c
    }

    /// Loads `file` (if it exists) over the defaults, then applies `env` overrides.
    pub fn load(file: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut table = toml::Table::new();
        let mut origin = String::new();
        if let Some(path) = file.filter(|p| p.exists()) {
            let text =
                std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
            table = text
                .parse::<toml::Table>()
                .map_err(|e| ConfigError::Syntax { path: path.to_owned(), message: e.message().to_owned() })?;
            origin = format!(" in {}", path.display());
        }
        let mut from_env = Vec::new();
        for &(var, key, kind, _) in ENV_VARS {
            let Some(raw) = env(var) else { continue };
            let value = parse_env(kind, &raw).map_err(|message| ConfigError::Env {
                var: var.into(),
                key: key.into(),
                message,
            })?;
            set_path(&mut table, key, value);
            from_env.push((key, var));
        }
        let mut config: Config = serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            let key = e.path().to_string();
            let message = e.inner().to_string();
            match from_env.iter().find(|(k, _)| *k == key) {
                Some((_, var)) => ConfigError::Env { var: (*var).into(), key, message },
                None => ConfigError::Invalid { key, origin: origin.clone(), message },
            }
        })?;
        config.derive_public_url();
        config.validate().map_err(|(key, message)| match from_env.iter().find(|(k, _)| *k == key) {
            Some((_, var)) => ConfigError::Env { var: (*var).into(), key: key.into(), message },
            None => ConfigError::Invalid { key: key.into(), origin, message },
        })?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let url = &self.server.public_url;
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
            return Err(("server.public_url", format!("{url:?} must be an http:// or https:// URL")));
        }
        let positive: [(&'static str, u64); 8] = [
            ("server.max_body_bytes", self.server.max_body_bytes as u64),
            ("server.request_timeout_secs", self.server.request_timeout_secs),
            ("server.db_pool_size", self.server.db_pool_size as u64),
            ("auth.session_ttl_hours", self.auth.session_ttl_hours),
            ("auth.api_token_ttl_days", self.auth.api_token_ttl_days),
            ("auth.reset_token_ttl_minutes", self.auth.reset_token_ttl_minutes),
            ("auth.max_failures_per_account", u64::from(self.auth.max_failures_per_account)),
            ("auth.failure_window_secs", self.auth.failure_window_secs),
        ];
        for (key, v) in positive {
            if v == 0 {
                return Err((key, "must be greater than 0".into()));
            }
        }
        if self.server.db_pool_size > 64 {
            return Err(("server.db_pool_size", "must be at most 64".into()));
        }
        if self.auth.max_failures_per_ip == 0 {
            return Err(("auth.max_failures_per_ip", "must be greater than 0".into()));
        }
        if self.log.level.parse::<tracing_subscriber::EnvFilter>().is_err() {
            return Err(("log.level", format!("{:?} is not a valid log filter", self.log.level)));
        }
        self.reports.check()?;
        if self.smtp.enabled() && self.smtp.from.trim().is_empty() {
            return Err(("smtp.from", "is required when smtp.host is set".into()));
        }
        let llm = &self.llm;
        if llm.chain.iter().enumerate().any(|(i, p)| llm.chain[..i].contains(p)) {
            return Err(("llm.chain", "names a provider twice".into()));
        }
        let llm_positive: [(&'static str, u64); 5] = [
            ("llm.context_tokens", llm.context_tokens as u64),
            ("llm.max_answer_tokens", llm.max_answer_tokens as u64),
            ("llm.timeout_secs", llm.timeout_secs),
            ("llm.breaker_failures", u64::from(llm.breaker_failures)),
            ("llm.local.queue", llm.local.queue as u64),
        ];
        for (key, v) in llm_positive {
            if v == 0 {
                return Err((key, "must be greater than 0".into()));
            }
        }
        if llm.max_answer_tokens >= llm.context_tokens {
            return Err(("llm.max_answer_tokens", "must be smaller than llm.context_tokens".into()));
        }
        for (key, url) in
            [("llm.openai.base_url", &llm.openai.base_url), ("llm.yandexgpt.base_url", &llm.yandexgpt.base_url)]
        {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err((key, format!("{url:?} must be an http:// or https:// URL")));
            }
        }
        for (key, v) in [
            ("llm.openai.price_input_rub_per_m", llm.openai.price_input_rub_per_m),
            ("llm.openai.price_output_rub_per_m", llm.openai.price_output_rub_per_m),
            ("llm.openai.monthly_budget_rub", llm.openai.monthly_budget_rub),
            ("llm.yandexgpt.price_input_rub_per_m", llm.yandexgpt.price_input_rub_per_m),
            ("llm.yandexgpt.price_output_rub_per_m", llm.yandexgpt.price_output_rub_per_m),
            ("llm.yandexgpt.monthly_budget_rub", llm.yandexgpt.monthly_budget_rub),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err((key, "must be a number ≥ 0".into()));
            }
        }
        let shop = &self.shop;
        if !(-720..=840).contains(&shop.utc_offset_minutes) {
            return Err(("shop.utc_offset_minutes", "must be between -720 and 840".into()));
        }
        if shop.work_days.iter().any(|d| !(1..=7).contains(d)) {
            return Err(("shop.work_days", "days are 1 (Monday) to 7 (Sunday)".into()));
        }
        for (key, v) in [("shop.work_from", &shop.work_from), ("shop.work_to", &shop.work_to)] {
            if parse_hhmm(v).is_none() {
                return Err((key, format!("{v:?} must be a time like \"09:00\"")));
            }
        }
        let engine = &self.engine;
        if !(0.0..=1.0).contains(&engine.min_confidence) {
            return Err(("engine.min_confidence", "must be between 0 and 1".into()));
        }
        for i in &engine.human_only_intents {
            if crate::nlu::Intent::parse(i).is_none() {
                return Err(("engine.human_only_intents", format!("{i:?} is not an intent")));
            }
        }
        if engine.history_messages == 0 {
            return Err(("engine.history_messages", "must be greater than 0".into()));
        }
        let m = &self.marketplaces;
        for (key, url) in
            [("marketplaces.wb.base_url", &m.wb.base_url), ("marketplaces.ozon.base_url", &m.ozon.base_url)]
        {
            if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
                return Err((key, format!("{url:?} must be an http:// or https:// URL")));
            }
        }
        let tg = &self.telegram;
        if !(tg.api_url.starts_with("http://") || tg.api_url.starts_with("https://")) {
            return Err(("telegram.api_url", format!("{:?} must be an http:// or https:// URL", tg.api_url)));
        }
        if !(tg.messages_per_second.is_finite() && tg.messages_per_second > 0.0) {
            return Err(("telegram.messages_per_second", "must be a number > 0".into()));
        }
        if !tg.webhook_url.is_empty()
            && !tg.webhook_url.starts_with("https://")
            && !tg.webhook_url.starts_with("http://")
        {
            return Err(("telegram.webhook_url", "must be an https:// URL".into()));
        }
        for (key, url) in [("whatsapp.api_url", &self.whatsapp.api_url), ("vk.api_url", &self.vk.api_url)] {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err((key, format!("{url:?} must be an http:// or https:// URL")));
            }
        }
        if !self.whatsapp.phone_number_id.chars().all(|c| c.is_ascii_digit()) {
            return Err(("whatsapp.phone_number_id", "must be the number's id (digits), not the number".into()));
        }
        if m.sync_every_minutes == 0 || m.full_sync_days == 0 || m.questions_every_secs == 0 {
            return Err(("marketplaces.sync_every_minutes", "sync period and depth must be greater than 0".into()));
        }
        if m.reply_target_hours == 0 {
            return Err(("marketplaces.reply_target_hours", "must be greater than 0".into()));
        }
        if m.lookup_timeout_ms == 0 {
            return Err(("marketplaces.lookup_timeout_ms", "must be greater than 0".into()));
        }
        if !self.licence.public_key.trim().is_empty() {
            crate::licence::trusted_key(self).map_err(|e| ("licence.public_key", e))?;
        }
        self.validate_ops()
    }

    /// HTTPS, backups and retention.
    fn validate_ops(&self) -> Result<(), (&'static str, String)> {
        let s = &self.server;
        let redirect = s.http_redirect_listen.trim();
        if !redirect.is_empty() {
            match redirect.parse::<SocketAddr>() {
                Err(_) => {
                    return Err((
                        "server.http_redirect_listen",
                        format!("{redirect:?} is not an address like 0.0.0.0:80"),
                    ));
                }
                Ok(a) if a == s.listen && a.port() != 0 => {
                    return Err(("server.http_redirect_listen", "must differ from server.listen".into()));
                }
                Ok(_) if s.tls == TlsMode::Off => {
                    return Err(("server.http_redirect_listen", "redirects to HTTPS: set server.tls first".into()));
                }
                Ok(_) => {}
            }
        }
        if s.tls != TlsMode::Off {
            if !valid_domain(&s.domain) {
                return Err(("server.domain", format!("{:?} must be a domain name like support.shop.ru", s.domain)));
            }
            if !s.public_url.starts_with("https://") {
                return Err(("server.public_url", "must be an https:// URL when server.tls is on".into()));
            }
        }
        match s.tls {
            TlsMode::Acme => {
                if redirect.is_empty() {
                    return Err((
                        "server.http_redirect_listen",
                        "ACME checks the domain over plain HTTP (port 80): set it, e.g. \"0.0.0.0:80\"".into(),
                    ));
                }
                if !s.acme_directory_url.starts_with("https://") {
                    return Err(("server.acme_directory_url", "must be an https:// URL".into()));
                }
                if !s.acme_email.is_empty() && crate::domain::Email::parse(&s.acme_email).is_err() {
                    return Err(("server.acme_email", format!("{:?} is not an e-mail address", s.acme_email)));
                }
            }
            TlsMode::Files => {
                for (key, path) in
                    [("server.tls_cert_file", &s.tls_cert_file), ("server.tls_key_file", &s.tls_key_file)]
                {
                    if path.as_os_str().is_empty() {
                        return Err((key, "is required with server.tls = \"files\"".into()));
                    }
                }
            }
            TlsMode::Off => {}
        }
        let b = &self.backup;
        if !(1..=1000).contains(&b.keep) {
            return Err(("backup.keep", "must be between 1 and 1000".into()));
        }
        if b.every_hours > 24 * 366 {
            return Err(("backup.every_hours", "must be at most a year (8784)".into()));
        }
        if b.dir.as_os_str().is_empty() {
            return Err(("backup.dir", "must name a directory".into()));
        }
        if !b.passphrase.is_empty() && b.passphrase.expose().chars().count() < 12 {
            return Err(("backup.passphrase", "must be at least 12 characters".into()));
        }
        for (key, days) in [
            ("privacy.keep_conversations_days", self.privacy.keep_conversations_days),
            ("privacy.keep_files_days", self.privacy.keep_files_days),
        ] {
            if days > 36_500 {
                return Err((key, "must be at most 36500 days (0 keeps everything)".into()));
            }
        }
        Ok(())
    }

    /// With HTTPS on and `server.public_url` left at its default, the public address is the
    /// domain's (with the port when it is not 443).
    fn derive_public_url(&mut self) {
        let s = &mut self.server;
        if s.tls != TlsMode::Off && s.public_url == ServerConfig::default().public_url && valid_domain(&s.domain) {
            let port = s.listen.port();
            s.public_url = if port == 443 || port == 0 {
                format!("https://{}", s.domain)
            } else {
                format!("https://{}:{port}", s.domain)
            };
        }
    }

    /// Whether cookies carry the `Secure` attribute.
    pub fn secure_cookies(&self) -> bool {
        match self.auth.secure_cookies {
            CookieSecurity::Always => true,
            CookieSecurity::Never => false,
            CookieSecurity::Auto => self.server.public_url.starts_with("https://"),
        }
    }

    /// The local model path resolved against the data directory.
    pub fn model_path(&self, data_dir: &Path) -> PathBuf {
        data_dir.join(&self.llm.local.model)
    }
}

/// A DNS name: labels of letters, digits and hyphens (IDNs in their xn-- form), at most 253 characters.
pub fn valid_domain(d: &str) -> bool {
    d.len() <= 253
        && !d.is_empty()
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn parse_env(kind: Kind, raw: &str) -> Result<toml::Value, String> {
    let raw = raw.trim();
    match kind {
        Kind::Str => Ok(toml::Value::String(raw.to_owned())),
        Kind::Int => raw.parse::<i64>().map(toml::Value::Integer).map_err(|_| format!("{raw:?} is not a whole number")),
        Kind::Float => raw
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(toml::Value::Float)
            .ok_or_else(|| format!("{raw:?} is not a number")),
        Kind::List => Ok(toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_owned()))
                .collect(),
        )),
        Kind::Bool => match raw.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(toml::Value::Boolean(true)),
            "0" | "false" | "no" | "off" => Ok(toml::Value::Boolean(false)),
            _ => Err(format!("{raw:?} is not true or false")),
        },
    }
}

fn set_path(table: &mut toml::Table, dotted: &str, value: toml::Value) {
    let mut parts = dotted.split('.').peekable();
    let mut cur = table;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            cur.insert(part.to_owned(), value);
            return;
        }
        let entry = cur.entry(part.to_owned()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(next) = entry else { return };
        cur = next;
    }
}

/// The commented file `supportd init` writes (`src/config/template.toml`). Every value shown is
/// the embedded default (test `template_shows_the_defaults`).
pub const TEMPLATE: &str = include_str!("config/template.toml");

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_without_file() {
        assert_eq!(Config::load(None, &no_env).expect("load"), Config::default());
    }

    #[test]
    fn template_shows_the_defaults() {
        // As written, every setting is commented out: the file is the defaults.
        let as_written: toml::Table = TEMPLATE.parse().expect("the template is TOML");
        fn only_tables(t: &toml::Table) -> bool {
            t.values().all(|v| v.as_table().is_some_and(only_tables))
        }
        assert!(only_tables(&as_written), "a setting is not commented out: {as_written:?}");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, TEMPLATE).expect("write");
        assert_eq!(Config::load(Some(&path), &no_env).expect("load"), Config::default());
        // Uncomment every `# key = value` line: the result must equal the embedded defaults.
        let uncommented: String = TEMPLATE
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if rest.contains(" = ") && !rest.contains("supportd") && !rest.starts_with("Every") => rest,
                _ => l,
            })
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&path, uncommented.replace("from = \"Магазин <support@example.ru>\"", "")).expect("write");
        assert_eq!(Config::load(Some(&path), &no_env).expect("load"), Config::default());
        // Every key of the catalogue appears in the template.
        for (var, _, _, _) in ENV_VARS {
            assert!(TEMPLATE.contains(var), "{var} missing from the template");
        }
    }

    #[test]
    fn env_overrides_file_and_names_the_variable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[server]\nlisten = \"127.0.0.1:9000\"\n").expect("write");
        let env = |k: &str| (k == "SUPPORTD_LISTEN").then(|| "0.0.0.0:7000".to_owned());
        let c = Config::load(Some(&path), &env).expect("load");
        assert_eq!(c.server.listen.port(), 7000);

        let bad = |k: &str| (k == "SUPPORTD_MAX_BODY_BYTES").then(|| "lots".to_owned());
        let err = Config::load(None, &bad).expect_err("must fail").to_string();
        assert!(err.contains("SUPPORTD_MAX_BODY_BYTES") && err.contains("server.max_body_bytes"), "{err}");

        let chain = |k: &str| match k {
            "SUPPORTD_LLM_CHAIN" => Some("openai, local".to_owned()),
            "SUPPORTD_OPENAI_MONTHLY_BUDGET_RUB" => Some("1500.5".to_owned()),
            _ => None,
        };
        let c = Config::load(None, &chain).expect("load");
        assert_eq!(c.llm.chain, vec![LlmProvider::OpenAi, LlmProvider::Local]);
        assert!((c.llm.openai.monthly_budget_rub - 1500.5).abs() < 1e-9);
        let bad_price = |k: &str| (k == "SUPPORTD_OPENAI_PRICE_INPUT_RUB_PER_M").then(|| "cheap".to_owned());
        let err = Config::load(None, &bad_price).expect_err("must fail").to_string();
        assert!(err.contains("SUPPORTD_OPENAI_PRICE_INPUT_RUB_PER_M"), "{err}");

        let bad_addr = |k: &str| (k == "SUPPORTD_LISTEN").then(|| "nowhere".to_owned());
        let err = Config::load(None, &bad_addr).expect_err("must fail").to_string();
        assert!(err.contains("SUPPORTD_LISTEN"), "{err}");
    }

    #[test]
    fn file_errors_name_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        for (text, key) in [
            ("[server]\nlisten = 5\n", "server.listen"),
            ("[server]\nlisen = \"x\"\n", "server"),
            ("[auth]\nsession_ttl_hours = 0\n", "auth.session_ttl_hours"),
            ("[server]\npublic_url = \"ftp://x\"\n", "server.public_url"),
            ("[smtp]\nhost = \"mail\"\n", "smtp.from"),
            ("[log]\nformat = \"xml\"\n", "log.format"),
            ("[llm]\nchain = [\"local\", \"gigachat\"]\n", "llm.chain"),
            ("[llm]\nchain = [\"local\", \"local\"]\n", "llm.chain"),
            ("[llm.yandexgpt]\nauth = \"oauth\"\n", "llm.yandexgpt.auth"),
            ("[llm.openai]\nmonthly_budget_rub = -5.0\n", "llm.openai.monthly_budget_rub"),
            ("[llm]\nmax_answer_tokens = 5000\n", "llm.max_answer_tokens"),
        ] {
            std::fs::write(&path, text).expect("write");
            let err = Config::load(Some(&path), &no_env).expect_err(text).to_string();
            assert!(err.contains(key), "{text:?} gave {err}");
        }
        std::fs::write(&path, "[server\n").expect("write");
        assert!(matches!(Config::load(Some(&path), &no_env), Err(ConfigError::Syntax { .. })));
    }

    #[test]
    fn closed_sets_are_enums_that_name_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        // One invalid value per closed set: the error names the key.
        for (text, key) in [
            ("[engine]\nanswers = \"magic\"\n", "engine.answers"),
            ("[engine]\ntone = \"rude\"\n", "engine.tone"),
            ("[engine]\nverify_orders = \"phone\"\n", "engine.verify_orders"),
            ("[marketplaces.wb]\nquestions = \"maybe\"\n", "marketplaces.wb.questions"),
            ("[marketplaces.ozon]\nchats = \"on\"\n", "marketplaces.ozon.chats"),
            ("[telegram]\nmode = \"push\"\n", "telegram.mode"),
            ("[vk]\nmode = \"long-poll\"\n", "vk.mode"),
            ("[reports]\nschedule = \"monthly\"\n", "reports.schedule"),
            ("[smtp]\ntls = \"ssl\"\n", "smtp.tls"),
            ("[auth]\nsecure_cookies = \"sometimes\"\n", "auth.secure_cookies"),
        ] {
            std::fs::write(&path, text).expect("write");
            let err = Config::load(Some(&path), &no_env).expect_err(text).to_string();
            assert!(err.contains(key), "{text:?} gave {err}");
        }
        // The environment's spellings are the file's, and a bad one names the variable.
        let env = |k: &str| match k {
            "SUPPORTD_ENGINE_ANSWERS" => Some("extractive".to_owned()),
            "SUPPORTD_ENGINE_TONE" => Some("formal".to_owned()),
            "SUPPORTD_ENGINE_VERIFY_ORDERS" => Some("item".to_owned()),
            "SUPPORTD_WB_QUESTIONS" => Some("auto".to_owned()),
            "SUPPORTD_OZON_CHATS" => Some("off".to_owned()),
            "SUPPORTD_TELEGRAM_MODE" => Some("webhook".to_owned()),
            "SUPPORTD_VK_MODE" => Some("longpoll".to_owned()),
            "SUPPORTD_YANDEXGPT_AUTH" => Some("iam".to_owned()),
            "SUPPORTD_REPORTS_SCHEDULE" => Some("weekly".to_owned()),
            _ => None,
        };
        let c = Config::load(None, &env).expect("load");
        assert_eq!(
            (c.engine.answers, c.engine.tone, c.engine.verify_orders),
            (AnswerMode::Extractive, Tone::Formal, VerifyOrders::Item)
        );
        assert_eq!((c.marketplaces.wb.questions, c.marketplaces.ozon.chats), (QaMode::Auto, QaMode::Off));
        assert_eq!((c.telegram.mode, c.vk.mode), (TelegramMode::Webhook, VkMode::LongPoll));
        assert_eq!((c.llm.yandexgpt.auth, c.reports.schedule), (YandexAuth::Iam, ReportSchedule::Weekly));
        let bad = |k: &str| (k == "SUPPORTD_ENGINE_TONE").then(|| "rude".to_owned());
        let err = Config::load(None, &bad).expect_err("must fail").to_string();
        assert!(err.contains("SUPPORTD_ENGINE_TONE") && err.contains("engine.tone"), "{err}");
    }

    #[test]
    fn closed_sets_spell_as_serde_does() {
        fn check<T: serde::Serialize + Copy + fmt::Display>(all: &[T], as_str: fn(T) -> &'static str) {
            for &v in all {
                assert_eq!(serde_json::to_value(v).expect("json"), serde_json::json!(as_str(v)));
                assert_eq!(v.to_string(), as_str(v));
            }
        }
        check(AnswerMode::ALL, AnswerMode::as_str);
        check(Tone::ALL, Tone::as_str);
        check(VerifyOrders::ALL, VerifyOrders::as_str);
        check(QaMode::ALL, QaMode::as_str);
        check(TelegramMode::ALL, TelegramMode::as_str);
        check(VkMode::ALL, VkMode::as_str);
        check(YandexAuth::ALL, YandexAuth::as_str);
        check(ReportSchedule::ALL, ReportSchedule::as_str);
        check(LlmProvider::ALL, LlmProvider::as_str);
        assert_eq!(VkMode::parse("longpoll"), Some(VkMode::LongPoll));
        assert_eq!(YandexAuth::parse("api-key"), Some(YandexAuth::ApiKey));
        assert_eq!(QaMode::parse("sometimes"), None);
    }

    #[test]
    fn https_backup_and_retention_settings_are_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        for (text, key) in [
            ("[server]\ntls = \"acme\"\n", "server.domain"),
            ("[server]\ntls = \"acme\"\ndomain = \"shop.ru\"\n", "server.http_redirect_listen"),
            ("[server]\ntls = \"magic\"\n", "server.tls"),
            ("[server]\ntls = \"files\"\ndomain = \"shop.ru\"\n", "server.tls_cert_file"),
            ("[server]\ntls = \"files\"\ndomain = \"https://shop.ru\"\n", "server.domain"),
            ("[server]\nhttp_redirect_listen = \"0.0.0.0:80\"\n", "server.http_redirect_listen"),
            (
                "[server]\ntls = \"acme\"\ndomain = \"shop.ru\"\nhttp_redirect_listen = \"port 80\"\n",
                "server.http_redirect_listen",
            ),
            (
                "[server]\ntls = \"files\"\ndomain = \"shop.ru\"\ntls_cert_file = \"c\"\ntls_key_file = \"k\"\npublic_url = \"http://shop.ru\"\n",
                "server.public_url",
            ),
            ("[backup]\nkeep = 0\n", "backup.keep"),
            ("[backup]\npassphrase = \"short\"\n", "backup.passphrase"),
            ("[backup]\nevery_hours = -1\n", "backup.every_hours"),
            ("[privacy]\nkeep_files_days = 99999\n", "privacy.keep_files_days"),
        ] {
            std::fs::write(&path, text).expect("write");
            let err = Config::load(Some(&path), &no_env).expect_err(text).to_string();
            assert!(err.contains(key), "{text:?} gave {err}");
        }
        // A domain and HTTPS on: the public address follows the domain.
        let env = |k: &str| match k {
            "SUPPORTD_TLS" => Some("acme".to_owned()),
            "SUPPORTD_DOMAIN" => Some("support.shop.ru".to_owned()),
            "SUPPORTD_HTTP_REDIRECT_LISTEN" => Some("0.0.0.0:80".to_owned()),
            "SUPPORTD_LISTEN" => Some("0.0.0.0:443".to_owned()),
            "SUPPORTD_BACKUP_EVERY_HOURS" => Some("1".to_owned()),
            _ => None,
        };
        let c = Config::load(None, &env).expect("load");
        assert_eq!(c.server.tls, TlsMode::Acme);
        assert_eq!(c.server.public_url, "https://support.shop.ru");
        assert_eq!(c.server.redirect_listen(), Some(SocketAddr::from(([0, 0, 0, 0], 80))));
        assert!(c.secure_cookies(), "HTTPS means secure cookies (and HSTS)");
        assert_eq!(c.backup.every_hours, 1);
        assert!(valid_domain("xn--80ak6aa92e.xn--p1ai") && !valid_domain("shop..ru") && !valid_domain("-a.ru"));
    }

    #[test]
    fn secrets_are_redacted() {
        let mut c = Config::default();
        c.smtp.password = Secret::new("hunter2-very-secret");
        c.llm.openai.api_key = Secret::new("sk-hunter3");
        c.backup.passphrase = Secret::new("hunter4-backup-pass");
        assert!(!format!("{c:?}").contains("hunter4"));
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!format!("{c:?}").contains("hunter3"));
    }
}

#[cfg(test)]
mod docs {
    /// README's configuration table lists every variable.
    #[test]
    fn readme_lists_every_variable() {
        let readme = include_str!("../README.md");
        for (var, key, _, _) in super::ENV_VARS {
            assert!(readme.contains(&format!("`{var}` | `{key}`")), "README lacks {var} ({key})");
        }
    }
}
