//! The counts of the monthly usage statement: messages, conversations by channel, operators.

use rusqlite::{Connection, params};

use super::Result;

/// Messages in `[from, to)` by author ("buyer", "bot", "operator", "system"); internal notes
/// are not messages to anyone and are left out.
pub fn messages_by_author(conn: &Connection, from: i64, to: i64) -> Result<Vec<(String, i64)>> {
    let mut stmt = conn.prepare(
        "SELECT author, COUNT(*) FROM messages WHERE created_at >= ?1 AND created_at < ?2 AND internal = 0
         GROUP BY author ORDER BY author",
    )?;
    let rows = stmt.query_map(params![from, to], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelCount {
    pub channel: String,
    /// Conversations with a buyer message in the period.
    pub conversations: i64,
    pub buyer_messages: i64,
}

/// Per channel: conversations with a buyer message in `[from, to)`, and those messages.
pub fn channels(conn: &Connection, from: i64, to: i64) -> Result<Vec<ChannelCount>> {
    let mut stmt = conn.prepare(
        "SELECT c.channel, COUNT(DISTINCT m.conversation_id), COUNT(*)
         FROM messages m JOIN conversations c ON c.id = m.conversation_id
         WHERE m.created_at >= ?1 AND m.created_at < ?2 AND m.author = 'buyer'
         GROUP BY c.channel ORDER BY c.channel",
    )?;
    let rows = stmt
        .query_map(params![from, to], |r| {
            Ok(ChannelCount { channel: r.get(0)?, conversations: r.get(1)?, buyer_messages: r.get(2)? })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorCount {
    /// None when the account no longer exists.
    pub user_id: Option<i64>,
    pub name: String,
    pub email: String,
    pub replies: i64,
}

/// The people who replied to buyers in `[from, to)`, with their reply counts, most first.
pub fn operators(conn: &Connection, from: i64, to: i64) -> Result<Vec<OperatorCount>> {
    let mut stmt = conn.prepare(
        "SELECT m.author_user_id, COALESCE(u.name, ''), COALESCE(u.email, ''), COUNT(*)
         FROM messages m LEFT JOIN users u ON u.id = m.author_user_id
         WHERE m.created_at >= ?1 AND m.created_at < ?2 AND m.author = 'operator' AND m.internal = 0
         GROUP BY m.author_user_id ORDER BY COUNT(*) DESC, m.author_user_id",
    )?;
    let rows = stmt
        .query_map(params![from, to], |r| {
            Ok(OperatorCount { user_id: r.get(0)?, name: r.get(1)?, email: r.get(2)?, replies: r.get(3)? })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}
