//! `supportd channel telegram …`: the bot token and mode, checked with Telegram.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::bail;
use clap::Subcommand;

use crate::app::{self, Paths};
use crate::channels::telegram::{Mode, Telegram};
use crate::clock::{Clock, SystemClock};
use crate::crypto::Cipher;
use crate::store::Db;
use crate::store::audit::{self, Actor};

#[derive(Debug, Subcommand)]
pub enum ChannelCommand {
    /// The Telegram bot.
    #[command(subcommand)]
    Telegram(TelegramCommand),
}

#[derive(Debug, Subcommand)]
pub enum TelegramCommand {
    /// Store the bot token from @BotFather (encrypted) after Telegram accepts it; "-" reads it
    /// from standard input (keeps it out of the shell history).
    SetToken {
        token: String,
        /// How updates arrive: "polling" (no public address needed) or "webhook".
        #[arg(long, value_parser = ["polling", "webhook"])]
        mode: Option<String>,
    },
    /// Show the mode and check the stored token with Telegram.
    Status,
}

pub fn run(paths: &Paths, db: &Db, cmd: ChannelCommand) -> anyhow::Result<ExitCode> {
    let ChannelCommand::Telegram(cmd) = cmd;
    let config = app::load_config(paths)?;
    let cipher = Cipher::load_or_create(&paths.secret_key())?;
    let tg = Telegram::new(
        db.clone(),
        cipher,
        Arc::new(SystemClock),
        &config.telegram,
        &config.server.public_url,
        &paths.data_dir,
    )?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        match cmd {
            TelegramCommand::SetToken { token, mode } => {
                let token = if token == "-" {
                    let mut s = String::new();
                    std::io::stdin().read_line(&mut s)?;
                    s.trim().to_owned()
                } else {
                    token.trim().to_owned()
                };
                if token.is_empty() || !token.contains(':') {
                    bail!("that is not a bot token: the form is 123456:ABC-DEF… (from @BotFather)");
                }
                let plan = super::licence::open(paths, db)?.current();
                if let Err(refusal) = plan.admit_channel(crate::licence::plans::ChannelKind::Telegram) {
                    bail!("{refusal}");
                }
                let username = match tg.check_token(&token).await {
                    Ok(u) => Some(u),
                    Err(e) if e.contains("rejected") => bail!("{e}; nothing was stored"),
                    Err(e) => {
                        eprintln!("warning: could not reach Telegram to check the token ({e}); storing it anyway");
                        None
                    }
                };
                let mode = mode.as_deref().and_then(Mode::parse);
                tg.configure(Some(token), mode, None).await?;
                let now = SystemClock.now_ms();
                db.with_conn(|c| {
                    audit::record(
                        c,
                        &Actor::cli(),
                        "channel.telegram.update",
                        None,
                        serde_json::json!({"token": true, "mode": mode.map(Mode::as_str)}),
                        now,
                    )
                })?;
                match username {
                    Some(u) => println!("stored the token of @{u} (encrypted); mode: {}", tg.mode().await.as_str()),
                    None => println!("stored the token (encrypted); mode: {}", tg.mode().await.as_str()),
                }
                println!("a running server picks it up within seconds");
                Ok(ExitCode::SUCCESS)
            }
            TelegramCommand::Status => {
                println!("mode: {}", tg.mode().await.as_str());
                println!("webhook URL: {}", tg.webhook_url());
                match tg.check().await {
                    Ok(u) => {
                        println!("bot: @{u} (token accepted)");
                        Ok(ExitCode::SUCCESS)
                    }
                    Err(e) => {
                        println!("bot: {e}");
                        Ok(ExitCode::FAILURE)
                    }
                }
            }
        }
    })
}
