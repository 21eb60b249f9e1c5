//! Plans and licences for a self-hosted appliance, checked offline.
//!
//! - `token`: the licence format (Ed25519 over canonical JSON) and keys;
//! - `plans`: the plan table and `Limits`;
//! - this module: what is in force now (`Entitlement`: trial, active, grace, expired, free),
//!   the checks that refuse what the plan does not include (`Refusal`, a Russian message naming
//!   the plan that has it), the installed licence kept in memory and reloaded from the database
//!   (`Licensing`), and the expiry warnings (scheduled, persisted, e-mailed once);
//! - `gate`: the hooks other modules get (marketplace accounts, cloud models, automation);
//! - `statement`: the monthly usage statement.
//!
//! The trusted public key is compiled in (`vendor_public_key.pem`, or the build's
//! `SUPPORTD_LICENCE_VENDOR_KEY`); only debug builds accept `licence.public_key` from the
//! config, so tests can sign their own licences and a release build trusts the vendor alone.

pub mod gate;
pub mod plans;
pub mod statement;
pub mod token;

use std::sync::{Arc, OnceLock, RwLock};

use rusqlite::Connection;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::clock::{Millis, SharedClock, rfc3339};
use crate::config::Config;
use crate::mail::Mailer;
use crate::marketplace::{Market, MarketplaceApi};
use crate::store::audit::{self, Actor};
use crate::store::{Db, StoreError, licence as rows};
use crate::texts::licence as texts;
use plans::{ChannelKind, Limits, ModelAccess};
use token::{Licence, PublicKey, TokenError};

pub const DAY_MS: Millis = 86_400_000;
/// The trial runs this long from the installation's first start.
pub const TRIAL_DAYS: i64 = 14;
/// Warnings this many days before a licence ends (those not shorter than the licence's term).
pub const WARN_DAYS: [i64; 3] = [14, 7, 1];
/// Attempts to e-mail one warning before it is given up (the panel banner still shows it).
const MAIL_ATTEMPTS: i64 = 5;

/// The vendor's public key: licences signed with its private half install in release builds.
const VENDOR_KEY: &str = include_str!("vendor_public_key.pem");

/// What the installation runs under now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// No licence yet, within 14 days of the first start: everything on.
    Trial,
    /// A licence in its term.
    Active,
    /// A licence past its end, within its grace period: everything works, with warnings.
    Grace,
    /// Past the grace period: the bot does not answer; messages are received and wait for people.
    Expired,
    /// No licence after the trial: the free tier.
    Free,
}

/// Where the trusted key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeySource {
    /// The key compiled into the repository's builds.
    Vendor,
    /// Replaced at build time (`SUPPORTD_LICENCE_VENDOR_KEY`), for a private build.
    Build,
    /// `licence.public_key` in a debug build (tests, development).
    Test,
}

/// The key licences are checked against.
pub fn trusted_key(config: &Config) -> Result<(PublicKey, KeySource), String> {
    let configured = config.licence.public_key.trim();
    if !configured.is_empty() {
        if !cfg!(debug_assertions) {
            return Err("a release build trusts only its vendor's key; this setting is for debug builds (tests)".into());
        }
        return PublicKey::parse(configured).map(|k| (k, KeySource::Test)).map_err(|e| e.to_string());
    }
    if let Some(built) = option_env!("SUPPORTD_LICENCE_VENDOR_KEY") {
        return PublicKey::parse(built)
            .map(|k| (k, KeySource::Build))
            .map_err(|e| format!("the key this build was made with (SUPPORTD_LICENCE_VENDOR_KEY) is invalid: {e}"));
    }
    PublicKey::parse(VENDOR_KEY).map(|k| (k, KeySource::Vendor)).map_err(|e| format!("the vendor key: {e}"))
}

/// A refusal for something the plan does not include: the Russian message names the plan
/// that does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// What is in force at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Entitlement {
    pub status: Status,
    pub plan: String,
    pub limits: Limits,
    /// The trial's end or the licence's; none on the free tier.
    pub valid_until: Option<Millis>,
    /// When automation pauses (a licence's end plus its grace days).
    pub grace_until: Option<Millis>,
    pub licence: Option<Licence>,
    pub trial_started_at: Millis,
    pub now: Millis,
}

impl Entitlement {
    pub fn compute(now: Millis, trial_started_at: Millis, licence: Option<&Licence>) -> Self {
        let base = |status, plan: &str, limits| Self {
            status,
            plan: plan.to_owned(),
            limits,
            valid_until: None,
            grace_until: None,
            licence: None,
            trial_started_at,
            now,
        };
        match licence {
            Some(l) => {
                let status = if now < l.valid_until {
                    Status::Active
                } else if now < l.grace_until() {
                    Status::Grace
                } else {
                    Status::Expired
                };
                Self {
                    valid_until: Some(l.valid_until),
                    grace_until: Some(l.grace_until()),
                    licence: Some(l.clone()),
                    ..base(status, &l.plan, l.limits.clone())
                }
            }
            None => {
                let end = trial_started_at.saturating_add(TRIAL_DAYS * DAY_MS);
                if now < end {
                    Self { valid_until: Some(end), ..base(Status::Trial, plans::TRIAL, plans::trial()) }
                } else {
                    base(Status::Free, plans::FREE, plans::free())
                }
            }
        }
    }

    /// The bot answers buyers (false only after a licence's grace period).
    pub fn automation(&self) -> bool {
        self.status != Status::Expired
    }

    /// Whole days until `valid_until`, rounded up (0 once it has passed).
    pub fn days_left(&self) -> Option<i64> {
        self.valid_until.map(|v| ((v - self.now).max(0) + DAY_MS - 1) / DAY_MS)
    }

    fn expired(&self) -> Result<(), Refusal> {
        if self.status == Status::Expired { Err(Refusal(texts::expired_refused(&self.plan))) } else { Ok(()) }
    }

    /// Whether `seats` active admins and operators may exist (checked before one more is added
    /// or enabled).
    pub fn admit_seats(&self, seats: i64) -> Result<(), Refusal> {
        self.expired()?;
        let n = u32::try_from(seats).unwrap_or(u32::MAX);
        if self.limits.seats.allows(n) {
            return Ok(());
        }
        let better = plans::smallest_allowing(|l| l.seats.allows(n)).map(|p| (p.id, p.seats));
        Err(Refusal(texts::seats_refused(&self.plan, self.limits.seats, better)))
    }

    /// Whether messages on channel `c` are taken (runtime: an expired licence keeps receiving).
    pub fn allows_channel(&self, c: ChannelKind) -> Result<(), Refusal> {
        if self.limits.has_channel(c) {
            return Ok(());
        }
        let better = plans::smallest_allowing(|l| l.has_channel(c)).map(|p| p.id);
        Err(Refusal(texts::channel_refused(&self.plan, c, better)))
    }

    /// Whether channel `c` may be switched on or reconfigured now.
    pub fn admit_channel(&self, c: ChannelKind) -> Result<(), Refusal> {
        self.expired()?;
        self.allows_channel(c)
    }

    /// Whether one more marketplace account may be connected, `others` being connected already.
    pub fn admit_marketplace(&self, others: u32) -> Result<(), Refusal> {
        self.expired()?;
        let limit = self.limits.marketplaces;
        if others < limit {
            return Ok(());
        }
        let better = plans::smallest_allowing(|l| l.marketplaces > others).map(|p| (p.id, p.marketplaces));
        Err(Refusal(texts::marketplaces_refused(&self.plan, limit, better)))
    }

    /// The marketplaces synced and polled, of those with keys: the first ones (WB, then Ozon)
    /// up to the limit.
    pub fn allowed_markets(&self, connected: &[Market]) -> Vec<Market> {
        let mut sorted: Vec<Market> =
            [Market::Wb, Market::Ozon].into_iter().filter(|m| connected.contains(m)).collect();
        sorted.truncate(self.limits.marketplaces as usize);
        sorted
    }

    /// Whether cloud model providers may be called now.
    pub fn allows_cloud(&self) -> Result<(), Refusal> {
        self.expired()?;
        if self.limits.models == ModelAccess::Cloud {
            return Ok(());
        }
        let better = plans::smallest_allowing(|l| l.models == ModelAccess::Cloud).map(|p| p.id);
        Err(Refusal(texts::cloud_refused(&self.plan, better)))
    }

    /// Whether analytics exports (the statement as CSV) may be downloaded.
    pub fn allows_exports(&self) -> Result<(), Refusal> {
        if self.limits.exports {
            return Ok(());
        }
        let better = plans::smallest_allowing(|l| l.exports).map(|p| p.id);
        Err(Refusal(texts::exports_refused(&self.plan, better)))
    }

    /// The panel's banner.
    pub fn warning(&self, offset_min: i32) -> Option<Warning> {
        let date = |ms: Millis| texts::date(ms, offset_min);
        let days = self.days_left().unwrap_or(0);
        let (level, message) = match self.status {
            Status::Trial => (
                if days <= 7 { WarningLevel::Warning } else { WarningLevel::Info },
                texts::banner_trial(days, &date(self.valid_until?)),
            ),
            Status::Active if days <= WARN_DAYS[0] => (
                if days <= 1 { WarningLevel::Danger } else { WarningLevel::Warning },
                texts::banner_expiring(&self.plan, days, &date(self.valid_until?)),
            ),
            Status::Active => return None,
            Status::Grace => (
                WarningLevel::Danger,
                texts::banner_grace(&self.plan, &date(self.valid_until?), &date(self.grace_until?)),
            ),
            Status::Expired => (WarningLevel::Danger, texts::banner_expired(&self.plan, &date(self.grace_until?))),
            Status::Free => (WarningLevel::Info, texts::BANNER_FREE.to_owned()),
        };
        Some(Warning { level, message })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WarningLevel {
    Info,
    Warning,
    Danger,
}

/// A banner for the panel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Warning {
    pub level: WarningLevel,
    /// For people (Russian).
    pub message: String,
}

/// One warning e-mailed to the admins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Unique per licence (or trial) and kind: recorded once, so restarts never repeat it.
    pub key: String,
    /// "ahead", "grace", "paused", "trial_ending", "trial_ended".
    pub kind: &'static str,
    pub due_at: Millis,
}

/// Every warning for what is in force (due or not): 14, 7 and 1 days before a licence ends
/// (those shorter than its term), when its grace period begins and when automation pauses;
/// for the trial 7 and 1 days before its end, and its end.
pub fn schedule(e: &Entitlement) -> Vec<Notice> {
    let mut out = Vec::new();
    match &e.licence {
        Some(l) => {
            let subject = format!("licence:{}:{}", l.id, l.valid_until);
            for d in WARN_DAYS.into_iter().filter(|d| l.valid_until - l.issued > d * DAY_MS) {
                out.push(Notice { key: format!("{subject}:{d}d"), kind: "ahead", due_at: l.valid_until - d * DAY_MS });
            }
            if l.grace_days > 0 {
                out.push(Notice { key: format!("{subject}:grace"), kind: "grace", due_at: l.valid_until });
            }
            out.push(Notice { key: format!("{subject}:paused"), kind: "paused", due_at: l.grace_until() });
        }
        None => {
            let subject = format!("trial:{}", e.trial_started_at);
            let end = e.trial_started_at + TRIAL_DAYS * DAY_MS;
            for d in WARN_DAYS.into_iter().filter(|d| *d < TRIAL_DAYS) {
                out.push(Notice { key: format!("{subject}:{d}d"), kind: "trial_ending", due_at: end - d * DAY_MS });
            }
            out.push(Notice { key: format!("{subject}:ended"), kind: "trial_ended", due_at: end });
        }
    }
    out
}

/// A refused installation.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("licence refused: {0}")]
    Token(#[from] TokenError),
    #[error("licence refused: older: licence {installed} issued {} is installed; this one was issued {}", rfc3339(*.installed_issued), rfc3339(*.issued))]
    Older { installed: String, installed_issued: Millis, issued: Millis },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl InstallError {
    /// `licence_<reason>`: the API's error code.
    pub fn code(&self) -> &'static str {
        match self {
            InstallError::Token(e) => match e.reason() {
                "malformed" => "licence_malformed",
                "wrong_key" => "licence_wrong_key",
                "bad_signature" => "licence_bad_signature",
                "unsupported" => "licence_unsupported",
                "expired" => "licence_expired",
                _ => "licence_issued_in_future",
            },
            InstallError::Older { .. } => "licence_older",
            InstallError::Store(_) => "internal",
        }
    }

    /// The Russian message for the panel.
    pub fn message(&self) -> String {
        match self {
            InstallError::Token(e) => texts::install_refused(e.reason(), &e.to_string()),
            InstallError::Older { .. } => texts::install_refused("older", &self.to_string()),
            InstallError::Store(_) => "internal error; see the server log".into(),
        }
    }
}

/// A licence that was installed (or was already).
#[derive(Debug, Clone)]
pub struct Installed {
    pub licence: Licence,
    /// It was installed before: nothing changed.
    pub already: bool,
}

#[derive(Debug, Default)]
struct Loaded {
    licence: Option<Licence>,
    /// The newest `licences` row seen (a newer one means another process installed one).
    latest_row: Option<i64>,
}

/// The licence in force for one installation, kept in memory; reloaded from the database so
/// a licence installed by the command line applies within seconds, and at once through the API.
pub struct Licensing {
    db: Db,
    clock: SharedClock,
    key: PublicKey,
    key_source: KeySource,
    offset_min: i32,
    public_url: String,
    trial_started_at: Millis,
    loaded: RwLock<Loaded>,
    /// The marketplace adapters as configured (before the plan's gate), to tell which have keys.
    marketplaces: OnceLock<Vec<Arc<dyn MarketplaceApi>>>,
    ticking: tokio::sync::Mutex<()>,
}

/// The newest installed licence that verifies with `key`, and the newest row id.
fn load(conn: &Connection, key: &PublicKey) -> crate::store::Result<Loaded> {
    let mut out = Loaded { latest_row: rows::latest_id(conn)?, licence: None };
    for stored in rows::installed(conn, 50)? {
        match token::decode(&stored.token, key) {
            Ok(l) => {
                out.licence = Some(l);
                break;
            }
            Err(e) => tracing::error!(row = stored.row_id, error = %e, "an installed licence does not verify; ignored"),
        }
    }
    Ok(out)
}

fn install_in(
    conn: &mut Connection,
    key: &PublicKey,
    text: &str,
    actor: &Actor,
    now: Millis,
) -> Result<Installed, InstallError> {
    let token = token::extract(text).ok_or_else(|| {
        TokenError::Malformed(format!("no licence in the text: a licence starts with {}.", token::PREFIX))
    })?;
    let licence = token::decode(token, key)?;
    token::check_times(&licence, now)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(StoreError::from)?;
    if let Some(current) = load(&tx, key)?.licence {
        if current == licence {
            return Ok(Installed { licence, already: true });
        }
        if current.issued > licence.issued {
            return Err(InstallError::Older {
                installed: current.id,
                installed_issued: current.issued,
                issued: licence.issued,
            });
        }
    }
    let row = rows::NewLicence {
        licence_id: &licence.id,
        plan: &licence.plan,
        customer: &licence.customer,
        issued_at: licence.issued,
        valid_until: licence.valid_until,
        token,
        installed_by: actor.user_id,
    };
    rows::insert(&tx, &row, now)?;
    audit::record(
        &tx,
        actor,
        "licence.install",
        Some(&licence.id),
        json!({"plan": licence.plan, "valid_until": rfc3339(licence.valid_until), "customer": licence.customer}),
        now,
    )?;
    tx.commit().map_err(StoreError::from)?;
    Ok(Installed { licence, already: false })
}

impl Licensing {
    /// Reads the trial's start (the first call starts it) and the installed licence. Blocking:
    /// call it off the async runtime.
    pub fn open(db: Db, clock: SharedClock, config: &Config) -> anyhow::Result<Self> {
        let (key, key_source) = trusted_key(config).map_err(anyhow::Error::msg)?;
        let now = clock.now_ms();
        let (trial_started_at, loaded) = db.with_conn(|c| Ok((rows::trial_started_at(c, now)?, load(c, &key)?)))?;
        Ok(Self {
            db,
            clock,
            key,
            key_source,
            offset_min: config.shop.utc_offset_minutes,
            public_url: config.server.public_url.trim_end_matches('/').to_owned(),
            trial_started_at,
            loaded: RwLock::new(loaded),
            marketplaces: OnceLock::new(),
            ticking: tokio::sync::Mutex::new(()),
        })
    }

    pub fn key_id(&self) -> String {
        self.key.id()
    }

    pub fn key_source(&self) -> KeySource {
        self.key_source
    }

    /// What is in force now.
    pub fn current(&self) -> Entitlement {
        let loaded = self.loaded.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        Entitlement::compute(self.clock.now_ms(), self.trial_started_at, loaded.licence.as_ref())
    }

    /// Automation is paused (a licence past its grace period).
    pub fn paused(&self) -> bool {
        !self.current().automation()
    }

    fn set(&self, loaded: Loaded) {
        let mut l = self.loaded.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        *l = loaded;
    }

    /// Verifies and installs a licence (a token, or a licence file's text). In force at once.
    pub async fn install(&self, text: String, actor: Actor) -> Result<Installed, InstallError> {
        let (key, now) = (self.key.clone(), self.clock.now_ms());
        let result = self.db.call(move |c| Ok(install_in(c, &key, &text, &actor, now))).await?;
        self.reload().await;
        result
    }

    /// [`Licensing::install`] for the command line (blocking).
    pub fn install_blocking(&self, text: &str, actor: &Actor) -> Result<Installed, InstallError> {
        let now = self.clock.now_ms();
        let result = self.db.with_conn(|c| Ok(install_in(c, &self.key, text, actor, now)))?;
        let loaded = self.db.with_conn(|c| load(c, &self.key))?;
        self.set(loaded);
        result
    }

    /// Picks up a licence installed by another process (the command line).
    pub async fn reload(&self) {
        let seen = self.loaded.read().unwrap_or_else(std::sync::PoisonError::into_inner).latest_row;
        let key = self.key.clone();
        let fresh =
            self.db.call(move |c| if rows::latest_id(c)? == seen { Ok(None) } else { load(c, &key).map(Some) }).await;
        match fresh {
            Ok(Some(loaded)) => {
                if let Some(l) = &loaded.licence {
                    tracing::info!(licence = %l.id, plan = %l.plan, valid_until = %rfc3339(l.valid_until), "licence in force");
                }
                self.set(loaded);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read the installed licence"),
        }
    }

    /// The adapters as configured (before the gate), so the plan's count of marketplace
    /// accounts can be applied (`gate::marketplaces` sets them).
    pub fn set_marketplaces(&self, apis: Vec<Arc<dyn MarketplaceApi>>) {
        let _ = self.marketplaces.set(apis);
    }

    /// The marketplaces whose keys are set (whether or not the plan includes them).
    pub async fn connected_markets(&self) -> Vec<Market> {
        let mut out = Vec::new();
        for api in self.marketplaces.get().map(Vec::as_slice).unwrap_or_default() {
            if api.has_key().await {
                out.push(api.market());
            }
        }
        out
    }

    /// Whether `market` (which has keys) is synced and polled under the plan.
    pub async fn market_allowed(&self, market: Market) -> bool {
        let e = self.current();
        match e.limits.marketplaces {
            0 => false,
            n if n >= 2 => true,
            _ => e.allowed_markets(&self.connected_markets().await).contains(&market),
        }
    }

    /// Why `market` (with keys) is not synced now, if it is not.
    pub async fn sync_refusal(&self, market: Market) -> Option<Refusal> {
        if self.market_allowed(market).await {
            return None;
        }
        let e = self.current();
        e.admit_marketplace(e.limits.marketplaces).err()
    }

    /// Whether storing the credential `name` is allowed: cloud model keys need a plan with
    /// cloud models, the Telegram token one with Telegram, marketplace keys a free
    /// marketplace account.
    pub async fn admit_credential(&self, name: &str) -> Result<(), Refusal> {
        match name {
            "openai.api_key" | "yandexgpt.api_key" => self.current().allows_cloud(),
            crate::channels::telegram::TOKEN => self.current().admit_channel(ChannelKind::Telegram),
            crate::channels::whatsapp::TOKEN => self.current().admit_channel(ChannelKind::WhatsApp),
            crate::channels::vk::TOKEN => self.current().admit_channel(ChannelKind::Vk),
            crate::marketplace::wb::TOKEN => self.admit_marketplace(Market::Wb).await,
            crate::marketplace::ozon::CLIENT_ID | crate::marketplace::ozon::API_KEY => {
                self.admit_marketplace(Market::Ozon).await
            }
            _ => Ok(()),
        }
    }

    /// Whether keys for `market` may be stored (connecting it).
    pub async fn admit_marketplace(&self, market: Market) -> Result<(), Refusal> {
        let others = self.connected_markets().await.into_iter().filter(|m| *m != market).count();
        self.current().admit_marketplace(u32::try_from(others).unwrap_or(u32::MAX))
    }

    /// The status for the panel, the API and `supportd licence show --json`.
    pub fn view(&self, usage: Option<PlanUsage>) -> LicenceView {
        let e = self.current();
        LicenceView {
            status: e.status,
            plan_title: texts::plan_title(&e.plan),
            plan: e.plan.clone(),
            valid_until: e.valid_until.map(rfc3339),
            grace_until: e.grace_until.map(rfc3339),
            days_left: e.days_left(),
            automation: e.automation(),
            warning: e.warning(self.offset_min),
            limits: e.limits.clone(),
            licence: e.licence.as_ref().map(|l| LicenceDetails {
                id: l.id.clone(),
                customer: l.customer.clone(),
                issued: rfc3339(l.issued),
                grace_days: l.grace_days,
            }),
            trial_started_at: rfc3339(self.trial_started_at),
            trusted_key: self.key.id(),
            key_source: self.key_source,
            usage,
        }
    }

    /// What the plan's limits are measured against now.
    pub async fn usage(&self) -> Result<PlanUsage, StoreError> {
        let seats = self.db.call(|c| crate::store::users::seats(c)).await?;
        let connected = self.connected_markets().await;
        let synced = self.current().allowed_markets(&connected);
        Ok(PlanUsage { seats, marketplaces_connected: connected, marketplaces_synced: synced })
    }

    /// Reloads the licence, then records the warnings that came due and e-mails them to the
    /// admins (each once; one that cannot be sent is retried, then given up).
    pub async fn tick(&self, mailer: Option<&Mailer>) {
        let _one = self.ticking.lock().await;
        self.reload().await;
        let e = self.current();
        let now = e.now;
        let all = schedule(&e);
        let current: std::collections::HashSet<String> = all.iter().map(|n| n.key.clone()).collect();
        let due: Vec<Notice> = all.into_iter().filter(|n| n.due_at <= now).collect();
        if !due.is_empty() {
            let mail = mailer.is_some();
            let recorded = self
                .db
                .call(move |c| {
                    let keys: Vec<String> = due.iter().map(|n| n.key.clone()).collect();
                    let known = rows::notice_keys(c, &keys)?;
                    let fresh: Vec<&Notice> = due.iter().filter(|n| !known.contains(&n.key)).collect();
                    if fresh.is_empty() {
                        return Ok(0);
                    }
                    // Several due at once (the server was off): only the latest is worth sending.
                    let latest = fresh.iter().map(|n| n.due_at).max();
                    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                    for n in &fresh {
                        let state = if Some(n.due_at) != latest {
                            rows::NoticeState::Superseded
                        } else if mail {
                            rows::NoticeState::Pending
                        } else {
                            rows::NoticeState::Unsent
                        };
                        rows::insert_notice(&tx, &n.key, n.kind, n.due_at, state, now)?;
                    }
                    tx.commit()?;
                    Ok(fresh.len())
                })
                .await;
            if let Err(e) = recorded {
                tracing::warn!(error = %e, "cannot record licence warnings");
            }
        }
        let Some(mailer) = mailer else { return };
        let pending = match self.db.call(move |c| rows::pending_notices(c, now)).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read licence warnings");
                return;
            }
        };
        for n in pending {
            if current.contains(&n.key) {
                self.send(mailer, &e, &n).await;
            } else {
                // A warning about a licence since replaced: it would describe the new one wrongly.
                let key = n.key.clone();
                let done = self
                    .db
                    .call(move |c| {
                        rows::mark_notice(c, &key, rows::NoticeState::Superseded, None, n.attempts, now, now)
                    })
                    .await;
                if let Err(err) = done {
                    tracing::warn!(error = %err, "cannot record a licence warning");
                }
            }
        }
    }

    async fn send(&self, mailer: &Mailer, e: &Entitlement, n: &rows::NoticeRow) {
        let admins = match self.db.call(|c| crate::store::users::list(c)).await {
            Ok(all) => {
                all.into_iter().filter(|u| !u.disabled && u.role == crate::domain::Role::Admin).collect::<Vec<_>>()
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot list the admins");
                return;
            }
        };
        let date = |ms: Option<Millis>| ms.map(|t| texts::date(t, self.offset_min)).unwrap_or_default();
        let days = e.days_left().unwrap_or(0);
        let subject = texts::notice_subject(&n.kind, &e.plan, days);
        let body = texts::notice_body(
            &n.kind,
            &e.plan,
            days,
            &date(e.valid_until.or(Some(n.due_at))),
            &date(e.grace_until),
            &self.public_url,
        );
        let mut delivered = 0;
        let mut last_error = None;
        for a in &admins {
            match mailer.send(&a.email, &subject, body.clone()).await {
                Ok(()) => delivered += 1,
                Err(err) => {
                    tracing::warn!(kind = %n.kind, error = %err, "cannot e-mail a licence warning to an admin");
                    last_error = Some(err);
                }
            }
        }
        let now = self.clock.now_ms();
        let key = n.key.clone();
        let attempts = n.attempts + 1;
        let (state, error) = if delivered > 0 {
            (rows::NoticeState::Sent, None)
        } else if attempts >= MAIL_ATTEMPTS {
            (rows::NoticeState::Failed, last_error.or_else(|| Some("no active admin".into())))
        } else {
            (rows::NoticeState::Pending, last_error.or_else(|| Some("no active admin".into())))
        };
        let retry_at = now + attempts * 5 * 60_000;
        if let Err(err) =
            self.db.call(move |c| rows::mark_notice(c, &key, state, error.as_deref(), attempts, retry_at, now)).await
        {
            tracing::warn!(error = %err, "cannot record a licence warning");
        }
    }
}

/// The background job: every 10 seconds, the licence is reloaded and warnings are sent.
pub async fn run(licensing: Arc<Licensing>, mailer: Option<Mailer>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
    loop {
        tick.tick().await;
        licensing.tick(mailer.as_ref()).await;
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LicenceDetails {
    pub id: String,
    pub customer: String,
    pub issued: String,
    pub grace_days: u32,
}

/// What the limits are measured against now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanUsage {
    /// Active admins and operators.
    pub seats: i64,
    /// Marketplaces with keys.
    pub marketplaces_connected: Vec<Market>,
    /// Of those, the ones the plan syncs.
    pub marketplaces_synced: Vec<Market>,
}

/// The licence status (no secrets: the token itself is never shown back).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LicenceView {
    pub status: Status,
    pub plan: String,
    /// For people (Russian).
    pub plan_title: String,
    /// RFC 3339: the end of the trial or of the licence; null on the free tier.
    pub valid_until: Option<String>,
    /// When automation pauses (the licence's end plus its grace days).
    pub grace_until: Option<String>,
    pub days_left: Option<i64>,
    /// False when the bot is paused (expired): messages wait for people.
    pub automation: bool,
    pub limits: Limits,
    pub licence: Option<LicenceDetails>,
    pub usage: Option<PlanUsage>,
    /// The banner to show, if any.
    pub warning: Option<Warning>,
    pub trial_started_at: String,
    /// The id of the key licences are checked against.
    pub trusted_key: String,
    pub key_source: KeySource,
}

/// Whether an account with `role` takes a seat: active admins and operators do, viewers never.
pub fn takes_seat(role: crate::domain::Role, disabled: bool) -> bool {
    !disabled && role.allows(crate::domain::Role::Operator)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::licence::plans::ChannelKind;

    const NOW: Millis = 1_790_000_000_000;

    fn licence(days: i64, grace: u32) -> Licence {
        Licence {
            id: "L-1".into(),
            customer: "ООО Ладья".into(),
            plan: "start".into(),
            issued: NOW,
            valid_until: NOW + days * DAY_MS,
            grace_days: grace,
            limits: plans::find("start").map(plans::Plan::limits).expect("start"),
            key_id: "k".into(),
        }
    }

    #[test]
    fn the_vendor_key_is_valid() {
        let (key, source) = trusted_key(&Config::default()).expect("vendor key");
        assert_eq!(key.id().len(), 16);
        assert!(matches!(source, KeySource::Vendor | KeySource::Build));
    }

    #[test]
    fn checking_a_licence_needs_no_network() {
        let network = [
            ["req", "west"].concat(),
            ["crate::", "net"].concat(),
            ["Tcp", "Stream"].concat(),
            ["let", "tre"].concat(),
        ];
        for (file, text) in [
            ("token.rs", include_str!("token.rs")),
            ("plans.rs", include_str!("plans.rs")),
            ("statement.rs", include_str!("statement.rs")),
        ] {
            for n in &network {
                assert!(!text.contains(n.as_str()), "{file} mentions {n}");
            }
        }
    }

    #[test]
    fn status_follows_the_clock() {
        let at = |now, l: Option<&Licence>| Entitlement::compute(now, NOW, l).status;
        assert_eq!(at(NOW, None), Status::Trial);
        assert_eq!(at(NOW + 14 * DAY_MS - 1, None), Status::Trial);
        assert_eq!(at(NOW + 14 * DAY_MS, None), Status::Free);
        let l = licence(30, 7);
        assert_eq!(at(NOW + DAY_MS, Some(&l)), Status::Active, "a licence replaces the trial");
        assert_eq!(at(NOW + 30 * DAY_MS - 1, Some(&l)), Status::Active);
        assert_eq!(at(NOW + 30 * DAY_MS, Some(&l)), Status::Grace);
        assert_eq!(at(NOW + 37 * DAY_MS - 1, Some(&l)), Status::Grace);
        assert_eq!(at(NOW + 37 * DAY_MS, Some(&l)), Status::Expired);
        assert_eq!(at(NOW + 30 * DAY_MS, Some(&licence(30, 0))), Status::Expired, "no grace");
        let e = Entitlement::compute(NOW + 37 * DAY_MS, NOW, Some(&l));
        assert!(!e.automation());
        assert_eq!(e.limits, l.limits, "an expired licence keeps receiving what it included");
        assert_eq!(Entitlement::compute(NOW + 29 * DAY_MS + 1, NOW, Some(&l)).days_left(), Some(1));
        assert_eq!(Entitlement::compute(NOW + 29 * DAY_MS, NOW, Some(&l)).days_left(), Some(1));
        assert_eq!(Entitlement::compute(NOW + 29 * DAY_MS - 1, NOW, Some(&l)).days_left(), Some(2));
    }

    #[test]
    fn refusals_name_the_plan_that_allows_it() {
        let free = Entitlement::compute(NOW + 15 * DAY_MS, NOW, None);
        assert!(free.admit_seats(1).is_ok());
        let Refusal(m) = free.admit_seats(2).expect_err("one seat");
        assert!(m.contains("«Бесплатный»") && m.contains("«Старт»") && m.contains("до 3 операторов"), "{m}");
        let Refusal(m) = free.admit_marketplace(0).expect_err("no marketplaces");
        assert!(m.contains("«Старт»") && m.contains("1 маркетплейс"), "{m}");
        assert!(free.allows_channel(ChannelKind::Telegram).is_ok() && free.allows_channel(ChannelKind::Widget).is_ok());
        let Refusal(m) = free.allows_channel(ChannelKind::Api).expect_err("no api");
        assert!(m.contains("«Бизнес»"), "{m}");
        assert!(free.allows_cloud().expect_err("local only").0.contains("«Бизнес»"));
        assert!(free.allows_exports().expect_err("no exports").0.contains("«Старт»"));

        let start = Entitlement::compute(NOW, NOW, Some(&licence(30, 7)));
        assert!(start.admit_seats(3).is_ok());
        assert!(start.admit_seats(4).expect_err("3 seats").0.contains("«Бизнес» (до 10 операторов)"));
        assert!(start.admit_marketplace(0).is_ok());
        let Refusal(m) = start.admit_marketplace(1).expect_err("one marketplace");
        assert!(m.contains("«Бизнес» (2 маркетплейса)"), "{m}");
        assert_eq!(start.allowed_markets(&[Market::Ozon, Market::Wb]), vec![Market::Wb]);
        assert_eq!(start.allowed_markets(&[Market::Ozon]), vec![Market::Ozon]);

        let expired = Entitlement::compute(NOW + 40 * DAY_MS, NOW, Some(&licence(30, 7)));
        assert!(expired.admit_seats(1).expect_err("expired").0.contains("истекла"));
        assert!(expired.allows_channel(ChannelKind::Telegram).is_ok(), "receiving goes on");
        assert_eq!(expired.allowed_markets(&[Market::Wb]), vec![Market::Wb], "so does the sync");
        assert!(expired.allows_cloud().is_err());
    }

    #[test]
    fn warnings_are_scheduled_once_per_licence_and_kind() {
        let l = licence(30, 7);
        let e = Entitlement::compute(NOW, NOW, Some(&l));
        let s = schedule(&e);
        let due: Vec<(&str, Millis)> = s.iter().map(|n| (n.kind, (n.due_at - NOW) / DAY_MS)).collect();
        assert_eq!(due, vec![("ahead", 16), ("ahead", 23), ("ahead", 29), ("grace", 30), ("paused", 37)]);
        let keys: std::collections::HashSet<&str> = s.iter().map(|n| n.key.as_str()).collect();
        assert_eq!(keys.len(), s.len());
        // A ten-day licence gets no 14-day warning; a renewal is a new subject.
        assert_eq!(schedule(&Entitlement::compute(NOW, NOW, Some(&licence(10, 7)))).len(), 4);
        let renewed = Licence { valid_until: NOW + 400 * DAY_MS, ..l };
        assert!(
            schedule(&Entitlement::compute(NOW, NOW, Some(&renewed))).iter().all(|n| !keys.contains(n.key.as_str()))
        );
        let trial = schedule(&Entitlement::compute(NOW, NOW, None));
        let due: Vec<(&str, Millis)> = trial.iter().map(|n| (n.kind, (n.due_at - NOW) / DAY_MS)).collect();
        assert_eq!(due, vec![("trial_ending", 7), ("trial_ending", 13), ("trial_ended", 14)]);
    }

    #[test]
    fn the_banner_says_what_happens_next() {
        let l = licence(30, 7);
        let w = |now| Entitlement::compute(now, NOW, Some(&l)).warning(180);
        assert_eq!(w(NOW), None, "nothing to say a month ahead");
        let soon = w(NOW + 23 * DAY_MS).expect("7 days ahead");
        assert_eq!(soon.level, WarningLevel::Warning);
        assert!(soon.message.contains("через 7 дней"), "{}", soon.message);
        let grace = w(NOW + 31 * DAY_MS).expect("grace");
        assert_eq!(grace.level, WarningLevel::Danger);
        assert!(grace.message.contains("перестанет отвечать"), "{}", grace.message);
        assert!(w(NOW + 38 * DAY_MS).expect("expired").message.contains("бот приостановлен"));
        let trial = Entitlement::compute(NOW, NOW, None).warning(180).expect("trial");
        assert_eq!(trial.level, WarningLevel::Info);
        assert!(trial.message.contains("осталось 14 дней"), "{}", trial.message);
    }
}
