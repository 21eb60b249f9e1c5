//! Building the shared state and running the server. `App::build` binds the listener (port 0
//! in tests) and `App::run` serves until the shutdown future resolves.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::net::TcpListener;

use crate::accounts;
use crate::clock::SharedClock;
use crate::config::{self, Config};
use crate::crypto::{self, Cipher};
use crate::domain::{Email, Role};
use crate::http::auth::throttle::Throttle;
use crate::http::metrics::Metrics;
pub use crate::http::state::{AppState, StateInner};
use crate::mail::Mailer;
pub use crate::paths::Paths;
use crate::store::audit::Actor;
use crate::store::{self, Db};

/// Loads the config for `paths`, reading the process environment.
pub fn load_config(paths: &Paths) -> Result<Config, config::ConfigError> {
    Config::load(Some(&paths.config_file), &|k| std::env::var(k).ok())
}

#[derive(Debug, Default)]
pub struct InitOutcome {
    pub created_data_dir: bool,
    pub created_config: bool,
    /// The first admin's login and generated password, shown once.
    pub admin: Option<(String, String)>,
}

fn create_private_dir(dir: &Path) -> anyhow::Result<bool> {
    if dir.is_dir() {
        return Ok(false);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create the directory {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict permissions of {}", dir.display()))?;
    }
    Ok(true)
}

/// Creates whatever is missing (data dir, config file, secret key, database, first admin) and
/// leaves everything that exists alone: safe to run again.
pub fn initialize(paths: &Paths, admin_email: &Email, now: i64) -> anyhow::Result<InitOutcome> {
    let mut out = InitOutcome { created_data_dir: create_private_dir(&paths.data_dir)?, ..Default::default() };
    create_private_dir(&paths.models())?;
    if !paths.config_file.exists() {
        if let Some(parent) = paths.config_file.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        crypto::write_private_file(&paths.config_file, config::TEMPLATE.as_bytes())
            .with_context(|| format!("cannot write the config file {}", paths.config_file.display()))?;
        out.created_config = true;
    }
    // Fail early on an invalid config file, before anything else is created.
    load_config(paths)?;
    Cipher::load_or_create(&paths.secret_key())?;
    let db = Db::open(&paths.db(), 1, now)?;
    let no_users = db.with_conn(|c| store::users::count(c))? == 0;
    if no_users {
        let password = crypto::generate_password()?;
        let hash = crypto::hash_password(&password)?;
        db.with_conn(|c| {
            accounts::create_user(
                c,
                &Actor::system(),
                admin_email,
                crate::texts::FIRST_ADMIN_NAME,
                Role::Admin,
                &hash,
                None,
                now,
            )
        })?;
        out.admin = Some((admin_email.to_string(), password));
    }
    Ok(out)
}

pub struct App {
    listener: TcpListener,
    /// HTTPS (`server.tls`), and the plain-HTTP redirect listener.
    tls: Option<crate::tls::Tls>,
    redirect: Option<TcpListener>,
    state: AppState,
    stopping: tokio::sync::watch::Sender<bool>,
}

impl App {
    /// Opens the store (migrating it), recovers interrupted work and binds the listener.
    pub async fn build(config: Config, paths: Paths, clock: SharedClock) -> anyhow::Result<Self> {
        let now = clock.now_ms();
        let cipher = Cipher::load_or_create(&paths.secret_key())?;
        let db = Db::open(&paths.db(), config.server.db_pool_size, now)
            .with_context(|| format!("cannot open the database {}", paths.db().display()))?;
        // The model settings chosen on the panel's set-up page.
        let config = crate::setup::overlay(config, &db);
        let requeued = db.with_conn(|c| store::messaging::recover(c, now))?;
        if requeued > 0 {
            tracing::info!(requeued, "outbound messages interrupted by the last stop are queued again");
        }
        let mailer = Mailer::from_config(&config.smtp).map_err(|e| anyhow::anyhow!("invalid setting {e}"))?;
        let listener = TcpListener::bind(config.server.listen)
            .await
            .with_context(|| format!("cannot listen on {} (server.listen)", config.server.listen))?;
        let tls = crate::tls::Tls::setup(&config, &paths.data_dir, clock.clone()).context("HTTPS (server.tls)")?;
        let redirect = match config.server.redirect_listen() {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr} (server.http_redirect_listen)"))?,
            ),
            None => None,
        };
        let throttle = Throttle::new(
            i64::try_from(config.auth.failure_window_secs).unwrap_or(i64::MAX / 2000) * 1000,
            config.auth.max_failures_per_account,
            config.auth.max_failures_per_ip,
        );
        // The server owns the search index. A command holding it for a moment (an import) is
        // waited for; another server on the same data directory is an error.
        let mut tries = 0;
        let kb = loop {
            let (db, dir, clock) = (db.clone(), paths.data_dir.clone(), clock.clone());
            let kb = tokio::task::spawn_blocking(move || crate::kb::Kb::open(db, &dir, clock))
                .await?
                .context("cannot open the knowledge base")?;
            if !kb.read_only() {
                break kb;
            }
            tries += 1;
            if tries >= 30 {
                anyhow::bail!(
                    "the search index in {} is held by another supportd process (is a server already running on this data directory?)",
                    paths.data_dir.display()
                );
            }
            drop(kb);
            tokio::time::sleep(Duration::from_secs(1)).await;
        };
        // Train the message classifier in the background so the first buyer does not wait.
        std::thread::spawn(|| drop(crate::nlu::Nlu::shared()));
        let licensing = {
            let (db, clock, config) = (db.clone(), clock.clone(), config.clone());
            Arc::new(tokio::task::spawn_blocking(move || crate::licence::Licensing::open(db, clock, &config)).await??)
        };
        let (llm, local_model) = crate::llm::setup(&config, &paths.data_dir, db.clone(), cipher.clone(), clock.clone());
        llm.set_gate(crate::licence::gate::models(licensing.clone()));
        let kb = Arc::new(kb);
        let orders = Arc::new(crate::licence::gate::marketplaces(
            crate::marketplace::setup(&config, db.clone(), cipher.clone(), clock.clone()),
            &licensing,
        ));
        let syncer = Arc::new(crate::marketplace::sync::Syncer::new(
            db.clone(),
            clock.clone(),
            config.marketplaces.full_sync_days,
            crate::licence::gate::notifier(
                crate::engine::notify::notifier(&config.notifications, config.shop.utc_offset_minutes),
                licensing.clone(),
            ),
        ));
        let telegram = match crate::channels::telegram::Telegram::new(
            db.clone(),
            cipher.clone(),
            clock.clone(),
            &config.telegram,
            &config.server.public_url,
            &paths.data_dir,
        ) {
            Ok(t) => Some(Arc::new(t)),
            Err(e) => {
                tracing::error!(error = %e, "the Telegram channel is off (telegram.api_url)");
                None
            }
        };
        let whatsapp = Arc::new(crate::channels::whatsapp::WhatsApp::new(
            db.clone(),
            cipher.clone(),
            clock.clone(),
            &config.whatsapp,
            &paths.data_dir,
        ));
        let vk = Arc::new(crate::channels::vk::Vk::new(
            db.clone(),
            cipher.clone(),
            clock.clone(),
            &config.vk,
            &paths.data_dir,
        ));
        let mut engine = crate::engine::Engine::new(
            db.clone(),
            clock.clone(),
            kb.clone(),
            llm.clone(),
            orders.clone(),
            crate::engine::Settings::from_config(&assistant_config(&config, &db)),
        )
        .with_pause(crate::licence::gate::pause(licensing.clone()));
        {
            // "typing…" where the channel can show it.
            let mut typers: Vec<Arc<dyn crate::channels::Channel>> = vec![vk.clone()];
            if let Some(tg) = telegram.clone() {
                typers.push(tg);
            }
            engine = engine.with_typing(Arc::new(move |channel: crate::channels::ChannelName, recipient: &str| {
                if !crate::channels::registry::of(channel).typing {
                    return;
                }
                if let Some(c) = typers.iter().find(|c| c.name() == channel).cloned() {
                    let recipient = recipient.to_owned();
                    tokio::spawn(async move { c.typing(&recipient).await });
                }
            }));
        }
        let widget = Arc::new(
            crate::channels::widget::Widget::new(&config.widget.allowed_origins, &config.server.public_url)
                .with_db(db.clone()),
        );
        {
            // Answers shown while they are written, where the channel can show them.
            let (tg, web) = (telegram.clone(), widget.clone());
            engine = engine.with_streamer(Arc::new(move |p: crate::engine::stream::Partial| {
                let (tg, web) = (tg.clone(), web.clone());
                Box::pin(async move {
                    match p.channel {
                        crate::channels::ChannelName::Telegram => {
                            if let Some(tg) = tg
                                && let Err(e) = tg.draft(&p.recipient, p.draft_id, &p.text).await
                            {
                                tracing::debug!(error = %e, "a Telegram draft was not shown");
                            }
                        }
                        crate::channels::ChannelName::Widget => web.draft(&p.recipient, p.draft_id, &p.text),
                        _ => {}
                    }
                })
            }));
        }
        let engine = Arc::new(engine);
        let reports = Arc::new(crate::analytics::schedule::Reports::new(
            db.clone(),
            clock.clone(),
            mailer.clone(),
            engine.clone(),
            licensing.clone(),
            config.reports.clone(),
            &config.server.public_url,
        ));
        let (stopping, stopping_rx) = tokio::sync::watch::channel(false);
        let backups = Arc::new(crate::backup::Backups::new(
            db.clone(),
            paths.data_dir.clone(),
            config.backup.clone(),
            clock.clone(),
        ));
        let state = AppState::new(StateInner {
            config,
            paths,
            db,
            cipher,
            clock,
            throttle,
            metrics: Metrics::default(),
            mailer,
            kb,
            llm,
            local_model,
            engine,
            telegram,
            widget,
            whatsapp,
            vk,
            orders,
            syncer,
            licensing,
            backups,
            reports,
            started: Instant::now(),
            stopping: stopping_rx,
        });
        // The widget's allowed sites set on the panel.
        crate::setup::apply_stored(&state).await;
        Ok(Self { listener, tls, redirect, state, stopping })
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// The plain-HTTP redirect listener's address, when there is one.
    pub fn redirect_addr(&self) -> Option<SocketAddr> {
        self.redirect.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets requests in flight finish
    /// (up to `server.shutdown_grace_secs`), and checkpoints the database.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let state = self.state.clone();
        let maintenance = tokio::spawn(maintenance(state.clone()));
        let kb_upkeep = tokio::spawn(kb_upkeep(state.kb.clone()));
        let licence = tokio::spawn(crate::licence::run(state.licensing.clone(), state.mailer.clone()));
        let ops = crate::jobs::start(&state);
        let reports = tokio::spawn(crate::analytics::schedule::run(state.reports.clone()));
        // Buyer messages stored before a stop (or a crash) are processed first, in order.
        // The message classifier is trained once per process; train it now, not in the first
        // buyer's turn. With the embedding model, the one with the sentence part replaces it
        // when ready (seconds on the first start, milliseconds from its cache after).
        drop(tokio::task::spawn_blocking(crate::nlu::Nlu::shared));
        if let Some(embedder) = state.kb.shared_embedder() {
            let (live, cache) = (state.engine.nlu().clone(), crate::paths::nlu_cache(&state.paths.data_dir));
            drop(tokio::task::spawn_blocking(move || crate::nlu::sentence::install(&live, embedder, &cache)));
        }
        let worker = tokio::spawn(state.engine.clone().run());
        let sync = tokio::spawn(crate::marketplace::sync::schedule(
            state.syncer.clone(),
            state.orders.apis(),
            Duration::from_secs(state.config.marketplaces.sync_every_minutes * 60),
            state.config.shop.utc_offset_minutes,
            state.kb.clone(),
        ));
        // Marketplace questions and chats (sources not switched off).
        let m = &state.config.marketplaces;
        let qa: Vec<Arc<dyn crate::marketplace::MarketplaceApi>> = state
            .orders
            .apis()
            .into_iter()
            .filter(|a| match a.market() {
                crate::marketplace::Market::Wb => m.wb.questions != crate::config::QaMode::Off,
                crate::marketplace::Market::Ozon => m.ozon.chats != crate::config::QaMode::Off,
            })
            .collect();
        let mut channels = Vec::new();
        let mut dispatchers = Vec::new();
        let dispatcher = |channel: Arc<dyn crate::channels::Channel>| {
            crate::channels::dispatch::Dispatcher::new(
                state.db.clone(),
                state.clock.clone(),
                channel,
                state.engine.outbox_signal(),
                state.stopping.clone(),
            )
            .run()
        };
        for api in &qa {
            let channel = Arc::new(crate::marketplace::qa::MarketplaceChannel::new(api.clone()));
            dispatchers.push(tokio::spawn(dispatcher(channel)));
        }
        let inbox: Arc<dyn crate::channels::Inbox> = state.engine.clone();
        channels.push(tokio::spawn(crate::marketplace::qa::poll(
            qa,
            inbox.clone(),
            Duration::from_secs(state.config.marketplaces.questions_every_secs),
            crate::marketplace::qa::PollContext {
                db: state.db.clone(),
                clock: state.clock.clone(),
                reply_target_hours: state.config.marketplaces.reply_target_hours,
            },
        )));
        dispatchers.push(tokio::spawn(dispatcher(state.widget.clone())));
        dispatchers.push(tokio::spawn(dispatcher(state.whatsapp.clone())));
        dispatchers.push(tokio::spawn(dispatcher(state.vk.clone())));
        channels.push(tokio::spawn(state.vk.clone().run(inbox.clone())));
        if let Some(tg) = state.telegram.clone() {
            dispatchers.push(tokio::spawn(dispatcher(tg.clone())));
            let business = Arc::new(crate::channels::telegram::TelegramBusiness(tg.clone()));
            dispatchers.push(tokio::spawn(dispatcher(business)));
            channels.push(tokio::spawn(tg.run(inbox.clone())));
        }
        let router = crate::http::router(state.clone());
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        let stopping = self.stopping.clone();
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down: no new connections, finishing requests in flight");
            let _ = stopping.send(true);
            let _ = stopping_tx.send(());
        };
        let mut https = Vec::new();
        let server: std::pin::Pin<Box<dyn Future<Output = ()> + Send>> = match &self.tls {
            Some(tls) => {
                https.push(tokio::spawn(tls.maintain()));
                if let Some(plain) = self.redirect {
                    let port = self.listener.local_addr()?.port();
                    let base = crate::tls::https_base(&state.config.server.domain, port);
                    let mut stop = self.stopping.subscribe();
                    let plain = axum::serve(plain, crate::tls::redirect_router(base, tls.challenges.clone()))
                        .with_graceful_shutdown(async move {
                            let _ = stop.wait_for(|s| *s).await;
                        });
                    https.push(tokio::spawn(async move {
                        if let Err(e) = plain.await {
                            tracing::error!(error = %e, "the HTTP redirect listener failed");
                        }
                    }));
                }
                Box::pin(crate::http::serve::serve(tls.listener(self.listener), router, signal))
            }
            None => Box::pin(crate::http::serve::serve(self.listener, router, signal)),
        };
        let grace = Duration::from_secs(state.config.server.shutdown_grace_secs);
        let deadline = async move {
            let _ = stopping_rx.await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            () = server => {},
            () = deadline => tracing::warn!("requests still running after the grace period were cut off"),
        }
        maintenance.abort();
        kb_upkeep.abort();
        licence.abort();
        for job in ops.into_iter().chain(https) {
            job.abort();
        }
        reports.abort();
        worker.abort();
        sync.abort();
        for c in channels {
            c.abort();
        }
        // Deliveries in flight finish and are recorded; claimed rows not yet sent go back.
        let drained = async {
            for d in dispatchers {
                let _ = d.await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(10), drained).await.is_err() {
            tracing::warn!("deliveries still running after 10 s were cut off; they are sent again at the next start");
        }
        let db = state.db.clone();
        tokio::task::spawn_blocking(move || db.checkpoint()).await??;
        tracing::info!("stopped cleanly");
        Ok(())
    }
}

/// The config with the settings page's shop and bot settings laid over it (a stored value that
/// no longer validates is ignored with a warning).
pub fn assistant_config(config: &Config, db: &Db) -> Config {
    let stored = db.with_conn(|c| store::credentials::setting(c, crate::config::ASSISTANT_SETTINGS)).ok().flatten();
    let Some(a) = stored.and_then(|v| serde_json::from_value::<crate::config::AssistantSettings>(v).ok()) else {
        return config.clone();
    };
    let merged = config.with_assistant(&a);
    match merged.validate() {
        Ok(()) => merged,
        Err((key, message)) => {
            tracing::warn!(key, %message, "stored assistant settings are invalid; using the config file's");
            config.clone()
        }
    }
}

/// Periodic housekeeping: forget long-dead sessions and reset tokens, expired cached answers.
async fn maintenance(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        let now = state.now();
        match state.db.call(move |c| store::sessions::prune(c, now, 30 * 24 * 3600 * 1000)).await {
            Ok(n) if n > 0 => tracing::info!(removed = n, "pruned expired sessions"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "session pruning failed"),
        }
        match state.db.call(move |c| store::llm::cache_prune(c, now)).await {
            Ok(n) if n > 0 => tracing::info!(removed = n, "pruned expired cached answers"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "answer cache pruning failed"),
        }
    }
}

/// This process owns the search index: knowledge-base changes that another process (the
/// command line) queued in the database are applied within seconds.
async fn kb_upkeep(kb: Arc<crate::kb::Kb>) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        tick.tick().await;
        let kb = kb.clone();
        match tokio::task::spawn_blocking(move || kb.sync()).await {
            Ok(Ok(n)) if n > 0 => tracing::info!(documents = n, "applied queued knowledge-base changes"),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "applying queued knowledge-base changes failed"),
            Err(e) => tracing::error!(error = %e, "the knowledge-base upkeep task failed"),
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (systemd stop).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
