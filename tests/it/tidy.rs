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
