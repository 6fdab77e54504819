//! Bytes → text: refuses binary data and decodes the rest.
//!
//! Order matters: a UTF-16 byte-order mark is honoured before the binary checks (UTF-16 text
//! is full of NUL bytes), and well-known file signatures are checked before decoding so that
//! a PDF gets a useful hint rather than a decoding warning. Valid UTF-8 is used as is;
//! UTF-8 with a few stray bytes is decoded lossily; anything else that still looks like
//! Western text is decoded as Windows-1252 by hand (no encoding crate needed for one table).

use super::InputError;

pub(super) struct Decoded {
    pub text: String,
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

pub(super) fn decode(input_name: &str, bytes: &[u8]) -> Result<Decoded, InputError> {
    if let Some(decoded) = decode_utf16_with_bom(input_name, bytes) {
        return Ok(decoded);
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    refuse_binary(input_name, bytes)?;

    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(Decoded {
            text: text.to_string(),
            warnings: Vec::new(),
        });
    }

    let census = Utf8Census::of(bytes);
    // Mostly-UTF-8 with a few broken bytes (a truncated download, a pasted fragment): decoding
    // it all as Windows-1252 would garble every correct accent, so keep UTF-8.
    if census.valid_multibyte_chars > census.invalid_sequences {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let warning = format!(
            "{input_name} is not valid UTF-8: {} invalid byte sequence(s) were replaced with \u{FFFD}",
            census.invalid_sequences
        );
        return Ok(Decoded {
            text,
            warnings: vec![warning],
        });
    }

    let high_bytes = bytes.iter().filter(|&&byte| byte >= 0x80).count();
    let undefined_in_cp1252 = bytes
        .iter()
        .filter(|&&byte| cp1252_char(byte).is_none())
        .count();
    let looks_western = (high_bytes as f64) <= MAX_HIGH_BYTE_SHARE_FOR_CP1252 * bytes.len() as f64
        && undefined_in_cp1252 * 100 <= high_bytes.max(1);
    if !looks_western {
        return Err(InputError::Undecodable {
            input: input_name.to_string(),
        });
    }
    let text = bytes
        .iter()
        .map(|&byte| cp1252_char(byte).unwrap_or('\u{FFFD}'))
        .collect();
    let warning = format!(
        "{input_name} is not valid UTF-8; decoded as Windows-1252 (Latin-1). \
         If characters look wrong, convert it to UTF-8 first"
    );
    Ok(Decoded {
        text,
        warnings: vec![warning],
    })
}

fn decode_utf16_with_bom(input_name: &str, bytes: &[u8]) -> Option<Decoded> {
    // FF FE 00 00 is a UTF-32 mark, which we do not decode; the binary checks refuse it.
    let little_endian = if bytes.starts_with(b"\xFF\xFE") && !bytes.starts_with(b"\xFF\xFE\x00\x00")
    {
        true
    } else if bytes.starts_with(b"\xFE\xFF") {
        false
    } else {
        return None;
    };
    let units = bytes[2..].chunks_exact(2).map(|pair| {
        if little_endian {
            u16::from_le_bytes([pair[0], pair[1]])
        } else {
            u16::from_be_bytes([pair[0], pair[1]])
        }
    });
    let mut broken = !bytes.len().is_multiple_of(2);
    let text = char::decode_utf16(units)
        .map(|unit| {
            unit.unwrap_or_else(|_| {
                broken = true;
                '\u{FFFD}'
            })
        })
        .collect();
    let mut warnings = Vec::new();
    if broken {
        warnings.push(format!(
            "{input_name} is UTF-16 with invalid or truncated characters; they were replaced with \u{FFFD}"
        ));
    }
    Some(Decoded { text, warnings })
}

/// Refuses known binary formats by their signature, then anything with NUL bytes or many
/// control characters.
fn refuse_binary(input_name: &str, bytes: &[u8]) -> Result<(), InputError> {
    let binary = |kind: &str, hint: &str| InputError::Binary {
        input: input_name.to_string(),
        kind: kind.to_string(),
        hint: hint.to_string(),
    };
    if let Some((kind, hint)) = known_signature(bytes) {
        return Err(binary(kind, hint));
    }
    const GENERIC_HINT: &str = "export or convert it to plain text first";
    if bytes.contains(&0) {
        return Err(binary("binary data (it contains NUL bytes)", GENERIC_HINT));
    }
    let sample = &bytes[..bytes.len().min(CONTROL_SAMPLE_BYTES)];
    let control_bytes = sample
        .iter()
        .filter(|&&byte| is_binary_control(byte))
        .count();
    if control_bytes > 2 && control_bytes as f64 > MAX_CONTROL_SHARE * sample.len() as f64 {
        return Err(binary(
            "binary data (it is full of control characters)",
            GENERIC_HINT,
        ));
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
        (
            b"%PDF-",
            "a PDF document",
            "convert PDFs to text first (e.g. `pdftotext FILE.pdf FILE.txt`)",
        ),
        (
            b"PK\x03\x04",
            "a ZIP archive (or a .docx/.odt/.epub document)",
            CONVERT_DOCUMENT,
        ),
        (
            b"PK\x05\x06",
            "a ZIP archive",
            "extract the text files from it first",
        ),
        (
            b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1",
            "an old Microsoft Office document",
            CONVERT_DOCUMENT,
        ),
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
        (
            b"7z\xBC\xAF\x27\x1C",
            "a 7-Zip archive",
            "extract the text files from it first",
        ),
        (
            b"Rar!\x1A\x07",
            "a RAR archive",
            "extract the text files from it first",
        ),
        (b"\x7FELF", "an executable program", NOT_AN_ARTICLE),
        (b"SQLite format 3\x00", "an SQLite database", NOT_AN_ARTICLE),
    ];
    if let Some(&(_, kind, hint)) = signatures
        .iter()
        .find(|(magic, _, _)| bytes.starts_with(magic))
    {
        return Some((kind, hint));
    }
    // bzip2 needs its block magic too: "BZh" alone could start a line of text.
    if bytes.len() >= 10
        && bytes.starts_with(b"BZh")
        && bytes[3].is_ascii_digit()
        && &bytes[4..10] == b"1AY&SY"
    {
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
        let mut census = Utf8Census {
            valid_multibyte_chars: 0,
            invalid_sequences: 0,
        };
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

/// Windows-1252: Latin-1 except 0x80–0x9F, which hold typographic characters instead of C1
/// controls. Five of those positions are undefined.
fn cp1252_char(byte: u8) -> Option<char> {
    #[rustfmt::skip]
    const HIGH_CONTROL_RANGE: [Option<char>; 32] = [
        Some('€'), None,      Some('‚'), Some('ƒ'), Some('„'), Some('…'), Some('†'), Some('‡'),
        Some('ˆ'), Some('‰'), Some('Š'), Some('‹'), Some('Œ'), None,      Some('Ž'), None,
        None,      Some('‘'), Some('’'), Some('“'), Some('”'), Some('•'), Some('–'), Some('—'),
        Some('˜'), Some('™'), Some('š'), Some('›'), Some('œ'), None,      Some('ž'), Some('Ÿ'),
    ];
    match byte {
        0x80..=0x9F => HIGH_CONTROL_RANGE[usize::from(byte - 0x80)],
        _ => Some(char::from(byte)),
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

    #[test]
    fn utf8_is_used_as_is_and_bom_stripped() {
        let decoded = decode_ok("\u{FEFF}Grüße, “quoted”".as_bytes());
        assert_eq!(decoded.text, "Grüße, “quoted”");
        assert!(decoded.warnings.is_empty());
    }

    #[test]
    fn cp1252_table_maps_the_typographic_range() {
        let decoded = decode_ok(
            b"The \x93Na\xEFve\x94 brand \x85 costs \x80 12 \x96 a trademark\x99 of Ma\x9Fsa.",
        );
        assert_eq!(
            decoded.text,
            "The “Naïve” brand … costs € 12 – a trademark™ of MaŸsa."
        );
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
    fn utf16_with_bom_is_decoded() {
        let mut little = vec![0xFF, 0xFE];
        let mut big = vec![0xFE, 0xFF];
        for unit in "Héllo wörld".encode_utf16() {
            little.extend_from_slice(&unit.to_le_bytes());
            big.extend_from_slice(&unit.to_be_bytes());
        }
        assert_eq!(decode_ok(&little).text, "Héllo wörld");
        assert_eq!(decode_ok(&big).text, "Héllo wörld");
        little.push(0x41);
        assert_eq!(decode_ok(&little).warnings.len(), 1);
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
            b"\xFF\xFE\x00\x00UTF-32",
        ];
        for bytes in cases {
            let result = decode("blob", bytes);
            assert!(
                matches!(result, Err(InputError::Binary { .. })),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn random_high_bytes_are_undecodable() {
        let bytes: Vec<u8> = (0..400u32)
            .map(|index| 0x80 + (index * 37 % 0x7F) as u8)
            .collect();
        assert!(matches!(
            decode("blob", &bytes),
            Err(InputError::Undecodable { .. })
        ));
    }

    #[test]
    fn terminal_escapes_and_form_feeds_are_text() {
        let decoded = decode_ok(b"\x1B[1mBold\x1B[0m headline\x0C\nNext page.");
        assert!(decoded.text.contains("Next page."));
    }
}
