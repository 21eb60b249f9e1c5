//! First-run set-up from the panel (the «Подключение» page): the checklist of what a shop needs
//! (models, Telegram, marketplaces, the widget, a first answered conversation), installing the
//! models of `supportd model pull` with progress, the widget's settings (allowed sites, colour,
//! greeting) and the model settings chosen in the panel, laid over the config file at start.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::config::Config;
use crate::http::AppState;
use crate::llm::catalog::{self, CatalogModel};
use crate::store::{Db, credentials as settings};
use crate::texts::panel::{install as itexts, setup as stexts};

/// The settings key of the widget's settings.
pub const WIDGET_SETTINGS: &str = "widget_settings";
/// The settings key of the model settings chosen in the panel.
pub const MODEL_SETTINGS: &str = "models";

/// One step of the checklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepName {
    Model,
    Embeddings,
    Telegram,
    Marketplaces,
    Widget,
    TestConversation,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SetupStep {
    pub step: StepName,
    pub done: bool,
    /// What is set up, or what to do (Russian).
    pub detail: String,
}

/// The checklist, in the order a new shop goes through it.
pub async fn checklist(state: &AppState) -> anyhow::Result<Vec<SetupStep>> {
    let mut out = Vec::with_capacity(6);
    // The chat model: the local one loaded, or a cloud provider in the chain with a key.
    let local = state.local_model.status();
    let model_file = state.config.model_path(&state.paths.data_dir);
    let cloud = state.llm.states().into_iter().find(|p| p.name != "local" && p.breaker != "open").map(|p| p.name);
    let cloud_key = match &cloud {
        Some(name) => cloud_key_set(state, name).await,
        None => false,
    };
    let (done, detail) = if local.starts_with("ready") {
        (true, stexts::MODEL_READY.to_owned())
    } else if cloud_key {
        (true, stexts::model_cloud(cloud.as_deref().unwrap_or("")))
    } else if local == "loading" {
        (false, stexts::MODEL_LOADING.to_owned())
    } else if model_file.exists() {
        (false, stexts::model_broken(local.trim_start_matches("unavailable: ")))
    } else {
        (
            false,
            stexts::model_missing(
                &model_file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
            ),
        )
    };
    out.push(SetupStep { step: StepName::Model, done, detail });

    let (done, detail) = if state.kb.embedder().is_some() {
        (true, stexts::EMBEDDINGS_READY.to_owned())
    } else if state.kb.embedder_path().exists() {
        (false, stexts::EMBEDDINGS_INSTALLED.to_owned())
    } else {
        (false, stexts::EMBEDDINGS_MISSING.to_owned())
    };
    out.push(SetupStep { step: StepName::Embeddings, done, detail });

    let (done, detail) = match &state.telegram {
        None => (false, stexts::TELEGRAM_OFF.to_owned()),
        Some(tg) if !tg.has_token().await => (false, stexts::TELEGRAM_MISSING.to_owned()),
        Some(tg) => match tg.check().await {
            Ok(bot) => (true, stexts::telegram_ready(&bot, tg.mode().await.as_str())),
            Err(e) => (false, stexts::telegram_broken(&e)),
        },
    };
    out.push(SetupStep { step: StepName::Telegram, done, detail });

    let connected = state.orders.connected().await;
    let names: Vec<&str> =
        connected.iter().map(|m| if *m == crate::marketplace::Market::Wb { "Wildberries" } else { "Ozon" }).collect();
    out.push(if names.is_empty() {
        SetupStep { step: StepName::Marketplaces, done: false, detail: stexts::MARKETPLACES_MISSING.to_owned() }
    } else {
        SetupStep { step: StepName::Marketplaces, done: true, detail: stexts::marketplaces_ready(&names.join(", ")) }
    });

    let facts = state.db.call(|c| crate::store::panel::setup_facts(c)).await?;
    let widget = widget_settings(&state.db).await;
    let mut sites = state.config.widget.allowed_origins.clone();
    sites.extend(widget.allowed_origins.iter().cloned());
    out.push(if !sites.is_empty() {
        SetupStep { step: StepName::Widget, done: true, detail: stexts::widget_ready(&sites.join(", ")) }
    } else if facts.widget_conversations > 0 {
        SetupStep { step: StepName::Widget, done: true, detail: stexts::WIDGET_USED.to_owned() }
    } else {
        SetupStep { step: StepName::Widget, done: false, detail: stexts::WIDGET_MISSING.to_owned() }
    });
    out.push(if facts.bot_replies > 0 {
        SetupStep { step: StepName::TestConversation, done: true, detail: stexts::test_done(facts.bot_replies) }
    } else {
        SetupStep { step: StepName::TestConversation, done: false, detail: stexts::TEST_MISSING.to_owned() }
    });
    Ok(out)
}

async fn cloud_key_set(state: &AppState, provider: &str) -> bool {
    let in_config = match provider {
        "openai" => !state.config.llm.openai.api_key.expose().is_empty(),
        "yandexgpt" => !state.config.llm.yandexgpt.api_key.expose().is_empty(),
        _ => false,
    };
    if in_config {
        return true;
    }
    let (name, cipher) = (format!("{provider}.api_key"), state.cipher.clone());
    state.db.call(move |c| settings::get(c, &cipher, &name)).await.ok().flatten().is_some_and(|k| !k.is_empty())
}

// --- The widget ---

/// What a site's address must look like, "https://shop.ru" (a page of it is fine: its
/// origin is what counts).
pub const SITE_PATTERN: &str = r"^https?://(((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])|([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?(/[A-Za-z0-9._~/?#=&%+-]*)?$";

/// A site's address in the OpenAPI document.
pub fn site_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new().schema_type(Type::String).pattern(Some(SITE_PATTERN)).max_length(Some(2000)).build()
}

fn site_list_schema() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(site_schema())
        .max_items(Some(50))
        .description(Some("Sites that may show the chat (\"https://shop.ru\"), besides the config file's."))
        .build()
}

fn chain_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(Type::String).pattern(Some("^(local|yandexgpt|openai)$")))
        .max_items(Some(3))
        .unique_items(true)
        .description(Some("Providers tried in order: \"local\", \"yandexgpt\", \"openai\" (each at most once)."))
        .build()
}

/// The widget's settings from the panel (beside `widget.allowed_origins` of the config file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WidgetSettings {
    /// Sites that may show the chat ("https://shop.ru"), besides the config file's.
    #[serde(default)]
    #[schema(schema_with = site_list_schema)]
    pub allowed_origins: Vec<String>,
    /// The button's and header's colour, "#rrggbb".
    #[serde(default = "default_colour")]
    #[schema(pattern = "^#[0-9a-fA-F]{6}$")]
    pub colour: String,
    /// The first message a new visitor sees (1 to 300 characters).
    #[serde(default = "default_greeting")]
    #[schema(pattern = r"\S", max_length = 300)]
    pub greeting: String,
    /// The chat's title (1 to 40 characters).
    #[serde(default = "default_title")]
    #[schema(pattern = r"\S", max_length = 40)]
    pub title: String,
}

fn default_colour() -> String {
    "#2563eb".into()
}
fn default_greeting() -> String {
    crate::texts::panel::WIDGET_GREETING.into()
}
fn default_title() -> String {
    crate::texts::panel::WIDGET_TITLE.into()
}

impl Default for WidgetSettings {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            colour: default_colour(),
            greeting: default_greeting(),
            title: default_title(),
        }
    }
}

/// "scheme://host[:port]" of a site address (of the form `SITE_PATTERN`), lower-cased.
pub fn origin_of(url: &str) -> Option<String> {
    static SITE: OnceLock<regex::Regex> = OnceLock::new();
    let site = SITE.get_or_init(|| regex::Regex::new(SITE_PATTERN).expect("the site pattern compiles"));
    if url.len() > 2000 || !site.is_match(url) {
        return None;
    }
    let u = reqwest::Url::parse(url.trim()).ok()?;
    if !matches!(u.scheme(), "http" | "https") {
        return None;
    }
    let host = u.host_str()?;
    Some(
        match u.port() {
            Some(p) => format!("{}://{host}:{p}", u.scheme()),
            None => format!("{}://{host}", u.scheme()),
        }
        .to_lowercase(),
    )
}

impl WidgetSettings {
    /// Checks and normalises; the error names the field (Russian, for the panel).
    pub fn validated(mut self) -> Result<Self, String> {
        let mut origins = Vec::new();
        for o in &self.allowed_origins {
            let Some(origin) = origin_of(o) else {
                return Err(crate::texts::panel::bad_origin(o));
            };
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        if origins.len() > 50 {
            return Err(crate::texts::panel::TOO_MANY_ORIGINS.into());
        }
        self.allowed_origins = origins;
        let c = self.colour.trim().to_lowercase();
        if !(c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|x| x.is_ascii_hexdigit())) {
            return Err(crate::texts::panel::BAD_COLOUR.into());
        }
        self.colour = c;
        self.greeting = self.greeting.trim().to_owned();
        if !(1..=300).contains(&self.greeting.chars().count()) || self.greeting.len() > 1200 {
            return Err(crate::texts::panel::BAD_GREETING.into());
        }
        self.title = self.title.trim().to_owned();
        if !(1..=40).contains(&self.title.chars().count()) {
            return Err(crate::texts::panel::BAD_TITLE.into());
        }
        Ok(self)
    }
}

/// The stored widget settings (the defaults when none are stored or they do not read).
pub async fn widget_settings(db: &Db) -> WidgetSettings {
    db.call(|c| settings::setting(c, WIDGET_SETTINGS))
        .await
        .ok()
        .flatten()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

pub async fn save_widget_settings(state: &AppState, s: &WidgetSettings) -> anyhow::Result<()> {
    let (value, now) = (serde_json::to_value(s)?, state.now());
    state.db.call(move |c| settings::set_setting(c, WIDGET_SETTINGS, &value, now)).await?;
    state.widget.set_extra_origins(&s.allowed_origins);
    Ok(())
}

/// At start: the panel's allowed sites join the config file's.
pub async fn apply_stored(state: &AppState) {
    let s = widget_settings(&state.db).await;
    state.widget.set_extra_origins(&s.allowed_origins);
}

// --- Models chosen in the panel ---

/// The model settings of the panel: the chat model and every cloud setting of `[llm]` but the
/// keys (stored encrypted on their own). Applied at the next start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelSettings {
    /// Providers tried in order: "local", "yandexgpt", "openai" (each at most once).
    #[schema(schema_with = chain_schema)]
    pub chain: Vec<crate::config::LlmProvider>,
    /// The local chat model's catalogue id.
    #[schema(pattern = r"^(qwen2\.5-coder-1\.5b|qwen2\.5-coder-0\.5b|smollm2-135m)$")]
    pub local_model: Option<String>,
    #[schema(pattern = "^https?://")]
    pub openai_base_url: String,
    pub openai_model: String,
    #[schema(minimum = 0.0)]
    pub openai_price_input_rub_per_m: f64,
    #[schema(minimum = 0.0)]
    pub openai_price_output_rub_per_m: f64,
    /// 0: no cap.
    #[schema(minimum = 0.0)]
    pub openai_monthly_budget_rub: f64,
    #[schema(pattern = "^https?://")]
    pub yandexgpt_base_url: String,
    pub yandexgpt_folder_id: String,
    pub yandexgpt_model: String,
    /// "api-key" or "iam".
    pub yandexgpt_auth: crate::config::YandexAuth,
    #[schema(minimum = 0.0)]
    pub yandexgpt_price_input_rub_per_m: f64,
    #[schema(minimum = 0.0)]
    pub yandexgpt_price_output_rub_per_m: f64,
    #[schema(minimum = 0.0)]
    pub yandexgpt_monthly_budget_rub: f64,
}

impl ModelSettings {
    pub fn of(config: &Config) -> Self {
        let l = &config.llm;
        Self {
            chain: l.chain.clone(),
            local_model: catalog::for_path(&l.local.model).map(|m| m.id.to_owned()),
            openai_base_url: l.openai.base_url.clone(),
            openai_model: l.openai.model.clone(),
            openai_price_input_rub_per_m: l.openai.price_input_rub_per_m,
            openai_price_output_rub_per_m: l.openai.price_output_rub_per_m,
            openai_monthly_budget_rub: l.openai.monthly_budget_rub,
            yandexgpt_base_url: l.yandexgpt.base_url.clone(),
            yandexgpt_folder_id: l.yandexgpt.folder_id.clone(),
            yandexgpt_model: l.yandexgpt.model.clone(),
            yandexgpt_auth: l.yandexgpt.auth,
            yandexgpt_price_input_rub_per_m: l.yandexgpt.price_input_rub_per_m,
            yandexgpt_price_output_rub_per_m: l.yandexgpt.price_output_rub_per_m,
            yandexgpt_monthly_budget_rub: l.yandexgpt.monthly_budget_rub,
        }
    }

    /// The config with these settings laid over it; the error names the key.
    pub fn apply(&self, config: &Config) -> Result<Config, (String, String)> {
        let mut c = config.clone();
        let l = &mut c.llm;
        l.chain.clone_from(&self.chain);
        if let Some(id) = &self.local_model {
            match catalog::find(id).filter(|m| !catalog::is_embeddings(m)) {
                Some(m) => l.local.model = PathBuf::from("models").join(m.file),
                None => return Err(("local_model".into(), crate::texts::panel::no_such_model(id))),
            }
        }
        l.openai.base_url.clone_from(&self.openai_base_url);
        l.openai.model.clone_from(&self.openai_model);
        l.openai.price_input_rub_per_m = self.openai_price_input_rub_per_m;
        l.openai.price_output_rub_per_m = self.openai_price_output_rub_per_m;
        l.openai.monthly_budget_rub = self.openai_monthly_budget_rub;
        l.yandexgpt.base_url.clone_from(&self.yandexgpt_base_url);
        l.yandexgpt.folder_id.clone_from(&self.yandexgpt_folder_id);
        l.yandexgpt.model.clone_from(&self.yandexgpt_model);
        l.yandexgpt.auth = self.yandexgpt_auth;
        l.yandexgpt.price_input_rub_per_m = self.yandexgpt_price_input_rub_per_m;
        l.yandexgpt.price_output_rub_per_m = self.yandexgpt_price_output_rub_per_m;
        l.yandexgpt.monthly_budget_rub = self.yandexgpt_monthly_budget_rub;
        c.validate().map_err(|(k, m)| (k.to_owned(), m))?;
        Ok(c)
    }
}

/// At start: the config with the panel's model settings laid over it (a stored value that no
/// longer validates is ignored, with a log line).
pub fn overlay(config: Config, db: &Db) -> Config {
    let stored = db.with_conn(|c| settings::setting(c, MODEL_SETTINGS)).ok().flatten();
    let Some(s) = stored.and_then(|v| serde_json::from_value::<ModelSettings>(v).ok()) else { return config };
    match s.apply(&config) {
        Ok(c) => c,
        Err((key, message)) => {
            tracing::warn!(key, %message, "stored model settings are invalid; using the config file's");
            config
        }
    }
}

// --- Installing models ---

/// One model of the catalogue as the set-up page shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ModelInfo {
    pub id: String,
    /// "chat" or "embeddings".
    pub kind: String,
    pub file: String,
    pub description: String,
    pub size_bytes: u64,
    pub installed: bool,
    /// The configured chat model (or, for embeddings, the one search uses).
    pub configured: bool,
    /// Resident memory while answering, MB, as measured by the benchmark in README.
    pub memory_mb: Option<u32>,
    /// Measured speed on 2 cores (README's benchmark), for people.
    pub speed: Option<String>,
}

/// Measured figures (README, "Performance": `benches/llm.sh`, the search benchmark).
fn measured(id: &str) -> (Option<u32>, Option<&'static str>) {
    match id {
        "qwen2.5-coder-1.5b" => (Some(1150), Some(crate::texts::panel::SPEED_CODER_1_5B)),
        "qwen2.5-coder-0.5b" => (Some(779), Some(crate::texts::panel::SPEED_CODER_0_5B)),
        "e5-small" => (Some(242), Some(crate::texts::panel::SPEED_E5_SMALL)),
        _ => (None, None),
    }
}

pub fn models(config: &Config, data_dir: &Path) -> Vec<ModelInfo> {
    let dir = crate::paths::models_dir(data_dir);
    let configured = config.model_path(data_dir);
    catalog::all()
        .map(|m| {
            let path = dir.join(m.file);
            let (memory_mb, speed) = measured(m.id);
            let embeddings = catalog::is_embeddings(m);
            ModelInfo {
                id: m.id.into(),
                kind: if embeddings { "embeddings" } else { "chat" }.into(),
                file: m.file.into(),
                description: m.description.into(),
                size_bytes: m.size,
                installed: path.exists(),
                configured: embeddings || path == configured,
                memory_mb,
                speed: speed.map(str::to_owned),
            }
        })
        .collect()
}

/// An installation in progress or the last one finished.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Install {
    pub id: String,
    /// "running", "done" or "failed".
    pub state: String,
    /// Bytes on disk so far and the model's size (the progress bar).
    pub bytes: u64,
    pub total: u64,
    /// The last lines of the installer's log, and its outcome (Russian).
    pub message: String,
    pub log: Vec<String>,
}

fn installs() -> &'static Mutex<HashMap<PathBuf, Install>> {
    static INSTALLS: OnceLock<Mutex<HashMap<PathBuf, Install>>> = OnceLock::new();
    INSTALLS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The installation of this data directory's models, with its progress now.
pub fn install_state(data_dir: &Path) -> Option<Install> {
    let dir = crate::paths::models_dir(data_dir);
    let mut out = installs().lock().ok()?.get(&dir).cloned()?;
    if out.state == "running"
        && let Some(m) = catalog::find(&out.id)
    {
        let partial = dir.join(format!(".{}.partial", m.file));
        out.bytes = std::fs::metadata(&partial).or_else(|_| std::fs::metadata(dir.join(m.file))).map_or(0, |x| x.len());
    }
    Some(out)
}

/// Starts installing `model` in the background; `Err` when one is already running.
pub fn start_install(data_dir: &Path, model: &'static CatalogModel) -> Result<Install, String> {
    let dir = crate::paths::models_dir(data_dir);
    let first = Install {
        id: model.id.into(),
        state: "running".into(),
        bytes: 0,
        total: model.size,
        message: itexts::STARTED.into(),
        log: Vec::new(),
    };
    {
        let mut all = installs().lock().map_err(|_| itexts::BUSY.to_owned())?;
        if all.get(&dir).is_some_and(|i| i.state == "running") {
            return Err(itexts::BUSY.into());
        }
        all.insert(dir.clone(), first.clone());
    }
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    std::thread::spawn(move || {
        let sink = log.clone();
        let key = dir.clone();
        let mut progress = |line: &str| {
            tracing::info!(model = model.id, "{line}");
            if let Ok(mut l) = sink.lock() {
                l.push(line.to_owned());
                let n = l.len();
                if n > 20 {
                    l.drain(..n - 20);
                }
                if let Ok(mut all) = installs().lock()
                    && let Some(i) = all.get_mut(&key)
                {
                    i.log = l.clone();
                }
            }
        };
        let result = catalog::pull(model, &dir, &mut progress);
        if let Ok(mut all) = installs().lock()
            && let Some(i) = all.get_mut(&dir)
        {
            match result {
                Ok(path) => {
                    i.state = "done".into();
                    i.bytes = std::fs::metadata(&path).map_or(model.size, |m| m.len());
                    i.message = itexts::done(model.file);
                }
                Err(e) => {
                    tracing::warn!(model = model.id, error = %format!("{e:#}"), "model installation failed");
                    i.state = "failed".into();
                    i.message = itexts::failed(&format!("{e:#}"));
                }
            }
        }
    });
    Ok(first)
}

/// Checks an installed model's size and SHA-256 (Russian outcome; `true` when intact).
pub fn verify(data_dir: &Path, model: &CatalogModel) -> (bool, String) {
    let path = crate::paths::models_dir(data_dir).join(model.file);
    if !path.exists() {
        return (false, itexts::NOT_INSTALLED.into());
    }
    match catalog::verify(model, &path) {
        Ok(()) => (true, itexts::VERIFIED.into()),
        Err(e) => (false, itexts::damaged(&format!("{e:#}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widget_settings_are_checked_and_normalised() {
        let s = WidgetSettings {
            allowed_origins: vec!["https://Shop.ru/catalog?x=1".into(), "https://shop.ru".into()],
            colour: "#AA00ff".into(),
            ..WidgetSettings::default()
        }
        .validated()
        .expect("valid");
        assert_eq!(s.allowed_origins, vec!["https://shop.ru".to_owned()]);
        assert_eq!(s.colour, "#aa00ff");
        let bad = WidgetSettings { allowed_origins: vec!["shop.ru".into()], ..WidgetSettings::default() };
        assert!(bad.validated().expect_err("not a site").starts_with("allowed_origins"));
        let bad = WidgetSettings { colour: "red".into(), ..WidgetSettings::default() };
        assert!(bad.validated().expect_err("not a colour").starts_with("colour"));
        assert_eq!(origin_of("http://127.0.0.1:8080/x").as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(origin_of("ftp://x.ru"), None);
        // What the OpenAPI document promises is what is accepted: a name ends in a letter label.
        assert_eq!(origin_of("http://t.o.0"), None);
        assert_eq!(origin_of("http://127.0.0.1:65535").as_deref(), Some("http://127.0.0.1:65535"));
        assert_eq!(origin_of("http://127.0.0.1:65536"), None);
        assert_eq!(origin_of(" https://shop.ru"), None);
        assert_eq!(origin_of("https://shop.ru/a b"), None);
    }

    #[test]
    fn model_settings_round_trip_over_the_config() {
        use crate::config::LlmProvider;
        let config = Config::default();
        let mut s = ModelSettings::of(&config);
        assert_eq!(s.local_model.as_deref(), Some("qwen2.5-coder-1.5b"));
        s.local_model = Some("qwen2.5-coder-0.5b".into());
        s.chain = vec![LlmProvider::Local, LlmProvider::YandexGpt];
        s.yandexgpt_folder_id = "b1gexample".into();
        s.yandexgpt_monthly_budget_rub = 500.0;
        let applied = s.apply(&config).expect("valid");
        assert_eq!(applied.llm.local.model, PathBuf::from("models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"));
        assert_eq!(applied.llm.yandexgpt.folder_id, "b1gexample");
        assert_eq!(ModelSettings::of(&applied), s);
        s.chain = vec![LlmProvider::Local, LlmProvider::Local];
        assert!(s.apply(&config).is_err(), "a provider named twice");
        let mut json = serde_json::to_value(&s).expect("json");
        json["chain"] = serde_json::json!(["gpt-5"]);
        assert!(serde_json::from_value::<ModelSettings>(json).is_err(), "not a provider");
        s.chain = vec![LlmProvider::Local];
        s.local_model = Some("e5-small".into());
        assert!(s.apply(&config).is_err(), "the embedding model is no chat model");
    }
}
