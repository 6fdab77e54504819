//! The repairs feed readers make to real-world feed XML before a strict parser reads it, each
//! stated once as a warning, with a map from the repaired text back to the original positions
//! (so that an item's line and column, or an error's, are the file's own).
//!
//! Repaired (the established readers, feedparser and feed-rs, read these too): text or
//! blank lines before the XML declaration, a declaration that is not at the start, HTML named
//! entities (`&nbsp;`, `&eacute;`; XML defines only five, and the Netscape RSS 0.91 DTD that
//! defines the rest is never fetched), unknown entities and bare `&` (kept as text), character
//! references to characters XML forbids and raw control characters (replaced), text after the
//! root element, and namespace prefixes used without a declaration (`declare_prefix`).
//!
//! Not repaired, so that the parser reports them with their position: anything that changes
//! the document's structure (a missing or stray end tag, a truncated file, a `<` in text).
//! This module rewrites text only; it must not interpret the feed.

use std::collections::{BTreeMap, HashMap, HashSet};

/// Feed XML after the repairs, with what was repaired.
#[derive(Debug)]
pub struct RepairedXml {
    pub text: String,
    /// Replacements made, in order of position (only those that changed the length).
    edits: Vec<Edit>,
    /// One line per kind of repair, without the feed's name.
    pub warnings: Vec<String>,
}

/// `original[original_start..+original_len]` became `text[new_start..+new_len]`.
#[derive(Debug, Clone, Copy)]
struct Edit {
    original_start: usize,
    original_len: usize,
    new_start: usize,
    new_len: usize,
}

impl RepairedXml {
    /// The offset in the original text of an offset in the repaired text (the start of a
    /// replacement for an offset inside one).
    pub fn original_offset(&self, offset: usize) -> usize {
        match self.edits.partition_point(|edit| edit.new_start <= offset) {
            0 => offset,
            index => {
                let edit = self.edits[index - 1];
                if offset < edit.new_start + edit.new_len {
                    edit.original_start
                } else {
                    edit.original_start + edit.original_len + (offset - edit.new_start - edit.new_len)
                }
            }
        }
    }

    /// Declares a namespace prefix the document uses without declaring it, on the root
    /// element, with the well-known namespace of that prefix when there is one.
    pub fn declare_prefix(&mut self, prefix: &str) -> bool {
        let Some(root) = root_start_tag(&self.text) else { return false };
        let uri = well_known_namespace(prefix).map_or_else(|| format!("urn:precis:undeclared-prefix:{prefix}"), str::to_string);
        let declaration = format!(" xmlns:{prefix}=\"{uri}\"");
        let at = root.name_end;
        self.text.insert_str(at, &declaration);
        let original = self.original_offset(at);
        let shift = declaration.len();
        let index = self.edits.partition_point(|edit| edit.new_start < at);
        for edit in &mut self.edits[index..] {
            edit.new_start += shift;
        }
        self.edits.insert(index, Edit { original_start: original, original_len: 0, new_start: at, new_len: shift });
        let meaning = match well_known_namespace(prefix) {
            Some(uri) => format!("read in its usual namespace {uri}"),
            None => "its elements were read by their local names".to_string(),
        };
        self.warnings.push(format!("the namespace prefix `{prefix}:` is used without a declaration; {meaning}"));
        true
    }
}

/// Namespaces feeds commonly use, by their customary prefix.
fn well_known_namespace(prefix: &str) -> Option<&'static str> {
    Some(match prefix {
        "content" => "http://purl.org/rss/1.0/modules/content/",
        "dc" => "http://purl.org/dc/elements/1.1/",
        "dcterms" => "http://purl.org/dc/terms/",
        "media" => "http://search.yahoo.com/mrss/",
        "itunes" => "http://www.itunes.com/dtds/podcast-1.0.dtd",
        "atom" => "http://www.w3.org/2005/Atom",
        "rdf" => "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
        "xhtml" => "http://www.w3.org/1999/xhtml",
        "slash" => "http://purl.org/rss/1.0/modules/slash/",
        "sy" => "http://purl.org/rss/1.0/modules/syndication/",
        "wfw" => "http://wellformedweb.org/CommentAPI/",
        "georss" => "http://www.georss.org/georss",
        "googleplay" => "http://www.google.com/schemas/play-podcasts/1.0",
        "podcast" => "https://podcastindex.org/namespace/1.0",
        "feedburner" => "http://rssnamespace.org/feedburner/ext/1.0",
        _ => return None,
    })
}

/// The root element's start tag: its qualified name and where the name ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootTag<'a> {
    pub name: &'a str,
    pub start: usize,
    pub name_end: usize,
}

/// The first element of an XML text, past whitespace, a byte-order mark, the XML declaration,
/// comments, processing instructions and a DOCTYPE (with its internal subset). None when
/// something else (text, a broken construct) comes first.
pub fn root_start_tag(text: &str) -> Option<RootTag<'_>> {
    let mut at = 0;
    loop {
        at += text[at..].len() - text[at..].trim_start_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}').len();
        let rest = &text[at..];
        if rest.starts_with("<!--") {
            at += rest.find("-->")? + 3;
        } else if rest.starts_with("<?") {
            at += rest.find("?>")? + 2;
        } else if starts_with_ignore_case(rest, "<!DOCTYPE") {
            at += doctype_end(rest)?;
        } else {
            let name = rest.strip_prefix('<')?;
            let length = name.find(|c: char| c.is_whitespace() || c == '>' || c == '/').unwrap_or(name.len());
            let first = name.chars().next()?;
            if length == 0 || !(first.is_alphabetic() || first == '_' || first == ':') {
                return None;
            }
            return Some(RootTag { name: &name[..length], start: at, name_end: at + 1 + length });
        }
    }
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len() && text.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Length of a `<!DOCTYPE …>` at the start of `text`, internal subset and quoted strings
/// included; None when it does not end.
fn doctype_end(text: &str) -> Option<usize> {
    let mut quote = None;
    let mut in_subset = false;
    for (index, character) in text.char_indices() {
        match (quote, character) {
            (Some(open), c) if c == open => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(character),
            (None, '[') => in_subset = true,
            (None, ']') => in_subset = false,
            (None, '>') if !in_subset => return Some(index + 1),
            _ => {}
        }
    }
    None
}

/// General entities declared in a DOCTYPE's internal subset (`<!ENTITY name …>`).
fn declared_entities(doctype: &str) -> HashSet<String> {
    let mut names = HashSet::new();
    let mut rest = doctype;
    while let Some(at) = rest.find("<!ENTITY") {
        rest = &rest[at + "<!ENTITY".len()..];
        let declaration = rest.trim_start();
        if declaration.starts_with('%') {
            continue;
        }
        let name: String = declaration.chars().take_while(|c| is_name_char(*c)).collect();
        // An external entity (SYSTEM or PUBLIC) is never fetched: its references are unknown.
        let definition = declaration[name.len()..].trim_start();
        if !name.is_empty() && definition.starts_with(['"', '\'']) {
            names.insert(name);
        }
    }
    names
}

fn is_name_start(character: char) -> bool {
    character.is_alphabetic() || character == '_' || character == ':'
}

fn is_name_char(character: char) -> bool {
    character.is_alphanumeric() || matches!(character, '_' | ':' | '-' | '.')
}

/// Characters XML 1.0 does not allow anywhere (not even escaped): C0 controls other than tab,
/// newline and carriage return, and U+FFFE/U+FFFF.
fn is_forbidden_in_xml(character: char) -> bool {
    matches!(character, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
}

/// Text after these many bytes is not searched for a late XML declaration.
const LATE_DECLARATION_WINDOW: usize = 4096;

/// Counts of each repair, for the warnings.
#[derive(Default)]
struct Repairs {
    html_entities: BTreeMap<String, usize>,
    unknown_entities: BTreeMap<String, usize>,
    bare_ampersands: usize,
    forbidden_references: usize,
    control_characters: usize,
    external_dtd: bool,
}

/// Rewrites `text` as described in the module documentation.
pub fn repair(text: &str) -> RepairedXml {
    let mut repairs = Repairs::default();
    // Forbidden characters become spaces (or U+FFFD, of the same length in UTF-8), so no
    // offset moves.
    let cleaned: String;
    let text = if text.chars().any(is_forbidden_in_xml) {
        cleaned = text
            .chars()
            .map(|character| match character {
                '\u{FFFE}' | '\u{FFFF}' => {
                    repairs.control_characters += 1;
                    '\u{FFFD}'
                }
                c if is_forbidden_in_xml(c) => {
                    repairs.control_characters += 1;
                    ' '
                }
                c => c,
            })
            .collect();
        cleaned.as_str()
    } else {
        text
    };

    let mut builder = Builder { original: text, out: String::with_capacity(text.len() + 64), edits: Vec::new(), copied_to: 0 };
    let mut warnings = Vec::new();
    let mut at = 0;

    // Anything before an XML declaration found near the start.
    let head_end = floor_char_boundary(text, LATE_DECLARATION_WINDOW.min(text.len()));
    if let Some(declaration_at) = text[..head_end].find("<?xml").filter(|&position| position > 0 && is_declaration(&text[position..])) {
        let prefix = &text[..declaration_at];
        if root_start_tag(prefix).is_none() {
            let end = text[declaration_at..].find("?>").map_or(declaration_at, |close| declaration_at + close + 2);
            builder.replace(0, end, "");
            at = end;
            let blank = prefix.trim_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}');
            if blank.is_empty() {
                warnings.push(format!("{} blank character(s) before the XML declaration (XML allows none) were ignored", prefix.chars().count()));
            } else if !prefix.trim_start().starts_with("<!--") || !prefix.trim_end().ends_with("-->") {
                let opening: String = blank.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(60).collect();
                warnings.push(format!("{} character(s) of text before the XML declaration were ignored (they begin: {opening:?})", prefix.chars().count()));
            } else {
                warnings.push("comments before the XML declaration (XML allows none) were ignored".to_string());
            }
        }
    }

    let mut declared = HashSet::new();
    let mut depth = 0usize;
    let mut root: Option<&str> = None;
    let mut root_closed_at = None;
    let mut entity_cache: HashMap<String, Option<String>> = HashMap::new();
    while let Some(offset) = text[at..].find(['<', '&']) {
        let position = at + offset;
        let rest = &text[position..];
        if rest.starts_with('&') {
            at = repair_reference(&mut builder, position, &declared, &mut entity_cache, &mut repairs);
            continue;
        }
        if rest.starts_with("<!--") {
            at = rest.find("-->").map_or(text.len(), |end| position + end + 3);
        } else if rest.starts_with("<![CDATA[") {
            at = rest.find("]]>").map_or(text.len(), |end| position + end + 3);
        } else if rest.starts_with("<?") {
            let end = rest.find("?>").map_or(text.len(), |end| position + end + 2);
            if is_declaration(rest) && position > 0 {
                builder.replace(position, end, "");
                let warning = "an XML declaration that was not at the start of the file was ignored";
                // Stated once, however many there are (feeds concatenated by a broken server).
                if !warnings.iter().any(|said| said == warning) {
                    warnings.push(warning.to_string());
                }
            }
            at = end;
        } else if starts_with_ignore_case(rest, "<!DOCTYPE") {
            let end = doctype_end(rest).map_or(text.len(), |length| position + length);
            let doctype = &text[position..end];
            declared.extend(declared_entities(doctype));
            let before_subset = doctype.split('[').next().unwrap_or(doctype);
            repairs.external_dtd = before_subset.contains("PUBLIC") || before_subset.contains("SYSTEM");
            at = end;
        } else {
            let (end, closing, self_closing) = scan_tag(&mut builder, position, &declared, &mut entity_cache, &mut repairs);
            let name = tag_name(rest);
            if closing {
                depth = depth.saturating_sub(1);
                if depth == 0 && root == Some(name) {
                    root_closed_at = Some(end);
                    break;
                }
            } else if !rest.starts_with("<!") {
                if root.is_none() {
                    root = Some(name);
                    if self_closing {
                        root_closed_at = Some(end);
                        break;
                    }
                }
                if !self_closing {
                    depth += 1;
                }
            }
            at = end;
        }
    }

    // Anything but comments, processing instructions and whitespace after the root element.
    if let (Some(end), Some(root)) = (root_closed_at, root) {
        if let Some(junk_start) = first_content_after(text, end) {
            let junk = &text[junk_start..];
            let opening: String = junk.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(60).collect();
            warnings.push(format!("{} character(s) after the end of the <{root}> element were ignored (they begin: {opening:?})", junk.chars().count()));
            builder.replace(junk_start, text.len(), "");
        }
    }

    describe_repairs(&repairs, &mut warnings);
    let (text, edits) = builder.finish();
    RepairedXml { text, edits, warnings }
}

fn describe_repairs(repairs: &Repairs, warnings: &mut Vec<String>) {
    let examples = |names: &BTreeMap<String, usize>| names.keys().take(4).map(|name| format!("&{name};")).collect::<Vec<_>>().join(", ");
    let count = |names: &BTreeMap<String, usize>| names.values().sum::<usize>();
    if !repairs.html_entities.is_empty() {
        let source = if repairs.external_dtd { " (the external DTD that may define them is not fetched)" } else { "" };
        warnings.push(format!(
            "{} HTML entity reference(s) that XML does not define ({}) were read as the characters HTML gives them{source}",
            count(&repairs.html_entities),
            examples(&repairs.html_entities)
        ));
    }
    if !repairs.unknown_entities.is_empty() {
        warnings.push(format!("{} reference(s) to undefined entities ({}) were kept as text", count(&repairs.unknown_entities), examples(&repairs.unknown_entities)));
    }
    if repairs.bare_ampersands > 0 {
        warnings.push(format!("{} bare “&” character(s), not written as &amp;, were read as text", repairs.bare_ampersands));
    }
    if repairs.forbidden_references > 0 {
        warnings.push(format!("{} character reference(s) to characters XML forbids were replaced with U+FFFD", repairs.forbidden_references));
    }
    if repairs.control_characters > 0 {
        warnings.push(format!("{} control character(s) that XML forbids were replaced with spaces", repairs.control_characters));
    }
}

/// `<?xml` followed by whitespace: the XML declaration (not `<?xml-stylesheet`).
fn is_declaration(text: &str) -> bool {
    text.strip_prefix("<?xml").and_then(|rest| rest.chars().next()).is_some_and(char::is_whitespace)
}

/// The qualified name of the tag at the start of `text` (`<name` or `</name`).
fn tag_name(text: &str) -> &str {
    let name = text.trim_start_matches('<').trim_start_matches('/');
    let end = name.find(|c: char| c.is_whitespace() || c == '>' || c == '/').unwrap_or(name.len());
    &name[..end]
}

/// Where the first content other than whitespace, comments and processing instructions
/// starts at or after `from`; None when there is none.
fn first_content_after(text: &str, from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        at += text[at..].len() - text[at..].trim_start().len();
        let rest = &text[at..];
        if rest.is_empty() {
            return None;
        }
        if rest.starts_with("<!--") {
            at += rest.find("-->").map(|end| end + 3)?;
        } else if rest.starts_with("<?") && !is_declaration(rest) {
            at += rest.find("?>").map(|end| end + 2)?;
        } else {
            return Some(at);
        }
    }
}

/// Scans a start or end tag at `position` to its `>`, repairing references inside quoted
/// attribute values. Returns where it ends, whether it is an end tag and whether it closes
/// itself. An unterminated tag ends the scan (the parser reports it).
fn scan_tag(builder: &mut Builder, position: usize, declared: &HashSet<String>, cache: &mut HashMap<String, Option<String>>, repairs: &mut Repairs) -> (usize, bool, bool) {
    let text = builder.original;
    let closing = text[position..].starts_with("</");
    let mut quote: Option<char> = None;
    let mut index = position + 1;
    while index < text.len() {
        let Some(character) = text[index..].chars().next() else { break };
        match (quote, character) {
            (Some(open), c) if c == open => quote = None,
            (Some(_), '&') => {
                index = repair_reference(builder, index, declared, cache, repairs);
                continue;
            }
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(character),
            (None, '>') => {
                let self_closing = text[..index].ends_with('/');
                return (index + 1, closing, self_closing);
            }
            (None, '<') => return (index, closing, false),
            _ => {}
        }
        index += character.len_utf8();
    }
    (text.len(), closing, false)
}

/// Repairs the reference (or bare `&`) at `position`; returns where scanning continues.
fn repair_reference(builder: &mut Builder, position: usize, declared: &HashSet<String>, cache: &mut HashMap<String, Option<String>>, repairs: &mut Repairs) -> usize {
    let text = builder.original;
    let rest = &text[position + 1..];
    if let Some(number) = rest.strip_prefix('#') {
        let (digits, radix) = match number.strip_prefix(['x', 'X']) {
            Some(hex) => (hex, 16),
            None => (number, 10),
        };
        let length = digits.find(|c: char| !c.is_digit(radix)).unwrap_or(digits.len());
        let prefix = number.len() - digits.len();
        if length > 0 && digits[length..].starts_with(';') {
            let end = position + 2 + prefix + length + 1;
            let allowed = u32::from_str_radix(&digits[..length], radix).ok().and_then(char::from_u32).is_some_and(|c| !is_forbidden_in_xml(c));
            if !allowed {
                repairs.forbidden_references += 1;
                builder.replace(position, end, "&#xFFFD;");
            }
            return end;
        }
        repairs.bare_ampersands += 1;
        builder.replace(position, position + 1, "&amp;");
        return position + 1;
    }
    let name_length = match rest.chars().next() {
        Some(first) if is_name_start(first) => rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len()),
        _ => 0,
    };
    if name_length == 0 || !rest[name_length..].starts_with(';') {
        repairs.bare_ampersands += 1;
        builder.replace(position, position + 1, "&amp;");
        return position + 1;
    }
    let name = &rest[..name_length];
    let end = position + 1 + name_length + 1;
    if matches!(name, "amp" | "lt" | "gt" | "quot" | "apos") || declared.contains(name) {
        return end;
    }
    let resolved = cache.entry(name.to_string()).or_insert_with(|| html_entity(name)).clone();
    match resolved {
        Some(characters) => {
            *repairs.html_entities.entry(name.to_string()).or_insert(0) += 1;
            let references: String = characters.chars().map(|c| format!("&#{};", c as u32)).collect();
            builder.replace(position, end, &references);
        }
        None => {
            *repairs.unknown_entities.entry(name.to_string()).or_insert(0) += 1;
            builder.replace(position, position + 1, "&amp;");
        }
    }
    end
}

/// The characters an HTML named character reference `&name;` stands for, as the HTML parser
/// reads it (all 2,231 names of the HTML standard); None when HTML does not define it.
fn html_entity(name: &str) -> Option<String> {
    let reference = format!("&{name};");
    let fragment = scraper::Html::parse_fragment(&reference);
    let resolved: String = fragment.root_element().text().collect();
    // A whole match only: HTML would also read "&notit;" as "¬it;" (a legacy prefix).
    (resolved != reference && !resolved.contains(';') && (1..=2).contains(&resolved.chars().count())).then_some(resolved)
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

/// Copies the original text with replacements, recording those that change the length.
struct Builder<'a> {
    original: &'a str,
    out: String,
    edits: Vec<Edit>,
    copied_to: usize,
}

impl Builder<'_> {
    fn replace(&mut self, start: usize, end: usize, with: &str) {
        if start < self.copied_to {
            return;
        }
        self.out.push_str(&self.original[self.copied_to..start]);
        let new_start = self.out.len();
        self.out.push_str(with);
        if with.len() != end - start {
            self.edits.push(Edit { original_start: start, original_len: end - start, new_start, new_len: with.len() });
        }
        self.copied_to = end;
    }

    fn finish(mut self) -> (String, Vec<Edit>) {
        self.out.push_str(&self.original[self.copied_to..]);
        (self.out, self.edits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_xml_is_left_alone() {
        let xml = "<?xml version=\"1.0\"?>\n<!DOCTYPE rss [<!ENTITY me \"x\">]><rss a=\"&amp;&#38;\">&me; &lt;<![CDATA[& &nbsp;]]><!-- & --></rss>";
        let repaired = repair(xml);
        assert_eq!(repaired.text, xml);
        assert!(repaired.warnings.is_empty(), "{:?}", repaired.warnings);
    }

    #[test]
    fn html_entities_become_character_references_and_positions_map_back() {
        let xml = "<rss>\n<title>A&nbsp;B &eacute;t&eacute; &notit; AT&T &#0;</title><x/></rss>";
        let repaired = repair(xml);
        assert_eq!(repaired.text, "<rss>\n<title>A&#160;B &#233;t&#233; &amp;notit; AT&amp;T &#xFFFD;</title><x/></rss>");
        assert_eq!(repaired.warnings.len(), 4, "{:?}", repaired.warnings);
        assert!(repaired.warnings[0].starts_with("3 HTML entity") && repaired.warnings[0].contains("&eacute;"), "{:?}", repaired.warnings);
        let new_x = repaired.text.find("<x/>").unwrap();
        assert_eq!(repaired.original_offset(new_x), xml.find("<x/>").unwrap());
    }

    #[test]
    fn blank_lines_and_text_before_the_declaration_are_dropped() {
        let xml = "\n\n<?xml version=\"1.0\"?>\n<feed/>";
        let repaired = repair(xml);
        assert_eq!(repaired.text, "\n<feed/>");
        assert!(repaired.warnings[0].contains("2 blank character(s)"), "{:?}", repaired.warnings);
        assert_eq!(repaired.original_offset(1), xml.find("<feed").unwrap());
        let repaired = repair("Warning: x in y<br />\n<?xml version=\"1.0\"?><rss/>");
        assert_eq!(repaired.text, "<rss/>");
        assert!(repaired.warnings[0].contains("\"Warning: x in y<br />\""), "{:?}", repaired.warnings);
    }

    #[test]
    fn text_after_the_root_is_dropped_but_not_after_a_stray_end_tag() {
        let repaired = repair("<rss><channel/></rss>\n<b>Fatal error</b>: x");
        assert_eq!(repaired.text, "<rss><channel/></rss>\n");
        assert!(repaired.warnings[0].contains("after the end of the <rss> element"), "{:?}", repaired.warnings);
        let stray = "<rss><channel></width></channel></rss>";
        assert_eq!(repair(stray).text, stray);
    }

    #[test]
    fn control_characters_become_spaces() {
        let repaired = repair("<rss>a\u{1}b\u{FFFF}</rss>");
        assert_eq!(repaired.text, "<rss>a b\u{FFFD}</rss>");
        assert!(repaired.warnings[0].contains("2 control character"), "{:?}", repaired.warnings);
    }

    #[test]
    fn undeclared_prefixes_are_declared_on_the_root() {
        let mut repaired = repair("<rss version=\"2.0\"><item><media:title>x</media:title></item></rss>");
        assert!(repaired.declare_prefix("media"));
        assert_eq!(repaired.text, "<rss xmlns:media=\"http://search.yahoo.com/mrss/\" version=\"2.0\"><item><media:title>x</media:title></item></rss>");
        let item = repaired.text.find("<item>").unwrap();
        assert_eq!(repaired.original_offset(item), "<rss version=\"2.0\">".len());
    }

    #[test]
    fn root_start_tag_skips_the_prolog() {
        let text = "\u{FEFF}<?xml version=\"1.0\"?><!-- c --><!DOCTYPE rss [ <!ENTITY a \">\"> ]>\n<rdf:RDF xmlns:rdf=\"x\">";
        let root = root_start_tag(text).unwrap();
        assert_eq!(root.name, "rdf:RDF");
        assert_eq!(&text[root.start..root.name_end], "<rdf:RDF");
        assert_eq!(root_start_tag("plain text <rss>"), None);
    }
}
