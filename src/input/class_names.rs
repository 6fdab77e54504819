//! What a page's class and id names say about an element: boilerplate (comments, sharing,
//! related links, bylines, captions …), page layout (sidebar, menu, footer …), or the story's
//! body (`entry-content`, `article-body` …).
//!
//! Names are split into words (`related-posts`, `relatedPosts` → related, posts) and looked
//! up in short vocabularies. This module only reads names; whether a judged block is really
//! left out (it may wrap the story, or be full of prose) is decided by the HTML extractor,
//! which also sees the text.

/// What an element's class, id or tag says about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ClassVerdict {
    Neutral,
    /// Layout words (sidebar, menu, `<form>`): boilerplate unless full of prose.
    Layout,
    /// Words such as "ad", "modal", "pagination" without a content word: boilerplate unless
    /// the block wraps the story.
    WeakBoilerplate,
    /// Share, related, comment … blocks: boilerplate unless they wrap the story.
    Boilerplate,
}

/// Class and id words that mark a block as never the story: comments, sharing, related links,
/// bylines, captions … A word in a content-like class does not clear them ("comment-body" is
/// still a comment).
const BOILERPLATE_WORDS: &[&str] = &[
    "share",
    "sharing",
    "sharebar",
    "social",
    "related",
    "comment",
    "comments",
    "commenting",
    "disqus",
    "reply",
    "replies",
    "newsletter",
    "subscribe",
    "subscription",
    "signup",
    "promo",
    "promotion",
    "advert",
    "advertisement",
    "advertising",
    "ads",
    "adslot",
    "sponsor",
    "sponsored",
    "outbrain",
    "taboola",
    "recommended",
    "recommendations",
    "recirc",
    "recirculation",
    "trending",
    "popular",
    "cookie",
    "cookies",
    "consent",
    "gdpr",
    "breadcrumb",
    "breadcrumbs",
    "byline",
    "caption",
    "credit",
    "credits",
    "author",
    "bio",
    "tags",
    "meta",
    "cta",
    "disclaimer",
    "dateline",
    "timestamp",
];

/// Words that usually mark furniture but are also found on the classes of article wrappers
/// ("ad_body", "box article modal-enabled", "article-body pagination-first"): they count only
/// when no word of the element's classes says "content".
const WEAK_BOILERPLATE_WORDS: &[&str] = &[
    "ad",
    "modal",
    "popup",
    "pagination",
    "pager",
    "toolbar",
    "paywall",
    "skip",
];

/// Page layout: boilerplate unless the block turns out to hold the prose (some sites wrap the
/// whole page in one).
const LAYOUT_WORDS: &[&str] = &[
    "sidebar",
    "nav",
    "navbar",
    "navigation",
    "menu",
    "footer",
    "header",
    "masthead",
    "banner",
    "rail",
];

/// Words of a class that names the story's body: one of these…
const STORY_WORDS: &[&str] = &["article", "entry", "post", "story", "blog", "news"];
/// …with one of these ("entry-content", "articleBody", "post-text").
const BODY_WORDS: &[&str] = &["body", "content", "text"];

/// Whether a class or id names the story's body: `entry-content`, `article-body`, `storyText`,
/// `articlebody`.
pub(super) fn names_story_body(class: Option<&str>, id: Option<&str>) -> bool {
    class
        .into_iter()
        .chain(id).flat_map(str::split_whitespace).any(|token| {
        let words = class_words(token);
        let has = |list: &[&str], word: &str| list.contains(&word);
        let story = words.iter().any(|word| has(STORY_WORDS, word));
        let body = words.iter().any(|word| has(BODY_WORDS, word));
        let compound = words.iter().any(|word| {
            STORY_WORDS.iter().any(|story| word.starts_with(story))
                && BODY_WORDS.iter().any(|body| word.ends_with(body))
        });
        (story && body) || compound
    })
}

/// Words that say "this holds the article" (readability's positive and "maybe" classes).
const CONTENT_WORDS: &[&str] = &[
    "article", "body", "content", "entry", "main", "post", "story", "text",
];

/// Whole class names that hide an element from sighted readers (screen-reader labels, and
/// Bootstrap's `hidden`); partial matches such as `hidden-xs` or `field-label-hidden` are
/// ordinary visible elements.
const HIDING_CLASSES: &[&str] = &[
    "hidden",
    "invisible",
    "is-hidden",
    "visually-hidden",
    "visuallyhidden",
    "sr-only",
    "screen-reader-text",
    "screenreader-only",
    "element-invisible",
];

/// Judges an element by the words in its class and id (split at `-`, `_`, spaces and
/// lower-to-upper case changes: `relatedStories` → related, stories). `can_be_layout` is false
/// for headings and paragraphs, which are never page regions whatever their class.
pub(super) fn verdict(class: Option<&str>, id: Option<&str>, can_be_layout: bool) -> ClassVerdict {
    let mut strong = false;
    let mut weak = false;
    let mut layout = false;
    let mut content = false;
    let labels_a_post = class
        .into_iter()
        .flat_map(str::split_whitespace)
        .any(|token| token == "hentry" || token.starts_with("type-") || token.starts_with("status-"));
    for token in class.into_iter().chain(id).flat_map(str::split_whitespace) {
        if labels_a_post && is_taxonomy_label(token) {
            continue;
        }
        if HIDING_CLASSES.iter().any(|hiding| token.eq_ignore_ascii_case(hiding)) {
            strong = true;
        }
        for word in class_words(token) {
            let word = word.as_str();
            strong |= BOILERPLATE_WORDS.contains(&word);
            weak |= WEAK_BOILERPLATE_WORDS.contains(&word);
            layout |= can_be_layout && LAYOUT_WORDS.contains(&word);
            content |= CONTENT_WORDS.contains(&word);
        }
    }
    if strong {
        ClassVerdict::Boilerplate
    } else if weak && !content {
        ClassVerdict::WeakBoilerplate
    } else if layout {
        ClassVerdict::Layout
    } else {
        ClassVerdict::Neutral
    }
}

/// Blog platforms label a post's element (`hentry`, `type-post`, `status-publish`) with its
/// taxonomy too (`category-comments`, `tag-related`, `author-jane`): those words name the
/// post's topics and people, not what the block is.
fn is_taxonomy_label(token: &str) -> bool {
    const PREFIXES: &[&str] = &["category-", "tag-", "author-", "format-", "status-", "type-"];
    let lower = token.to_ascii_lowercase();
    PREFIXES.iter().any(|prefix| lower.starts_with(prefix) && lower.len() > prefix.len())
}

/// The lower-case words of one class name: split at non-alphanumerics and where a lower-case
/// letter or digit is followed by an upper-case one.
fn class_words(token: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for character in token.chars() {
        if !character.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if character.is_ascii_uppercase() && previous_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = character.is_ascii_lowercase() || character.is_ascii_digit();
        current.push(character.to_ascii_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_split_into_words() {
        assert_eq!(class_words("relatedStories"), ["related", "stories"]);
        assert_eq!(class_words("c-entry-content"), ["c", "entry", "content"]);
        assert_eq!(class_words("ArticlePage-mainContent"), ["article", "page", "main", "content"]);
        assert_eq!(class_words("ad_body"), ["ad", "body"]);
    }

    #[test]
    fn weak_words_beside_a_content_word_do_not_mark_boilerplate() {
        assert_eq!(verdict(Some("ad_body"), None, true), ClassVerdict::Neutral);
        assert_eq!(verdict(Some("box article modal-enabled"), None, true), ClassVerdict::Neutral);
        assert_eq!(verdict(Some("article-body pagination-first"), None, true), ClassVerdict::Neutral);
        assert_eq!(verdict(Some("ad-slot"), None, true), ClassVerdict::WeakBoilerplate);
        assert_eq!(verdict(Some("widget Blog"), Some("Blog1"), true), ClassVerdict::Neutral);
    }

    #[test]
    fn strong_words_stay_boilerplate_beside_content_words() {
        assert_eq!(verdict(Some("comment-body"), None, true), ClassVerdict::Boilerplate);
        assert_eq!(verdict(Some("entry-meta"), None, true), ClassVerdict::Boilerplate);
        assert_eq!(verdict(None, Some("relatedPosts"), true), ClassVerdict::Boilerplate);
        assert_eq!(verdict(Some("author-bio"), None, true), ClassVerdict::Boilerplate);
    }

    #[test]
    fn taxonomy_labels_of_a_post_say_nothing_about_the_block() {
        let post = "post-7 post type-post status-publish format-standard hentry category-comments tag-related author-jane";
        assert_eq!(verdict(Some(post), None, true), ClassVerdict::Neutral);
        assert_eq!(verdict(Some("author-bio"), None, true), ClassVerdict::Boilerplate);
    }

    #[test]
    fn hiding_classes_match_whole_names_only() {
        assert_eq!(verdict(Some("sr-only"), None, true), ClassVerdict::Boilerplate);
        assert_eq!(verdict(Some("hidden"), None, true), ClassVerdict::Boilerplate);
        assert_eq!(verdict(Some("hidden-xs"), None, true), ClassVerdict::Neutral);
        assert_eq!(
            verdict(Some("field field-name-body field-label-hidden"), None, true),
            ClassVerdict::Neutral
        );
    }

    #[test]
    fn layout_words_only_mark_regions() {
        assert_eq!(verdict(Some("site-footer"), None, true), ClassVerdict::Layout);
        assert_eq!(verdict(Some("card-header"), None, false), ClassVerdict::Neutral);
    }

    #[test]
    fn story_bodies_are_named_by_a_story_word_and_a_body_word() {
        for name in ["entry-content", "article-body", "storyText", "articlebody", "td-post-content", "RichTextArticleBody"] {
            assert!(names_story_body(Some(name), None), "{name}");
        }
        for name in ["card-body", "content", "modal-body", "card-text", "field-name-body"] {
            assert!(!names_story_body(Some(name), None), "{name}");
        }
    }
}
