//! `[server]`, `[auth]` and `[log]`: the HTTP server, HTTPS, sign-in and logging.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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
