//! Knowledge-base rows: categories, articles (and FAQ pairs) with versions, products, usage
//! statistics, the search-index queue and embedding vectors.
//!
//! Every change to a searchable document also inserts its key into `kb_index_queue` in the
//! same transaction; `kb::Kb` drains the queue into the Tantivy index (and replays it at start).

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use super::{Result, StoreError, conflict_on_unique, optional};

/// The key of a searchable document: `a:<article id>` or `p:<product id>`.
pub fn article_key(id: i64) -> String {
    format!("a:{id}")
}
pub fn product_key(id: i64) -> String {
    format!("p:{id}")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Article {
    pub id: i64,
    pub slug: String,
    /// "article" or "faq" (a question-answer pair: title is the question).
    pub kind: String,
    pub title: String,
    /// Markdown.
    pub body: String,
    pub category: Option<String>,
    pub tags: Vec<String>,
    /// "published" or "draft" (drafts are never used in answers).
    pub status: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What a caller sets on an article.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ArticleInput {
    pub slug: String,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub status: String,
}

impl ArticleInput {
    /// Checks the fields; the message names the field.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let slug_ok = !self.slug.is_empty()
            && self.slug.len() <= 100
            && self.slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !slug_ok {
            return Err(format!("slug {:?}: 1-100 characters of a-z, 0-9, '-', '_'", self.slug));
        }
        if !matches!(self.kind.as_str(), "article" | "faq") {
            return Err(format!("kind {:?}: article or faq", self.kind));
        }
        if !matches!(self.status.as_str(), "published" | "draft") {
            return Err(format!("status {:?}: published or draft", self.status));
        }
        if self.title.trim().is_empty() || self.title.chars().count() > 300 {
            return Err("title: 1-300 characters".into());
        }
        if self.body.trim().is_empty() || self.body.len() > 200_000 {
            return Err("body: 1 to 200000 bytes".into());
        }
        if self.tags.len() > 30 || self.tags.iter().any(|t| t.trim().is_empty() || t.chars().count() > 50) {
            return Err("tags: at most 30, each 1-50 characters".into());
        }
        if let Some(c) = &self.category
            && (c.is_empty() || c.len() > 64)
        {
            return Err("category: 1-64 characters".into());
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Version {
    pub version: i64,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub status: String,
    pub author: String,
    pub created_at: i64,
}

const ARTICLE_COLUMNS: &str =
    "a.id, a.slug, a.kind, a.title, a.body, c.slug, a.tags, a.status, a.version, a.created_at, a.updated_at";

fn tags_from(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

fn article_row(r: &Row<'_>) -> rusqlite::Result<Article> {
    Ok(Article {
        id: r.get(0)?,
        slug: r.get(1)?,
        kind: r.get(2)?,
        title: r.get(3)?,
        body: r.get(4)?,
        category: r.get(5)?,
        tags: tags_from(&r.get::<_, String>(6)?),
        status: r.get(7)?,
        version: r.get(8)?,
        created_at: r.get(9)?,
        updated_at: r.get(10)?,
    })
}

pub fn queue_doc(conn: &Connection, doc: &str, now: i64) -> Result<()> {
    conn.execute(
        "INSERT INTO kb_index_queue (doc, queued_at) VALUES (?1, ?2) ON CONFLICT (doc) DO UPDATE SET queued_at = ?2",
        params![doc, now],
    )?;
    Ok(())
}

pub fn queued_docs(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT doc FROM kb_index_queue ORDER BY queued_at, doc")?;
    let rows = stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(rows)
}

/// Removes `docs` from the queue unless they were queued again after `before`.
pub fn dequeue(conn: &Connection, docs: &[String], before: i64) -> Result<()> {
    let mut stmt = conn.prepare("DELETE FROM kb_index_queue WHERE doc = ?1 AND queued_at <= ?2")?;
    for d in docs {
        stmt.execute(params![d, before])?;
    }
    Ok(())
}

/// Empties the queue (after a full rebuild has covered everything queued before `before`).
pub fn clear_queue(conn: &Connection, before: i64) -> Result<()> {
    conn.execute("DELETE FROM kb_index_queue WHERE queued_at <= ?1", [before])?;
    Ok(())
}

pub fn ensure_category(conn: &Connection, slug: &str, now: i64) -> Result<i64> {
    conn.execute(
        "INSERT INTO kb_categories (slug, name, created_at) VALUES (?1, ?1, ?2) ON CONFLICT (slug) DO NOTHING",
        params![slug, now],
    )?;
    Ok(conn.query_row("SELECT id FROM kb_categories WHERE slug = ?1", [slug], |r| r.get(0))?)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Category {
    pub slug: String,
    pub name: String,
    pub articles: i64,
}

pub fn categories(conn: &Connection) -> Result<Vec<Category>> {
    let mut stmt = conn.prepare(
        "SELECT c.slug, c.name, COUNT(a.id) FROM kb_categories c LEFT JOIN kb_articles a ON a.category_id = c.id
         GROUP BY c.id ORDER BY c.slug",
    )?;
    let rows = stmt
        .query_map([], |r| Ok(Category { slug: r.get(0)?, name: r.get(1)?, articles: r.get(2)? }))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub fn get_article(conn: &Connection, id: i64) -> Result<Article> {
    optional(conn.query_row(
        &format!("SELECT {ARTICLE_COLUMNS} FROM kb_articles a LEFT JOIN kb_categories c ON c.id = a.category_id WHERE a.id = ?1"),
        [id],
        article_row,
    ))?
    .ok_or(StoreError::NotFound)
}

pub fn article_by_slug(conn: &Connection, slug: &str) -> Result<Option<Article>> {
    optional(conn.query_row(
        &format!("SELECT {ARTICLE_COLUMNS} FROM kb_articles a LEFT JOIN kb_categories c ON c.id = a.category_id WHERE a.slug = ?1"),
        [slug],
        article_row,
    ))
}

#[derive(Debug, Default, Clone)]
pub struct ArticleFilter {
    pub category: Option<String>,
    pub status: Option<String>,
    pub limit: u32,
    pub offset: u32,
}

pub fn count_articles(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT COUNT(*) FROM kb_articles", [], |r| r.get(0))?)
}

pub fn list_articles(conn: &Connection, f: &ArticleFilter) -> Result<Vec<Article>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {ARTICLE_COLUMNS} FROM kb_articles a LEFT JOIN kb_categories c ON c.id = a.category_id
         WHERE (?1 IS NULL OR c.slug = ?1) AND (?2 IS NULL OR a.status = ?2) ORDER BY a.id LIMIT ?3 OFFSET ?4"
    ))?;
    let limit = if f.limit == 0 { u32::MAX } else { f.limit };
    let rows = stmt
        .query_map(params![f.category, f.status, limit, f.offset], article_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

fn insert_version(conn: &Connection, a: &Article, author_id: Option<i64>, author: &str, now: i64) -> Result<()> {
    let category_id: Option<i64> =
        conn.query_row("SELECT category_id FROM kb_articles WHERE id = ?1", [a.id], |r| r.get(0))?;
    conn.execute(
        "INSERT INTO kb_article_versions (article_id, version, kind, title, body, category_id, tags, status, author_id,
           author, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            a.id,
            a.version,
            a.kind,
            a.title,
            a.body,
            category_id,
            serde_json::to_string(&a.tags).unwrap_or_else(|_| "[]".into()),
            a.status,
            author_id,
            author,
            now
        ],
    )?;
    Ok(())
}

/// Creates an article. Conflict when the slug exists.
pub fn create_article(
    conn: &mut Connection,
    input: &ArticleInput,
    author_id: Option<i64>,
    author: &str,
    now: i64,
) -> Result<Article> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let category_id = input.category.as_deref().map(|c| ensure_category(&tx, c, now)).transpose()?;
    tx.execute(
        "INSERT INTO kb_articles (slug, kind, title, body, category_id, tags, status, created_at, updated_at, updated_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)",
        params![
            input.slug,
            input.kind,
            input.title.trim(),
            input.body,
            category_id,
            serde_json::to_string(&input.tags).unwrap_or_else(|_| "[]".into()),
            input.status,
            now,
            author_id
        ],
    )
    .map_err(|e| conflict_on_unique(e, &format!("an article with slug {:?} already exists", input.slug)))?;
    let article = get_article(&tx, tx.last_insert_rowid())?;
    insert_version(&tx, &article, author_id, author, now)?;
    queue_doc(&tx, &article_key(article.id), now)?;
    tx.commit()?;
    Ok(article)
}

/// Replaces an article's content. A save that changes nothing keeps the version.
pub fn update_article(
    conn: &mut Connection,
    id: i64,
    input: &ArticleInput,
    author_id: Option<i64>,
    author: &str,
    now: i64,
) -> Result<Article> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let before = get_article(&tx, id)?;
    let same = before.slug == input.slug
        && before.kind == input.kind
        && before.title == input.title.trim()
        && before.body == input.body
        && before.category == input.category
        && before.tags == input.tags
        && before.status == input.status;
    if same {
        return Ok(before);
    }
    let category_id = input.category.as_deref().map(|c| ensure_category(&tx, c, now)).transpose()?;
    tx.execute(
        "UPDATE kb_articles SET slug = ?2, kind = ?3, title = ?4, body = ?5, category_id = ?6, tags = ?7, status = ?8,
           version = version + 1, updated_at = ?9, updated_by = ?10 WHERE id = ?1",
        params![
            id,
            input.slug,
            input.kind,
            input.title.trim(),
            input.body,
            category_id,
            serde_json::to_string(&input.tags).unwrap_or_else(|_| "[]".into()),
            input.status,
            now,
            author_id
        ],
    )
    .map_err(|e| conflict_on_unique(e, &format!("an article with slug {:?} already exists", input.slug)))?;
    let article = get_article(&tx, id)?;
    insert_version(&tx, &article, author_id, author, now)?;
    queue_doc(&tx, &article_key(id), now)?;
    tx.commit()?;
    Ok(article)
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    Created,
    Updated,
    Unchanged,
}

/// Creates or updates by slug (imports).
pub fn upsert_article(
    conn: &mut Connection,
    input: &ArticleInput,
    author_id: Option<i64>,
    author: &str,
    now: i64,
) -> Result<(Article, Saved)> {
    match article_by_slug(conn, &input.slug)? {
        None => Ok((create_article(conn, input, author_id, author, now)?, Saved::Created)),
        Some(existing) => {
            let updated = update_article(conn, existing.id, input, author_id, author, now)?;
            let saved = if updated.version == existing.version { Saved::Unchanged } else { Saved::Updated };
            Ok((updated, saved))
        }
    }
}

pub fn delete_article(conn: &mut Connection, id: i64, now: i64) -> Result<Article> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let article = get_article(&tx, id)?;
    tx.execute("DELETE FROM kb_articles WHERE id = ?1", [id])?;
    tx.execute("DELETE FROM kb_vectors WHERE doc = ?1", [article_key(id)])?;
    queue_doc(&tx, &article_key(id), now)?;
    tx.commit()?;
    Ok(article)
}

pub fn versions(conn: &Connection, article_id: i64) -> Result<Vec<Version>> {
    get_article(conn, article_id)?;
    let mut stmt = conn.prepare(
        "SELECT v.version, v.kind, v.title, v.body, c.slug, v.tags, v.status, v.author, v.created_at
         FROM kb_article_versions v LEFT JOIN kb_categories c ON c.id = v.category_id
         WHERE v.article_id = ?1 ORDER BY v.version DESC",
    )?;
    let rows = stmt
        .query_map([article_id], |r| {
            Ok(Version {
                version: r.get(0)?,
                kind: r.get(1)?,
                title: r.get(2)?,
                body: r.get(3)?,
                category: r.get(4)?,
                tags: tags_from(&r.get::<_, String>(5)?),
                status: r.get(6)?,
                author: r.get(7)?,
                created_at: r.get(8)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Makes an old version current again, as a new version (history is never rewritten).
pub fn restore_version(
    conn: &mut Connection,
    article_id: i64,
    version: i64,
    author_id: Option<i64>,
    author: &str,
    now: i64,
) -> Result<Article> {
    let current = get_article(conn, article_id)?;
    let old = versions(conn, article_id)?.into_iter().find(|v| v.version == version).ok_or(StoreError::NotFound)?;
    let input = ArticleInput {
        slug: current.slug,
        kind: old.kind,
        title: old.title,
        body: old.body,
        category: old.category,
        tags: old.tags,
        status: old.status,
    };
    update_article(conn, article_id, &input, author_id, author, now)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Product {
    pub id: i64,
    /// "wb", "ozon" or "other".
    pub marketplace: String,
    /// The seller's own article (vendor code).
    pub offer_id: String,
    /// The marketplace's id: WB nmID or Ozon SKU.
    pub marketplace_id: String,
    pub name: String,
    pub category: String,
    pub description: String,
    /// Sizes, composition, color and other characteristics.
    #[schema(value_type = Object)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub price_rub: Option<f64>,
    pub stock: Option<i64>,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ProductInput {
    pub marketplace: String,
    pub offer_id: String,
    pub marketplace_id: String,
    pub name: String,
    pub category: String,
    pub description: String,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub price_rub: Option<f64>,
    pub stock: Option<i64>,
}

impl ProductInput {
    pub fn validate(&self) -> std::result::Result<(), String> {
        if !matches!(self.marketplace.as_str(), "wb" | "ozon" | "other") {
            return Err(format!("marketplace {:?}: wb, ozon or other", self.marketplace));
        }
        if self.offer_id.trim().is_empty() || self.offer_id.len() > 100 {
            return Err("offer_id: 1-100 characters".into());
        }
        if !self.marketplace_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') || self.marketplace_id.len() > 40
        {
            return Err(format!("marketplace_id {:?}: letters and digits only", self.marketplace_id));
        }
        if self.name.trim().is_empty() || self.name.chars().count() > 500 {
            return Err("name: 1-500 characters".into());
        }
        if self.price_rub.is_some_and(|p| !(0.0..=10_000_000.0).contains(&p)) {
            return Err("price_rub: 0 to 10000000".into());
        }
        if self.stock.is_some_and(|s| s < 0) {
            return Err("stock: must not be negative".into());
        }
        Ok(())
    }
}

const PRODUCT_COLUMNS: &str =
    "id, marketplace, offer_id, marketplace_id, name, category, description, attributes, price_kop, stock, updated_at";

fn product_row(r: &Row<'_>) -> rusqlite::Result<Product> {
    let attrs: String = r.get(7)?;
    Ok(Product {
        id: r.get(0)?,
        marketplace: r.get(1)?,
        offer_id: r.get(2)?,
        marketplace_id: r.get(3)?,
        name: r.get(4)?,
        category: r.get(5)?,
        description: r.get(6)?,
        attributes: serde_json::from_str(&attrs).unwrap_or_default(),
        price_rub: r.get::<_, Option<i64>>(8)?.map(|k| k as f64 / 100.0),
        stock: r.get(9)?,
        updated_at: r.get(10)?,
    })
}

/// Creates or updates by (marketplace, offer_id).
pub fn upsert_product(conn: &mut Connection, p: &ProductInput, now: i64) -> Result<(Product, Saved)> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let price_kop = p.price_rub.map(|r| (r * 100.0).round() as i64);
    let attributes = serde_json::Value::Object(p.attributes.clone()).to_string();
    let before: Option<Product> = tx
        .query_row(
            &format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE marketplace = ?1 AND offer_id = ?2"),
            params![p.marketplace, p.offer_id],
            product_row,
        )
        .optional()?;
    if let Some(b) = &before {
        let same = b.marketplace_id == p.marketplace_id
            && b.name == p.name
            && b.category == p.category
            && b.description == p.description
            && b.attributes == p.attributes
            && b.price_rub.map(|r| (r * 100.0).round()) == price_kop.map(|k| k as f64)
            && b.stock == p.stock;
        if same {
            return Ok((b.clone(), Saved::Unchanged));
        }
    }
    tx.execute(
        "INSERT INTO products (marketplace, offer_id, marketplace_id, name, category, description, attributes, price_kop,
           stock, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)
         ON CONFLICT (marketplace, offer_id) DO UPDATE SET marketplace_id = excluded.marketplace_id,
           name = excluded.name, category = excluded.category, description = excluded.description,
           attributes = excluded.attributes, price_kop = excluded.price_kop, stock = excluded.stock,
           updated_at = excluded.updated_at",
        params![
            p.marketplace,
            p.offer_id.trim(),
            p.marketplace_id,
            p.name.trim(),
            p.category,
            p.description,
            attributes,
            price_kop,
            p.stock,
            now
        ],
    )?;
    let product = tx.query_row(
        &format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE marketplace = ?1 AND offer_id = ?2"),
        params![p.marketplace, p.offer_id.trim()],
        product_row,
    )?;
    queue_doc(&tx, &product_key(product.id), now)?;
    tx.commit()?;
    Ok((product, if before.is_some() { Saved::Updated } else { Saved::Created }))
}

pub fn get_product(conn: &Connection, id: i64) -> Result<Product> {
    optional(conn.query_row(&format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE id = ?1"), [id], product_row))?
        .ok_or(StoreError::NotFound)
}

/// Products whose marketplace id or seller article equals `code` (case-insensitive).
pub fn products_by_code(conn: &Connection, code: &str) -> Result<Vec<Product>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {PRODUCT_COLUMNS} FROM products WHERE marketplace_id = ?1 OR offer_id = ?1 COLLATE NOCASE ORDER BY id"
    ))?;
    let rows = stmt.query_map([code], product_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub fn list_products(conn: &Connection, limit: u32, offset: u32) -> Result<Vec<Product>> {
    let mut stmt = conn.prepare(&format!("SELECT {PRODUCT_COLUMNS} FROM products ORDER BY id LIMIT ?1 OFFSET ?2"))?;
    let limit = if limit == 0 { u32::MAX } else { limit };
    let rows = stmt.query_map(params![limit, offset], product_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub fn delete_product(conn: &mut Connection, id: i64, now: i64) -> Result<Product> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let p = get_product(&tx, id)?;
    tx.execute("DELETE FROM products WHERE id = ?1", [id])?;
    tx.execute("DELETE FROM kb_vectors WHERE doc = ?1", [product_key(id)])?;
    queue_doc(&tx, &product_key(id), now)?;
    tx.commit()?;
    Ok(p)
}

/// One searchable document as the index sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexDoc {
    pub doc: String,
    /// "article", "faq" or "product".
    pub kind: String,
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    /// Exact identifiers: slug, seller article, marketplace id.
    pub codes: Vec<String>,
    pub published: bool,
}

fn article_doc(a: &Article) -> IndexDoc {
    let mut tags = a.tags.clone();
    if let Some(c) = &a.category {
        tags.push(c.clone());
    }
    IndexDoc {
        doc: article_key(a.id),
        kind: a.kind.clone(),
        title: a.title.clone(),
        body: a.body.clone(),
        tags,
        codes: vec![a.slug.clone()],
        published: a.status == "published",
    }
}

/// A product's searchable text in Russian: description plus its characteristics.
pub fn product_text(p: &Product) -> String {
    let mut text = p.description.clone();
    let label = |k: &str| match k {
        "sizes" => crate::texts::product::SIZES,
        "composition" => crate::texts::product::COMPOSITION,
        "color" => crate::texts::product::COLOR,
        _ => "",
    };
    for (k, v) in &p.attributes {
        let value = match v {
            serde_json::Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(", "),
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let name = if label(k).is_empty() { k.as_str() } else { label(k) };
        text.push_str(&format!("\n{name}: {value}"));
    }
    if let Some(price) = p.price_rub {
        text.push_str(&crate::texts::product::price(price));
    }
    if let Some(stock) = p.stock {
        text.push_str(&crate::texts::product::stock(stock));
    }
    text
}

fn product_doc(p: &Product) -> IndexDoc {
    let marketplace = match p.marketplace.as_str() {
        "wb" => "wildberries",
        "ozon" => "ozon",
        _ => "",
    };
    IndexDoc {
        doc: product_key(p.id),
        kind: "product".into(),
        title: p.name.clone(),
        body: product_text(p),
        tags: vec![p.category.clone(), marketplace.to_owned()],
        codes: vec![p.offer_id.clone(), p.marketplace_id.clone()],
        published: true,
    }
}

/// The current state of one document (`None` when it was deleted).
pub fn load_doc(conn: &Connection, doc: &str) -> Result<Option<IndexDoc>> {
    let id = |s: &str| s.parse::<i64>().ok();
    match doc.split_once(':') {
        Some(("a", n)) => match id(n) {
            Some(n) => match get_article(conn, n) {
                Ok(a) => Ok(Some(article_doc(&a))),
                Err(StoreError::NotFound) => Ok(None),
                Err(e) => Err(e),
            },
            None => Ok(None),
        },
        Some(("p", n)) => match id(n) {
            Some(n) => match get_product(conn, n) {
                Ok(p) => Ok(Some(product_doc(&p))),
                Err(StoreError::NotFound) => Ok(None),
                Err(e) => Err(e),
            },
            None => Ok(None),
        },
        _ => Ok(None),
    }
}

pub fn all_docs(conn: &Connection) -> Result<Vec<IndexDoc>> {
    let mut docs: Vec<IndexDoc> = list_articles(conn, &ArticleFilter::default())?.iter().map(article_doc).collect();
    docs.extend(list_products(conn, 0, 0)?.iter().map(product_doc));
    Ok(docs)
}

/// Counts one retrieval of each doc.
pub fn record_retrieved(conn: &Connection, docs: &[String], now: i64) -> Result<()> {
    let mut stmt = conn.prepare(
        "INSERT INTO kb_usage (doc, retrieved, last_retrieved_at) VALUES (?1, 1, ?2)
         ON CONFLICT (doc) DO UPDATE SET retrieved = retrieved + 1, last_retrieved_at = ?2",
    )?;
    for d in docs {
        stmt.execute(params![d, now])?;
    }
    Ok(())
}

/// Counts docs used in an answer; `rating` (true = good) when the buyer rated it.
pub fn record_used(conn: &Connection, docs: &[String], rating: Option<bool>) -> Result<()> {
    let (good, bad) = match rating {
        Some(true) => (1, 0),
        Some(false) => (0, 1),
        None => (0, 0),
    };
    let used = i64::from(rating.is_none());
    let mut stmt = conn.prepare(
        "INSERT INTO kb_usage (doc, used, rated_good, rated_bad) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (doc) DO UPDATE SET used = used + ?2, rated_good = rated_good + ?3, rated_bad = rated_bad + ?4",
    )?;
    for d in docs {
        stmt.execute(params![d, used, good, bad])?;
    }
    Ok(())
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Usage {
    pub retrieved: i64,
    pub used: i64,
    pub rated_good: i64,
    pub rated_bad: i64,
}

pub fn usage(conn: &Connection, doc: &str) -> Result<Usage> {
    Ok(optional(conn.query_row(
        "SELECT retrieved, used, rated_good, rated_bad FROM kb_usage WHERE doc = ?1",
        [doc],
        |r| Ok(Usage { retrieved: r.get(0)?, used: r.get(1)?, rated_good: r.get(2)?, rated_bad: r.get(3)? }),
    ))?
    .unwrap_or_default())
}

/// One stored passage vector: (doc, passage number, passage text hash, vector).
pub type StoredVector = (String, i64, String, Vec<f32>);

/// Stored vectors of one model.
pub fn vectors(conn: &Connection, model: &str) -> Result<Vec<StoredVector>> {
    let mut stmt =
        conn.prepare("SELECT doc, passage, text_hash, vector FROM kb_vectors WHERE model = ?1 ORDER BY doc, passage")?;
    let rows = stmt
        .query_map([model], |r| {
            let blob: Vec<u8> = r.get(3)?;
            let v = blob.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, v))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Replaces the vectors of `doc`.
pub fn put_vectors(conn: &mut Connection, doc: &str, model: &str, passages: &[(String, Vec<f32>)]) -> Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute("DELETE FROM kb_vectors WHERE doc = ?1", [doc])?;
    {
        let mut stmt =
            tx.prepare("INSERT INTO kb_vectors (doc, passage, model, text_hash, vector) VALUES (?1, ?2, ?3, ?4, ?5)")?;
        for (i, (hash, v)) in passages.iter().enumerate() {
            let blob: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            stmt.execute(params![doc, i64::try_from(i).unwrap_or(0), model, hash, blob])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Drops the vectors computed by any model other than `model` (passages' and units').
pub fn delete_vectors_of_other_models(conn: &Connection, model: &str) -> Result<()> {
    conn.execute("DELETE FROM kb_vectors WHERE model <> ?1", [model])?;
    conn.execute("DELETE FROM kb_unit_vectors WHERE model <> ?1", [model])?;
    Ok(())
}

fn vector_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn blob_vector(blob: &[u8]) -> Vec<f32> {
    blob.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// Stored answer-unit vectors of one model, at most `limit`: (text hash, vector).
pub fn unit_vectors(conn: &Connection, model: &str, limit: usize) -> Result<Vec<(String, Vec<f32>)>> {
    let mut stmt = conn.prepare("SELECT text_hash, vector FROM kb_unit_vectors WHERE model = ?1 LIMIT ?2")?;
    let rows = stmt
        .query_map(params![model, i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            let blob: Vec<u8> = r.get(1)?;
            Ok((r.get(0)?, blob_vector(&blob)))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Stores answer-unit vectors of `model` (a hash already stored keeps its vector).
pub fn put_unit_vectors(conn: &mut Connection, model: &str, units: &[(String, Vec<f32>)]) -> Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    {
        let mut stmt =
            tx.prepare("INSERT OR IGNORE INTO kb_unit_vectors (model, text_hash, vector) VALUES (?1, ?2, ?3)")?;
        for (hash, v) in units {
            stmt.execute(params![model, hash, vector_blob(v)])?;
        }
    }
    tx.commit()?;
    Ok(())
}
