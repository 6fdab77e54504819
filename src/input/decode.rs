//! Bytes → text: refuses binary data and decides the encoding the way feed readers and
//! browsers do, then decodes.
//!
//! Order: a byte-order mark (UTF-8, UTF-16, UTF-32) wins; then an XML document's UTF-16 or
//! UTF-32 shape without a mark (its first characters are ASCII with zero bytes between); then
//! the binary checks; then the declared encoding — the HTTP `charset` when the bytes were
//! downloaded, else the XML declaration's `encoding`, else an HTML `<meta charset>` — decoded
//! with `encoding_rs` (WHATWG labels, so ISO-8859-1 is read as its superset Windows-1252);
//! without a declaration, UTF-8; UTF-8 with a few stray bytes is decoded lossily; anything
//! else that still looks like Western text is decoded as Windows-1252; the rest is refused.
//!
//! One correction of a declaration is made, with a warning: bytes that are valid UTF-8 and not
//! plain ASCII are read as UTF-8 whatever 8-bit encoding they declare (mislabelled UTF-8 is
//! common, and Latin-1 text that happens to be valid UTF-8 is not). Every guess or repair
//! is a warning; this module never decides silently that the input is other than it says.

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252};

use super::InputError;

/// Text decoded from bytes, the encoding it was read in, and what the reader should know.
#[derive(Debug)]
pub struct Decoded {
    pub text: String,
    /// The encoding's name ("UTF-8", "windows-1252", "UTF-16LE", "UTF-32BE", …).
    pub encoding: &'static str,
    pub warnings: Vec<String>,
}

/// How much of the start of the input is sampled for the share of control characters.
const CONTROL_SAMPLE_BYTES: usize = 64 * 1024;
/// More control characters than this share of the sample means binary data. Text has almost
/// none besides tab, newline, carriage return and form feed.
const MAX_CONTROL_SHARE: f64 = 0.05;
/// Western-European text in Windows-1252 has a small share of bytes ≥ 0x80 (accents, curly
/// quotes); Cyrillic, Greek or random data has far more. Above this we refuse to guess.
const MAX_HIGH_BYTE_SHARE_FOR_CP1252: f64 = 0.30;
/// An XML declaration or an HTML `<meta charset>` is looked for in this many leading bytes
/// (the HTML standard's prescan reads 1024).
const DECLARATION_SCAN_BYTES: usize = 1024;

/// Decodes an input that came with no transport information (a file, standard input).
pub fn decode(input_name: &str, bytes: &[u8]) -> Result<Decoded, InputError> {
    decode_with_charset(input_name, bytes, None)
}

/// Decodes an input; `http_charset` is the `charset` parameter of the `Content-Type` it was
/// served with, when it was downloaded.
pub fn decode_with_charset(input_name: &str, bytes: &[u8], http_charset: Option<&str>) -> Result<Decoded, InputError> {
    if let Some(decoded) = decode_unicode_by_shape(input_name, bytes) {
        return Ok(decoded);
    }
    if bytes.starts_with(b"\x4C\x6F\xA7\x94") {
        return Err(InputError::UnknownEncoding { input: input_name.to_string(), label: "EBCDIC".to_string() });
    }
    let (bytes, has_utf8_bom) = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => (rest, true),
        None => (bytes, false),
    };
    refuse_binary(input_name, bytes)?;

    let declared = declared_encoding(bytes, http_charset);
    let mut warnings = Vec::new();
    if has_utf8_bom {
        if let Some(declaration) = declared.as_ref().filter(|d| d.encoding != Some(UTF_8)) {
            warnings.push(format!("{input_name} declares the encoding {:?} {} but starts with a UTF-8 byte-order mark; read as UTF-8", declaration.label, declaration.place));
        }
        return Ok(utf8_or_lossy(input_name, bytes, warnings));
    }
    let valid_utf8 = std::str::from_utf8(bytes).is_ok();
    match declared {
        Some(Declaration { encoding: Some(encoding), .. }) if encoding == UTF_8 => Ok(utf8_or_lossy(input_name, bytes, warnings)),
        Some(Declaration { encoding: Some(encoding), label, place }) => {
            if valid_utf8 && !bytes.is_ascii() && encoding.is_ascii_compatible() {
                warnings.push(format!("{input_name} declares the encoding {label:?} {place}, but its bytes are valid UTF-8; read as UTF-8"));
                return Ok(utf8_or_lossy(input_name, bytes, warnings));
            }
            let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
            if had_errors {
                warnings.push(format!("{input_name} is not valid {} (declared {place}): invalid byte sequences were replaced with \u{FFFD}", encoding.name()));
            }
            Ok(Decoded { text: text.into_owned(), encoding: encoding.name(), warnings })
        }
        Some(Declaration { encoding: None, label, place }) => {
            if bytes.is_ascii() {
                // Every ASCII-compatible encoding reads ASCII the same; the label changes nothing.
                return Ok(utf8_or_lossy(input_name, bytes, warnings));
            }
            if valid_utf8 {
                warnings.push(format!("{input_name} declares the encoding {label:?} {place}, which precis does not know; its bytes are valid UTF-8, so it was read as UTF-8"));
                return Ok(utf8_or_lossy(input_name, bytes, warnings));
            }
            Err(InputError::UnknownEncoding { input: input_name.to_string(), label })
        }
        None => undeclared(input_name, bytes),
    }
}

/// The `charset` parameter of a `Content-Type` header value (`text/xml; charset="utf-8"`).
pub fn charset_of_content_type(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        let value = value.trim().trim_matches('"').trim();
        (name.trim().eq_ignore_ascii_case("charset") && !value.is_empty()).then(|| value.to_string())
    })
}

/// An encoding declared for the bytes: its label as written, what it names (None when
/// `encoding_rs` does not know it) and where it was declared (for messages).
struct Declaration {
    label: String,
    encoding: Option<&'static Encoding>,
    place: &'static str,
}

fn declared_encoding(bytes: &[u8], http_charset: Option<&str>) -> Option<Declaration> {
    let declare = |label: &str, place: &'static str| {
        let label = label.trim().trim_matches(|c| c == '"' || c == '\'').to_string();
        // A UTF-16/UTF-32 label on bytes that are not (they would have been caught by their
        // shape) is a leftover from a conversion: the bytes say what they are.
        let lower = label.to_ascii_lowercase();
        if lower.starts_with("utf-16") || lower.starts_with("utf-32") || lower.starts_with("ucs-") || lower == "unicode" {
            return None;
        }
        (!label.is_empty()).then(|| Declaration { encoding: Encoding::for_label(label.as_bytes()), label, place })
    };
    if let Some(declaration) = http_charset.and_then(|charset| declare(charset, "by the server (HTTP charset)")) {
        return Some(declaration);
    }
    let head = &bytes[..bytes.len().min(DECLARATION_SCAN_BYTES)];
    if let Some(label) = xml_declaration_encoding(head) {
        return declare(&label, "in its XML declaration");
    }
    html_meta_charset(head).and_then(|label| declare(&label, "in its <meta> tag"))
}

/// The `encoding` pseudo-attribute of an XML declaration at the start (after whitespace).
pub fn xml_declaration_encoding(head: &[u8]) -> Option<String> {
    let start = head.iter().position(|b| !b.is_ascii_whitespace())?;
    let declaration = head[start..].strip_prefix(b"<?xml")?;
    let end = find(declaration, b"?>")?;
    let declaration = String::from_utf8_lossy(&declaration[..end]).into_owned();
    pseudo_attribute(&declaration, "encoding")
}

/// `name="value"` or `name='value'` in a declaration.
fn pseudo_attribute(text: &str, name: &str) -> Option<String> {
    let mut rest = text;
    while let Some(at) = rest.find(name) {
        let after = rest[at + name.len()..].trim_start();
        if let Some(after) = after.strip_prefix('=') {
            let after = after.trim_start();
            let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
            let value = &after[1..];
            return value.find(quote).map(|end| value[..end].to_string());
        }
        rest = &rest[at + name.len()..];
    }
    None
}

/// The charset of the first `<meta charset=…>` or `<meta http-equiv content="…; charset=…">`.
fn html_meta_charset(head: &[u8]) -> Option<String> {
    let lower = String::from_utf8_lossy(head).to_ascii_lowercase();
    let mut rest = lower.as_str();
    while let Some(at) = rest.find("<meta") {
        let tag = &rest[at..];
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        if let Some(position) = tag.find("charset") {
            let value = tag[position + "charset".len()..].trim_start();
            if let Some(value) = value.strip_prefix('=') {
                let value = value.trim_start().trim_start_matches(['"', '\'']);
                let end = value.find(|c: char| c == '"' || c == '\'' || c == ';' || c == '/' || c.is_whitespace()).unwrap_or(value.len());
                if end > 0 {
                    return Some(value[..end].to_string());
                }
            }
        }
        rest = &rest[at + "<meta".len()..];
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// UTF-8 as is, or lossily with a warning when a few bytes are broken.
fn utf8_or_lossy(input_name: &str, bytes: &[u8], mut warnings: Vec<String>) -> Decoded {
    match std::str::from_utf8(bytes) {
        Ok(text) => Decoded { text: text.to_string(), encoding: UTF_8.name(), warnings },
        Err(_) => {
            let census = Utf8Census::of(bytes);
            warnings.push(format!("{input_name} is not valid UTF-8: {} invalid byte sequence(s) were replaced with \u{FFFD}", census.invalid_sequences));
            Decoded { text: String::from_utf8_lossy(bytes).into_owned(), encoding: UTF_8.name(), warnings }
        }
    }
}

/// No declaration: UTF-8, mostly-UTF-8 (lossy), or Western text in Windows-1252; else refused.
fn undeclared(input_name: &str, bytes: &[u8]) -> Result<Decoded, InputError> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(Decoded { text: text.to_string(), encoding: UTF_8.name(), warnings: Vec::new() });
    }
    let census = Utf8Census::of(bytes);
    // Mostly-UTF-8 with a few broken bytes (a truncated download, a pasted fragment): decoding
    // it all as Windows-1252 would garble every correct accent, so keep UTF-8.
    if census.valid_multibyte_chars > census.invalid_sequences {
        return Ok(utf8_or_lossy(input_name, bytes, Vec::new()));
    }
    let high_bytes = bytes.iter().filter(|&&byte| byte >= 0x80).count();
    let undefined_in_cp1252 = bytes.iter().filter(|&&byte| is_undefined_in_cp1252(byte)).count();
    let looks_western = (high_bytes as f64) <= MAX_HIGH_BYTE_SHARE_FOR_CP1252 * bytes.len() as f64 && undefined_in_cp1252 * 100 <= high_bytes.max(1);
    if !looks_western {
        return Err(InputError::Undecodable { input: input_name.to_string() });
    }
    let (text, _) = WINDOWS_1252.decode_without_bom_handling(bytes);
    let warning = format!("{input_name} is not valid UTF-8 and declares no encoding; decoded as Windows-1252 (Latin-1). If characters look wrong, convert it to UTF-8 first");
    Ok(Decoded { text: text.into_owned(), encoding: WINDOWS_1252.name(), warnings: vec![warning] })
}

/// The five byte values Windows-1252 leaves undefined.
fn is_undefined_in_cp1252(byte: u8) -> bool {
    matches!(byte, 0x81 | 0x8D | 0x8F | 0x90 | 0x9D)
}

/// UTF-16 or UTF-32 told by a byte-order mark, or by the shape of the first characters when
/// they are ASCII (as in `<?xml` or `<rss`): zero bytes beside each of them.
fn decode_unicode_by_shape(input_name: &str, bytes: &[u8]) -> Option<Decoded> {
    #[derive(Clone, Copy)]
    enum Form {
        Utf16(&'static Encoding),
        Utf32 { big_endian: bool },
    }
    let (form, skip) = if bytes.starts_with(b"\x00\x00\xFE\xFF") {
        (Form::Utf32 { big_endian: true }, 4)
    } else if bytes.starts_with(b"\xFF\xFE\x00\x00") {
        (Form::Utf32 { big_endian: false }, 4)
    } else if bytes.starts_with(b"\xFE\xFF") {
        (Form::Utf16(UTF_16BE), 2)
    } else if bytes.starts_with(b"\xFF\xFE") {
        (Form::Utf16(UTF_16LE), 2)
    } else if ascii_shape(bytes, 4, 3) {
        (Form::Utf32 { big_endian: true }, 0)
    } else if ascii_shape(bytes, 4, 0) {
        (Form::Utf32 { big_endian: false }, 0)
    } else if ascii_shape(bytes, 2, 1) {
        (Form::Utf16(UTF_16BE), 0)
    } else if ascii_shape(bytes, 2, 0) {
        (Form::Utf16(UTF_16LE), 0)
    } else {
        return None;
    };
    let body = &bytes[skip..];
    let (text, encoding, broken) = match form {
        Form::Utf16(encoding) => {
            let (text, had_errors) = encoding.decode_without_bom_handling(body);
            (text.into_owned(), encoding.name(), had_errors)
        }
        Form::Utf32 { big_endian } => {
            let mut broken = body.len() % 4 != 0;
            let text = body
                .chunks_exact(4)
                .map(|unit| {
                    let unit = [unit[0], unit[1], unit[2], unit[3]];
                    let value = if big_endian { u32::from_be_bytes(unit) } else { u32::from_le_bytes(unit) };
                    char::from_u32(value).unwrap_or_else(|| {
                        broken = true;
                        '\u{FFFD}'
                    })
                })
                .collect();
            (text, if big_endian { "UTF-32BE" } else { "UTF-32LE" }, broken)
        }
    };
    let mut warnings = Vec::new();
    if broken {
        warnings.push(format!("{input_name} is {encoding} with invalid or truncated characters; they were replaced with \u{FFFD}"));
    }
    if skip == 0 {
        warnings.push(format!("{input_name} has no byte-order mark; read as {encoding}, which its first characters are written in"));
    }
    Some(Decoded { text, encoding, warnings })
}

/// True when the first four characters, read as units of `width` bytes, are ASCII text
/// (printable or whitespace, the first one `<`) stored at byte `at` of each unit, with zero
/// bytes elsewhere.
fn ascii_shape(bytes: &[u8], width: usize, at: usize) -> bool {
    if bytes.len() < 4 * width {
        return false;
    }
    bytes[..4 * width].chunks_exact(width).enumerate().all(|(index, unit)| {
        let character = unit[at];
        let printable = character.is_ascii_graphic() || character.is_ascii_whitespace();
        printable && (index > 0 || character == b'<') && unit.iter().enumerate().all(|(position, &byte)| position == at || byte == 0)
    })
}

/// Refuses known binary formats by their signature, then anything with NUL bytes or many
/// control characters.
fn refuse_binary(input_name: &str, bytes: &[u8]) -> Result<(), InputError> {
    let binary = |kind: &str, hint: &str| InputError::Binary { input: input_name.to_string(), kind: kind.to_string(), hint: hint.to_string() };
    if let Some((kind, hint)) = known_signature(bytes) {
        return Err(binary(kind, hint));
    }
    const GENERIC_HINT: &str = "export or convert it to plain text first";
    if bytes.contains(&0) {
        return Err(binary("binary data (it contains NUL bytes)", GENERIC_HINT));
    }
    let sample = &bytes[..bytes.len().min(CONTROL_SAMPLE_BYTES)];
    let control_bytes = sample.iter().filter(|&&byte| is_binary_control(byte)).count();
    if control_bytes > 2 && control_bytes as f64 > MAX_CONTROL_SHARE * sample.len() as f64 {
        return Err(binary("binary data (it is full of control characters)", GENERIC_HINT));
    }
    Ok(())
}

/// Control bytes that do not occur in text. Tab, newline, carriage return, form feed and
/// escape (terminal colours in pasted logs) are allowed.
fn is_binary_control(byte: u8) -> bool {
    matches!(byte, 0x01..=0x08 | 0x0B | 0x0E..=0x1A | 0x1C..=0x1F | 0x7F)
}

fn known_signature(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    const CONVERT_DOCUMENT: &str = "export the document as plain text first";
    const NOT_AN_ARTICLE: &str = "pass the text of an article instead";
    const DECOMPRESS: &str = "decompress it first (e.g. `gzip -dc FILE | precis -`)";
    let signatures: &[(&[u8], &str, &str)] = &[
        (b"%PDF-", "a PDF document", "convert PDFs to text first (e.g. `pdftotext FILE.pdf FILE.txt`)"),
        (b"PK\x03\x04", "a ZIP archive (or a .docx/.odt/.epub document)", CONVERT_DOCUMENT),
        (b"PK\x05\x06", "a ZIP archive", "extract the text files from it first"),
        (b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", "an old Microsoft Office document", CONVERT_DOCUMENT),
        (b"\x89PNG\r\n\x1A\n", "a PNG image", NOT_AN_ARTICLE),
        (b"\xFF\xD8\xFF", "a JPEG image", NOT_AN_ARTICLE),
        (b"GIF87a", "a GIF image", NOT_AN_ARTICLE),
        (b"GIF89a", "a GIF image", NOT_AN_ARTICLE),
        (b"RIFF", "audio, video or image data (RIFF)", NOT_AN_ARTICLE),
        (b"OggS", "Ogg audio or video", NOT_AN_ARTICLE),
        (b"fLaC", "FLAC audio", NOT_AN_ARTICLE),
        (b"\x1F\x8B", "gzip-compressed data", DECOMPRESS),
        (b"\xFD7zXZ\x00", "xz-compressed data", DECOMPRESS),
        (b"\x28\xB5\x2F\xFD", "zstd-compressed data", DECOMPRESS),
        (b"7z\xBC\xAF\x27\x1C", "a 7-Zip archive", "extract the text files from it first"),
        (b"Rar!\x1A\x07", "a RAR archive", "extract the text files from it first"),
        (b"\x7FELF", "an executable program", NOT_AN_ARTICLE),
        (b"SQLite format 3\x00", "an SQLite database", NOT_AN_ARTICLE),
    ];
    if let Some(&(_, kind, hint)) = signatures.iter().find(|(magic, _, _)| bytes.starts_with(magic)) {
        return Some((kind, hint));
    }
    // bzip2 needs its block magic too: "BZh" alone could start a line of text.
    if bytes.len() >= 10 && bytes.starts_with(b"BZh") && bytes[3].is_ascii_digit() && &bytes[4..10] == b"1AY&SY" {
        return Some(("bzip2-compressed data", DECOMPRESS));
    }
    None
}

/// Counts, in input that is not valid UTF-8, how much of it is nevertheless well-formed
/// multi-byte UTF-8 and how many sequences are broken.
struct Utf8Census {
    valid_multibyte_chars: usize,
    invalid_sequences: usize,
}

impl Utf8Census {
    fn of(bytes: &[u8]) -> Self {
        let mut census = Utf8Census { valid_multibyte_chars: 0, invalid_sequences: 0 };
        let mut rest = bytes;
        while !rest.is_empty() {
            match std::str::from_utf8(rest) {
                Ok(valid) => {
                    census.count_valid(valid.as_bytes());
                    break;
                }
                Err(error) => {
                    let valid_len = error.valid_up_to();
                    census.count_valid(&rest[..valid_len]);
                    census.invalid_sequences += 1;
                    // `error_len` is None only for a sequence cut off by the end of input.
                    let skip = error.error_len().unwrap_or(rest.len() - valid_len);
                    rest = &rest[valid_len + skip..];
                }
            }
        }
        census
    }

    fn count_valid(&mut self, valid: &[u8]) {
        // Every multi-byte character has exactly one lead byte ≥ 0xC0.
        self.valid_multibyte_chars += valid.iter().filter(|&&byte| byte >= 0xC0).count();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_ok(bytes: &[u8]) -> Decoded {
        match decode("test-input", bytes) {
            Ok(decoded) => decoded,
            Err(error) => panic!("unexpected error: {error}"),
        }
    }

    fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
        let mut bytes = Vec::new();
        if bom {
            bytes.extend_from_slice(if big_endian { b"\xFE\xFF" } else { b"\xFF\xFE" });
        }
        for unit in text.encode_utf16() {
            bytes.extend_from_slice(&if big_endian { unit.to_be_bytes() } else { unit.to_le_bytes() });
        }
        bytes
    }

    fn utf32(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
        let mut bytes = Vec::new();
        if bom {
            bytes.extend_from_slice(if big_endian { b"\x00\x00\xFE\xFF" } else { b"\xFF\xFE\x00\x00" });
        }
        for character in text.chars() {
            let value = character as u32;
            bytes.extend_from_slice(&if big_endian { value.to_be_bytes() } else { value.to_le_bytes() });
        }
        bytes
    }

    #[test]
    fn utf8_is_used_as_is_and_bom_stripped() {
        let decoded = decode_ok("\u{FEFF}Grüße, “quoted”".as_bytes());
        assert_eq!(decoded.text, "Grüße, “quoted”");
        assert_eq!(decoded.encoding, "UTF-8");
        assert!(decoded.warnings.is_empty());
    }

    #[test]
    fn undeclared_cp1252_maps_the_typographic_range() {
        let decoded = decode_ok(b"The \x93Na\xEFve\x94 brand \x85 costs \x80 12 \x96 a trademark\x99 of Ma\x9Fsa.");
        assert_eq!(decoded.text, "The “Naïve” brand … costs € 12 – a trademark™ of MaŸsa.");
        assert!(decoded.warnings[0].contains("Windows-1252"));
        assert!(decoded.warnings[0].contains("test-input"));
    }

    #[test]
    fn mostly_utf8_with_a_stray_byte_stays_utf8() {
        let mut bytes = "Café, naïve, résumé, déjà vu.".as_bytes().to_vec();
        bytes.push(0xE9);
        let decoded = decode_ok(&bytes);
        assert!(decoded.text.starts_with("Café, naïve, résumé, déjà vu."));
        assert!(decoded.text.ends_with('\u{FFFD}'));
        assert!(decoded.warnings[0].contains("invalid byte sequence"));
    }

    #[test]
    fn utf16_and_utf32_with_a_bom_are_decoded() {
        for big_endian in [false, true] {
            let decoded = decode_ok(&utf16("Héllo wörld 😀", big_endian, true));
            assert_eq!(decoded.text, "Héllo wörld 😀");
            assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);
            let decoded = decode_ok(&utf32("Héllo wörld 😀", big_endian, true));
            assert_eq!(decoded.text, "Héllo wörld 😀");
            assert_eq!(decoded.encoding, if big_endian { "UTF-32BE" } else { "UTF-32LE" });
        }
        let mut odd = utf16("Hello", false, true);
        odd.push(0x41);
        assert_eq!(decode_ok(&odd).warnings.len(), 1);
    }

    #[test]
    fn xml_in_utf16_or_utf32_without_a_bom_is_told_by_its_shape() {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><rss>Grüße</rss>";
        for big_endian in [false, true] {
            let decoded = decode_ok(&utf16(xml, big_endian, false));
            assert_eq!(decoded.text, xml);
            assert!(decoded.warnings[0].contains("no byte-order mark"), "{:?}", decoded.warnings);
            assert_eq!(decode_ok(&utf32(xml, big_endian, false)).text, xml);
        }
    }

    #[test]
    fn the_xml_declaration_decides_and_utf16_labels_on_8_bit_bytes_are_ignored() {
        let decoded = decode_ok(b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss>Inova\xE7\xE3o \x80</rss>");
        assert_eq!(decoded.text, "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss>Inovação €</rss>");
        assert_eq!(decoded.encoding, "windows-1252");
        assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);

        // EUC-KR: "한국어".
        let decoded = decode_ok(b"<?xml version='1.0' encoding='euc-kr'?><rss>\xC7\xD1\xB1\xB9\xBE\xEE</rss>");
        assert_eq!(decoded.text, "<?xml version='1.0' encoding='euc-kr'?><rss>한국어</rss>");

        let decoded = decode_ok("<?xml version=\"1.0\" encoding=\"utf-16\"?><rss>Grüße</rss>".as_bytes());
        assert!(decoded.text.ends_with("<rss>Grüße</rss>"));
        assert_eq!(decoded.encoding, "UTF-8");
    }

    #[test]
    fn http_charset_wins_over_the_declaration() {
        let bytes = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><rss>\xC7\xD1</rss>";
        let decoded = decode_with_charset("feed", bytes, Some("EUC-KR")).unwrap();
        assert!(decoded.text.ends_with("<rss>한</rss>"), "{}", decoded.text);
        assert!(decode_with_charset("feed", bytes, None).unwrap().warnings[0].contains("not valid UTF-8"));
    }

    #[test]
    fn charset_of_content_type_reads_the_parameter() {
        assert_eq!(charset_of_content_type("text/xml; charset=\"ISO-8859-1\"").as_deref(), Some("ISO-8859-1"));
        assert_eq!(charset_of_content_type("application/rss+xml;CHARSET=utf-8 ").as_deref(), Some("utf-8"));
        assert_eq!(charset_of_content_type("application/xml"), None);
    }

    #[test]
    fn valid_utf8_declared_as_latin1_is_read_as_utf8_with_a_warning() {
        let decoded = decode_ok("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss>Café</rss>".as_bytes());
        assert!(decoded.text.ends_with("<rss>Café</rss>"));
        assert!(decoded.warnings[0].contains("valid UTF-8"), "{:?}", decoded.warnings);
        // Plain ASCII is the same in either: no warning.
        assert!(decode_ok(b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss>Cafe</rss>").warnings.is_empty());
    }

    #[test]
    fn a_meta_charset_decides_for_html_that_is_not_utf8() {
        let decoded = decode_ok(b"<html><head><meta charset=\"windows-1251\"></head><body>\xCF\xF0\xE8\xE2\xE5\xF2</body></html>");
        assert!(decoded.text.contains("Привет"), "{}", decoded.text);
        let decoded = decode_ok(b"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=koi8-r\"></head><body>\xF0\xD2\xC9\xD7\xC5\xD4</body></html>");
        assert!(decoded.text.contains("Привет"), "{}", decoded.text);
    }

    #[test]
    fn unknown_declared_encodings_are_refused_unless_they_change_nothing() {
        let error = decode("feed.xml", b"<?xml version=\"1.0\" encoding=\"x-klingon\"?><rss>\xC7\xD1\xFF</rss>").unwrap_err();
        assert!(matches!(&error, InputError::UnknownEncoding { label, .. } if label == "x-klingon"), "{error:?}");
        assert!(error.to_string().contains("feed.xml") && error.to_string().contains("iconv"), "{error}");
        assert!(decode("feed.xml", b"<?xml version=\"1.0\" encoding=\"x-klingon\"?><rss>plain</rss>").is_ok());
        assert!(matches!(decode("feed.xml", b"\x4C\x6F\xA7\x94\x93\x40"), Err(InputError::UnknownEncoding { .. })));
    }

    #[test]
    fn signatures_nul_bytes_and_control_characters_are_binary() {
        let cases: &[&[u8]] = &[
            b"%PDF-1.4 rest",
            b"PK\x03\x04\x14\x00",
            b"\x89PNG\r\n\x1A\n\x00\x00",
            b"\x1F\x8B\x08\x00",
            b"plain start\x00then nul",
            b"\x01\x02\x03\x04\x05\x06 abc \x07\x08\x0E\x0F",
        ];
        for bytes in cases {
            let result = decode("blob", bytes);
            assert!(matches!(result, Err(InputError::Binary { .. })), "{bytes:?}");
        }
    }

    #[test]
    fn random_high_bytes_are_undecodable() {
        let bytes: Vec<u8> = (0..400u32).map(|index| 0x80 + (index * 37 % 0x7F) as u8).collect();
        assert!(matches!(decode("blob", &bytes), Err(InputError::Undecodable { .. })));
    }

    #[test]
    fn terminal_escapes_and_form_feeds_are_text() {
        let decoded = decode_ok(b"\x1B[1mBold\x1B[0m headline\x0C\nNext page.");
        assert!(decoded.text.contains("Next page."));
    }
}
