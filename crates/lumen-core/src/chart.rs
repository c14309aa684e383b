//! Charts, described once and drawn as SVG (docs/reports.md §3).
//!
//! A [`Chart`] says what is shown (kind, title, series, the two axes with
//! their units); [`Chart::svg`] draws it, and the same SVG goes into the
//! PDF reports and, later, the web dashboard. [`Chart::alt_text`] says the
//! same in words for screen readers. [`Chart::from_analytic`] picks the
//! chart an analytic's result shows.
//!
//! The SVG is written here from the model: a chart is a few dozen
//! rectangles, lines and labels, and writing them keeps full control of
//! legibility (label placement, truncation, value labels), no fonts are
//! read, and nothing else is pulled in (see docs/dependencies.md).
//!
//! Legibility rules: the Okabe–Ito colour-blind-safe palette; every bar and
//! every (or, for long series, the first, last, lowest and highest) point
//! carries its value as text, so no value needs colour to be read; series
//! differ by marker shape and dash pattern as well as colour; axis titles
//! name their units; category labels are thinned or cut with an ellipsis so
//! they never overlap. Pure: no IO.

use std::fmt::Write as _;

use serde_json::Value;

/// Okabe & Ito (2008), "Color Universal Design": distinguishable with every
/// common colour-vision deficiency. Blue, vermillion, bluish green, orange,
/// reddish purple, sky blue, yellow.
pub const PALETTE: [&str; 7] = [
    "#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#F0E442",
];
/// The text colour (and axis lines).
pub const INK: &str = "#1A1A1F";
const MUTED: &str = "#55585E";
const GRID: &str = "#D9DDE3";
/// Font family of every label; the PDF renderer provides it (DejaVu Sans,
/// with fallbacks).
pub const FONT_FAMILY: &str = "DejaVu Sans";
/// Average advance of a character, in em, used to keep labels apart: a
/// little wider than DejaVu Sans' average so estimates err on the safe side.
const EM_PER_CHAR: f64 = 0.62;

/// At most this many bars; the rest are counted in `omitted`.
pub const MAX_BARS: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    /// A trend: categories in order (time), values joined by a line.
    Line,
    /// A comparison or distribution: one horizontal bar per category.
    Bar,
}

/// An axis: what it measures and in which unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub title: String,
    /// `%`, `learners`, `minutes`, …; `None` for plain numbers or labels.
    pub unit: Option<String>,
}

impl Axis {
    pub fn new(title: impl Into<String>, unit: Option<&str>) -> Self {
        Self {
            title: title.into(),
            unit: unit.map(str::to_owned),
        }
    }

    /// `Completion rate (%)`; a title that is its unit says it once
    /// (`Learners`, not `Learners (learners)`).
    pub fn label(&self) -> String {
        match &self.unit {
            Some(u) if !self.title.eq_ignore_ascii_case(u) => format!("{} ({u})", self.title),
            _ => self.title.clone(),
        }
    }
}

/// One value of a series, at a category.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub label: String,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<Point>,
}

/// A chart, described once.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub kind: ChartKind,
    pub title: String,
    /// The categories: time for a line, the items for bars.
    pub category_axis: Axis,
    /// The values.
    pub value_axis: Axis,
    /// Every series has the same categories in the same order.
    pub series: Vec<Series>,
    /// Categories not drawn (bars beyond [`MAX_BARS`]).
    pub omitted: usize,
}

/// Width of every chart, in SVG user units (= PDF points when embedded
/// at natural size): the text width of an A4 page with 50 pt margins.
pub const WIDTH: f64 = 495.0;

/// `12`, `12.5`, `0.33`: at most two decimals, no trailing zeros.
pub fn format_number(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

fn with_unit(v: f64, unit: Option<&str>) -> String {
    match unit {
        Some("%") => format!("{}%", format_number(v)),
        Some(u) => format!("{} {u}", format_number(v)),
        None => format_number(v),
    }
}

/// Estimated width of `text` at `size`.
pub fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * EM_PER_CHAR * size
}

/// `text` cut with an ellipsis so its estimated width fits `width`.
pub fn fit(text: &str, size: f64, width: f64) -> String {
    if text_width(text, size) <= width {
        return text.to_owned();
    }
    let keep = ((width / (EM_PER_CHAR * size)).floor() as usize).saturating_sub(1);
    let mut out: String = text.chars().take(keep).collect();
    out = out.trim_end().to_owned();
    out.push('…');
    out
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Round tick values covering `[lo, hi]`: about five steps of 1, 2 or 5 × 10ⁿ.
pub fn nice_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else if hi == 0.0 {
        (0.0, 1.0)
    } else {
        (lo.min(0.0), hi.max(0.0) + hi.abs().max(1.0) * 0.1)
    };
    let raw = (hi - lo) / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).floor() as i64;
    let mut ticks = Vec::new();
    for k in first..first + 12 {
        // Rounded to ten significant digits: 3 × 0.2 is 0.6, not 0.6000000000000001.
        let v = k as f64 * step;
        let v = if v == 0.0 {
            0.0
        } else {
            let digits = 10f64.powi(9 - v.abs().log10().floor() as i32);
            (v * digits).round() / digits
        };
        ticks.push(v);
        if v >= hi {
            break;
        }
    }
    ticks
}

struct Svg {
    out: String,
}

impl Svg {
    fn text(&mut self, x: f64, y: f64, size: f64, fill: &str, anchor: &str, text: &str) {
        let _ = writeln!(
            self.out,
            r#"<text x="{x:.1}" y="{y:.1}" font-size="{size}" fill="{fill}" text-anchor="{anchor}">{}</text>"#,
            escape(text)
        );
    }
    fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str) {
        let _ = writeln!(
            self.out,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{fill}"/>"#,
            w.max(0.0),
            h.max(0.0)
        );
    }
    fn line(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), stroke: &str, width: f64) {
        let _ = writeln!(
            self.out,
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{stroke}" stroke-width="{width}"/>"#
        );
    }
}

/// A marker of series `i`: circle, square, triangle, diamond, … so series
/// differ without colour.
fn marker(svg: &mut Svg, i: usize, x: f64, y: f64, color: &str) {
    let r = 3.2;
    let _ = match i % 4 {
        0 => writeln!(
            svg.out,
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="{r}" fill="{color}"/>"#
        ),
        1 => writeln!(
            svg.out,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{color}"/>"#,
            x - r,
            y - r,
            2.0 * r,
            2.0 * r
        ),
        2 => writeln!(
            svg.out,
            r#"<path d="M{x:.1},{:.1} L{:.1},{:.1} L{:.1},{:.1} Z" fill="{color}"/>"#,
            y - r * 1.2,
            x + r * 1.1,
            y + r * 0.9,
            x - r * 1.1,
            y + r * 0.9
        ),
        _ => writeln!(
            svg.out,
            r#"<path d="M{x:.1},{:.1} L{:.1},{y:.1} L{x:.1},{:.1} L{:.1},{y:.1} Z" fill="{color}"/>"#,
            y - r * 1.3,
            x + r * 1.3,
            y + r * 1.3,
            x - r * 1.3
        ),
    };
}

const DASHES: [&str; 4] = ["", "6 3", "2 3", "8 3 2 3"];

impl Chart {
    fn categories(&self) -> Vec<&str> {
        self.series
            .first()
            .map(|s| s.points.iter().map(|p| p.label.as_str()).collect())
            .unwrap_or_default()
    }

    fn value_range(&self) -> (f64, f64) {
        let values = self
            .series
            .iter()
            .flat_map(|s| s.points.iter())
            .map(|p| p.value);
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        if lo.is_finite() {
            (lo.min(0.0), hi.max(0.0))
        } else {
            (0.0, 1.0)
        }
    }

    /// The chart's height in user units (bars grow with their number).
    pub fn height(&self) -> f64 {
        match self.kind {
            ChartKind::Line => 250.0,
            ChartKind::Bar => {
                let rows = self.categories().len().max(1) as f64;
                let per = 8.0 + 14.0 * self.series.len().max(1) as f64;
                let legend = if self.series.len() > 1 { 16.0 } else { 0.0 };
                let omitted = if self.omitted > 0 { 14.0 } else { 0.0 };
                28.0 + legend + rows * per + 46.0 + omitted
            }
        }
    }

    /// The chart as a standalone SVG document.
    pub fn svg(&self) -> String {
        let (w, h) = (WIDTH, self.height());
        let mut svg = Svg { out: String::new() };
        let _ = writeln!(
            svg.out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{}" font-family="{FONT_FAMILY}">"#,
            escape(&self.alt_text())
        );
        let _ = writeln!(svg.out, "<title>{}</title>", escape(&self.title));
        let _ = writeln!(svg.out, "<desc>{}</desc>", escape(&self.alt_text()));
        svg.text(0.0, 13.0, 11.0, INK, "start", &fit(&self.title, 11.0, w));
        let mut top = 28.0;
        if self.series.len() > 1 {
            let mut x = 0.0;
            for (i, s) in self.series.iter().enumerate() {
                let color = PALETTE[i % PALETTE.len()];
                marker(&mut svg, i, x + 4.0, top + 2.0, color);
                let name = fit(&s.name, 8.5, 140.0);
                svg.text(x + 11.0, top + 5.0, 8.5, INK, "start", &name);
                x += 24.0 + text_width(&name, 8.5);
            }
            top += 16.0;
        }
        match self.kind {
            ChartKind::Bar => self.bars(&mut svg, top, w, h),
            ChartKind::Line => self.lines(&mut svg, top, w, h),
        }
        svg.out.push_str("</svg>\n");
        svg.out
    }

    /// The value axis's ticks and the range they span.
    fn value_ticks(&self) -> (Vec<f64>, f64, f64) {
        let (lo, hi) = self.value_range();
        let ticks = nice_ticks(lo, hi);
        let (t0, t1) = (
            ticks.first().copied().unwrap_or(lo),
            ticks.last().copied().unwrap_or(hi),
        );
        (ticks, t0, t1)
    }

    fn bars(&self, svg: &mut Svg, top: f64, w: f64, h: f64) {
        let cats = self.categories();
        let unit = self.value_axis.unit.as_deref();
        let (ticks, t0, t1) = self.value_ticks();
        let longest = cats.iter().map(|c| text_width(c, 8.5)).fold(0.0, f64::max);
        let label_w = longest.clamp(40.0, w * 0.36);
        let value_w = self
            .series
            .iter()
            .flat_map(|s| &s.points)
            .map(|p| text_width(&with_unit(p.value, unit), 8.0))
            .fold(0.0, f64::max)
            + 8.0;
        let (x0, x1) = (label_w + 8.0, w - value_w);
        let scale = |v: f64| x0 + (x1 - x0) * (v - t0) / (t1 - t0).max(f64::EPSILON);
        let n = self.series.len().max(1);
        let per = 8.0 + 14.0 * n as f64;
        let bottom = top + per * cats.len() as f64;
        for t in &ticks {
            let x = scale(*t);
            svg.line((x, top), (x, bottom), GRID, 0.6);
            svg.text(x, bottom + 11.0, 8.0, MUTED, "middle", &format_number(*t));
        }
        let zero = scale(0.0);
        for (ci, cat) in cats.iter().enumerate() {
            let y = top + per * ci as f64 + 4.0;
            svg.text(
                label_w,
                y + per / 2.0 + 1.0,
                8.5,
                INK,
                "end",
                &fit(cat, 8.5, label_w),
            );
            for (si, s) in self.series.iter().enumerate() {
                let Some(p) = s.points.get(ci) else { continue };
                let by = y + 14.0 * si as f64;
                let end = scale(p.value);
                let color = PALETTE[si % PALETTE.len()];
                svg.rect(end.min(zero), by, (end - zero).abs(), 11.0, color);
                let text = with_unit(p.value, unit);
                svg.text(end.max(zero) + 4.0, by + 8.5, 8.0, INK, "start", &text);
            }
        }
        svg.line((zero, top), (zero, bottom), INK, 0.8);
        svg.text(
            (x0 + x1) / 2.0,
            bottom + 26.0,
            8.5,
            MUTED,
            "middle",
            &self.value_axis.label(),
        );
        if self.omitted > 0 {
            svg.text(
                0.0,
                h - 4.0,
                8.0,
                MUTED,
                "start",
                &format!(
                    "{} more {} not shown (all are in the CSV)",
                    self.omitted,
                    if self.omitted == 1 { "item" } else { "items" }
                ),
            );
        }
    }

    fn lines(&self, svg: &mut Svg, top: f64, w: f64, h: f64) {
        let cats = self.categories();
        let unit = self.value_axis.unit.as_deref();
        let (ticks, t0, t1) = self.value_ticks();
        let tick_w = ticks
            .iter()
            .map(|t| text_width(&format_number(*t), 8.0))
            .fold(0.0, f64::max);
        // The first and last category labels are centred on the plot's
        // ends: leave half a label each side, so neither is cut.
        let label_w = cats.iter().map(|c| text_width(c, 8.0)).fold(0.0, f64::max);
        let half = (label_w.min(120.0) / 2.0 + 4.0).max(16.0);
        let (x0, x1) = ((18.0 + tick_w + 6.0).max(half), w - half);
        let (y0, y1) = (top + 10.0, h - 40.0);
        let ys = |v: f64| y1 - (y1 - y0) * (v - t0) / (t1 - t0).max(f64::EPSILON);
        let n = cats.len();
        let xs = |i: usize| {
            if n > 1 {
                x0 + (x1 - x0) * i as f64 / (n - 1) as f64
            } else {
                (x0 + x1) / 2.0
            }
        };
        for t in &ticks {
            let y = ys(*t);
            svg.line((x0, y), (x1, y), GRID, 0.6);
            svg.text(x0 - 5.0, y + 3.0, 8.0, MUTED, "end", &format_number(*t));
        }
        svg.line((x0, y1), (x1, y1), INK, 0.8);
        // Category labels: every `step`-th, so that none overlap.
        let slot = if n > 1 {
            (x1 - x0) / (n - 1) as f64
        } else {
            x1 - x0
        };
        let step = ((label_w + 8.0) / slot).ceil().max(1.0) as usize;
        let max_label = (slot * step as f64 - 8.0).max(20.0);
        for (i, c) in cats.iter().enumerate() {
            if i % step == 0 {
                svg.line((xs(i), y1), (xs(i), y1 + 3.0), INK, 0.6);
                svg.text(
                    xs(i),
                    y1 + 13.0,
                    8.0,
                    MUTED,
                    "middle",
                    &fit(c, 8.0, max_label),
                );
            }
        }
        svg.text(
            (x0 + x1) / 2.0,
            h - 6.0,
            8.5,
            MUTED,
            "middle",
            &self.category_axis.label(),
        );
        let _ = writeln!(
            svg.out,
            r#"<text x="10" y="{:.1}" font-size="8.5" fill="{MUTED}" text-anchor="middle" transform="rotate(-90 10 {:.1})">{}</text>"#,
            (y0 + y1) / 2.0,
            (y0 + y1) / 2.0,
            escape(&self.value_axis.label())
        );
        for (si, s) in self.series.iter().enumerate() {
            let color = PALETTE[si % PALETTE.len()];
            let pts: Vec<String> = s
                .points
                .iter()
                .enumerate()
                .map(|(i, p)| format!("{:.1},{:.1}", xs(i), ys(p.value)))
                .collect();
            let dash = DASHES[si % DASHES.len()];
            let dash = if dash.is_empty() {
                String::new()
            } else {
                format!(r#" stroke-dasharray="{dash}""#)
            };
            let _ = writeln!(
                svg.out,
                r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="1.8" stroke-linejoin="round"{dash}/>"#,
                pts.join(" ")
            );
            // Values as text: all of them when they fit, else the first,
            // last, lowest and highest.
            let every = s.points.len() <= 12 && self.series.len() == 1;
            let lowest = s
                .points
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.value.total_cmp(&b.1.value))
                .map(|(i, _)| i);
            let highest = s
                .points
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.value.total_cmp(&b.1.value))
                .map(|(i, _)| i);
            let last = s.points.len().saturating_sub(1);
            for (i, p) in s.points.iter().enumerate() {
                let (x, y) = (xs(i), ys(p.value));
                marker(svg, si, x, y, color);
                if every || i == 0 || i == last || Some(i) == lowest || Some(i) == highest {
                    let anchor = if i == 0 && n > 1 {
                        "start"
                    } else if i == last && n > 1 {
                        "end"
                    } else {
                        "middle"
                    };
                    svg.text(x, y - 6.0, 8.0, INK, anchor, &with_unit(p.value, unit));
                }
            }
        }
    }

    /// The chart in words, for screen readers (the PDF's alt text, the SVG's
    /// description).
    pub fn alt_text(&self) -> String {
        let kind = match self.kind {
            ChartKind::Line => "Line chart",
            ChartKind::Bar => "Bar chart",
        };
        let unit = self.value_axis.unit.as_deref();
        let mut out = format!(
            "{kind}: {}. {} by {}.",
            self.title,
            self.value_axis.label(),
            self.category_axis.title.to_lowercase()
        );
        for s in &self.series {
            if self.series.len() > 1 {
                let _ = write!(out, " {}:", s.name);
            }
            let shown: Vec<String> = s
                .points
                .iter()
                .take(24)
                .map(|p| format!("{} {}", p.label, with_unit(p.value, unit)))
                .collect();
            let _ = write!(out, " {}", shown.join("; "));
            if s.points.len() > 24 {
                let _ = write!(out, "; and {} more", s.points.len() - 24);
            }
            out.push('.');
        }
        if self.omitted > 0 {
            let _ = write!(out, " {} more items are not shown.", self.omitted);
        }
        out
    }

    /// The chart an analytic's result shows: the first list of its data
    /// that can be drawn. Items labelled by time (`week`, `date`, `month`,
    /// …) give a line; other items give bars (at most [`MAX_BARS`]),
    /// valued by the analytic's headline number when the items carry it
    /// (a department's `overallAlignment`), else by a usual measure (`gap`,
    /// `score`, `count`, …); a list of plain numbers gives a line.
    pub fn from_analytic(data: &Value) -> Option<Chart> {
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
                    .filter_map(|(i, x)| {
                        Some(Point {
                            label: (i + 1).to_string(),
                            value: number(x)?,
                        })
                    })
                    .collect();
                return Some(Chart {
                    kind: ChartKind::Line,
                    title: humanise(k),
                    category_axis: Axis::new("Position", None),
                    value_axis: Axis::new(humanise(k), unit_of(k)),
                    series: vec![Series {
                        name: humanise(k),
                        points,
                    }],
                    omitted: 0,
                });
            }
            let first = items[0].as_object()?;
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
            let mut points: Vec<Point> = items
                .iter()
                .enumerate()
                .filter_map(|(i, x)| {
                    Some(Point {
                        label: label(x, i),
                        value: number(x.get(&value_key)?)?,
                    })
                })
                .collect();
            if points.is_empty() {
                continue;
            }
            let time_key = TIME_KEYS.iter().find(|t| first.contains_key(**t));
            let title = format!("{} — {}", humanise(k), humanise(&value_key).to_lowercase());
            let value_axis = Axis::new(humanise(&value_key), unit_of(&value_key));
            let name = humanise(&value_key);
            return Some(match time_key {
                Some(t) if points.len() > 1 => {
                    for p in &mut points {
                        p.label = short_time(&p.label);
                    }
                    Chart {
                        kind: ChartKind::Line,
                        title,
                        category_axis: Axis::new(humanise(t), None),
                        value_axis,
                        series: vec![Series { name, points }],
                        omitted: 0,
                    }
                }
                _ => {
                    let omitted = points.len().saturating_sub(MAX_BARS);
                    points.truncate(MAX_BARS);
                    Chart {
                        kind: ChartKind::Bar,
                        title,
                        category_axis: Axis::new(humanise(k), None),
                        value_axis,
                        series: vec![Series { name, points }],
                        omitted,
                    }
                }
            });
        }
        None
    }
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
const TIME_KEYS: [&str; 7] = [
    "week",
    "weekStart",
    "date",
    "period",
    "periodStart",
    "month",
    "day",
];

fn number(v: &Value) -> Option<f64> {
    v.as_f64().filter(|x| x.is_finite())
}

/// The unit of a measure, from its name (docs/analytics.md: rates and
/// percentages are 0–100).
pub fn unit_of(key: &str) -> Option<&'static str> {
    let k = key.to_ascii_lowercase();
    if k.ends_with("rate") || k.contains("percent") || k == "progress" {
        Some("%")
    } else if k.contains("minutes") {
        Some("minutes")
    } else if k.contains("hours") {
        Some("hours")
    } else if k == "learners" || k.ends_with("learners") {
        Some("learners")
    } else if k == "probability" || k == "risk" {
        Some("probability")
    } else if k.starts_with("risk") {
        // Risk scores are probabilities (0–1), not points.
        None
    } else if k.ends_with("score") || k == "score" {
        Some("points")
    } else {
        None
    }
}

/// `2025-01-06T00:00:00Z` → `2025-01-06`.
fn short_time(s: &str) -> String {
    if s.len() >= 20 && s.as_bytes().get(10) == Some(&b'T') {
        s[..10].to_owned()
    } else {
        s.to_owned()
    }
}

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

/// The label of a list item: its name-like field, else its position (1-based).
pub fn label(v: &Value, index: usize) -> String {
    const KEYS: [&str; 18] = [
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
        "weekStart",
        "date",
        "period",
        "periodStart",
        "month",
        "day",
    ];
    let text = |x: &Value| match x {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let named = v.as_object().and_then(|m| {
        m.iter()
            .filter(|(k, _)| k.ends_with("Name") || k.ends_with("Title"))
            .find_map(|(_, x)| x.as_str().filter(|s| !s.is_empty()).map(str::to_owned))
    });
    // What an item measures (`metric`) or is (`factor`): said first, so
    // items of one cohort but different measures read apart.
    let measure = ["metric", "factor"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str).filter(|s| !s.is_empty()))
        .map(humanise);
    let named = named.or_else(|| KEYS.iter().find_map(|k| v.get(*k).and_then(text)));
    match (measure, named) {
        (Some(m), Some(n)) => format!("{m} · {n}"),
        (Some(m), None) => m,
        (None, Some(n)) => n,
        (None, None) => (index + 1).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn items_are_labelled_by_name_measure_or_week() {
        let peer =
            json!({"metric": "averageScore", "cohortName": "Data Engineering", "value": 63.4});
        assert_eq!(label(&peer, 0), "Average score · Data Engineering");
        let factor = json!({"factor": "meanScorePct", "value": 0.67});
        assert_eq!(label(&factor, 2), "Mean score pct");
        let week = json!({"weekStart": "2026-11-05T17:28:32Z", "activeDays": 1});
        assert_eq!(label(&week, 0), "2026-11-05T17:28:32Z");
        assert_eq!(label(&json!({"activeDays": 1}), 4), "5");
        let weekly = json!({"weeklyEngagement": [
            {"weekStart": "2026-11-05T17:28:32Z", "activeDays": 1},
            {"weekStart": "2026-11-12T17:28:32Z", "activeDays": 4},
        ]});
        let chart = Chart::from_analytic(&weekly).expect("a chart");
        assert_eq!(chart.kind, ChartKind::Line);
        assert_eq!(chart.series[0].points[1].label, "2026-11-12");
    }

    fn bars(n: usize) -> Chart {
        Chart {
            kind: ChartKind::Bar,
            title: "Skills — gap".into(),
            category_axis: Axis::new("Skills", None),
            value_axis: Axis::new("Gap", Some("points")),
            series: vec![Series {
                name: "Gap".into(),
                points: (0..n)
                    .map(|i| Point {
                        label: format!("Skill <{i}> & a rather long name that is cut"),
                        value: i as f64 - 1.5,
                    })
                    .collect(),
            }],
            omitted: 0,
        }
    }

    #[test]
    fn charts_are_lines_over_time_and_bars_otherwise() {
        let trend = json!({"trend": [{"week": "2025-01-06T00:00:00Z", "completionRate": 20.0}, {"week": "2025-01-13T00:00:00Z", "completionRate": 30.0}]});
        let c = Chart::from_analytic(&trend).expect("a chart");
        assert_eq!(c.kind, ChartKind::Line);
        assert_eq!(c.value_axis.label(), "Completion rate (%)");
        assert_eq!(c.category_axis.title, "Week");
        assert_eq!(c.series[0].points[0].label, "2025-01-06");
        let gaps = json!({"skills": [{"name": "Rust", "gap": 2.0, "skillId": "s"}]});
        let c = Chart::from_analytic(&gaps).expect("a chart");
        assert_eq!(c.kind, ChartKind::Bar);
        assert_eq!(
            c.series[0].points,
            vec![Point {
                label: "Rust".into(),
                value: 2.0
            }]
        );
        assert_eq!(Chart::from_analytic(&json!({"score": 3})), None);
        // The headline number wins over the usual measures.
        let depts = json!({"overallAlignment": 0.5, "departments": [{"name": "Ops", "overallAlignment": 0.7, "count": 3}]});
        let c = Chart::from_analytic(&depts).expect("a chart");
        assert_eq!(c.value_axis.title, "Overall alignment");
    }

    #[test]
    fn at_most_twelve_bars_and_the_rest_are_counted() {
        let items: Vec<Value> = (0..20)
            .map(|i| json!({"name": format!("c{i}"), "count": i}))
            .collect();
        let c = Chart::from_analytic(&json!({ "courses": items })).expect("chart");
        assert_eq!(c.series[0].points.len(), MAX_BARS);
        assert_eq!(c.omitted, 8);
        assert!(c.svg().contains("8 more items not shown"));
    }

    #[test]
    fn the_svg_is_well_formed_escaped_and_labels_every_value() {
        let c = bars(5);
        let svg = c.svg();
        assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"));
        assert!(!svg.contains("<0>") && svg.contains("&lt;0&gt;") && svg.contains("&amp;"));
        // Every bar carries its value with its unit, negatives too.
        for v in ["-1.5 points", "-0.5 points", "0.5 points", "2.5 points"] {
            assert!(svg.contains(&format!(">{v}</text>")), "{v}");
        }
        assert!(svg.contains(">Gap (points)</text>"));
        assert!(svg.contains(PALETTE[0]));
        // Long labels are cut to the label column.
        assert!(svg.contains('…'));
        let opens = svg.matches("<text").count();
        assert_eq!(opens, svg.matches("</text>").count());
    }

    #[test]
    fn line_labels_are_thinned_so_they_never_overlap() {
        let points: Vec<Point> = (0..52)
            .map(|i| Point {
                label: format!("2025-W{i:02}-long"),
                value: f64::from(i),
            })
            .collect();
        let c = Chart {
            kind: ChartKind::Line,
            title: "Weekly".into(),
            category_axis: Axis::new("Week", None),
            value_axis: Axis::new("Minutes", Some("minutes")),
            series: vec![Series {
                name: "m".into(),
                points,
            }],
            omitted: 0,
        };
        let svg = c.svg();
        // Category labels drawn below the axis: their centres are at least
        // one estimated label width apart.
        let y_axis = c.height() - 40.0 + 13.0;
        let xs: Vec<f64> = svg
            .lines()
            .filter(|l| l.contains(&format!(r#"y="{y_axis:.1}""#)))
            .filter_map(|l| l.split("x=\"").nth(1)?.split('"').next()?.parse().ok())
            .collect();
        assert!(xs.len() > 3 && xs.len() < 52, "{}", xs.len());
        let width = text_width("2025-W00-long", 8.0);
        assert!(xs.windows(2).all(|w| w[1] - w[0] >= width), "{xs:?}");
        // The first and last labels, centred on their points, are not cut
        // by the chart's edges.
        let (first, last) = (xs[0], xs[xs.len() - 1]);
        assert!(
            first - width / 2.0 >= 0.0 && last + width / 2.0 <= WIDTH,
            "{first} {last}"
        );
        // Long series: the first, last, lowest and highest carry values.
        assert!(svg.contains(">0 minutes</text>") && svg.contains(">51 minutes</text>"));
        assert!(!svg.contains(">25 minutes</text>"));
        assert!(
            c.alt_text()
                .starts_with("Line chart: Weekly. Minutes by week.")
        );
    }

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(
            nice_ticks(0.0, 100.0),
            vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        let t = nice_ticks(-1.5, 2.5);
        assert!(t[0] <= -1.5 && *t.last().expect("ticks") >= 2.5);
        assert_eq!(nice_ticks(0.0, 0.0), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(format_number(0.1 + 0.2), "0.3");
        assert_eq!(fit("abcdefghijklmnop", 10.0, 40.0), "abcde…");
    }

    #[test]
    fn alt_text_says_every_value() {
        let c = bars(3);
        assert_eq!(
            c.alt_text(),
            "Bar chart: Skills — gap. Gap (points) by skills. \
             Skill <0> & a rather long name that is cut -1.5 points; \
             Skill <1> & a rather long name that is cut -0.5 points; \
             Skill <2> & a rather long name that is cut 0.5 points."
        );
        assert_eq!(humanise("skill-gap"), "Skill gap");
        assert_eq!(unit_of("completionRate"), Some("%"));
        assert_eq!(unit_of("averageScore"), Some("points"));
        assert_eq!(unit_of("riskScore"), None);
        assert_eq!(Axis::new("Learners", Some("learners")).label(), "Learners");
        assert_eq!(Axis::new("Gap", Some("points")).label(), "Gap (points)");
    }
}
