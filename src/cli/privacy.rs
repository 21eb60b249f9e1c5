//! `supportd privacy`: answering a buyer's request about their personal data.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Subcommand;

use crate::app::Paths;
use crate::store::Db;
use crate::store::audit::Actor;
use crate::store::privacy as rows;

#[derive(Debug, Subcommand)]
pub enum PrivacyCommand {
    /// Find a buyer by id, "channel:id", phone, e-mail or part of the name.
    Find { query: String },
    /// Write everything stored about a buyer to a zip: customer.json and their files.
    Export {
        /// The customer's id (see `privacy find`) or "channel:id".
        customer: String,
        /// Where to write [default: customer-ID.zip in the current directory].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Delete a buyer's messages, files, phone, name, order links and model-call links.
    Erase {
        /// The customer's id (see `privacy find`) or "channel:id".
        customer: String,
        /// Confirm: this cannot be undone (copies made earlier keep the data until rotated).
        #[arg(long)]
        yes: bool,
    },
}

/// The customer id named by `arg`: a number, or "channel:id".
fn customer_id(db: &Db, arg: &str) -> anyhow::Result<i64> {
    if let Ok(id) = arg.trim().parse::<i64>() {
        return Ok(id);
    }
    if arg.contains(':') {
        let found = db.with_conn(|c| rows::find_customers(c, arg, 2))?;
        let (channel, external) = arg.split_once(':').unwrap_or_default();
        if let Some(c) = found.iter().find(|c| c.channel == channel && c.external_id == external) {
            return Ok(c.id);
        }
    }
    bail!("no customer {arg:?}: give the customer's id or \"channel:id\" (find it with `supportd privacy find`)")
}

pub fn run(paths: &Paths, db: &Db, cmd: PrivacyCommand, now: i64) -> anyhow::Result<ExitCode> {
    match cmd {
        PrivacyCommand::Find { query } => {
            if query.trim().chars().count() < 2 {
                bail!("give at least 2 characters to search for");
            }
            let found = db.with_conn(|c| rows::find_customers(c, &query, 50))?;
            if found.is_empty() {
                println!("no customer matches {query:?}");
                return Ok(ExitCode::FAILURE);
            }
            println!("{:<6} {:<10} {:<24} {:<24} PHONE", "ID", "CHANNEL", "ID ON CHANNEL", "NAME");
            for c in found {
                println!(
                    "{:<6} {:<10} {:<24} {:<24} {}",
                    c.id,
                    c.channel,
                    c.external_id,
                    c.display_name,
                    c.phone.as_deref().unwrap_or("-")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        PrivacyCommand::Export { customer, out } => {
            let id = customer_id(db, &customer)?;
            let data = crate::privacy::export_data(db, id, &Actor::cli(), now).map_err(|e| match e {
                crate::store::StoreError::NotFound => anyhow::anyhow!("no customer with id {id}"),
                e => e.into(),
            })?;
            let out = out.unwrap_or_else(|| PathBuf::from(format!("customer-{id}.zip")));
            if out.exists() {
                bail!("{} already exists: choose another --out", out.display());
            }
            let tmp = out.with_extension("partial");
            let file = {
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true).read(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    opts.mode(0o600);
                }
                opts.open(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?
            };
            let written = crate::privacy::write_export(&data, &paths.data_dir, now, file);
            let files = match written {
                Ok(n) => n,
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(e.context("cannot write the export"));
                }
            };
            std::fs::rename(&tmp, &out).with_context(|| format!("cannot move the export to {}", out.display()))?;
            let messages: usize = data.conversations.iter().map(|c| c.messages.len()).sum();
            println!(
                "wrote {}: customer.json ({} conversations, {messages} messages, {} orders) and {files} files",
                out.display(),
                data.conversations.len(),
                data.orders.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        PrivacyCommand::Erase { customer, yes } => {
            let id = customer_id(db, &customer)?;
            let who = db.with_conn(|c| rows::customer_record(c, id)).map_err(|e| match e {
                crate::store::StoreError::NotFound => anyhow::anyhow!("no customer with id {id}"),
                e => e.into(),
            })?;
            if !yes {
                bail!(
                    "this deletes everything about customer {id} ({} on {}) for good: run it again with --yes",
                    who.display_name,
                    who.channel
                );
            }
            let erased = crate::privacy::erase(db, &paths.data_dir, id, &Actor::cli(), now)?;
            let r = &erased.removed;
            println!(
                "erased customer {id}: {} conversations, {} messages, {} received messages, {} replies, {} files, \
                 phone cleared on {} orders",
                r.conversations,
                r.messages,
                r.received,
                r.replies,
                r.files.len() - erased.files_left.len(),
                r.orders_cleared
            );
            println!("backups made before now keep the data until they are rotated out (backup.keep copies).");
            if !erased.files_left.is_empty() {
                bail!("could not delete these files; delete them by hand: {}", erased.files_left.join(", "));
            }
            if !erased.compacted {
                println!("note: the database's log is emptied at the next checkpoint (a reader was busy).");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
