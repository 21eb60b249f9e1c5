//! The command line. Each command is a thin call into the library; errors print one clear
//! message to stderr and exit non-zero.

mod backup;
mod bench_answers;
mod channel;
mod chat;
mod doctor;
mod kb;
mod licence;
mod llm;
mod market;
mod privacy;
mod report;

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};

use crate::accounts::{self, Changes};
use crate::app::{self, App, Paths};
use crate::clock::{Clock, SystemClock};
use crate::config::LogFormat;
use crate::crypto;
use crate::domain::{Email, Role, check_password_policy};
use crate::store::audit::Actor;
use crate::store::{Db, users};

#[derive(Debug, Parser)]
#[command(
    name = "supportd",
    version,
    about = "Self-hosted AI customer support for Wildberries and Ozon sellers",
    long_about = "supportd answers buyers around the clock from your shop's knowledge base and live \
                  marketplace data, and hands hard cases to people in a web inbox.\n\n\
                  With no command it runs `serve`: on a fresh data directory it creates everything and \
                  prints the first admin's password."
)]
pub struct Cli {
    /// Data directory (database, secret key, models, config).
    #[arg(long, global = true, env = "SUPPORTD_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Config file [default: DATA_DIR/config.toml].
    #[arg(long, global = true, env = "SUPPORTD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log format (overrides log.format).
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: API, operator panel, channels and background jobs (the default).
    Serve(ServeArgs),
    /// Create the data directory, config file, secret key, database and the first admin.
    Init(InitArgs),
    /// Manage panel accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Write a consistent copy of the database to FILE (safe while the server runs); without
    /// FILE, a checked copy in backup.dir like the scheduled ones (with the secret key, or
    /// encrypted with backup.passphrase), rotated to backup.keep.
    Backup {
        /// Where to write the backup [default: a scheduled-style copy in backup.dir].
        file: Option<PathBuf>,
        /// Overwrite FILE if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Replace the database with the backup FILE (the current one is kept beside it); a
    /// scheduled copy brings its secret key back too. Encrypted copies need the passphrase
    /// (SUPPORTD_BACKUP_PASSPHRASE, backup.passphrase, or --passphrase-stdin).
    Restore {
        /// A file written by `supportd backup` or the schedule (.db or .sdbk).
        file: PathBuf,
        /// Read the passphrase of an encrypted copy from standard input.
        #[arg(long)]
        passphrase_stdin: bool,
    },
    /// A buyer's personal data: find them, export everything stored, erase it.
    #[command(subcommand)]
    Privacy(privacy::PrivacyCommand),
    /// Check the installation and print what is wrong and how to fix it.
    Doctor,
    /// Manage the knowledge base: import, export, search, reindex.
    #[command(subcommand)]
    Kb(kb::KbCommand),
    /// Measure quality against a labelled data set.
    #[command(subcommand)]
    Eval(kb::EvalCommand),
    /// Measure speed and memory.
    #[command(subcommand)]
    Bench(kb::BenchCommand),
    /// Install and check local language models.
    #[command(subcommand)]
    Model(llm::ModelCommand),
    /// Cloud model keys, and one question to the model chain.
    #[command(subcommand)]
    Llm(llm::LlmCommand),
    /// Messenger channels: the Telegram bot token and mode.
    #[command(subcommand)]
    Channel(channel::ChannelCommand),
    /// Copy orders from Wildberries and Ozon into the cache now (the server also does it every
    /// 15 minutes, and fully each night).
    Sync(market::SyncArgs),
    /// Look up orders.
    #[command(subcommand)]
    Orders(market::OrdersCommand),
    /// Talk to the assistant in the terminal: each reply with its intent, confidence, sources
    /// and orders (the demo shop unless this data directory has a knowledge base).
    Chat(chat::ChatArgs),
    /// The licence and plan: show it, install one; vendor tools to make keys and sign licences.
    #[command(subcommand)]
    Licence(licence::LicenceCommand),
    /// Analytics of a period from this data directory: the summary against the previous period,
    /// and the PDF report and CSV tables on request (exports follow the plan).
    Report(report::ReportArgs),
    /// The month's language-model calls, tokens and cost by provider, and the usage statement
    /// (conversations, messages by the bot and by people, active operators, channels).
    Usage {
        /// "YYYY-MM" [default: this month].
        #[arg(long)]
        month: Option<String>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// Address to listen on (overrides server.listen).
    #[arg(long, env = "SUPPORTD_LISTEN", value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Login of the first admin.
    #[arg(long, default_value = "admin@localhost", value_name = "EMAIL")]
    pub admin_email: String,
    /// Also load the demo shop (a clothing brand on WB and Ozon: help articles and products).
    #[arg(long)]
    pub demo: bool,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add an account. The password is read from standard input when it is not a terminal;
    /// otherwise one is generated and printed.
    Add {
        email: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Display name.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List accounts.
    List,
    /// Set a new password (from standard input, or generated) and sign the account out everywhere.
    Passwd { email: String },
    /// Change an account's role.
    Role {
        email: String,
        #[arg(value_parser = parse_role)]
        role: Role,
    },
    /// Disable an account and sign it out everywhere.
    Disable { email: String },
    /// Enable a disabled account.
    Enable { email: String },
    /// Print a one-time password-reset link for an account.
    ResetLink { email: String },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let paths = Paths::resolve(cli.data_dir.clone(), cli.config.clone())?;
    let now = SystemClock.now_ms();
    match cli.command {
        None => serve(&paths, &ServeArgs::default(), cli.log_format),
        Some(Command::Serve(args)) => serve(&paths, &args, cli.log_format),
        Some(Command::Init(args)) => {
            let email = Email::parse(&args.admin_email).map_err(anyhow::Error::msg)?;
            let out = app::initialize(&paths, &email, now)?;
            report_init(&paths, &out);
            if args.demo {
                let db = open_db(&paths, now)?;
                let report = crate::kb::import::apply(&db, crate::kb::import::demo(), None, "demo", now);
                kb::open(&paths, &db)?;
                let orders = db.with_conn(|c| {
                    crate::marketplace::demo::load(c, now)
                        .map_err(|e| crate::store::StoreError::Conflict(e.to_string()))
                })?;
                print!("demo shop: ");
                kb::print_report(&report);
                println!("demo orders: {orders} in the order cache (e.g. 4102938475 on WB, 57195475-0050-3 on Ozon)");
                if !report.errors.is_empty() {
                    bail!("the demo shop did not load completely");
                }
            } else if out.admin.is_none() && !out.created_config {
                println!("supportd is already initialized in {}; nothing to do.", paths.data_dir.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::User(cmd)) => {
            let db = open_db(&paths, now)?;
            user_command(&db, &paths, cmd, now)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Backup { file, force }) => {
            let db = open_db(&paths, now)?;
            backup::backup(&paths, &db, file, force, now)
        }
        Some(Command::Restore { file, passphrase_stdin }) => {
            if !file.is_file() {
                bail!("{} does not exist", file.display());
            }
            let db = open_db(&paths, now)?;
            backup::restore(&paths, &db, &file, passphrase_stdin, now)
        }
        Some(Command::Privacy(cmd)) => {
            let db = open_db(&paths, now)?;
            privacy::run(&paths, &db, cmd, now)
        }
        Some(Command::Doctor) => Ok(doctor::run(&paths)),
        Some(Command::Kb(cmd)) => {
            let db = open_db(&paths, now)?;
            kb::run(&paths, &db, cmd)
        }
        Some(Command::Bench(cmd)) => kb::bench(&paths, cmd),
        Some(Command::Eval(kb::EvalCommand::Nlu { set, cross_validate, sentence })) => {
            kb::eval_nlu(&paths, set, cross_validate, sentence)
        }
        Some(Command::Eval(kb::EvalCommand::Dialogs(args))) => chat::eval_dialogs(&paths, args),
        Some(Command::Chat(args)) => chat::chat(&paths, args),
        Some(Command::Sync(args)) => {
            let db = open_db(&paths, now)?;
            market::sync(&paths, &db, args)
        }
        Some(Command::Orders(cmd)) => {
            let db = open_db(&paths, now)?;
            market::orders(&paths, &db, cmd)
        }
        Some(Command::Channel(cmd)) => {
            let db = open_db(&paths, now)?;
            channel::run(&paths, &db, cmd)
        }
        Some(Command::Eval(cmd)) => {
            let db = open_db(&paths, now)?;
            kb::eval(&paths, &db, cmd)
        }
        Some(Command::Model(cmd)) => llm::model(&paths, cmd),
        Some(Command::Llm(cmd)) => {
            let db = open_db(&paths, now)?;
            llm::llm(&paths, &db, cmd)
        }
        Some(Command::Licence(cmd)) => licence::run(&paths, cmd),
        Some(Command::Report(args)) => report::run(&paths, &args, now),
        Some(Command::Usage { month, json }) => {
            let db = open_db(&paths, now)?;
            llm::usage(&paths, &db, month, json)
        }
    }
}

fn restrict(path: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
}

fn open_db(paths: &Paths, now: i64) -> anyhow::Result<Db> {
    if !paths.db().exists() {
        bail!("no database in {}: run `supportd init` first", paths.data_dir.display());
    }
    app::load_config(paths)?;
    Ok(Db::open(&paths.db(), 1, now)?)
}

fn report_init(paths: &Paths, out: &app::InitOutcome) {
    if out.created_data_dir {
        println!("created the data directory {}", paths.data_dir.display());
    }
    if out.created_config {
        println!("wrote the config file {}", paths.config_file.display());
    }
    if let Some((email, password)) = &out.admin {
        println!();
        println!("  First admin account (shown once, write it down):");
        println!("    login:    {email}");
        println!("    password: {password}");
        println!();
    }
}

fn serve(paths: &Paths, args: &ServeArgs, log_format: Option<LogFormat>) -> anyhow::Result<ExitCode> {
    let email = Email::parse("admin@localhost").map_err(anyhow::Error::msg)?;
    let out = app::initialize(paths, &email, SystemClock.now_ms())?;
    report_init(paths, &out);
    let mut config = app::load_config(paths)?;
    if let Some(listen) = args.listen {
        config.server.listen = listen;
    }
    crate::telemetry::init(log_format.unwrap_or(config.log.format), &config.log.level);
    let config_tls = config.server.tls != crate::config::TlsMode::Off;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the runtime")?;
    runtime.block_on(async {
        let app = App::build(config, paths.clone(), Arc::new(SystemClock)).await?;
        let addr = app.local_addr()?;
        let scheme = if config_tls { "https" } else { "http" };
        println!("supportd listening on {scheme}://{addr}");
        if let Some(plain) = app.redirect_addr() {
            println!("plain HTTP on {plain} redirects to HTTPS");
        }
        tracing::info!(%addr, data_dir = %paths.data_dir.display(), "supportd started");
        app.run(app::shutdown_signal()).await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The new password: from standard input when piped (first line), else generated and printed.
fn read_or_generate_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let p = crypto::generate_password()?;
        println!("generated password (shown once): {p}");
        return Ok(p);
    }
    let mut text = String::new();
    stdin.lock().take(4096).read_to_string(&mut text).context("cannot read the password from standard input")?;
    let password = text.lines().next().unwrap_or("").to_owned();
    check_password_policy(&password).map_err(anyhow::Error::msg)?;
    Ok(password)
}

fn find_user(db: &Db, email: &str) -> anyhow::Result<users::User> {
    let email = Email::parse(email).map_err(anyhow::Error::msg)?;
    db.with_conn(|c| users::find_by_email(c, &email))?.with_context(|| format!("no user with e-mail {email}"))
}

fn user_command(db: &Db, paths: &Paths, cmd: UserCommand, now: i64) -> anyhow::Result<()> {
    let actor = Actor::cli();
    let plan = licence::open(paths, db)?.current();
    let plan = Some(&plan);
    match cmd {
        UserCommand::Add { email, role, name } => {
            let email = Email::parse(&email).map_err(anyhow::Error::msg)?;
            let password = read_or_generate_password()?;
            let hash = crypto::hash_password(&password)?;
            let user =
                db.with_conn(|c| accounts::create_user(c, &actor, &email, name.trim(), role, &hash, plan, now))?;
            println!("added {} ({}) with id {}", user.email, user.role, user.id);
        }
        UserCommand::List => {
            let all = db.with_conn(|c| users::list(c))?;
            println!("{:<5} {:<32} {:<9} {:<9} LAST LOGIN", "ID", "EMAIL", "ROLE", "STATUS");
            for u in all {
                let status = if u.disabled { "disabled" } else { "active" };
                let last = u.last_login_at.map_or_else(|| "never".to_owned(), crate::clock::rfc3339);
                println!("{:<5} {:<32} {:<9} {:<9} {}", u.id, u.email, u.role, status, last);
            }
        }
        UserCommand::Passwd { email } => {
            let user = find_user(db, &email)?;
            let password = read_or_generate_password()?;
            let hash = crypto::hash_password(&password)?;
            db.with_conn(|c| accounts::set_password(c, &actor, user.id, &hash, None, now))?;
            println!("password changed for {}; all its sessions were signed out", user.email);
        }
        UserCommand::Role { email, role } => {
            let user = find_user(db, &email)?;
            let changes = Changes { role: Some(role), ..Changes::default() };
            let user = db.with_conn(|c| accounts::update_user(c, &actor, user.id, &changes, plan, now))?;
            println!("{} is now {}", user.email, user.role);
        }
        UserCommand::Disable { email } => {
            let user = find_user(db, &email)?;
            let changes = Changes { disabled: Some(true), ..Changes::default() };
            db.with_conn(|c| accounts::update_user(c, &actor, user.id, &changes, plan, now))?;
            println!("{} is disabled and signed out everywhere", user.email);
        }
        UserCommand::Enable { email } => {
            let user = find_user(db, &email)?;
            let changes = Changes { disabled: Some(false), ..Changes::default() };
            db.with_conn(|c| accounts::update_user(c, &actor, user.id, &changes, plan, now))?;
            println!("{} is enabled", user.email);
        }
        UserCommand::ResetLink { email } => {
            let user = find_user(db, &email)?;
            let config = app::load_config(paths)?;
            let ttl_ms = i64::try_from(config.auth.reset_token_ttl_minutes).unwrap_or(60) * 60_000;
            let link =
                db.with_conn(|c| accounts::issue_reset(c, &actor, &user, &config.server.public_url, ttl_ms, now))?;
            println!("{}", link.url);
            eprintln!("one-time link for {}, valid until {}", user.email, crate::clock::rfc3339(link.expires_at));
        }
    }
    Ok(())
}
