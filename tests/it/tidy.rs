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
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        // Serde attributes spell the wire form of a typed enum: that is the type, not a string.
        // Meta's own product name in Cloud API bodies (`"messaging_product": "whatsapp"`) is theirs.
        for line in code.lines().filter(|l| !l.trim_start().starts_with("#[") && !l.contains("messaging_product")) {
            for name in names {
                assert!(!line.contains(name), "{path} spells the channel name {name}: {}", line.trim());
            }
        }
    }
}
