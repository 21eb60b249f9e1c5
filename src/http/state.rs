//! The shared state of the HTTP surface and the server's background tasks, and the narrow
//! sub-states (`FromRef`) that channel webhooks get instead of it.

use std::sync::Arc;
use std::time::Instant;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::crypto::Cipher;
use crate::http::auth::throttle::Throttle;
use crate::http::metrics::Metrics;
use crate::mail::Mailer;
use crate::paths::Paths;
use crate::store::Db;

pub struct StateInner {
    pub config: Config,
    pub paths: Paths,
    pub db: Db,
    pub cipher: Cipher,
    pub clock: SharedClock,
    pub throttle: Throttle,
    pub metrics: Metrics,
    pub mailer: Option<Mailer>,
    pub kb: Arc<crate::kb::Kb>,
    pub llm: Arc<crate::llm::chain::Llm>,
    pub local_model: Arc<crate::llm::local::LocalSlot>,
    pub engine: Arc<crate::engine::Engine>,
    pub telegram: Option<Arc<crate::channels::telegram::Telegram>>,
    pub widget: Arc<crate::channels::widget::Widget>,
    pub whatsapp: Arc<crate::channels::whatsapp::WhatsApp>,
    pub vk: Arc<crate::channels::vk::Vk>,
    pub orders: Arc<crate::marketplace::Orders>,
    pub syncer: Arc<crate::marketplace::sync::Syncer>,
    /// The licence and plan in force.
    pub licensing: Arc<crate::licence::Licensing>,
    pub backups: Arc<crate::backup::Backups>,
    /// Analytics reports e-mailed on a schedule.
    pub reports: Arc<crate::analytics::schedule::Reports>,
    pub started: Instant,
    /// Becomes true when the server starts stopping: long-lived streams end at once.
    pub stopping: tokio::sync::watch::Receiver<bool>,
}

impl StateInner {
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }
}

/// Shared by every request handler and background task.
#[derive(Clone)]
pub struct AppState(Arc<StateInner>);

impl AppState {
    pub fn new(inner: StateInner) -> Self {
        Self(Arc::new(inner))
    }
}

/// The Telegram webhook's state: the adapter and the inbox.
impl axum::extract::FromRef<AppState> for crate::channels::telegram::Hook {
    fn from_ref(s: &AppState) -> Self {
        Self { telegram: s.telegram.clone(), inbox: s.engine.clone() }
    }
}

/// The WhatsApp webhook's state.
impl axum::extract::FromRef<AppState> for crate::channels::whatsapp::Hook {
    fn from_ref(s: &AppState) -> Self {
        Self { whatsapp: s.whatsapp.clone(), inbox: s.engine.clone() }
    }
}

/// The VK Callback API's state.
impl axum::extract::FromRef<AppState> for crate::channels::vk::Hook {
    fn from_ref(s: &AppState) -> Self {
        Self { vk: s.vk.clone(), inbox: s.engine.clone() }
    }
}

/// The widget's state: its sessions, the inbox, the history from the store, the plan check.
impl axum::extract::FromRef<AppState> for crate::channels::widget::Hook {
    fn from_ref(s: &AppState) -> Self {
        let licensing = s.licensing.clone();
        Self {
            widget: s.widget.clone(),
            inbox: s.engine.clone(),
            db: s.db.clone(),
            clock: s.clock.clone(),
            admit: Arc::new(move || {
                licensing.current().allows_channel(crate::licence::plans::ChannelKind::Widget).map_err(Into::into)
            }),
            stopping: s.stopping.clone(),
        }
    }
}

impl std::ops::Deref for AppState {
    type Target = StateInner;
    fn deref(&self) -> &StateInner {
        &self.0
    }
}
