//! `supportd model …`, `supportd usage`, `supportd llm …`: installing and checking models,
//! the month's model spend, provider keys, and one question to the chain from the shell.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::Subcommand;

use crate::app::{self, Paths};
use crate::clock::{Clock, SystemClock};
use crate::crypto::Cipher;
use crate::llm::catalog;
use crate::llm::chain::{self, CallOptions};
use crate::llm::{ChatMessage, GenerateRequest, StreamEvent, TokenSink};
use crate::store::{Db, audit, credentials};

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Show the models this build knows, which are installed, and their checksums.
    List,
    /// Fetch a model, verifying its SHA-256 (default: the configured chat model, else
    /// qwen2.5-coder-1.5b, and the knowledge base's embedding model e5-small).
    Pull {
        /// A catalogue id (see `model list`).
        id: Option<String>,
    },
    /// Check an installed model's size and SHA-256 (default: the configured model).
    Verify {
        /// A catalogue id or a path to a GGUF file.
        model: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum LlmCommand {
    /// Store a cloud provider's key (read from standard input), encrypted at rest.
    SetKey {
        /// "openai" or "yandexgpt".
        provider: String,
    },
    /// Ask the configured provider chain one question and stream the answer.
    Ask {
        question: String,
        /// System prompt [default: the shop assistant's].
        #[arg(long)]
        system: Option<String>,
        /// Longest answer in tokens.
        #[arg(long, default_value_t = 200)]
        max_tokens: usize,
    },
}

pub fn model(paths: &Paths, cmd: ModelCommand) -> anyhow::Result<ExitCode> {
    let config = app::load_config(paths)?;
    let configured = config.model_path(&paths.data_dir);
    let dir = paths.models();
    match cmd {
        ModelCommand::List => {
            println!("configured: {}", configured.display());
            for m in catalog::all() {
                let path = dir.join(m.file);
                let state = if !path.exists() {
                    "not installed".to_owned()
                } else {
                    match catalog::verify(m, &path) {
                        Ok(()) => "installed, checksum verified".to_owned(),
                        Err(e) => format!("installed but DAMAGED ({e:#}): run `supportd model pull {}`", m.id),
                    }
                };
                let mark = if path == configured { " (configured)" } else { "" };
                println!(
                    "\n{}{mark}: {}\n  file {} ({} MB), {state}\n  sha256 {}",
                    m.id,
                    m.description,
                    m.file,
                    m.size / 1_000_000,
                    m.sha256
                );
            }
            let others: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
                .unwrap_or_default();
            for p in
                others.iter().filter(|p| p.extension().is_some_and(|e| e == "gguf") && catalog::for_path(p).is_none())
            {
                let (sha, size) = catalog::sha256_file(p)?;
                println!("\nother: {} ({} MB)\n  sha256 {sha}", p.display(), size / 1_000_000);
            }
            Ok(ExitCode::SUCCESS)
        }
        ModelCommand::Pull { id } => {
            let models = match &id {
                Some(id) => vec![
                    catalog::find(id)
                        .with_context(|| format!("no model {id:?} in the catalogue (see `supportd model list`)"))?,
                ],
                None => vec![
                    catalog::for_path(&configured)
                        .filter(|m| !catalog::is_embeddings(m))
                        .or_else(|| catalog::find("qwen2.5-coder-1.5b"))
                        .context("empty catalogue")?,
                    &catalog::EMBEDDINGS,
                ],
            };
            for model in models {
                let path = catalog::pull(model, &dir, &mut |line| eprintln!("{line}"))?;
                if catalog::is_embeddings(model) {
                    println!("{} is installed (knowledge-base search by meaning after a restart)", path.display());
                } else if path != configured {
                    println!(
                        "{} is installed; to use it set llm.local.model = \"models/{}\"",
                        path.display(),
                        model.file
                    );
                } else {
                    println!("{} is installed and configured", path.display());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ModelCommand::Verify { model } => {
            let (path, entry) = match &model {
                Some(m) => match catalog::find(m) {
                    Some(e) => (dir.join(e.file), Some(e)),
                    None => {
                        let p = PathBuf::from(m);
                        let e = catalog::for_path(&p);
                        (p, e)
                    }
                },
                None => (configured.clone(), catalog::for_path(&configured)),
            };
            if !path.exists() {
                bail!("no model at {} (install it with `supportd model pull`)", path.display());
            }
            match entry {
                Some(e) => {
                    catalog::verify(e, &path)?;
                    println!("{}: OK ({}, sha256 {})", path.display(), e.id, e.sha256);
                }
                None => {
                    let (sha, size) = catalog::sha256_file(&path)?;
                    println!("{}: not in the catalogue; {size} bytes, sha256 {sha}", path.display());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub fn usage(paths: &Paths, db: &Db, month: Option<String>, json: bool) -> anyhow::Result<ExitCode> {
    let config = app::load_config(paths)?;
    let month = match month {
        Some(m) if crate::store::llm::valid_month(&m) => m,
        Some(m) => bail!("{m:?} is not a month like 2026-11"),
        None => crate::store::llm::month_of(SystemClock.now_ms()),
    };
    let budgets = chain::budgets(&config);
    let report = db.with_conn(|c| chain::usage_report(c, &month, &budgets, config.llm.budget_warn_percent))?;
    let plan = super::licence::open(paths, db)?.current();
    let now = SystemClock.now_ms();
    let statement = db.with_conn(|c| crate::licence::statement::build(c, &month, &plan, now))?;
    if json {
        let mut out = serde_json::to_value(&report)?;
        out["statement"] = serde_json::to_value(&statement)?;
        println!("{out}");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "model usage in {}: {} calls ({} from the cache), {:.2} ₽",
        report.month, report.calls, report.cache_hits, report.total_cost_rub
    );
    for p in &report.providers {
        let budget = if p.monthly_budget_rub > 0.0 {
            format!(
                " of {:.2} ₽ ({:.1}%){}",
                p.monthly_budget_rub,
                p.used_percent.unwrap_or(0.0),
                if p.capped {
                    " — budget spent, skipped until next month"
                } else if p.warning {
                    " — nearly spent"
                } else {
                    ""
                }
            )
        } else {
            String::new()
        };
        println!("  {}: {:.4} ₽{budget}", p.provider, p.spent_rub);
        for m in &p.models {
            println!(
                "    {}: {} calls, {} errors, {} cached; {} prompt + {} answer tokens; {:.0} ms average",
                m.model, m.calls, m.errors, m.cache_hits, m.prompt_tokens, m.completion_tokens, m.avg_latency_ms
            );
        }
    }
    let s = &statement;
    println!(
        "statement for {} (plan {}): {} conversations; messages: {} from buyers, {} by the bot, {} by people, {} service",
        s.month, s.plan.plan, s.conversations, s.messages.buyers, s.messages.bot, s.messages.people, s.messages.system
    );
    let ops: Vec<String> = s.operators.iter().map(|o| format!("{} ({})", o.email, o.replies)).collect();
    println!(
        "  active operators: {}{}",
        s.active_operators,
        if ops.is_empty() { String::new() } else { format!(": {}", ops.join(", ")) }
    );
    for c in &s.channels {
        println!("  {}: {} conversations, {} buyer messages", c.channel, c.conversations, c.buyer_messages);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn llm(paths: &Paths, db: &Db, cmd: LlmCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        LlmCommand::SetKey { provider } => {
            let name = match provider.as_str() {
                "openai" => "openai.api_key",
                "yandexgpt" => "yandexgpt.api_key",
                other => bail!("{other:?} is not a cloud provider (openai or yandexgpt)"),
            };
            if let Err(refusal) = super::licence::open(paths, db)?.current().allows_cloud() {
                bail!("{refusal}");
            }
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                eprintln!("paste the key and press Enter:");
            }
            let mut text = String::new();
            stdin.lock().take(8192).read_to_string(&mut text).context("cannot read the key")?;
            let key = text.lines().next().unwrap_or("").trim().to_owned();
            if key.is_empty() {
                bail!("no key on standard input");
            }
            let cipher = Cipher::load_or_create(&paths.secret_key())?;
            let now = SystemClock.now_ms();
            db.with_conn(|c| {
                credentials::put(c, &cipher, name, &key, None, now)?;
                audit::record(
                    c,
                    &audit::Actor::system(),
                    "credential.set",
                    Some(name),
                    serde_json::json!({"via": "cli"}),
                    now,
                )
            })?;
            println!("stored {name} (encrypted); a running server uses it from the next request");
            Ok(ExitCode::SUCCESS)
        }
        LlmCommand::Ask { question, system, max_tokens } => {
            let config = app::load_config(paths)?;
            let cipher = Cipher::load_or_create(&paths.secret_key())?;
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(async {
                let (llm, local) = crate::llm::setup(&config, &paths.data_dir, db.clone(), cipher, Arc::new(SystemClock));
                llm.set_gate(crate::licence::gate::models(Arc::new(super::licence::open(paths, db)?)));
                if config.llm.chain.contains(&crate::config::LlmProvider::Local) {
                    eprintln!("loading the local model …");
                    while local.status() == "loading" {
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                    eprintln!("local model: {}", local.status());
                }
                let mut req = GenerateRequest::new(vec![
                    ChatMessage::system(system.unwrap_or_else(|| crate::texts::ASSISTANT_SYSTEM_PROMPT.to_owned())),
                    ChatMessage::user(question),
                ]);
                req.max_tokens = max_tokens;
                let (sink, mut rx) = TokenSink::new();
                let printer = tokio::spawn(async move {
                    use std::io::Write;
                    while let Some(ev) = rx.recv().await {
                        match ev {
                            StreamEvent::Text(t) => print!("{t}"),
                            StreamEvent::Reset => print!("\n[another provider takes over]\n"),
                        }
                        let _ = std::io::stdout().flush();
                    }
                });
                let result = llm.generate(&req, &sink, &CallOptions { cache: false, conversation_id: None }).await;
                drop(sink);
                let _ = printer.await;
                println!();
                let c = result?;
                eprintln!(
                    "[{} / {}: {} prompt tokens ({} cached), {} answer tokens, first token {} ms, total {} ms, {:.4} ₽]",
                    c.provider, c.model, c.prompt_tokens, c.cached_prompt_tokens, c.completion_tokens, c.ttft_ms, c.latency_ms, c.cost_rub
                );
                anyhow::Ok(ExitCode::SUCCESS)
            })
        }
    }
}
