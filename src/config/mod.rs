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

mod assistant;
mod channels;
mod env;
mod llm;
mod mail;
mod marketplaces;
mod ops;
mod server;

pub use assistant::*;
pub use channels::*;
pub use env::{ENV_VARS, Kind, TEST_ENV_VARS};
pub use llm::*;
pub use mail::*;
pub use marketplaces::*;
pub use ops::*;
pub use server::*;

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
            let value = env::parse_env(kind, &raw).map_err(|message| ConfigError::Env {
                var: var.into(),
                key: key.into(),
                message,
            })?;
            env::set_path(&mut table, key, value);
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

/// The commented file `supportd init` writes (`src/config/template.toml`). Every value shown is
/// the embedded default (test `template_shows_the_defaults`).
pub const TEMPLATE: &str = include_str!("template.toml");

#[cfg(test)]
mod tests;
