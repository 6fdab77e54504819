//! Numbers in every form a news text writes them, reduced to values that can be compared:
//! digits (`1,500`), words (`fifteen hundred`), scales (`£1.5m`, `1.5 million`), money,
//! percentages (`5%`, `five per cent`), ordinals (`21st`, `third`), ages (`46-year-old`,
//! `aged 46`), quantities with units (`10km`, `ten miles`), years, months, weekdays and
//! times of day (`3pm`, `15:00`).
//!
//! A value is compared by what it is, not by how it is written: `3 million` and `3,000,000`
//! are one value, `3pm` and `15:00` one time. Units are not converted (`5 miles` and `8km`
//! differ), and a value is not matched against a rounded one (`£1.13bn` and `£1.1bn` differ).

use super::tokens::{Token, CURRENCY};

/// The comparable part of a number mention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NumberKey {
    /// A value, in thousandths (so that 1.5 and 1.50 are one key).
    Value(i64),
    /// A rank: `third`, `3rd` (not the same claim as `three`).
    Ordinal(i64),
    /// A month, 1–12.
    Month(u8),
    /// A weekday, 1 (Monday) – 7.
    Weekday(u8),
    /// A time of day in minutes after midnight.
    Time(u16),
}

impl NumberKey {
    fn value(value: f64) -> NumberKey {
        NumberKey::Value((value * 1000.0).round() as i64)
    }
}

/// How a number was written; it names the span kind a reader sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberForm {
    Number,
    Money,
    Percent,
    Date,
    Time,
    Age,
    Ordinal,
    Quantity,
}

/// One number in a text: tokens `first..last` (inclusive) of the token list it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberMention {
    pub first: usize,
    pub last: usize,
    pub form: NumberForm,
    /// The mention is supported when any one of these is in the source (`50, 000` may be one
    /// number or two).
    pub keys: Vec<NumberKey>,
}

const SMALL: &[(&str, u32)] = &[
    ("zero", 0), ("one", 1), ("two", 2), ("three", 3), ("four", 4), ("five", 5), ("six", 6), ("seven", 7),
    ("eight", 8), ("nine", 9), ("ten", 10), ("eleven", 11), ("twelve", 12), ("thirteen", 13), ("fourteen", 14),
    ("fifteen", 15), ("sixteen", 16), ("seventeen", 17), ("eighteen", 18), ("nineteen", 19), ("twenty", 20),
    ("thirty", 30), ("forty", 40), ("fifty", 50), ("sixty", 60), ("seventy", 70), ("eighty", 80), ("ninety", 90),
    ("dozen", 12),
];
const ORDINAL_WORDS: &[(&str, u32)] = &[
    ("first", 1), ("second", 2), ("third", 3), ("fourth", 4), ("fifth", 5), ("sixth", 6), ("seventh", 7),
    ("eighth", 8), ("ninth", 9), ("tenth", 10), ("eleventh", 11), ("twelfth", 12), ("thirteenth", 13),
    ("fourteenth", 14), ("fifteenth", 15), ("sixteenth", 16), ("seventeenth", 17), ("eighteenth", 18),
    ("nineteenth", 19), ("twentieth", 20), ("thirtieth", 30), ("fortieth", 40), ("fiftieth", 50),
    ("sixtieth", 60), ("seventieth", 70), ("eightieth", 80), ("ninetieth", 90), ("hundredth", 100),
    ("thousandth", 1000),
];
const SCALES: &[(&str, f64)] = &[
    ("hundred", 1e2), ("thousand", 1e3), ("k", 1e3), ("million", 1e6), ("m", 1e6), ("mn", 1e6), ("mln", 1e6),
    ("billion", 1e9), ("bn", 1e9), ("b", 1e9), ("trillion", 1e12), ("tn", 1e12),
];
const MONTHS: &[&str] = &[
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december",
];
/// Abbreviations recognised only when capitalised (`Jan`), never as lower-case words.
const MONTH_ABBREVIATIONS: &[(&str, u8)] =
    &[("jan", 1), ("feb", 2), ("apr", 4), ("jun", 6), ("jul", 7), ("aug", 8), ("sept", 9), ("sep", 9), ("oct", 10), ("nov", 11), ("dec", 12)];
const WEEKDAYS: &[&str] = &["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
const UNITS: &[&str] = &[
    "km", "kilometre", "kilometres", "kilometer", "kilometers", "mile", "miles", "mph", "kph", "metre", "metres", "meter",
    "meters", "cm", "mm", "ft", "foot", "feet", "inch", "inches", "yard", "yards", "kg", "kilo", "kilos", "kilogram",
    "kilograms", "g", "gram", "grams", "lb", "lbs", "pound", "pounds", "oz", "ounce", "ounces", "stone", "ton", "tons", "tonne",
    "tonnes", "litre", "litres", "liter", "liters", "ml", "gallon", "gallons", "degree", "degrees", "c", "f", "acre", "acres",
    "hectare", "hectares", "second", "seconds", "minute", "minutes", "min", "mins", "hour", "hours", "hr", "hrs", "day",
    "days", "week", "weeks", "month", "months", "year", "years", "yr", "yrs", "decade", "decades", "century", "centuries",
    "point", "points", "goal", "goals", "run", "runs", "wicket", "wickets", "mw", "gw", "kw", "gb", "mb",
];

fn lookup<T: Copy>(table: &[(&str, T)], word: &str) -> Option<T> {
    table.iter().find(|(name, _)| *name == word).map(|&(_, value)| value)
}

/// Every number mention in `tokens`, in order, none overlapping. `lowercased` says the text
/// has no capitals to go by (then `may` and `march` count as months only next to a number).
pub fn find_numbers(tokens: &[Token], lowercased: bool) -> Vec<NumberMention> {
    find_numbers_between(tokens, 0, tokens.len(), lowercased).0
}

/// The mentions [`find_numbers`] finds that start at `from` or later and before `until`, and
/// the index its scan would go on from. A mention looks at most [`NUMBER_LOOKBEHIND`] token
/// back and, in any real text, a few tokens ahead: a caller holding a long text's tokens a
/// window at a time gets the same mentions as from all of them at once.
pub fn find_numbers_between(tokens: &[Token], from: usize, until: usize, lowercased: bool) -> (Vec<NumberMention>, usize) {
    let mut mentions = Vec::new();
    let mut index = from;
    while index < until.min(tokens.len()) {
        match mention_at(tokens, index, lowercased) {
            Some(mention) => {
                index = mention.last + 1;
                mentions.push(mention);
            }
            None => index += 1,
        }
    }
    (mentions, index)
}

/// How far back [`find_numbers`] looks from where a mention starts (a month beside a number).
pub const NUMBER_LOOKBEHIND: usize = 1;

fn mention_at(tokens: &[Token], index: usize, lowercased: bool) -> Option<NumberMention> {
    let token = &tokens[index];
    if token.is_symbol(CURRENCY) {
        let amount = tokens.get(index + 1).filter(|next| next.glued || next.start == token.end)?;
        if !(amount.is_number() || number_word_value(tokens, index + 1).is_some()) {
            return None;
        }
        let mut mention = mention_at(tokens, index + 1, lowercased)?;
        mention.first = index;
        if mention.form != NumberForm::Time {
            mention.form = NumberForm::Money;
        }
        return Some(mention);
    }
    if token.is_word() {
        if let Some(key) = calendar_word(tokens, index, lowercased) {
            return Some(NumberMention { first: index, last: index, form: NumberForm::Date, keys: vec![key] });
        }
        if let Some(value) = lookup(ORDINAL_WORDS, &token.lower) {
            return Some(NumberMention { first: index, last: index, form: NumberForm::Ordinal, keys: vec![NumberKey::Ordinal(value as i64)] });
        }
        if matches!(token.lower.as_str(), "noon" | "midday" | "midnight") {
            let minutes = if token.lower == "midnight" { 0 } else { 720 };
            return Some(NumberMention { first: index, last: index, form: NumberForm::Time, keys: vec![NumberKey::Time(minutes)] });
        }
        let (value, last) = number_word_value(tokens, index)?;
        return Some(finish(tokens, index, last, value, Vec::new(), false));
    }
    if !token.is_number() {
        return None;
    }
    let written = token.lower.as_str();
    // 15:30 (a clock time).
    if let Some((hours, minutes)) = written.split_once(':') {
        let (minutes, used) = clock(hours, minutes, meridiem_at(tokens, index + 1))?;
        return Some(NumberMention { first: index, last: index + used, form: NumberForm::Time, keys: vec![NumberKey::Time(minutes)] });
    }
    // 3.30pm / 10.30 a.m.
    if let Some((offset, used)) = meridiem_at(tokens, index + 1) {
        let (whole, fraction) = written.split_once('.').unwrap_or((written, "00"));
        if let (Ok(hour), Ok(minutes)) = (whole.parse::<u16>(), fraction.parse::<u16>()) {
            if (1..=12).contains(&hour) && fraction.len() == 2 && minutes < 60 {
                let minutes = (hour % 12 + offset) * 60 + minutes;
                return Some(NumberMention { first: index, last: index + used, form: NumberForm::Time, keys: vec![NumberKey::Time(minutes)] });
            }
        }
    }
    let value: f64 = written.replace(',', "").parse().ok()?;
    let mut alternatives = Vec::new();
    let mut last = index;
    // "50, 000": a thousands group detached by a tokenizer (PTB-style text); one number or two.
    if let Some(next) = tokens.get(index + 1) {
        if next.is_number() && next.lower.len() == 3 && !written.contains(['.', ',']) && written.len() <= 3 && next.lower.bytes().all(|b| b.is_ascii_digit()) {
            let gap_is_comma_space = tokens[index].end + 2 == next.start;
            if gap_is_comma_space {
                if let Ok(group) = next.lower.parse::<f64>() {
                    alternatives.push(NumberKey::value(value));
                    last = index + 1;
                    return Some(finish(tokens, index, last, value * 1000.0 + group, alternatives, true));
                }
            }
        }
    }
    Some(finish(tokens, index, last, value, alternatives, true))
}

/// Reads what follows a number (`m`, `million`, `%`, `per cent`, `th`, `km`, `-year-old`) and
/// what precedes it (`aged`), and gives the mention its form and key.
fn finish(tokens: &[Token], mut first: usize, mut last: usize, mut value: f64, mut alternatives: Vec<NumberKey>, digits: bool) -> NumberMention {
    let mut form = NumberForm::Number;
    let next = |last: usize| tokens.get(last + 1);
    let word_after = |last: usize| next(last).filter(|t| t.is_word()).map(|t| t.lower.as_str());
    // Scales: "5m", "5 million", "1.5bn" (a scale word after number words is already read).
    if let Some(word) = word_after(last) {
        let glued_only = matches!(word, "m" | "k" | "b" | "bn" | "mn" | "tn");
        if let Some(scale) = lookup(SCALES, word) {
            if !glued_only || next(last).is_some_and(|t| t.glued) {
                value *= scale;
                last += 1;
            }
        }
    }
    match word_after(last) {
        Some("st" | "nd" | "rd" | "th") if digits && next(last).is_some_and(|t| t.glued) => {
            form = NumberForm::Ordinal;
            last += 1;
        }
        Some("s") if digits && next(last).is_some_and(|t| t.glued) && (1000.0..=2100.0).contains(&value) => {
            // The 1990s.
            form = NumberForm::Date;
            last += 1;
        }
        Some("per") if tokens.get(last + 2).is_some_and(|t| t.lower == "cent") => {
            form = NumberForm::Percent;
            last += 2;
        }
        Some("percent" | "pc") => {
            form = NumberForm::Percent;
            last += 1;
        }
        Some("year" | "years") if next(last).is_some_and(|t| t.hyphenated) || tokens.get(last + 2).is_some_and(|t| t.lower == "old") => {
            if tokens.get(last + 2).is_some_and(|t| t.lower == "old") {
                form = NumberForm::Age;
                last += 2;
            } else {
                form = NumberForm::Quantity;
                last += 1;
            }
        }
        Some(unit) if UNITS.contains(&unit) => {
            form = NumberForm::Quantity;
            last += 1;
        }
        _ => {}
    }
    if next(last).is_some_and(|t| t.lower == "%") {
        form = NumberForm::Percent;
        last += 1;
    }
    if form == NumberForm::Number {
        let before = first.checked_sub(1).map(|i| tokens[i].lower.as_str());
        let two_before = first.checked_sub(2).map(|i| tokens[i].lower.as_str());
        if matches!(before, Some("aged")) || (before == Some("of") && two_before == Some("age")) {
            // "aged 46" and "the age of 46" are one mention.
            form = NumberForm::Age;
            first -= if before == Some("aged") { 1 } else { 2 };
        } else if digits && tokens[first].lower.len() == 4 && (1000.0..=2100.0).contains(&value) {
            form = NumberForm::Date;
        } else if before.is_some_and(|w| is_month(w)) || word_after(last).is_some_and(is_month) {
            form = NumberForm::Date;
        }
    }
    let key = if form == NumberForm::Ordinal { NumberKey::Ordinal(value.round() as i64) } else { NumberKey::value(value) };
    alternatives.insert(0, key);
    NumberMention { first, last, form, keys: alternatives }
}

fn is_month(word: &str) -> bool {
    MONTHS.contains(&word)
}

/// A month or weekday named by `tokens[index]`.
fn calendar_word(tokens: &[Token], index: usize, lowercased: bool) -> Option<NumberKey> {
    let token = &tokens[index];
    let word = token.lower.as_str();
    if let Some(position) = WEEKDAYS.iter().position(|d| *d == word) {
        return Some(NumberKey::Weekday(position as u8 + 1));
    }
    if let Some(position) = MONTHS.iter().position(|m| *m == word) {
        // "may" and "march" are verbs too: a month when capitalised mid-sentence, or next to a number.
        let ambiguous = matches!(word, "may" | "march");
        let beside_number = tokens.get(index + 1).is_some_and(|t| t.is_number()) || index.checked_sub(1).is_some_and(|i| tokens[i].is_number());
        let capitalised = token.capitalized && !lowercased && index > 0;
        if !ambiguous || beside_number || capitalised {
            return Some(NumberKey::Month(position as u8 + 1));
        }
        return None;
    }
    if token.capitalized {
        if let Some(month) = lookup(MONTH_ABBREVIATIONS, word) {
            return Some(NumberKey::Month(month));
        }
    }
    None
}

/// A number written in words starting at `tokens[index]`: `twenty-five`, `three hundred`,
/// `two million`, `a dozen` is read from `dozen`. `one` alone is not a number (`one of them`).
/// Returns the value and the index of its last token.
fn number_word_value(tokens: &[Token], index: usize) -> Option<(f64, usize)> {
    let mut total = 0.0;
    let mut current = 0.0;
    let mut last = None;
    let mut words = 0;
    let mut position = index;
    while let Some(token) = tokens.get(position) {
        if !token.is_word() {
            break;
        }
        let word = token.lower.as_str();
        if let Some(value) = lookup(SMALL, word) {
            // "twenty-five" and "hundred and five" continue a number; "five five" does not.
            let tens_then_unit = current % 10.0 == 0.0 && current % 100.0 >= 20.0 && value < 10;
            if words > 0 && current % 100.0 != 0.0 && !tens_then_unit {
                break;
            }
            current += value as f64;
        } else if word == "hundred" && words > 0 {
            current = current.max(1.0) * 100.0;
        } else if let Some(scale) = lookup(SCALES, word).filter(|s| *s >= 1e3 && words > 0 && !matches!(word, "m" | "k" | "b" | "bn" | "mn" | "tn")) {
            total += current.max(1.0) * scale;
            current = 0.0;
        } else if word == "and" && words > 0 && tokens.get(position + 1).is_some_and(|t| lookup(SMALL, &t.lower).is_some()) {
            position += 1;
            continue;
        } else {
            break;
        }
        words += 1;
        last = Some(position);
        position += 1;
    }
    let last = last?;
    if words == 1 && tokens[index].lower == "one" {
        return None;
    }
    Some((total + current, last))
}

/// `15:30` → minutes after midnight, with a following `pm` (`3:30 pm`) when there is one;
/// also the number of tokens after the number that were part of the time.
fn clock(hours: &str, minutes: &str, meridiem: Option<(u16, usize)>) -> Option<(u16, usize)> {
    let (Ok(hour), Ok(minute)) = (hours.parse::<u16>(), minutes.parse::<u16>()) else {
        return None;
    };
    if minutes.len() != 2 || minute >= 60 || hour > 24 {
        return None;
    }
    Some(match meridiem {
        Some((offset, used)) if (1..=12).contains(&hour) => ((hour % 12 + offset) * 60 + minute, used),
        _ => ((hour % 24) * 60 + minute, 0),
    })
}

/// `am` / `pm` (glued, as in `3pm`, or not) or the dotted `a.m.` / `p.m.` at `tokens[index]`:
/// the hours to add and how many tokens it takes.
fn meridiem_at(tokens: &[Token], index: usize) -> Option<(u16, usize)> {
    let token = tokens.get(index)?;
    let offset = |letter: &str| if letter.starts_with('p') { 12 } else { 0 };
    match token.lower.as_str() {
        word @ ("am" | "pm") => Some((offset(word), 1)),
        // "a.m.": the letter, a full stop, then "m".
        letter @ ("a" | "p") if tokens.get(index + 1).is_some_and(|m| m.lower == "m" && m.start == token.end + 1) => Some((offset(letter), 2)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tokens::tokenize;
    use super::*;

    fn keys(text: &str) -> Vec<(NumberForm, Vec<NumberKey>, String)> {
        let tokens = tokenize(text);
        find_numbers(&tokens, false)
            .into_iter()
            .map(|m| (m.form, m.keys.clone(), text[tokens[m.first].start..tokens[m.last].end].to_string()))
            .collect()
    }

    fn value(v: f64) -> NumberKey {
        NumberKey::value(v)
    }

    #[test]
    fn digits_words_and_scales_are_one_value() {
        assert_eq!(keys("3,000,000 people")[0].1[0], value(3e6));
        assert_eq!(keys("3 million people")[0].1[0], value(3e6));
        assert_eq!(keys("three million people")[0].1[0], value(3e6));
        assert_eq!(keys("£3m deal")[0].1[0], value(3e6));
        assert_eq!(keys("twenty-five men")[0].1[0], value(25.0));
        assert_eq!(keys("two hundred and fifty men")[0].1[0], value(250.0));
        assert_eq!(keys("a dozen eggs")[0].1[0], value(12.0));
        assert!(keys("one of them").is_empty());
        assert_eq!(keys("$1.13bn")[0].1[0], value(1.13e9));
    }

    #[test]
    fn forms_are_named() {
        let forms = |text: &str| keys(text).into_iter().map(|(form, _, written)| (form, written)).collect::<Vec<_>>();
        assert_eq!(forms("£50,000 reward"), [(NumberForm::Money, "£50,000".to_string())]);
        assert_eq!(forms("up 5 per cent"), [(NumberForm::Percent, "5 per cent".to_string())]);
        assert_eq!(forms("up 5%"), [(NumberForm::Percent, "5%".to_string())]);
        assert_eq!(forms("the 46-year-old man"), [(NumberForm::Age, "46-year-old".to_string())]);
        assert_eq!(forms("aged 46"), [(NumberForm::Age, "aged 46".to_string())]);
        assert_eq!(forms("died at the age of 46"), [(NumberForm::Age, "age of 46".to_string())]);
        assert_eq!(forms("his 21st goal"), [(NumberForm::Ordinal, "21st".to_string())]);
        assert_eq!(forms("the third time"), [(NumberForm::Ordinal, "third".to_string())]);
        assert_eq!(forms("ran 10km"), [(NumberForm::Quantity, "10km".to_string())]);
        assert_eq!(forms("in 2015"), [(NumberForm::Date, "2015".to_string())]);
        assert_eq!(forms("on Tuesday at 3pm"), [(NumberForm::Date, "Tuesday".to_string()), (NumberForm::Time, "3pm".to_string())]);
    }

    #[test]
    fn times_compare_across_clocks() {
        assert_eq!(keys("at 3pm")[0].1, [NumberKey::Time(900)]);
        assert_eq!(keys("at 15:00")[0].1, [NumberKey::Time(900)]);
        assert_eq!(keys("at 3.30 p.m. sharp")[0].1, [NumberKey::Time(930)]);
        assert_eq!(keys("at noon")[0].1, [NumberKey::Time(720)]);
    }

    #[test]
    fn months_need_capitals_or_a_number_when_ambiguous() {
        assert_eq!(keys("on 3 March")[1].1, [NumberKey::Month(3)]);
        assert_eq!(keys("they may march")[..], []);
        assert_eq!(keys("in April")[0].1, [NumberKey::Month(4)]);
        let tokens = tokenize("in may 5 and june");
        let found = find_numbers(&tokens, true);
        assert_eq!(found.iter().map(|m| m.keys[0]).collect::<Vec<_>>(), [NumberKey::Month(5), NumberKey::value(5.0), NumberKey::Month(6)]);
    }

    #[test]
    fn a_detached_thousands_group_is_read_both_ways() {
        let found = keys("raised £50, 000 so far");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].1, [value(50000.0), value(50.0)]);
    }
}
