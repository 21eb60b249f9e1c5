//! The environment catalogue: one `SUPPORTD_*` variable per key, and how a value is read.

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

pub(super) fn parse_env(kind: Kind, raw: &str) -> Result<toml::Value, String> {
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

pub(super) fn set_path(table: &mut toml::Table, dotted: &str, value: toml::Value) {
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
