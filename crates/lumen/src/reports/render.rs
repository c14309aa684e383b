//! A report's three formats from the same analytics results
//! (docs/reports.md): JSON (the analytics envelope), CSV (one tidy table,
//! one row per value) and PDF (a title page, then a page per analytic with
//! its key numbers and a chart).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use std::collections::BTreeSet;
use std::sync::Arc;

use krilla::tagging::{Tag, TagGroup};
use lumen_core::chart::{self, Chart, label};

use super::pdf::{
    Align, Color, DocInfo, Fonts, PAGE_HEIGHT, PAGE_WIDTH, PageCanvas, Writer, color,
};
use crate::analytics::{DataSource, STALE_AFTER};

/// One analytic's outcome in a report.
#[derive(Debug, Clone)]
pub struct Section {
    pub analytic: &'static str,
    /// The analytic's `data`, or its error code and message.
    pub result: Result<Value, (String, String)>,
}

/// Everything a report shows.
#[derive(Debug, Clone)]
pub struct ReportData {
    pub id: uuid::Uuid,
    /// `learner` | `trainer` | `organization`.
    pub report_type: String,
    pub owner_name: String,
    pub organization: String,
    pub time_range: String,
    pub generated_at: DateTime<Utc>,
    pub data_source: DataSource,
    pub missing_sources: Vec<String>,
    pub sections: Vec<Section>,
}

impl ReportData {
    pub fn title(&self) -> String {
        let kind = match self.report_type.as_str() {
            "learner" => "Learner",
            "trainer" => "Trainer",
            _ => "Organisation",
        };
        format!("{kind} report")
    }
}

/// Fields of every analytic that identify it rather than measure anything.
const HEADER_FIELDS: [&str; 4] = ["analytic", "subjectId", "missingSources", "notes"];

// ---- JSON ----

/// The analytics envelope (PRODUCT §3.1) around every section.
pub fn json(r: &ReportData) -> Vec<u8> {
    let mut analytics = Map::new();
    let mut errors = Map::new();
    for s in &r.sections {
        match &s.result {
            Ok(v) => {
                analytics.insert(s.analytic.into(), v.clone());
            }
            Err((code, message)) => {
                errors.insert(
                    s.analytic.into(),
                    json!({"error": code, "message": message}),
                );
            }
        }
    }
    let body = json!({
        "data": {
            "report": {
                "id": r.id,
                "type": r.report_type,
                "title": r.title(),
                "owner": r.owner_name,
                "organization": r.organization,
                "timeRange": r.time_range,
                "missingSources": r.missing_sources,
            },
            "analytics": analytics,
            "errors": errors,
        },
        "cached": false,
        "stale": false,
        "dataSource": r.data_source,
        "lastUpdated": r.generated_at,
        "expiresAt": r.generated_at + STALE_AFTER,
    });
    serde_json::to_vec_pretty(&body).unwrap_or_default()
}

// ---- CSV ----

/// The CSV columns, in order (docs/reports.md §3).
pub const CSV_COLUMNS: [&str; 5] = ["analytic", "section", "item", "metric", "value"];

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some(String::new()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// Scalars of an object, nested objects flattened with dotted names.
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&name, v, out);
            }
        }
        Value::Array(a) => {
            if a.iter().all(|x| scalar(x).is_some()) {
                let joined: Vec<String> = a.iter().filter_map(scalar).collect();
                out.push((prefix.to_owned(), joined.join("; ")));
            }
        }
        other => {
            if let Some(s) = scalar(other) {
                out.push((prefix.to_owned(), s));
            }
        }
    }
}

/// The tidy rows of one section: (section, item, metric, value).
pub fn rows(data: &Value) -> Vec<[String; 4]> {
    let mut out = Vec::new();
    let Some(obj) = data.as_object() else {
        return out;
    };
    for (k, v) in obj {
        if HEADER_FIELDS.contains(&k.as_str()) {
            continue;
        }
        match v {
            Value::Array(items) if items.iter().any(Value::is_object) => {
                for (i, item) in items.iter().enumerate() {
                    let mut fields = Vec::new();
                    flatten("", item, &mut fields);
                    let name = label(item, i);
                    for (metric, value) in fields {
                        out.push([k.clone(), name.clone(), metric, value]);
                    }
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let Some(s) = scalar(item) {
                        out.push([k.clone(), (i + 1).to_string(), "value".into(), s]);
                    }
                }
            }
            _ => {
                let mut fields = Vec::new();
                flatten(k, v, &mut fields);
                for (metric, value) in fields {
                    out.push(["summary".into(), String::new(), metric, value]);
                }
            }
        }
    }
    out
}

/// One CSV cell. Text a spreadsheet would run as a formula (starting with
/// `=`, `+`, `-`, `@`, tab or carriage return: OWASP's rule) is prefixed
/// with `'`; numbers, negative ones too, stay numbers. Titles come from
/// upstream services, so they are not trusted.
fn csv_field(s: &str) -> String {
    let formula = s.starts_with(['=', '+', '-', '@', '\t', '\r']) && s.parse::<f64>().is_err();
    let s = if formula {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The CSV file: UTF-8 with a byte-order mark, so spreadsheets read
/// accents right; CRLF line ends.
pub fn csv(r: &ReportData) -> Vec<u8> {
    let mut out = String::from('\u{feff}');
    out.push_str(&CSV_COLUMNS.join(","));
    out.push_str("\r\n");
    let mut line = |cells: [&str; 5]| {
        let cells: Vec<String> = cells.iter().map(|c| csv_field(c)).collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    };
    for s in &r.sections {
        match &s.result {
            Ok(data) => {
                for [section, item, metric, value] in rows(data) {
                    line([s.analytic, &section, &item, &metric, &value]);
                }
            }
            Err((code, message)) => line([s.analytic, "error", "", code, message]),
        }
    }
    out.into_bytes()
}

// ---- PDF ----

const MARGIN: f32 = 50.0;
const CONTENT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;
const WHITE: u32 = 0xFFFFFF;
const INK: u32 = 0x1A1A1F;
const GREY: u32 = 0x5F636A;
const LIGHT: u32 = 0xDDE1E7;
const ACCENT: u32 = 0x1F5A9E;
const WARNING: u32 = 0x9A4100;

pub use lumen_core::chart::humanise;

fn show(v: &str) -> String {
    match v.parse::<f64>() {
        Ok(x) if v.contains('.') => chart::format_number(x),
        _ => {
            // Timestamps: the date and time, without seconds' noise.
            if v.len() >= 20 && v.as_bytes().get(10) == Some(&b'T') {
                format!("{} {}", &v[..10], &v[11..16])
            } else {
                v.to_owned()
            }
        }
    }
}

/// A label cut to `width`, keeping its end: nested names differ in their
/// last words ("Distribution performance excellent" → "…performance
/// excellent"), so the end says which number it is.
fn fit_tail(fonts: &Fonts, text: &str, size: f32, width: f32) -> String {
    if fonts.width(text, size) <= width {
        return text.to_owned();
    }
    let words: Vec<&str> = text.split(' ').collect();
    for start in 1..words.len() {
        let tail = format!("…{}", words[start..].join(" "));
        if fonts.width(&tail, size) <= width {
            return tail;
        }
    }
    fonts.fit(text, size, width)
}

/// The chart of an analytic's data (`lumen_core::chart`): the same model
/// and SVG the dashboard shows.
pub fn chart(data: &Value) -> Option<Chart> {
    Chart::from_analytic(data)
}

fn section_page(c: &mut PageCanvas<'_, '_>, s: &Section) -> anyhow::Result<()> {
    c.rect(0.0, 20.0, PAGE_WIDTH, 44.0, color(ACCENT));
    c.heading(2, MARGIN, 50.0, 20.0, color(WHITE), &humanise(s.analytic));
    let mut y = 100.0;
    match &s.result {
        Err((code, message)) => {
            c.para(
                MARGIN,
                y,
                12.0,
                color(WARNING),
                &format!("Not available ({code})"),
            );
            let lines = c.fonts().wrap(message, 10.0, CONTENT_WIDTH);
            let lines: Vec<(f32, f32, f32, Color, &str)> = lines
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    (
                        MARGIN,
                        y + 16.0 * (i as f32 + 1.0),
                        10.0,
                        color(INK),
                        l.as_str(),
                    )
                })
                .collect();
            c.block(Tag::P, &lines);
        }
        Ok(data) => {
            c.heading(3, MARGIN, y, 13.0, color(INK), "Key numbers");
            let summary: Vec<(String, String)> = rows(data)
                .into_iter()
                .filter(|r| r[0] == "summary")
                .map(|r| (r[2].clone(), r[3].clone()))
                .filter(|(k, v)| !v.is_empty() && !k.ends_with("Id"))
                .take(16)
                .collect();
            let col_w = CONTENT_WIDTH / 2.0;
            for (i, (k, v)) in summary.iter().enumerate() {
                let x = MARGIN + col_w * (i % 2) as f32;
                let row_y = y + 18.0 * (i / 2 + 1) as f32;
                let key = fit_tail(c.fonts(), &humanise(k), 9.0, col_w * 0.55);
                let value = c.fonts().fit(&show(v), 10.0, col_w * 0.4);
                // Label and value read as one paragraph: "Completion rate 40".
                c.block(
                    Tag::P,
                    &[
                        (x, row_y, 9.0, color(GREY), &format!("{key} ")),
                        (x + col_w * 0.57, row_y, 10.0, color(INK), &value),
                    ],
                );
            }
            y += 18.0 * summary.len().div_ceil(2) as f32 + 30.0;
            match chart(data) {
                Some(ch) => {
                    c.heading(3, MARGIN, y, 13.0, color(INK), "Chart");
                    y += 10.0;
                    y += c.svg(MARGIN, y, &ch.svg(), &ch.alt_text())?;
                }
                None => c.para(MARGIN, y, 10.0, color(GREY), "No series to chart."),
            }
            y += 28.0;
            let notes: Vec<String> = data
                .get("notes")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|n| n.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            for note in notes.iter().take(4) {
                let wrapped = c.fonts().wrap(note, 8.5, CONTENT_WIDTH);
                let mut lines = Vec::new();
                for l in &wrapped {
                    if y > PAGE_HEIGHT - MARGIN - 20.0 {
                        break;
                    }
                    lines.push((MARGIN, y, 8.5, color(GREY), l.as_str()));
                    y += 12.0;
                }
                if !lines.is_empty() {
                    c.block(Tag::P, &lines);
                }
                y += 4.0;
            }
        }
    }
    Ok(())
}

fn title_page(
    c: &mut PageCanvas<'_, '_>,
    r: &ReportData,
    contents: &[(String, usize)],
    missing: &BTreeSet<char>,
) {
    c.rect(0.0, 0.0, PAGE_WIDTH, 220.0, color(ACCENT));
    c.para(MARGIN, 80.0, 14.0, color(WHITE), "Lumen learning analytics");
    c.heading(1, MARGIN, 130.0, 34.0, color(WHITE), &r.title());
    let who = c.fonts().fit(
        &format!("{} · {}", r.owner_name, r.organization),
        14.0,
        CONTENT_WIDTH,
    );
    c.para(MARGIN, 170.0, 14.0, color(WHITE), &who);
    let mut y = 270.0;
    let source = match r.data_source {
        DataSource::Realtime => "fresh upstream data",
        DataSource::Cached => "cached results",
        DataSource::Stale => "last known good data (some sources could not be refreshed)",
        DataSource::Mock => "synthetic fallback data",
    };
    let facts = [
        ("Time range", format!("last {}", r.time_range)),
        (
            "Generated",
            r.generated_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        ),
        (
            "Data freshness",
            format!(
                "computed {} from {source}",
                r.generated_at.format("%Y-%m-%d %H:%M UTC")
            ),
        ),
        (
            "Missing sources",
            if r.missing_sources.is_empty() {
                "none".to_owned()
            } else {
                r.missing_sources.join(", ")
            },
        ),
        ("Report id", r.id.to_string()),
    ];
    for (k, v) in facts {
        let v = c.fonts().fit(&v, 11.0, CONTENT_WIDTH - 110.0);
        c.block(
            Tag::P,
            &[
                (MARGIN, y, 10.0, color(GREY), &format!("{k} ")),
                (MARGIN + 110.0, y, 11.0, color(INK), &v),
            ],
        );
        y += 20.0;
    }
    y += 20.0;
    c.heading(2, MARGIN, y, 14.0, color(INK), "Contents");
    y += 8.0;
    let mut toc = TagGroup::new(Tag::TOC);
    for (name, number) in contents {
        y += 18.0;
        let mut item = TagGroup::new(Tag::TOCI);
        item.push(c.text(
            MARGIN,
            y,
            11.0,
            color(INK),
            Align::Left,
            &format!("{name} "),
        ));
        item.push(c.text(
            PAGE_WIDTH - MARGIN,
            y,
            11.0,
            color(GREY),
            Align::Right,
            &format!("page {number}"),
        ));
        toc.push(item);
        c.rule(MARGIN, y + 5.0, PAGE_WIDTH - MARGIN, 0.3, color(LIGHT));
    }
    c.section.push(toc);
    if !missing.is_empty() {
        y += 36.0;
        let list: Vec<String> = missing
            .iter()
            .map(|ch| format!("{ch} (U+{:04X})", u32::from(*ch)))
            .collect();
        let note = format!(
            "Note: no font available to this server has these characters, so they print as \u{FFFD}: {}. \
             An operator can add a font that has them with LUMEN_REPORT_FONT_DIRS.",
            list.join(", ")
        );
        let wrapped = c.fonts().wrap(&note, 9.0, CONTENT_WIDTH);
        let lines: Vec<(f32, f32, f32, Color, &str)> = wrapped
            .iter()
            .enumerate()
            .map(|(i, l)| (MARGIN, y + 13.0 * i as f32, 9.0, color(WARNING), l.as_str()))
            .collect();
        c.block(Tag::Note, &lines);
    }
}

fn write_pdf(
    r: &ReportData,
    fonts: Arc<Fonts>,
    missing_note: &BTreeSet<char>,
) -> anyhow::Result<(Vec<u8>, BTreeSet<char>)> {
    let contents: Vec<(String, usize)> = r
        .sections
        .iter()
        .enumerate()
        .map(|(i, s)| (humanise(s.analytic), i + 2))
        .collect();
    let total = 1 + r.sections.len();
    let footer = format!(
        "Lumen · {} · generated {}",
        r.title(),
        r.generated_at.format("%Y-%m-%d %H:%M UTC")
    );
    let foot = |c: &mut PageCanvas<'_, '_>, n: usize| {
        let y = PAGE_HEIGHT - 28.0;
        c.footer_text(MARGIN, y, 8.0, color(GREY), Align::Left, &footer);
        c.footer_text(
            PAGE_WIDTH - MARGIN,
            y,
            8.0,
            color(GREY),
            Align::Right,
            &format!("page {n} of {total}"),
        );
    };
    let mut w = Writer::new(fonts);
    w.page(&r.title(), |c| {
        title_page(c, r, &contents, missing_note);
        foot(c, 1);
        Ok(())
    })?;
    for (i, s) in r.sections.iter().enumerate() {
        w.page(&humanise(s.analytic), |c| {
            section_page(c, s)?;
            foot(c, i + 2);
            Ok(())
        })?;
    }
    let missing = w.missing.clone();
    let bytes = w.finish(DocInfo {
        title: format!("Lumen {} — {}", r.title(), r.owner_name),
        subject: format!(
            "{} for {} ({}), last {}",
            r.title(),
            r.owner_name,
            r.organization,
            r.time_range
        ),
        author: "Lumen".to_owned(),
        created: r.generated_at,
        id: r.id.to_string(),
    })?;
    Ok((bytes, missing))
}

/// The PDF: a title page, then a page per analytic. Text no font in the
/// chain can show is listed in a note on the title page (then drawn again
/// with the note).
pub fn pdf(r: &ReportData, fonts: Arc<Fonts>) -> anyhow::Result<Vec<u8>> {
    let (bytes, missing) = write_pdf(r, fonts.clone(), &BTreeSet::new())?;
    if missing.is_empty() {
        return Ok(bytes);
    }
    tracing::warn!(
        report = %r.id,
        characters = %missing.iter().collect::<String>(),
        "report text has characters no font has: add a font with LUMEN_REPORT_FONT_DIRS"
    );
    Ok(write_pdf(r, fonts, &missing)?.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy_rows_flatten_summaries_and_label_array_items() {
        let data = json!({
            "analytic": "skill-gap", "subjectId": "x", "notes": ["n"],
            "overallGap": 1.5, "status": "behind", "window": {"days": 30},
            "skills": [{"name": "Rust", "gap": 2.0}, {"gap": 0.5}],
            "weekly": [1, 2]
        });
        let rows = rows(&data);
        let has = |r: [&str; 4]| rows.iter().any(|x| x.iter().zip(r).all(|(a, b)| a == b));
        assert!(has(["summary", "", "overallGap", "1.5"]));
        assert!(has(["summary", "", "window.days", "30"]));
        assert!(has(["skills", "Rust", "gap", "2.0"]));
        assert!(has(["skills", "2", "gap", "0.5"]));
        assert!(has(["weekly", "2", "value", "2"]));
        assert!(
            !rows
                .iter()
                .any(|r| r[2] == "subjectId" || r[2] == "analytic")
        );
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
    }

    #[test]
    fn csv_cells_that_would_run_as_formulas_are_neutralised() {
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("+1+cmd|' /C calc'!A0"), "'+1+cmd|' /C calc'!A0");
        assert_eq!(csv_field("-2+3"), "'-2+3");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("\tx"), "'\tx");
        assert_eq!(csv_field("\rx"), "\"'\rx\"");
        assert_eq!(csv_field("-0.5"), "-0.5");
        assert_eq!(csv_field("Café"), "Café");
        let file = csv(&ReportData {
            id: uuid::Uuid::nil(),
            report_type: "learner".into(),
            owner_name: "Zoë".into(),
            organization: "Acme".into(),
            time_range: "30d".into(),
            generated_at: Utc::now(),
            data_source: DataSource::Realtime,
            missing_sources: Vec::new(),
            sections: Vec::new(),
        });
        assert!(file.starts_with("\u{feff}analytic,".as_bytes()));
        assert_eq!(humanise("skill-gap"), "Skill gap");
        assert_eq!(humanise("averageScore"), "Average score");
    }
}
