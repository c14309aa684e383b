//! A report's three formats from the same analytics results
//! (docs/reports.md): JSON (the analytics envelope), CSV (one tidy table,
//! one row per value) and PDF (a title page, then a page per analytic with
//! its key numbers and a chart).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::pdf::{self, Document, PAGE_HEIGHT, PAGE_WIDTH, Page, Rgb};
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

/// The label of an array element: its name-like field, else its position.
fn label(v: &Value, index: usize) -> String {
    const KEYS: [&str; 16] = [
        "name",
        "title",
        "skillName",
        "skill",
        "courseTitle",
        "course",
        "contentType",
        "label",
        "bucket",
        "category",
        "department",
        "week",
        "date",
        "period",
        "month",
        "day",
    ];
    let named = v.as_object().and_then(|m| {
        m.iter()
            .filter(|(k, _)| k.ends_with("Name") || k.ends_with("Title"))
            .find_map(|(_, x)| x.as_str().filter(|s| !s.is_empty()).map(str::to_owned))
    });
    named
        .or_else(|| {
            KEYS.iter()
                .find_map(|k| v.get(*k).and_then(scalar).filter(|s| !s.is_empty()))
        })
        .unwrap_or_else(|| (index + 1).to_string())
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

const MARGIN: f64 = 50.0;

/// `skill-gap` → `Skill gap`; `averageScore` → `Average score`.
pub fn humanise(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c == '-' || c == '_' || c == '.' {
            out.push(' ');
        } else if c.is_uppercase() && i > 0 {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else if i == 0 {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn show(v: &str) -> String {
    match v.parse::<f64>() {
        Ok(x) if v.contains('.') => format!("{:.2}", x)
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned(),
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

/// A chart found in an analytic's data.
#[derive(Debug, Clone, PartialEq)]
pub enum Chart {
    /// A trend over time: (label, value) in order.
    Line {
        title: String,
        points: Vec<(String, f64)>,
    },
    /// A distribution or a comparison: (label, value).
    Bars {
        title: String,
        bars: Vec<(String, f64)>,
    },
}

const VALUE_KEYS: [&str; 16] = [
    "value",
    "gap",
    "score",
    "averageScore",
    "count",
    "learners",
    "rate",
    "completionRate",
    "progress",
    "percentage",
    "pace",
    "engagementScore",
    "risk",
    "probability",
    "minutes",
    "hours",
];
const TIME_KEYS: [&str; 5] = ["week", "date", "period", "month", "day"];

fn number(v: &Value) -> Option<f64> {
    v.as_f64().filter(|x| x.is_finite())
}

/// The first array of the data that can be drawn: objects with a number
/// (a line when they are labelled by time, else bars), or plain numbers.
pub fn chart(data: &Value) -> Option<Chart> {
    let obj = data.as_object()?;
    let candidates = obj.iter().chain(
        obj.values()
            .filter_map(Value::as_object)
            .flat_map(|m| m.iter()),
    );
    for (k, v) in candidates {
        let Some(items) = v.as_array().filter(|a| !a.is_empty()) else {
            continue;
        };
        if items.iter().all(|x| number(x).is_some()) {
            let points = items
                .iter()
                .enumerate()
                .filter_map(|(i, x)| Some(((i + 1).to_string(), number(x)?)))
                .collect();
            return Some(Chart::Line {
                title: humanise(k),
                points,
            });
        }
        let first = items[0].as_object()?;
        // The analytic's headline number, per item, when the items have it
        // (a department's overallAlignment); else a usual measure.
        let headline = obj
            .iter()
            .find(|(k, v)| number(v).is_some() && first.get(*k).and_then(number).is_some())
            .map(|(k, _)| k.clone());
        let value_key = headline
            .or_else(|| {
                VALUE_KEYS
                    .iter()
                    .find(|key| first.get(**key).and_then(number).is_some())
                    .map(|s| (*s).to_owned())
            })
            .or_else(|| {
                first
                    .iter()
                    .find(|(name, v)| number(v).is_some() && !name.ends_with("Id"))
                    .map(|(name, _)| name.clone())
            });
        let Some(value_key) = value_key else {
            continue;
        };
        let pairs: Vec<(String, f64)> = items
            .iter()
            .enumerate()
            .filter_map(|(i, x)| Some((label(x, i), number(x.get(&value_key)?)?)))
            .collect();
        if pairs.is_empty() {
            continue;
        }
        let title = format!("{} — {}", humanise(k), humanise(&value_key).to_lowercase());
        let timed = TIME_KEYS.iter().any(|t| first.contains_key(*t));
        return Some(if timed && pairs.len() > 1 {
            Chart::Line {
                title,
                points: pairs,
            }
        } else {
            Chart::Bars { title, bars: pairs }
        });
    }
    None
}

fn draw_chart(page: &mut Page, chart: &Chart, top: f64) {
    let (left, width, height) = (MARGIN, PAGE_WIDTH - 2.0 * MARGIN, 260.0);
    match chart {
        Chart::Bars { title, bars } => {
            page.text(left, top, 12.0, Rgb::BLACK, title);
            let shown = &bars[..bars.len().min(12)];
            let max = shown.iter().map(|b| b.1.abs()).fold(0.0, f64::max);
            let label_w = 150.0;
            let bar_w = width - label_w - 60.0;
            let row = (height / shown.len().max(1) as f64).min(22.0);
            for (i, (name, value)) in shown.iter().enumerate() {
                let y = top - 24.0 - row * (i as f64 + 1.0);
                page.text(
                    left,
                    y + 4.0,
                    9.0,
                    Rgb::BLACK,
                    &pdf::fit(name, 9.0, label_w - 8.0),
                );
                page.rect(left + label_w, y, bar_w, row - 6.0, Rgb::LIGHT);
                let w = if max > 0.0 {
                    bar_w * value.abs() / max
                } else {
                    0.0
                };
                let color = if *value < 0.0 { Rgb::WARM } else { Rgb::ACCENT };
                page.rect(left + label_w, y, w, row - 6.0, color);
                page.text(
                    left + label_w + bar_w + 6.0,
                    y + 4.0,
                    9.0,
                    Rgb::BLACK,
                    &show(&value.to_string()),
                );
            }
            if bars.len() > shown.len() {
                let y = top - 24.0 - row * (shown.len() as f64 + 1.0) - 6.0;
                page.text(
                    left,
                    y,
                    8.0,
                    Rgb::GREY,
                    &format!("… and {} more (see the CSV)", bars.len() - shown.len()),
                );
            }
        }
        Chart::Line { title, points } => {
            page.text(left, top, 12.0, Rgb::BLACK, title);
            let (x0, y0, w, h) = (
                left + 40.0,
                top - 24.0 - height + 30.0,
                width - 50.0,
                height - 40.0,
            );
            let min = points
                .iter()
                .map(|p| p.1)
                .fold(f64::INFINITY, f64::min)
                .min(0.0);
            let max = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
            let span = if max > min { max - min } else { 1.0 };
            page.rect(x0, y0, w, h, Rgb(0.97, 0.98, 0.99));
            for i in 0..=4 {
                let y = y0 + h * f64::from(i) / 4.0;
                page.line((x0, y), (x0 + w, y), 0.4, Rgb::LIGHT);
                let v = min + span * f64::from(i) / 4.0;
                page.text_right(x0 - 4.0, y - 3.0, 8.0, Rgb::GREY, &show(&format!("{v:.2}")));
            }
            let n = points.len();
            let xs = |i: usize| {
                if n > 1 {
                    x0 + w * i as f64 / (n - 1) as f64
                } else {
                    x0 + w / 2.0
                }
            };
            let line: Vec<(f64, f64)> = points
                .iter()
                .enumerate()
                .map(|(i, p)| (xs(i), y0 + h * (p.1 - min) / span))
                .collect();
            page.polyline(&line, 1.8, Rgb::ACCENT);
            for &(x, y) in &line {
                page.rect(x - 1.8, y - 1.8, 3.6, 3.6, Rgb::ACCENT);
            }
            if let (Some(first), Some(last)) = (points.first(), points.last()) {
                page.text(
                    x0,
                    y0 - 14.0,
                    8.0,
                    Rgb::GREY,
                    &pdf::fit(&show(&first.0), 8.0, w / 2.0),
                );
                page.text_right(
                    x0 + w,
                    y0 - 14.0,
                    8.0,
                    Rgb::GREY,
                    &pdf::fit(&show(&last.0), 8.0, w / 2.0),
                );
            }
        }
    }
}

fn wrap(text: &str, size: f64, width: f64) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_owned()
        } else {
            format!("{line} {word}")
        };
        if pdf::text_width(&candidate, size) > width && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
            line = word.to_owned();
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

fn section_page(s: &Section) -> Page {
    let mut page = Page::default();
    let top = PAGE_HEIGHT - MARGIN;
    page.rect(0.0, top - 14.0, PAGE_WIDTH, 44.0, Rgb::ACCENT);
    page.text(MARGIN, top, 20.0, Rgb(1.0, 1.0, 1.0), &humanise(s.analytic));
    let mut y = top - 50.0;
    match &s.result {
        Err((code, message)) => {
            page.text(
                MARGIN,
                y,
                12.0,
                Rgb::WARM,
                &format!("Not available ({code})"),
            );
            for l in wrap(message, 10.0, PAGE_WIDTH - 2.0 * MARGIN) {
                y -= 16.0;
                page.text(MARGIN, y, 10.0, Rgb::BLACK, &l);
            }
        }
        Ok(data) => {
            page.text(MARGIN, y, 13.0, Rgb::BLACK, "Key numbers");
            y -= 8.0;
            let summary: Vec<(String, String)> = rows(data)
                .into_iter()
                .filter(|r| r[0] == "summary")
                .map(|r| (r[2].clone(), r[3].clone()))
                .filter(|(k, v)| !v.is_empty() && !k.ends_with("Id"))
                .take(16)
                .collect();
            let col_w = (PAGE_WIDTH - 2.0 * MARGIN) / 2.0;
            for (i, (k, v)) in summary.iter().enumerate() {
                let x = MARGIN + col_w * (i % 2) as f64;
                let row_y = y - 18.0 * (i / 2 + 1) as f64;
                page.text(
                    x,
                    row_y,
                    9.0,
                    Rgb::GREY,
                    &pdf::fit(&humanise(k), 9.0, col_w * 0.55),
                );
                page.text(
                    x + col_w * 0.57,
                    row_y,
                    10.0,
                    Rgb::BLACK,
                    &pdf::fit(&show(v), 10.0, col_w * 0.4),
                );
            }
            y -= 18.0 * summary.len().div_ceil(2) as f64 + 36.0;
            match chart(data) {
                Some(c) => draw_chart(&mut page, &c, y),
                None => page.text(MARGIN, y, 10.0, Rgb::GREY, "No series to chart."),
            }
            y -= 300.0;
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
                for l in wrap(note, 8.5, PAGE_WIDTH - 2.0 * MARGIN) {
                    if y < MARGIN + 20.0 {
                        break;
                    }
                    page.text(MARGIN, y, 8.5, Rgb::GREY, &l);
                    y -= 12.0;
                }
            }
        }
    }
    page
}

fn title_page(r: &ReportData, contents: &[(String, usize)]) -> Page {
    let mut page = Page::default();
    page.rect(0.0, PAGE_HEIGHT - 220.0, PAGE_WIDTH, 220.0, Rgb::ACCENT);
    let white = Rgb(1.0, 1.0, 1.0);
    page.text(
        MARGIN,
        PAGE_HEIGHT - 80.0,
        14.0,
        white,
        "Lumen learning analytics",
    );
    page.text(MARGIN, PAGE_HEIGHT - 130.0, 34.0, white, &r.title());
    page.text(
        MARGIN,
        PAGE_HEIGHT - 170.0,
        14.0,
        white,
        &pdf::fit(
            &format!("{} · {}", r.owner_name, r.organization),
            14.0,
            PAGE_WIDTH - 2.0 * MARGIN,
        ),
    );
    let mut y = PAGE_HEIGHT - 270.0;
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
        page.text(MARGIN, y, 10.0, Rgb::GREY, k);
        page.text(
            MARGIN + 110.0,
            y,
            11.0,
            Rgb::BLACK,
            &pdf::fit(&v, 11.0, PAGE_WIDTH - 2.0 * MARGIN - 110.0),
        );
        y -= 20.0;
    }
    y -= 20.0;
    page.text(MARGIN, y, 14.0, Rgb::BLACK, "Contents");
    y -= 8.0;
    for (name, number) in contents {
        y -= 18.0;
        page.text(MARGIN, y, 11.0, Rgb::BLACK, name);
        page.text_right(PAGE_WIDTH - MARGIN, y, 11.0, Rgb::GREY, &number.to_string());
        page.line(
            (MARGIN, y - 5.0),
            (PAGE_WIDTH - MARGIN, y - 5.0),
            0.3,
            Rgb::LIGHT,
        );
    }
    page
}

pub fn pdf(r: &ReportData) -> Vec<u8> {
    let contents: Vec<(String, usize)> = r
        .sections
        .iter()
        .enumerate()
        .map(|(i, s)| (humanise(s.analytic), i + 2))
        .collect();
    let mut pages = vec![title_page(r, &contents)];
    pages.extend(r.sections.iter().map(section_page));
    let total = pages.len();
    let footer = format!(
        "Lumen · {} · generated {}",
        r.title(),
        r.generated_at.format("%Y-%m-%d %H:%M UTC")
    );
    for (i, p) in pages.iter_mut().enumerate() {
        p.text(MARGIN, 28.0, 8.0, Rgb::GREY, &footer);
        p.text_right(
            PAGE_WIDTH - MARGIN,
            28.0,
            8.0,
            Rgb::GREY,
            &format!("page {} of {total}", i + 1),
        );
    }
    Document {
        title: format!("Lumen {} — {}", r.title(), r.owner_name),
        pages,
    }
    .render(r.generated_at)
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
    fn charts_are_lines_over_time_and_bars_otherwise() {
        let trend = json!({"trend": [{"week": "2025-01-06", "value": 2.0}, {"week": "2025-01-13", "value": 3.0}]});
        assert!(matches!(chart(&trend), Some(Chart::Line { points, .. }) if points.len() == 2));
        let gaps = json!({"skills": [{"name": "Rust", "gap": 2.0, "skillId": "s"}]});
        assert!(
            matches!(chart(&gaps), Some(Chart::Bars { bars, .. }) if bars == vec![("Rust".to_owned(), 2.0)])
        );
        assert_eq!(chart(&json!({"score": 3})), None);
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
