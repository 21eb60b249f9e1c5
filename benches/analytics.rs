//! Analytics at scale: a busy shop's year (by default 200,000 conversations and about 1,000,000
//! messages: buyers, the bot with its provenance, operators, handoffs, releases and ratings,
//! knowledge gaps) written through the store's own functions, so the triggers of migration 0012
//! maintain the summaries exactly as in production; then every report period (today, 7, 30, 90
//! and 365 days) is measured: the summary with its previous period (`GET /api/v1/stats/summary`)
//! and the whole report (`GET /api/v1/stats/report`), p50 and p95 over `--runs` runs; and once
//! each the CSV of a month's conversations and the PDF report of a month.
//!
//! `cargo bench --bench analytics -- [--conversations N] [--messages M] [--runs R] [--keep DIR]`

use std::time::Instant;

use serde_json::json;
use supportd::analytics::{csv, figures, gaps, pdf, period};
use supportd::clock::{Clock, SystemClock};
use supportd::store::Db;
use supportd::store::messaging::{self as msgs, Author, NewMessage};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

fn num(name: &str, default: usize) -> usize {
    arg(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
const OFFSET_MIN: i32 = 180;

const QUESTIONS: [(&str, &str, &str); 8] = [
    ("order_status", "где мой заказ", "Orders([\"123\"])"),
    ("delivery_time", "когда привезут заказ", "KnownOrders"),
    ("return_request", "как вернуть товар", "Knowledge(ReturnRequest)"),
    ("exchange", "можно обменять размер", "Knowledge(Exchange)"),
    ("product_info", "из чего сделана куртка", "Knowledge(ProductInfo)"),
    ("payment", "можно оплатить картой", "Knowledge(Payment)"),
    ("promo", "есть ли промокод", "Knowledge(Promo)"),
    ("greeting", "здравствуйте", "Greeting"),
];

const GAPS: [&str; 12] = [
    "есть ли подарочная упаковка",
    "можно ли забрать заказ из шоурума",
    "вы шьёте на заказ по меркам",
    "есть ли оптовые цены для магазинов",
    "продаёте ли вы подарочные сертификаты",
    "сколько стоит доставка в Казахстан",
    "можно ли отложить товар до зарплаты",
    "куртка выдержит минус сорок",
    "есть ли у вас скидка пенсионерам",
    "вы работаете с юрлицами по счёту",
    "можно примерить до оплаты",
    "будет ли ещё синяя модель",
];

fn main() {
    let conversations = num("--conversations", 200_000);
    let target_messages = num("--messages", 1_000_000);
    let runs = num("--runs", 20);
    let keep = arg("--keep");
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = keep.clone().map_or_else(|| tmp.path().to_owned(), std::path::PathBuf::from);
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("supportd.db");
    let _ = std::fs::remove_file(&path);
    let now = SystemClock.now_ms();
    let db = Db::open(&path, 4, now).expect("db");
    let year_start = now - 365 * DAY;

    // Operators.
    let operators: Vec<i64> = db
        .with_conn(|c| {
            let mut ids = Vec::new();
            for i in 0..5 {
                let email = supportd::domain::Email::parse(&format!("op{i}@shop.ru")).expect("email");
                let u = supportd::store::users::insert(
                    c,
                    &email,
                    &format!("Оператор {i}"),
                    supportd::domain::Role::Operator,
                    "x",
                    now,
                )?;
                ids.push(u.id);
            }
            Ok(ids)
        })
        .expect("operators");

    // Conversation start times over the year, more in the shop's daytime.
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut starts: Vec<i64> = (0..conversations)
        .map(|_| {
            let day = rng.below(366) as i64;
            let hour = [9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 8, 23, 0, 7][rng.below(18) as usize];
            let local = (year_start + i64::from(OFFSET_MIN) * 60_000).div_euclid(DAY) * DAY + day * DAY + hour * HOUR;
            local - i64::from(OFFSET_MIN) * 60_000 + rng.below(HOUR as u64) as i64
        })
        .filter(|t| *t < now - 60_000)
        .collect();
    starts.sort_unstable();
    let per_conversation = target_messages as f64 / conversations as f64;
    let started = Instant::now();
    let mut written = 0usize;
    let mut seq = 0u64;
    for chunk in starts.chunks(1_000) {
        written += db
            .with_conn(|c| {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let mut n = 0usize;
                for &t0 in chunk {
                    seq += 1;
                    let channel = match rng.below(100) {
                        0..=44 => "telegram",
                        45..=64 => "widget",
                        65..=84 => "wb_questions",
                        _ => "ozon_chat",
                    };
                    let external = match (channel, rng.below(3)) {
                        ("wb_questions", 0) => format!("feedback:{seq}"),
                        ("wb_questions", 1) => format!("chat:{seq}"),
                        ("ozon_chat", 0) => format!("review:{seq}"),
                        _ => format!("{seq}"),
                    };
                    let customer = msgs::upsert_customer(&tx, channel, &external, "", t0)?;
                    let conv = msgs::open_conversation(&tx, customer, channel, t0)?;
                    let mut t = t0;
                    // Turns until this conversation has its share of the messages.
                    let budget = (per_conversation * (0.5 + rng.below(100) as f64 / 100.0)).round().max(2.0) as usize;
                    let handoff = rng.chance(22);
                    let mut turns = 0usize;
                    let mut handed = false;
                    let mut replies = 0;
                    while turns * 2 < budget {
                        let gap = rng.chance(8);
                        let (intent, text, plan) = if gap {
                            ("other", GAPS[rng.below(GAPS.len() as u64) as usize], "Knowledge(Other)")
                        } else {
                            QUESTIONS[rng.below(QUESTIONS.len() as u64) as usize]
                        };
                        let inbox = msgs::inbox_accept(&tx, channel, &format!("m{seq}:{turns}"), "{}", t)?;
                        let buyer = NewMessage {
                            conversation_id: conv,
                            author: Author::Buyer,
                            author_user_id: None,
                            body: text,
                            attachments: "[]",
                            provenance: None,
                            inbox_id: Some(inbox.id),
                        };
                        msgs::append_message(&tx, &buyer, t)?;
                        n += 1;
                        if handed {
                            // A person answers.
                            t += 20_000 + rng.below(600_000) as i64;
                            let op = NewMessage {
                                conversation_id: conv,
                                author: Author::Operator,
                                author_user_id: Some(operators[rng.below(operators.len() as u64) as usize]),
                                body: "Здравствуйте, сейчас проверю.",
                                attachments: "[]",
                                provenance: None,
                                inbox_id: None,
                            };
                            msgs::append_message(&tx, &op, t)?;
                            n += 1;
                            replies += 1;
                            turns += 1;
                            continue;
                        }
                        let hand_now = handoff && (turns + 2) * 2 >= budget;
                        let action = if hand_now { "handoff" } else if gap { "clarify" } else { "answer" };
                        let sources = if gap || !plan.starts_with("Knowledge") {
                            json!([])
                        } else {
                            json!([{"doc": format!("a:{}", 1 + rng.below(47))}])
                        };
                        let prov = json!({"action": action, "plan": plan, "intent": intent, "confidence": 0.8,
                            "sources": sources, "handoff_reason": if hand_now { json!("requested") } else { json!(null) },
                            "latency_ms": 5 + rng.below(40)});
                        let bot = NewMessage {
                            conversation_id: conv,
                            author: Author::Bot,
                            author_user_id: None,
                            body: "ответ бота",
                            attachments: "[]",
                            provenance: Some(&prov),
                            inbox_id: None,
                        };
                        msgs::append_message(&tx, &bot, t + 30)?;
                        msgs::inbox_done(&tx, inbox.id, t + 30)?;
                        n += 1;
                        if hand_now {
                            msgs::set_handler(&tx, conv, "operator", Some("requested"), None, t + 30)?;
                            msgs::add_event(&tx, "handoff", Some(conv), &json!({"reason": "requested"}), t + 30)?;
                            handed = true;
                        }
                        turns += 1;
                        t += 60_000 + rng.below(300_000) as i64;
                    }
                    if handed && replies == 0 {
                        t += 20_000 + rng.below(600_000) as i64;
                        let op = NewMessage {
                            conversation_id: conv,
                            author: Author::Operator,
                            author_user_id: Some(operators[rng.below(operators.len() as u64) as usize]),
                            body: "Здравствуйте, сейчас проверю.",
                            attachments: "[]",
                            provenance: None,
                            inbox_id: None,
                        };
                        msgs::append_message(&tx, &op, t)?;
                        n += 1;
                    }
                    if handed {
                        msgs::add_event(&tx, "release", Some(conv), &json!({"resolved": true}), t)?;
                        msgs::set_handler(&tx, conv, "bot", None, None, t)?;
                    }
                    if rng.chance(30) {
                        msgs::set_rating(&tx, conv, 1 + rng.below(5) as i64, t + 60_000)?;
                    }
                }
                tx.commit()?;
                Ok(n)
            })
            .expect("write a batch");
    }
    let write_s = started.elapsed().as_secs_f64();
    let t = Instant::now();
    let keyed = db.with_conn(|c| gaps::refresh(c, usize::MAX)).expect("gap keys");
    let gaps_s = t.elapsed().as_secs_f64();
    let size_mb = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    println!(
        "{}",
        json!({"generated": {"conversations": starts.len(), "messages": written, "seconds": write_s,
            "gaps_keyed": keyed, "gap_key_seconds": gaps_s, "database_mb": size_mb}})
    );

    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1000.0;
    let p = |v: &mut Vec<f64>, q: f64| {
        v.sort_by(f64::total_cmp);
        v[(((v.len() as f64) * q).ceil() as usize).clamp(1, v.len()) - 1]
    };
    println!("| period | conversations | summary p50 / p95 ms | report p50 / p95 ms |");
    println!("|---|---|---|---|");
    for name in ["today", "7d", "30d", "90d", "365d"] {
        let per = period::resolve(Some(name), None, None, now, OFFSET_MIN).expect("period");
        let bucket = per.auto_bucket();
        let (mut summary, mut report) = (Vec::new(), Vec::new());
        let mut count = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let s = db.with_conn(|c| figures::compared(c, &per)).expect("summary");
            summary.push(ms(t));
            count = s.current.conversations;
            let t = Instant::now();
            db.with_conn(|c| figures::report(c, &per, bucket, now)).expect("report");
            report.push(ms(t));
        }
        println!(
            "| {name} | {count} | {:.1} / {:.1} | {:.1} / {:.1} |",
            p(&mut summary, 0.5),
            p(&mut summary, 0.95),
            p(&mut report, 0.5),
            p(&mut report, 0.95)
        );
        println!(
            "{}",
            json!({"period": name, "conversations": count, "runs": runs,
                "summary_p50_ms": p(&mut summary, 0.5), "summary_p95_ms": p(&mut summary, 0.95),
                "report_p50_ms": p(&mut report, 0.5), "report_p95_ms": p(&mut report, 0.95)})
        );
    }
    let month = period::resolve(Some("30d"), None, None, now, OFFSET_MIN).expect("30d");
    let t = Instant::now();
    let bytes = db.with_conn(|c| csv::conversations(c, &month)).expect("csv");
    let csv_ms = ms(t);
    let report = db.with_conn(|c| figures::report(c, &month, month.auto_bucket(), now)).expect("report");
    let t = Instant::now();
    let pdf = pdf::render(&report, "Ладья").expect("pdf");
    let pdf_ms = ms(t);
    if keep.is_some() {
        std::fs::write(dir.join("report-30d.pdf"), &pdf).expect("write pdf");
    }
    println!(
        "{}",
        json!({"csv_30d_conversations_ms": csv_ms, "csv_bytes": bytes.len(), "pdf_30d_ms": pdf_ms, "pdf_bytes": pdf.len()})
    );
}
