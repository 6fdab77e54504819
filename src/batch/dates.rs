//! Publication dates for `--since`: RFC 3339 (Atom, JSON Feed, `YYYY-MM-DD`) and RFC 2822 (RSS
//! `pubDate`), to seconds since the Unix epoch. Small and dependency-free: feeds use few forms.

/// Parses a `--since` argument: `YYYY-MM-DD` (midnight UTC) or an RFC 3339 date-time.
pub fn parse_since(text: &str) -> Result<i64, String> {
    parse_rfc3339(text.trim()).ok_or_else(|| format!("'{text}' is not a date; give YYYY-MM-DD or an RFC 3339 time such as 2026-03-01T08:00:00Z"))
}

/// Seconds since the epoch of a feed date in either format, or None when it is neither.
pub fn parse_published(text: &str) -> Option<i64> {
    let text = text.trim();
    parse_rfc3339(text).or_else(|| parse_rfc2822(text))
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn number(text: &str) -> Option<i64> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok()).flatten()
}

fn valid_date(year: i64, month: i64, day: i64) -> bool {
    (1..=12).contains(&month) && (1..=31).contains(&day) && year > 0
}

/// `HH:MM[:SS[.fraction]]` → seconds of the day.
fn time_of_day(text: &str) -> Option<i64> {
    let mut parts = text.split(':');
    let hours = number(parts.next()?)?;
    let minutes = number(parts.next()?)?;
    let seconds = match parts.next() {
        Some(seconds) => number(seconds.split('.').next()?)?,
        None => 0,
    };
    if parts.next().is_some() || hours > 23 || minutes > 59 || seconds > 60 {
        return None;
    }
    Some(hours * 3600 + minutes * 60 + seconds)
}

/// `+HH:MM`, `+HHMM`, `Z`, or a few US zone names → offset east of UTC in seconds.
fn zone_offset(zone: &str) -> Option<i64> {
    let named = match zone.to_ascii_uppercase().as_str() {
        "Z" | "UT" | "UTC" | "GMT" => Some(0),
        "EDT" => Some(-4),
        "EST" | "CDT" => Some(-5),
        "CST" | "MDT" => Some(-6),
        "MST" | "PDT" => Some(-7),
        "PST" => Some(-8),
        _ => None,
    };
    if let Some(hours) = named {
        return Some(hours * 3600);
    }
    let sign = match zone.chars().next()? {
        '+' => 1,
        '-' => -1,
        _ => return None,
    };
    let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 {
        return None;
    }
    Some(sign * (number(&digits[..2])? * 3600 + number(&digits[2..])? * 60))
}

fn parse_rfc3339(text: &str) -> Option<i64> {
    let date = text.get(..10)?;
    let mut fields = date.split('-');
    let (year, month, day) = (number(fields.next()?)?, number(fields.next()?)?, number(fields.next()?)?);
    if !valid_date(year, month, day) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let rest = &text[10..];
    if rest.is_empty() {
        return Some(days * 86_400);
    }
    let rest = rest.strip_prefix('T').or_else(|| rest.strip_prefix('t')).or_else(|| rest.strip_prefix(' '))?;
    let zone_start = rest.find(|c: char| c == 'Z' || c == 'z' || c == '+' || c == '-').unwrap_or(rest.len());
    let seconds = time_of_day(&rest[..zone_start])?;
    let offset = if zone_start == rest.len() { 0 } else { zone_offset(&rest[zone_start..])? };
    Some(days * 86_400 + seconds - offset)
}

fn parse_rfc2822(text: &str) -> Option<i64> {
    // The weekday is optional and not checked.
    let text = match text.split_once(',') {
        Some((_, rest)) => rest,
        None => text,
    };
    let mut fields = text.split_whitespace();
    let day = number(fields.next()?)?;
    let month_name = fields.next()?.to_ascii_lowercase();
    let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    let month = months.iter().position(|m| month_name.starts_with(m))? as i64 + 1;
    let mut year = number(fields.next()?)?;
    if year < 100 {
        year += if year < 50 { 2000 } else { 1900 };
    }
    if !valid_date(year, month, day) {
        return None;
    }
    let seconds = time_of_day(fields.next()?)?;
    let offset = match fields.next() {
        Some(zone) => zone_offset(zone)?,
        None => 0,
    };
    Some(days_from_civil(year, month, day) * 86_400 + seconds - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_and_rfc2822_agree_on_one_instant() {
        let instant = 1_772_438_400; // 2026-03-02T08:00:00Z
        assert_eq!(parse_published("2026-03-02T08:00:00Z"), Some(instant));
        assert_eq!(parse_published("2026-03-02T09:00:00+01:00"), Some(instant));
        assert_eq!(parse_published("2026-03-02T08:00:00.250Z"), Some(instant));
        assert_eq!(parse_published("Mon, 02 Mar 2026 08:00:00 +0000"), Some(instant));
        assert_eq!(parse_published("Mon, 02 Mar 2026 03:00:00 EST"), Some(instant));
        assert_eq!(parse_published("2 Mar 2026 08:00 GMT"), Some(instant));
        assert_eq!(parse_since("2026-03-02"), Ok(instant - 8 * 3600));
        assert_eq!(parse_published("1970-01-01T00:00:00Z"), Some(0));
    }

    #[test]
    fn nonsense_is_not_a_date() {
        for text in ["", "yesterday", "2026-13-01", "Mon, 32 Foo 2026 08:00:00 +0000", "2026-03-02T25:00:00Z"] {
            assert_eq!(parse_published(text), None, "{text}");
        }
        assert!(parse_since("last week").unwrap_err().contains("YYYY-MM-DD"));
    }
}
