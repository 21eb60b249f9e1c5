//! Conversations for the operator inbox: list, read (with the bot's reasons), take over,
//! reply, return to the bot; the event feed for live updates and catch-up; and a generic
//! inbound endpoint that feeds a message to the engine like any channel.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::channels::ChannelName;
use crate::clock::rfc3339;
use crate::engine::{EngineError, Inbound};
use crate::http::AppState;
use crate::http::auth::{Admin, Auth, Operator, Viewer};
use crate::http::error::{ApiError, ApiJson, ErrorBody};
use crate::store::messaging::{self as msgs, Conversation, Event, Message};

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Store(s) => s.into(),
            EngineError::BadPayload(m) => ApiError::invalid(m),
            EngineError::Internal(m) => {
                tracing::error!(error = %m, "engine failure");
                ApiError::internal()
            }
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ConversationView {
    #[serde(flatten)]
    pub conversation: Conversation,
    pub created: String,
    pub last_message: String,
    /// In the inbox list: the last message, how long the buyer has waited, their mood.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub triage: Option<crate::store::panel::Triage>,
    /// Marketplace threads: when the unanswered buyer's message must be answered by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_due: Option<crate::marketplace::deadlines::ReplyDue>,
}

impl From<Conversation> for ConversationView {
    fn from(c: Conversation) -> Self {
        Self {
            created: rfc3339(c.created_at),
            last_message: rfc3339(c.last_message_at),
            conversation: c,
            triage: None,
            reply_due: None,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// "open", "pending" (waiting for a person) or "closed".
    #[param(pattern = "^(open|pending|closed)$")]
    pub status: Option<String>,
    /// "bot" or "operator".
    #[param(pattern = "^(bot|operator)$")]
    pub handled_by: Option<String>,
    /// Words of a message, the customer's name or id, or an order number (at most 200 characters).
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// "me": only conversations assigned to the caller.
    #[param(pattern = "^me$")]
    pub assigned: Option<String>,
    /// At most this many, newest first (default 50; 1 to 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// "recent" (default: by the last message) or "due": marketplace threads waiting for an
    /// answer first, by time left (overdue first), then the rest by the last message.
    #[param(pattern = "^(recent|due)$")]
    pub sort: Option<String>,
}

/// Conversations, most recent first.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations", params(ListQuery),
    responses((status = 200, body = Vec<ConversationView>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth<Viewer>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<ConversationView>>, ApiError> {
    if q.status.as_deref().is_some_and(|s| !["open", "pending", "closed"].contains(&s)) {
        return Err(ApiError::invalid("status: \"open\", \"pending\" or \"closed\""));
    }
    if q.handled_by.as_deref().is_some_and(|s| !["bot", "operator"].contains(&s)) {
        return Err(ApiError::invalid("handled_by: \"bot\" or \"operator\""));
    }
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit: 1 to 500"));
    }
    let search = q.q.filter(|s| !s.trim().is_empty());
    if search.as_ref().is_some_and(|s| s.chars().count() > 200) {
        return Err(ApiError::invalid("q: at most 200 characters"));
    }
    let assigned = match q.assigned.as_deref() {
        Some("me") => Some(auth.user.id),
        Some(_) => return Err(ApiError::invalid("assigned: \"me\"")),
        None => None,
    };
    let by_due = match q.sort.as_deref() {
        None | Some("recent") => false,
        Some("due") => true,
        Some(_) => return Err(ApiError::invalid("sort: \"recent\" or \"due\"")),
    };
    let now = state.now();
    // Viewers see phones and e-mails in the list's previews masked, as in the thread.
    let viewer = auth.user.role < crate::domain::Role::Operator;
    let rows = state
        .db
        .call(move |c| {
            let (status, handled_by) = (q.status.as_deref(), q.handled_by.as_deref());
            let mut rows = msgs::conversations(c, status, handled_by, search.as_deref(), assigned, limit)?;
            if by_due {
                // The due threads first (each filtered like the rest), then the others.
                let mut due = Vec::new();
                for id in crate::store::marketplace::due_conversations(c, limit)? {
                    let conv = msgs::conversation(c, id)?;
                    let matches = status.is_none_or(|s| conv.status == s)
                        && handled_by.is_none_or(|h| conv.handled_by == h)
                        && assigned.is_none_or(|a| conv.assigned_user_id == Some(a))
                        && (search.is_none() || rows.iter().any(|r| r.id == id));
                    if matches {
                        due.push(conv);
                    }
                }
                rows.retain(|r| !due.iter().any(|d| d.id == r.id));
                due.append(&mut rows);
                due.truncate(limit as usize);
                rows = due;
            }
            let threads: Vec<(String, String)> =
                rows.iter().map(|r| (r.channel.clone(), r.recipient.clone())).collect();
            let deadlines = crate::store::marketplace::deadlines(c, &threads)?;
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            let mut triage = crate::store::panel::triage(c, &ids)?;
            Ok(rows
                .into_iter()
                .map(|r| {
                    let due = deadlines.get(&(r.channel.clone(), r.recipient.clone()));
                    let mut t = triage.remove(&r.id);
                    if viewer && let Some(t) = &mut t {
                        t.last_text = t.last_text.as_deref().map(crate::privacy::mask_text);
                    }
                    let mut v = ConversationView::from(r);
                    v.reply_due = due.and_then(|d| crate::marketplace::deadlines::ReplyDue::of(d, now));
                    v.triage = t;
                    v
                })
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(Json(rows))
}

#[derive(Serialize, ToSchema)]
pub struct CustomerView {
    pub customer: msgs::Customer,
    /// Orders this customer has shown to be theirs, newest first.
    #[schema(value_type = Vec<Object>)]
    pub orders: Vec<crate::marketplace::Order>,
    /// Returns (WB claims, Ozon returns) on those orders, newest first per order.
    pub returns: Vec<crate::marketplace::Return>,
    pub conversations: Vec<ConversationView>,
}

/// A customer: their channel, orders (from the marketplace sync) and earlier conversations with
/// their ratings. Viewers see phone numbers masked (+7 *** ***-**-67).
#[utoipa::path(get, path = "/api/v1/customers/{id}", tag = "conversations", params(("id" = i64, Path, description = "The customer id")),
    responses((status = 200, body = CustomerView), (status = 404, body = ErrorBody)))]
pub async fn customer(
    State(state): State<AppState>,
    auth: Auth<Viewer>,
    Path(id): Path<i64>,
) -> Result<Json<CustomerView>, ApiError> {
    let (mut customer, mut orders, returns, conversations) = state
        .db
        .call(move |c| {
            let orders = crate::store::orders::of_customer(c, id)?;
            let mut returns = Vec::new();
            for o in &orders {
                returns.extend(crate::store::orders::returns_of(c, o)?);
            }
            Ok((msgs::customer(c, id)?, orders, returns, msgs::conversations_of(c, id)?))
        })
        .await
        .map_err(ApiError::store("customer"))?;
    if auth.user.role < crate::domain::Role::Operator {
        customer.phone = customer.phone.as_deref().map(crate::privacy::mask_phone);
        for o in &mut orders {
            o.phone = o.phone.as_deref().map(crate::privacy::mask_phone);
        }
    }
    Ok(Json(CustomerView {
        customer,
        orders,
        returns,
        conversations: conversations.into_iter().map(ConversationView::from).collect(),
    }))
}

/// Today's numbers (since midnight in the shop's time zone) with the definitions of
/// `/api/v1/stats/summary`, against yesterday until the same time (`previous`), and the
/// conversations waiting for a person now.
#[utoipa::path(get, path = "/api/v1/dashboard", tag = "conversations",
    responses((status = 200, body = crate::http::api::stats::Dashboard), (status = 401, body = ErrorBody)))]
pub async fn dashboard(
    State(state): State<AppState>,
    _auth: Auth<Viewer>,
) -> Result<Json<crate::http::api::stats::Dashboard>, ApiError> {
    Ok(Json(crate::http::api::stats::dashboard(&state).await?))
}

#[derive(Serialize, ToSchema)]
pub struct Thread {
    pub conversation: ConversationView,
    /// The last 200 messages, oldest first; bot messages carry their provenance.
    pub messages: Vec<Message>,
}

/// One conversation with its messages and, for each bot reply, why it was given. Viewers see
/// phones and e-mails in the messages masked.
#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "conversations", params(("id" = i64, Path, description = "The conversation id")),
    responses((status = 200, body = Thread), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    auth: Auth<Viewer>,
    Path(id): Path<i64>,
) -> Result<Json<Thread>, ApiError> {
    let (conversation, mut messages) =
        state.db.call(move |c| msgs::thread(c, id, 200)).await.map_err(ApiError::store("conversation"))?;
    if auth.user.role < crate::domain::Role::Operator {
        for m in &mut messages {
            m.body = crate::privacy::mask_text(&m.body);
        }
    }
    Ok(Json(Thread { conversation: conversation.into(), messages }))
}

/// Take the conversation over: the bot stays silent until it is returned.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/takeover", tag = "conversations", params(("id" = i64, Path, description = "The conversation id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn take_over(
    State(state): State<AppState>,
    auth: Auth<Operator>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    state.engine.take_over(id, auth.user.id).await.map_err(not_found_as("conversation"))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    /// The question is settled: the buyer is asked for a 1–5 rating.
    #[serde(default)]
    pub resolved: bool,
}

/// Return the conversation to the bot.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/release", tag = "conversations", params(("id" = i64, Path, description = "The conversation id")), request_body = ReleaseRequest,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn release(
    State(state): State<AppState>,
    auth: Auth<Operator>,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    // The body is optional: no body means "not resolved".
    let req: ReleaseRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ReleaseRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid(format!("invalid body: {e}")))?
    };
    let resolved = req.resolved;
    state.engine.release(id, auth.user.id, resolved).await.map_err(not_found_as("conversation"))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyRequest {
    /// Up to 4096 characters (may be empty when a file is sent; then it is the file's caption).
    #[serde(default)]
    pub text: String,
    /// A photo or document to send (within `server.max_body_bytes` and `telegram.max_file_bytes`).
    pub file: Option<FileUpload>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileUpload {
    pub name: String,
    /// e.g. "image/jpeg" (images are sent as photos), "application/pdf".
    pub mime: String,
    /// The content, base64.
    pub data: String,
}

/// Saves an operator's file under DATA_DIR/files/out; returns it as an attachment.
async fn save_upload(state: &AppState, f: FileUpload) -> Result<crate::engine::Attachment, ApiError> {
    use base64::Engine as _;
    let name: String = f.name.chars().filter(|c| !matches!(c, '/' | '\\' | '\0')).take(120).collect();
    if name.trim().is_empty() || f.mime.is_empty() || f.mime.len() > 100 || !f.mime.contains('/') {
        return Err(ApiError::invalid("file: a name and a MIME type like image/jpeg"));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(f.data.trim())
        .map_err(|_| ApiError::invalid("file.data: not base64"))?;
    if bytes.is_empty() || bytes.len() as u64 > state.config.telegram.max_file_bytes {
        return Err(ApiError::invalid(format!("file: 1 byte to {} bytes", state.config.telegram.max_file_bytes)));
    }
    let ext = std::path::Path::new(&name).extension().and_then(|e| e.to_str()).unwrap_or("bin");
    let size = bytes.len() as u64;
    let stored = state.paths.files().store(crate::files::OUT, ext, &bytes).await.map_err(|e| {
        tracing::error!(error = %format!("{e:#}"), "cannot store an operator's file");
        ApiError::internal()
    })?;
    Ok(crate::engine::Attachment {
        kind: "file".into(),
        name: Some(name),
        mime: Some(f.mime),
        size,
        path: Some(stored.reference),
        error: None,
    })
}

#[derive(Serialize, ToSchema)]
pub struct ReplyResponse {
    pub message_id: i64,
}

/// Reply to the buyer as an operator (queued to their channel; takes the conversation over).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", tag = "conversations", params(("id" = i64, Path, description = "The conversation id")), request_body = ReplyRequest,
    responses((status = 201, body = ReplyResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn reply(
    State(state): State<AppState>,
    auth: Auth<Operator>,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<ReplyRequest>,
) -> Result<(StatusCode, Json<ReplyResponse>), ApiError> {
    let n = req.text.trim().chars().count();
    if (n == 0 && req.file.is_none()) || n > 4096 {
        return Err(ApiError::invalid("text: 1 to 4096 characters (or a file)"));
    }
    let file = match req.file {
        Some(f) => Some(save_upload(&state, f).await?),
        None => None,
    };
    let message_id =
        state.engine.operator_reply(id, auth.user.id, &req.text, file).await.map_err(not_found_as("conversation"))?;
    Ok((StatusCode::CREATED, Json(ReplyResponse { message_id })))
}

fn not_found_as(what: &'static str) -> impl Fn(EngineError) -> ApiError {
    move |e| match e {
        EngineError::Store(crate::store::StoreError::NotFound) => ApiError::not_found(what),
        e => e.into(),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Events after this id (the last one seen), oldest first.
    pub after: Option<i64>,
    /// At most this many (default 200, at most 1000).
    pub limit: Option<u32>,
}

/// What happened since `after`: messages, handoffs, takeovers, ratings (the inbox's live view
/// and its catch-up after a network blip).
#[utoipa::path(get, path = "/api/v1/events", tag = "conversations", params(EventsQuery),
    responses((status = 200, body = Vec<Event>), (status = 401, body = ErrorBody)))]
pub async fn events(
    State(state): State<AppState>,
    _auth: Auth<Viewer>,
    Query(q): Query<EventsQuery>,
) -> Result<Json<Vec<Event>>, ApiError> {
    let (after, limit) = (q.after.unwrap_or(0), q.limit.unwrap_or(200).clamp(1, 1000));
    Ok(Json(state.db.call(move |c| msgs::events_after(c, after, limit)).await?))
}

/// Server-sent events over a channel.
struct Feed(tokio::sync::mpsc::Receiver<axum::response::sse::Event>);

impl futures_core::Stream for Feed {
    type Item = Result<axum::response::sse::Event, std::convert::Infallible>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|e| e.map(Ok))
    }
}

/// The event feed as a stream (Server-Sent Events): each event's data is `{"id", "kind",
/// "conversation_id", "payload", "at"}`, its SSE id the event id.
/// A reconnecting browser sends `Last-Event-ID` and gets everything after it first.
/// While the assistant writes an answer, SSE events named `writing` carry `{"kind": "writing",
/// "conversation_id", "channel", "text", "done"}`: the checked sentences so far.
#[utoipa::path(get, path = "/api/v1/events/stream", tag = "conversations", params(EventsQuery),
    responses((status = 200, description = "text/event-stream"), (status = 401, body = ErrorBody)))]
pub async fn stream(
    State(state): State<AppState>,
    _auth: Auth<Viewer>,
    headers: axum::http::HeaderMap,
    Query(q): Query<EventsQuery>,
) -> axum::response::sse::Sse<
    impl futures_core::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>,
> {
    let last = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<i64>().ok());
    let mut after = last.or(q.after).unwrap_or(0);
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    let mut stopping = state.stopping.clone();
    let mut writes = state.db.writes();
    let mut writing = state.engine.streams().subscribe();
    tokio::spawn(async move {
        loop {
            if *stopping.borrow() {
                return;
            }
            writes.borrow_and_update();
            let batch = match state.db.call(move |c| msgs::events_after(c, after, 200)).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "event stream read failed");
                    Vec::new()
                }
            };
            for e in batch {
                after = e.id;
                let data = serde_json::json!({"id": e.id, "kind": e.kind, "conversation_id": e.conversation_id,
                    "payload": e.payload, "at": rfc3339(e.created_at)});
                let event = axum::response::sse::Event::default().id(e.id.to_string()).data(data.to_string());
                if tx.send(event).await.is_err() {
                    return;
                }
            }
            if tx.is_closed() {
                return;
            }
            // Wake on the next write (a burst of writes is read at once, after 50 ms), or every
            // 5 s all the same; the stream ends when the server stops, so a graceful stop does
            // not wait for panels. Meanwhile answers being written pass as `writing` events
            // (not stored, no id: a reconnect does not replay them).
            let wait = tokio::time::sleep(std::time::Duration::from_secs(5));
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    Ok(()) = writes.changed() => {
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        break;
                    }
                    () = &mut wait => break,
                    _ = stopping.changed() => return,
                    partial = writing.recv() => {
                        let Ok(p) = partial else { continue };
                        let data = serde_json::json!({"kind": "writing", "conversation_id": p.conversation_id,
                            "channel": p.channel, "text": p.text, "done": p.done});
                        let event = axum::response::sse::Event::default().event("writing").data(data.to_string());
                        if tx.send(event).await.is_err() {
                            return;
                        }
                    }
                }
            }
        }
    });
    axum::response::sse::Sse::new(Feed(rx)).keep_alive(axum::response::sse::KeepAlive::new())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboundRequest {
    /// The sender's own id of this message: sending it again is recognised and ignored.
    pub message_id: String,
    /// The buyer's id in the sending system (replies are queued on the `api` channel to it).
    pub customer: String,
    #[serde(default)]
    pub name: String,
    /// 1 to 100,000 characters (the first 2,000 are understood and searched).
    #[schema(min_length = 1, max_length = 100_000)]
    pub text: String,
}

#[derive(Serialize, ToSchema)]
pub struct InboundResponse {
    pub inbox_id: i64,
    /// True when this message id had been received before (nothing new was stored).
    pub duplicate: bool,
}

/// Feed a buyer message to the assistant from another system (channel `api`). It is stored
/// before this answers 202, then processed in order; replies go to the `api` outbox.
#[utoipa::path(post, path = "/api/v1/inbound", tag = "conversations", request_body = InboundRequest,
    responses((status = 202, body = InboundResponse), (status = 402, description = "The API channel is not in the plan (plan_limit)", body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn inbound(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    ApiJson(req): ApiJson<InboundRequest>,
) -> Result<(StatusCode, Json<InboundResponse>), ApiError> {
    state.licensing.current().allows_channel(crate::licence::plans::ChannelKind::Api)?;
    if req.text.trim().is_empty() || req.text.chars().nth(crate::engine::MAX_MESSAGE_CHARS).is_some() {
        return Err(ApiError::invalid(format!("text: 1 to {} characters", crate::engine::MAX_MESSAGE_CHARS)));
    }
    for (field, v) in [("message_id", &req.message_id), ("customer", &req.customer)] {
        if v.trim().is_empty() || v.len() > 200 {
            return Err(ApiError::invalid(format!("{field}: 1 to 200 characters")));
        }
    }
    let mut m = Inbound::text(ChannelName::Api, req.message_id, req.customer, req.text);
    m.name = req.name.chars().take(200).collect();
    let accepted = state.engine.accept(&m).await?;
    Ok((StatusCode::ACCEPTED, Json(InboundResponse { inbox_id: accepted.id, duplicate: accepted.duplicate })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    /// 1 to 4096 characters; seen by staff only.
    pub text: String,
}

/// An internal note for colleagues (never sent to the buyer).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/notes", tag = "conversations", params(("id" = i64, Path, description = "The conversation id")), request_body = NoteRequest,
    responses((status = 201, body = ReplyResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn note(
    State(state): State<AppState>,
    auth: Auth<Operator>,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<NoteRequest>,
) -> Result<(StatusCode, Json<ReplyResponse>), ApiError> {
    let text = req.text.trim().to_owned();
    if text.is_empty() || text.chars().count() > 4096 {
        return Err(ApiError::invalid("text: 1 to 4096 characters"));
    }
    let (user, now) = (auth.user.id, state.now());
    let message_id = state
        .db
        .call(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            msgs::conversation(&tx, id)?;
            let mid = msgs::add_note(&tx, id, user, &text, now)?;
            msgs::add_event(&tx, "note", Some(id), &serde_json::json!({"user_id": user}), now)?;
            tx.commit()?;
            Ok(mid)
        })
        .await
        .map_err(ApiError::store("conversation"))?;
    Ok((StatusCode::CREATED, Json(ReplyResponse { message_id })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// An operator or admin; null to unassign.
    pub user_id: Option<i64>,
}

/// Assign the conversation to an operator (or nobody).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/assign", tag = "conversations", params(("id" = i64, Path, description = "The conversation id")), request_body = AssignRequest,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn assign(
    State(state): State<AppState>,
    _auth: Auth<Operator>,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<AssignRequest>,
) -> Result<StatusCode, ApiError> {
    let now = state.now();
    if let Some(uid) = req.user_id {
        let user = state
            .db
            .call(move |c| crate::store::users::get(c, uid))
            .await
            .map_err(|_| ApiError::invalid("user_id: no such user"))?;
        if user.disabled || user.role < crate::domain::Role::Operator {
            return Err(ApiError::invalid("user_id: an active operator or admin"));
        }
    }
    state
        .db
        .call(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            msgs::assign(&tx, id, req.user_id, now)?;
            msgs::add_event(&tx, "assign", Some(id), &serde_json::json!({"user_id": req.user_id}), now)?;
            tx.commit()?;
            Ok(())
        })
        .await
        .map_err(ApiError::store("conversation"))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct Suggestion {
    /// A reply to edit and send; null when there is nothing to suggest from.
    pub text: Option<String>,
}

/// An AI-suggested reply to the buyer's last message (order facts or a knowledge answer),
/// for the operator to edit and send. Nothing is sent.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/draft", tag = "conversations", params(("id" = i64, Path, description = "The conversation id")),
    responses((status = 200, body = Suggestion), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn draft(
    State(state): State<AppState>,
    _auth: Auth<Operator>,
    Path(id): Path<i64>,
) -> Result<Json<Suggestion>, ApiError> {
    let text = state.engine.suggest(id).await.map_err(not_found_as("conversation"))?;
    Ok(Json(Suggestion { text }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SnippetRequest {
    /// 1 to 100 characters.
    pub title: String,
    /// 1 to 4096 characters; `{name}` and `{order}` are filled in when it is used.
    pub body: String,
}

/// Saved replies.
#[utoipa::path(get, path = "/api/v1/snippets", tag = "conversations",
    responses((status = 200, body = Vec<msgs::Snippet>), (status = 403, body = ErrorBody)))]
pub async fn snippets(
    State(state): State<AppState>,
    _auth: Auth<Operator>,
) -> Result<Json<Vec<msgs::Snippet>>, ApiError> {
    Ok(Json(state.db.call(|c| msgs::snippets(c)).await?))
}

fn check_snippet(req: &SnippetRequest) -> Result<(), ApiError> {
    let (t, b) = (req.title.trim().chars().count(), req.body.trim().chars().count());
    if t == 0 || t > 100 || b == 0 || b > 4096 {
        return Err(ApiError::invalid("title: 1 to 100 characters; body: 1 to 4096"));
    }
    Ok(())
}

/// Add a saved reply (admin).
#[utoipa::path(post, path = "/api/v1/snippets", tag = "conversations", request_body = SnippetRequest,
    responses((status = 201, body = msgs::Snippet), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_snippet(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    ApiJson(req): ApiJson<SnippetRequest>,
) -> Result<(StatusCode, Json<msgs::Snippet>), ApiError> {
    check_snippet(&req)?;
    let now = state.now();
    let (title, body) = (req.title.trim().to_owned(), req.body.trim().to_owned());
    let (t, b) = (title.clone(), body.clone());
    let id = state.db.call(move |c| msgs::put_snippet(c, None, &t, &b, now)).await?;
    Ok((StatusCode::CREATED, Json(msgs::Snippet { id, title, body })))
}

/// Remove a saved reply (admin).
#[utoipa::path(delete, path = "/api/v1/snippets/{id}", tag = "conversations", params(("id" = i64, Path, description = "The saved reply id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_snippet(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    state.db.call(move |c| msgs::delete_snippet(c, id)).await.map_err(ApiError::store("snippet"))?;
    Ok(StatusCode::NO_CONTENT)
}

/// A file from a conversation (a buyer's photo or document, or one an operator sent), for
/// signed-in staff. Only files under the data directory's `files/` are served.
#[utoipa::path(get, path = "/api/v1/files/{path}", tag = "conversations", params(("path" = String, Path, description = "The file's path under the data directory's files/, as in a message's attachments")),
    responses((status = 200, description = "the file"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn file(
    State(state): State<AppState>,
    _auth: Auth<Viewer>,
    Path(path): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    // The channels' folders (what buyers sent) and the operators' (`out`); nothing else.
    let served = path
        .split_once('/')
        .is_some_and(|(folder, _)| ChannelName::parse(folder).is_some() || folder == crate::files::OUT);
    let full = served
        .then(|| state.paths.files().resolve(&format!("{}/{path}", crate::files::ROOT)))
        .flatten()
        .ok_or_else(|| ApiError::not_found("file"))?;
    let bytes = tokio::fs::read(&full).await.map_err(|_| ApiError::not_found("file"))?;
    let ext = full.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let (mime, inline) = match ext.as_str() {
        "jpg" | "jpeg" => ("image/jpeg", true),
        "png" => ("image/png", true),
        "gif" => ("image/gif", true),
        "webp" => ("image/webp", true),
        "pdf" => ("application/pdf", false),
        _ => ("application/octet-stream", false),
    };
    let disposition = if inline { "inline" } else { "attachment" };
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, mime),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
            (axum::http::header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RepliesQuery {
    /// The last reply id you have processed: every reply up to it counts as delivered and is
    /// not returned again (0 or absent: nothing confirmed yet).
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// Seconds to wait for a reply when none is queued (long polling), 0 to 30 (default 0).
    #[param(minimum = 0, maximum = 30)]
    pub wait: Option<u64>,
    /// 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct ApiReply {
    /// Pass the last one you processed as `after` next time.
    pub id: i64,
    /// The `customer` of the inbound message it answers.
    pub customer: String,
    pub conversation_id: Option<i64>,
    pub text: String,
    /// Reply buttons offered, rows of labels (e.g. a 1–5 rating).
    pub buttons: Option<Vec<Vec<String>>>,
    pub created: String,
}

#[derive(Serialize, ToSchema)]
pub struct RepliesResponse {
    pub replies: Vec<ApiReply>,
}

/// The assistant's and operators' replies to messages fed through `POST /api/v1/inbound`,
/// oldest first, delivered at least once: each call confirms the replies up to `after`; the
/// rest are returned again until confirmed. With `wait`, the call waits for the next reply.
#[utoipa::path(get, path = "/api/v1/inbound/replies", tag = "conversations", params(RepliesQuery),
    responses((status = 200, body = RepliesResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn inbound_replies(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Query(q): Query<RepliesQuery>,
) -> Result<Json<RepliesResponse>, ApiError> {
    let (after, wait, limit) = (q.after.unwrap_or(0), q.wait.unwrap_or(0), q.limit.unwrap_or(50));
    if after < 0 || wait > 30 || !(1..=100).contains(&limit) {
        return Err(ApiError::invalid("after: 0 or more; wait: 0 to 30; limit: 1 to 100"));
    }
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(wait);
    let signal = state.engine.outbox_signal();
    loop {
        // Registered before the check, so a reply queued in between wakes this call.
        let notified = signal.notified();
        let mut notified = std::pin::pin!(notified);
        notified.as_mut().enable();
        let now = state.now();
        let rows = state.db.call(move |c| msgs::outbox_pull(c, ChannelName::Api.as_str(), after, limit, now)).await?;
        if !rows.is_empty() || tokio::time::Instant::now() >= deadline {
            let replies = rows
                .into_iter()
                .map(|r| {
                    let payload = crate::channels::Outbound::parse(&r.payload).unwrap_or_default();
                    ApiReply {
                        id: r.id,
                        customer: r.recipient,
                        conversation_id: r.conversation_id,
                        text: payload.text,
                        buttons: (!payload.buttons.is_empty()).then_some(payload.buttons),
                        created: rfc3339(r.created_at),
                    }
                })
                .collect();
            return Ok(Json(RepliesResponse { replies }));
        }
        let _ = tokio::time::timeout_at(deadline, notified).await;
    }
}
