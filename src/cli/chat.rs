//! `supportd chat` (a terminal conversation with the engine) and `supportd eval dialogs`.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;

use crate::app::{self, Paths};
use crate::clock::{SharedClock, SystemClock};
use crate::config::{AnswerMode, Config};
use crate::crypto::Cipher;
use crate::engine::{self, Engine, Inbound};
use crate::store::Db;

#[derive(Debug, Args)]
pub struct ChatArgs {
    /// Talk to the demo shop (its knowledge base and orders in a temporary directory) even if
    /// this data directory has a knowledge base of its own. Without articles here, the demo
    /// shop is used anyway.
    #[arg(long)]
    pub demo: bool,
    /// Quote the knowledge base instead of letting the model write answers.
    #[arg(long)]
    pub extractive: bool,
}

#[derive(Debug, Args)]
pub struct DialogArgs {
    #[command(flatten)]
    pub set: super::kb::EvalSet,
    /// Let the configured model chain write knowledge answers (default: quote the knowledge
    /// base, which needs no model and gives reproducible figures).
    #[arg(long)]
    pub with_model: bool,
    /// Read messages with the hashed classifier alone, as the server does until the sentence
    /// model is ready (default: with the sentence part when the embedding model is installed).
    #[arg(long)]
    pub hashed_nlu: bool,
}

/// How an engine built for the command line reads and answers.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reading {
    /// Let the configured model chain write knowledge answers.
    pub model: bool,
    /// Read messages with the sentence part when the embedding model is installed.
    pub sentence_nlu: bool,
}

/// An engine over `db` and the data directory's models.
pub(super) async fn build(
    config: &Config,
    paths: &Paths,
    db: Db,
    kb: crate::kb::Kb,
    reading: Reading,
    clock: SharedClock,
    cipher: Cipher,
) -> anyhow::Result<Engine> {
    let Reading { model: use_model, sentence_nlu } = reading;
    let mut config = config.clone();
    config.engine.answers = if use_model { AnswerMode::Auto } else { AnswerMode::Extractive };
    if !use_model {
        config.llm.chain.clear();
    }
    let (llm, local) = crate::llm::setup(&config, &paths.data_dir, db.clone(), cipher.clone(), clock.clone());
    if config.llm.chain.contains(&crate::config::LlmProvider::Local) {
        eprintln!("loading the local model …");
        while local.status() == "loading" {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        eprintln!("local model: {}", local.status());
    }
    let orders = crate::marketplace::setup(&config, db.clone(), cipher, clock.clone());
    let embedder = kb.shared_embedder();
    let engine = Engine::new(db, clock, Arc::new(kb), llm, Arc::new(orders), engine::Settings::from_config(&config));
    // As the server does, but before the first message: every turn is read the same way.
    if let Some(embedder) = embedder.filter(|_| sentence_nlu) {
        let (live, cache) = (engine.nlu().clone(), crate::paths::nlu_cache(&paths.data_dir));
        tokio::task::spawn_blocking(move || crate::nlu::sentence::install(&live, embedder, &cache)).await?;
    }
    Ok(engine)
}

/// The demo shop in a temporary directory: its knowledge base (with the data directory's
/// embedding model when installed) and its orders in the order cache.
pub(super) fn demo_store(
    paths: &Paths,
    dir: &tempfile::TempDir,
    clock: &SharedClock,
) -> anyhow::Result<(Db, crate::kb::Kb)> {
    let now = clock.now_ms();
    let db = Db::open(&dir.path().join("demo.db"), 2, now)?;
    let report = crate::kb::import::apply(&db, crate::kb::import::demo(), None, "demo", now);
    if let Some(e) = report.errors.first() {
        anyhow::bail!("the demo shop did not load completely: {e:?}");
    }
    db.with_conn(|c| {
        crate::marketplace::demo::load(c, now).map_err(|e| crate::store::StoreError::Conflict(e.to_string()))
    })?;
    let model = paths.embedding_model();
    let embedder = if model.exists() { Some(Arc::new(crate::kb::embed::Embedder::load(&model)?)) } else { None };
    let kb = crate::kb::Kb::open_with(db.clone(), &crate::paths::kb_index(dir.path()), clock.clone(), embedder, model)?;
    Ok((db, kb))
}

pub fn chat(paths: &Paths, args: ChatArgs) -> anyhow::Result<ExitCode> {
    let config = app::load_config(paths)?;
    let clock: SharedClock = Arc::new(SystemClock);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let tmp = tempfile::tempdir()?;
        let own = if !args.demo && paths.db().exists() {
            let db = Db::open(&paths.db(), 2, clock.now_ms())?;
            let articles = db.with_conn(|c| crate::store::kb::count_articles(c))?;
            if articles > 0 { Some(db) } else { None }
        } else {
            None
        };
        let (db, kb, label, cipher) = match own {
            Some(db) => {
                let kb = crate::kb::Kb::open(db.clone(), &paths.data_dir, clock.clone())?;
                let cipher = Cipher::load_or_create(&paths.secret_key())?;
                (db, kb, format!("the shop in {}", paths.data_dir.display()), cipher)
            }
            None => {
                let (db, kb) = demo_store(paths, &tmp, &clock)?;
                let cipher = Cipher::load_or_create(&crate::paths::secret_key(tmp.path()))?;
                (db, kb, "the demo shop (try an order number such as 4102938475 or 57195475-0050-3)".to_owned(), cipher)
            }
        };
        let engine = build(
            &config,
            paths,
            db.clone(),
            kb,
            Reading { model: !args.extractive, sentence_nlu: true },
            clock.clone(),
            cipher,
        )
        .await?;
        let interactive = std::io::stdin().is_terminal();
        if interactive {
            println!("{}", crate::texts::chat::banner(&label));
        }
        let customer = format!("terminal-{}", std::process::id());
        let stdin = std::io::stdin();
        let mut n = 0;
        loop {
            if interactive {
                print!("{}", crate::texts::chat::YOU);
                std::io::stdout().flush()?;
            }
            let mut line = String::new();
            if stdin.lock().read_line(&mut line)? == 0 || (interactive && line.trim().is_empty()) {
                break;
            }
            if line.trim().is_empty() {
                continue;
            }
            n += 1;
            let turn = engine
                .handle(&Inbound {
                    channel: crate::channels::ChannelName::Cli,
                    message_id: format!("{customer}:{n}"),
                    customer: customer.clone(),
                    name: String::new(),
                    text: line.trim().to_owned(),
                    attachments: Vec::new(),
                    verified_phone: None,
                    from_seller: false,
                })
                .await?;
            let p = &turn.provenance;
            match &turn.reply {
                Some(r) => println!("{}{r}", crate::texts::chat::BOT),
                None => println!("{}{}", crate::texts::chat::BOT, crate::texts::chat::SILENT),
            }
            let sources: Vec<String> = p.sources.iter().map(|s| format!("{} «{}»", s.doc, s.title)).collect();
            let orders: Vec<&str> = p.orders.iter().map(|o| o.number.as_str()).collect();
            let model = p
                .model
                .as_ref()
                .and_then(|m| m.call.as_ref())
                .map(|c| format!(" · model {}", c.provider))
                .unwrap_or_default();
            let u = p.understood.as_ref().map(|u| &u.analysis);
            println!(
                "     [{} · intent {} {:.2} · sentiment {}{}{}{} · {} ms]",
                turn.action.as_str(),
                u.map_or("-", |u| u.intent.as_str()),
                u.map_or(0.0, |u| u.confidence),
                u.map_or("-", |u| u.sentiment.as_str()),
                if sources.is_empty() { String::new() } else { format!(" · sources {}", sources.join(", ")) },
                if orders.is_empty() { String::new() } else { format!(" · orders {}", orders.join(", ")) },
                model,
                p.latency_ms.unwrap_or(0),
            );
            // The terminal is this conversation's channel: its replies are delivered here.
            let now = clock.now_ms();
            db.with_conn(|c| {
                for item in crate::store::messaging::outbox_claim(c, "cli", 100, now)? {
                    crate::store::messaging::outbox_sent(c, item.id, None, now)?;
                }
                Ok(())
            })?;
        }
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

pub fn eval_dialogs(paths: &Paths, args: DialogArgs) -> anyhow::Result<ExitCode> {
    let config = app::load_config(paths)?;
    let super::kb::EvalSet { data, json, misses } = &args.set;
    let text = match data {
        Some(p) => std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
        None => engine::eval::DIALOGS.to_owned(),
    };
    let dialogs = engine::eval::parse(&text).map_err(anyhow::Error::msg)?;
    anyhow::ensure!(!dialogs.is_empty(), "no dialogs to run");
    let clock: SharedClock = Arc::new(SystemClock);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let tmp = tempfile::tempdir()?;
        let (db, kb) = demo_store(paths, &tmp, &clock)?;
        let has_embedder = kb.embedder().is_some();
        let mode = if has_embedder { "hybrid" } else { "bm25 (no embedding model installed)" };
        let cipher = Cipher::load_or_create(&crate::paths::secret_key(tmp.path()))?;
        let engine = build(
            &config,
            paths,
            db.clone(),
            kb,
            Reading { model: args.with_model, sentence_nlu: !args.hashed_nlu },
            clock,
            cipher,
        )
        .await?;
        let r = engine::eval::run(&engine, &db, &dialogs).await?;
        println!(
            "dialogs: {} ({} turns), retrieval {mode}, messages read by the {} classifier, answers {}",
            r.n,
            r.turns,
            if args.hashed_nlu || !has_embedder { "hashed" } else { "hashed + sentence" },
            if args.with_model { "phrased by the model chain" } else { "composed from the knowledge base" }
        );
        println!("automation rate   {:.3}  (dialogs finished without a person)", r.automation_rate);
        println!("outcome accuracy  {:.3}  (handed over exactly when the script says)", r.outcome_accuracy);
        println!("dialogs passed    {:.3}  (every turn as expected)", r.pass_rate);
        println!("turn accuracy     {:.3}", r.turn_accuracy);
        println!("violations        {}", r.violations);
        println!("p95 turn latency  {} ms", r.p95_turn_ms);
        if args.with_model {
            let m = &r.model;
            println!(
                "model answers     {} written, {} changed by the guard, {} rejected, {} failed {:?}",
                m.written, m.guard_changed, m.guard_rejected, m.failed, m.reasons
            );
        }
        for v in &r.violation_list {
            println!("  violation {} in {} turn {}: {}", v.problem, v.dialog, v.turn + 1, v.reply.replace('\n', " "));
        }
        if *misses {
            for f in &r.failures {
                println!("  miss {} turn {}: {} — {}", f.dialog, f.turn + 1, f.problem, f.reply.replace('\n', " "));
            }
        }
        if *json {
            let mut v = serde_json::to_value(&r)?;
            if !*misses {
                v.as_object_mut().map(|o| o.remove("failures"));
            }
            println!("{v}");
        }
        anyhow::Ok(ExitCode::SUCCESS)
    })
}
