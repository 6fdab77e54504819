//! Input: turns what the user hands us (a file path, or `-` for standard input) into one clean
//! [`Document`].
//!
//! This module owns everything between raw bytes and article text: reading with a size limit,
//! refusing binary data, decoding (UTF-8, UTF-16 with a BOM, Windows-1252 as a fallback),
//! telling plain text, Markdown and HTML apart, and extracting the readable main text from each.
//! It must not know about sentences, tokens or models: `Document.text` is plain prose with
//! paragraphs separated by one blank line (`"\n\n"`), and nothing else.
//!
//! It never panics on any input: every failure is an [`InputError`] that names the input, says
//! what is wrong and what to do about it.

mod class_names;
pub mod decode;
mod detect;
mod fragment;
mod html;
mod markdown;
mod nesting_guard;
mod plain;

use std::fmt;
use std::io::{self, Read};
use std::path::Path;

pub use detect::detect_format;

/// Inputs larger than this are refused before they are read into memory.
pub const MAX_INPUT_BYTES: usize = 50 * 1024 * 1024;

/// The argument that means "read standard input".
pub const STDIN_ARG: &str = "-";

/// What kind of markup the input was written in; decides how its text is extracted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceFormat {
    Text,
    Markdown,
    Html,
}

impl SourceFormat {
    /// Lower-case name, as used in messages and JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceFormat::Text => "text",
            SourceFormat::Markdown => "markdown",
            SourceFormat::Html => "html",
        }
    }
}

impl fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One article, ready for the text pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Stable identifier: the path as given, or `"stdin"`.
    pub id: String,
    /// Headline, when the input carries one (HTML `og:title`/`<title>`/`<h1>`, the first
    /// Markdown `# ` heading, or a headline-like first line of plain text). Never repeated
    /// as the first paragraph of `text`.
    pub title: Option<String>,
    /// Extracted main text: paragraphs of single-spaced prose separated by exactly one blank
    /// line (`"\n\n"`); no leading or trailing whitespace, never empty.
    pub text: String,
    /// Where it came from: the path as given, or `"-"` for standard input.
    pub origin: String,
    /// The format the text was extracted as.
    pub format: SourceFormat,
    /// Things the user should know but that did not stop us (e.g. a non-UTF-8 decode).
    pub warnings: Vec<String>,
}

/// Why an input could not become a [`Document`]. Each message names the input, says what is
/// wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The path does not exist.
    #[error("input file {path} not found; check the path, or pass \"-\" to read standard input")]
    NotFound { path: String },

    /// The input exists but cannot be read: a directory, no permission, an I/O failure.
    // The io error is part of the message rather than a `#[source]`, so that printing the
    // error chain does not repeat it.
    #[error(
        "cannot read input {input}: {error}; pass a readable file, or \"-\" for standard input"
    )]
    Unreadable { input: String, error: io::Error },

    /// Larger than [`MAX_INPUT_BYTES`]; refused before it is read into memory.
    #[error(
        "input {input} is too large: at least {size} bytes, and precis reads at most {limit} bytes \
         ({} MiB); pass only the article text, or split the file",
        .limit / (1024 * 1024)
    )]
    TooLarge {
        input: String,
        size: u64,
        limit: usize,
    },

    /// A known binary format (PDF, ZIP/DOCX, image, archive, …), NUL bytes, or many control
    /// characters. `kind` says which, `hint` what to do.
    #[error(
        "input {input} looks like {kind}, not text; precis reads plain text, Markdown or HTML: {hint}"
    )]
    Binary {
        input: String,
        kind: String,
        hint: String,
    },

    /// Neither UTF-8 (nor UTF-16 with a byte-order mark) nor plausible Windows-1252 text.
    #[error(
        "input {input} is not valid UTF-8 and does not look like Windows-1252 text either; \
         convert it to UTF-8 first (e.g. `iconv -f ITS-ENCODING -t UTF-8 FILE`)"
    )]
    Undecodable { input: String },

    /// It declares (or is in) an encoding precis cannot decode.
    #[error(
        "input {input} is in the encoding {label:?}, which precis cannot decode; \
         convert it to UTF-8 first (e.g. `iconv -f {label} -t UTF-8 FILE`)"
    )]
    UnknownEncoding { input: String, label: String },

    /// Empty, whitespace only, or no readable text after extraction (e.g. an HTML page of
    /// scripts and navigation).
    #[error("input {input} has no text to summarize: {reason}; pass a file that contains the article text")]
    Empty { input: String, reason: String },
}

/// Reads and extracts one document. `arg` is a file path, or `"-"` for standard input.
pub fn read_document(arg: &str) -> Result<Document, InputError> {
    let bytes = if arg == STDIN_ARG {
        read_limited(io::stdin().lock(), arg)?
    } else {
        read_file(arg)?
    };
    document_from_bytes(arg, &bytes)
}

/// Builds a document from bytes already in memory. `origin` is the path they came from, or
/// `"-"` for standard input; its extension is used as a hint for the format.
pub fn document_from_bytes(origin: &str, bytes: &[u8]) -> Result<Document, InputError> {
    document_from_download(origin, bytes, None)
}

/// Builds a document from bytes downloaded with `http_charset` (the `Content-Type` charset),
/// which decides their encoding before anything the bytes declare themselves.
pub fn document_from_download(
    origin: &str,
    bytes: &[u8],
    http_charset: Option<&str>,
) -> Result<Document, InputError> {
    let input_name = display_name(origin);
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge {
            input: input_name,
            size: bytes.len() as u64,
            limit: MAX_INPUT_BYTES,
        });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        let reason = if bytes.is_empty() {
            "it is empty"
        } else {
            "it contains only whitespace"
        };
        return Err(empty(&input_name, reason));
    }

    let decoded = decode::decode_with_charset(&input_name, bytes, http_charset)?;
    let format = detect_format(origin, &decoded.text);
    extract_document(origin, &decoded.text, format, decoded.warnings)
}

/// Builds a document from a feed item's content, in the format the feed gives (HTML, or
/// plain text that must not be read as markup): read whole, with no main-text selection and
/// no headline taken from it (`fragment`).
pub fn document_from_content(
    origin: &str,
    content: &str,
    format: SourceFormat,
) -> Result<Document, InputError> {
    let input_name = display_name(origin);
    if content.trim().is_empty() {
        return Err(empty(&input_name, "it contains only whitespace"));
    }
    let extracted = match format {
        SourceFormat::Html => fragment::extract_html(&input_name, content),
        SourceFormat::Text | SourceFormat::Markdown => fragment::extract_text(content),
    };
    finish_document(origin, format, extracted, Vec::new())
}

fn extract_document(
    origin: &str,
    raw_text: &str,
    format: SourceFormat,
    warnings: Vec<String>,
) -> Result<Document, InputError> {
    let input_name = display_name(origin);
    if raw_text.trim().is_empty() {
        return Err(empty(&input_name, "it contains only whitespace"));
    }
    let extracted = match format {
        SourceFormat::Text => plain::extract(raw_text),
        SourceFormat::Markdown => markdown::extract(raw_text),
        SourceFormat::Html => html::extract(&input_name, raw_text),
    };
    finish_document(origin, format, extracted, warnings)
}

fn finish_document(
    origin: &str,
    format: SourceFormat,
    extracted: Extracted,
    mut warnings: Vec<String>,
) -> Result<Document, InputError> {
    let input_name = display_name(origin);
    warnings.extend(extracted.warnings);

    let text = extracted.paragraphs.join("\n\n");
    if text.is_empty() {
        let reason = match format {
            SourceFormat::Html => "no readable text found in the HTML",
            SourceFormat::Markdown => "it contains only Markdown markup (headings, code, links)",
            SourceFormat::Text => "no text found",
        };
        return Err(empty(&input_name, reason));
    }

    Ok(Document {
        id: if origin == STDIN_ARG {
            "stdin".to_string()
        } else {
            origin.to_string()
        },
        title: extracted.title,
        text,
        origin: origin.to_string(),
        format,
        warnings,
    })
}

/// What a format-specific extractor hands back. Paragraphs are already normalized
/// (single-spaced, trimmed, non-empty).
#[derive(Debug, Default)]
struct Extracted {
    title: Option<String>,
    paragraphs: Vec<String>,
    warnings: Vec<String>,
}

/// How an input is named in messages: the path, or "standard input".
fn display_name(origin: &str) -> String {
    if origin == STDIN_ARG {
        "<standard input>".to_string()
    } else {
        origin.to_string()
    }
}

fn empty(input_name: &str, reason: &str) -> InputError {
    InputError::Empty {
        input: input_name.to_string(),
        reason: reason.to_string(),
    }
}

fn read_file(path: &str) -> Result<Vec<u8>, InputError> {
    let unreadable = |error: io::Error| InputError::Unreadable {
        input: path.to_string(),
        error,
    };
    let metadata = std::fs::metadata(Path::new(path)).map_err(|error| {
        if error.kind() == io::ErrorKind::NotFound {
            InputError::NotFound {
                path: path.to_string(),
            }
        } else {
            unreadable(error)
        }
    })?;
    if metadata.is_dir() {
        return Err(unreadable(io::Error::other(
            "it is a directory, and precis reads one file per argument",
        )));
    }
    // Checked before reading so a huge file is refused without loading it. Special files
    // (pipes, /dev/stdin) report 0 here; `read_limited` still enforces the limit for them.
    if metadata.len() > MAX_INPUT_BYTES as u64 {
        return Err(InputError::TooLarge {
            input: path.to_string(),
            size: metadata.len(),
            limit: MAX_INPUT_BYTES,
        });
    }
    let file = std::fs::File::open(path).map_err(unreadable)?;
    read_limited(file, path)
}

/// Reads at most one byte more than the limit, so an endless or oversized stream is refused
/// without being held in memory.
fn read_limited(reader: impl Read, origin: &str) -> Result<Vec<u8>, InputError> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_INPUT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| InputError::Unreadable {
            input: display_name(origin),
            error,
        })?;
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge {
            input: display_name(origin),
            size: bytes.len() as u64,
            limit: MAX_INPUT_BYTES,
        });
    }
    Ok(bytes)
}

/// Collapses every run of whitespace to one space, drops invisible characters (zero-width
/// spaces, soft hyphens, control characters) and trims. Every extractor ends each paragraph
/// with this, so `Document.text` has one shape whatever the source format.
fn normalize_paragraph(raw: &str) -> String {
    let mut normalized = String::with_capacity(raw.len());
    let mut pending_space = false;
    for character in raw.chars() {
        if character.is_whitespace() {
            pending_space = true;
            continue;
        }
        if is_invisible(character) {
            continue;
        }
        if pending_space && !normalized.is_empty() {
            normalized.push(' ');
        }
        pending_space = false;
        normalized.push(character);
    }
    normalized
}

fn is_invisible(character: char) -> bool {
    matches!(
        character,
        '\u{00AD}' | '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'
    ) || character.is_control()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn scratch_dir(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("precis-input-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn reads_a_plain_text_file_by_path() {
        let dir = scratch_dir("plain");
        let path = dir.join("story.txt");
        std::fs::write(&path, "First paragraph here.\n\nSecond paragraph here.\n").unwrap();
        let path_arg = path.to_str().unwrap();
        let document = read_document(path_arg).unwrap();
        assert_eq!(document.id, path_arg);
        assert_eq!(document.origin, path_arg);
        assert_eq!(document.format, SourceFormat::Text);
        assert_eq!(
            document.text,
            "First paragraph here.\n\nSecond paragraph here."
        );
        assert!(document.warnings.is_empty());
    }

    #[test]
    fn stdin_origin_gives_stdin_id() {
        let document = document_from_bytes("-", b"Some text from a pipe.").unwrap();
        assert_eq!(document.id, "stdin");
        assert_eq!(document.origin, "-");
    }

    #[test]
    fn missing_file_is_not_found_and_says_what_to_do() {
        let error = read_document("/definitely/not/here/story.txt").unwrap_err();
        assert!(
            matches!(&error, InputError::NotFound { path } if path == "/definitely/not/here/story.txt")
        );
        let message = error.to_string();
        assert!(
            message.contains("/definitely/not/here/story.txt"),
            "{message}"
        );
        assert!(message.contains("check the path"), "{message}");
    }

    #[test]
    fn directory_is_unreadable() {
        let dir = scratch_dir("dir");
        let error = read_document(dir.to_str().unwrap()).unwrap_err();
        assert!(matches!(error, InputError::Unreadable { .. }), "{error:?}");
        assert!(error.to_string().contains("directory"), "{error}");
    }

    #[test]
    fn permission_denied_is_unreadable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch_dir("perm");
        let path = dir.join("secret.txt");
        std::fs::write(&path, "text").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
        let result = read_document(path.to_str().unwrap());
        // Root may read anything; the check only means something for ordinary users.
        if std::fs::File::open(&path).is_err() {
            assert!(
                matches!(result, Err(InputError::Unreadable { .. })),
                "{result:?}"
            );
        }
    }

    #[test]
    fn oversized_input_is_too_large() {
        let dir = scratch_dir("large");
        let path = dir.join("huge.txt");
        let mut file = std::fs::File::create(&path).unwrap();
        // A sparse file: the size check must refuse it without reading it.
        file.set_len(MAX_INPUT_BYTES as u64 + 10).unwrap();
        file.flush().unwrap();
        let error = read_document(path.to_str().unwrap()).unwrap_err();
        assert!(
            matches!(error, InputError::TooLarge { size, .. } if size == MAX_INPUT_BYTES as u64 + 10)
        );
        assert!(error.to_string().contains("(50 MiB)"), "{error}");

        let stream = std::io::repeat(b'a');
        let error = read_limited(stream, "-").unwrap_err();
        assert!(matches!(error, InputError::TooLarge { .. }));
        assert!(error.to_string().contains("standard input"), "{error}");
    }

    #[test]
    fn empty_and_whitespace_only_inputs_are_empty() {
        for bytes in [&b""[..], b"   \n\t\r\n  ", b"\xEF\xBB\xBF  \n"] {
            let error = document_from_bytes("blank.txt", bytes).unwrap_err();
            assert!(
                matches!(error, InputError::Empty { .. }),
                "{bytes:?}: {error:?}"
            );
            assert!(error.to_string().contains("blank.txt"));
        }
    }

    #[test]
    fn html_without_readable_text_is_empty() {
        let page = "<!doctype html><html><head><title>x</title><script>var a = 1;</script></head>\
                    <body><nav><a href='/'>Home</a></nav><img src='a.png'></body></html>";
        let error = document_from_bytes("page.html", page.as_bytes()).unwrap_err();
        assert!(matches!(error, InputError::Empty { .. }), "{error:?}");
        assert!(error.to_string().contains("no readable text"), "{error}");
    }

    #[test]
    fn markdown_with_only_markup_is_empty() {
        let error = document_from_bytes("notes.md", b"```\ncode only\n```\n").unwrap_err();
        assert!(matches!(error, InputError::Empty { .. }), "{error:?}");
    }

    #[test]
    fn binary_inputs_are_refused_with_a_hint() {
        let error =
            document_from_bytes("report.pdf", b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj").unwrap_err();
        assert!(matches!(&error, InputError::Binary { kind, .. } if kind.contains("PDF")));
        assert!(error.to_string().contains("pdftotext"), "{error}");
        assert!(error.to_string().contains("report.pdf"), "{error}");
    }

    #[test]
    fn utf8_bom_is_stripped() {
        let document = document_from_bytes("bom.txt", "\u{FEFF}Hello there.\n".as_bytes()).unwrap();
        assert_eq!(document.text, "Hello there.");
        assert!(document.warnings.is_empty());
    }

    #[test]
    fn windows_1252_is_decoded_with_a_warning() {
        // "Café costs €5 – “cheap”" in Windows-1252.
        let bytes = b"Caf\xE9 costs \x805 \x96 \x93cheap\x94.";
        let document = document_from_bytes("old.txt", bytes).unwrap();
        assert_eq!(document.text, "Café costs €5 – “cheap”.");
        assert_eq!(document.warnings.len(), 1);
        assert!(
            document.warnings[0].contains("old.txt"),
            "{:?}",
            document.warnings
        );
        assert!(
            document.warnings[0].contains("Windows-1252"),
            "{:?}",
            document.warnings
        );
    }

    #[test]
    fn paragraphs_are_separated_by_one_blank_line() {
        let document =
            document_from_bytes("x.txt", b"One  two\nthree.\n\n\n\nFour.\r\n\r\nFive.").unwrap();
        assert_eq!(document.text, "One two three.\n\nFour.\n\nFive.");
    }

    #[test]
    fn normalize_paragraph_collapses_and_drops_invisibles() {
        assert_eq!(
            normalize_paragraph("  a\u{00A0}\u{00A0}b\u{200B}c\tsoft\u{00AD}ware \n"),
            "a bc software"
        );
    }

    #[test]
    fn html_sample_keeps_the_article_and_drops_the_page_furniture() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/sodium-battery-study.html");
        let path = if path.is_file() {
            path
        } else {
            Path::new("/work/main/samples/sodium-battery-study.html").to_path_buf()
        };
        let Ok(bytes) = std::fs::read(&path) else {
            return;
        };
        let document = document_from_bytes("sodium-battery-study.html", &bytes).unwrap();
        assert_eq!(document.format, SourceFormat::Html);
        assert_eq!(
            document.title.as_deref(),
            Some("Sodium Battery Survives 5,000 Charge Cycles in Lab Test, Researchers Say")
        );
        assert!(document
            .text
            .starts_with("HALVERSTON, Mass. — A team of engineers"));
        assert!(document
            .text
            .ends_with("“Now we have to show that engineering can.”"));
        for furniture in [
            "cookies",
            "Science & Tech",
            "Nora Whitlock",
            "Facebook",
            "Courier photo",
            "Advertisement",
            "adQueue",
            "Related coverage",
            "Lithium prices fall",
            "Batteries",
            "miracle battery",
            "Most read",
            "Morning Brief",
            "All rights reserved",
            "analytics",
        ] {
            assert!(
                !document.text.contains(furniture),
                "{furniture:?} leaked into the text"
            );
        }
    }

    #[test]
    fn reads_the_real_samples() {
        let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
        let samples = if samples.is_dir() {
            samples
        } else {
            Path::new("/work/main/samples").to_path_buf()
        };
        let Ok(entries) = std::fs::read_dir(&samples) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.file_name().and_then(|name| name.to_str()) == Some("README.md") {
                continue;
            }
            let Some(path_arg) = path.to_str() else {
                continue;
            };
            let document = read_document(path_arg).unwrap_or_else(|error| panic!("{error}"));
            assert!(
                document.text.split_whitespace().count() > 300,
                "{path_arg}: too little text"
            );
            assert!(
                document.warnings.is_empty(),
                "{path_arg}: {:?}",
                document.warnings
            );
        }
    }
}
