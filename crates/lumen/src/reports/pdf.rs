//! PDF output through krilla (docs/reports.md §3): Unicode text shaped and
//! set in subsetted, embedded fonts; a tagged structure (headings,
//! paragraphs, figures with alt text, in reading order) for screen readers;
//! bookmarks; title, language and metadata; PDF/A-2a for archiving. Charts
//! are the SVG of `lumen_core::chart`, embedded as vector graphics through
//! krilla-svg.
//!
//! Fonts: DejaVu Sans is compiled in (Latin, Greek, Cyrillic and more);
//! `LUMEN_REPORT_FONT_DIRS` adds fonts after it. Each character is set in
//! the first font of that chain that has it; a character no font has is
//! printed as U+FFFD and listed in a note on the title page.

use std::collections::BTreeSet;
use std::num::NonZeroU16;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, anyhow};
use krilla::color::rgb;
use krilla::configure::{Archival, ConfigurationBuilder};
use krilla::geom::{PathBuilder, Point, Rect, Size};
use krilla::metadata::{DateTime, Metadata};
use krilla::num::NormalizedF32;
use krilla::outline::{Outline, OutlineNode};
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::tagging::{
    Artifact, ArtifactType, ContentTag, Node, SpanTag, Tag, TagGroup, TagKind, TagTree,
};
use krilla::text::{Font, TextDirection};
use krilla::{Document, SerializeSettings};
use krilla_svg::{SurfaceExt, SvgSettings};

/// A4 in points.
pub const PAGE_WIDTH: f32 = 595.0;
pub const PAGE_HEIGHT: f32 = 842.0;
/// The document's language (BCP 47).
pub const LANGUAGE: &str = "en";

static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// One font of the fallback chain.
struct Face {
    font: Font,
    /// Advance of each character the font has, in em.
    advances: std::collections::HashMap<char, f32>,
}

impl Face {
    fn load(data: Arc<Vec<u8>>, index: u32) -> Option<Face> {
        let face = ttf_parser::Face::parse(&data, index).ok()?;
        let upem = f32::from(face.units_per_em());
        let mut advances = std::collections::HashMap::new();
        if let Some(cmap) = face.tables().cmap {
            for sub in cmap.subtables.into_iter().filter(|s| s.is_unicode()) {
                sub.codepoints(|cp| {
                    if let Some(c) = char::from_u32(cp)
                        && let Some(g) = sub.glyph_index(cp)
                    {
                        let adv = face.glyph_hor_advance(g).unwrap_or(0);
                        advances.entry(c).or_insert(f32::from(adv) / upem);
                    }
                });
            }
        }
        let font = Font::new(data.into(), index)?;
        Some(Face { font, advances })
    }
}

/// The fonts of the reports: DejaVu Sans, then the operator's, in order.
pub struct Fonts {
    faces: Vec<Face>,
    /// The same fonts for the charts' SVG text.
    db: Arc<usvg::fontdb::Database>,
    /// Font files that could not be read, for the log.
    pub skipped: Vec<PathBuf>,
}

fn font_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(font_files(&p));
        } else if p.extension().and_then(|x| x.to_str()).is_some_and(|x| {
            ["ttf", "otf", "ttc", "otc"].contains(&x.to_ascii_lowercase().as_str())
        }) {
            out.push(p);
        }
    }
    out.sort();
    out
}

impl Fonts {
    /// DejaVu Sans, then every font file under `dirs` (recursively, in
    /// name order; every face of a collection).
    pub fn load(dirs: &[PathBuf]) -> Fonts {
        let mut faces = Vec::new();
        let mut db = usvg::fontdb::Database::new();
        let mut skipped = Vec::new();
        let mut add = |data: Arc<Vec<u8>>, path: Option<&Path>| {
            let count = ttf_parser::fonts_in_collection(&data).unwrap_or(1);
            let mut any = false;
            for index in 0..count {
                if let Some(face) = Face::load(data.clone(), index) {
                    faces.push(face);
                    any = true;
                }
            }
            if any {
                db.load_font_source(usvg::fontdb::Source::Binary(data));
            } else if let Some(p) = path {
                skipped.push(p.to_owned());
            }
        };
        add(Arc::new(DEJAVU_SANS.to_vec()), None);
        let mut unreadable = Vec::new();
        for dir in dirs {
            for path in font_files(dir) {
                match std::fs::read(&path) {
                    Ok(bytes) => add(Arc::new(bytes), Some(&path)),
                    Err(_) => unreadable.push(path),
                }
            }
        }
        skipped.extend(unreadable);
        db.set_sans_serif_family(lumen_core::chart::FONT_FAMILY);
        Fonts {
            faces,
            db: Arc::new(db),
            skipped,
        }
    }

    /// The fonts for these directories, loaded once per process.
    pub fn shared(dirs: &[PathBuf]) -> Arc<Fonts> {
        static CACHE: Mutex<Option<(Vec<PathBuf>, Arc<Fonts>)>> = Mutex::new(None);
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((key, fonts)) = &*cache
            && key == dirs
        {
            return fonts.clone();
        }
        let fonts = Arc::new(Fonts::load(dirs));
        for p in &fonts.skipped {
            tracing::warn!(path = %p.display(), "report font could not be read: skipped");
        }
        *cache = Some((dirs.to_vec(), fonts.clone()));
        fonts
    }

    /// How many fonts the chain has.
    pub fn len(&self) -> usize {
        self.faces.len()
    }

    pub fn is_empty(&self) -> bool {
        self.faces.is_empty()
    }

    /// The first face that has `c`.
    fn face_of(&self, c: char) -> Option<usize> {
        self.faces.iter().position(|f| f.advances.contains_key(&c))
    }

    /// `text` cut into runs of one face each; characters no face has become
    /// U+FFFD and are added to `missing`.
    fn runs(&self, text: &str, missing: &mut BTreeSet<char>) -> Vec<(usize, String)> {
        let mut runs: Vec<(usize, String)> = Vec::new();
        for c in text.chars() {
            let (face, c) = match self.face_of(c) {
                Some(f) => (f, c),
                None if c.is_control() => continue,
                None => {
                    missing.insert(c);
                    (0, '\u{FFFD}')
                }
            };
            match runs.last_mut() {
                Some((f, s)) if *f == face => s.push(c),
                _ => runs.push((face, c.to_string())),
            }
        }
        runs
    }

    /// Width of `text` at `size`, in points.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        text.chars()
            .map(|c| {
                self.face_of(c)
                    .and_then(|f| self.faces[f].advances.get(&c).copied())
                    .unwrap_or(0.6)
            })
            .sum::<f32>()
            * size
    }

    /// `text` cut (with an ellipsis) to fit `width` at `size`.
    pub fn fit(&self, text: &str, size: f32, width: f32) -> String {
        if self.width(text, size) <= width {
            return text.to_owned();
        }
        let mut out = String::new();
        for c in text.chars() {
            out.push(c);
            if self.width(&out, size) + self.width("…", size) > width {
                out.pop();
                break;
            }
        }
        out.push('…');
        out
    }

    /// `text` broken into lines of at most `width` at `size`.
    pub fn wrap(&self, text: &str, size: f32, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        let mut line = String::new();
        for word in text.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if self.width(&candidate, size) > width && !line.is_empty() {
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
}

/// An sRGB colour.
pub type Color = rgb::Color;

pub fn color(hex: u32) -> Color {
    rgb::Color::new((hex >> 16) as u8, (hex >> 8) as u8, hex as u8)
}

fn fill(c: Color) -> Fill {
    Fill {
        paint: c.into(),
        opacity: NormalizedF32::ONE,
        rule: Default::default(),
    }
}

/// Where text is aligned to its x.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A page being drawn: its surface, and the structure of what is on it.
pub struct PageCanvas<'a, 'b> {
    surface: Surface<'a>,
    fonts: &'b Fonts,
    missing: &'b mut BTreeSet<char>,
    /// The page's structure element (a Section), children in reading order.
    pub section: TagGroup,
    page_index: usize,
}

impl PageCanvas<'_, '_> {
    pub fn fonts(&self) -> &Fonts {
        self.fonts
    }

    fn draw_text(&mut self, x: f32, y: f32, size: f32, c: Color, text: &str) {
        self.surface.set_fill(Some(fill(c)));
        self.surface.set_stroke(None);
        let mut x = x;
        for (face, run) in self.fonts.runs(text, self.missing) {
            let font = self.fonts.faces[face].font.clone();
            self.surface.draw_text(
                Point::from_xy(x, y),
                font,
                size,
                &run,
                false,
                TextDirection::Auto,
            );
            x += self.fonts.width(&run, size);
        }
    }

    /// One line of text (baseline at `y`, from the top), as a span: its
    /// structure node, to be put in a group (P, H1, …).
    pub fn text(&mut self, x: f32, y: f32, size: f32, c: Color, align: Align, text: &str) -> Node {
        let x = match align {
            Align::Left => x,
            Align::Right => x - self.fonts.width(text, size),
        };
        let id = self
            .surface
            .start_tagged(ContentTag::Span(SpanTag::empty()));
        self.draw_text(x, y, size, c, text);
        self.surface.end_tagged();
        id.into()
    }

    /// Text in a group of kind `tag`, added to the page's structure.
    pub fn block(&mut self, tag: impl Into<TagKind>, lines: &[(f32, f32, f32, Color, &str)]) {
        let mut group = TagGroup::new(tag);
        for &(x, y, size, c, text) in lines {
            group.push(self.text(x, y, size, c, Align::Left, text));
        }
        self.section.push(group);
    }

    /// A paragraph of one line.
    pub fn para(&mut self, x: f32, y: f32, size: f32, c: Color, text: &str) {
        self.block(Tag::P, &[(x, y, size, c, text)]);
    }

    /// A heading of `level` (1: the document's title).
    pub fn heading(&mut self, level: u16, x: f32, y: f32, size: f32, c: Color, text: &str) {
        let level = NonZeroU16::new(level).unwrap_or(NonZeroU16::MIN);
        self.block(
            Tag::Hn(level, Some(text.to_owned())),
            &[(x, y, size, c, text)],
        );
    }

    /// Drawing that carries no content (backgrounds, rules): an artifact.
    pub fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, c: Color) {
        let Some(rect) = Rect::from_xywh(x, y, w, h) else {
            return;
        };
        let mut pb = PathBuilder::new();
        pb.push_rect(rect);
        let Some(path) = pb.finish() else { return };
        self.surface
            .start_tagged(ContentTag::Artifact(Artifact::with_kind(
                ArtifactType::Layout,
            )));
        self.surface.set_fill(Some(fill(c)));
        self.surface.set_stroke(None);
        self.surface.draw_path(&path);
        self.surface.end_tagged();
    }

    pub fn rule(&mut self, x1: f32, y: f32, x2: f32, width: f32, c: Color) {
        let mut pb = PathBuilder::new();
        pb.move_to(x1, y);
        pb.line_to(x2, y);
        let Some(path) = pb.finish() else { return };
        self.surface
            .start_tagged(ContentTag::Artifact(Artifact::with_kind(
                ArtifactType::Layout,
            )));
        self.surface.set_fill(None);
        self.surface.set_stroke(Some(Stroke {
            paint: c.into(),
            width,
            ..Default::default()
        }));
        self.surface.draw_path(&path);
        self.surface.end_tagged();
    }

    /// Text that repeats on every page (the footer): an artifact.
    pub fn footer_text(&mut self, x: f32, y: f32, size: f32, c: Color, align: Align, text: &str) {
        let x = match align {
            Align::Left => x,
            Align::Right => x - self.fonts.width(text, size),
        };
        self.surface
            .start_tagged(ContentTag::Artifact(Artifact::with_kind(
                ArtifactType::PaginationOther,
            )));
        self.draw_text(x, y, size, c, text);
        self.surface.end_tagged();
    }

    /// An SVG (a chart) at (x, y) from the top-left, at its natural size, as
    /// a figure with `alt` text.
    pub fn svg(&mut self, x: f32, y: f32, svg: &str, alt: &str) -> anyhow::Result<f32> {
        let options = usvg::Options {
            font_family: lumen_core::chart::FONT_FAMILY.to_owned(),
            fontdb: self.fonts.db.clone(),
            ..Default::default()
        };
        let tree = usvg::Tree::from_str(svg, &options).context("chart SVG")?;
        let size = tree.size();
        let (w, h) = (size.width(), size.height());
        let id = self.surface.start_tagged(ContentTag::Other);
        self.surface
            .push_transform(&krilla::geom::Transform::from_translate(x, y));
        self.surface
            .draw_svg(
                &tree,
                Size::from_wh(w, h).ok_or_else(|| anyhow!("empty chart"))?,
                SvgSettings::default(),
            )
            .ok_or_else(|| anyhow!("chart could not be drawn"))?;
        self.surface.pop();
        self.surface.end_tagged();
        let bbox =
            Rect::from_xywh(x, y, w, h).map(|r| krilla::tagging::BBox::new(self.page_index, r));
        let mut figure = TagGroup::new(Tag::Figure(Some(alt.to_owned())).with_bbox(bbox));
        figure.push(id);
        self.section.push(figure);
        Ok(h)
    }
}

/// What the document is, for its metadata.
pub struct DocInfo {
    pub title: String,
    pub subject: String,
    pub author: String,
    pub created: chrono::DateTime<chrono::Utc>,
    pub id: String,
}

/// A document being written: pages with their structure, and bookmarks.
pub struct Writer {
    doc: Document,
    fonts: Arc<Fonts>,
    tree: TagTree,
    outline: Outline,
    pages: usize,
    /// Characters no font had.
    pub missing: BTreeSet<char>,
}

impl Writer {
    pub fn new(fonts: Arc<Fonts>) -> Self {
        let configuration = ConfigurationBuilder::new()
            .with_archival_validator(Archival::A2_A)
            .finish()
            .unwrap_or_default();
        let settings = SerializeSettings {
            configuration,
            enable_tagging: true,
            ..Default::default()
        };
        Self {
            doc: Document::new_with(settings),
            fonts,
            tree: TagTree::new().with_lang(Some(LANGUAGE.to_owned())),
            outline: Outline::new(),
            pages: 0,
            missing: BTreeSet::new(),
        }
    }

    pub fn fonts(&self) -> &Fonts {
        &self.fonts
    }

    /// Adds an A4 page drawn by `draw`, with a bookmark `bookmark`.
    pub fn page(
        &mut self,
        bookmark: &str,
        draw: impl FnOnce(&mut PageCanvas<'_, '_>) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let settings =
            PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT).ok_or_else(|| anyhow!("page size"))?;
        let index = self.pages;
        let fonts = self.fonts.clone();
        let (drawn, section) = {
            let mut page = self.doc.start_page_with(settings);
            let mut canvas = PageCanvas {
                surface: page.surface(),
                fonts: &fonts,
                missing: &mut self.missing,
                section: TagGroup::new(Tag::Section),
                page_index: index,
            };
            let drawn = draw(&mut canvas);
            let PageCanvas {
                surface, section, ..
            } = canvas;
            surface.finish();
            (drawn, section)
        };
        drawn?;
        self.tree.push(section);
        self.outline.push_child(OutlineNode::new(
            bookmark.to_owned(),
            krilla::destination::XyzDestination::new(index, Point::from_xy(0.0, 0.0)),
        ));
        self.pages += 1;
        Ok(())
    }

    /// The file.
    pub fn finish(mut self, info: DocInfo) -> anyhow::Result<Vec<u8>> {
        use chrono::{Datelike, Timelike};
        let c = info.created;
        let created = DateTime::new(c.year() as u16)
            .month(c.month() as u8)
            .day(c.day() as u8)
            .hour(c.hour() as u8)
            .minute(c.minute() as u8)
            .second(c.second() as u8)
            .utc_offset_hour(0)
            .utc_offset_minute(0);
        self.doc.set_metadata(
            Metadata::new()
                .title(info.title)
                .description(info.subject)
                .authors(vec![info.author])
                .language(LANGUAGE.to_owned())
                .creator("Lumen".to_owned())
                .producer(format!("Lumen {} (krilla)", env!("CARGO_PKG_VERSION")))
                .creation_date(created)
                .document_id(info.id),
        );
        self.doc.set_outline(self.outline);
        self.doc.set_tag_tree(self.tree);
        self.doc
            .finish()
            .map_err(|e| anyhow!("the PDF could not be written: {e:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_font_covers_latin_greek_and_cyrillic() {
        let fonts = Fonts::load(&[]);
        assert_eq!(fonts.len(), 1);
        let mut missing = BTreeSet::new();
        let runs = fonts.runs("Łukasz Dvořák-Şahin · Εισαγωγή · Привет", &mut missing);
        assert!(missing.is_empty(), "{missing:?}");
        assert_eq!(runs.len(), 1);
        // Han is not in DejaVu Sans: replaced and reported.
        let runs = fonts.runs("a漢b", &mut missing);
        assert_eq!(missing.into_iter().collect::<Vec<_>>(), vec!['漢']);
        assert_eq!(runs, vec![(0, "a\u{FFFD}b".to_owned())]);
    }

    #[test]
    fn widths_come_from_the_font_and_text_is_cut_and_wrapped() {
        let fonts = Fonts::load(&[]);
        // DejaVu Sans: "W" is 1.3 times as wide as "i" … and more.
        assert!(fonts.width("WWW", 10.0) > 2.0 * fonts.width("iii", 10.0));
        let cut = fonts.fit("a rather long label that will not fit", 10.0, 60.0);
        assert!(
            cut.ends_with('…') && fonts.width(&cut, 10.0) <= 60.0,
            "{cut}"
        );
        let lines = fonts.wrap("one two three four five six", 10.0, 60.0);
        assert!(lines.len() > 1 && lines.iter().all(|l| fonts.width(l, 10.0) <= 60.0));
    }

    #[test]
    fn operator_fonts_join_the_chain_and_unreadable_files_are_skipped() {
        let dir = std::env::temp_dir().join(format!("lumen-fonts-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("broken.ttf"), b"not a font").expect("write");
        std::fs::write(dir.join("copy.ttf"), DEJAVU_SANS).expect("write");
        let fonts = Fonts::load(std::slice::from_ref(&dir));
        assert_eq!(fonts.len(), 2);
        assert_eq!(fonts.skipped, vec![dir.join("broken.ttf")]);
        let _ = std::fs::remove_dir_all(dir);
    }
}
