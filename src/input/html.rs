//! HTML → title and main text, readability-style.
//!
//! The page is parsed once (after [`nesting_guard`](super::nesting_guard) has capped absurd
//! nesting) and walked once, iteratively, into a flat index: one entry per element (parent,
//! kind, class verdict) plus the text in document order. Every later step is a loop over
//! that index (sums and maxima over subtrees are reverse passes, inherited flags forward
//! passes), so no step recurses and none is worse than linear.
//!
//! 1. Never content: `script`, `style`, `nav`, `header`, `footer`, `aside`, `figure`,
//!    hidden elements, ARIA landmarks such as `role="navigation"`.
//! 2. Boilerplate by class/id ([`class_names`](super::class_names)): share, related,
//!    comment, byline, caption, ad … blocks; layout words (sidebar, menu, `<form>`) only when
//!    the block is not full of prose. A class word never removes a block that wraps the
//!    story: when a story container (`<article>`, `entry-content` …) inside it holds most of
//!    its prose, the block stays ("Page-ad-margins", "non-ad-column" around an `<article>`).
//!    Inside a paragraph, an inline element that is only a cluster of links (a hover card
//!    listing a name's latest headlines) is left out, so it is not fused onto the sentence.
//! 3. The main block: `[itemprop=articleBody]`, `<article>` or `<main>` when present and
//!    holding a fair share of the paragraph text; else the element whose paragraphs score
//!    highest (length, commas, few links), with its similarly scored siblings. A `<div>`
//!    holding only text and inline elements counts as a paragraph.
//! 4. Paragraphs: text of `<p>`, `<h2>`–`<h6>`, `<li>`, `<blockquote>`, `<dd>`/`<dt>`, and
//!    table rows (cells joined by spaces), one paragraph each; loose text between blocks only
//!    where the page has no such elements or it reads like prose. `<h1>` is the title and is
//!    not repeated in the text. Paragraphs mostly made of links (related headlines, "click
//!    here" lines) are dropped, and so are the labels of removed widgets: a heading with
//!    nothing under it, a short fragment left at the end ("comments").

use scraper::{ElementRef, Html, Node, Selector};

use super::class_names::{self, ClassVerdict};
use super::nesting_guard;
use super::{normalize_paragraph, Extracted};

/// A paragraph shorter than this (in non-space characters) does not vote for its container.
const MIN_SCORED_PARAGRAPH_CHARS: usize = 25;
/// A `<div>` holding this much text directly (no `<p>`) is scored like a paragraph.
const MIN_LOOSE_BLOCK_CHARS: usize = 100;
/// A layout-suspect block (sidebar, form, …) is kept when it holds this much paragraph text…
const PROSE_RICH_PARAGRAPH_CHARS: usize = 500;
/// …with at most this share of it inside links.
const PROSE_RICH_MAX_LINK_DENSITY: f64 = 0.3;
/// A semantic container (`<article>` …) wins when it holds at least this share of the
/// paragraph text of the best-scored block.
const SEMANTIC_MIN_SHARE_OF_BEST: f64 = 0.5;
/// A fragment this short without closing punctuation, left at the end of the text, is the
/// label of a removed widget ("comments", "Share").
const MAX_LABEL_CHARS: usize = 40;
/// A paragraph with more of its text inside links than this is navigation (a related
/// headline, "Click here to get the app"), not prose.
const MAX_PARAGRAPH_LINK_DENSITY: f64 = 0.66;
/// An inline element inside a paragraph with at least this many links…
const MIN_LINK_CLUSTER_LINKS: usize = 3;
/// …and at least this share of its text in them is a cluster of links, not part of the sentence.
const MIN_LINK_CLUSTER_DENSITY: f64 = 0.9;
/// A boilerplate-classed block is kept when a content container inside it holds at least
/// this much prose…
const MIN_WRAPPED_STORY_CHARS: usize = 200;
/// …and at least this share of the block's prose.
const WRAPPED_STORY_SHARE: f64 = 0.5;
/// Loose text (outside paragraph elements) is kept next to real paragraphs only when it is
/// at least this long and ends like a sentence.
const MIN_LOOSE_PROSE_CHARS: usize = 100;

pub(super) fn extract(input_name: &str, source: &str) -> Extracted {
    let mut warnings = Vec::new();
    let guarded = nesting_guard::cap_nesting_warned(input_name, source, &mut warnings);
    let document = Html::parse_document(&guarded);
    let page = PageIndex::build(&document);

    // Class names are evidence, not proof: when trusting them leaves nothing, the page is read
    // again without them (readability's retry), then as all its visible text. A page with
    // text is never refused for its class names.
    let mut paragraphs = Vec::new();
    for class_names in [ClassNames::Trusted, ClassNames::Ignored] {
        let analysis = Analysis::of(&page, class_names);
        if let Some(roots) = analysis.main_blocks(&page) {
            paragraphs = analysis.paragraphs(&page, &roots);
        }
        if paragraphs.is_empty() {
            let whole_page = page.body().into_iter().collect::<Vec<_>>();
            paragraphs = analysis.paragraphs(&page, &whole_page);
        }
        if !paragraphs.is_empty() {
            if class_names == ClassNames::Ignored {
                warnings.push(format!(
                    "{input_name}: every block with text has a class or id naming it page \
                     furniture (ad, sidebar, comments …), so the page was read without them; \
                     the text may include some furniture"
                ));
            }
            break;
        }
    }

    Extracted {
        title: find_title(&document),
        paragraphs,
        warnings,
    }
}

/// One element of the page, in document (pre-)order: parents come before their children.
struct ElementEntry<'a> {
    name: &'a str,
    parent: Option<usize>,
    kind: ElementKind,
    verdict: ClassVerdict,
    is_semantic_body: bool,
    /// `<article>`, `<main>`, `itemprop=articleBody`, or a class naming the story's body
    /// (`entry-content`, `article-body`, `storyText` …).
    is_story_container: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ElementKind {
    /// `<p>`, `<h2>`–`<h6>`, `<li>`, `<blockquote>`, `<dd>`, `<dt>`: one paragraph each.
    Paragraph,
    /// `<h1>`: the headline.
    Headline,
    /// `<td>`, `<th>`: a table row's cells are one paragraph, the cells separated by spaces.
    TableCell,
    /// Other block-level elements: they end a paragraph but do not make one.
    Block,
    Link,
    LineBreak,
    Inline,
}

enum Event<'a> {
    Open(usize),
    Close(usize),
    /// Text whose nearest element is the given entry.
    Text(usize, &'a str),
}

/// The flat index of a page: its content-bearing elements and, in order, their text.
struct PageIndex<'a> {
    elements: Vec<ElementEntry<'a>>,
    events: Vec<Event<'a>>,
}

impl<'a> PageIndex<'a> {
    fn build(document: &'a Html) -> Self {
        let mut index = PageIndex {
            elements: Vec::new(),
            events: Vec::new(),
        };
        let mut open: Vec<usize> = Vec::new();
        walk(document.root_element(), |visit| match visit {
            Visit::Enter(element) => {
                if is_never_content(element) {
                    return false;
                }
                let entry = index.elements.len();
                index.elements.push(ElementEntry {
                    name: element.value().name(),
                    parent: open.last().copied(),
                    kind: element_kind(element.value().name()),
                    verdict: class_verdict(element),
                    is_semantic_body: is_semantic_body(element),
                    is_story_container: is_story_container(element),
                });
                index.events.push(Event::Open(entry));
                open.push(entry);
                true
            }
            Visit::Exit => {
                if let Some(entry) = open.pop() {
                    index.events.push(Event::Close(entry));
                }
                true
            }
            Visit::Text(text) => {
                if let Some(&entry) = open.last() {
                    index.events.push(Event::Text(entry, text));
                }
                true
            }
        });
        index.treat_text_only_divs_as_paragraphs();
        index
    }

    /// A `<div>` that holds only text and inline elements is a paragraph written with the
    /// wrong tag (readability's "DIV to P"): it ends a paragraph and votes like `<p>`.
    fn treat_text_only_divs_as_paragraphs(&mut self) {
        let count = self.elements.len();
        let mut has_block_inside = vec![false; count];
        let mut has_text = vec![false; count];
        for event in &self.events {
            if let Event::Text(index, text) = *event {
                if !text.trim().is_empty() {
                    has_text[index] = true;
                }
            }
        }
        for index in (0..count).rev() {
            if let Some(parent) = self.elements[index].parent {
                let is_block = !matches!(
                    self.elements[index].kind,
                    ElementKind::Link | ElementKind::LineBreak | ElementKind::Inline
                );
                has_block_inside[parent] |= is_block || has_block_inside[index];
                has_text[parent] |= has_text[index];
            }
        }
        for index in 0..count {
            let entry = &mut self.elements[index];
            if entry.name == "div" && !has_block_inside[index] && has_text[index] {
                entry.kind = ElementKind::Paragraph;
            }
        }
    }

    fn body(&self) -> Option<usize> {
        self.elements
            .iter()
            .position(|entry| entry.name == "body")
            .or(if self.elements.is_empty() {
                None
            } else {
                Some(0)
            })
    }
}

#[derive(Clone, Copy, Default)]
struct TextStats {
    chars: usize,
    link_chars: usize,
    paragraph_chars: usize,
    commas: usize,
}

impl TextStats {
    fn add(&mut self, other: TextStats) {
        self.chars += other.chars;
        self.link_chars += other.link_chars;
        self.paragraph_chars += other.paragraph_chars;
        self.commas += other.commas;
    }

    /// Characters outside links: what a reader reads.
    fn prose_chars(&self) -> usize {
        self.chars - self.link_chars
    }

    fn link_density(&self) -> f64 {
        if self.chars == 0 {
            0.0
        } else {
            self.link_chars as f64 / self.chars as f64
        }
    }
}

/// Whether class and id names may remove blocks (the first reading) or not (the retry).
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClassNames {
    Trusted,
    Ignored,
}

/// Per-element facts derived from the index, each computed by one pass over it.
struct Analysis {
    in_paragraph: Vec<bool>,
    in_link: Vec<bool>,
    /// Inside a list item or a table cell: data, whatever its length.
    in_list_or_table: Vec<bool>,
    /// Text directly inside the element (not in child elements).
    own: Vec<TextStats>,
    /// Text of the element and its non-excluded descendants.
    total: Vec<TextStats>,
    excluded: Vec<bool>,
    /// Removed for a boilerplate word in its class (comments, related …): a heading just
    /// before it is its label.
    removed_as_boilerplate: Vec<bool>,
    score: Vec<f64>,
}

impl Analysis {
    fn of(page: &PageIndex<'_>, class_names: ClassNames) -> Self {
        let count = page.elements.len();
        let mut in_link = vec![false; count];
        let mut in_paragraph = vec![false; count];
        let mut in_list_or_table = vec![false; count];
        for (index, entry) in page.elements.iter().enumerate() {
            let parent = entry.parent;
            in_link[index] = entry.kind == ElementKind::Link || parent.is_some_and(|p| in_link[p]);
            in_paragraph[index] = matches!(entry.kind, ElementKind::Paragraph | ElementKind::TableCell)
                || parent.is_some_and(|p| in_paragraph[p]);
            in_list_or_table[index] = matches!(entry.name, "li" | "dd" | "dt" | "td" | "th")
                || parent.is_some_and(|p| in_list_or_table[p]);
        }

        let mut own = vec![TextStats::default(); count];
        for event in &page.events {
            if let Event::Text(index, text) = *event {
                let chars = text.chars().filter(|c| !c.is_whitespace()).count();
                let stats = &mut own[index];
                stats.chars += chars;
                stats.commas += text.matches(',').count();
                if in_link[index] {
                    stats.link_chars += chars;
                }
                if in_paragraph[index] {
                    stats.paragraph_chars += chars;
                }
            }
        }

        let nothing_excluded = vec![false; count];
        let raw_total = subtree_totals(page, &own, &nothing_excluded);

        // Links in each subtree, for spotting link clusters inside paragraphs.
        let mut links = vec![0usize; count];
        for index in (0..count).rev() {
            if page.elements[index].kind == ElementKind::Link {
                links[index] += 1;
            }
            if let Some(parent) = page.elements[index].parent {
                links[parent] += links[index];
            }
        }
        // An inline element inside a paragraph that is nothing but several links (a name's
        // hover card listing its latest headlines, "Related: A | B | C") is not the sentence
        // it sits in.
        // The innermost such element is the cluster, so that a link the sentence needs (the
        // name the hover card belongs to) stays.
        let mut looks_like_cluster = vec![false; count];
        let mut child_looks_like_cluster = vec![false; count];
        for index in (0..count).rev() {
            let entry = &page.elements[index];
            looks_like_cluster[index] = entry.kind == ElementKind::Inline
                && entry.parent.is_some_and(|parent| in_paragraph[parent])
                && links[index] >= MIN_LINK_CLUSTER_LINKS
                && raw_total[index].link_density() >= MIN_LINK_CLUSTER_DENSITY;
            if let (true, Some(parent)) = (looks_like_cluster[index], entry.parent) {
                child_looks_like_cluster[parent] = true;
            }
        }
        let mut in_link_cluster = vec![false; count];
        for (index, entry) in page.elements.iter().enumerate() {
            let is_cluster = looks_like_cluster[index] && !child_looks_like_cluster[index];
            in_link_cluster[index] = is_cluster || entry.parent.is_some_and(|p| in_link_cluster[p]);
        }
        let clean_total = subtree_totals(page, &own, &in_link_cluster);

        // The prose of the largest story container (`<article>`, `entry-content` …) inside
        // each element, itself included: a class word never removes the block that wraps the
        // story ("Page-ad-margins", "non-ad-column" around an `<article>`).
        let mut inner_container_prose = vec![0usize; count];
        for index in (0..count).rev() {
            // `<article class="comment">` is a comment, not a story.
            let entry = &page.elements[index];
            if entry.is_story_container && entry.verdict != ClassVerdict::Boilerplate {
                inner_container_prose[index] =
                    inner_container_prose[index].max(clean_total[index].prose_chars());
            }
            if let Some(parent) = page.elements[index].parent {
                inner_container_prose[parent] =
                    inner_container_prose[parent].max(inner_container_prose[index]);
            }
        }
        let wraps_the_story = |index: usize| {
            let container = inner_container_prose[index];
            container >= MIN_WRAPPED_STORY_CHARS
                && container as f64 >= WRAPPED_STORY_SHARE * clean_total[index].prose_chars() as f64
        };

        // An `<article>` inside another is, in HTML's own terms, content related to the outer
        // one (a comment, a teaser of another story), unless it holds most of the outer
        // article's prose (a page that wraps everything, story included, in `<article>`).
        let mut enclosing_article_prose = vec![0usize; count];
        for (index, entry) in page.elements.iter().enumerate() {
            if let Some(parent) = entry.parent {
                enclosing_article_prose[index] = if page.elements[parent].name == "article" {
                    clean_total[parent].prose_chars()
                } else {
                    enclosing_article_prose[parent]
                };
            }
        }
        let is_nested_related_article = |index: usize| {
            page.elements[index].name == "article"
                && enclosing_article_prose[index] > 0
                && (clean_total[index].prose_chars() as f64)
                    < WRAPPED_STORY_SHARE * enclosing_article_prose[index] as f64
        };

        // A weakly worded block ("ad", "modal") that holds most of the page's prose is its
        // wrapper, not an ad.
        let page_prose = page.body().map_or(0, |body| clean_total[body].prose_chars());
        let holds_most_of_the_page =
            |index: usize| clean_total[index].prose_chars() as f64 >= WRAPPED_STORY_SHARE * page_prose as f64;

        let mut excluded = in_link_cluster;
        let mut removed_as_boilerplate = vec![false; count];
        for (index, entry) in page.elements.iter().enumerate() {
            let verdict = match class_names {
                ClassNames::Trusted => entry.verdict,
                ClassNames::Ignored => ClassVerdict::Neutral,
            };
            let boilerplate = match verdict {
                ClassVerdict::Neutral => false,
                ClassVerdict::Boilerplate => !wraps_the_story(index),
                ClassVerdict::WeakBoilerplate => {
                    !wraps_the_story(index) && !holds_most_of_the_page(index)
                }
                ClassVerdict::Layout => {
                    !is_prose_rich(&clean_total[index]) && !wraps_the_story(index)
                }
            };
            removed_as_boilerplate[index] = verdict == ClassVerdict::Boilerplate && boilerplate;
            let boilerplate = boilerplate || is_nested_related_article(index);
            excluded[index] |= boilerplate || entry.parent.is_some_and(|p| excluded[p]);
        }
        let total = subtree_totals(page, &own, &excluded);

        let mut analysis = Analysis {
            in_paragraph,
            in_link,
            in_list_or_table,
            own,
            total,
            excluded,
            removed_as_boilerplate,
            score: vec![0.0; count],
        };
        analysis.score_containers(page);
        analysis
    }

    /// Each paragraph votes for its parent (full weight) and grandparent (half); a `<div>`
    /// full of loose text votes for itself and its parent. Votes grow with length and
    /// commas and shrink with the share of link text.
    fn score_containers(&mut self, page: &PageIndex<'_>) {
        let mut score = vec![0.0; page.elements.len()];
        for (index, entry) in page.elements.iter().enumerate() {
            if self.excluded[index] {
                continue;
            }
            let votes_as_paragraph = entry.name == "p"
                || (entry.name == "div" && entry.kind == ElementKind::Paragraph);
            let (stats, first_voter) = if votes_as_paragraph {
                (self.total[index], entry.parent)
            } else if matches!(entry.name, "div" | "section" | "td" | "article" | "main")
                && self.own[index].chars >= MIN_LOOSE_BLOCK_CHARS
            {
                (self.own[index], Some(index))
            } else {
                continue;
            };
            if stats.chars < MIN_SCORED_PARAGRAPH_CHARS {
                continue;
            }
            let vote = (1.0 + stats.commas as f64 + (stats.chars as f64 / 100.0).min(3.0))
                * (1.0 - stats.link_density());
            if let Some(first) = first_voter {
                score[first] += vote;
                if let Some(second) = page.elements[first].parent {
                    score[second] += vote / 2.0;
                }
            }
        }
        for (index, value) in score.iter_mut().enumerate() {
            *value *= 1.0 - self.total[index].link_density();
        }
        self.score = score;
    }

    /// The elements whose text is the article, in document order; None when nothing scored.
    fn main_blocks(&self, page: &PageIndex<'_>) -> Option<Vec<usize>> {
        let best_scored = (0..page.elements.len())
            .filter(|&index| !self.excluded[index] && self.score[index] > 0.0)
            .max_by(|&a, &b| self.score[a].total_cmp(&self.score[b]));

        let best_paragraph_chars = best_scored.map_or(0, |index| self.total[index].paragraph_chars);
        let semantic_kinds: [fn(&ElementEntry<'_>) -> bool; 3] = [
            |entry| entry.is_semantic_body,
            |entry| entry.name == "article",
            |entry| entry.name == "main",
        ];
        for is_kind in semantic_kinds {
            let largest = (0..page.elements.len())
                .filter(|&index| !self.excluded[index] && is_kind(&page.elements[index]))
                .max_by_key(|&index| self.total[index].paragraph_chars);
            if let Some(index) = largest {
                let chars = self.total[index].paragraph_chars;
                if chars > 0
                    && chars as f64 >= SEMANTIC_MIN_SHARE_OF_BEST * best_paragraph_chars as f64
                {
                    return Some(vec![index]);
                }
            }
        }

        let best = best_scored?;
        let Some(parent) = page.elements[best].parent else {
            return Some(vec![best]);
        };
        // Articles are often split into several sibling blocks (around ads or pictures).
        let sibling_threshold = (self.score[best] * 0.2).max(10.0);
        let blocks = (0..page.elements.len())
            .filter(|&index| page.elements[index].parent == Some(parent) && !self.excluded[index])
            .filter(|&index| {
                let stats = &self.total[index];
                index == best
                    || self.score[index] >= sibling_threshold
                    || (stats.paragraph_chars >= 80
                        && stats.link_density() < 0.25
                        && self.score[index] > 0.0)
                    || (page.elements[index].name == "p"
                        && stats.chars >= 80
                        && stats.link_density() < 0.25)
            })
            .collect();
        Some(blocks)
    }

    /// The paragraphs of the given blocks (and their descendants), in document order.
    fn paragraphs(&self, page: &PageIndex<'_>, roots: &[usize]) -> Vec<String> {
        let count = page.elements.len();
        let mut is_root = vec![false; count];
        for &root in roots {
            is_root[root] = true;
        }
        let mut emitted = vec![false; count];
        for (index, entry) in page.elements.iter().enumerate() {
            let inside = is_root[index] || entry.parent.is_some_and(|p| emitted[p]);
            emitted[index] = inside && !self.excluded[index] && entry.kind != ElementKind::Headline;
        }

        let mut collector = ParagraphCollector::default();
        for event in &page.events {
            if let Event::Open(index) = *event {
                let parent_emitted = page.elements[index].parent.is_some_and(|p| emitted[p]);
                if self.removed_as_boilerplate[index] && parent_emitted {
                    collector.end_paragraph();
                    collector.removed_block();
                }
            }
            match *event {
                Event::Open(index) | Event::Close(index) => match page.elements[index].kind {
                    ElementKind::Paragraph | ElementKind::Headline | ElementKind::Block => {
                        collector.end_paragraph();
                        if matches!(event, Event::Open(_)) {
                            collector.heading_level = heading_level(page.elements[index].name);
                        }
                    }
                    ElementKind::LineBreak if emitted[index] && matches!(event, Event::Open(_)) => {
                        collector.line_break()
                    }
                    ElementKind::TableCell => collector.cell_boundary(),
                    _ => {}
                },
                Event::Text(index, text) => {
                    if emitted[index] {
                        collector.text(
                            text,
                            self.in_paragraph[index],
                            self.in_link[index],
                            self.in_list_or_table[index],
                        );
                    }
                }
            }
        }
        collector.end_paragraph();
        collector.finish()
    }
}

/// Each element's text and that of its descendants, leaving out the `excluded` subtrees.
/// Children follow their parents in the index, so one reverse pass sums every subtree.
fn subtree_totals(page: &PageIndex<'_>, own: &[TextStats], excluded: &[bool]) -> Vec<TextStats> {
    let mut total: Vec<TextStats> = own
        .iter()
        .zip(excluded)
        .map(|(stats, &excluded)| if excluded { TextStats::default() } else { *stats })
        .collect();
    for index in (0..total.len()).rev() {
        if let (false, Some(parent)) = (excluded[index], page.elements[index].parent) {
            let child = total[index];
            total[parent].add(child);
        }
    }
    total
}

fn is_prose_rich(stats: &TextStats) -> bool {
    stats.paragraph_chars >= PROSE_RICH_PARAGRAPH_CHARS
        && stats.link_density() <= PROSE_RICH_MAX_LINK_DENSITY
}

/// Gathers text into paragraphs at block boundaries.
#[derive(Default)]
struct ParagraphCollector {
    paragraphs: Vec<CollectedParagraph>,
    buffer: String,
    buffer_in_paragraph_element: bool,
    /// Visible characters in the buffer, and how many of them are inside links.
    buffer_chars: usize,
    buffer_link_chars: usize,
    /// Set while the buffer holds a `<h2>`–`<h6>` heading: its level.
    heading_level: Option<u8>,
    buffer_in_list_or_table: bool,
    /// `<br>`s since the last visible text: two in a row end a paragraph (old-style pages).
    pending_line_breaks: usize,
}

struct CollectedParagraph {
    /// Empty for the mark of a removed boilerplate block.
    text: String,
    removed_block: bool,
    from_paragraph_element: bool,
    link_density: f64,
    heading_level: Option<u8>,
    in_list_or_table: bool,
}

impl ParagraphCollector {
    fn text(&mut self, text: &str, in_paragraph_element: bool, in_link: bool, in_list_or_table: bool) {
        if text.trim().is_empty() {
            self.buffer.push(' ');
            return;
        }
        if self.pending_line_breaks >= 2 {
            self.end_paragraph();
        }
        self.pending_line_breaks = 0;
        let chars = text.chars().filter(|c| !c.is_whitespace()).count();
        self.buffer_chars += chars;
        if in_link {
            self.buffer_link_chars += chars;
        }
        self.buffer.push_str(text);
        self.buffer_in_paragraph_element |= in_paragraph_element;
        self.buffer_in_list_or_table |= in_list_or_table;
    }

    /// Marks where a boilerplate block (comments, related links …) was left out.
    fn removed_block(&mut self) {
        self.paragraphs.push(CollectedParagraph {
            text: String::new(),
            removed_block: true,
            from_paragraph_element: false,
            link_density: 0.0,
            heading_level: None,
            in_list_or_table: false,
        });
    }

    fn cell_boundary(&mut self) {
        self.buffer.push(' ');
    }

    fn line_break(&mut self) {
        self.pending_line_breaks += 1;
        self.buffer.push(' ');
    }

    fn end_paragraph(&mut self) {
        self.pending_line_breaks = 0;
        let text = normalize_paragraph(&self.buffer);
        if !text.is_empty() {
            self.paragraphs.push(CollectedParagraph {
                text,
                removed_block: false,
                from_paragraph_element: self.buffer_in_paragraph_element,
                link_density: self.buffer_link_chars as f64 / self.buffer_chars.max(1) as f64,
                heading_level: self.heading_level,
                in_list_or_table: self.buffer_in_list_or_table,
            });
        }
        self.heading_level = None;
        self.buffer_in_list_or_table = false;
        self.buffer.clear();
        self.buffer_in_paragraph_element = false;
        self.buffer_chars = 0;
        self.buffer_link_chars = 0;
    }

    fn finish(self) -> Vec<String> {
        let has_paragraph_elements = self
            .paragraphs
            .iter()
            .any(|paragraph| paragraph.from_paragraph_element);
        let keep: Vec<bool> = self
            .paragraphs
            .iter()
            .map(|paragraph| {
                !paragraph.removed_block
                    && (paragraph.from_paragraph_element
                        || !has_paragraph_elements
                        || reads_like_prose(&paragraph.text))
                    && paragraph.link_density <= MAX_PARAGRAPH_LINK_DENSITY
                    && !is_boilerplate_phrase(&paragraph.text)
                    && !is_unrendered_shortcode(&paragraph.text)
            })
            .collect();
        // A heading right before a removed boilerplate block or a dropped list of links is
        // that block's label ("Related news", "Comments").
        let labels_removed_block = |index: usize| {
            self.paragraphs[index].heading_level.is_some()
                && self.paragraphs.get(index + 1).is_some_and(|next| {
                    next.removed_block || next.link_density > MAX_PARAGRAPH_LINK_DENSITY
                })
        };
        let labels: Vec<bool> = (0..self.paragraphs.len()).map(labels_removed_block).collect();
        let mut kept: Vec<CollectedParagraph> = Vec::new();
        for ((paragraph, keep), label) in self.paragraphs.into_iter().zip(keep).zip(labels) {
            if keep && !label && kept.last().map(|last| &last.text) != Some(&paragraph.text) {
                kept.push(paragraph);
            }
        }
        drop_orphan_labels(&mut kept);
        kept.into_iter().map(|paragraph| paragraph.text).collect()
    }
}

/// Removes headings left without a paragraph under them and short labels left at the end:
/// what they introduced ("Comments", "Related news", "About the author") was boilerplate and
/// is gone. A heading followed by a heading of a higher rank (an `<h3>` by an `<h2>`), or
/// by nothing, is such a label; so is a short fragment without closing punctuation at the
/// very end (list items and table rows are data, not labels). Runs of same-rank headings are kept: they are often the story's own list.
fn drop_orphan_labels(paragraphs: &mut Vec<CollectedParagraph>) {
    while paragraphs.last().is_some_and(|last| {
        last.heading_level.is_some() || (!last.in_list_or_table && is_short_fragment(&last.text))
    }) && paragraphs.len() > 1
    {
        paragraphs.pop();
    }
    let mut next_heading_level: Option<u8> = None;
    let mut keep = vec![true; paragraphs.len()];
    for (index, paragraph) in paragraphs.iter().enumerate().rev() {
        if let Some(level) = paragraph.heading_level {
            if next_heading_level.is_some_and(|next| next < level) {
                keep[index] = false;
                continue;
            }
        }
        next_heading_level = paragraph.heading_level;
    }
    let mut index = 0;
    paragraphs.retain(|_| {
        index += 1;
        keep[index - 1]
    });
}

/// A paragraph wrapped in a blogging platform's shortcode that the site failed to render,
/// `[button link="…"]Send us your review[/button]`: template markup, not prose.
fn is_unrendered_shortcode(text: &str) -> bool {
    let Some(rest) = text.strip_prefix('[') else {
        return false;
    };
    let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    !name.is_empty() && text.to_ascii_lowercase().ends_with(&format!("[/{}]", name.to_ascii_lowercase()))
}

fn is_short_fragment(text: &str) -> bool {
    text.chars().count() <= MAX_LABEL_CHARS && !ends_like_a_sentence(text)
}

fn heading_level(name: &str) -> Option<u8> {
    match name {
        "h2" => Some(2),
        "h3" => Some(3),
        "h4" => Some(4),
        "h5" => Some(5),
        "h6" => Some(6),
        _ => None,
    }
}

fn ends_like_a_sentence(text: &str) -> bool {
    text.ends_with(['.', '!', '?', '"', '”', '’', '…', ':', ')'])
}

fn reads_like_prose(text: &str) -> bool {
    text.chars().count() >= MIN_LOOSE_PROSE_CHARS && text.ends_with(['.', '!', '?', '"', '”', '’'])
}

/// Short labels that sit inside article bodies but are not part of the story.
fn is_boilerplate_phrase(text: &str) -> bool {
    const PHRASES: &[&str] = &[
        "advertisement",
        "ad",
        "sponsored",
        "sponsored content",
        "share",
        "share this",
        "share this article",
        "share this story",
        "read more",
        "continue reading",
        "related",
        "related articles",
        "related stories",
        "skip to content",
        "skip to main content",
        "subscribe",
        "sign up",
        "back to top",
        "print",
    ];
    if text.len() > 40 {
        return false;
    }
    let label = text
        .trim_end_matches([':', '.', '…', '›', '»', ' '])
        .to_lowercase();
    PHRASES.contains(&label.as_str())
}

/// The headline: `og:title`, else `<title>` without the site name, else the first `<h1>`.
fn find_title(document: &Html) -> Option<String> {
    let meta_title = [
        "meta[property=\"og:title\"]",
        "meta[name=\"twitter:title\"]",
    ]
    .iter()
    .filter_map(|css| first_match(document, css))
    .find_map(|meta| {
        meta.value()
            .attr("content")
            .map(normalize_paragraph)
            .filter(|title| !title.is_empty())
    });
    meta_title
        .or_else(|| {
            first_match(document, "title")
                .map(element_text)
                .map(|title| strip_site_name(&title))
        })
        .filter(|title| !title.is_empty())
        .or_else(|| {
            first_match(document, "h1")
                .map(element_text)
                .filter(|title| !title.is_empty())
        })
}

fn first_match<'a>(document: &'a Html, css: &str) -> Option<ElementRef<'a>> {
    // The selectors are constants; a parse failure would be our bug, and only costs the title.
    let selector = Selector::parse(css).ok()?;
    let found = document.select(&selector).next();
    found
}

fn element_text(element: ElementRef<'_>) -> String {
    normalize_paragraph(&element.text().collect::<String>())
}

/// "Council passes budget | The Gazette" → "Council passes budget"; also handles the site
/// name in front. Leaves the title alone when no side reads like a headline.
fn strip_site_name(title: &str) -> String {
    const SEPARATORS: &[&str] = &[" | ", " – ", " — ", " - ", " :: ", " · ", " • "];
    let words = |text: &str| text.split_whitespace().count();
    for separator in SEPARATORS {
        if let (Some(last), Some(first)) = (title.rfind(separator), title.find(separator)) {
            let before_last = title[..last].trim();
            if words(before_last) >= 3 {
                return before_last.to_string();
            }
            let after_first = title[first + separator.len()..].trim();
            if words(after_first) >= 3 {
                return after_first.to_string();
            }
        }
    }
    title.to_string()
}

fn element_kind(name: &str) -> ElementKind {
    match name {
        "p" | "h2" | "h3" | "h4" | "h5" | "h6" | "li" | "blockquote" | "dd" | "dt" => {
            ElementKind::Paragraph
        }
        "h1" => ElementKind::Headline,
        "td" | "th" => ElementKind::TableCell,
        "a" => ElementKind::Link,
        "br" => ElementKind::LineBreak,
        "address" | "article" | "body" | "center" | "details" | "div" | "dl" | "fieldset"
        | "form" | "hr" | "html" | "legend" | "main" | "ol" | "pre" | "section" | "summary"
        | "table" | "tbody" | "tfoot" | "thead" | "tr" | "caption" | "ul"
        | "hgroup" => ElementKind::Block,
        _ => ElementKind::Inline,
    }
}

/// Elements whose text is never article text, whatever their class.
fn is_never_content(element: ElementRef<'_>) -> bool {
    const NEVER_CONTENT: &[&str] = &[
        "head",
        "script",
        "style",
        "noscript",
        "template",
        "svg",
        "math",
        "iframe",
        "object",
        "embed",
        "canvas",
        "video",
        "audio",
        "picture",
        "img",
        "button",
        "select",
        "option",
        "textarea",
        "input",
        "label",
        "nav",
        "header",
        "footer",
        "aside",
        "figure",
        "figcaption",
        "dialog",
        "menu",
        "map",
    ];
    const NON_CONTENT_ROLES: &[&str] = &[
        "navigation",
        "banner",
        "contentinfo",
        "complementary",
        "search",
        "dialog",
        "alertdialog",
        "menu",
        "menubar",
        "toolbar",
        "tablist",
    ];
    let value = element.value();
    let name = value.name();
    if name == "html" || name == "body" {
        return false;
    }
    if NEVER_CONTENT.contains(&name) || value.attr("hidden").is_some() {
        return true;
    }
    if value
        .attr("aria-hidden")
        .is_some_and(|hidden| hidden.trim().eq_ignore_ascii_case("true"))
    {
        return true;
    }
    if value
        .attr("role")
        .is_some_and(|role| NON_CONTENT_ROLES.contains(&role.trim().to_ascii_lowercase().as_str()))
    {
        return true;
    }
    value.attr("style").is_some_and(|style| {
        let compact: String = style
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        compact.contains("display:none") || compact.contains("visibility:hidden")
    })
}

fn is_semantic_body(element: ElementRef<'_>) -> bool {
    element.value().attr("itemprop").is_some_and(|itemprop| {
        itemprop
            .split_whitespace()
            .any(|token| token.eq_ignore_ascii_case("articleBody"))
    })
}

/// Whether the element is where pages put the story: `<article>`, `<main>`,
/// `itemprop=articleBody`, or a class or id such as `entry-content`, `article-body`.
fn is_story_container(element: ElementRef<'_>) -> bool {
    let value = element.value();
    matches!(value.name(), "article" | "main")
        || is_semantic_body(element)
        || class_names::names_story_body(value.attr("class"), value.attr("id"))
}

/// What the element's class and id say about it; `<html>`, `<body>` and the marked article
/// body are never judged by them.
fn class_verdict(element: ElementRef<'_>) -> ClassVerdict {
    let value = element.value();
    let name = value.name();
    if matches!(name, "html" | "body") || is_semantic_body(element) {
        return ClassVerdict::Neutral;
    }
    // A heading or paragraph is never a page region, whatever its class ("card-header").
    let can_be_layout = !matches!(element_kind(name), ElementKind::Paragraph);
    let verdict = class_names::verdict(value.attr("class"), value.attr("id"), can_be_layout);
    if verdict == ClassVerdict::Neutral && name == "form" {
        ClassVerdict::Layout
    } else {
        verdict
    }
}

enum Visit<'a> {
    /// An element; return true to walk into it (then an `Exit` follows its children).
    Enter(ElementRef<'a>),
    Exit,
    Text(&'a str),
}

/// Depth-first walk from `root` that follows parent/sibling links instead of recursing, so
/// no document can exhaust the stack.
fn walk<'a>(root: ElementRef<'a>, mut visit: impl FnMut(Visit<'a>) -> bool) {
    let root_node = *root;
    let mut node = root_node;
    'nodes: loop {
        let entered = match node.value() {
            Node::Element(_) => {
                ElementRef::wrap(node).is_some_and(|element| visit(Visit::Enter(element)))
            }
            Node::Text(text) => {
                visit(Visit::Text(text));
                false
            }
            _ => false,
        };
        if entered {
            if let Some(child) = node.first_child() {
                node = child;
                continue 'nodes;
            }
            visit(Visit::Exit);
        }
        // Climb until a next sibling is found, closing each finished element on the way.
        loop {
            if node == root_node {
                return;
            }
            if let Some(sibling) = node.next_sibling() {
                node = sibling;
                continue 'nodes;
            }
            match node.parent() {
                Some(parent) => {
                    node = parent;
                    visit(Visit::Exit);
                }
                None => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extract_page(page: &str) -> Extracted {
        extract("test.html", page)
    }

    const NEWS_PAGE: &str = r##"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Harbor Tunnel Opens Two Years Late | The Example Ledger</title>
  <meta property="og:title" content="Harbor Tunnel Opens Two Years Late, $1.2 Billion Over Budget">
  <style>body { font-family: serif; } p.lede::first-letter { font-size: 3em; }</style>
  <script>window.dataLayer = [{"page": "news"}]; document.write("<p>tracking</p>");</script>
</head>
<body class="has-sidebar">
  <a class="skip-link" href="#main">Skip to content</a>
  <header class="site-header"><div class="logo">The Example Ledger</div>
    <nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li><li><a href="/sports">Sports</a></li></ul></nav>
  </header>
  <div class="breadcrumbs"><a href="/">Home</a> › <a href="/news">News</a></div>
  <main id="main">
    <article class="story">
      <h1>Harbor Tunnel Opens Two Years Late</h1>
      <div class="byline">By Jane Q. Writer, Staff Reporter</div>
      <ul class="share-buttons"><li><a href="#">Share on Facebook</a></li><li><a href="#">Share on X</a></li></ul>
      <figure><img src="tunnel.jpg" alt="The tunnel"><figcaption>The east portal on Monday. (Photo: A. Lens)</figcaption></figure>
      <p class="lede">The harbor tunnel opened to traffic at 5 a.m. Monday, two years behind schedule and about $1.2 billion over its original budget, officials said.</p>
      <p>&ldquo;It&rsquo;s finally done,&rdquo; said Dr. Mar&iacute;a L&oacute;pez, the transit authority&rsquo;s chief engineer, as the first buses rolled through at 40&nbsp;mph.</p>
      <div class="ad-slot"><span>Advertisement</span><script>loadAd();</script></div>
      <h2>Costs &amp; delays</h2>
      <p>The 2.4-mile tunnel was first estimated at $3.1 billion in 2015; the final cost, according to an audit released Friday, was $4.3 billion.</p>
      <blockquote><p>We learned a great deal about the soil under the harbor.</p></blockquote>
      <aside class="related"><h3>Related</h3><ul><li><a href="/a">Bridge repairs to begin</a></li><li><a href="/b">Ferry fares rise</a></li></ul></aside>
      <div class="related-links"><h4>More on transit</h4><ul><li><a href="/c">Bus lanes expand downtown</a></li></ul></div>
      <p>Tolls will start at $2.50 for cars, the authority said.</p>
      <div id="comments"><h3>24 comments</h3><p>Commenter: this is a disgrace, and I will never drive through it, not once, not ever.</p></div>
    </article>
  </main>
  <aside class="sidebar"><h3>Most read</h3><ol><li><a href="/x">Storm knocks out power</a></li></ol></aside>
  <div class="newsletter-signup"><p>Get the morning briefing in your inbox every day before 7 a.m.</p><form><input type="email"><button>Sign up</button></form></div>
  <footer><p>&copy; 2024 The Example Ledger. All rights reserved.</p><a href="/privacy">Privacy</a></footer>
  <script>analytics.track("pageview");</script>
</body>
</html>"##;

    #[test]
    fn only_article_paragraphs_survive_the_boilerplate() {
        let extracted = extract_page(NEWS_PAGE);
        assert_eq!(
            extracted.title.as_deref(),
            Some("Harbor Tunnel Opens Two Years Late, $1.2 Billion Over Budget")
        );
        assert_eq!(
            extracted.paragraphs,
            [
                "The harbor tunnel opened to traffic at 5 a.m. Monday, two years behind schedule and about $1.2 billion over its original budget, officials said.",
                "“It’s finally done,” said Dr. María López, the transit authority’s chief engineer, as the first buses rolled through at 40 mph.",
                "Costs & delays",
                "The 2.4-mile tunnel was first estimated at $3.1 billion in 2015; the final cost, according to an audit released Friday, was $4.3 billion.",
                "We learned a great deal about the soil under the harbor.",
                "Tolls will start at $2.50 for cars, the authority said.",
            ]
        );
        assert!(extracted.warnings.is_empty());
    }

    #[test]
    fn without_semantic_markup_the_densest_block_wins() {
        let page = r#"<html><head><title>Local - Storm Floods Three Counties - Daily Example</title></head><body>
            <div id="top"><a href="/">Home</a> <a href="/weather">Weather</a> <a href="/about">About us</a></div>
            <div class="wrapper">
              <div class="col-left"><p><a href="/1">Link one with a long title here</a></p><p><a href="/2">Link two with another long title</a></p></div>
              <div class="content-body">
                <p>Heavy rain flooded parts of three counties on Sunday, closing roads, schools and at least 14 bridges, officials said.</p>
                <p>The river crested at 21.7 feet, about 6 feet above flood stage, the National Weather Service said, and more rain was expected.</p>
                <p>Residents of low-lying areas, including parts of Millbrook, were told to leave their homes by noon.</p>
              </div>
              <div class="content-body-2"><p>Shelters opened at two high schools, where volunteers served meals, blankets and coffee through the night.</p></div>
            </div>
            <div class="copyright">Copyright Daily Example, all rights reserved, 2024.</div>
        </body></html>"#;
        let extracted = extract_page(page);
        assert_eq!(
            extracted.title.as_deref(),
            Some("Local - Storm Floods Three Counties")
        );
        assert_eq!(extracted.paragraphs.len(), 4, "{:?}", extracted.paragraphs);
        assert!(extracted.paragraphs[0].starts_with("Heavy rain flooded"));
        assert!(extracted.paragraphs[3].starts_with("Shelters opened"));
    }

    #[test]
    fn a_large_comment_section_does_not_beat_the_article() {
        let comment = "<div class=\"comment\"><p>I think, honestly, that this decision was wrong, and the council should reconsider it soon.</p></div>";
        let page = format!(
            "<html><body><div class=\"story\"><p>The council voted 5-4 on Tuesday to close the library, citing a $2 million shortfall.</p>\
             <p>The library, opened in 1911, will close on March 1, officials said.</p></div>\
             <section id=\"comments\">{}</section></body></html>",
            comment.repeat(30)
        );
        let extracted = extract_page(&page);
        assert_eq!(extracted.paragraphs.len(), 2, "{:?}", extracted.paragraphs);
    }

    #[test]
    fn a_page_wrapped_in_a_form_keeps_its_article() {
        let paragraph = "<p>City officials said the new bridge, which cost $48 million, would open in the spring, weeks ahead of schedule.</p>";
        let page = format!(
            "<html><body><form id=\"aspnetForm\"><div>{}</div></form></body></html>",
            paragraph.repeat(6)
        );
        assert_eq!(
            extract_page(&page).paragraphs.len(),
            1,
            "consecutive duplicates collapse"
        );
        let varied: String = (0..6)
            .map(|i| paragraph.replace("$48", &format!("${i}")))
            .collect();
        let page =
            format!("<html><body><form id=\"aspnetForm\"><div>{varied}</div></form></body></html>");
        assert_eq!(extract_page(&page).paragraphs.len(), 6);
    }

    #[test]
    fn old_style_pages_with_line_breaks_become_paragraphs() {
        let page = "<html><body><div>First paragraph of the story, with enough words to count as prose.<br><br>\
                    Second paragraph of the story,<br>wrapped by a single line break.</div></body></html>";
        let extracted = extract_page(page);
        assert_eq!(
            extracted.paragraphs,
            [
                "First paragraph of the story, with enough words to count as prose.",
                "Second paragraph of the story, wrapped by a single line break.",
            ]
        );
    }

    #[test]
    fn hidden_elements_are_dropped_and_entities_decoded() {
        let page = "<html><head><title>Fish &amp; Chips</title></head><body><p>Visible &lt;text&gt; &#8212; caf&eacute;.</p>\
                    <p hidden>hidden one</p><p style=\"display: none\">hidden two</p><p aria-hidden=\"true\">hidden three</p></body></html>";
        let extracted = extract_page(page);
        assert_eq!(extracted.title.as_deref(), Some("Fish & Chips"));
        assert_eq!(extracted.paragraphs, ["Visible <text> — café."]);
    }

    #[test]
    fn h1_is_the_fallback_title() {
        let extracted = extract_page("<body><h1>Only  Headline</h1><p>Body.</p></body>");
        assert_eq!(extracted.title.as_deref(), Some("Only Headline"));
        assert_eq!(extracted.paragraphs, ["Body."]);
    }

    #[test]
    fn a_hundred_thousand_nested_divs_do_not_crash() {
        let depth = 100_000;
        let page = format!(
            "<html><body>{}<p>Deep inside, the story survives.</p>{}</body></html>",
            "<div>".repeat(depth),
            "</div>".repeat(depth)
        );
        let started = std::time::Instant::now();
        let extracted = extract_page(&page);
        assert_eq!(extracted.paragraphs, ["Deep inside, the story survives."]);
        assert_eq!(extracted.warnings.len(), 1);
        assert!(extracted.warnings[0].contains("test.html"));
        assert!(
            started.elapsed().as_secs() < 30,
            "took {:?}",
            started.elapsed()
        );
    }

    #[test]
    fn many_unclosed_formatting_tags_stay_cheap() {
        let page: String = (0..20_000)
            .map(|i| format!("<p><b class=c{i}>Paragraph {i}.</p>"))
            .collect();
        let extracted = extract_page(&page);
        assert_eq!(extracted.paragraphs.len(), 20_000);
        assert_eq!(extracted.paragraphs[19_999], "Paragraph 19999.");
    }

    #[test]
    fn teasers_nested_in_a_listing_article_do_not_beat_the_story() {
        let teaser = "<article class=\"post\"><p>Another story begins here, with a long excerpt that runs on, and on, and on, until it is cut …</p></article>";
        let page = format!(
            "<html><body><article class=\"post\"><h1>The story</h1><p>The story's only paragraph is long enough to count, with commas, clauses, and a full stop at the end of it.</p></article>\
             <article class=\"postbox\"><h2>You may also like</h2>{}</article></body></html>",
            teaser.repeat(6)
        );
        let extracted = extract_page(&page);
        assert_eq!(
            extracted.paragraphs,
            ["The story's only paragraph is long enough to count, with commas, clauses, and a full stop at the end of it."]
        );
    }

    #[test]
    fn a_comment_written_as_an_article_does_not_rescue_the_comment_section() {
        let comment = "<article class=\"comment\"><p>I disagree, strongly, with every word of this, and I have said so, again and again, at every meeting of the council, in letters, in calls, and in person, since the plan was first put forward, years ago, when nobody, not one member, was listening, and I will keep saying it, loudly, until somebody, anybody, does.</p></article>";
        let page = format!(
            "<html><body><div class=\"main\"><div class=\"story\"><p>The council voted 5-4 on Tuesday to close the library, citing a $2 million shortfall in its budget.</p>\
             <p>The library, opened in 1911, will close on March 1, officials said.</p></div>\
             <div id=\"comments\">{comment}</div></div></body></html>"
        );
        let extracted = extract_page(&page);
        assert_eq!(extracted.paragraphs.len(), 2, "{:?}", extracted.paragraphs);
    }

    #[test]
    fn a_page_whose_class_names_remove_everything_is_read_without_them() {
        let page = "<html><body><div class=\"sidebar-layout\"><p>The only story on this page sits in a block whose class name says sidebar.</p></div></body></html>";
        let extracted = extract_page(page);
        assert_eq!(
            extracted.paragraphs,
            ["The only story on this page sits in a block whose class name says sidebar."]
        );
        assert_eq!(extracted.warnings.len(), 1);
        assert!(extracted.warnings[0].contains("read without them"), "{:?}", extracted.warnings);
    }

    #[test]
    fn headings_without_text_under_them_are_dropped_but_runs_of_same_rank_headings_stay() {
        let page = "<html><body><article>\
            <p>First paragraph of the story, long enough to be read as the article's prose.</p>\
            <h3>Orphan label</h3><h2>Results</h2><h4>Team A: first place</h4><h4>Team B: second place</h4>\
            <p>Closing paragraph of the story, also long enough to be read as prose.</p>\
            <h3>Leave a reply</h3><p>0 comments</p></article></body></html>";
        assert_eq!(
            extract_page(page).paragraphs,
            [
                "First paragraph of the story, long enough to be read as the article's prose.",
                "Results",
                "Team A: first place",
                "Team B: second place",
                "Closing paragraph of the story, also long enough to be read as prose.",
            ]
        );
    }

    #[test]
    fn link_dense_paragraphs_are_dropped_and_link_clusters_cut_out_of_sentences() {
        let page = "<html><body><article>\
            <p>Officials said the <a href=\"/bridge\">bridge</a> will reopen on Friday after repairs to its deck.</p>\
            <p><a href=\"/x\">CLICK HERE TO GET THE APP</a></p>\
            <p>The mayor, <span><a href=\"/m\">Ann Lee</a><span><a href=\"/1\">Headline one</a> <a href=\"/2\">Headline two</a> <a href=\"/3\">Headline three</a></span></span>, welcomed the news.</p>\
            </article></body></html>";
        assert_eq!(
            extract_page(page).paragraphs,
            [
                "Officials said the bridge will reopen on Friday after repairs to its deck.",
                "The mayor, Ann Lee, welcomed the news.",
            ]
        );
    }

    #[test]
    fn garbage_does_not_panic() {
        for page in [
            "<",
            "<<<>>>",
            "<p",
            "</p></p></div>",
            "<table><td>x",
            "<svg><p>y</svg>",
            "\u{0}<p>z",
            "<!-- never closed",
        ] {
            let _ = extract_page(page);
        }
    }
}
