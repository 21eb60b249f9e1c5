//! Places in buyer messages and the regions they lie in: a buyer asks "сколько дней до Казани",
//! a shop's delivery table says "Поволжье — 2–4 дня". The large cities of Russia (and the
//! capitals of the countries marketplaces deliver to) with the macro-region and country names
//! that delivery rules use, so a knowledge base written in regions answers a question written
//! in cities. Matched by stem, so every case form counts ("в Казани", "до Казани", "Казанью").

/// (stems a word may start with, the names of its region as delivery rules write them).
const PLACES: &[(&[&str], &str)] = &[
    (&["москв", "мск"], "Москва и Московская область"),
    (&["подмосков", "химк", "балаших", "подольск", "мытищ", "люберц", "королёв", "королев"], "Московская область"),
    (&["санкт-петербург", "петербург", "питер", "спб", "ленобласт"], "Санкт-Петербург и Ленинградская область"),
    (
        &[
            "воронеж",
            "ярославл",
            "тул",
            "рязан",
            "липецк",
            "курск",
            "белгород",
            "брянск",
            "иваново",
            "иванове",
            "калуг",
            "твер",
            "смоленск",
            "тамбов",
            "костром",
        ],
        "Центральная Россия",
    ),
    (
        &[
            "казан",
            "нижний новгород",
            "нижнем новгороде",
            "нижнего новгорода",
            "нижегород",
            "самар",
            "уф",
            "пермь",
            "перми",
            "пермск",
            "саратов",
            "тольятти",
            "ижевск",
            "ульяновск",
            "пенз",
            "оренбург",
            "чебоксар",
            "набережн",
            "йошкар",
            "саранск",
        ],
        "Поволжье",
    ),
    (
        &[
            "екатеринбург",
            "екб",
            "ёбург",
            "челябинск",
            "тюмен",
            "магнитогорск",
            "курган",
            "сургут",
            "нижневартовск",
            "ханты",
        ],
        "Урал",
    ),
    (
        &[
            "ростов",
            "краснодар",
            "сочи",
            "волгоград",
            "астрахан",
            "ставрополь",
            "новороссийск",
            "анап",
            "севастопол",
            "симферопол",
            "крым",
            "махачкал",
            "грозн",
            "владикавказ",
            "нальчик",
        ],
        "Юг России",
    ),
    (
        &[
            "новосиб",
            "омск",
            "красноярск",
            "барнаул",
            "иркутск",
            "томск",
            "кемеров",
            "новокузнецк",
            "абакан",
            "улан-удэ",
            "чит",
        ],
        "Сибирь",
    ),
    (
        &[
            "владивосток",
            "хабаровск",
            "благовещенск",
            "южно-сахалинск",
            "сахалин",
            "комсомольск",
            "якутск",
            "находк",
            "уссурийск",
            "биробиджан",
        ],
        "Дальний Восток",
    ),
    (&["камчат", "петропавловск-камчатск", "магадан", "чукот", "анадыр", "норильск"], "Труднодоступные районы"),
    (
        &[
            "архангельск",
            "мурманск",
            "калининград",
            "вологд",
            "петрозаводск",
            "сыктывкар",
            "великий новгород",
            "псков",
            "череповец",
        ],
        "Северо-Запад",
    ),
    (&["минск", "гомел", "брест", "витебск", "гродн", "могилёв", "могилев", "беларус", "белорус"], "Беларусь, ЕАЭС"),
    (&["алмат", "астан", "шымкент", "караганд", "казахстан"], "Казахстан, ЕАЭС"),
    (&["бишкек", "киргиз", "кыргыз", "ош"], "Кыргызстан (Киргизия), СНГ, ЕАЭС"),
    (&["ереван", "армени"], "Армения, СНГ, ЕАЭС"),
    (&["ташкент", "узбекистан", "самарканд"], "Узбекистан, СНГ"),
];

/// Short stems that must be the whole word (or the word plus a one-letter case ending), not a prefix of
/// another word: "уф" is Уфа, not "уфф"; "ош" is Ош, not "ошибка". (Names that are also
/// words or people's names — Орёл, Киров, Владимир — are left out.)
const WHOLE: &[&str] = &["мск", "спб", "екб", "уф", "тул", "ош", "пенз", "анап", "чит"];

/// The regions of the places a text names, each once, in the order of the list.
pub fn regions_of(text: &str) -> Vec<&'static str> {
    let low = text.to_lowercase();
    let words: Vec<&str> = crate::kb::analyzer::words(&low).map(|(_, w)| w).collect();
    let named = |stem: &str| {
        words.iter().any(|w| {
            if WHOLE.contains(&stem) {
                w.strip_prefix(stem).is_some_and(|rest| rest.chars().count() <= 1 && rest != "ф")
            } else {
                w.starts_with(stem) && w.chars().count() >= stem.chars().count().min(4)
            }
        }) || (stem.contains(' ') && low.contains(stem))
    };
    let mut out = Vec::new();
    for (stems, region) in PLACES {
        if stems.iter().any(|s| named(s)) && !out.contains(region) {
            out.push(*region);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cities_in_any_case_name_their_region() {
        assert_eq!(regions_of("сколько дней до Казани везут"), ["Поволжье"]);
        assert_eq!(regions_of("сколько идёт до Екатеринбурга"), ["Урал"]);
        assert_eq!(regions_of("я из новосиба"), ["Сибирь"]);
        assert_eq!(regions_of("в бишкек доставляете?"), ["Кыргызстан (Киргизия), СНГ, ЕАЭС"]);
        assert_eq!(regions_of("живу в Уфе"), ["Поволжье"]);
        assert_eq!(regions_of("в нижнем новгороде есть пвз?"), ["Поволжье"]);
        assert_eq!(
            regions_of("доставка в спб и в Москву"),
            ["Москва и Московская область", "Санкт-Петербург и Ленинградская область"]
        );
    }

    #[test]
    fn ordinary_words_are_not_places() {
        for text in [
            "как вернуть товар",
            "читать инструкцию",
            "уфф, наконец-то",
            "можно ли оплатить частями",
            "нижнее бельё вернуть можно?",
            "ошибка при оплате",
            "читаю отзывы",
            "Иванова Мария, заказ на Владимира",
        ] {
            assert!(regions_of(text).is_empty(), "{text}: {:?}", regions_of(text));
        }
    }
}
