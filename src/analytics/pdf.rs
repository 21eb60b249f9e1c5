//! The PDF report of a period: the summary against the previous period, the trend chart, the
//! funnel, handoffs, intents, ratings, channels, knowledge gaps, articles, operators and the
//! activity heatmap. Drawn with `pdf-writer`; text in DejaVu Sans (embedded as a subset, with
//! a ToUnicode map, so the Russian text can be searched and copied), shipped in
//! `assets/fonts/` with its licence.

use std::collections::BTreeMap;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use super::figures::{Figures, Report};
use super::period::{local_date, local_rfc3339};
use crate::texts::reports as t;

const W: f32 = 595.0;
const H: f32 = 842.0;
const MARGIN: f32 = 40.0;

const INK: [f32; 3] = [0.12, 0.14, 0.18];
const MUTED: [f32; 3] = [0.42, 0.45, 0.5];
const BLUE: [f32; 3] = [0.16, 0.42, 0.85];
const GREEN: [f32; 3] = [0.18, 0.62, 0.38];
const ORANGE: [f32; 3] = [0.93, 0.55, 0.16];
const RULE: [f32; 3] = [0.85, 0.87, 0.9];

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("the report font is missing from the build")]
    NoFont,
    #[error("the report font cannot be read: {0}")]
    Font(String),
}

struct Font {
    data: Vec<u8>,
    name: &'static str,
}

impl Font {
    fn load(file: &str, name: &'static str) -> Result<Self, PdfError> {
        let data = crate::http::Assets::get(&format!("fonts/{file}")).ok_or(PdfError::NoFont)?.data.into_owned();
        ttf_parser::Face::parse(&data, 0).map_err(|e| PdfError::Font(e.to_string()))?;
        Ok(Self { data, name })
    }

    fn face(&self) -> ttf_parser::Face<'_> {
        // Parsed once in `load`: it cannot fail here.
        ttf_parser::Face::parse(&self.data, 0).unwrap_or_else(|_| unreachable!("checked in Font::load"))
    }
}

enum Op {
    Text { font: usize, size: f32, x: f32, y: f32, text: String, rgb: [f32; 3] },
    Rect { x: f32, y: f32, w: f32, h: f32, rgb: [f32; 3] },
    Line { x1: f32, y1: f32, x2: f32, y2: f32, width: f32, rgb: [f32; 3] },
}

/// A page-by-page layout: a cursor from the top, drawing operations in top-down coordinates.
struct Doc {
    fonts: [Font; 2],
    pages: Vec<Vec<Op>>,
    y: f32,
}

const REGULAR: usize = 0;
const BOLD: usize = 1;

impl Doc {
    fn new() -> Result<Self, PdfError> {
        Ok(Self {
            fonts: [Font::load("DejaVuSans.ttf", "DejaVuSans")?, Font::load("DejaVuSans-Bold.ttf", "DejaVuSans-Bold")?],
            pages: vec![Vec::new()],
            y: MARGIN,
        })
    }

    fn ops(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn width(&self, font: usize, size: f32, text: &str) -> f32 {
        let face = self.fonts[font].face();
        let upem = f32::from(face.units_per_em());
        text.chars()
            .map(|c| {
                let g = face.glyph_index(c).unwrap_or(ttf_parser::GlyphId(0));
                f32::from(face.glyph_hor_advance(g).unwrap_or(0))
            })
            .sum::<f32>()
            * size
            / upem
    }

    /// `text` cut with "…" to fit `max` points.
    fn fit(&self, font: usize, size: f32, text: &str, max: f32) -> String {
        if self.width(font, size, text) <= max {
            return text.to_owned();
        }
        let mut out: String = text.to_owned();
        while !out.is_empty() && self.width(font, size, &format!("{out}…")) > max {
            out.pop();
        }
        format!("{}…", out.trim_end())
    }

    fn text(&mut self, font: usize, size: f32, x: f32, y: f32, text: &str, rgb: [f32; 3]) {
        let text = text.replace(['\n', '\r', '\t'], " ");
        self.ops().push(Op::Text { font, size, x, y, text, rgb });
    }

    fn text_right(&mut self, font: usize, size: f32, right: f32, y: f32, text: &str, rgb: [f32; 3]) {
        let w = self.width(font, size, text);
        self.text(font, size, right - w, y, text, rgb);
    }

    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, rgb: [f32; 3]) {
        if w > 0.0 && h > 0.0 {
            self.ops().push(Op::Rect { x, y, w, h, rgb });
        }
    }

    fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, width: f32, rgb: [f32; 3]) {
        self.ops().push(Op::Line { x1, y1, x2, y2, width, rgb });
    }

    /// Starts a new page unless `h` more points fit on this one.
    fn need(&mut self, h: f32) {
        if self.y + h > H - MARGIN {
            self.pages.push(Vec::new());
            self.y = MARGIN;
        }
    }

    fn heading(&mut self, text: &str) {
        self.need(60.0);
        self.y += 14.0;
        let y = self.y + 12.0;
        self.text(BOLD, 12.0, MARGIN, y, text, INK);
        self.y += 20.0;
    }

    fn note(&mut self, text: &str) {
        self.need(16.0);
        let y = self.y + 10.0;
        self.text(REGULAR, 9.0, MARGIN, y, text, MUTED);
        self.y += 16.0;
    }

    /// A table: the first column left-aligned, the others right-aligned; columns' right edges
    /// at `stops` (fractions of the text width).
    fn table(&mut self, header: &[&str], rows: &[Vec<String>], stops: &[f32]) {
        let inner = W - 2.0 * MARGIN;
        let size = 9.0;
        let row_h = 15.0;
        self.need(row_h * 2.0);
        let draw_row = |doc: &mut Doc, cells: &[String], font: usize, rgb: [f32; 3]| {
            let y = doc.y + 11.0;
            let first_max = stops.first().map_or(inner, |s| s * inner) - 6.0;
            let first = doc.fit(font, size, cells.first().map_or("", String::as_str), first_max);
            doc.text(font, size, MARGIN, y, &first, rgb);
            for (i, cell) in cells.iter().enumerate().skip(1) {
                let right = MARGIN + stops.get(i).copied().unwrap_or(1.0) * inner;
                let left = MARGIN + stops.get(i - 1).copied().unwrap_or(0.0) * inner;
                let cell = doc.fit(font, size, cell, right - left - 4.0);
                doc.text_right(font, size, right, y, &cell, rgb);
            }
            doc.y += row_h;
            doc.line(MARGIN, doc.y, W - MARGIN, doc.y, 0.5, RULE);
        };
        let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
        draw_row(self, &header, BOLD, MUTED);
        for r in rows {
            if self.y + row_h > H - MARGIN {
                self.need(row_h * 2.0);
                draw_row(self, &header, BOLD, MUTED);
            }
            draw_row(self, r, REGULAR, INK);
        }
        self.y += 4.0;
    }

    /// Horizontal bars with a label and a value each.
    fn bars(&mut self, items: &[(String, f64, String)], rgb: [f32; 3]) {
        let max = items.iter().map(|i| i.1).fold(0.0, f64::max);
        let label_w = 190.0;
        let value_w = 70.0;
        let bar_max = W - 2.0 * MARGIN - label_w - value_w;
        for (label, v, shown) in items {
            self.need(16.0);
            let y = self.y + 11.0;
            let label = self.fit(REGULAR, 9.0, label, label_w - 8.0);
            self.text(REGULAR, 9.0, MARGIN, y, &label, INK);
            let w = if max > 0.0 { (v / max) as f32 * bar_max } else { 0.0 };
            self.rect(MARGIN + label_w, self.y + 3.0, w.max(if *v > 0.0 { 1.5 } else { 0.0 }), 9.0, rgb);
            self.text_right(REGULAR, 9.0, W - MARGIN, y, shown, INK);
            self.y += 15.0;
        }
        self.y += 4.0;
    }

    /// Two series of columns per bucket (total, and its part) with sparse date labels.
    fn columns(&mut self, labels: &[String], total: &[i64], part: &[i64]) {
        let h = 130.0;
        self.need(h + 30.0);
        let top = self.y;
        let left = MARGIN + 28.0;
        let width = W - MARGIN - left;
        let max = total.iter().copied().max().unwrap_or(0).max(1);
        let base = top + h;
        self.line(left, base, W - MARGIN, base, 0.7, MUTED);
        self.line(left, top, W - MARGIN, top, 0.3, RULE);
        self.text_right(REGULAR, 8.0, left - 4.0, top + 4.0, &max.to_string(), MUTED);
        self.text_right(REGULAR, 8.0, left - 4.0, base, "0", MUTED);
        let n = total.len().max(1);
        let slot = width / n as f32;
        let bar = (slot * 0.7).max(0.8);
        let every = (n as f32 / 8.0).ceil().max(1.0) as usize;
        for (i, (tot, p)) in total.iter().zip(part).enumerate() {
            let x = left + slot * i as f32 + (slot - bar) / 2.0;
            let th = *tot as f32 / max as f32 * h;
            let ph = *p as f32 / max as f32 * h;
            self.rect(x, base - th, bar, th, BLUE);
            self.rect(x, base - ph, bar, ph, GREEN);
            if i % every == 0 {
                let label = labels.get(i).cloned().unwrap_or_default();
                self.text(REGULAR, 7.0, x, base + 10.0, &label, MUTED);
            }
        }
        self.y = base + 16.0;
        let y = self.y + 9.0;
        self.rect(MARGIN, self.y + 2.0, 8.0, 8.0, BLUE);
        self.text(REGULAR, 8.0, MARGIN + 12.0, y, t::CHART_ALL, MUTED);
        self.rect(MARGIN + 100.0, self.y + 2.0, 8.0, 8.0, GREEN);
        self.text(REGULAR, 8.0, MARGIN + 112.0, y, t::CHART_AUTOMATED, MUTED);
        self.y += 16.0;
    }

    fn heatmap(&mut self, cells: &[Vec<i64>], max: i64) {
        let cell_w = (W - 2.0 * MARGIN - 24.0) / 24.0;
        let cell_h = 13.0;
        self.need(cell_h * 8.0 + 10.0);
        let left = MARGIN + 24.0;
        for h in (0..24).step_by(3) {
            let y = self.y + 8.0;
            self.text(REGULAR, 7.0, left + cell_w * h as f32, y, &format!("{h}:00"), MUTED);
        }
        self.y += 11.0;
        for (d, row) in cells.iter().enumerate().take(7) {
            let y = self.y + 10.0;
            self.text(REGULAR, 8.0, MARGIN, y, t::WEEKDAYS[d], MUTED);
            for (h, n) in row.iter().enumerate().take(24) {
                let share = if max > 0 { *n as f32 / max as f32 } else { 0.0 };
                let shade = [1.0 - 0.8 * share, 1.0 - 0.55 * share, 1.0 - 0.1 * share];
                self.rect(left + cell_w * h as f32, self.y, cell_w - 1.0, cell_h - 1.0, shade);
            }
            self.y += cell_h;
        }
        self.y += 6.0;
    }

    fn finish(self, title: &str) -> Vec<u8> {
        // Glyphs used per font, remapped to the subset's consecutive ids.
        let mut used: [BTreeMap<u16, char>; 2] = [BTreeMap::new(), BTreeMap::new()];
        for op in self.pages.iter().flatten() {
            if let Op::Text { font, text, .. } = op {
                let face = self.fonts[*font].face();
                for c in text.chars() {
                    if let Some(g) = face.glyph_index(c) {
                        used[*font].entry(g.0).or_insert(c);
                    }
                }
            }
        }
        let mut remappers = [subsetter::GlyphRemapper::new(), subsetter::GlyphRemapper::new()];
        for (i, u) in used.iter().enumerate() {
            for g in u.keys() {
                remappers[i].remap(*g);
            }
        }

        let mut pdf = Pdf::new();
        let mut next = 1;
        let mut id = || {
            let r = Ref::new(next);
            next += 1;
            r
        };
        let catalog = id();
        let tree = id();
        let info = id();
        let font_ids: Vec<[Ref; 5]> = (0..2).map(|_| [id(), id(), id(), id(), id()]).collect();
        let page_ids: Vec<(Ref, Ref)> = self.pages.iter().map(|_| (id(), id())).collect();
        pdf.catalog(catalog).pages(tree);
        pdf.pages(tree).kids(page_ids.iter().map(|p| p.0)).count(page_ids.len() as i32);
        pdf.document_info(info).title(TextStr(title)).producer(TextStr("supportd"));

        for (i, font) in self.fonts.iter().enumerate() {
            let [type0, cid, descriptor, file, cmap] = font_ids[i];
            let face = font.face();
            let upem = f32::from(face.units_per_em());
            let scale = |v: i16| f32::from(v) * 1000.0 / upem;
            let base = format!("SPTD{}+{}", (b'A' + i as u8) as char, font.name);
            let base = Name(base.as_bytes());
            pdf.type0_font(type0)
                .base_font(base)
                .encoding_predefined(Name(b"Identity-H"))
                .descendant_font(cid)
                .to_unicode(cmap);
            let system = SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"Identity"), supplement: 0 };
            let mut c = pdf.cid_font(cid);
            c.subtype(CidFontType::Type2)
                .base_font(base)
                .system_info(system)
                .font_descriptor(descriptor)
                .default_width(0.0);
            c.cid_to_gid_map_predefined(Name(b"Identity"));
            let widths: Vec<f32> =
                std::iter::once(0.0)
                    .chain(used[i].keys().map(|g| {
                        f32::from(face.glyph_hor_advance(ttf_parser::GlyphId(*g)).unwrap_or(0)) * 1000.0 / upem
                    }))
                    .collect();
            c.widths().consecutive(0, widths);
            c.finish();
            let b = face.global_bounding_box();
            pdf.font_descriptor(descriptor)
                .name(base)
                .flags(FontFlags::NON_SYMBOLIC)
                .bbox(Rect::new(scale(b.x_min), scale(b.y_min), scale(b.x_max), scale(b.y_max)))
                .italic_angle(0.0)
                .ascent(scale(face.ascender()))
                .descent(scale(face.descender()))
                .cap_height(scale(face.capital_height().unwrap_or(face.ascender())))
                .stem_v(if i == BOLD { 120.0 } else { 80.0 })
                .font_file2(file);
            let subset = subsetter::subset(&font.data, 0, &remappers[i]).unwrap_or_else(|_| font.data.clone());
            let packed = miniz_oxide::deflate::compress_to_vec_zlib(&subset, 6);
            pdf.stream(file, &packed).filter(Filter::FlateDecode).pair(Name(b"Length1"), subset.len() as i32);
            let mut map = UnicodeCmap::new(Name(b"Custom"), system);
            for (g, ch) in &used[i] {
                if let Some(new) = remappers[i].get(*g) {
                    map.pair(new, *ch);
                }
            }
            pdf.cmap(cmap, &map.finish()).name(Name(b"Custom")).system_info(system);
        }

        for (page, (page_id, content_id)) in self.pages.iter().zip(&page_ids) {
            let mut content = Content::new();
            for op in page {
                match op {
                    Op::Rect { x, y, w, h, rgb } => {
                        content.set_fill_rgb(rgb[0], rgb[1], rgb[2]);
                        content.rect(*x, H - y - h, *w, *h).fill_nonzero();
                    }
                    Op::Line { x1, y1, x2, y2, width, rgb } => {
                        content.set_stroke_rgb(rgb[0], rgb[1], rgb[2]).set_line_width(*width);
                        content.move_to(*x1, H - y1).line_to(*x2, H - y2).stroke();
                    }
                    Op::Text { font, size, x, y, text, rgb } => {
                        let face = self.fonts[*font].face();
                        let mut bytes = Vec::with_capacity(text.len() * 2);
                        for c in text.chars() {
                            let g = face.glyph_index(c).and_then(|g| remappers[*font].get(g.0)).unwrap_or(0);
                            bytes.extend_from_slice(&g.to_be_bytes());
                        }
                        content.set_fill_rgb(rgb[0], rgb[1], rgb[2]);
                        content.begin_text().set_font(Name(if *font == BOLD { b"F2" } else { b"F1" }), *size);
                        content.next_line(*x, H - y).show(Str(&bytes)).end_text();
                    }
                }
            }
            let data = content.finish();
            let packed = miniz_oxide::deflate::compress_to_vec_zlib(&data, 6);
            pdf.stream(*content_id, &packed).filter(Filter::FlateDecode);
            let mut p = pdf.page(*page_id);
            p.media_box(Rect::new(0.0, 0.0, W, H)).parent(tree).contents(*content_id);
            p.resources().fonts().pair(Name(b"F1"), font_ids[0][0]).pair(Name(b"F2"), font_ids[1][0]);
            p.finish();
        }
        pdf.finish()
    }
}

fn or_dash<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map_or_else(|| t::NO_VALUE.to_owned(), f)
}

/// A summary figure as people read it.
pub fn shown(f: &Figures, key: &str) -> String {
    match key {
        "conversations" => f.conversations.to_string(),
        "automation_rate" => or_dash(f.automation_rate, t::percent),
        "automated" => f.automated.to_string(),
        "handoffs" => f.handoffs.to_string(),
        "resolved" => f.resolved.to_string(),
        "messages_buyer" => f.messages_buyer.to_string(),
        "messages_bot" => f.messages_bot.to_string(),
        "messages_operator" => f.messages_operator.to_string(),
        "bot_answer_ms_p50" => or_dash(f.bot_answer_ms_p50, t::duration_ms),
        "first_human_response_s_p50" => or_dash(f.first_human_response_s_p50, t::duration_s),
        "resolution_s_p50" => or_dash(f.resolution_s_p50, t::duration_s),
        "csat_avg" => or_dash(f.csat_avg, |v| t::decimal(v, 2)),
        "ratings" => f.ratings.to_string(),
        _ => String::new(),
    }
}

/// The value behind a summary figure (for its change).
fn value(f: &Figures, key: &str) -> Option<f64> {
    match key {
        "conversations" => Some(f.conversations as f64),
        "automation_rate" => f.automation_rate,
        "automated" => Some(f.automated as f64),
        "handoffs" => Some(f.handoffs as f64),
        "resolved" => Some(f.resolved as f64),
        "messages_buyer" => Some(f.messages_buyer as f64),
        "messages_bot" => Some(f.messages_bot as f64),
        "messages_operator" => Some(f.messages_operator as f64),
        "bot_answer_ms_p50" => f.bot_answer_ms_p50.map(|v| v as f64),
        "first_human_response_s_p50" => f.first_human_response_s_p50,
        "resolution_s_p50" => f.resolution_s_p50,
        "csat_avg" => f.csat_avg,
        "ratings" => Some(f.ratings as f64),
        _ => None,
    }
}

/// The change from the previous period: points for rates, percent otherwise.
pub fn change(cur: &Figures, prev: &Figures, key: &str) -> String {
    match (value(cur, key), value(prev, key)) {
        (Some(c), Some(p)) if key == "automation_rate" => {
            let d = (c - p) * 100.0;
            t::points(d)
        }
        (Some(c), Some(p)) if p != 0.0 => {
            let d = (c - p) / p * 100.0;
            format!("{}{} %", if d > 0.0 { "+" } else { "" }, t::decimal(d, 0))
        }
        _ => t::NO_VALUE.to_owned(),
    }
}

/// Renders the report of a period for the shop `shop`.
pub fn render(r: &Report, shop: &str) -> Result<Vec<u8>, PdfError> {
    let mut doc = Doc::new()?;
    let off = r.period.utc_offset_minutes;
    let ms = |s: &str| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
            .unwrap_or(0)
    };
    let day = |s: &str, end: bool| {
        let t = ms(s) - i64::from(end);
        local_date(t, off).split('-').rev().collect::<Vec<_>>().join(".")
    };
    let title = format!("{} — «{shop}»", t::TITLE);
    doc.text(BOLD, 17.0, MARGIN, doc.y + 16.0, &title, INK);
    doc.y += 26.0;
    let line = t::period_line(
        &day(&r.period.from, false),
        &day(&r.period.to, true),
        &day(&r.period.previous_from, false),
        &day(&r.period.previous_to, true),
    );
    doc.note(&line);
    let zone = format!(
        "{} UTC{:+}:{:02} · {} {}",
        t::TIMEZONE,
        off / 60,
        (off % 60).abs(),
        t::GENERATED,
        local_rfc3339(ms(&r.generated_at), off).replace('T', " ").get(..16).unwrap_or_default()
    );
    doc.note(&zone);

    doc.heading(t::SUMMARY);
    let rows: Vec<Vec<String>> = t::FIGURES
        .iter()
        .map(|(key, label)| {
            vec![
                (*label).to_owned(),
                shown(&r.summary, key),
                shown(&r.previous, key),
                change(&r.summary, &r.previous, key),
            ]
        })
        .collect();
    doc.table(&[t::FIGURE, t::CURRENT, t::PREVIOUS, t::CHANGE], &rows, &[0.5, 0.68, 0.84, 1.0]);

    doc.heading(t::TREND);
    if r.trend.iter().all(|p| p.conversations == 0) {
        doc.note(t::NOTHING);
    } else {
        let labels: Vec<String> = r
            .trend
            .iter()
            .map(|p| p.start.get(5..10).unwrap_or_default().split('-').rev().collect::<Vec<_>>().join("."))
            .collect();
        let total: Vec<i64> = r.trend.iter().map(|p| p.conversations).collect();
        let part: Vec<i64> = r.trend.iter().map(|p| p.automated).collect();
        doc.columns(&labels, &total, &part);
    }

    doc.heading(t::FUNNEL);
    let f = &r.funnel;
    let stages = [f.inquiries, f.bot_answered, f.handed, f.resolved];
    let items: Vec<(String, f64, String)> =
        t::FUNNEL_STAGES.iter().zip(stages).map(|(label, n)| ((*label).to_owned(), n as f64, n.to_string())).collect();
    doc.bars(&items, BLUE);

    doc.heading(t::HANDOFFS);
    if r.handoffs.is_empty() {
        doc.note(t::NOTHING);
    } else {
        let rows: Vec<Vec<String>> = r
            .handoffs
            .iter()
            .map(|h| vec![t::reason(h.reason).to_owned(), h.conversations.to_string(), h.previous.to_string()])
            .collect();
        doc.table(&t::REASON_COLUMNS, &rows, &[0.6, 0.8, 1.0]);
    }

    doc.heading(t::INTENTS);
    if r.intents.is_empty() {
        doc.note(t::NOTHING);
    } else {
        let rows: Vec<Vec<String>> = r
            .intents
            .iter()
            .take(12)
            .map(|i| {
                vec![
                    t::intent(i.intent).to_owned(),
                    i.conversations.to_string(),
                    i.automated.to_string(),
                    i.previous.to_string(),
                ]
            })
            .collect();
        doc.table(&t::INTENT_COLUMNS, &rows, &[0.55, 0.7, 0.85, 1.0]);
    }

    doc.heading(t::CSAT);
    let items: Vec<(String, f64, String)> = r
        .csat
        .distribution
        .iter()
        .enumerate()
        .rev()
        .map(|(i, n)| (format!("{} ★", i + 1), *n as f64, n.to_string()))
        .collect();
    doc.bars(&items, ORANGE);
    doc.note(&format!(
        "{}: {} · {}: {}",
        t::FIGURES[11].1,
        or_dash(r.csat.average, |v| t::decimal(v, 2)),
        t::FIGURES[12].1,
        r.csat.ratings
    ));

    doc.heading(t::CHANNELS);
    if r.channels.is_empty() {
        doc.note(t::NOTHING);
    } else {
        let rows: Vec<Vec<String>> = r
            .channels
            .iter()
            .map(|c| {
                vec![
                    t::source(c.source).to_owned(),
                    c.conversations.to_string(),
                    or_dash(c.automation_rate, t::percent),
                    c.handoffs.to_string(),
                    or_dash(c.csat_avg, |v| t::decimal(v, 2)),
                ]
            })
            .collect();
        doc.table(&t::CHANNEL_COLUMNS, &rows, &[0.4, 0.55, 0.72, 0.86, 1.0]);
    }

    doc.heading(t::GAPS);
    if r.gaps.is_empty() {
        doc.note(t::NOTHING);
    } else {
        let rows: Vec<Vec<String>> = r
            .gaps
            .iter()
            .take(12)
            .map(|g| {
                vec![g.example.clone(), g.count.to_string(), t::gap_kinds(g.not_found, g.low_confidence, g.taken_over)]
            })
            .collect();
        doc.table(&t::GAP_COLUMNS, &rows, &[0.6, 0.68, 1.0]);
    }

    doc.heading(t::ARTICLES);
    if r.articles.is_empty() {
        doc.note(t::NOTHING);
    } else {
        let rows: Vec<Vec<String>> = r
            .articles
            .iter()
            .take(12)
            .map(|a| {
                let title = if a.title.is_empty() { a.doc.clone() } else { a.title.clone() };
                vec![
                    title,
                    a.conversations.to_string(),
                    a.rated_good.to_string(),
                    or_dash(a.csat_avg, |v| t::decimal(v, 2)),
                ]
            })
            .collect();
        doc.table(&t::ARTICLE_COLUMNS, &rows, &[0.55, 0.7, 0.85, 1.0]);
    }

    doc.heading(t::OPERATORS);
    if r.operators.is_empty() {
        doc.note(t::NOTHING);
    } else {
        let rows: Vec<Vec<String>> = r
            .operators
            .iter()
            .map(|o| {
                let who = if !o.name.is_empty() {
                    o.name.clone()
                } else if o.email.is_empty() {
                    "—".into()
                } else {
                    o.email.clone()
                };
                vec![
                    who,
                    o.replies.to_string(),
                    o.conversations.to_string(),
                    o.first_responses.to_string(),
                    or_dash(o.first_response_s_p50, t::duration_s),
                ]
            })
            .collect();
        doc.table(&t::OPERATOR_COLUMNS, &rows, &[0.4, 0.52, 0.66, 0.8, 1.0]);
    }

    doc.heading(t::HEATMAP);
    doc.heatmap(&r.heatmap.cells, r.heatmap.max);
    Ok(doc.finish(&title))
}
