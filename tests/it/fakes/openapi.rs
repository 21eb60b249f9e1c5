//! Mechanical request checks against an official OpenAPI document read at test time from
//! `../shared/specs/`: the operation must exist for the method and path template, every query
//! parameter must be declared (Graph API's own paging and field selection, common to all of
//! its edges, aside), required parameters present, and the JSON body valid against the
//! operation's request schema (JSON Schema 2020-12, with `jsonschema`).
//!
//! One reading of the document is adjusted, as its authors meant it: schemas built with
//! `allOf: [Base, {additionalProperties: false, …}]` close each branch separately, which JSON
//! Schema reads as "no property of the base is allowed" (every message would fail). Such a
//! branch's `additionalProperties: false` becomes `unevaluatedProperties: false` on the whole
//! `allOf` (the 2020-12 keyword for exactly this).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// The document, loaded once per process.
pub struct Spec {
    doc: Value,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

fn specs_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/specs")
}

/// Moves `additionalProperties: false` out of `allOf` branches into one
/// `unevaluatedProperties: false` beside the `allOf`.
fn close_all_of(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let mut closed = false;
            if let Some(Value::Array(branches)) = map.get_mut("allOf") {
                for b in branches.iter_mut() {
                    if let Value::Object(bm) = b
                        && bm.get("additionalProperties") == Some(&Value::Bool(false))
                    {
                        bm.remove("additionalProperties");
                        closed = true;
                    }
                }
            }
            if closed {
                map.insert("unevaluatedProperties".into(), Value::Bool(false));
            }
            for (_, child) in map.iter_mut() {
                close_all_of(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(close_all_of),
        _ => {}
    }
}

impl Spec {
    /// Reads `whatsapp/business-messaging-api_v23.0.yaml`-like documents (YAML or JSON).
    pub fn load(relative: &str) -> Self {
        let path = specs_dir().join(relative);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut doc: Value = serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        close_all_of(&mut doc);
        Self { doc, validators: Mutex::new(HashMap::new()) }
    }

    /// The operation object of `method` (lowercase) at `template` (as written in the document).
    pub fn operation(&self, method: &str, template: &str) -> Option<&Value> {
        self.doc["paths"].get(template)?.get(method)
    }

    fn parameters(&self, template: &str, op: &Value) -> Vec<Value> {
        let resolve = |p: &Value| -> Value {
            match p["$ref"].as_str().and_then(|r| r.strip_prefix("#/")) {
                Some(r) => r.split('/').fold(&self.doc, |v, k| &v[k]).clone(),
                None => p.clone(),
            }
        };
        let mut out: Vec<Value> = op["parameters"].as_array().into_iter().flatten().map(resolve).collect();
        out.extend(self.doc["paths"][template]["parameters"].as_array().into_iter().flatten().map(resolve));
        out
    }

    fn validator(&self, key: &str, schema: &Value) -> Arc<jsonschema::Validator> {
        let mut cache = self.validators.lock().expect("lock");
        if let Some(v) = cache.get(key) {
            return v.clone();
        }
        let mut root = schema.clone();
        if let Value::Object(m) = &mut root {
            m.insert("$schema".into(), json!("https://json-schema.org/draft/2020-12/schema"));
            m.insert("components".into(), self.doc["components"].clone());
        }
        let v = Arc::new(jsonschema::validator_for(&root).unwrap_or_else(|e| panic!("schema for {key}: {e}")));
        cache.insert(key.to_owned(), v.clone());
        v
    }

    /// Everything wrong with a request: `query` as name → value, `json` the decoded body (for
    /// `content_type` "application/json" or "multipart/form-data", the form's fields).
    pub fn check(
        &self,
        method: &str,
        template: &str,
        query: &[(String, String)],
        content_type: Option<&str>,
        body: Option<&Value>,
    ) -> Vec<String> {
        let Some(op) = self.operation(method, template) else {
            return vec![format!("{method} {template} is not in the document")];
        };
        let mut problems = Vec::new();
        let params = self.parameters(template, op);
        let declared: Vec<&str> =
            params.iter().filter(|p| p["in"] == "query").filter_map(|p| p["name"].as_str()).collect();
        const GRAPH_COMMON: [&str; 4] = ["fields", "limit", "after", "before"];
        for (name, _) in query {
            if !declared.contains(&name.as_str()) && !GRAPH_COMMON.contains(&name.as_str()) {
                problems.push(format!("{method} {template}: query parameter {name:?} is not declared"));
            }
        }
        for p in params.iter().filter(|p| p["in"] == "query" && p["required"] == true) {
            let name = p["name"].as_str().unwrap_or("");
            if !query.iter().any(|(n, _)| n == name) {
                problems.push(format!("{method} {template}: required query parameter {name:?} missing"));
            }
        }
        let request = &op["requestBody"];
        match (content_type, body) {
            (Some(ct), Some(body)) => {
                let media = ct.split(';').next().unwrap_or("").trim();
                let Some(schema) = request["content"].get(media).map(|c| &c["schema"]) else {
                    problems.push(format!("{method} {template}: no request body of type {media} is documented"));
                    return problems;
                };
                let validator = self.validator(&format!("{method} {template} {media}"), schema);
                for e in validator.iter_errors(body) {
                    problems.push(format!("{method} {template}: {e} at {}", e.instance_path()));
                }
            }
            _ if request["required"] == true => problems.push(format!("{method} {template}: the body is required")),
            _ => {}
        }
        problems
    }

    /// Whether `value` is valid against `#/components/schemas/{name}` (for the payloads the
    /// tests themselves send, such as webhooks).
    pub fn check_schema(&self, name: &str, value: &Value) -> Vec<String> {
        let validator =
            self.validator(&format!("schema {name}"), &json!({"$ref": format!("#/components/schemas/{name}")}));
        validator.iter_errors(value).map(|e| format!("{name}: {e} at {}", e.instance_path())).collect()
    }

    /// The examples the document gives for the request body of `method` `template`.
    pub fn request_examples(&self, method: &str, template: &str) -> Vec<Value> {
        let Some(op) = self.operation(method, template) else { return Vec::new() };
        let examples = &op["requestBody"]["content"]["application/json"]["examples"];
        examples.as_object().into_iter().flatten().map(|(_, e)| e["value"].clone()).collect()
    }
}

/// Whether every key of `value` (recursively; arrays by their first example element) is one
/// the example uses: the shape of a payload the document shows but whose schema it cannot
/// validate (see `whatsapp.rs`).
pub fn keys_within(value: &Value, example: &Value, at: &str) -> Vec<String> {
    match (value, example) {
        (Value::Object(v), Value::Object(e)) => v
            .iter()
            .flat_map(|(k, child)| match e.get(k) {
                Some(ex) => keys_within(child, ex, &format!("{at}/{k}")),
                None => vec![format!("{at}/{k} is in no example of the document")],
            })
            .collect(),
        (Value::Array(v), Value::Array(e)) => match e.first() {
            Some(ex) => {
                v.iter().enumerate().flat_map(|(i, child)| keys_within(child, ex, &format!("{at}/{i}"))).collect()
            }
            None => Vec::new(),
        },
        _ => Vec::new(),
    }
}
