//! Marketplace rules for public answers: what a reply to a WB question, review or chat, or an
//! Ozon chat, question or review may contain, and how long it may be.
//!
//! Both marketplaces forbid sending buyers elsewhere in answers (WB fines sellers for it):
//! no phone numbers, e-mail addresses, links, messenger handles, invitations to other
//! platforms («напишите нам в Telegram», «у нас на сайте дешевле»), and no personal data. A bot
//! answer with such a sentence is cleaned (the sentence removed) when what is left still
//! answers; otherwise it is held as a draft with the reason for the operator. Operators'
//! replies are checked the same way and refused with the reason (nothing is cut from what a
//! person wrote).
//!
//! The length limits are the documents' ([`text_limits`]).

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use super::{Market, ThreadKind};
use crate::nlu::{EntityKind, entities};

/// The channels whose answers are published on a marketplace.
pub fn market_of(channel: &str) -> Option<Market> {
    match crate::channels::ChannelName::parse(channel)? {
        crate::channels::ChannelName::WbQuestions => Some(Market::Wb),
        crate::channels::ChannelName::OzonChat => Some(Market::Ozon),
        _ => None,
    }
}

/// The kind of thread an answer goes to, from its channel and recipient (the thread ids the
/// adapters give: WB `feedback:<id>`, `chat:<id>`, else a question id; Ozon `review:<id>`,
/// `question:<id>:<sku>`, else a chat id).
pub fn thread_kind(channel: &str, recipient: &str) -> ThreadKind {
    match (market_of(channel), recipient) {
        (Some(Market::Wb), r) if r.starts_with("feedback:") => ThreadKind::Review,
        (Some(Market::Wb), r) if r.starts_with("chat:") => ThreadKind::Chat,
        (Some(Market::Wb), _) => ThreadKind::Question,
        (_, r) if r.starts_with("review:") => ThreadKind::Review,
        (_, r) if r.starts_with("question:") => ThreadKind::Question,
        _ => ThreadKind::Chat,
    }
}

/// Characters an answer may have, and where the document says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    pub min: usize,
    pub max: usize,
    pub source: &'static str,
}

/// The documented length limits of an answer.
pub fn text_limits(market: Market, kind: ThreadKind) -> Limits {
    match (market, kind) {
        (Market::Wb, ThreadKind::Review) => Limits {
            min: 2,
            max: 5000,
            source: "09-communications.yaml, POST /api/v1/feedbacks/answer: text minimum 2, maximum 5000",
        },
        (Market::Wb, ThreadKind::Question) => Limits {
            min: 2,
            max: 5000,
            source: "09-communications.yaml, PATCH /api/v1/questions states no length; the feedback answer's 2–5000 is applied",
        },
        (Market::Wb, ThreadKind::Chat) => Limits {
            min: 1,
            max: 1000,
            source: "09-communications.yaml, POST /api/v1/seller/message: message maxLength 1000",
        },
        (Market::Ozon, ThreadKind::Chat) => Limits {
            min: 1,
            max: 1000,
            source: "seller-api.swagger.json, /v1/chat/send/message: «от 1 до 1000 символов»",
        },
        (Market::Ozon, ThreadKind::Question) => Limits {
            min: 2,
            max: 3000,
            source: "seller-api.swagger.json, /v1/question/answer/create: «от 2 до 3000 символов»",
        },
        (Market::Ozon, ThreadKind::Review) => Limits {
            min: 2,
            max: 3000,
            source: "seller-api.swagger.json, /v1/review/comment/create states no length; the question answer's 2–3000 is applied",
        },
    }
}

/// Whether `text` fits the documented length (the reason when it does not).
pub fn check_length(market: Market, kind: ThreadKind, text: &str) -> Result<(), String> {
    let l = text_limits(market, kind);
    let n = text.trim().chars().count();
    if n < l.min {
        return Err(format!("the answer has {n} characters, fewer than {} ({})", l.min, l.source));
    }
    if n > l.max {
        return Err(format!("the answer has {n} characters, more than {} ({})", l.max, l.source));
    }
    Ok(())
}

/// Something a public answer may not contain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Finding {
    Phone(String),
    Email(String),
    Link(String),
    /// A messenger or social network handle or name (@shop_bot, «Telegram», «ВК»).
    Messenger(String),
    /// "Write to us there", "on our site", another marketplace.
    Invitation(String),
    /// A full name, an address with a flat, a card or passport number.
    PersonalData(String),
    TooLong {
        chars: usize,
        max: usize,
    },
    TooShort {
        chars: usize,
        min: usize,
    },
}

impl Finding {
    /// For the operator, in Russian.
    pub fn describe(&self) -> String {
        crate::texts::marketplace::finding(self)
    }
}

/// What the rules make of an answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Publish as it is.
    Clean,
    /// Publish this instead: the sentences with `removed` taken out (or cut to the limit).
    Cleaned { text: String, removed: Vec<Finding> },
    /// Do not publish: a person decides. `findings` say why.
    Hold { findings: Vec<Finding> },
}

static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:https?://\S+|www\.\S+|(?:t|wa|vk)\.me/\S*|[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:ru|рф|com|net|org|shop|store|online|site|su|info|biz|io|me|pro|club)\b(?:/\S*)?)",
    )
    .expect("a valid built-in pattern")
});

static HANDLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|[\s(])@[A-Za-z][A-Za-z0-9_]{3,}").expect("a valid built-in pattern"));

static MESSENGER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:^|[^\p{L}])(telegram|телеграмм?\p{L}*|телеге|тг|whats\s?app|в?ватсапп?\p{L}*|вотсапп?\p{L}*|вацап\p{L}*|viber|вайбер\p{L}*|instagram|инстаграмм?\p{L}*|инсте|директ[еа]?|vk|вк|вконтакте|facebook|фейсбук\p{L}*|одноклассник\p{L}*|max\s+мессенджер\p{L}*|мессенджер\p{L}*|skype|скайп\p{L}*)(?:[^\p{L}]|$)",
    )
    .expect("a valid built-in pattern")
});

static INVITATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(наш\p{L}*\s+(?:сайт|интернет-магазин|канал|групп|сообществ|страниц|аккаунт|паблик|магазин\s+на\s+сайте)|(?:на|в)\s+(?:личк|личн\p{L}*\s+сообщен|директ)|(?:перейдите|переходите|заходите|подписывайтесь|пишите\s+нам\s+напрямую|свяжитесь\s+с\s+нами\s+напрямую|звоните|позвоните)\b|(?:в|на)\s+другом\s+(?:магазине|маркетплейсе|сайте)|напрямую\s+(?:у\s+нас|без\s+маркетплейс))",
    )
    .expect("a valid built-in pattern")
});

/// Other marketplaces, per the marketplace the answer is published on.
static OTHER_WB: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|[^\p{L}])(ozon|озон\p{L}*|яндекс[\s.-]*маркет\p{L}*|авито|мегамаркет\p{L}*|aliexpress|алиэкспресс)(?:[^\p{L}]|$)")
        .expect("a valid built-in pattern")
});
static OTHER_OZON: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|[^\p{L}])(wildberries|вайлдберриз|вайлдбериз|вб|wb|яндекс[\s.-]*маркет\p{L}*|авито|мегамаркет\p{L}*|aliexpress|алиэкспресс)(?:[^\p{L}]|$)")
        .expect("a valid built-in pattern")
});

static COMMERCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(купить|купите|покупайте|закаж\p{L}*|заказыва\p{L}*|дешевл\p{L}*|выгодн\p{L}*|ищите|найдите|перейд\p{L}*|переход\p{L}*|есть\s+(?:и\s+)?на|продаём|продаем|магазин\p{L}*\s+на)")
        .expect("a valid built-in pattern")
});

static PERSONAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:\b[А-ЯЁ][а-яё]+\s+[А-ЯЁ][а-яё]+\s+[А-ЯЁ][а-яё]+(?:вич|вна|ична|ич)\b|(?i:\bкв(?:\.|артира)\s*\d+)|\b(?:\d{4}[\s-]?){3}\d{4}\b|(?i:паспорт\p{L}*\s*(?:серии\s*)?\d{2}\s?\d{2}\s*(?:№|номер)?\s*\d{6}))",
    )
    .expect("a valid built-in pattern")
});

/// The findings in one piece of text, for an answer published on `market`.
pub fn findings(market: Market, text: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    for e in entities::extract(text) {
        match e.kind {
            EntityKind::Phone => out.push(Finding::Phone(e.value)),
            EntityKind::Email => out.push(Finding::Email(e.value)),
            _ => {}
        }
    }
    let without_emails = entities::extract(text)
        .into_iter()
        .filter(|e| e.kind == EntityKind::Email)
        .fold(text.to_owned(), |t, e| t.replace(&e.value, " "));
    for m in URL.find_iter(&without_emails) {
        out.push(Finding::Link(m.as_str().trim_end_matches(['.', ',', ')', '!']).to_owned()));
    }
    for m in HANDLE.find_iter(&without_emails) {
        out.push(Finding::Messenger(m.as_str().trim().to_owned()));
    }
    for c in MESSENGER.captures_iter(text) {
        out.push(Finding::Messenger(c[1].to_owned()));
    }
    for m in INVITATION.find_iter(text) {
        out.push(Finding::Invitation(m.as_str().to_owned()));
    }
    let other = match market {
        Market::Wb => &*OTHER_WB,
        Market::Ozon => &*OTHER_OZON,
    };
    // Another marketplace named where buyers are sent to buy (not, say, "the size chart is in
    // the card on Wildberries and Ozon").
    if COMMERCE.is_match(text) {
        for c in other.captures_iter(text) {
            out.push(Finding::Invitation(c[1].to_owned()));
        }
    }
    for m in PERSONAL.find_iter(text) {
        out.push(Finding::PersonalData(m.as_str().to_owned()));
    }
    out
}

/// Sentences (with their trailing punctuation and spaces), lines kept apart.
fn sentences(text: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < chars.len() {
        let (_, c) = chars[i];
        let next = chars.get(i + 1).map(|&(_, n)| n);
        if c == '\n' || (matches!(c, '.' | '!' | '?' | '…') && next.is_none_or(char::is_whitespace)) {
            let mut j = i + 1;
            while j < chars.len() && chars[j].1.is_whitespace() && chars[j].1 != '\n' {
                j += 1;
            }
            let end = chars.get(j).map_or(text.len(), |&(p, _)| p);
            if end > start {
                out.push(&text[start..end]);
            }
            start = end;
            i = j;
            continue;
        }
        i += 1;
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// A sentence that answers something: not only a greeting, thanks or a signature.
fn meaningful(sentence: &str) -> bool {
    static FILLER: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)^\s*(здравствуйте|добрый\s+(день|вечер)|доброе\s+утро|привет\p{L}*|спасибо\p{L}*(\s+за\s+\p{L}+(\s+\p{L}+)?)?|благодарим\p{L}*(\s+за\s+\p{L}+(\s+\p{L}+)?)?|с\s+уважением\p{L}*.*|хорошего\s+дня|всего\s+доброго|будем\s+рады\s+помочь)\s*[.!,…]*\s*$")
            .expect("a valid built-in pattern")
    });
    let words = sentence.split_whitespace().filter(|w| w.chars().any(char::is_alphanumeric)).count();
    words >= 3 && !FILLER.is_match(sentence)
}

/// The rules applied to a bot's answer for `channel`/`recipient`: cleaned when removing the
/// offending sentences (or the sentences past the length limit) leaves an answer, held
/// otherwise.
pub fn public_answer(channel: &str, recipient: &str, text: &str) -> Verdict {
    let Some(market) = market_of(channel) else { return Verdict::Clean };
    let limits = text_limits(market, thread_kind(channel, recipient));
    let parts = sentences(text);
    let mut removed = Vec::new();
    let mut kept: Vec<&str> = Vec::new();
    for s in &parts {
        let f = findings(market, s);
        if f.is_empty() {
            kept.push(s);
        } else {
            removed.extend(f);
        }
    }
    // Past the length limit: whole sentences up to it.
    let mut fitted: Vec<&str> = Vec::new();
    let mut total = 0;
    let kept_chars: usize = kept.iter().map(|s| s.chars().count()).sum();
    if kept.join("").trim().chars().count() > limits.max {
        for s in &kept {
            let n = s.chars().count();
            if total + n > limits.max {
                break;
            }
            total += n;
            fitted.push(s);
        }
        removed.push(Finding::TooLong { chars: kept_chars, max: limits.max });
    } else {
        fitted = kept;
    }
    let cleaned = fitted.concat().trim().to_owned();
    if removed.is_empty() {
        let n = text.trim().chars().count();
        if n < limits.min {
            return Verdict::Hold { findings: vec![Finding::TooShort { chars: n, min: limits.min }] };
        }
        return Verdict::Clean;
    }
    if fitted.iter().any(|s| meaningful(s)) && cleaned.chars().count() >= limits.min {
        Verdict::Cleaned { text: cleaned, removed }
    } else {
        Verdict::Hold { findings: removed }
    }
}

/// What a reply's provenance records of the rules: the verdict and what it found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum RulesRecord {
    Clean,
    Cleaned { removed: Vec<Finding> },
    Held { findings: Vec<Finding> },
}

/// Applies a verdict to the engine's reply: the cleaned text replaces it, a hold keeps it as a
/// draft with a note for the operators. Returns what the reply's provenance records.
pub fn apply(verdict: Verdict, reply: &mut String, hold: &mut bool, note: &mut Option<String>) -> RulesRecord {
    match verdict {
        Verdict::Clean => RulesRecord::Clean,
        Verdict::Cleaned { text, removed } => {
            *reply = text;
            RulesRecord::Cleaned { removed }
        }
        Verdict::Hold { findings } => {
            *hold = true;
            *note = Some(crate::texts::marketplace::held(&findings));
            RulesRecord::Held { findings }
        }
    }
}

/// The rules applied to a person's reply: what breaks them (nothing is cut from it).
pub fn operator_reply(channel: &str, recipient: &str, text: &str) -> Vec<Finding> {
    let Some(market) = market_of(channel) else { return Vec::new() };
    let limits = text_limits(market, thread_kind(channel, recipient));
    let mut out = findings(market, text);
    let n = text.trim().chars().count();
    if n > limits.max {
        out.push(Finding::TooLong { chars: n, max: limits.max });
    } else if n < limits.min {
        out.push(Finding::TooShort { chars: n, min: limits.min });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_links_and_invitations_are_found() {
        let f = |t: &str| findings(Market::Wb, t);
        let call = f("Позвоните нам: +7 (495) 123-45-67");
        assert!(call.iter().any(|x| matches!(x, Finding::Phone(_))), "{call:?}");
        assert!(call.iter().any(|x| matches!(x, Finding::Invitation(_))), "{call:?}");
        assert!(f("Пишите на help@ladya-shop.ru").iter().any(|x| matches!(x, Finding::Email(_))));
        assert!(
            !f("Пишите на help@ladya-shop.ru").iter().any(|x| matches!(x, Finding::Link(_))),
            "an e-mail is not also a link"
        );
        assert!(f("Подробнее на ladya-shop.ru/sizes").iter().any(|x| matches!(x, Finding::Link(_))));
        assert!(f("Наш бот @ladya_help ответит").iter().any(|x| matches!(x, Finding::Messenger(_))));
        assert!(!f("Напишите нам в Telegram").is_empty());
        assert!(!f("Напишите нам в телеграм").is_empty());
        assert!(!f("Пишите в вотсап").is_empty());
        assert!(!f("Этот товар дешевле на Озоне").is_empty());
        assert!(f("Замеры есть в карточке товара на Wildberries и Ozon.").is_empty(), "naming is not sending");
        assert!(!f("Ищите магазин «Ладья» на Wildberries и Ozon.").is_empty());
        assert!(!f("Иванова Мария Петровна, ул. Ленина, 5, кв. 12").is_empty());
        assert!(f("Размер M подойдёт на рост 170 см, состав — хлопок 100%.").is_empty());
        assert!(f("Вернуть товар можно в течение 14 дней в пункте выдачи.").is_empty());
        // On Ozon, WB is the other platform.
        assert!(findings(Market::Ozon, "Этот товар есть и на ВБ").iter().any(|x| matches!(x, Finding::Invitation(_))));
        assert!(findings(Market::Wb, "Оформите возврат в личном кабинете Wildberries.").is_empty());
    }

    #[test]
    fn a_contact_sentence_is_cleaned_out_when_the_rest_answers() {
        let text = "Здравствуйте! Вернуть товар можно в течение 14 дней с момента получения. \
                    Если остались вопросы, напишите нам в Telegram @ladya_help.";
        match public_answer("wb_questions", "q-1", text) {
            Verdict::Cleaned { text, removed } => {
                assert_eq!(text, "Здравствуйте! Вернуть товар можно в течение 14 дней с момента получения.");
                assert!(removed.iter().any(|f| matches!(f, Finding::Messenger(_))));
            }
            other => panic!("{other:?}"),
        }
        // Nothing but the contact: held.
        match public_answer("ozon_chat", "chat-1", "Здравствуйте! Напишите нам в WhatsApp +7 916 111-22-33.")
        {
            Verdict::Hold { findings } => assert!(findings.iter().any(|f| matches!(f, Finding::Phone(_)))),
            other => panic!("{other:?}"),
        }
        assert_eq!(public_answer("wb_questions", "q-1", "Размер M, рост 170 см."), Verdict::Clean);
        assert_eq!(
            public_answer("telegram", "1", "Пишите в Telegram @shop"),
            Verdict::Clean,
            "not a marketplace channel"
        );
    }

    #[test]
    fn lengths_follow_the_thread_kind() {
        let long = "Это предложение длиной ровно в несколько десятков символов. ".repeat(40);
        assert!(long.chars().count() > 1000);
        match public_answer("ozon_chat", "chat-1", &long) {
            Verdict::Cleaned { text, removed } => {
                assert!(text.chars().count() <= 1000 && text.chars().count() > 900);
                assert!(matches!(removed[..], [Finding::TooLong { max: 1000, .. }]));
            }
            other => panic!("{other:?}"),
        }
        // The same text fits an Ozon question answer (3000).
        assert_eq!(public_answer("ozon_chat", "question:1:2", &long[..long.len() / 2]), Verdict::Clean);
        assert!(check_length(Market::Ozon, ThreadKind::Question, "а").is_err());
        assert!(check_length(Market::Wb, ThreadKind::Chat, &"а".repeat(1001)).is_err());
        assert_eq!(thread_kind("wb_questions", "feedback:x"), ThreadKind::Review);
        assert_eq!(thread_kind("ozon_chat", "question:1:2"), ThreadKind::Question);
        let one_long = "а".repeat(1200);
        assert!(matches!(public_answer("wb_questions", "chat:1", &one_long), Verdict::Hold { .. }));
    }
}
