//! Import and export of the knowledge base: Markdown folders (front matter), CSV and JSON
//! (or JSON Lines) for articles and products. Invalid rows are reported with their line and
//! skipped; every valid row is saved on its own, so nothing is half-imported.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::store::kb::{self as rows, ArticleInput, ProductInput, Saved};
use crate::store::{Db, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Issue {
    pub source: String,
    /// 1-based line (for JSON arrays: the element's number).
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub articles_created: usize,
    pub articles_updated: usize,
    pub articles_unchanged: usize,
    pub products_created: usize,
    pub products_updated: usize,
    pub products_unchanged: usize,
    pub errors: Vec<Issue>,
}

#[derive(Debug, Clone)]
pub enum Item {
    Article(ArticleInput),
    Product(ProductInput),
}

#[derive(Debug, Clone)]
pub struct Located {
    pub source: String,
    pub line: usize,
    pub item: Item,
}

#[derive(Debug, Default)]
pub struct Parsed {
    pub items: Vec<Located>,
    pub errors: Vec<Issue>,
}

impl Parsed {
    fn issue(&mut self, source: &str, line: usize, message: impl Into<String>) {
        self.errors.push(Issue { source: source.to_owned(), line, message: message.into() });
    }
}

/// Reads a file or (recursively) a folder of `.md`, `.csv`, `.json` and `.jsonl` files.
pub fn parse_path(path: &Path) -> std::io::Result<Parsed> {
    let mut parsed = Parsed::default();
    let mut files: Vec<PathBuf> = Vec::new();
    if path.is_dir() {
        collect(path, &mut files)?;
        files.sort();
    } else {
        files.push(path.to_owned());
    }
    for f in files {
        let source = f.display().to_string();
        let ext = f.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        let text = match std::fs::read_to_string(&f) {
            Ok(t) => t,
            Err(e) => {
                parsed.issue(&source, 0, format!("cannot read: {e}"));
                continue;
            }
        };
        if !parse_text(&source, &f, &ext, &text, &mut parsed) && !path.is_dir() {
            parsed.issue(&source, 0, "unknown file type: use .md, .csv, .json or .jsonl");
        }
    }
    Ok(parsed)
}

/// Parses one file's text by its extension; false for an unknown extension.
pub fn parse_text(source: &str, file: &Path, ext: &str, text: &str, parsed: &mut Parsed) -> bool {
    match ext {
        "md" | "markdown" => parse_markdown(source, file, text, parsed),
        "csv" => parse_csv(source, text, parsed),
        "json" => parse_json(source, text, parsed),
        "jsonl" => parse_jsonl(source, text, parsed),
        _ => return false,
    }
    true
}

/// The demo shop's knowledge embedded in the binary: `assets/demo/articles/` and
/// `assets/demo/products.csv` (its orders, `demo/orders.json`, go to the order cache instead).
pub fn demo() -> Parsed {
    let mut parsed = Parsed::default();
    let mut names: Vec<String> = crate::assets::Assets::iter()
        .filter(|n| n.starts_with("demo/articles/") || *n == "demo/products.csv")
        .map(|n| n.into_owned())
        .collect();
    names.sort();
    for name in names {
        let Some(file) = crate::assets::Assets::get(&name) else { continue };
        let text = String::from_utf8_lossy(&file.data).into_owned();
        let path = Path::new(&name);
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        parse_text(&name, path, ext, &text, &mut parsed);
    }
    parsed
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        if p.is_dir() {
            collect(&p, out)?;
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| ["md", "markdown", "csv", "json", "jsonl"].contains(&e))
        {
            out.push(p);
        }
    }
    Ok(())
}

fn list_value(raw: &str) -> Vec<String> {
    raw.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split([',', ';'])
        .map(|s| s.trim().trim_matches(['"', '\'']).trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// A Markdown article: optional `---` front matter (slug, title, category, tags, kind, status),
/// then the body. Without a slug the file name is used; without a title the first `# ` heading.
pub fn parse_markdown(source: &str, file: &Path, text: &str, parsed: &mut Parsed) {
    let text = text.trim_start_matches('\u{feff}');
    let mut meta: Map<String, Value> = Map::new();
    let mut body = text;
    if let Some(rest) = text.strip_prefix("---\n").or_else(|| text.strip_prefix("---\r\n")) {
        let Some(end) = rest.find("\n---") else {
            parsed.issue(source, 1, "front matter opened with --- is never closed");
            return;
        };
        for (i, line) in rest[..end].lines().enumerate() {
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let Some((k, v)) = line.split_once(':') else {
                parsed.issue(source, i + 2, format!("front matter line {line:?} is not `key: value`"));
                return;
            };
            meta.insert(k.trim().to_owned(), Value::String(v.trim().trim_matches(['"', '\'']).to_owned()));
        }
        body = rest[end + 4..].trim_start_matches(['-']).trim_start_matches(['\r', '\n']);
    }
    let get = |k: &str| meta.get(k).and_then(Value::as_str).map(str::to_owned);
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("").to_owned();
    let mut body = body.trim().to_owned();
    let title = match get("title") {
        Some(t) => t,
        None => match body.lines().next().and_then(|l| l.strip_prefix("# ")) {
            Some(h) => {
                let h = h.trim().to_owned();
                body = body.lines().skip(1).collect::<Vec<_>>().join("\n").trim().to_owned();
                h
            }
            None => {
                parsed.issue(source, 1, "no title: add `title:` to the front matter or a `# ` heading");
                return;
            }
        },
    };
    let input = ArticleInput {
        slug: get("slug").unwrap_or(stem),
        kind: get("kind").unwrap_or_else(|| "article".into()),
        title,
        body,
        category: get("category").filter(|c| !c.is_empty()),
        tags: get("tags").map(|t| list_value(&t)).unwrap_or_default(),
        status: get("status").unwrap_or_else(|| "published".into()),
    };
    push_article(source, 1, input, parsed);
}

fn push_article(source: &str, line: usize, input: ArticleInput, parsed: &mut Parsed) {
    match input.validate() {
        Ok(()) => parsed.items.push(Located { source: source.to_owned(), line, item: Item::Article(input) }),
        Err(m) => parsed.issue(source, line, m),
    }
}

fn push_product(source: &str, line: usize, input: ProductInput, parsed: &mut Parsed) {
    match input.validate() {
        Ok(()) => parsed.items.push(Located { source: source.to_owned(), line, item: Item::Product(input) }),
        Err(m) => parsed.issue(source, line, m),
    }
}

fn parse_csv(source: &str, text: &str, parsed: &mut Parsed) {
    let mut reader =
        csv::ReaderBuilder::new().flexible(false).from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|s| s.trim().to_ascii_lowercase()).collect(),
        Err(e) => {
            parsed.issue(source, 1, format!("cannot read the header: {e}"));
            return;
        }
    };
    let is_products = headers.iter().any(|h| h == "offer_id");
    let is_articles = headers.iter().any(|h| h == "title") && headers.iter().any(|h| h == "body");
    if !is_products && !is_articles {
        parsed.issue(source, 1, "the header must have offer_id (products) or title and body (articles)");
        return;
    }
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| usize::try_from(p.line()).unwrap_or(0));
                parsed.issue(source, line, format!("malformed row: {e}"));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| usize::try_from(p.line()).unwrap_or(0));
        let mut obj = Map::new();
        for (h, v) in headers.iter().zip(record.iter()) {
            obj.insert(h.clone(), Value::String(v.trim().to_owned()));
        }
        item_from_object(source, line, obj, is_products, parsed);
    }
}

fn parse_json(source: &str, text: &str, parsed: &mut Parsed) {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            parsed.issue(source, e.line(), format!("invalid JSON: {e}"));
            return;
        }
    };
    let push_all = |items: &[Value], force_products: Option<bool>, parsed: &mut Parsed| {
        for (i, v) in items.iter().enumerate() {
            match v {
                Value::Object(o) => {
                    let products = force_products.unwrap_or_else(|| o.contains_key("offer_id"));
                    item_from_object(source, i + 1, o.clone(), products, parsed);
                }
                _ => parsed.issue(source, i + 1, "each item must be a JSON object"),
            }
        }
    };
    match &value {
        Value::Array(items) => push_all(items, None, parsed),
        Value::Object(o) if o.contains_key("articles") || o.contains_key("products") => {
            if let Some(Value::Array(a)) = o.get("articles") {
                push_all(a, Some(false), parsed);
            }
            if let Some(Value::Array(p)) = o.get("products") {
                push_all(p, Some(true), parsed);
            }
        }
        Value::Object(o) => item_from_object(source, 1, o.clone(), o.contains_key("offer_id"), parsed),
        _ => parsed.issue(source, 1, "expected an array of items or {\"articles\": [...], \"products\": [...]}"),
    }
}

fn parse_jsonl(source: &str, text: &str, parsed: &mut Parsed) {
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(o)) => {
                let products = o.contains_key("offer_id");
                item_from_object(source, i + 1, o, products, parsed);
            }
            Ok(_) => parsed.issue(source, i + 1, "each line must be a JSON object"),
            Err(e) => parsed.issue(source, i + 1, format!("invalid JSON: {e}")),
        }
    }
}

fn text_of(o: &Map<String, Value>, k: &str) -> Option<String> {
    match o.get(k)? {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn item_from_object(source: &str, line: usize, o: Map<String, Value>, product: bool, parsed: &mut Parsed) {
    if product {
        let number = |k: &str| -> Result<Option<f64>, String> {
            match o.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => Ok(n.as_f64()),
                Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
                Some(Value::String(s)) => s
                    .trim()
                    .replace(',', ".")
                    .replace(' ', "")
                    .parse()
                    .map(Some)
                    .map_err(|_| format!("{k}: {s:?} is not a number")),
                Some(other) => Err(format!("{k}: {other} is not a number")),
            }
        };
        let price = match number("price_rub") {
            Ok(p) => p,
            Err(m) => return parsed.issue(source, line, m),
        };
        let stock = match number("stock") {
            Ok(s) if s.is_none_or(|v| v.fract() == 0.0) => s.map(|v| v as i64),
            Ok(_) => return parsed.issue(source, line, "stock: must be a whole number"),
            Err(m) => return parsed.issue(source, line, m),
        };
        let known = [
            "marketplace",
            "offer_id",
            "marketplace_id",
            "name",
            "category",
            "description",
            "price_rub",
            "stock",
            "attributes",
        ];
        let mut attributes = match o.get("attributes") {
            Some(Value::Object(a)) => a.clone(),
            _ => Map::new(),
        };
        for (k, v) in &o {
            if known.contains(&k.as_str()) || v.as_str().is_some_and(str::is_empty) {
                continue;
            }
            let value = match (k.as_str(), v) {
                ("sizes", Value::String(s)) => Value::Array(list_value(s).into_iter().map(Value::String).collect()),
                _ => v.clone(),
            };
            attributes.insert(k.clone(), value);
        }
        let input = ProductInput {
            marketplace: text_of(&o, "marketplace").unwrap_or_default().to_ascii_lowercase(),
            offer_id: text_of(&o, "offer_id").unwrap_or_default(),
            marketplace_id: text_of(&o, "marketplace_id").unwrap_or_default(),
            name: text_of(&o, "name").unwrap_or_default(),
            category: text_of(&o, "category").unwrap_or_default(),
            description: text_of(&o, "description").unwrap_or_default(),
            attributes,
            price_rub: price,
            stock,
        };
        push_product(source, line, input, parsed);
    } else {
        let tags = match o.get("tags") {
            Some(Value::Array(a)) => a.iter().filter_map(|t| t.as_str().map(|s| s.trim().to_owned())).collect(),
            Some(Value::String(s)) => list_value(s),
            _ => Vec::new(),
        };
        let input = ArticleInput {
            slug: text_of(&o, "slug").unwrap_or_default(),
            kind: text_of(&o, "kind").filter(|k| !k.is_empty()).unwrap_or_else(|| "article".into()),
            title: text_of(&o, "title").unwrap_or_default(),
            body: text_of(&o, "body").unwrap_or_default(),
            category: text_of(&o, "category").filter(|c| !c.is_empty()),
            tags,
            status: text_of(&o, "status").filter(|s| !s.is_empty()).unwrap_or_else(|| "published".into()),
        };
        push_article(source, line, input, parsed);
    }
}

/// Saves every parsed item (each in its own transaction) and adds the outcome to `report`.
pub fn apply(db: &Db, parsed: Parsed, author_id: Option<i64>, author: &str, now: i64) -> Report {
    let mut report = Report { errors: parsed.errors, ..Report::default() };
    for located in parsed.items {
        let outcome = db.with_conn(|c| match &located.item {
            Item::Article(a) => Ok((true, rows::upsert_article(c, a, author_id, author, now)?.1)),
            Item::Product(p) => Ok((false, rows::upsert_product(c, p, now)?.1)),
        });
        match outcome {
            Ok((true, Saved::Created)) => report.articles_created += 1,
            Ok((true, Saved::Updated)) => report.articles_updated += 1,
            Ok((true, Saved::Unchanged)) => report.articles_unchanged += 1,
            Ok((false, Saved::Created)) => report.products_created += 1,
            Ok((false, Saved::Updated)) => report.products_updated += 1,
            Ok((false, Saved::Unchanged)) => report.products_unchanged += 1,
            Err(StoreError::Conflict(m)) => {
                report.errors.push(Issue { source: located.source, line: located.line, message: m });
            }
            Err(e) => report.errors.push(Issue { source: located.source, line: located.line, message: e.to_string() }),
        }
    }
    report
}

/// Everything, in the JSON form `parse_json` reads back.
pub fn export(db: &Db) -> Result<Value, StoreError> {
    db.with_conn(|c| {
        let articles: Vec<Value> = rows::list_articles(c, &rows::ArticleFilter::default())?
            .into_iter()
            .map(|a| {
                json!({ "slug": a.slug, "kind": a.kind, "title": a.title, "body": a.body, "category": a.category,
                        "tags": a.tags, "status": a.status })
            })
            .collect();
        let products: Vec<Value> = rows::list_products(c, 0, 0)?
            .into_iter()
            .map(|p| {
                json!({ "marketplace": p.marketplace, "offer_id": p.offer_id, "marketplace_id": p.marketplace_id,
                        "name": p.name, "category": p.category, "description": p.description,
                        "attributes": p.attributes, "price_rub": p.price_rub, "stock": p.stock })
            })
            .collect();
        Ok(json!({ "articles": articles, "products": products }))
    })
}
