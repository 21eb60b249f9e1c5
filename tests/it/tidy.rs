//! Tidy tests: rules of the code base that a machine checks (in the style of rust-analyzer's
//! `tidy.rs`). Each names the rule of ARCHITECTURE.md it enforces.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::harness::TestApp;

fn repo_file(path: &str) -> String {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// Every API route of the router is in the OpenAPI document with each method, every
/// `{parameter}` of a path is declared as a path parameter, and nothing else is.
#[tokio::test]
async fn every_api_route_is_in_the_openapi_document_with_its_parameters() {
    let app = TestApp::spawn().await;
    let doc: Value =
        app.client.get(app.url("/api/openapi.json")).send().await.expect("get").json().await.expect("json");
    let paths = doc["paths"].as_object().expect("paths");
    let source = repo_file("src/http/api/mod.rs");
    let mut routes = BTreeSet::new();
    for line in source.lines().map(str::trim).filter(|l| l.starts_with(".route(\"")) {
        let path = line.trim_start_matches(".route(\"").split('"').next().expect("path").replace("{*", "{");
        // `get(handler)`, `.post(handler)`, `axum::routing::delete(handler)`; a handler's own name
        // (`users::get`) is never followed by a parenthesis there.
        for method in ["get", "post", "put", "delete", "patch"] {
            if line.contains(&format!("{method}(")) {
                routes.insert((format!("/api/v1{path}"), method));
            }
        }
    }
    assert!(routes.len() > 60, "{} routes found in the router's source", routes.len());
    for (path, method) in &routes {
        let op = paths.get(path).and_then(|p| p.get(*method));
        assert!(op.is_some(), "{} {path} is routed but not in the OpenAPI document", method.to_uppercase());
    }
    for (path, item) in paths {
        let in_url: BTreeSet<String> =
            path.split('{').skip(1).filter_map(|s| s.split('}').next()).map(str::to_owned).collect();
        for (method, op) in item.as_object().expect("path item") {
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let declared: BTreeSet<String> = params
                .iter()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect();
            assert_eq!(
                declared, in_url,
                "{method} {path}: path parameters declared {declared:?}, in the URL {in_url:?}"
            );
            for code in ["400", "500", "503"] {
                assert!(op["responses"].get(code).is_some(), "{method} {path} does not document {code}");
            }
            let public = op.get("security").is_some_and(|s| s.as_array().is_some_and(Vec::is_empty));
            if !public {
                for code in ["401", "403"] {
                    assert!(op["responses"].get(code).is_some(), "{method} {path} does not document {code}");
                }
            }
        }
    }
    for public in ["/api/v1/auth/login", "/api/v1/auth/password-reset"] {
        assert_eq!(paths[public]["post"]["security"], serde_json::json!([]), "{public} is public");
    }
}

/// Every `.rs` file under `dir` (relative to the repository), with its text.
fn rust_files(dir: &str) -> Vec<(String, String)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    walk(&root.join(dir), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read");
            (p.strip_prefix(root).expect("inside").display().to_string(), text)
        })
        .collect()
}

/// No channel adapter imports `app` (nor the engine: they hand messages to the `Inbox`), and
/// their webhook handlers take their own narrow state, never `AppState` (ARCHITECTURE.md,
/// "no channel adapter imports app").
#[test]
fn no_channel_module_imports_the_app_or_the_engine() {
    let files = rust_files("src/channels");
    assert!(files.len() >= 6, "{} files under src/channels", files.len());
    for (path, text) in &files {
        for forbidden in ["crate::app", "AppState", "crate::engine"] {
            assert!(!text.contains(forbidden), "{path} mentions {forbidden}");
        }
    }
}

/// The configuration is the bottom layer: `config/` imports no channel or marketplace adapter,
/// no NLU, model or engine code (a default host it needs lives in `config/`, the adapter reads
/// it from there) — ARCHITECTURE.md, "config imports no adapter".
#[test]
fn config_imports_no_adapter() {
    let files = rust_files("src/config");
    assert!(files.len() >= 8, "{} files under src/config", files.len());
    for (path, text) in &files {
        for forbidden in [
            "crate::channels",
            "crate::marketplace",
            "crate::nlu",
            "crate::llm",
            "crate::engine",
            "crate::app",
            "crate::http",
        ] {
            assert!(!text.contains(forbidden), "{path} mentions {forbidden}");
        }
    }
}

/// Channel names are spelled once, in `channels::name`: no other module writes a channel's
/// name as a string literal in code (SQL and tests aside).
#[test]
fn channel_names_are_spelled_only_in_channels_name() {
    let names = [
        "\"telegram\"",
        "\"telegram_business\"",
        "\"whatsapp\"",
        "\"vk\"",
        "\"widget\"",
        "\"wb_questions\"",
        "\"ozon_chat\"",
    ];
    for (path, text) in rust_files("src") {
        // The store speaks SQL; the message analyser's vocabulary has the words "telegram"
        // and "whatsapp" a buyer may write.
        if path.ends_with("channels/name.rs") || path.starts_with("src/store/") || path.starts_with("src/nlu/") {
            continue;
        }
        // Test modules may name them (they check the stored form).
        let code = outside_tests(&path, &text);
        // Serde attributes spell the wire form of a typed enum: that is the type, not a string.
        // Meta's own product name in Cloud API bodies (`"messaging_product": "whatsapp"`) is theirs.
        for line in code.lines().filter(|l| !l.trim_start().starts_with("#[") && !l.contains("messaging_product")) {
            for name in names {
                assert!(!line.contains(name), "{path} spells the channel name {name}: {}", line.trim());
            }
        }
    }
}

/// A string literal of a Rust source: the line it starts on and its text as written (escapes
/// unexpanded). Comments (doc comments included), character literals and lifetimes are skipped.
struct Literal {
    line: usize,
    text: String,
}

/// The string literals of `source`: plain, raw (`r#"…"#`) and byte strings.
fn string_literals(source: &str) -> Vec<Literal> {
    let chars: Vec<char> = source.chars().collect();
    let (mut i, mut line, mut out) = (0, 1, Vec::new());
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                line += usize::from(chars[i] == '\n');
                i += 1;
            }
            i += 2;
        } else if (c == 'r' || (c == 'b' && next == Some('r'))) && (i == 0 || !ident(chars[i - 1])) && {
            let mut j = i + if c == 'b' { 2 } else { 1 };
            while chars.get(j) == Some(&'#') {
                j += 1;
            }
            chars.get(j) == Some(&'"')
        } {
            let mut j = i + if c == 'b' { 2 } else { 1 };
            let mut hashes = 0;
            while chars[j] == '#' {
                hashes += 1;
                j += 1;
            }
            let start = j + 1;
            let mut end = start;
            while !(chars[end] == '"' && (0..hashes).all(|h| chars.get(end + 1 + h) == Some(&'#'))) {
                end += 1;
            }
            let text: String = chars[start..end].iter().collect();
            out.push(Literal { line, text: text.clone() });
            line += text.matches('\n').count();
            i = end + 1 + hashes;
        } else if c == '"' {
            let mut j = i + 1;
            while chars[j] != '"' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            let text: String = chars[i + 1..j].iter().collect();
            out.push(Literal { line, text: text.clone() });
            line += text.matches('\n').count();
            i = j + 1;
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{..}', '"'), or a lifetime ('a), which has no closing quote.
            if next == Some('\\') {
                let mut j = i + 2;
                while chars.get(j).is_some_and(|&c| c != '\'') {
                    j += 1;
                }
                i = j + 1;
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    out
}

/// The part of a source file outside its `#[cfg(test)]` module (by convention the file's end);
/// nothing of a `tests.rs`, which is a module's tests in a file of their own.
fn outside_tests<'a>(path: &str, text: &'a str) -> &'a str {
    if path.ends_with("/tests.rs") { "" } else { text.split("#[cfg(test)]").next().unwrap_or("") }
}

#[test]
fn the_literal_scanner_sees_strings_and_skips_comments_and_chars() {
    let source = "// \"not\" a literal\nlet a = \"one \\\" two\"; let c = '\"'; fn f<'a>(x: &'a str) {}\n\
                  /* \"nor\" this */ let r = r#\"raw \"quoted\"\"#; let b = b\"bytes\";";
    let found: Vec<(usize, String)> = string_literals(source).into_iter().map(|l| (l.line, l.text)).collect();
    assert_eq!(found, [(2, "one \\\" two".to_owned()), (3, "raw \"quoted\"".to_owned()), (3, "bytes".to_owned())]);
}

/// Only `store/` speaks SQL (ARCHITECTURE.md): no string literal outside `src/store/` (test
/// modules included) contains an SQL statement. clippy.toml refuses rusqlite's query methods
/// there too; this catches SQL that is built or passed around as text.
#[test]
fn no_module_outside_the_store_names_sql_statements() {
    let statement = regex::Regex::new(
        r"\bSELECT\b[\s\S]*\bFROM\b|\bINSERT\s+(OR\s+\w+\s+)?INTO\b|\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b|\bPRAGMA\s+\w|\bCREATE\s+(TABLE|INDEX|TRIGGER|VIEW)\b|\bDROP\s+TABLE\b|\bVACUUM\b",
    )
    .expect("regex");
    let files = rust_files("src");
    assert!(files.len() > 100, "{} files under src", files.len());
    let mut found = Vec::new();
    for (path, text) in &files {
        if path.starts_with("src/store/") {
            continue;
        }
        for l in string_literals(text) {
            if statement.is_match(&l.text) {
                found.push(format!("{path}:{}: {}", l.line, l.text.trim()));
            }
        }
    }
    assert!(found.is_empty(), "SQL outside src/store/ (add a store function):\n{}", found.join("\n"));
}

/// Every `SUPPORTD_*` variable the code names is in a catalogue — the config's `ENV_VARS`, a
/// command-line flag's `env`, or read by the compiler (`option_env!`) — and in README's table.
#[test]
fn every_supportd_variable_in_the_code_is_catalogued_and_in_readme() {
    use clap::CommandFactory;
    let variable = regex::Regex::new(r"SUPPORTD_[A-Z0-9_]*[A-Z0-9]").expect("regex");
    let compile_time = regex::Regex::new(r#"option_env!\("(SUPPORTD_[A-Z0-9_]+)"\)"#).expect("regex");
    let mut catalogue: BTreeSet<String> = supportd::config::ENV_VARS.iter().map(|v| v.0.to_owned()).collect();
    catalogue.extend(supportd::config::TEST_ENV_VARS.iter().map(|v| v.0.to_owned()));
    let cli = supportd::cli::Cli::command();
    let mut commands = vec![&cli];
    while let Some(c) = commands.pop() {
        catalogue.extend(c.get_arguments().filter_map(|a| a.get_env()).map(|e| e.to_string_lossy().into_owned()));
        commands.extend(c.get_subcommands());
    }
    let files = rust_files("src");
    for (_, text) in &files {
        catalogue.extend(compile_time.captures_iter(text).map(|c| c[1].to_owned()));
    }
    assert!(catalogue.len() > 100 && catalogue.contains("SUPPORTD_DATA_DIR"), "{catalogue:?}");
    let readme = repo_file("README.md");
    let mut missing = Vec::new();
    for (path, text) in &files {
        for (n, line) in outside_tests(path, text).lines().enumerate() {
            for m in variable.find_iter(line) {
                let name = m.as_str();
                if !catalogue.contains(name) {
                    missing.push(format!("{path}:{}: {name} is in no catalogue (config::ENV_VARS)", n + 1));
                }
                if !readme.contains(&format!("`{name}`")) {
                    missing.push(format!("{path}:{}: {name} is not in README", n + 1));
                }
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// Russian text for people lives in `src/texts.rs` (ARCHITECTURE.md). A Cyrillic string literal
/// elsewhere fails, except in tests, in the vocabulary that reads words (`nlu/`; the knowledge
/// base's analyzer with its synonym tables, the composer's question cues and the sentence
/// splitter's abbreviations; the guard's verdict words; regex patterns) and in the few places
/// listed below, each with its reason. An entry that no longer matches fails too, so the list
/// only shrinks.
#[test]
fn russian_texts_for_people_live_in_texts_rs() {
    // (file, the literal's beginning, why it stays)
    const KNOWN: &[(&str, &str, &str)] = &[
        ("src/kb/embed.rs", "abcdefghijklmnopqrstuvwxyzабвгд", "the tokenizer test alphabet of the embedding model"),
        ("src/llm/chain.rs", "е", "normalizing ё to е in cache keys"),
        ("src/llm/bench.rs", "Здравствуйте! Я заказал куртку", "the benchmark's fixed prompt"),
        ("src/llm/bench.rs", "Система:", "the benchmark's prompt roles"),
        ("src/llm/bench.rs", "Покупатель:", "the benchmark's prompt roles"),
        ("src/cli/licence.rs", "# supportd licence", "names the panel page in the licence file's comment"),
        ("src/cli/doctor.rs", "install the renewal", "names the panel page in an English CLI hint"),
        ("src/channels/widget.rs", "the chat widget was refused", "names the panel page in an English log line"),
        ("src/http/api/setup.rs", "the chat widget was refused", "names the panel page in an English log line"),
        // Being rewritten on other branches at the time of writing: move with them.
        (
            "src/marketplace/wb/mod.rs",
            "Склад WB",
            "a value of WB's statistics report (warehouseType) it is matched with",
        ),
        (
            "src/marketplace/rules.rs",
            "seller-api.swagger.json",
            "the official document's words, cited as a limit's source",
        ),
        ("src/llm/bench.rs", "Можно ли вернуть куртку", "the drafting benchmark's demo-shop questions"),
        ("src/llm/bench.rs", "Сколько идёт доставка", "the drafting benchmark's demo-shop questions"),
        ("src/llm/bench.rs", "Когда вернут деньги", "the drafting benchmark's demo-shop questions"),
        ("src/llm/bench.rs", "Какими способами", "the drafting benchmark's demo-shop questions"),
        ("src/llm/bench.rs", "Как стирать пуховик", "the drafting benchmark's demo-shop questions"),
        ("src/llm/bench.rs", "Можно обменять джинсы", "the drafting benchmark's demo-shop questions"),
        ("src/llm/bench.rs", "Ладья", "the demo shop's name in the benchmark's prompt"),
        ("src/marketplace/qa.rs", "Вопрос о товаре", "the marketplace adapters' rewrite (typed responses)"),
        ("src/engine/answer.rs", "", "the engine's answer templates (engine branch)"),
        ("src/engine/policy.rs", "", "retrieval hints: words added to a knowledge search, never shown"),
        ("src/engine/turn.rs", "Здравствуйте! {reply}", "the engine's greeting prefix (engine branch)"),
        ("src/llm/context.rs", "", "the model prompt's section titles (llm branch)"),
        ("src/channels/telegram.rs", "Здравствуйте", "the Telegram template preview (channels branch)"),
    ];
    let cyrillic = |s: &str| s.chars().any(|c| ('\u{400}'..='\u{4ff}').contains(&c));
    let mut used = vec![false; KNOWN.len()];
    let mut found = Vec::new();
    for (path, text) in rust_files("src") {
        // Vocabulary: words these modules look for in text, never shown to anyone.
        const VOCABULARY: &[&str] =
            &["src/kb/analyzer.rs", "src/kb/compose.rs", "src/kb/measure.rs", "src/kb/units.rs", "src/engine/guard.rs"];
        if path == "src/texts.rs" || path.starts_with("src/nlu/") || VOCABULARY.contains(&path.as_str()) {
            continue;
        }
        for l in string_literals(outside_tests(&path, &text)) {
            // A regex pattern (an inline flag group first) recognizes buyers' words; it is not shown.
            if !cyrillic(&l.text) || l.text.starts_with("(?") {
                continue;
            }
            match KNOWN.iter().position(|(p, start, _)| *p == path && l.text.starts_with(start)) {
                Some(k) => used[k] = true,
                None => found.push(format!("{path}:{}: \"{}\"", l.line, l.text.chars().take(60).collect::<String>())),
            }
        }
    }
    assert!(found.is_empty(), "Russian text outside src/texts.rs (move it there):\n{}", found.join("\n"));
    for (k, (path, start, why)) in KNOWN.iter().enumerate() {
        assert!(used[k], "the exception {path} \"{start}\" ({why}) no longer matches: remove it");
    }
}

/// Tests wait for a condition (`harness::eventually`, `eventually_blocking`, `TestApp::settle`)
/// or move a `ManualClock` (`harness::tick`), never for a fixed time: a fixed sleep is either
/// too short on a loaded machine or proves nothing. Only the harness (its polling helpers) and
/// the fakes (an external service's own delays) sleep. The sleeps that remain elsewhere are
/// counted below, each file with its reason; the count must match, so the list only shrinks.
#[test]
fn tests_wait_for_conditions_not_for_fixed_sleeps() {
    const KNOWN: &[(&str, usize, &str)] = &[
        ("tests/it/backup.rs", 1, "no copy right after a restart: nothing shows the restarted job has looked"),
        ("tests/it/engine.rs", 1, "the long poll must be waiting before the message arrives"),
        ("tests/it/lifecycle.rs", 2, "a stop must still be waiting for a request that is half sent"),
        (
            "tests/it/market_fixes.rs",
            1,
            "no second overdue event: a deadline check that finds nothing new leaves no trace",
        ),
        ("tests/it/llm.rs", 3, "the local model's queue and cancel are timed against a running inference thread"),
        (
            "tests/it/sync.rs",
            1,
            "the same question fetched again is not answered twice: an absence has nothing to wait for",
        ),
        (
            "tests/it/tls.rs",
            2,
            "the certificate file watcher has no observable check; the ACME wait prints pebble's log",
        ),
    ];
    let mut found = std::collections::BTreeMap::new();
    for (path, text) in rust_files("tests/it") {
        if path.starts_with("tests/it/fakes/") || path == "tests/it/harness.rs" || path == "tests/it/tidy.rs" {
            continue;
        }
        let n = text.matches("sleep(").count();
        if n > 0 {
            found.insert(path, n);
        }
    }
    let known: std::collections::BTreeMap<String, usize> =
        KNOWN.iter().map(|(p, n, _)| ((*p).to_owned(), *n)).collect();
    assert_eq!(
        found, known,
        "fixed sleeps in tests (use harness::eventually / TestApp::settle / a ManualClock; update KNOWN only downwards)"
    );
}

/// Every data-directory path is named in `src/paths.rs` (`Paths` and its free functions) or, for
/// the files buyers and operators send, in `src/files.rs` (ARCHITECTURE.md, "one home for each
/// path"): no other module passes a data-directory segment literal to `.join(` (tests aside).
/// The exceptions are listed with their reasons; an entry that no longer matches fails, so the
/// list only shrinks.
#[test]
fn data_directory_paths_are_named_only_in_paths_and_files() {
    const SEGMENTS: &[&str] = &["models", "kb-index", "tls", "files", "backups", "supportd.db", "secret.key"];
    // (file, the literal, why it stays)
    const KNOWN: &[(&str, &str, &str)] = &[];
    let join = regex::Regex::new(r#"\.join\(\s*"([^"]*)""#).expect("regex");
    let mut used = vec![false; KNOWN.len()];
    let mut found = Vec::new();
    let files = rust_files("src");
    assert!(files.len() > 100, "{} files under src", files.len());
    for (path, text) in &files {
        if path == "src/paths.rs" || path == "src/files.rs" {
            continue;
        }
        for (n, line) in outside_tests(path, text).lines().enumerate() {
            for c in join.captures_iter(line) {
                let literal = &c[1];
                let first = literal.split('/').next().unwrap_or("");
                if !SEGMENTS.contains(&first) {
                    continue;
                }
                match KNOWN.iter().position(|(p, l, _)| p == path && *l == literal) {
                    Some(k) => used[k] = true,
                    None => found.push(format!("{path}:{}: .join(\"{literal}\")", n + 1)),
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "data-directory paths built outside src/paths.rs and src/files.rs (add a `Paths` method):\n{}",
        found.join("\n")
    );
    for (k, (path, literal, why)) in KNOWN.iter().enumerate() {
        assert!(used[k], "the exception {path} \"{literal}\" ({why}) no longer matches: remove it");
    }
}

/// The panel names every action and intent code the server writes into a message's
/// provenance (`engine::provenance`): labels.js's ACTIONS and INTENTS have each one.
#[test]
fn the_panel_labels_every_action_and_intent_of_the_provenance() {
    let labels = repo_file("assets/labels.js");
    let block = |name: &str| -> String {
        let start = labels.find(&format!("const {name} = {{")).unwrap_or_else(|| panic!("labels.js lacks {name}"));
        let end = start + labels[start..].find("};").expect("the block ends");
        labels[start..end].to_owned()
    };
    let (actions, intents) = (block("ACTIONS"), block("INTENTS"));
    for a in supportd::engine::Action::ALL {
        assert!(actions.contains(&format!("{}:", a.as_str())), "labels.js ACTIONS lacks {}", a.as_str());
    }
    for i in supportd::nlu::Intent::ALL {
        assert!(intents.contains(&format!("{}:", i.as_str())), "labels.js INTENTS lacks {}", i.as_str());
    }
}
