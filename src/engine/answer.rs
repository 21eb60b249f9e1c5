//! Replies built from facts: order templates (order facts are never written by a model),
//! knowledge-base quotes, and the prompt for model-written answers.

use crate::marketplace::{Order, OrderStatus, Return, ReturnStatus};
use crate::texts::bot;

/// "28 ноября" in the shop's time zone.
pub fn date(ms: i64, offset_min: i32) -> String {
    let (day, month, _) = local(ms, offset_min);
    format!("{day} {}", bot::MONTHS[usize::from(month - 1)])
}

/// "28 ноября, 14:05".
pub fn date_time(ms: i64, offset_min: i32) -> String {
    let (_, _, minutes) = local(ms, offset_min);
    format!("{}, {:02}:{:02}", date(ms, offset_min), minutes / 60, minutes % 60)
}

fn local_date(ms: i64, offset_min: i32) -> time::Date {
    let secs = ms.div_euclid(1000) + i64::from(offset_min) * 60;
    time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH).date()
}

fn local(ms: i64, offset_min: i32) -> (u8, u8, i64) {
    let secs = ms.div_euclid(1000) + i64::from(offset_min) * 60;
    let t = time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    (t.day(), u8::from(t.month()), i64::from(t.hour()) * 60 + i64::from(t.minute()))
}

/// The reply about one order, from marketplace data only. `stale_since`: the marketplace could
/// not be asked, the data is as of then.
pub fn order(o: &Order, stale_since: Option<i64>, now: i64, offset_min: i32) -> String {
    let mut s = format!("Заказ {} ({}) {}", o.number, o.market.title(), bot::order_status(o.status));
    match o.status {
        OrderStatus::Delivered | OrderStatus::Cancelled => s.push_str(&format!(" {}.", date(o.status_at, offset_min))),
        _ => s.push('.'),
    }
    let items: Vec<String> = o
        .items
        .iter()
        .map(|i| {
            let size = i.size.as_deref().map(|z| format!(", размер {z}")).unwrap_or_default();
            format!("{}{size} — {} шт.", i.name, i.quantity)
        })
        .collect();
    if !items.is_empty() {
        s.push_str(&format!("\nСостав: {}", items.join("; ")));
    }
    match o.status {
        OrderStatus::New | OrderStatus::Assembled | OrderStatus::InTransit => match o.eta {
            Some(eta) if eta < now => s.push_str(&format!(
                "\nДоставка задерживается: заказ ожидался {}. Обычно такие задержки занимают 1–3 дня. \
                 Если заказ не придёт в ближайшие дни, напишите «оператор» — мы разберёмся.",
                date(eta, offset_min)
            )),
            Some(eta) => s.push_str(&format!("\nОжидаемая дата доставки — {}.", date(eta, offset_min))),
            None => {}
        },
        OrderStatus::ReadyForPickup => {
            if let Some(until) = o.storage_until {
                // Days left by the calendar of the shop's zone: "до 4 декабря" on 1 December is 3.
                let left = (local_date(until, offset_min) - local_date(now, offset_min)).whole_days();
                let left = match left {
                    ..=0 => " (сегодня последний день)".to_owned(),
                    n => format!(" (осталось {})", crate::texts::licence::days(n)),
                };
                s.push_str(&format!("\nЗаберите его, пожалуйста, до {} включительно{left}.", date(until, offset_min)));
            }
        }
        OrderStatus::Cancelled => {
            s.push_str(&format!("\nПричина отмены видна в личном кабинете {} в разделе заказов.", o.market.title()));
        }
        OrderStatus::Delivered | OrderStatus::Problem => {}
    }
    if let Some(p) = &o.pickup_point
        && matches!(o.status, OrderStatus::InTransit | OrderStatus::ReadyForPickup)
    {
        s.push_str(&format!("\nПункт выдачи: {p}."));
    }
    if let Some(t) = &o.tracking
        && o.status == OrderStatus::InTransit
    {
        s.push_str(&format!("\nТрек-номер: {t}."));
    }
    if let Some(at) = stale_since {
        s.push_str(&format!(
            "\n(Данные на {} — маркетплейс сейчас не отвечает, статус мог измениться.)",
            date_time(at, offset_min)
        ));
    }
    s
}

/// The latest return of an order, in a line for the order's reply: its status in our words,
/// the marketplace's comment when it refused, and when it last changed.
pub fn returns(list: &[Return], offset_min: i32) -> Option<String> {
    let r = list.first()?;
    let product = r.product.as_deref().map(|p| format!(" ({p})")).unwrap_or_default();
    let mut s = format!("Возврат{product}: {}", bot::return_status(r.status));
    if r.status == ReturnStatus::Rejected {
        s.push_str(&format!(". Подробности — в личном кабинете {}", r.market.title()));
    }
    s.push_str(&format!(", обновлено {}.", date(r.updated_at, offset_min)));
    Some(s)
}

/// The buyer's linked orders a question without a number means, narrowed step by step: the
/// marketplace it names (strictly: none there, none meant), then an item it names ("когда
/// худи приедет" → the order with the hoodie), then the pick-up point it asks about ("сколько
/// он пролежит в пвз" → the order waiting there). A step that would leave nothing is skipped.
/// `narrowed` tells whether an item or the pick-up point chose, which outweighs the order
/// discussed last.
pub fn meant_orders<'a>(linked: &'a [Order], text: &str) -> (Vec<&'a Order>, bool) {
    use crate::kb::compose::Marketplace;
    let named = Marketplace::named_in(text).map(Marketplace::market);
    let mut meant: Vec<&Order> = linked.iter().filter(|o| named.is_none_or(|m| o.market == m)).collect();
    let low = text.to_lowercase();
    let stems = item_stems(&low);
    let names = |o: &Order| names_item(o, &stems);
    let mut narrowed = false;
    let mut narrow = |meant: &mut Vec<&'a Order>, keep: &dyn Fn(&Order) -> bool| {
        let fewer: Vec<&Order> = meant.iter().copied().filter(|o| keep(o)).collect();
        if !fewer.is_empty() && fewer.len() < meant.len() {
            *meant = fewer;
            narrowed = true;
        }
    };
    narrow(&mut meant, &names);
    if PICKUP.is_match(&low) {
        narrow(&mut meant, &|o| o.status == OrderStatus::ReadyForPickup);
    }
    (meant, narrowed)
}

/// Whether the text names an item of one of the orders ("худи с вб уже отправили?" of an order
/// holding «Худи женское оверсайз»).
pub fn names_an_item(orders: &[Order], text: &str) -> bool {
    let stems = item_stems(&text.to_lowercase());
    orders.iter().any(|o| names_item(o, &stems))
}

/// The lower-cased text's words by their first five letters: "футболку" finds "Футболка …".
fn item_stems(low: &str) -> Vec<String> {
    crate::kb::analyzer::words(low)
        .filter(|(_, w)| w.chars().count() >= 4 && w.chars().all(char::is_alphabetic))
        .map(|(_, w)| w.chars().take(5).collect())
        .collect()
}

/// Whether one of the order's items has a word starting with one of `stems`.
fn names_item(o: &Order, stems: &[String]) -> bool {
    o.items.iter().any(|i| {
        let name = i.name.to_lowercase();
        crate::kb::analyzer::words(&name).any(|(_, n)| stems.iter().any(|s| n.starts_with(s.as_str())))
    })
}

/// Words about an order waiting at a pick-up point ("сколько пролежит", "успею забрать").
static PICKUP: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"пвз|пункт\w*\s+выдач|постамат|пролеж|хран|забрать|забирать|заберу|забер[её]т")
        .expect("a valid built-in pattern")
});

/// One line per order for "which one?".
pub fn order_line(o: &Order) -> String {
    let first = o.items.first().map(|i| format!(", {}", i.name)).unwrap_or_default();
    format!("• {} ({}{first}) — {}", o.number, o.market.title(), bot::order_status(o.status))
}

/// Markdown of a passage as plain chat text: no emphasis marks, headings or table rules.
pub fn plain(text: &str) -> String {
    let mut out = Vec::new();
    for line in text.lines() {
        let l = line.trim();
        if l.chars().all(|c| matches!(c, '|' | '-' | ':' | ' ')) && l.contains('-') {
            continue;
        }
        let l = l.trim_start_matches('#').trim();
        let l = l.replace("**", "").replace("__", "");
        let l = if l.starts_with('|') {
            l.trim_matches('|').split('|').map(str::trim).collect::<Vec<_>>().join(" — ")
        } else {
            l
        };
        if !l.is_empty() {
            out.push(l);
        }
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marketplace::{Market, OrderItem};

    const DAY: i64 = 86_400_000;
    // 2026-11-27 12:00 UTC.
    const NOW: i64 = 1_795_132_800_000 + 7 * DAY + 12 * 3_600_000;

    fn sample(status: OrderStatus, eta: Option<i64>) -> Order {
        Order {
            market: Market::Wb,
            number: "4102938475".into(),
            status,
            status_raw: "x".into(),
            phone: Some("+79161112233".into()),
            reference: None,
            items: vec![OrderItem {
                article: "1".into(),
                name: "Футболка".into(),
                size: Some("M".into()),
                quantity: 1,
                price_rub: 1290.0,
            }],
            tracking: None,
            pickup_point: Some("Москва, ул. Профсоюзная, 56".into()),
            storage_until: Some(NOW + 5 * DAY),
            eta,
            created_at: NOW - 3 * DAY,
            status_at: NOW - DAY,
            synced_at: NOW,
        }
    }

    #[test]
    fn order_replies_say_only_what_the_marketplace_said() {
        let s = order(&sample(OrderStatus::InTransit, Some(NOW + 2 * DAY)), None, NOW, 180);
        assert!(s.starts_with("Заказ 4102938475 (Wildberries) в пути."), "{s}");
        assert!(s.contains("29 ноября") && s.contains("Профсоюзная, 56") && s.contains("размер M"));
        assert!(!s.contains("+7916"), "the buyer's phone is never written");
        let late = order(&sample(OrderStatus::InTransit, Some(NOW - 2 * DAY)), None, NOW, 180);
        assert!(late.contains("задерживается") && late.contains("25 ноября"), "{late}");
        let pickup = order(&sample(OrderStatus::ReadyForPickup, None), Some(NOW - DAY), NOW, 180);
        assert!(pickup.contains("ждёт вас в пункте выдачи") && pickup.contains("2 декабря"), "{pickup}");
        assert!(pickup.contains("до 2 декабря включительно (осталось 5 дней)"), "{pickup}");
        assert!(pickup.contains("Данные на 26 ноября, 15:00"), "{pickup}");
    }

    #[test]
    fn a_question_without_a_number_means_the_order_it_names() {
        let with = |market: Market, number: &str, status: OrderStatus, item: &str| Order {
            market,
            number: number.into(),
            items: vec![OrderItem { name: item.into(), ..sample(status, None).items[0].clone() }],
            ..sample(status, None)
        };
        let linked = [
            with(Market::Wb, "4102938480", OrderStatus::Assembled, "Худи женское оверсайз с капюшоном"),
            with(Market::Ozon, "57195475-0050-3", OrderStatus::InTransit, "Футболка женская базовая"),
            with(Market::Ozon, "60311822-0007-1", OrderStatus::ReadyForPickup, "Джинсы мом"),
        ];
        let meant = |text: &str| {
            let (m, narrowed) = meant_orders(&linked, text);
            (m.iter().map(|o| o.number.as_str()).collect::<Vec<_>>(), narrowed)
        };
        assert_eq!(meant("когда футболку привезут"), (vec!["57195475-0050-3"], true));
        assert_eq!(meant("худи с вб уже отправили?"), (vec!["4102938480"], false));
        assert_eq!(meant("сколько ещё мой заказ пролежит в пвз"), (vec!["60311822-0007-1"], true));
        assert_eq!(meant("что с заказом на озоне"), (vec!["57195475-0050-3", "60311822-0007-1"], false));
        assert_eq!(meant("где мой заказ").0.len(), 3, "nothing named: every order");
        assert_eq!(meant("худи на озоне когда").0.len(), 2, "no hoodie on Ozon: the step is skipped");
    }

    #[test]
    fn markdown_becomes_chat_text() {
        let md = "## Сроки\n\n**Возврат** в течение 14 дней.\n\n| Канал | Когда |\n|---|---|\n| Чат | 9–21 |";
        assert_eq!(plain(md), "Сроки\nВозврат в течение 14 дней.\nКанал — Когда\nЧат — 9–21");
    }
}
