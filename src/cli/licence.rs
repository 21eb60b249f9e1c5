//! `supportd licence …`: the plan in force, installing a licence, and the vendor's tools
//! (a key pair, signing a licence). Nothing here goes to the network.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};

use crate::app::{self, Paths};
use crate::clock::{Clock, Millis, SystemClock, rfc3339};
use crate::crypto::{self, Cipher};
use crate::licence::plans::{self, ChannelKind, Limits, ModelAccess, Seats};
use crate::licence::token::{self, Licence, SigningKey};
use crate::licence::{DAY_MS, InstallError, LicenceView, Licensing};
use crate::store::Db;
use crate::store::audit::Actor;
use crate::texts::licence as texts;

#[derive(Debug, Subcommand)]
pub enum LicenceCommand {
    /// The plan in force: status (trial, active, grace, expired, free), limits, valid until.
    Show {
        /// Print one JSON object: {"plan", "valid_until", "limits", "status", …}.
        #[arg(long)]
        json: bool,
    },
    /// Verify a licence offline (the vendor's signature, its dates) and install it; a running
    /// server applies it within 10 seconds, without a restart.
    Install {
        /// A licence file, the SUPPORTD-LIC.… token itself, or "-" to read standard input.
        licence: String,
    },
    /// Vendor tool: make an Ed25519 key pair for signing licences (DIR/vendor.key.pem, private;
    /// DIR/vendor.pub.pem, public). Keep the private key away from the product.
    Keygen {
        /// Directory for the two files (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
    /// Vendor tool: sign a licence with the private key (prints it, or writes a licence file).
    Issue(Box<IssueArgs>),
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    /// The private key (PEM, PKCS#8), from `licence keygen` or `openssl genpkey -algorithm ed25519`.
    #[arg(long, value_name = "PRIVATE.pem")]
    pub key: PathBuf,
    /// Who the licence is for (shown in the panel).
    #[arg(long)]
    pub customer: String,
    /// The plan; its limits are the defaults for the options below.
    #[arg(long, value_parser = issuable_plans())]
    pub plan: String,
    /// Licence id [default: LIC-YYYYMMDD-<random>].
    #[arg(long)]
    pub id: Option<String>,
    /// Valid for this many days from --issued.
    #[arg(long, conflicts_with = "valid_until", required_unless_present = "valid_until")]
    pub days: Option<u32>,
    /// Valid until this moment: YYYY-MM-DD (midnight UTC) or RFC 3339.
    #[arg(long, value_name = "DATE")]
    pub valid_until: Option<String>,
    /// Issue date: YYYY-MM-DD or RFC 3339 [default: now].
    #[arg(long, value_name = "DATE")]
    pub issued: Option<String>,
    /// Days the assistant keeps working after the end, with warnings.
    #[arg(long, default_value_t = 7)]
    pub grace_days: u32,
    /// Active admins and operators: a number or "unlimited" [default: the plan's].
    #[arg(long)]
    pub seats: Option<Seats>,
    /// Buyer channels, comma-separated: telegram, widget, api [default: the plan's].
    #[arg(long, value_delimiter = ',')]
    pub channels: Option<Vec<String>>,
    /// Marketplace accounts (0–2) [default: the plan's].
    #[arg(long)]
    pub marketplaces: Option<u32>,
    /// "local" or "cloud" [default: the plan's].
    #[arg(long, value_parser = ["local", "cloud"])]
    pub models: Option<String>,
    /// Analytics exports: true or false [default: the plan's].
    #[arg(long)]
    pub exports: Option<bool>,
    /// Write a licence file here instead of printing the token.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

fn issuable_plans() -> Vec<&'static str> {
    plans::PLANS.iter().filter(|p| p.issuable).map(|p| p.id).collect()
}

pub fn run(paths: &Paths, cmd: LicenceCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        LicenceCommand::Show { json } => show(paths, json),
        LicenceCommand::Install { licence } => install(paths, &licence),
        LicenceCommand::Keygen { out, force } => keygen(&out, force),
        LicenceCommand::Issue(args) => issue(&args),
    }
}

/// The installation's licensing (starting the trial on a fresh data directory).
pub fn open(paths: &Paths, db: &Db) -> anyhow::Result<Licensing> {
    let config = app::load_config(paths)?;
    let licensing = Licensing::open(db.clone(), Arc::new(SystemClock), &config)?;
    let cipher = Cipher::load_or_create(&paths.secret_key())?;
    let orders = crate::marketplace::setup(&config, db.clone(), cipher, Arc::new(SystemClock));
    licensing.set_marketplaces(orders.apis());
    Ok(licensing)
}

fn show(paths: &Paths, json: bool) -> anyhow::Result<ExitCode> {
    let db = super::open_db(paths, SystemClock.now_ms())?;
    let licensing = open(paths, &db)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let usage = runtime.block_on(licensing.usage())?;
    let v = licensing.view(Some(usage));
    if json {
        println!("{}", serde_json::to_string(&v)?);
    } else {
        print_view(&v);
    }
    Ok(ExitCode::SUCCESS)
}

fn status_word(v: &LicenceView) -> &'static str {
    match v.status {
        crate::licence::Status::Trial => "trial",
        crate::licence::Status::Active => "active",
        crate::licence::Status::Grace => "grace",
        crate::licence::Status::Expired => "expired",
        crate::licence::Status::Free => "free",
    }
}

fn print_view(v: &LicenceView) {
    println!("plan: {} ({}), status: {}", v.plan, v.plan_title, status_word(v));
    match (&v.licence, &v.valid_until) {
        (Some(l), Some(until)) => {
            println!("licence: {} for {}, issued {}, valid until {until}", l.id, l.customer, l.issued);
            if let Some(g) = &v.grace_until {
                println!("  then {} days of grace: automation pauses at {g}", l.grace_days);
            }
        }
        (None, Some(until)) => println!("trial: everything on until {until}, then the free tier"),
        _ => println!("no licence: the free tier (install one with `supportd licence install FILE`)"),
    }
    if !v.automation {
        println!("automation: PAUSED — buyer messages are stored and wait for operators; the bot does not answer");
    }
    let l = &v.limits;
    let seats = match l.seats {
        Seats::UpTo(n) => n.to_string(),
        Seats::Unlimited => "unlimited".into(),
    };
    let used = v.usage.as_ref().map(|u| format!(" ({} in use)", u.seats)).unwrap_or_default();
    let channels: Vec<&str> = l.channels.iter().map(|c| c.as_str()).collect();
    println!(
        "limits: seats {seats}{used}; channels {}; marketplaces {}; models {}; exports {}",
        channels.join(", "),
        l.marketplaces,
        l.models.as_str(),
        if l.exports { "yes" } else { "no" }
    );
    if let Some(u) = &v.usage
        && !u.marketplaces_connected.is_empty()
    {
        let names = |ms: &[crate::marketplace::Market]| ms.iter().map(|m| m.title()).collect::<Vec<_>>().join(", ");
        println!(
            "marketplaces with keys: {}; synced: {}",
            names(&u.marketplaces_connected),
            if u.marketplaces_synced.is_empty() { "none".into() } else { names(&u.marketplaces_synced) }
        );
    }
    if let Some(w) = &v.warning {
        println!("notice: {}", w.message);
    }
    println!("trusted key: {} ({:?})", v.trusted_key, v.key_source);
}

/// The licence text from `arg`: the token itself, standard input ("-") or a file.
fn read_licence(arg: &str) -> anyhow::Result<String> {
    let limit = 64 * 1024;
    if arg.trim_start().starts_with(&format!("{}.", token::PREFIX)) {
        return Ok(arg.to_owned());
    }
    let mut text = String::new();
    if arg == "-" {
        std::io::stdin().lock().take(limit).read_to_string(&mut text).context("cannot read standard input")?;
    } else {
        let path = Path::new(arg);
        if !path.is_file() {
            bail!("{arg} is neither a licence (SUPPORTD-LIC.…) nor a file");
        }
        std::fs::File::open(path)
            .and_then(|f| f.take(limit).read_to_string(&mut text))
            .with_context(|| format!("cannot read {arg}"))?;
    }
    Ok(text)
}

fn install(paths: &Paths, arg: &str) -> anyhow::Result<ExitCode> {
    let text = read_licence(arg)?;
    let db = super::open_db(paths, SystemClock.now_ms())?;
    let licensing = open(paths, &db)?;
    match licensing.install_blocking(&text, &Actor::cli()) {
        Ok(done) => {
            let l = &done.licence;
            let what = if done.already { "is already installed" } else { "installed" };
            println!(
                "licence {} {what}: plan {} ({}) for {}, valid until {}",
                l.id,
                l.plan,
                texts::plan_title(&l.plan),
                l.customer,
                rfc3339(l.valid_until)
            );
            if !done.already {
                println!("a running server applies it within 10 seconds, without a restart");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(InstallError::Store(e)) => Err(e.into()),
        Err(e) => {
            let reason = match &e {
                InstallError::Token(t) => t.reason(),
                _ => "older",
            };
            bail!("{e}\n{}", texts::install_refused(reason, ""))
        }
    }
}

fn keygen(dir: &Path, force: bool) -> anyhow::Result<ExitCode> {
    let (private, public) = (dir.join("vendor.key.pem"), dir.join("vendor.pub.pem"));
    for f in [&private, &public] {
        if f.exists() && !force {
            bail!("{} already exists; pass --force to overwrite it", f.display());
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let key = SigningKey::generate()?;
    let _ = std::fs::remove_file(&private);
    crypto::write_private_file(&private, key.to_pem().as_bytes())
        .with_context(|| format!("cannot write {}", private.display()))?;
    std::fs::write(&public, key.public_key().to_pem()).with_context(|| format!("cannot write {}", public.display()))?;
    let pk = key.public_key();
    println!("private key: {} (keep it safe; it signs licences and never ships)", private.display());
    println!("public key:  {}", public.display());
    println!("key id:      {}", pk.id());
    println!("base64:      {}", pk.to_base64());
    println!(
        "a build trusts it when src/licence/vendor_public_key.pem is this public key, or when built with \
         SUPPORTD_LICENCE_VENDOR_KEY={}",
        pk.to_base64()
    );
    Ok(ExitCode::SUCCESS)
}

/// YYYY-MM-DD (midnight UTC) or RFC 3339.
fn parse_date(s: &str) -> anyhow::Result<Millis> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Ok((t.unix_timestamp_nanos() / 1_000_000) as Millis);
    }
    let parts: Vec<&str> = s.split('-').collect();
    if let [y, m, d] = parts[..]
        && let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i32>(), m.parse::<u8>(), d.parse::<u8>())
        && let Ok(month) = time::Month::try_from(m)
        && let Ok(date) = time::Date::from_calendar_date(y, month, d)
    {
        return Ok(date.midnight().assume_utc().unix_timestamp() * 1000);
    }
    bail!("{s:?} is not a date like 2027-01-31 or 2027-01-31T12:00:00Z")
}

fn issue(a: &IssueArgs) -> anyhow::Result<ExitCode> {
    let pem = std::fs::read_to_string(&a.key).with_context(|| format!("cannot read the key {}", a.key.display()))?;
    let key = SigningKey::from_pem(&pem).with_context(|| format!("{} is not a usable private key", a.key.display()))?;
    let plan = plans::find(&a.plan).with_context(|| format!("no plan {:?}", a.plan))?;
    let now = SystemClock.now_ms();
    let issued = a.issued.as_deref().map(parse_date).transpose()?.unwrap_or(now);
    let valid_until = match (&a.valid_until, a.days) {
        (Some(d), _) => parse_date(d)?,
        (None, Some(days)) => issued + i64::from(days) * DAY_MS,
        (None, None) => bail!("give --days or --valid-until"),
    };
    let defaults = plan.limits();
    let channels = match &a.channels {
        Some(list) => list
            .iter()
            .map(|c| ChannelKind::parse(c).with_context(|| format!("{c:?} is not a channel (telegram, widget, api)")))
            .collect::<anyhow::Result<Vec<_>>>()?,
        None => defaults.channels.clone(),
    };
    let limits = Limits {
        seats: a.seats.unwrap_or(defaults.seats),
        channels,
        marketplaces: a.marketplaces.unwrap_or(defaults.marketplaces),
        models: match a.models.as_deref() {
            Some("cloud") => ModelAccess::Cloud,
            Some(_) => ModelAccess::Local,
            None => defaults.models,
        },
        exports: a.exports.unwrap_or(defaults.exports),
    };
    if limits.marketplaces > 2 {
        bail!("--marketplaces: supportd connects at most 2 (Wildberries and Ozon)");
    }
    let id = match &a.id {
        Some(id) => id.clone(),
        None => {
            let day =
                time::OffsetDateTime::from_unix_timestamp(issued / 1000).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
            let r: [u8; 3] = crypto::random_bytes()?;
            format!(
                "LIC-{:04}{:02}{:02}-{}",
                day.year(),
                u8::from(day.month()),
                day.day(),
                r.iter().map(|b| format!("{b:02X}")).collect::<String>()
            )
        }
    };
    let licence = Licence {
        id,
        customer: a.customer.trim().to_owned(),
        plan: plan.id.to_owned(),
        issued,
        valid_until,
        grace_days: a.grace_days,
        limits,
        key_id: String::new(),
    };
    let t = token::issue(&key, &licence)?;
    if valid_until <= now {
        eprintln!("warning: this licence has already expired ({}); supportd will refuse it", rfc3339(valid_until));
    }
    match &a.out {
        Some(path) => {
            let text = format!(
                "# supportd licence {} for {}: plan {}, valid until {}\n\
                 # Install: supportd licence install {} (or paste the line below in Настройки → Лицензия и тариф)\n{t}\n",
                licence.id,
                licence.customer,
                licence.plan,
                rfc3339(valid_until),
                path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
            );
            std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
            println!("wrote licence {} to {}", licence.id, path.display());
        }
        None => println!("{t}"),
    }
    Ok(ExitCode::SUCCESS)
}
