//! The official API documents as a request and response validator for the fake marketplaces.
//!
//! The documents are read at test time from `../shared/specs/` (never copied into the
//! repository): Ozon's `seller-api.swagger.json` and WB's OpenAPI YAML, one file per API group.
//! Each operation is found by method, path and (for WB) the host its `servers:` declare; its
//! parameters, request body and responses are checked with the `jsonschema` crate against the
//! document's own schemas, with `$ref`s resolved and OpenAPI 3.0 written as JSON Schema:
//! - `nullable: true` adds `null` to the type;
//! - type names the documents use that JSON Schema lacks are mapped (`int32`/`int64` →
//!   `integer`, `timestamp` → `string`; `enum` and an empty type name say nothing);
//! - WB writes some string length limits as `minimum`/`maximum` (e.g. the feedback answer's
//!   `text`, "minimum: 2, maximum: 5000"): on a string they are read as `minLength`/`maxLength`;
//! - Ozon's one broken external `$ref` (`../../components/schemas/rpcStatus.yaml`) is the
//!   document's own `#/components/schemas/rpcStatus`.
//!
//! WB's per-method request limits are Markdown tables in each description's
//! `<div class="description_limit">` block; they are parsed from there (per token kind where the
//! table has a "Тип" column), so the fake and the test of the client's limiter read the same
//! figures the documents state.
//!
//! Without the folder every test that needs it is skipped with a note, unless
//! `SUPPORTD_REQUIRE_SPECS=1` (set by `.ci/run`): then a missing folder is a failure.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Map, Value, json};

/// Which document family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    Wb,
    Ozon,
}

/// A WB token kind as the limit tables name them ("Тип": Персональный, Сервисный, Базовый с
/// секретом, Базовый). Tables without that column apply to every kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Personal,
    Service,
    BaseWithSecret,
    Base,
}

/// One row of a limit table: `limit` requests per `period_ms`, one every `interval_ms`, bursts
/// of `burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub period_ms: f64,
    pub limit: f64,
    pub interval_ms: f64,
    pub burst: f64,
}

impl Limit {
    /// Requests per second on average.
    pub fn rate(&self) -> f64 {
        1000.0 / self.interval_ms
    }
}

/// An operation of a document.
pub struct Operation {
    pub api: Api,
    /// The document's file name (`03-orders-fbs.yaml`).
    pub doc: String,
    pub method: String,
    /// The path as the document writes it (`/api/v3/stocks/{warehouseId}`).
    pub template: String,
    segments: Vec<Segment>,
    /// Hosts from `servers:` (operation, path or document level), without the scheme.
    pub hosts: Vec<String>,
    /// The operation object with every `$ref` resolved.
    pub op: Value,
    /// WB: `x-category` (the token scope the method needs).
    pub category: Option<String>,
    /// WB: `x-token-types` (the token kinds allowed; none: every kind).
    pub token_types: Option<Vec<String>>,
    /// WB: `x-readonly-method`.
    pub read_only: bool,
    /// WB: the limit table of the description, by token kind (`None`: every kind).
    pub limits: Vec<(Option<Kind>, Limit)>,
    /// WB: what the limit is shared by (the `<strong>` group the table names, else the path).
    pub limit_group: String,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

#[derive(Debug, Clone)]
enum Segment {
    Literal(String),
    Param(String),
}

/// One document family, loaded and indexed.
pub struct Spec {
    pub api: Api,
    pub operations: Vec<Operation>,
    /// The raw documents by file name (for checks that quote their prose).
    pub docs: HashMap<String, Value>,
}

pub struct Specs {
    pub wb: Spec,
    pub ozon: Spec,
    /// WB's `api-information.json` (token fields, bit positions, token kinds).
    pub wb_information: Value,
}

/// A request as the fake received it.
pub struct Request<'a> {
    /// The host the request was addressed to (WB: which API group), when the fake knows it.
    pub host: Option<&'a str>,
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a [(String, String)],
    pub headers: &'a axum::http::HeaderMap,
    pub body: &'a [u8],
}

/// A request matched to its operation, with its path parameters and parsed body.
pub struct Matched<'a> {
    pub op: &'a Operation,
    pub path_params: HashMap<String, String>,
    /// The JSON body, or the text fields of a multipart form as a JSON object.
    pub body: Value,
}

/// Where the documents are: `../shared/specs/` from the repository root.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/specs")
}

static SPECS: OnceLock<Option<Specs>> = OnceLock::new();

/// The loaded documents, or `None` when the folder is missing (then the caller skips its test;
/// with `SUPPORTD_REQUIRE_SPECS=1` a missing folder panics instead).
pub fn specs() -> Option<&'static Specs> {
    SPECS
        .get_or_init(|| {
            let dir = dir();
            if !dir.join("ozon/seller-api.swagger.json").exists() {
                if std::env::var("SUPPORTD_REQUIRE_SPECS").is_ok_and(|v| v == "1") {
                    panic!(
                        "the official API documents are required (SUPPORTD_REQUIRE_SPECS=1) but {} is missing",
                        dir.display()
                    );
                }
                eprintln!("note: {} is missing; tests against the marketplace documents are skipped", dir.display());
                return None;
            }
            Some(load(&dir))
        })
        .as_ref()
}

fn load(dir: &std::path::Path) -> Specs {
    let text = std::fs::read_to_string(dir.join("ozon/seller-api.swagger.json")).expect("read the Ozon document");
    let mut ozon_doc: Value = serde_json::from_str(&text).expect("the Ozon document is JSON");
    fix_ozon_refs(&mut ozon_doc);
    let mut docs = HashMap::new();
    docs.insert("seller-api.swagger.json".to_owned(), ozon_doc);
    let ozon = Spec::index(Api::Ozon, docs);

    let mut docs = HashMap::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir.join("wildberries"))
        .expect("read the WB documents")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    names.sort();
    for path in names {
        let text = std::fs::read_to_string(&path).expect("read a WB document");
        let yaml: serde_norway::Value = serde_norway::from_str(&text).expect("a WB document is YAML");
        let name = path.file_name().expect("name").to_string_lossy().into_owned();
        docs.insert(name, yaml_to_json(yaml));
    }
    let wb = Spec::index(Api::Wb, docs);
    let info =
        std::fs::read_to_string(dir.join("wildberries/api-information.json")).expect("read api-information.json");
    Specs { wb, ozon, wb_information: serde_json::from_str(&info).expect("api-information.json is JSON") }
}

fn yaml_to_json(v: serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                json!(i)
            } else if let Some(u) = n.as_u64() {
                json!(u)
            } else {
                json!(n.as_f64().unwrap_or(0.0))
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(s) => Value::Array(s.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    other => format!("{other:?}"),
                };
                out.insert(key, yaml_to_json(v));
            }
            Value::Object(out)
        }
        Y::Tagged(t) => yaml_to_json(t.value),
    }
}

/// The Ozon document's one broken external reference points at its own `rpcStatus`.
fn fix_ozon_refs(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get_mut("$ref")
                && r.ends_with("rpcStatus.yaml")
            {
                *r = "#/components/schemas/rpcStatus".to_owned();
            }
            for x in m.values_mut() {
                fix_ozon_refs(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(fix_ozon_refs),
        _ => {}
    }
}

/// `$ref`s resolved in place (a reference to a schema already being resolved, a cycle, becomes
/// `{}`: anything).
fn resolve(doc: &Value, v: &Value, stack: &mut Vec<String>) -> Value {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                if stack.contains(r) || !r.starts_with("#/") {
                    return json!({});
                }
                let target = r[2..].split('/').try_fold(doc, |t, k| t.get(k.replace("~1", "/").replace("~0", "~")));
                let Some(target) = target else { return json!({}) };
                stack.push(r.clone());
                let out = resolve(doc, target, stack);
                stack.pop();
                return out;
            }
            Value::Object(m.iter().map(|(k, x)| (k.clone(), resolve(doc, x, stack))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| resolve(doc, x, stack)).collect()),
        other => other.clone(),
    }
}

/// An OpenAPI 3.0 schema (resolved) as JSON Schema draft 4 (see the module comment).
fn to_json_schema(v: &Value) -> Value {
    let Value::Object(m) = v else { return if v.is_null() { json!({}) } else { v.clone() } };
    let mut out = Map::new();
    for (k, x) in m {
        match k.as_str() {
            // A keyword written with no value (`enum:`, `required:`) says nothing.
            _ if x.is_null() => {}
            // Annotations (some documents write them with values draft 4 refuses, e.g. a
            // `description: null`), and OpenAPI-only keywords.
            "example" | "examples" | "xml" | "discriminator" | "readOnly" | "writeOnly" | "externalDocs"
            | "deprecated" | "nullable" | "description" | "title" | "default" | "$schema" | "id" => {}
            "required" | "enum" if x.as_array().is_some_and(Vec::is_empty) => {}
            "exclusiveMinimum" | "exclusiveMaximum" if x.is_number() => {
                out.insert(if k == "exclusiveMinimum" { "minimum" } else { "maximum" }.into(), x.clone());
                out.insert(k.clone(), json!(true));
            }
            "format" | "pattern" if !x.is_string() => {}
            "properties" | "patternProperties" | "definitions" => {
                let props = x.as_object().map(|p| p.iter().map(|(n, s)| (n.clone(), to_json_schema(s))).collect());
                out.insert(k.clone(), Value::Object(props.unwrap_or_default()));
            }
            "items" | "additionalProperties" | "not" => {
                out.insert(k.clone(), if x.is_object() { to_json_schema(x) } else { x.clone() });
            }
            "allOf" | "anyOf" | "oneOf" => {
                let list = x.as_array().map(|a| a.iter().map(to_json_schema).collect()).unwrap_or_default();
                out.insert(k.clone(), Value::Array(list));
            }
            "type" => {
                let t = match x.as_str() {
                    Some("int32" | "int64" | "integer") => Some("integer"),
                    Some("timestamp" | "string") => Some("string"),
                    Some(t @ ("number" | "boolean" | "array" | "object" | "null")) => Some(t),
                    _ => None,
                };
                if let Some(t) = t {
                    out.insert("type".into(), json!(t));
                }
            }
            "required" if !x.is_array() => {}
            _ if k.starts_with("x-") => {}
            _ => {
                out.insert(k.clone(), x.clone());
            }
        }
    }
    if out.get("type").and_then(Value::as_str) == Some("string") {
        if let Some(min) = out.remove("minimum") {
            out.entry("minLength").or_insert(min);
        }
        if let Some(max) = out.remove("maximum") {
            out.entry("maxLength").or_insert(max);
        }
    }
    if m.get("nullable").and_then(Value::as_bool) == Some(true) {
        if let Some(Value::String(t)) = out.get("type").cloned() {
            out.insert("type".into(), json!([t, "null"]));
        }
        if let Some(Value::Array(e)) = out.get_mut("enum") {
            e.push(Value::Null);
        }
    }
    // A `required` list naming properties on a schema without a type still means an object.
    Value::Object(out)
}

fn hosts_of(servers: Option<&Value>) -> Vec<String> {
    servers
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s["url"].as_str())
                .map(|u| {
                    u.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/').to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

impl Spec {
    fn index(api: Api, docs: HashMap<String, Value>) -> Spec {
        let mut operations = Vec::new();
        let mut names: Vec<&String> = docs.keys().collect();
        names.sort();
        for name in names {
            let doc = &docs[name];
            let doc_hosts = hosts_of(doc.get("servers"));
            let Some(paths) = doc["paths"].as_object() else { continue };
            for (template, item) in paths {
                let path_hosts = hosts_of(item.get("servers"));
                let path_params = item.get("parameters").cloned().unwrap_or(json!([]));
                let Some(item) = item.as_object() else { continue };
                for (method, op) in item {
                    if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                        continue;
                    }
                    let mut hosts = hosts_of(op.get("servers"));
                    if hosts.is_empty() {
                        hosts = if path_hosts.is_empty() { doc_hosts.clone() } else { path_hosts.clone() };
                    }
                    let mut resolved = resolve(doc, op, &mut Vec::new());
                    let mut params: Vec<Value> =
                        resolve(doc, &path_params, &mut Vec::new()).as_array().cloned().unwrap_or_default();
                    params.extend(resolved["parameters"].as_array().cloned().unwrap_or_default());
                    resolved["parameters"] = Value::Array(params);
                    let description = op["description"].as_str().unwrap_or("");
                    let (limits, group) = limit_table(description);
                    operations.push(Operation {
                        api,
                        doc: name.clone(),
                        method: method.to_uppercase(),
                        template: template.clone(),
                        segments: segments(template),
                        hosts,
                        category: op["x-category"].as_str().map(str::to_owned),
                        token_types: op["x-token-types"]
                            .as_array()
                            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect()),
                        read_only: op["x-readonly-method"].as_bool().unwrap_or(false),
                        limits,
                        limit_group: group.unwrap_or_else(|| template.clone()),
                        op: resolved,
                        validators: Mutex::new(HashMap::new()),
                    });
                }
            }
        }
        Spec { api, operations, docs }
    }

    /// The operation `method path` on `host` (when given), with the path's parameters.
    pub fn find(
        &self,
        host: Option<&str>,
        method: &str,
        path: &str,
    ) -> Result<(&Operation, HashMap<String, String>), String> {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let mut best: Option<(usize, &Operation, HashMap<String, String>)> = None;
        let mut on_other_host = Vec::new();
        for op in self.operations.iter().filter(|o| o.method == method && o.segments.len() == parts.len()) {
            let mut params = HashMap::new();
            let mut literals = 0;
            let ok = op.segments.iter().zip(&parts).all(|(s, p)| match s {
                Segment::Literal(l) => {
                    literals += 1;
                    l == p
                }
                Segment::Param(n) => {
                    params.insert(n.clone(), (*p).to_owned());
                    !p.is_empty()
                }
            });
            if !ok {
                continue;
            }
            if let Some(h) = host
                && !op.hosts.iter().any(|x| x == h)
            {
                on_other_host.push(format!("{} ({})", op.hosts.join(", "), op.doc));
                continue;
            }
            if best.as_ref().is_none_or(|(n, _, _)| literals > *n) {
                best = Some((literals, op, params));
            }
        }
        match best {
            Some((_, op, params)) => Ok((op, params)),
            None if !on_other_host.is_empty() => Err(format!(
                "{method} {path} is not served by {}: the documents declare it on {}",
                host.unwrap_or("?"),
                on_other_host.join("; ")
            )),
            None => Err(format!("{method} {path} is in none of the {:?} documents", self.api)),
        }
    }

    /// Matches and validates a request: the operation, its parameters (required ones present,
    /// none unknown, each of its declared type, enum and limits) and its body.
    pub fn check_request<'a>(&'a self, r: &Request<'_>) -> Result<Matched<'a>, Vec<String>> {
        let (op, path_params) = self.find(r.host, r.method, r.path).map_err(|e| vec![e])?;
        let mut errors = Vec::new();
        let declared = op.op["parameters"].as_array().cloned().unwrap_or_default();
        for p in &declared {
            let (Some(name), Some(place)) = (p["name"].as_str(), p["in"].as_str()) else { continue };
            let required = p["required"].as_bool().unwrap_or(false) || place == "path";
            let values: Vec<String> = match place {
                "query" => r.query.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect(),
                "path" => path_params.get(name).cloned().into_iter().collect(),
                "header" => r.headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect(),
                _ => continue,
            };
            if values.is_empty() {
                if required {
                    errors
                        .push(format!("{} {}: required {place} parameter `{name}` is missing", op.method, op.template));
                }
                continue;
            }
            let schema = to_json_schema(&p["schema"]);
            let value = typed_param(&schema, &values);
            match value {
                Err(e) => errors.push(format!("{} {}: parameter `{name}`: {e}", op.method, op.template)),
                Ok(v) => {
                    let key = format!("param:{place}:{name}");
                    for e in op.validate(&key, &schema, &v) {
                        errors.push(format!("{} {}: parameter `{name}` = {v}: {e}", op.method, op.template));
                    }
                }
            }
        }
        for (k, _) in r.query {
            if !declared.iter().any(|p| p["in"] == "query" && p["name"] == k.as_str()) {
                errors.push(format!("{} {}: query parameter `{k}` is not in the document", op.method, op.template));
            }
        }
        let body = self.check_body(op, r, &mut errors);
        if errors.is_empty() { Ok(Matched { op, path_params, body }) } else { Err(errors) }
    }

    fn check_body(&self, op: &Operation, r: &Request<'_>, errors: &mut Vec<String>) -> Value {
        let rb = &op.op["requestBody"];
        let content_type = r
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if rb.is_null() {
            if !r.body.is_empty() {
                errors.push(format!("{} {}: the document declares no request body", op.method, op.template));
            }
            return Value::Null;
        }
        if r.body.is_empty() {
            if rb["required"].as_bool().unwrap_or(false) {
                errors.push(format!("{} {}: the request body is required", op.method, op.template));
            }
            return Value::Null;
        }
        let Some(media) = rb["content"].get(&content_type) else {
            let allowed: Vec<&String> = rb["content"].as_object().map(|m| m.keys().collect()).unwrap_or_default();
            errors.push(format!(
                "{} {}: content type `{content_type}` is not one of {allowed:?}",
                op.method, op.template
            ));
            return Value::Null;
        };
        let body = if content_type == "multipart/form-data" {
            let ct = r.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
            super::form_fields(ct, r.body)
        } else {
            match serde_json::from_slice::<Value>(r.body) {
                Ok(v) => v,
                Err(e) => {
                    errors.push(format!("{} {}: the body is not JSON: {e}", op.method, op.template));
                    return Value::Null;
                }
            }
        };
        let schema = to_json_schema(&media["schema"]);
        for e in op.validate(&format!("body:{content_type}"), &schema, &body) {
            errors.push(format!("{} {}: request body: {e}", op.method, op.template));
        }
        body
    }

    /// Validates a response the fake is about to send against the document's schema for its
    /// status (statuses the document does not describe are not checked).
    pub fn check_response(&self, op: &Operation, status: u16, body: &Value) -> Vec<String> {
        let responses = &op.op["responses"];
        let Some(resp) = responses.get(status.to_string()).or_else(|| responses.get("default")) else {
            return if (200..300).contains(&status) {
                vec![format!("{} {}: the document has no {status} response", op.method, op.template)]
            } else {
                Vec::new()
            };
        };
        let Some(content) = resp["content"].as_object() else { return Vec::new() };
        let Some(media) = content.values().next() else { return Vec::new() };
        let schema = to_json_schema(&media["schema"]);
        op.validate(&format!("response:{status}"), &schema, body)
            .into_iter()
            .map(|e| format!("{} {}: {status} response: {e}", op.method, op.template))
            .collect()
    }
}

impl Spec {
    /// Compiles every schema of every operation; returns those that do not compile.
    pub fn compile_all(&self) -> Vec<String> {
        let mut failed = Vec::new();
        for op in &self.operations {
            let mut schemas: Vec<(String, Value)> = Vec::new();
            for p in op.op["parameters"].as_array().into_iter().flatten() {
                schemas.push((format!("param {}", p["name"]), p["schema"].clone()));
            }
            if let Some(c) = op.op["requestBody"]["content"].as_object() {
                schemas.extend(c.iter().map(|(ct, m)| (format!("body {ct}"), m["schema"].clone())));
            }
            if let Some(r) = op.op["responses"].as_object() {
                for (status, resp) in r {
                    if let Some(c) = resp["content"].as_object() {
                        schemas.extend(c.iter().map(|(ct, m)| (format!("{status} {ct}"), m["schema"].clone())));
                    }
                }
            }
            for (what, schema) in schemas {
                if let Err(e) = jsonschema::draft4::options().build(&to_json_schema(&schema)) {
                    failed.push(format!(
                        "{} {} {} {what}: {}",
                        op.doc,
                        op.method,
                        op.template,
                        e.to_string().chars().take(300).collect::<String>()
                    ));
                }
            }
        }
        failed
    }
}

impl Operation {
    fn validate(&self, key: &str, schema: &Value, value: &Value) -> Vec<String> {
        let validator = {
            let mut cache = self.validators.lock().expect("lock");
            match cache.get(key) {
                Some(v) => v.clone(),
                None => {
                    let v = match jsonschema::draft4::options().should_validate_formats(true).build(schema) {
                        Ok(v) => Arc::new(v),
                        Err(e) => return vec![format!("the document's schema does not compile: {e}")],
                    };
                    cache.insert(key.to_owned(), v.clone());
                    v
                }
            }
        };
        validator.iter_errors(value).map(|e| format!("{} at `{}`", e, e.instance_path())).take(10).collect()
    }

    /// The description (for checks that quote its prose).
    pub fn description(&self) -> &str {
        self.op["description"].as_str().unwrap_or("")
    }

    /// The limit for a token kind (a table without kinds applies to every kind).
    pub fn limit_for(&self, kind: Kind) -> Option<Limit> {
        self.limits
            .iter()
            .find(|(k, _)| *k == Some(kind))
            .or_else(|| self.limits.iter().find(|(k, _)| k.is_none()))
            .map(|(_, l)| *l)
    }
}

fn segments(template: &str) -> Vec<Segment> {
    template
        .trim_start_matches('/')
        .split('/')
        .map(|s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(n) => Segment::Param(n.to_owned()),
            None => Segment::Literal(s.to_owned()),
        })
        .collect()
}

/// A query, path or header value as the JSON type its schema declares.
fn typed_param(schema: &Value, values: &[String]) -> Result<Value, String> {
    let one = |t: &str, s: &str| -> Result<Value, String> {
        match t {
            "integer" => s.parse::<i64>().map(|n| json!(n)).map_err(|_| format!("`{s}` is not an integer")),
            "number" => s.parse::<f64>().map(|n| json!(n)).map_err(|_| format!("`{s}` is not a number")),
            "boolean" => match s {
                "true" => Ok(json!(true)),
                "false" => Ok(json!(false)),
                _ => Err(format!("`{s}` is not a boolean (true or false)")),
            },
            _ => Ok(json!(s)),
        }
    };
    let t = schema["type"].as_str().or_else(|| schema["type"][0].as_str()).unwrap_or("string");
    if t == "array" {
        let it = schema["items"]["type"].as_str().unwrap_or("string");
        let all: Vec<&str> = values.iter().flat_map(|v| v.split(',')).collect();
        return all.into_iter().map(|v| one(it, v)).collect::<Result<Vec<_>, _>>().map(Value::Array);
    }
    if values.len() > 1 {
        return Err("given more than once".into());
    }
    one(t, &values[0])
}

/// The limit table of a WB description (`<div class="description_limit">`), by token kind,
/// and what it is shared by (the `<strong>` group it names, if any).
fn limit_table(description: &str) -> (Vec<(Option<Kind>, Limit)>, Option<String>) {
    let Some(start) = description.find("description_limit") else { return (Vec::new(), None) };
    let block = &description[start..];
    let block = &block[..block.find("</div>").unwrap_or(block.len())];
    let group = block.find("<strong>").and_then(|i| {
        let rest = &block[i + 8..];
        rest.find("</strong>").map(|j| rest[..j].to_owned())
    });
    let mut out = Vec::new();
    for line in block.lines().map(str::trim).filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let (kind, rest) = match cells.len() {
            5 => {
                let kind = match cells[0] {
                    "Персональный" => Kind::Personal,
                    "Сервисный" => Kind::Service,
                    "Базовый с секретом" => Kind::BaseWithSecret,
                    "Базовый" => Kind::Base,
                    _ => continue,
                };
                (Some(kind), &cells[1..])
            }
            4 => (None, &cells[..]),
            _ => continue,
        };
        let (Some(period), Some(limit), Some(interval), Some(burst)) =
            (duration_ms(rest[0]), count(rest[1]), duration_ms(rest[2]), count(rest[3]))
        else {
            continue;
        };
        out.push((kind, Limit { period_ms: period, limit, interval_ms: interval, burst }));
    }
    (out, group)
}

/// "1 мин", "10 сек", "200 мс", "3 ч", "24 ч" in milliseconds.
fn duration_ms(s: &str) -> Option<f64> {
    let (n, unit) = s.split_once(' ')?;
    let n: f64 = n.replace(',', ".").parse().ok()?;
    let ms = match unit.trim() {
        "мс" => 1.0,
        "сек" => 1000.0,
        "мин" => 60_000.0,
        "ч" => 3_600_000.0,
        _ => return None,
    };
    Some(n * ms)
}

/// "300 запросов", "1 запрос", "3 запроса".
fn count(s: &str) -> Option<f64> {
    let (n, word) = s.split_once(' ')?;
    word.starts_with("запрос").then_some(())?;
    n.parse().ok()
}

/// A prose rule the fake enforces, with the words of the document that state it. The quote
/// must still be in that operation's description (or the named part of the document), so a
/// changed document fails the tests instead of leaving a stale rule behind.
pub struct Prose {
    pub doc: &'static str,
    pub method: &'static str,
    pub path: &'static str,
    pub quote: &'static str,
}

impl Specs {
    /// Checks that each rule's quote is in its operation's description or parameters.
    pub fn check_prose(&self, rules: &[Prose]) -> Vec<String> {
        let mut missing = Vec::new();
        for r in rules {
            let spec = if r.doc.ends_with(".json") { &self.ozon } else { &self.wb };
            let found = spec.operations.iter().find(|o| o.doc == r.doc && o.method == r.method && o.template == r.path);
            let Some(op) = found else {
                missing.push(format!("{} {} {}: no such operation", r.doc, r.method, r.path));
                continue;
            };
            let text = serde_json::to_string(&op.op).unwrap_or_default();
            let quote = serde_json::to_string(r.quote).unwrap_or_default();
            if !text.contains(quote.trim_matches('"')) && !op.description().contains(r.quote) {
                missing.push(format!("{} {} {}: the document no longer says «{}»", r.doc, r.method, r.path, r.quote));
            }
        }
        missing
    }
}
