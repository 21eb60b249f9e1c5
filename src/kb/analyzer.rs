//! Text analysis for Russian and English search: word splitting, lower-casing, ё → е,
//! stop words, Snowball stemming (Russian, then English), and a small e-commerce synonym map
//! that lets different roots of one idea meet ("вернуть" / "возврат" / "сдать обратно").
//! Queries additionally get transliterated forms of Latin words ("vernut" → "вернут").

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rust_stemmers::{Algorithm, Stemmer};

/// One analyzed term with the byte range it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub text: String,
    pub from: usize,
    pub to: usize,
    pub position: usize,
}

const STOP_WORDS: &[&str] = &[
    "и",
    "в",
    "во",
    "не",
    "что",
    "он",
    "на",
    "я",
    "с",
    "со",
    "как",
    "а",
    "то",
    "все",
    "она",
    "так",
    "его",
    "но",
    "да",
    "ты",
    "к",
    "у",
    "же",
    "вы",
    "за",
    "бы",
    "по",
    "только",
    "ее",
    "мне",
    "было",
    "вот",
    "от",
    "меня",
    "еще",
    "нет",
    "о",
    "из",
    "ему",
    "теперь",
    "когда",
    "даже",
    "ну",
    "ли",
    "если",
    "уже",
    "или",
    "ни",
    "быть",
    "был",
    "него",
    "до",
    "вас",
    "нибудь",
    "уж",
    "вам",
    "ведь",
    "там",
    "потом",
    "себя",
    "ей",
    "может",
    "они",
    "тут",
    "где",
    "есть",
    "надо",
    "ней",
    "для",
    "мы",
    "тебя",
    "их",
    "чем",
    "была",
    "сам",
    "чтоб",
    "без",
    "чего",
    "раз",
    "тоже",
    "себе",
    "под",
    "будет",
    "ж",
    "тогда",
    "кто",
    "этот",
    "того",
    "потому",
    "этого",
    "какой",
    "ним",
    "здесь",
    "этом",
    "мой",
    "моя",
    "мои",
    "моего",
    "мою",
    "тем",
    "чтобы",
    "нее",
    "сейчас",
    "были",
    "куда",
    "зачем",
    "всех",
    "можно",
    "при",
    "об",
    "хоть",
    "после",
    "над",
    "тот",
    "через",
    "эти",
    "нас",
    "про",
    "них",
    "какая",
    "разве",
    "эту",
    "свою",
    "этой",
    "перед",
    "том",
    "такой",
    "им",
    "всю",
    "здравствуйте",
    "привет",
    "пожалуйста",
    "спасибо",
    "добрый",
    "подскажите",
    "скажите",
    "хочу",
    "хотела",
    "хотел",
    "вопрос",
    "это",
    "a",
    "an",
    "the",
    "is",
    "are",
    "to",
    "of",
    "and",
    "or",
    "in",
    "on",
    "for",
    "my",
    "i",
    "how",
    "what",
    "where",
    "do",
    "does",
    "can",
    "it",
    "me",
    "please",
];

/// Groups of words that mean one thing to a buyer; every form maps to the group's first stem.
const SYNONYMS: &[&[&str]] = &[
    &[
        "возврат",
        "вернуть",
        "верну",
        "вернула",
        "вернул",
        "возвращу",
        "возвращать",
        "возвращаю",
        "возврата",
        "сдать",
        "сдам",
        "сдавать",
        "вазврат",
    ],
    &["обмен", "обменять", "обменяю", "поменять", "поменяю", "замена", "заменить"],
    &[
        "доставка",
        "доставить",
        "доставят",
        "привезти",
        "привезут",
        "придет",
        "прийдет",
        "приедет",
        "дойдет",
        "везут",
        "едет",
    ],
    &["отследить", "отслеживание", "отслеживать", "трек", "трекинг", "статус", "tracking", "track"],
    &["отмена", "отменить", "отменю", "отказаться", "отказ"],
    &["оплата", "оплатить", "оплачу", "платить", "заплатить", "платеж", "оплачивать"],
    &["рассрочка", "частями", "долями", "сплит", "кредит"],
    &["брак", "бракованный", "бракованная", "дефект", "дырка", "порвался", "порвалась", "распоролся", "испорчен"],
    &["стирка", "стирать", "постирать", "стираю", "постирала", "машинка"],
    &["пуховик", "пуховика", "пуховики", "пуховке", "пуховка"],
    &["худи", "толстовка", "худак", "свитшот"],
    &["претензия", "жалоба", "рекламация", "пожаловаться"],
    &["чек", "квитанция", "документы"],
    &[
        "связаться",
        "позвонить",
        "телефон",
        "контакты",
        "поддержка",
        "оператор",
        "менеджер",
        "звонок",
        "звонить",
        "дозвониться",
        "хотлайн",
    ],
    &["скидка", "промокод", "купон", "акция", "распродажа", "промик", "промокодик", "промо", "скидочка"],
    &["подарок", "подарочный", "подарить", "сертификат"],
    &["опт", "оптом", "оптовый", "юрлицо", "юрлица", "ип", "организация"],
    &["пвз", "пункт", "выдачи"],
    &["сядет", "сесть", "села", "сел", "усадка", "уменьшилась", "садится"],
    &["маломерит", "маломерка", "большемерит", "мерит", "посадка", "сидит"],
    &["хранение", "хранится", "хранить", "пролежит", "лежит"],
    &["деньги", "деньгами", "средства", "рефанд"],
    &["размер", "размеры", "размерная", "размерный", "сетка"],
    &["ткань", "материал", "состав", "материалы", "синтетика", "полиэстер", "натуральный"],
    &["беларусь", "белоруссия", "минск", "рб", "гомель", "брест"],
    &["казахстан", "алматы", "астана", "рк", "караганда"],
    &["петербург", "питер", "спб", "санкт", "ленинградская"],
    &[
        "производитель",
        "производство",
        "пошив",
        "шьем",
        "шьете",
        "шить",
        "шьют",
        "цех",
        "цеха",
        "фабрика",
        "фабриках",
        "швейное",
        "швейный",
        "перекуп",
    ],
    &["пересорт", "перепутали", "вместо", "прислали", "прислал"],
    // Everyday words for what the articles say in their own words.
    &["наличные", "наличными", "наличка", "наличкой", "налик", "наликом", "кэш", "кеш"],
    &["гладить", "погладить", "гладьте", "глажка", "утюг", "утюжить", "отпаривать", "отпарить"],
    &["примерить", "примерка", "померить", "примерю", "примеряю", "примерочная"],
    &["пошлина", "пошлины", "таможня", "таможенный", "растаможка", "растаможивать"],
    &["visa", "виза", "визу", "mastercard", "мастеркард", "мастеркарт"],
    &[
        "наличие",
        "наличии",
        "закончился",
        "закончилась",
        "закончились",
        "кончился",
        "кончились",
        "распродали",
        "поступление",
        "завоз",
        "завезут",
        "пополнение",
        "дошив",
    ],
    &["катышки", "катышек", "катышков", "скатывается", "скаталась", "пиллинг"],
];

/// Longest word that is indexed or searched, in characters. No Russian or English word is
/// longer; a longer "word" (a pasted code, a buyer holding a key down) is skipped, so that no
/// single word can make a query's cost grow with its length.
pub const MAX_TERM_CHARS: usize = 40;

/// The first `max_chars` characters of `text` (cut on a character boundary): the bounded part
/// of a long input that is analysed, searched or embedded.
pub fn prefix(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

#[derive(Clone)]
pub struct Analyzer {
    ru: Arc<Stemmer>,
    en: Arc<Stemmer>,
    stop: Arc<HashSet<&'static str>>,
    synonyms: Arc<HashMap<String, String>>,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Analyzer")
    }
}

impl Default for Analyzer {
    fn default() -> Self {
        Self::new()
    }
}

/// A word as the analyzer compares it: lower case, «ё» read as «е».
pub(crate) fn normalize(word: &str) -> String {
    word.to_lowercase().replace('ё', "е")
}

impl Analyzer {
    pub fn new() -> Self {
        let mut a = Self {
            ru: Arc::new(Stemmer::create(Algorithm::Russian)),
            en: Arc::new(Stemmer::create(Algorithm::English)),
            stop: Arc::new(STOP_WORDS.iter().copied().collect()),
            synonyms: Arc::new(HashMap::new()),
        };
        let mut map = HashMap::new();
        for group in SYNONYMS {
            let canonical = a.stem(&normalize(group[0]));
            for w in *group {
                map.insert(a.stem(&normalize(w)), canonical.clone());
            }
        }
        a.synonyms = Arc::new(map);
        a
    }

    fn stem(&self, word: &str) -> String {
        let ru = self.ru.stem(word);
        self.en.stem(&ru).into_owned()
    }

    /// The indexed form of one word, or `None` for a stop word.
    fn term(&self, raw: &str) -> Option<String> {
        if raw.chars().nth(MAX_TERM_CHARS).is_some() {
            return None;
        }
        let w = normalize(raw);
        if self.stop.contains(w.as_str()) {
            return None;
        }
        if w.chars().any(|c| c.is_ascii_digit()) {
            return Some(w);
        }
        let stem = self.stem(&w);
        Some(self.synonyms.get(&stem).cloned().unwrap_or(stem))
    }

    /// Splits `text` into words (letters and digits) and analyzes each.
    pub fn analyze(&self, text: &str) -> Vec<Term> {
        let mut out = Vec::new();
        for (position, (from, word)) in words(text).enumerate() {
            if let Some(t) = self.term(word) {
                out.push(Term { text: t, from, to: from + word.len(), position });
            }
        }
        out
    }

    /// Query terms: the analyzed words plus, for Latin-only words, their Cyrillic
    /// transliteration (each alternative keeps the original's position).
    pub fn query_terms(&self, text: &str) -> Vec<Term> {
        let mut out = Vec::new();
        for (position, (from, word)) in words(text).enumerate() {
            if let Some(t) = self.term(word) {
                out.push(Term { text: t, from, to: from + word.len(), position });
            }
            if (3..=MAX_TERM_CHARS).contains(&word.len()) && word.chars().all(|c| c.is_ascii_alphabetic()) {
                let cyr = transliterate(&word.to_ascii_lowercase());
                if let Some(t) = self.term(&cyr) {
                    out.push(Term { text: t, from, to: from + word.len(), position });
                }
            }
        }
        out
    }
}

/// (byte offset, word) for each run of letters or digits.
pub fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut start: Option<usize> = None;
    let mut spans = Vec::new();
    for (i, c) in text.char_indices() {
        if c.is_alphanumeric() {
            if start.is_none() {
                start = Some(i);
            }
        } else if let Some(s) = start.take() {
            spans.push((s, &text[s..i]));
        }
    }
    if let Some(s) = start {
        spans.push((s, &text[s..]));
    }
    spans.into_iter()
}

/// Exact identifiers in a text: whitespace-separated tokens with a digit (article numbers,
/// SKUs like "LD-TS-001"), lower-cased, surrounding punctuation trimmed.
pub fn codes(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|t| t.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase())
        .filter(|t| t.len() >= 3 && t.chars().any(|c| c.is_ascii_digit()))
        .collect()
}

/// A message typed in Latin letters ("kogda pridet 57195475-0050-3 i v pvz mozhno primerit?")
/// in Cyrillic, for the rules written in Russian; other messages as they are. Tokens with
/// digits or address marks (an article "LD-TS-001", an e-mail, a link) are kept as typed.
pub fn cyrillic_view(text: &str) -> std::borrow::Cow<'_, str> {
    let latin = text.chars().filter(char::is_ascii_alphabetic).count();
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    if latin == 0 || latin * 10 < letters * 6 {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() * 2);
    for (i, token) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        // The token without its closing punctuation ("primerit." is a word, "a@b.ru" is not).
        let core = token.trim_end_matches(['?', '!', ',', '.']);
        if core.chars().any(|c| c.is_ascii_digit() || matches!(c, '@' | '/' | '_' | ':' | '.')) {
            out.push_str(token);
            continue;
        }
        let mut word = String::new();
        for c in token.chars() {
            if c.is_ascii_alphabetic() {
                word.push(c.to_ascii_lowercase());
            } else {
                out.push_str(&transliterate(&std::mem::take(&mut word)));
                out.push(c);
            }
        }
        out.push_str(&transliterate(&word));
    }
    std::borrow::Cow::Owned(out)
}

/// Latin → Cyrillic, the common Russian chat transliteration ("gde moy zakaz").
pub fn transliterate(latin: &str) -> String {
    const MULTI: &[(&str, &str)] = &[
        ("shch", "щ"),
        ("sch", "щ"),
        ("yo", "ё"),
        ("zh", "ж"),
        ("kh", "х"),
        ("ts", "ц"),
        ("ch", "ч"),
        ("sh", "ш"),
        ("yu", "ю"),
        ("ya", "я"),
        ("ye", "е"),
    ];
    let mut out = String::new();
    let mut rest = latin;
    let mut prev_vowel = false;
    while !rest.is_empty() {
        if let Some((l, c)) = MULTI.iter().find(|(l, _)| rest.starts_with(l)) {
            out.push_str(c);
            rest = &rest[l.len()..];
            prev_vowel = true;
            continue;
        }
        let ch = rest.chars().next().unwrap_or(' ');
        rest = &rest[ch.len_utf8()..];
        let cyr = match ch {
            'a' => "а",
            'b' => "б",
            'v' | 'w' => "в",
            'g' => "г",
            'd' => "д",
            'e' => "е",
            'z' => "з",
            'i' => "и",
            'j' => "й",
            'k' | 'c' | 'q' => "к",
            'l' => "л",
            'm' => "м",
            'n' => "н",
            'o' => "о",
            'p' => "п",
            'r' => "р",
            's' => "с",
            't' => "т",
            'u' => "у",
            'f' => "ф",
            'h' => "х",
            'x' => "кс",
            'y' if prev_vowel => "й",
            'y' => "ы",
            '\'' => "ь",
            other => {
                out.push(other);
                prev_vowel = false;
                continue;
            }
        };
        prev_vowel = matches!(ch, 'a' | 'e' | 'i' | 'o' | 'u');
        out.push_str(cyr);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(a: &Analyzer, s: &str) -> Vec<String> {
        a.analyze(s).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn forms_of_return_meet() {
        let a = Analyzer::new();
        let forms = ["возврат", "вернуть", "возвращу", "Возврата", "сдать"];
        let first = terms(&a, forms[0]);
        for f in forms {
            assert_eq!(terms(&a, f), first, "{f}");
        }
        assert_eq!(terms(&a, "доставки"), terms(&a, "доставка"));
        assert_eq!(terms(&a, "ёлка"), terms(&a, "елка"));
    }

    #[test]
    fn everyday_words_meet_the_articles_words() {
        let a = Analyzer::new();
        for (buyer, article) in
            [("наличкой", "наличными"), ("утюг", "гладьте"), ("померить", "примерке"), ("таможня", "Пошлины")]
        {
            assert_eq!(terms(&a, buyer), terms(&a, article), "{buyer} ~ {article}");
        }
    }

    #[test]
    fn stop_words_and_codes() {
        let a = Analyzer::new();
        assert!(terms(&a, "и в на").is_empty());
        assert_eq!(terms(&a, "артикул 178452391"), vec![terms(&a, "артикул")[0].clone(), "178452391".to_owned()]);
        assert_eq!(codes("размер у LD-TS-001, и 178452391?"), vec!["ld-ts-001".to_owned(), "178452391".to_owned()]);
        assert_eq!(terms(&a, "shipping")[0], "ship");
    }

    #[test]
    fn a_latin_message_is_read_in_cyrillic() {
        assert_eq!(
            cyrillic_view("kogda pridet 57195475-0050-3 i v pvz mozhno primerit?"),
            "когда придет 57195475-0050-3 и в пвз можно примерит?"
        );
        assert_eq!(cyrillic_view("доставка в OZON сколько"), "доставка в OZON сколько");
        assert_eq!(cyrillic_view("zakazala LD-TS-001, pishite na a@b.ru"), "заказала LD-TS-001, пишите на a@b.ru");
    }

    #[test]
    fn transliteration() {
        assert_eq!(transliterate("gde"), "где");
        assert_eq!(transliterate("moy"), "мой");
        assert_eq!(transliterate("zakaz"), "заказ");
        assert_eq!(transliterate("vozvrat"), "возврат");
        let a = Analyzer::new();
        let q: Vec<String> = a.query_terms("kak vernut tovar").into_iter().map(|t| t.text).collect();
        assert!(q.contains(&terms(&a, "возврат")[0]), "{q:?}");
    }

    #[test]
    fn offsets_point_at_the_words() {
        let a = Analyzer::new();
        let text = "Сроки доставки: 2–5 дней";
        for t in a.analyze(text) {
            assert!(text.is_char_boundary(t.from) && text.is_char_boundary(t.to));
        }
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Any Unicode text: no panic, terms point at their words, no term is longer than the
        /// cap, and a query never yields more terms than twice its words.
        #[test]
        fn any_text_is_analyzed_within_bounds(text in "\\PC{0,400}", long in "[a-zа-я]{0,300}") {
            let a = Analyzer::new();
            let input = format!("{text} {long}");
            for t in a.analyze(&input) {
                prop_assert!(input.is_char_boundary(t.from) && input.is_char_boundary(t.to) && t.from < t.to);
                prop_assert!(t.text.chars().count() <= MAX_TERM_CHARS, "{}", t.text);
            }
            let words = words(&input).count();
            prop_assert!(a.query_terms(&input).len() <= 2 * words);
            prop_assert!(prefix(&input, 10).chars().count() <= 10);
        }
    }
}
