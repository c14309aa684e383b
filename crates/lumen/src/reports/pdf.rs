//! A small PDF 1.7 writer: A4 pages of text, rectangles and lines, with
//! DejaVu Sans embedded (TrueType, WinAnsi encoding), compressed streams.
//! Enough for reports with charts; no network, no system fonts.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::write::ZlibEncoder;

/// A4 in points.
pub const PAGE_WIDTH: f64 = 595.0;
pub const PAGE_HEIGHT: f64 = 842.0;

static FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The embedded font's metrics.
struct Font {
    /// Advance widths of WinAnsi codes 32..=255, in 1/1000 em.
    widths: Vec<u32>,
    ascent: i32,
    descent: i32,
    cap_height: i32,
    bbox: [i32; 4],
}

static FONT: LazyLock<Font> = LazyLock::new(|| {
    let face = ttf_parser::Face::parse(FONT_BYTES, 0).ok();
    let units = face
        .as_ref()
        .map_or(1000.0, |f| f64::from(f.units_per_em()));
    let scale = |v: f64| (v * 1000.0 / units).round() as i32;
    let widths = (32u8..=255)
        .map(|code| {
            let ch = winansi_char(code);
            face.as_ref()
                .and_then(|f| f.glyph_index(ch).and_then(|g| f.glyph_hor_advance(g)))
                .map_or(500, |w| scale(f64::from(w)) as u32)
        })
        .collect();
    let (ascent, descent, cap_height, bbox) = match &face {
        Some(f) => {
            let b = f.global_bounding_box();
            (
                scale(f64::from(f.ascender())),
                scale(f64::from(f.descender())),
                scale(f64::from(f.capital_height().unwrap_or(f.ascender()))),
                [
                    scale(f64::from(b.x_min)),
                    scale(f64::from(b.y_min)),
                    scale(f64::from(b.x_max)),
                    scale(f64::from(b.y_max)),
                ],
            )
        }
        None => (900, -200, 700, [0, -200, 1000, 900]),
    };
    Font {
        widths,
        ascent,
        descent,
        cap_height,
        bbox,
    }
});

/// WinAnsi codes 0x80–0x9F that differ from Latin-1.
const WINANSI_HIGH: [(u8, char); 27] = [
    (0x80, '€'),
    (0x82, '‚'),
    (0x83, 'ƒ'),
    (0x84, '„'),
    (0x85, '…'),
    (0x86, '†'),
    (0x87, '‡'),
    (0x88, 'ˆ'),
    (0x89, '‰'),
    (0x8A, 'Š'),
    (0x8B, '‹'),
    (0x8C, 'Œ'),
    (0x8E, 'Ž'),
    (0x91, '‘'),
    (0x92, '’'),
    (0x93, '“'),
    (0x94, '”'),
    (0x95, '•'),
    (0x96, '–'),
    (0x97, '—'),
    (0x98, '˜'),
    (0x99, '™'),
    (0x9A, 'š'),
    (0x9B, '›'),
    (0x9C, 'œ'),
    (0x9E, 'ž'),
    (0x9F, 'Ÿ'),
];

fn winansi_char(code: u8) -> char {
    WINANSI_HIGH
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(char::from(code), |(_, ch)| *ch)
}

/// The WinAnsi code of a character; `?` when it has none.
fn winansi_code(ch: char) -> u8 {
    match u32::from(ch) {
        c @ (0x20..=0x7E | 0xA0..=0xFF) => c as u8,
        _ => WINANSI_HIGH
            .iter()
            .find(|(_, c)| *c == ch)
            .map_or(b'?', |(code, _)| *code),
    }
}

/// Width of `text` at `size` points.
pub fn text_width(text: &str, size: f64) -> f64 {
    let font = &*FONT;
    text.chars()
        .map(|c| f64::from(font.widths[usize::from(winansi_code(c).max(32) - 32)]))
        .sum::<f64>()
        * size
        / 1000.0
}

/// `text` cut (with an ellipsis) to fit `width` at `size`.
pub fn fit(text: &str, size: f64, width: f64) -> String {
    if text_width(text, size) <= width {
        return text.to_owned();
    }
    let mut out = String::new();
    for c in text.chars() {
        if text_width(&format!("{out}{c}…"), size) > width {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

/// An RGB colour, 0–1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rgb(pub f64, pub f64, pub f64);

impl Rgb {
    pub const BLACK: Rgb = Rgb(0.1, 0.1, 0.12);
    pub const GREY: Rgb = Rgb(0.45, 0.47, 0.5);
    pub const LIGHT: Rgb = Rgb(0.88, 0.9, 0.93);
    pub const ACCENT: Rgb = Rgb(0.16, 0.38, 0.71);
    pub const WARM: Rgb = Rgb(0.85, 0.42, 0.16);
}

/// One page's drawing operations, origin bottom-left, in points.
#[derive(Debug, Default, Clone)]
pub struct Page {
    ops: String,
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        match winansi_code(c) {
            b'(' => out.push_str("\\("),
            b')' => out.push_str("\\)"),
            b'\\' => out.push_str("\\\\"),
            code @ 0x20..=0x7E => out.push(char::from(code)),
            code => {
                let _ = write!(out, "\\{code:03o}");
            }
        }
    }
    out
}

impl Page {
    pub fn text(&mut self, x: f64, y: f64, size: f64, color: Rgb, text: &str) {
        let Rgb(r, g, b) = color;
        let _ = writeln!(
            self.ops,
            "BT {r:.3} {g:.3} {b:.3} rg /F1 {size:.1} Tf {x:.2} {y:.2} Td ({}) Tj ET",
            escape(text)
        );
    }

    /// Text ending at `x`.
    pub fn text_right(&mut self, x: f64, y: f64, size: f64, color: Rgb, text: &str) {
        self.text(x - text_width(text, size), y, size, color, text);
    }

    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: Rgb) {
        let Rgb(r, g, b) = fill;
        let _ = writeln!(
            self.ops,
            "{r:.3} {g:.3} {b:.3} rg {x:.2} {y:.2} {w:.2} {h:.2} re f"
        );
    }

    pub fn polyline(&mut self, points: &[(f64, f64)], width: f64, color: Rgb) {
        let Some(((x0, y0), rest)) = points.split_first() else {
            return;
        };
        let Rgb(r, g, b) = color;
        let _ = write!(
            self.ops,
            "{r:.3} {g:.3} {b:.3} RG {width:.2} w 1 J 1 j {x0:.2} {y0:.2} m"
        );
        for (x, y) in rest {
            let _ = write!(self.ops, " {x:.2} {y:.2} l");
        }
        self.ops.push_str(" S\n");
    }

    pub fn line(&mut self, from: (f64, f64), to: (f64, f64), width: f64, color: Rgb) {
        self.polyline(&[from, to], width, color);
    }
}

/// A document: pages in order, and its title for the metadata.
#[derive(Debug, Default)]
pub struct Document {
    pub title: String,
    pub pages: Vec<Page>,
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut enc = ZlibEncoder::new(Vec::new(), Compression::default());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

fn stream(dict: &str, data: &[u8]) -> Vec<u8> {
    let body = deflate(data);
    let mut out = format!(
        "<< {dict} /Length {} /Filter /FlateDecode >>\nstream\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out.extend_from_slice(b"\nendstream");
    out
}

/// A PDF text string (UTF-16BE with BOM), for metadata.
fn pdf_string(text: &str) -> String {
    let mut hex = String::from("<FEFF");
    for unit in text.encode_utf16() {
        let _ = write!(hex, "{unit:04X}");
    }
    hex.push('>');
    hex
}

impl Document {
    /// The whole file.
    pub fn render(&self, created: DateTime<Utc>) -> Vec<u8> {
        let font = &*FONT;
        let n = self.pages.len();
        // Objects: 1 catalog, 2 pages, 3 font, 4 descriptor, 5 font file,
        // 6 info, then a page and its content per page.
        let mut objects: Vec<Vec<u8>> = Vec::with_capacity(6 + 2 * n);
        objects.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
        let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 7 + 2 * i)).collect();
        objects
            .push(format!("<< /Type /Pages /Kids [{}] /Count {n} >>", kids.join(" ")).into_bytes());
        let widths: Vec<String> = font.widths.iter().map(u32::to_string).collect();
        objects.push(
            format!(
                "<< /Type /Font /Subtype /TrueType /BaseFont /DejaVuSans /FirstChar 32 /LastChar 255 \
                 /Widths [{}] /Encoding /WinAnsiEncoding /FontDescriptor 4 0 R >>",
                widths.join(" ")
            )
            .into_bytes(),
        );
        let [x0, y0, x1, y1] = font.bbox;
        objects.push(
            format!(
                "<< /Type /FontDescriptor /FontName /DejaVuSans /Flags 32 /FontBBox [{x0} {y0} {x1} {y1}] \
                 /ItalicAngle 0 /Ascent {} /Descent {} /CapHeight {} /StemV 80 /FontFile2 5 0 R >>",
                font.ascent, font.descent, font.cap_height
            )
            .into_bytes(),
        );
        objects.push(stream(
            &format!("/Length1 {}", FONT_BYTES.len()),
            FONT_BYTES,
        ));
        objects.push(
            format!(
                "<< /Title {} /Producer (Lumen) /CreationDate (D:{}Z) >>",
                pdf_string(&self.title),
                created.format("%Y%m%d%H%M%S")
            )
            .into_bytes(),
        );
        for (i, page) in self.pages.iter().enumerate() {
            objects.push(
                format!(
                    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] \
                     /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
                    8 + 2 * i
                )
                .into_bytes(),
            );
            objects.push(stream("", page.ops.as_bytes()));
        }

        let mut out: Vec<u8> = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
        let mut offsets = Vec::with_capacity(objects.len());
        for (i, body) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
            out.extend_from_slice(body);
            out.extend_from_slice(b"\nendobj\n");
        }
        let xref = out.len();
        let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
        for off in offsets {
            let _ = writeln!(table, "{off:010} 00000 n ");
        }
        let _ = write!(
            table,
            "trailer\n<< /Size {} /Root 1 0 R /Info 6 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        );
        out.extend_from_slice(table.as_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_encoded_in_winansi() {
        assert_eq!(escape("a(b)c\\"), "a\\(b\\)c\\\\");
        assert_eq!(escape("é–"), "\\351\\226");
        assert_eq!(escape("→"), "?");
    }

    #[test]
    fn widths_come_from_the_font() {
        // DejaVu Sans: space 318, "W" 989 per 1000 em.
        assert_eq!(FONT.widths[0], 318);
        assert!(text_width("WWW", 10.0) > text_width("iii", 10.0));
        let cut = fit("a rather long label that will not fit", 10.0, 60.0);
        assert!(cut.ends_with('…') && text_width(&cut, 10.0) <= 60.0);
    }

    #[test]
    fn a_document_has_a_cross_reference_table_and_the_font() {
        let mut page = Page::default();
        page.text(50.0, 800.0, 12.0, Rgb::BLACK, "Hello");
        let doc = Document {
            title: "T".into(),
            pages: vec![page.clone(), page],
        };
        let bytes = doc.render(Utc::now());
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.starts_with("%PDF-1.7"));
        assert!(text.contains("/Count 2"));
        assert!(text.contains("/FontFile2 5 0 R"));
        assert!(text.trim_end().ends_with("%%EOF"));
    }
}
