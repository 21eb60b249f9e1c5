//! The knowledge base over HTTP: articles (with versions), products, search, grounding,
//! import and export. Reading needs any role; editing needs an operator.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::http::AppState;
use crate::http::auth::{Auth, Operator, Viewer};
use crate::http::error::{ApiError, ApiJson, ErrorBody};
use crate::kb::{self, KbError, Mode, Retrieval, SearchHit, import};
use crate::store::kb::{self as rows, Article, ArticleInput, Category, Product, ProductInput, Usage, Version};

impl From<KbError> for ApiError {
    fn from(e: KbError) -> Self {
        match e {
            KbError::Store(s) => s.into(),
            KbError::NoEmbedder(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "embedding_model_missing",
                "vector search needs the embedding model, which is not installed; use mode=bm25 or hybrid",
            ),
            KbError::Cancelled => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "timeout", "the request took too long")
            }
            other => {
                tracing::error!(error = %other, "knowledge base error");
                ApiError::internal()
            }
        }
    }
}

/// Runs blocking knowledge-base work (index, embeddings) off the async threads.
async fn with_kb<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&kb::Kb) -> Result<T, KbError> + Send + 'static,
) -> Result<T, ApiError> {
    let kb = state.kb.clone();
    // A request that timed out (or whose client left) while this waited for a blocking thread
    // does not start the work at all.
    let cancel = crate::llm::Cancel::default();
    let _stop = cancel.on_drop();
    let job = cancel.clone();
    Ok(tokio::task::spawn_blocking(move || if job.is_cancelled() { Err(KbError::Cancelled) } else { f(&kb) }).await??)
}

/// Brings the index up to date after a change, so the change is searchable when we answer.
async fn sync(state: &AppState) -> Result<(), ApiError> {
    with_kb(state, |kb| kb.sync().map(|_| ())).await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub category: Option<String>,
    /// published or draft.
    pub status: Option<String>,
    /// 1 to 500 (default 100).
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

fn page(limit: Option<u32>) -> Result<u32, ApiError> {
    let limit = limit.unwrap_or(100);
    if (1..=500).contains(&limit) { Ok(limit) } else { Err(ApiError::invalid("limit: 1 to 500")) }
}

/// List articles and FAQ pairs.
#[utoipa::path(get, path = "/api/v1/kb/articles", tag = "kb", params(ListQuery),
    responses((status = 200, body = Vec<Article>), (status = 401, body = ErrorBody)))]
pub async fn list_articles(
    State(state): State<AppState>,
    _auth: Auth<Viewer>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<Article>>, ApiError> {
    let filter = rows::ArticleFilter {
        category: q.category,
        status: q.status,
        limit: page(q.limit)?,
        offset: q.offset.unwrap_or(0),
    };
    Ok(Json(state.db.call(move |c| rows::list_articles(c, &filter)).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticleRequest {
    /// URL-safe id: a-z, 0-9, '-', '_'.
    pub slug: String,
    /// "article" (default) or "faq".
    pub kind: Option<String>,
    pub title: String,
    /// Markdown.
    pub body: String,
    pub category: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// "published" (default) or "draft".
    pub status: Option<String>,
}

impl ArticleRequest {
    fn into_input(self) -> Result<ArticleInput, ApiError> {
        let input = ArticleInput {
            slug: self.slug.trim().to_owned(),
            kind: self.kind.unwrap_or_else(|| "article".into()),
            title: self.title,
            body: self.body,
            category: self.category.filter(|c| !c.trim().is_empty()),
            tags: self.tags.into_iter().map(|t| t.trim().to_owned()).collect(),
            status: self.status.unwrap_or_else(|| "published".into()),
        };
        input.validate().map_err(ApiError::invalid)?;
        Ok(input)
    }
}

/// Create an article (searchable as soon as this answers).
#[utoipa::path(post, path = "/api/v1/kb/articles", tag = "kb", request_body = ArticleRequest,
    responses((status = 201, body = Article), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_article(
    State(state): State<AppState>,
    auth: Auth<Operator>,
    ApiJson(req): ApiJson<ArticleRequest>,
) -> Result<(StatusCode, Json<Article>), ApiError> {
    let input = req.into_input()?;
    let (uid, who, now) = (auth.user.id, auth.user.email.clone(), state.now());
    let article = state.db.call(move |c| rows::create_article(c, &input, Some(uid), &who, now)).await?;
    sync(&state).await?;
    Ok((StatusCode::CREATED, Json(article)))
}

#[derive(Serialize, ToSchema)]
pub struct ArticleDetail {
    #[serde(flatten)]
    pub article: Article,
    pub usage: Usage,
}

/// One article with its usage statistics.
#[utoipa::path(get, path = "/api/v1/kb/articles/{id}", tag = "kb", params(("id" = i64, Path)),
    responses((status = 200, body = ArticleDetail), (status = 404, body = ErrorBody)))]
pub async fn get_article(
    State(state): State<AppState>,
    _auth: Auth<Viewer>,
    Path(id): Path<i64>,
) -> Result<Json<ArticleDetail>, ApiError> {
    let detail = state
        .db
        .call(move |c| {
            Ok(ArticleDetail { article: rows::get_article(c, id)?, usage: rows::usage(c, &rows::article_key(id))? })
        })
        .await
        .map_err(ApiError::store("article"))?;
    Ok(Json(detail))
}

/// Replace an article's content (a new version when anything changed).
#[utoipa::path(put, path = "/api/v1/kb/articles/{id}", tag = "kb", params(("id" = i64, Path)), request_body = ArticleRequest,
    responses((status = 200, body = Article), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_article(
    State(state): State<AppState>,
    auth: Auth<Operator>,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<ArticleRequest>,
) -> Result<Json<Article>, ApiError> {
    let input = req.into_input()?;
    let (uid, who, now) = (auth.user.id, auth.user.email.clone(), state.now());
    let article = state
        .db
        .call(move |c| rows::update_article(c, id, &input, Some(uid), &who, now))
        .await
        .map_err(ApiError::store("article"))?;
    sync(&state).await?;
    Ok(Json(article))
}

/// Delete an article and its history.
#[utoipa::path(delete, path = "/api/v1/kb/articles/{id}", tag = "kb", params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody)))]
pub async fn delete_article(
    State(state): State<AppState>,
    _auth: Auth<Operator>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let now = state.now();
    state.db.call(move |c| rows::delete_article(c, id, now)).await.map_err(ApiError::store("article"))?;
    sync(&state).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An article's versions, newest first.
#[utoipa::path(get, path = "/api/v1/kb/articles/{id}/versions", tag = "kb", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<Version>), (status = 404, body = ErrorBody)))]
pub async fn versions(
    State(state): State<AppState>,
    _auth: Auth<Viewer>,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Version>>, ApiError> {
    Ok(Json(state.db.call(move |c| rows::versions(c, id)).await.map_err(ApiError::store("article"))?))
}

/// Make an old version current again (saved as a new version).
#[utoipa::path(post, path = "/api/v1/kb/articles/{id}/versions/{version}/restore", tag = "kb",
    params(("id" = i64, Path), ("version" = i64, Path)),
    responses((status = 200, body = Article), (status = 404, body = ErrorBody)))]
pub async fn restore_version(
    State(state): State<AppState>,
    auth: Auth<Operator>,
    Path((id, version)): Path<(i64, i64)>,
) -> Result<Json<Article>, ApiError> {
    let (uid, who, now) = (auth.user.id, auth.user.email.clone(), state.now());
    let article = state
        .db
        .call(move |c| rows::restore_version(c, id, version, Some(uid), &who, now))
        .await
        .map_err(ApiError::store("article version"))?;
    sync(&state).await?;
    Ok(Json(article))
}

/// Categories with their article counts.
#[utoipa::path(get, path = "/api/v1/kb/categories", tag = "kb", responses((status = 200, body = Vec<Category>)))]
pub async fn categories(State(state): State<AppState>, _auth: Auth<Viewer>) -> Result<Json<Vec<Category>>, ApiError> {
    Ok(Json(state.db.call(|c| rows::categories(c)).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ProductQuery {
    pub limit: Option<u32>,
    pub offset: Option<u32>,
    /// A marketplace id (WB nmID, Ozon SKU) or seller article.
    pub code: Option<String>,
}

/// List products, or find them by article number.
#[utoipa::path(get, path = "/api/v1/kb/products", tag = "kb", params(ProductQuery), responses((status = 200, body = Vec<Product>)))]
pub async fn list_products(
    State(state): State<AppState>,
    _auth: Auth<Viewer>,
    Query(q): Query<ProductQuery>,
) -> Result<Json<Vec<Product>>, ApiError> {
    let limit = page(q.limit)?;
    let products = state
        .db
        .call(move |c| match &q.code {
            Some(code) => rows::products_by_code(c, code.trim()),
            None => rows::list_products(c, limit, q.offset.unwrap_or(0)),
        })
        .await?;
    Ok(Json(products))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductRequest {
    /// wb, ozon or other.
    pub marketplace: String,
    pub offer_id: String,
    #[serde(default)]
    pub marketplace_id: String,
    pub name: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub price_rub: Option<f64>,
    pub stock: Option<i64>,
}

impl ProductRequest {
    fn into_input(self) -> Result<ProductInput, ApiError> {
        let input = ProductInput {
            marketplace: self.marketplace,
            offer_id: self.offer_id,
            marketplace_id: self.marketplace_id,
            name: self.name,
            category: self.category,
            description: self.description,
            attributes: self.attributes,
            price_rub: self.price_rub,
            stock: self.stock,
        };
        input.validate().map_err(ApiError::invalid)?;
        Ok(input)
    }
}

/// Create or update a product (by marketplace and seller article).
#[utoipa::path(post, path = "/api/v1/kb/products", tag = "kb", request_body = ProductRequest,
    responses((status = 200, body = Product), (status = 422, body = ErrorBody)))]
pub async fn upsert_product(
    State(state): State<AppState>,
    _auth: Auth<Operator>,
    ApiJson(req): ApiJson<ProductRequest>,
) -> Result<Json<Product>, ApiError> {
    let input = req.into_input()?;
    let now = state.now();
    let (product, _) = state.db.call(move |c| rows::upsert_product(c, &input, now)).await?;
    sync(&state).await?;
    Ok(Json(product))
}

/// One product.
#[utoipa::path(get, path = "/api/v1/kb/products/{id}", tag = "kb", params(("id" = i64, Path)),
    responses((status = 200, body = Product), (status = 404, body = ErrorBody)))]
pub async fn get_product(
    State(state): State<AppState>,
    _auth: Auth<Viewer>,
    Path(id): Path<i64>,
) -> Result<Json<Product>, ApiError> {
    Ok(Json(state.db.call(move |c| rows::get_product(c, id)).await.map_err(ApiError::store("product"))?))
}

/// Delete a product.
#[utoipa::path(delete, path = "/api/v1/kb/products/{id}", tag = "kb", params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody)))]
pub async fn delete_product(
    State(state): State<AppState>,
    _auth: Auth<Operator>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let now = state.now();
    state.db.call(move |c| rows::delete_product(c, id, now)).await.map_err(ApiError::store("product"))?;
    sync(&state).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// 1 to 1000 characters.
    #[param(min_length = 1, max_length = 1000)]
    #[schema(min_length = 1, max_length = 1000)]
    pub q: String,
    /// bm25, vector or hybrid (default).
    pub mode: Option<Mode>,
    /// 1 to 50 (default 10).
    #[param(minimum = 1, maximum = 50)]
    #[schema(minimum = 1, maximum = 50)]
    pub limit: Option<usize>,
    /// Include drafts.
    pub drafts: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct SearchResponse {
    /// The mode used (hybrid becomes bm25 without the embedding model).
    pub mode: Mode,
    pub hits: Vec<SearchHit>,
}

/// Search articles, FAQ and products.
#[utoipa::path(get, path = "/api/v1/kb/search", tag = "kb", params(SearchQuery),
    responses((status = 200, body = SearchResponse), (status = 422, body = ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    _auth: Auth<Viewer>,
    Query(q): Query<SearchQuery>,
) -> Result<Json<SearchResponse>, ApiError> {
    run_search(&state, q).await
}

/// The same search with the query in a JSON body (for long queries and clients that prefer it).
#[utoipa::path(post, path = "/api/v1/kb/search", tag = "kb", request_body = SearchQuery,
    responses((status = 200, body = SearchResponse), (status = 422, body = ErrorBody)))]
pub async fn search_post(
    State(state): State<AppState>,
    _auth: Auth<Viewer>,
    ApiJson(q): ApiJson<SearchQuery>,
) -> Result<Json<SearchResponse>, ApiError> {
    run_search(&state, q).await
}

async fn run_search(state: &AppState, q: SearchQuery) -> Result<Json<SearchResponse>, ApiError> {
    let limit = q.limit.unwrap_or(10);
    if !(1..=50).contains(&limit) {
        return Err(ApiError::invalid("limit: 1 to 50"));
    }
    if q.q.trim().is_empty() || q.q.chars().nth(1000).is_some() {
        return Err(ApiError::invalid("q: 1 to 1000 characters"));
    }
    let mode = q.mode.unwrap_or_default();
    let drafts = q.drafts.unwrap_or(false);
    let (mode, hits) = with_kb(state, move |kb| {
        let mode = kb.effective_mode(mode);
        Ok((mode, kb.search(&q.q, mode, limit, drafts)?))
    })
    .await?;
    Ok(Json(SearchResponse { mode, hits }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetrieveRequest {
    pub query: String,
    /// Earlier buyer text that helps (e.g. the previous question).
    pub context: Option<String>,
    /// 1 to 20 (default 5).
    pub limit: Option<usize>,
}

/// Grounding passages for an answer, with `grounded = false` when nothing relevant exists.
#[utoipa::path(post, path = "/api/v1/kb/retrieve", tag = "kb", request_body = RetrieveRequest,
    responses((status = 200, body = Retrieval), (status = 422, body = ErrorBody)))]
pub async fn retrieve(
    State(state): State<AppState>,
    _auth: Auth<Viewer>,
    ApiJson(req): ApiJson<RetrieveRequest>,
) -> Result<Json<Retrieval>, ApiError> {
    let limit = req.limit.unwrap_or(5);
    if !(1..=20).contains(&limit) || req.query.trim().is_empty() {
        return Err(ApiError::invalid("query must not be empty; limit: 1 to 20"));
    }
    Ok(Json(with_kb(&state, move |kb| kb.retrieve(&req.query, req.context.as_deref(), limit)).await?))
}

/// Import articles and products: JSON (`{"articles": [...], "products": [...]}` or an array),
/// or CSV with `Content-Type: text/csv`. Invalid rows are reported and skipped.
#[utoipa::path(post, path = "/api/v1/kb/import", tag = "kb", request_body(content = String, description = "JSON or CSV"),
    responses((status = 200, body = import::Report), (status = 415, body = ErrorBody)))]
pub async fn import_kb(
    State(state): State<AppState>,
    auth: Auth<Operator>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<import::Report>, ApiError> {
    let content_type =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let ext = if content_type.starts_with("application/json") {
        "json"
    } else if content_type.starts_with("text/csv") {
        "csv"
    } else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send application/json or text/csv",
        ));
    };
    let text = String::from_utf8(body.to_vec()).map_err(|_| ApiError::invalid("the body is not UTF-8"))?;
    let (uid, who, now, db) = (auth.user.id, auth.user.email.clone(), state.now(), state.db.clone());
    let report = tokio::task::spawn_blocking(move || {
        let mut parsed = import::Parsed::default();
        import::parse_text("request", std::path::Path::new("request"), ext, &text, &mut parsed);
        import::apply(&db, parsed, Some(uid), &who, now)
    })
    .await?;
    sync(&state).await?;
    Ok(Json(report))
}

/// Everything as JSON, in the form import reads back.
#[utoipa::path(get, path = "/api/v1/kb/export", tag = "kb", responses((status = 200, description = "articles and products")))]
pub async fn export(State(state): State<AppState>, _auth: Auth<Viewer>) -> Result<Json<serde_json::Value>, ApiError> {
    let db = state.db.clone();
    Ok(Json(tokio::task::spawn_blocking(move || import::export(&db)).await??))
}
