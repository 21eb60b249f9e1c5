//! The configuration's tests: loading, validation, the template and the catalogue.

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
        ("[engine]\nhuman_only_intents = [\"complaint\", \"gossip\"]\n", "engine.human_only_intents"),
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

#[cfg(test)]
mod docs {
    /// README's configuration table lists every variable.
    #[test]
    fn readme_lists_every_variable() {
        let readme = include_str!("../../README.md");
        for (var, key, _, _) in super::ENV_VARS {
            assert!(readme.contains(&format!("`{var}` | `{key}`")), "README lacks {var} ({key})");
        }
    }
}
