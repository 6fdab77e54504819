//! Sentence boundaries for English news text.
//!
//! The splitter works on whitespace-separated tokens and only ever breaks between two
//! tokens, so every visible character lands in exactly one sentence, in order. Whether a
//! gap between tokens ends a sentence is decided by the token before it (terminal
//! punctuation, abbreviations, initials, quotes), the token after it (capital letter or
//! not), and the layout (paragraph breaks always end a sentence; a line break ends one
//! when the line looks like a heading or the next line is a list item).
//!
//! Sentences come one at a time ([`sentences`]) from a short window of tokens, so splitting
//! needs memory for the longest sentence, not for the whole text.

use std::collections::VecDeque;

/// One sentence of a normalized text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sentence {
    /// The sentence with any line breaks inside it folded to single spaces.
    pub text: String,
    /// Byte offset of the sentence's first character in the text it was split from.
    pub start: usize,
    /// Byte offset just past the sentence's last character: the sentence as written is
    /// `source[start..end]`.
    pub end: usize,
    /// Zero-based index of the paragraph (blank-line separated block) holding the sentence.
    pub paragraph: usize,
}

/// Splits text (ideally the output of [`crate::text::normalize`]) into sentences.
///
/// Never returns an empty sentence; returns no sentences for empty or blank input. Any
/// `&str` is accepted: unnormalized whitespace is treated like its normalized form.
pub fn split_sentences(normalized: &str) -> Vec<Sentence> {
    sentences(normalized).collect()
}

/// The sentences of [`split_sentences`], one at a time: memory stays proportional to the
/// longest sentence (plus one number per paragraph), whatever the length of the text, so a
/// caller that keeps only some sentences never holds them all.
pub fn sentences(normalized: &str) -> Sentences<'_> {
    Sentences {
        source: normalized,
        longest_line: longest_line_per_paragraph(normalized),
        tokens: Tokens::new(normalized),
        window: VecDeque::with_capacity(LOOKAHEAD + 1),
        text: String::new(),
        first: None,
        tokens_in_sentence: 0,
    }
}

/// How many tokens after the current one the rules look at (the attribution check after a
/// quotation reads the furthest).
const LOOKAHEAD: usize = 6;

/// Iterator over the sentences of a text; see [`sentences`].
pub struct Sentences<'a> {
    source: &'a str,
    longest_line: Vec<usize>,
    tokens: Tokens<'a>,
    /// The current token and up to [`LOOKAHEAD`] tokens after it.
    window: VecDeque<Token>,
    /// The sentence being built: its text so far and its first token.
    text: String,
    first: Option<Token>,
    tokens_in_sentence: usize,
}

impl Iterator for Sentences<'_> {
    type Item = Sentence;

    fn next(&mut self) -> Option<Sentence> {
        loop {
            while self.window.len() <= LOOKAHEAD {
                match self.tokens.next() {
                    Some(token) => self.window.push_back(token),
                    None => break,
                }
            }
            let source = self.source;
            let window = self.window.make_contiguous();
            let token = *window.first()?;
            let is_sentence_start = self.tokens_in_sentence == 0;
            let words_so_far = self.tokens_in_sentence + 1;
            let next = window.get(1);
            let newlines_after = next.map_or(0, |next| next.newlines_before);
            let ends_here = next.is_none_or(|next| next.glued)
                || newlines_after >= 2
                || punctuation_ends_sentence(source, window, is_sentence_start)
                || full_stop_missing(source, window, words_so_far)
                || (newlines_after == 1
                    && line_break_ends_sentence(source, window, self.longest_line[token.paragraph]));

            if !self.text.is_empty() && !token.glued {
                self.text.push(' ');
            }
            self.text.push_str(token.text(source));
            let first = *self.first.get_or_insert(token);
            self.tokens_in_sentence += 1;
            self.window.pop_front();
            if ends_here {
                self.first = None;
                self.tokens_in_sentence = 0;
                return Some(Sentence {
                    text: std::mem::take(&mut self.text),
                    start: first.start,
                    end: token.end,
                    paragraph: first.paragraph,
                });
            }
        }
    }
}

/// A maximal run of non-whitespace characters.
#[derive(Debug, Clone, Copy)]
struct Token {
    start: usize,
    end: usize,
    /// Line breaks in the whitespace just before this token (2 or more = paragraph break).
    newlines_before: usize,
    /// Paragraph index of the token.
    paragraph: usize,
    /// Byte offset where the token's line starts (after leading whitespace).
    line_start: usize,
    /// Split off the previous token at a missing space: `fight".Jon` (always a boundary).
    glued: bool,
}

impl Token {
    fn text<'a>(&self, source: &'a str) -> &'a str {
        // Offsets come from char_indices of the same string, so they are on char boundaries.
        source.get(self.start..self.end).unwrap_or("")
    }
}

/// The whitespace-separated tokens of a text, in order, one at a time.
struct RawTokens<'a> {
    source: &'a str,
    chars: std::str::CharIndices<'a>,
    token_start: Option<usize>,
    newlines: usize,
    newlines_of_current: usize,
    paragraph: usize,
    line_start: usize,
    at_line_start: bool,
    previous_was_carriage_return: bool,
    seen_token: bool,
}

impl<'a> RawTokens<'a> {
    fn new(source: &'a str) -> RawTokens<'a> {
        RawTokens {
            source,
            chars: source.char_indices(),
            token_start: None,
            newlines: 0,
            newlines_of_current: 0,
            paragraph: 0,
            line_start: 0,
            at_line_start: true,
            previous_was_carriage_return: false,
            seen_token: false,
        }
    }

    fn token(&mut self, start: usize, end: usize) -> Token {
        self.seen_token = true;
        Token {
            start,
            end,
            newlines_before: self.newlines_of_current,
            paragraph: self.paragraph,
            line_start: self.line_start,
            glued: false,
        }
    }
}

impl Iterator for RawTokens<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        while let Some((offset, c)) = self.chars.next() {
            // "\r\n" is one line break.
            let crlf_tail = self.previous_was_carriage_return && c == '\n';
            self.previous_was_carriage_return = c == '\r';
            if c.is_whitespace() {
                let finished = self.token_start.take().map(|start| self.token(start, offset));
                if finished.is_some() {
                    self.newlines = 0;
                }
                if is_line_break(c) && !crlf_tail {
                    self.newlines += 1;
                    self.at_line_start = true;
                }
                if finished.is_some() {
                    return finished;
                }
            } else if self.token_start.is_none() {
                if self.newlines >= 2 && self.seen_token {
                    self.paragraph += 1;
                }
                if self.at_line_start {
                    self.line_start = offset;
                    self.at_line_start = false;
                }
                self.token_start = Some(offset);
                self.newlines_of_current = if self.seen_token { self.newlines } else { 0 };
            }
        }
        let start = self.token_start.take()?;
        Some(self.token(start, self.source.len()))
    }
}

/// The part `start..end` of `token`; parts after the first are glued to their predecessor.
fn piece(token: &Token, start: usize, end: usize) -> Token {
    let glued = start != token.start;
    Token {
        start,
        end,
        newlines_before: if glued { 0 } else { token.newlines_before },
        glued,
        ..*token
    }
}

/// Tokens with sentence ends that lost their following space split off: `"fight".Jon`,
/// `dangerous.The` (paragraphs joined by careless extraction). Only a lower-case word or
/// a closing quote before the stop and a capitalised word after it qualify, so `U.S.`,
/// `e.g.`, `bbc.co.uk` and `$1.13bn` stay whole.
struct Tokens<'a> {
    source: &'a str,
    raw: RawTokens<'a>,
    /// The raw token being split, and where its next piece starts.
    splitting: Option<(Token, usize)>,
}

impl<'a> Tokens<'a> {
    fn new(source: &'a str) -> Tokens<'a> {
        Tokens { source, raw: RawTokens::new(source), splitting: None }
    }
}

impl Iterator for Tokens<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        let (token, piece_start) = match self.splitting.take() {
            Some(state) => state,
            None => {
                let token = self.raw.next()?;
                if !token.text(self.source).contains(['.', '!', '?']) {
                    return Some(token);
                }
                (token, token.start)
            }
        };
        let text = token.text(self.source);
        match glued_sentence_end(text, piece_start - token.start) {
            Some(split_at) => {
                let split_at = token.start + split_at;
                self.splitting = Some((token, split_at));
                Some(piece(&token, piece_start, split_at))
            }
            None => Some(piece(&token, piece_start, token.end)),
        }
    }
}

/// The byte offset in `text` just past the first sentence-ending mark at or after `from`
/// that ends a sentence glued to the next one; see [`Tokens`].
fn glued_sentence_end(text: &str, from: usize) -> Option<usize> {
    for (relative, c) in text[from..].char_indices() {
        let offset = from + relative;
        if offset == 0 || !matches!(c, '.' | '!' | '?') {
            continue;
        }
        let mut after = text[offset + c.len_utf8()..].chars();
        let (Some(next), Some(after_next)) = (after.next(), after.next()) else {
            return None;
        };
        if !(next.is_uppercase() && after_next.is_lowercase()) {
            continue;
        }
        let before = &text[..offset];
        let closed_by_quote = before.ends_with(['"', '”', '’', ')']);
        let word_start = before
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_alphabetic())
            .last()
            .map_or(before.len(), |(index, _)| index);
        let word = &before[word_start..];
        let dotted = before[..word_start].ends_with('.');
        let plain_word = word.chars().count() >= 2
            && !dotted
            && word.chars().skip(1).all(char::is_lowercase)
            && (word.chars().all(char::is_lowercase) || word.chars().count() >= 4)
            && !TITLES.contains(&word)
            && !AMBIGUOUS_ABBREVIATIONS.contains(&word);
        if closed_by_quote || plain_word {
            return Some(offset + c.len_utf8());
        }
    }
    None
}

fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// Length in chars of the longest line of each paragraph, so a short line can be told
/// apart from a line of hard-wrapped prose. One pass over the text before splitting.
fn longest_line_per_paragraph(source: &str) -> Vec<usize> {
    let mut longest: Vec<usize> = Vec::new();
    // The current line: its first token and the end of its last one.
    let mut line: Option<(Token, usize)> = None;
    let close = |line: Option<(Token, usize)>, longest: &mut Vec<usize>| {
        if let Some((first, end)) = line {
            if longest.len() <= first.paragraph {
                longest.resize(first.paragraph + 1, 0);
            }
            let length = line_chars(source, first.line_start, end);
            longest[first.paragraph] = longest[first.paragraph].max(length);
        }
    };
    for token in RawTokens::new(source) {
        match &mut line {
            Some((first, end)) if first.line_start == token.line_start => *end = token.end,
            _ => {
                close(line.take(), &mut longest);
                line = Some((token, token.end));
            }
        }
    }
    close(line, &mut longest);
    longest
}

fn line_chars(source: &str, line_start: usize, end: usize) -> usize {
    source.get(line_start..end).map_or(0, |line| line.chars().count())
}

/// Characters that may close a sentence after its terminal punctuation: `He said "no."`
const CLOSING_MARKS: &[char] = &[')', ']', '}', '"', '\'', '”', '’', '»', '›', '*'];
/// Characters that may open a sentence before its first letter: `"We won," he said.`
const OPENING_MARKS: &[char] = &['(', '[', '{', '"', '\'', '“', '‘', '«', '‹', '¿', '¡'];
const QUOTE_MARKS: &[char] = &['"', '\'', '”', '’', '»', '›'];

/// Titles that are (almost) never the last word of a sentence: `Mr. Smith`, `Gen. Lee`.
const TITLES: &[&str] = &[
    "Mr", "Mrs", "Ms", "Mssrs", "Messrs", "Mme", "Mlle", "Dr", "Prof", "Rev", "Revd", "Fr", "Sen",
    "Sens", "Rep", "Reps", "Gov", "Govs", "Pres", "Gen", "Lt", "Col", "Maj", "Capt", "Cpt", "Cmdr",
    "Cdr", "Adm", "Brig", "Sgt", "Cpl", "Pte", "Pvt", "Hon", "Rt", "Supt", "Insp", "Det", "Atty",
    "Amb", "Mt", "Ft", "vs", "Vs", "viz",
];

/// Abbreviations that usually continue the sentence but can also end it:
/// `Apple Inc. said` / `shares in Apple Inc. The company…`. They end a sentence only when
/// the next word is a typical sentence opener (see [`SENTENCE_OPENERS`]).
const AMBIGUOUS_ABBREVIATIONS: &[&str] = &[
    // Places, companies, name suffixes.
    "St", "Ste", "Ave", "Blvd", "Rd", "Sq", "Inc", "Ltd", "Corp", "Co", "Cos", "Bros", "Plc", "plc",
    "LLC", "Llc", "Jr", "Sr", "Snr", "Jnr", "Esq", "Dept", "Univ", "Assn", "Intl",
    // Months and days: `Jan. 5`, `Sept. 11`.
    "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec", "Mon",
    "Tue", "Tues", "Wed", "Thu", "Thur", "Thurs", "Fri", "Sat",
    // Numbers and references: `No. 10`, `Fig. 3`, `pp. 4-5`.
    "No", "Nos", "no", "nos", "Nr", "Vol", "vol", "Vols", "Fig", "fig", "Figs", "p", "pp", "Ch",
    "ch", "Sec", "sec", "Art", "art", "Para", "para", "Ex", "ex", "Tel", "tel",
    // Latin and measures.
    "etc", "al", "cf", "ca", "approx", "Approx", "est", "Est", "min", "max", "mins", "hrs", "lbs",
    "oz", "ft", "sq", "yr", "yrs", "mo", "wk", "wks", "Rs", // U.S. states in AP style.
    "Ala", "Ariz", "Ark", "Calif", "Colo", "Conn", "Del", "Fla", "Ga", "Ill", "Ind", "Kan", "Kans",
    "Ky", "La", "Md", "Mich", "Minn", "Miss", "Mo", "Mont", "Neb", "Nev", "Okla", "Ore", "Pa",
    "Penn", "Tenn", "Tex", "Va", "Vt", "Wash", "Wis", "Wyo",
];

/// Capitalised words that typically open a sentence; after an ambiguous abbreviation they
/// signal a boundary (`…in the U.S. The…`), while other capitalised words do not
/// (`U.S. President…`).
const SENTENCE_OPENERS: &[&str] = &[
    "A",
    "An",
    "The",
    "This",
    "That",
    "These",
    "Those",
    "There",
    "Here",
    "It",
    "Its",
    "He",
    "She",
    "They",
    "We",
    "I",
    "You",
    "His",
    "Her",
    "Their",
    "Our",
    "My",
    "Your",
    "But",
    "And",
    "Or",
    "So",
    "Yet",
    "If",
    "In",
    "On",
    "At",
    "As",
    "For",
    "From",
    "By",
    "With",
    "After",
    "Before",
    "When",
    "While",
    "Although",
    "Though",
    "Since",
    "Because",
    "However",
    "Meanwhile",
    "Also",
    "Some",
    "Many",
    "Most",
    "All",
    "Now",
    "Then",
    "Still",
    "What",
    "Who",
    "Why",
    "How",
    "Where",
    "Which",
    "One",
    "Both",
    "Each",
    "Other",
    "Others",
    "Such",
    "During",
    "Under",
    "Last",
    "Earlier",
    "Later",
    "Today",
    "Yesterday",
    "According",
    "Mr",
    "Mrs",
    "Ms",
    "Dr",
];

/// Verbs that attribute a quotation: `"Who knows?" she asked.` continues the sentence.
const SPEECH_VERBS: &[&str] = &[
    "said",
    "says",
    "asked",
    "asks",
    "added",
    "adds",
    "told",
    "tells",
    "replied",
    "replies",
    "wrote",
    "writes",
    "shouted",
    "cried",
    "exclaimed",
    "yelled",
    "screamed",
    "declared",
    "insisted",
    "explained",
    "continued",
    "admitted",
    "recalled",
    "warned",
    "joked",
    "laughed",
    "tweeted",
    "posted",
];

/// Does the gap after `tokens[0]` end a sentence because of punctuation? `tokens` are the
/// current token and the ones after it.
fn punctuation_ends_sentence(source: &str, tokens: &[Token], is_sentence_start: bool) -> bool {
    let Some(next) = tokens.get(1) else {
        return true;
    };
    let token = tokens[0].text(source);
    let core = token.trim_end_matches(CLOSING_MARKS);
    let closed_by_quote = token[core.len()..].contains(QUOTE_MARKS);
    let Some(terminal) = core.chars().last() else {
        return false;
    };
    let next_text = next.text(source);
    let next_core = next_text.trim_start_matches(OPENING_MARKS);
    if next_core.chars().next().is_some_and(char::is_lowercase) {
        return false;
    }

    match terminal {
        '?' | '!' | '‽' | '？' | '！' => {
            !(closed_by_quote && attribution_follows(source, &tokens[1..]))
        }
        '…' | '。' => true,
        '.' if core.ends_with("..") => true,
        '.' => {
            let word = core[..core.len() - 1].trim_start_matches(OPENING_MARKS);
            period_ends_sentence(word, next_text, is_sentence_start)
        }
        _ => false,
    }
}

/// Decides a `word.` followed by a token that does not start in lower case.
fn period_ends_sentence(word: &str, next: &str, is_sentence_start: bool) -> bool {
    if word.is_empty() {
        return true;
    }
    // `1. First item` / `a. Introduction`: a list enumerator, not a sentence.
    if is_sentence_start && is_enumerator(word) {
        return false;
    }
    // `then-Sen. Obama`: the title is the last part of a hyphenated word.
    let last_part = word.rsplit('-').next().unwrap_or(word);
    if TITLES.contains(&last_part) {
        return false;
    }
    let ambiguous =
        is_initial(word) || is_dotted_abbreviation(word) || AMBIGUOUS_ABBREVIATIONS.contains(&word);
    if ambiguous {
        return opens_sentence_after_abbreviation(next);
    }
    true
}

/// After an abbreviation, only a typical opener or an opening quote starts a new sentence.
fn opens_sentence_after_abbreviation(next: &str) -> bool {
    if next.starts_with(OPENING_MARKS) {
        return next
            .trim_start_matches(OPENING_MARKS)
            .chars()
            .next()
            .is_some_and(char::is_uppercase);
    }
    let word = next.trim_end_matches(|c: char| !c.is_alphanumeric());
    SENTENCE_OPENERS.contains(&word)
}

/// A single letter such as the `J` in `J. K. Rowling`.
fn is_initial(word: &str) -> bool {
    let mut chars = word.chars();
    matches!((chars.next(), chars.next()), (Some(c), None) if c.is_alphabetic())
}

/// `U.S`, `e.g`, `Ph.D`, `a.m` (the final period already removed): short letter groups
/// joined by periods.
fn is_dotted_abbreviation(word: &str) -> bool {
    word.contains('.')
        && word.split('.').all(|part| {
            let letters = part.chars().count();
            (1..=3).contains(&letters) && part.chars().all(char::is_alphabetic)
        })
}

fn is_enumerator(word: &str) -> bool {
    let all_digits =
        !word.is_empty() && word.len() <= 3 && word.bytes().all(|b| b.is_ascii_digit());
    let roman = matches!(
        word.to_ascii_lowercase().as_str(),
        "i" | "ii" | "iii" | "iv" | "v" | "vi" | "vii" | "viii" | "ix" | "x"
    );
    all_digits || roman || is_initial(word)
}

/// True when a short clause with a speech verb follows a quotation: `"Why?" he asked.`
fn attribution_follows(source: &str, following: &[Token]) -> bool {
    const LOOKAHEAD_WORDS: usize = 5;
    for token in following.iter().take(LOOKAHEAD_WORDS) {
        let text = token.text(source);
        let word = text
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase();
        if SPEECH_VERBS.contains(&word.as_str()) {
            return true;
        }
        if text.ends_with(['.', '!', '?', ',', ';', ':']) {
            return false;
        }
    }
    false
}

/// Capitalised openers that, right after a lower-case word and followed by another
/// lower-case word, mark a sentence whose full stop was lost: `…than a colleague The
/// cost of divorce…` (image captions glued to the text by web scrapers).
const GLUED_OPENERS: &[&str] = &[
    "The", "An", "This", "These", "Those", "His", "Her", "Their", "Its", "In", "On", "At", "After",
    "When", "While", "But", "During", "Some", "Many", "He", "She", "They", "We", "It", "There",
];

/// Does a sentence end after `tokens[0]` although it has no final punctuation? Only when a
/// lower-case word runs straight into a typical sentence opening. `words_so_far` counts the
/// sentence's tokens up to and including `tokens[0]`.
fn full_stop_missing(source: &str, tokens: &[Token], words_so_far: usize) -> bool {
    const MIN_WORDS_BEFORE: usize = 3;
    if words_so_far < MIN_WORDS_BEFORE {
        return false;
    }
    let token = tokens[0].text(source);
    let ends_in_lowercase_word = token.chars().next().is_some_and(char::is_lowercase)
        && token
            .chars()
            .last()
            .is_some_and(|c| c.is_lowercase() || c.is_numeric());
    let ends_in_amount =
        token.starts_with(['$', '£', '€']) && token.ends_with(|c: char| c.is_ascii_digit());
    if !(ends_in_lowercase_word || ends_in_amount) {
        return false;
    }
    let Some(next) = tokens.get(1).map(|t| t.text(source)) else {
        return false;
    };
    if !GLUED_OPENERS.contains(&next) {
        return false;
    }
    tokens
        .get(2)
        .map(|t| t.text(source))
        .and_then(|after| after.chars().next())
        .is_some_and(|c| c.is_lowercase() || c.is_numeric())
}

/// Does a single line break after `tokens[0]` end a sentence even without final
/// punctuation? Yes before a list item, and after a heading-like short line followed by
/// a capitalised line; no inside hard-wrapped prose.
fn line_break_ends_sentence(source: &str, tokens: &[Token], longest_line_in_paragraph: usize) -> bool {
    let Some(next) = tokens.get(1) else {
        return true;
    };
    let next_text = next.text(source);
    if is_list_marker(next_text) {
        return true;
    }
    let token = tokens[0].text(source);
    if token.ends_with([',', ';', ':', '-', '–', '—', '&', '/', '(']) {
        return false;
    }
    let next_starts_capital = next_text
        .trim_start_matches(OPENING_MARKS)
        .chars()
        .next()
        .is_some_and(|c| c.is_uppercase() || c.is_numeric());
    if !next_starts_capital {
        return false;
    }
    let this_line = &tokens[0];
    let length = line_chars(source, this_line.line_start, this_line.end);
    // A line clearly shorter than the paragraph's longest is a heading or a deliberate
    // break, not a wrapped line.
    length * 10 < longest_line_in_paragraph * 7
}

fn is_list_marker(token: &str) -> bool {
    if matches!(
        token,
        "-" | "*" | "•" | "·" | "–" | "—" | "▪" | "►" | "‣" | "◦" | "+"
    ) {
        return true;
    }
    if token.starts_with(['•', '▪', '►', '‣', '◦']) {
        return true;
    }
    // `1.`, `2)`, `(3)`, `a)`.
    let inner = token.trim_start_matches('(');
    let Some(body) = inner.strip_suffix(['.', ')']) else {
        return false;
    };
    !body.is_empty()
        && (body.len() <= 3 && body.bytes().all(|b| b.is_ascii_digit())
            || (inner.ends_with(')') && is_initial(body)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::normalize;

    fn texts(input: &str) -> Vec<String> {
        split_sentences(&normalize(input))
            .into_iter()
            .map(|s| s.text)
            .collect()
    }

    /// Every visible character in exactly one sentence, in order, none empty, offsets right.
    fn assert_partition(input: &str) {
        let sentences = split_sentences(input);
        let mut covered = String::new();
        let mut previous_end = 0;
        for sentence in &sentences {
            assert!(
                !sentence.text.trim().is_empty(),
                "empty sentence in {input:?}"
            );
            assert!(sentence.start >= previous_end && sentence.start < sentence.end);
            let slice = &input[sentence.start..sentence.end];
            assert_eq!(
                slice.split_whitespace().collect::<Vec<_>>().join(" "),
                sentence.text
            );
            assert!(input[previous_end..sentence.start].trim().is_empty());
            covered.push_str(slice);
            previous_end = sentence.end;
        }
        assert!(input[previous_end..].trim().is_empty());
        let visible = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
        assert_eq!(visible(&covered), visible(input));
    }


    #[test]
    fn seed_article_abbreviations() {
        let raw = crate::text::test_inputs::seed_article();
        let text = normalize(&raw);
        assert_partition(&text);
        let sentences = split_sentences(&text);
        let joined: Vec<&str> = sentences.iter().map(|s| s.text.as_str()).collect();
        assert!(joined.iter().any(|s| s
            .starts_with("Meeting at No. 10 Downing St., the two leaders")
            && s.ends_with("leaders’ statement.")));
        assert!(joined
            .iter()
            .any(|s| s.starts_with("Under the potential accord")
                && s.contains("U.N. peacekeeping")
                && s.ends_with("according to Japanese officials.")));
        assert!(joined.contains(&"Britain is one of the 28 members of the bloc."));
        assert!(joined.contains(
            &"They agreed to respond in cooperation with other Group of Seven countries."
        ));
        assert_eq!(sentences[0].paragraph, 0);
        assert_eq!(sentences[1].paragraph, 1);
        assert_eq!(sentences.len(), 23);
    }

    #[test]
    fn titles_initials_and_dotted_abbreviations() {
        assert_eq!(
            texts("Mr. Smith met Dr. Jones at St. Paul's. J. K. Rowling wrote it. The U.S. Senate voted."),
            ["Mr. Smith met Dr. Jones at St. Paul's.", "J. K. Rowling wrote it.", "The U.S. Senate voted."]
        );
        assert_eq!(
            texts("Troops arrived in the U.S. The mission, e.g. food aid, ended at 9 a.m. The officials left."),
            ["Troops arrived in the U.S.", "The mission, e.g. food aid, ended at 9 a.m.", "The officials left."]
        );
    }

    #[test]
    fn company_month_and_number_abbreviations() {
        assert_eq!(
            texts(
                "Shares of Apple Inc. rose. It was Jan. 5 in No. 10 Downing St. when Ltd. The end."
            ),
            [
                "Shares of Apple Inc. rose.",
                "It was Jan. 5 in No. 10 Downing St. when Ltd.",
                "The end."
            ]
        );
        assert_eq!(
            texts("He bought Acme Corp. The deal closed."),
            ["He bought Acme Corp.", "The deal closed."]
        );
    }

    #[test]
    fn decimals_money_and_percentages() {
        assert_eq!(
            texts("Profits jumped 76% to $1.13bn (£600m). Sales rose 3.5% to 10.9bn euros. Shares fell."),
            ["Profits jumped 76% to $1.13bn (£600m).", "Sales rose 3.5% to 10.9bn euros.", "Shares fell."]
        );
    }

    #[test]
    fn ellipses() {
        assert_eq!(
            texts("He paused... Then he spoke. It was… Wait. She said it was fine... and left."),
            [
                "He paused...",
                "Then he spoke.",
                "It was…",
                "Wait.",
                "She said it was fine... and left."
            ]
        );
    }

    #[test]
    fn quotations() {
        assert_eq!(
            texts("\"We won,\" he said. \"It's over.\" Then they left. ‘I’m happy,’ said Locke."),
            [
                "\"We won,\" he said.",
                "\"It's over.\"",
                "Then they left.",
                "‘I’m happy,’ said Locke."
            ]
        );
        assert_eq!(
            texts("She said: “It ended.” The crowd cheered. “Who knows?” Smith asked. “Go!” They ran."),
            ["She said: “It ended.”", "The crowd cheered.", "“Who knows?” Smith asked.", "“Go!”", "They ran."]
        );
    }

    #[test]
    fn captions_glued_without_a_full_stop() {
        assert_eq!(
            texts("Retirees who never divorced get 13% more than a colleague The cost of divorce can wreck retirement. He left."),
            ["Retirees who never divorced get 13% more than a colleague", "The cost of divorce can wreck retirement.", "He left."]
        );
        assert_eq!(
            texts("Police said the suspect was arrested last night He said it was over."),
            [
                "Police said the suspect was arrested last night",
                "He said it was over."
            ]
        );
        // Names and titles in running text are not sentence starts.
        assert_eq!(
            texts("He told The Guardian that he spoke to It Girl stars."),
            ["He told The Guardian that he spoke to It Girl stars."]
        );
    }

    #[test]
    fn sentences_glued_without_a_space() {
        assert_eq!(
            texts("He would \"fight\".Jon Venables was convicted. It was dangerous.The end came. Visit bbc.co.uk. The U.S.Army left."),
            ["He would \"fight\".", "Jon Venables was convicted.", "It was dangerous.", "The end came.", "Visit bbc.co.uk.", "The U.S.Army left."]
        );
    }

    #[test]
    fn questions_and_exclamations() {
        assert_eq!(
            texts("Is it true? Yes! It is. What now?! Nobody knows."),
            [
                "Is it true?",
                "Yes!",
                "It is.",
                "What now?!",
                "Nobody knows."
            ]
        );
    }

    #[test]
    fn paragraph_breaks_always_end_sentences() {
        let text =
            normalize("A heading without a stop\n\nbody text starts here. second part\n\nlast one");
        let sentences = split_sentences(&text);
        let got: Vec<(&str, usize)> = sentences
            .iter()
            .map(|s| (s.text.as_str(), s.paragraph))
            .collect();
        assert_eq!(
            got,
            [
                ("A heading without a stop", 0),
                ("body text starts here. second part", 1),
                ("last one", 2)
            ]
        );
    }

    #[test]
    fn heading_lines_and_lists_without_punctuation() {
        let text = normalize(
            "Markets Rally Again\nShares rose sharply on Monday as investors cheered the news from the central bank.\nKey points:\n- Rates held\n- Jobs up\n1. First item\n2. Second item",
        );
        assert_eq!(
            texts(&text),
            [
                "Markets Rally Again",
                "Shares rose sharply on Monday as investors cheered the news from the central bank.",
                "Key points:",
                "- Rates held",
                "- Jobs up",
                "1. First item",
                "2. Second item"
            ]
        );
    }

    #[test]
    fn hard_wrapped_prose_stays_together() {
        let text = normalize(
            "The committee said on Tuesday that the\nPresident would sign the bill into law by the end\nof the week, officials said.",
        );
        assert_eq!(texts(&text).len(), 1);
        assert_partition(&text);
    }

    #[test]
    fn degenerate_inputs() {
        assert!(split_sentences("").is_empty());
        assert!(split_sentences("  \n\n \t").is_empty());
        assert_eq!(texts("word"), ["word"]);
        assert_eq!(
            texts("no punctuation at all just words"),
            ["no punctuation at all just words"]
        );
        assert_eq!(texts("..."), ["..."]);
        assert_eq!(texts(". . ."), [".", ".", "."]);
        assert_eq!(texts("?! \"\" ( ) ."), ["?!", "\"\" ( ) ."]);
    }

    #[test]
    fn offsets_are_byte_offsets_into_the_input() {
        let text = normalize("Café opened. Naïve “quotes” work. 日本語のテキスト。 Done.");
        let sentences = split_sentences(&text);
        for sentence in &sentences {
            assert_eq!(&text[sentence.start..sentence.end], sentence.text);
        }
        assert_eq!(sentences[0].text, "Café opened.");
    }

    #[test]
    fn partition_holds_on_random_inputs() {
        for input in crate::text::test_inputs::tricky_strings(3000) {
            assert_partition(&input);
            assert_partition(&normalize(&input));
        }
    }

    mod properties {
        use super::super::split_sentences;
        use crate::text::normalize;
        use proptest::prelude::*;

        /// Text made of the pieces the splitting rules look at, mixed with arbitrary characters.
        fn news_like_text() -> impl Strategy<Value = String> {
            #[rustfmt::skip]
            const PIECES: &[&str] = &[
                "The", "U.S.", "Mr.", "No.", "J.", "1.", "3.5%", "e.g.", "Inc.", "said", "he",
                ".", "..", "...", "…", "?", "!", "\"", "“", "”", "’", "(", ")", "—", "-", "•",
                ":", " ", " ", " ", "\n", "\n\n", "\r\n", "\t", "\u{A0}", "\u{200B}",
                "\u{2029}", "fight\".Jon", "日本", "。", "\u{301}",
            ];
            let piece = prop_oneof![
                4 => proptest::sample::select(PIECES).prop_map(str::to_string),
                2 => "[A-Za-z]{1,8}",
                1 => any::<char>().prop_map(String::from),
            ];
            proptest::collection::vec(piece, 0..60).prop_map(|pieces| pieces.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

            /// The sentences, joined with the whitespace that separated them, are the normalized
            /// text; their `text` joined with one space (none where a sentence was glued to the
            /// previous one) is the normalized text with line breaks folded.
            #[test]
            fn joined_sentences_give_back_the_normalized_text(raw in news_like_text()) {
                let normalized = normalize(&raw);
                let sentences = split_sentences(&normalized);
                let mut rejoined = String::new();
                let mut joined_texts = String::new();
                let mut previous_end = 0;
                for sentence in &sentences {
                    let gap = &normalized[previous_end..sentence.start];
                    prop_assert!(gap.trim().is_empty(), "{gap:?} is in no sentence");
                    rejoined.push_str(gap);
                    rejoined.push_str(&normalized[sentence.start..sentence.end]);
                    if previous_end > 0 && !gap.is_empty() {
                        joined_texts.push(' ');
                    }
                    joined_texts.push_str(&sentence.text);
                    previous_end = sentence.end;
                }
                rejoined.push_str(&normalized[previous_end..]);
                prop_assert_eq!(&rejoined, &normalized);
                let folded = normalized.split_whitespace().collect::<Vec<_>>().join(" ");
                prop_assert_eq!(joined_texts, folded);
            }

            #[test]
            fn no_sentence_is_empty_or_padded(raw in news_like_text()) {
                for sentence in split_sentences(&normalize(&raw)) {
                    prop_assert!(!sentence.text.is_empty());
                    prop_assert_eq!(sentence.text.trim(), sentence.text.as_str());
                }
            }

            #[test]
            fn paragraph_index_counts_the_blank_lines_before_the_sentence(raw in news_like_text()) {
                let normalized = normalize(&raw);
                for sentence in split_sentences(&normalized) {
                    prop_assert_eq!(sentence.paragraph, normalized[..sentence.start].matches("\n\n").count());
                }
            }

            #[test]
            fn normalize_is_idempotent(raw in news_like_text()) {
                let once = normalize(&raw);
                prop_assert_eq!(normalize(&once), once);
            }
        }
    }

    #[test]
    fn partition_holds_on_odd_inputs() {
        let long = "word ".repeat(20_000);
        let odd = [
            "",
            "x",
            "A. B. C. D.",
            "1. 2. 3.",
            "\u{1F600}. \u{1F600}! \u{200D}?",
            "e.g. i.e. etc. U.S. U.K. p.m.",
            "Mr. Mrs. Dr. St. No. Inc.",
            "(\"'‘“«",
            "End.\") (Start again.) \"Quote?\" — dash… …",
            "line one\nline two\n\n\n\nline three\r\nline four",
            "ＡＢＣ。ｄｅｆ！ ｇｈｉ？ Ünïcödé. Ωmega. ǅemal.",
            long.as_str(),
        ];
        for input in odd {
            assert_partition(input);
            assert_partition(&normalize(input));
        }
    }
}
