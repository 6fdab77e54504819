//! Light, meaning-preserving cleanup of extracted sentences: news datelines, caption
//! labels, leading connectives, first-letter capitals, and recognising page furniture
//! (calls to action, bylines) that should never be chosen.

use crate::text;

/// Removes a leading news dateline: `LONDON (Reuters) - `, `WASHINGTON — `,
/// `(CNN) -- `, `Washington (CNN)This…`. Returns the input when there is none.
pub(super) fn strip_dateline(sentence: &str) -> &str {
    let trimmed = sentence.trim_start();
    strip_agency_dateline(trimmed)
        .or_else(|| strip_capitalised_place_dateline(trimmed))
        .unwrap_or(sentence)
}

/// The most words a place and date before an agency or a dash may have.
const MAX_DATELINE_WORDS: usize = 6;
/// Where a dateline's closing bracket or dash may be at the latest, in bytes.
const MAX_DATELINE_BYTES: usize = 80;

/// `(CNN)They…`, `Washington (CNN) -- The…`, `NEW YORK, March 3 (Reuters) - Stocks…`.
fn strip_agency_dateline(sentence: &str) -> Option<&str> {
    let open = sentence.find('(')?;
    let close = open + sentence[open..].find(')')?;
    if close > MAX_DATELINE_BYTES {
        return None;
    }
    let place = sentence[..open].trim();
    let place_ok = place.is_empty()
        || (place.split_whitespace().count() <= MAX_DATELINE_WORDS
            && place.chars().next().is_some_and(char::is_uppercase)
            && !text::ends_with_terminal_punctuation(place));
    if !place_ok || !is_agency_name(&sentence[open + 1..close]) {
        return None;
    }
    let rest = strip_leading_dash(&sentence[close + 1..]);
    starts_sentence(rest).then_some(rest)
}

/// `WASHINGTON — The…`, `SAN FRANCISCO, Calif. - The…`: an all-capitals place, a dash.
fn strip_capitalised_place_dateline(sentence: &str) -> Option<&str> {
    let first_word = sentence.split_whitespace().next()?;
    // Counted, not collected: the first "word" of a text without spaces can be megabytes long.
    let mut letters = 0;
    if !first_word.chars().filter(|c| c.is_alphabetic()).all(|c| {
        letters += 1;
        c.is_uppercase()
    }) || letters < 2
    {
        return None;
    }
    let mut offset = 0;
    for token in sentence.split_whitespace().take(MAX_DATELINE_WORDS + 1) {
        let start = offset + sentence[offset..].find(token)?;
        offset = start + token.len();
        if matches!(token, "-" | "--" | "—" | "–" | "―") {
            let rest = sentence[offset..].trim_start();
            return starts_sentence(rest).then_some(rest);
        }
    }
    None
}

/// `CNN`, `Reuters`, `AP`, `CNN Student News`: one to three capitalised words.
fn is_agency_name(inside: &str) -> bool {
    let words: Vec<&str> = inside.split_whitespace().collect();
    (1..=3).contains(&words.len())
        && words
            .iter()
            .all(|w| w.chars().next().is_some_and(char::is_uppercase))
}

fn strip_leading_dash(s: &str) -> &str {
    s.trim_start()
        .trim_start_matches(['-', '—', '–', '―'])
        .trim_start()
}

/// Does `s` begin like a sentence (capital letter or digit, possibly after a quote)?
pub(super) fn starts_sentence(s: &str) -> bool {
    s.trim_start_matches(['"', '\'', '“', '‘'])
        .chars()
        .next()
        .is_some_and(|c| c.is_uppercase() || c.is_numeric())
}

pub(super) fn starts_with_quote(s: &str) -> bool {
    s.starts_with(['"', '\'', '“', '‘', '«'])
}

/// Removes a caption label such as `Vicious:` or `Bad memories:` from the start.
pub(super) fn strip_label(sentence: &str) -> &str {
    const MAX_LABEL_WORDS: usize = 3;
    const MIN_WORDS_AFTER: usize = 4;
    let Some(colon) = sentence.find(": ") else {
        return sentence;
    };
    let label = &sentence[..colon];
    let rest = sentence[colon + 1..].trim_start();
    if label.split_whitespace().count() <= MAX_LABEL_WORDS
        && text::count_words(rest) >= MIN_WORDS_AFTER
        && starts_sentence(rest)
    {
        rest
    } else {
        sentence
    }
}

/// Words that link a sentence to the one before it; a bullet stands alone without them.
const LEADING_CONNECTIVES: &[&str] = &[
    "But",
    "And",
    "So",
    "Yet",
    "Or",
    "However,",
    "However",
    "Meanwhile,",
    "Also,",
    "Still,",
    "Moreover,",
    "Furthermore,",
    "Additionally,",
    "Nevertheless,",
    "Nonetheless,",
    "Indeed,",
    "Instead,",
    "Besides,",
    "Then,",
    "Now,",
    "Thus,",
    "Hence,",
    "Therefore,",
    "Plus,",
    "In addition,",
    "In fact,",
    "As a result,",
    "On the other hand,",
    "Of course,",
    "After all,",
];

/// `But the minister said…` → `the minister said…` (capitalise afterwards).
pub(super) fn strip_leading_connective(sentence: &str) -> &str {
    for connective in LEADING_CONNECTIVES {
        if let Some(rest) = sentence.strip_prefix(connective) {
            // Whole word only ("Andrew" is not "And"), and something must remain.
            if rest.starts_with(char::is_whitespace) && rest.chars().any(char::is_alphanumeric) {
                return rest.trim_start();
            }
        }
    }
    sentence
}

/// Upper-cases the first letter or digit, leaving any opening quote in place.
pub(super) fn capitalize_first(s: &str) -> String {
    let mut output = String::with_capacity(s.len());
    let mut done = false;
    for c in s.chars() {
        if !done && c.is_alphanumeric() {
            output.extend(c.to_uppercase());
            done = true;
        } else {
            output.push(c);
        }
    }
    output
}

/// A sentence as a stand-alone bullet: no dateline, no leading connective, capitalised.
pub(super) fn bullet_text(sentence: &str) -> String {
    capitalize_first(strip_leading_connective(strip_dateline(sentence)))
}

/// Site chrome that web pages leave in extracted text: calls to action, subscription
/// pleas, copyright lines. Phrases are specific so that news about subscribers or
/// newsletters is not mistaken for chrome.
pub(super) fn is_page_furniture(sentence: &str) -> bool {
    const ANYWHERE: &[&str] = &[
        "all rights reserved",
        "click here",
        "scroll down for",
        "sign up for our",
        "sign up to our",
        "subscribe to our",
        "by subscribing",
        "follow us on",
        "share this article",
        "quality journalism",
        "enable javascript",
        "your browser",
    ];
    const AT_START: &[&str] = &[
        "advertisement",
        "published:",
        "updated:",
        "last updated",
        "copyright",
        "©",
        "read more",
        "related:",
        "see also",
        "subscribe",
    ];
    let lower = sentence.to_lowercase();
    ANYWHERE.iter().any(|marker| lower.contains(marker))
        || AT_START.iter().any(|marker| lower.starts_with(marker))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_first_word_is_no_dateline() {
        let word = "ABCDEFGHIJ".repeat(1000);
        let sentence = format!("{word} - The council met.");
        assert_eq!(strip_dateline(&sentence), "The council met.");
        let lower = "abcdefghij".repeat(1000);
        assert_eq!(strip_dateline(&lower), lower);
    }

    #[test]
    fn strips_datelines() {
        assert_eq!(
            strip_dateline("LONDON (Reuters) - Shares rose."),
            "Shares rose."
        );
        assert_eq!(
            strip_dateline("WASHINGTON — The Senate voted."),
            "The Senate voted."
        );
        assert_eq!(
            strip_dateline("(CNN)They may not be aliens."),
            "They may not be aliens."
        );
        assert_eq!(strip_dateline("(CNN) -- The storm hit."), "The storm hit.");
        assert_eq!(
            strip_dateline("Washington (CNN)This week is the anniversary."),
            "This week is the anniversary."
        );
        assert_eq!(
            strip_dateline("NEW YORK, March 3 (Reuters) - Stocks fell."),
            "Stocks fell."
        );
        assert_eq!(
            strip_dateline("SAN FRANCISCO, Calif. — Apple sued."),
            "Apple sued."
        );
    }

    #[test]
    fn leaves_sentences_without_datelines_alone() {
        for sentence in [
            "Mr Smith - who was there - left.",
            "Apple (AAPL) shares rose.",
            "The World Health Organization (WHO) said so.",
            "NASA - the space agency - launched it.",
            "word",
            "",
            "(",
            "(CNN)",
        ] {
            assert_eq!(strip_dateline(sentence), sentence);
        }
    }

    #[test]
    fn strips_connectives_and_capitalises() {
        assert_eq!(
            bullet_text("But the minister said no."),
            "The minister said no."
        );
        assert_eq!(bullet_text("However, it rained."), "It rained.");
        assert_eq!(bullet_text("Andrew left."), "Andrew left.");
        assert_eq!(bullet_text("And"), "And");
        assert_eq!(
            bullet_text("LONDON (Reuters) - But shares fell."),
            "Shares fell."
        );
        assert_eq!(bullet_text("‘quoted’ start"), "‘Quoted’ start");
    }

    #[test]
    fn strips_caption_labels() {
        assert_eq!(
            strip_label("Vicious: ESPN reporter Britt McHenry was suspended."),
            "ESPN reporter Britt McHenry was suspended."
        );
        assert_eq!(strip_label("He said: no."), "He said: no.");
        assert_eq!(
            strip_label("The results of the long study: Many people agree now."),
            "The results of the long study: Many people agree now."
        );
    }

    #[test]
    fn recognises_page_furniture_but_not_news_about_subscribers() {
        assert!(is_page_furniture("Scroll down for video"));
        assert!(is_page_furniture(
            "By subscribing, you can help us get the story right."
        ));
        assert!(is_page_furniture("Advertisement"));
        assert!(!is_page_furniture(
            "It lost 464,000 subscribers in the fourth quarter."
        ));
        assert!(!is_page_furniture(
            "The newsletter was sent to 2,000 readers."
        ));
    }
}
