//! One thing to summarize, as an input describes it: the types every other batch module
//! shares (`sources` and `feeds` make items, `plan` turns them into work).
//!
//! It holds data only; it must not read inputs or decide what to do with an item.

/// One item of a batch, with what its source says about it.
#[derive(Debug, Clone, Default)]
pub struct BatchItem {
    /// The guid / id given by the source, if any.
    pub id: Option<String>,
    pub link: Option<String>,
    /// The original title.
    pub title: Option<String>,
    /// The publication date as the source wrote it.
    pub published: Option<String>,
    /// Where it is, for messages and records: "news.rss item 3 (line 40, column 5)", "a.jsonl line 7".
    pub source: String,
    pub body: ItemBody,
    /// What the reader of its record should know about how it was read (a feed's repaired
    /// markup or guessed encoding, a content field that could not be used).
    pub warnings: Vec<String>,
}

/// What an item carries to summarize.
#[derive(Debug, Clone)]
pub enum ItemBody {
    /// A feed item's HTML content: the article's text already, read whole.
    ContentHtml(String),
    /// A feed item's plain-text content (Atom `type="text"`, JSON Feed `content_text`): read
    /// whole, and never as markup.
    ContentText(String),
    /// An HTML page or fragment (JSONL `html`): its main text is extracted.
    Html(String),
    /// Text whose format (plain, Markdown, HTML) is told by its content (JSONL `text`).
    Text(String),
    /// A whole article file: bytes and its path (whose extension hints the format).
    File { path: String, bytes: Vec<u8> },
    /// Only a link to the article: it must be downloaded (`--fetch`) to be summarized.
    LinkOnly(String),
    /// Nothing to summarize (a title only, an image only); recorded as skipped with this reason.
    Nothing(String),
    /// The source entry could not be read; the item is recorded as failed with this reason.
    Invalid(String),
}

impl Default for ItemBody {
    fn default() -> Self {
        ItemBody::Invalid(String::new())
    }
}
