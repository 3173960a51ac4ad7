//! Whole-answer forms read into one spelling before normalization removes what tells them
//! apart (spaces, degree marks): a mixed number with a space (`2 3/4`), a number with a base
//! subscript (`1011_{2}`), a time of day (`9:05 p.m.`), a trigonometric function of degrees
//! (`\cos 60^\circ`).

use std::borrow::Cow;

/// `raw` with the forms above rewritten; unchanged (borrowed) when it has none.
pub fn rewrite(raw: &str) -> Cow<'_, str> {
    let text = raw.trim();
    if let Some(fraction) = mixed_number(text) {
        return fraction.into();
    }
    if let Some(digits) = based_number(text) {
        return digits.into();
    }
    if let Some(time) = time_of_day(text) {
        return time.into();
    }
    trig_of_degrees(raw)
}

/// `2 3/4`, `-2\ 3/4`, `2 \frac{3}{4}` → `\frac{11}{4}` (a proper fraction after a whole number
/// and a space: one number, not 2 times 3/4 or 23/4).
fn mixed_number(text: &str) -> Option<String> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, text),
    };
    let whole_end = body.bytes().take_while(u8::is_ascii_digit).count();
    let (whole, rest) = body.split_at(whole_end);
    // The space: blanks, `~`, or LaTeX's spacing commands (`\ `, `\,`, `\;`).
    let mut fraction = rest;
    loop {
        let next = ["\\ ", "\\,", "\\;", " ", "~"]
            .iter()
            .find_map(|space| fraction.strip_prefix(space));
        match next {
            Some(after) => fraction = after,
            None => break,
        }
    }
    if whole.is_empty() || fraction.len() == rest.len() {
        return None;
    }
    let (numerator, denominator) = match fraction.strip_prefix("\\frac{") {
        Some(inner) => {
            let (n, d) = inner.split_once("}{")?;
            (n, d.strip_suffix('}')?)
        }
        None => fraction.split_once('/')?,
    };
    let number = |s: &str| {
        (!s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u128>().ok())
            .flatten()
    };
    let (whole, numerator, denominator) =
        (number(whole)?, number(numerator)?, number(denominator)?);
    if denominator == 0 || numerator >= denominator {
        return None;
    }
    let sign = if negative { "-" } else { "" };
    Some(format!(
        "{sign}\\frac{{{}}}{{{denominator}}}",
        whole * denominator + numerator
    ))
}

/// `1011_2`, `1011_{2}`, `1A3_{16}` → the digits (`1011`): a number in base 2 to 36 whose
/// digits are valid in that base (with at least one numeral, so that a variable such as `a_2`
/// is not read as one). `_{10}` is decimal.
fn based_number(text: &str) -> Option<String> {
    let (digits, base) = text.split_once('_')?;
    let base = base.trim_start_matches('{').trim_end_matches('}');
    let base: u32 = base.parse().ok().filter(|b| (2..=36).contains(b))?;
    let valid = !digits.is_empty()
        && digits.bytes().any(|b| b.is_ascii_digit())
        && digits
            .chars()
            .all(|c| (c.is_ascii_digit() || c.is_ascii_uppercase()) && c.is_digit(base));
    valid.then(|| digits.to_owned())
}

/// `9:05`, `09:05:00`, `9:05 a.m.`, `9:05 PM` → `9:05` or `21:05`: a time of day as 24-hour
/// `H:MM` (seconds kept when not zero). Without a.m./p.m. the hours are as written.
fn time_of_day(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let (clock, meridiem) = ["a.m.", "am", "a.m", "p.m.", "pm", "p.m"]
        .iter()
        .find_map(|suffix| {
            lower
                .strip_suffix(suffix)
                .map(|clock| (clock.trim_end(), Some(suffix.starts_with('p'))))
        })
        .unwrap_or((lower.as_str(), None));
    let mut parts = clock.split(':');
    let hours = parts.next()?;
    let minutes = parts.next()?;
    let seconds = parts.next();
    let two_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
    if parts.next().is_some()
        || hours.is_empty()
        || hours.len() > 2
        || !hours.bytes().all(|b| b.is_ascii_digit())
        || !two_digits(minutes)
        || seconds.is_some_and(|s| !two_digits(s))
    {
        return None;
    }
    let (mut hours, minutes): (u32, u32) = (hours.parse().ok()?, minutes.parse().ok()?);
    let seconds: u32 = seconds.map_or(Some(0), |s| s.parse().ok())?;
    if minutes >= 60 || seconds >= 60 {
        return None;
    }
    match meridiem {
        Some(pm) if (1..=12).contains(&hours) => hours = hours % 12 + if pm { 12 } else { 0 },
        Some(_) => return None,
        None if hours >= 24 => return None,
        None => {}
    }
    Some(match seconds {
        0 => format!("{hours}:{minutes:02}"),
        _ => format!("{hours}:{minutes:02}:{seconds:02}"),
    })
}

const TRIG: [&str; 6] = ["\\sin", "\\cos", "\\tan", "\\sec", "\\csc", "\\cot"];
const DEGREE_MARKS: [&str; 4] = ["^{\\circ}", "^\\circ", "°", "^{°}"];

/// `\cos 60^\circ`, `\sin(30^{\circ})` → `\cos(60\cdot\frac{\pi}{180})`: the degree mark of a
/// trigonometric function's number becomes the conversion to radians (normalization would
/// drop it, leaving cos of 60 radians).
fn trig_of_degrees(raw: &str) -> Cow<'_, str> {
    if !DEGREE_MARKS.iter().any(|mark| raw.contains(mark)) {
        return raw.into();
    }
    let mut out = String::with_capacity(raw.len() + 32);
    let mut rest = raw;
    while let Some((at, name)) = TRIG
        .iter()
        .filter_map(|name| rest.find(name).map(|at| (at, *name)))
        .min()
    {
        let after_name = &rest[at + name.len()..];
        out.push_str(&rest[..at + name.len()]);
        match degrees_argument(after_name) {
            Some((number, used)) => {
                out.push_str(&format!("({number}\\cdot\\frac{{\\pi}}{{180}})"));
                rest = &after_name[used..];
            }
            None => rest = after_name,
        }
    }
    out.push_str(rest);
    out.into()
}

/// A number with a degree mark at the start of `text` (` 60^\circ`, `(60^{\circ})`,
/// `{45°}`), and the bytes it spans.
fn degrees_argument(text: &str) -> Option<(&str, usize)> {
    let skip_spaces = |s: &str, at: usize| at + s[at..].len() - s[at..].trim_start().len();
    let mut at = skip_spaces(text, 0);
    let close = match text[at..].chars().next()? {
        '(' => Some(')'),
        '{' => Some('}'),
        _ => None,
    };
    if close.is_some() {
        at = skip_spaces(text, at + 1);
    }
    let number_len = text[at..]
        .bytes()
        .enumerate()
        .take_while(|&(i, b)| b.is_ascii_digit() || b == b'.' || (i == 0 && b == b'-'))
        .count();
    if number_len == 0 {
        return None;
    }
    let number = &text[at..at + number_len];
    at = skip_spaces(text, at + number_len);
    let mark = DEGREE_MARKS
        .iter()
        .find(|mark| text[at..].starts_with(**mark))?;
    at += mark.len();
    if let Some(close) = close {
        at = skip_spaces(text, at);
        at += text[at..].starts_with(close).then_some(1)?;
    }
    Some((number, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_read_into_one_spelling() {
        for (raw, spelled) in [
            ("2 3/4", "\\frac{11}{4}"),
            ("-2 3/4", "-\\frac{11}{4}"),
            ("2\\ 3/4", "\\frac{11}{4}"),
            ("2 \\frac{3}{4}", "\\frac{11}{4}"),
            ("1011_2", "1011"),
            ("1011_{2}", "1011"),
            ("1A3_{16}", "1A3"),
            ("9:05", "9:05"),
            ("09:05:00", "9:05"),
            ("9:05 a.m.", "9:05"),
            ("9:05 PM", "21:05"),
            ("12:30 am", "0:30"),
            ("\\cos 60^\\circ", "\\cos(60\\cdot\\frac{\\pi}{180})"),
            ("\\sin(30^{\\circ})", "\\sin(30\\cdot\\frac{\\pi}{180})"),
            ("2\\tan 45°", "2\\tan(45\\cdot\\frac{\\pi}{180})"),
        ] {
            assert_eq!(rewrite(raw), spelled, "{raw}");
        }
        // Not these forms: left as they are.
        for raw in [
            "2 4/3",
            "23/4",
            "2, 3/4",
            "a_2",
            "x_1",
            "12_1",
            "3:2",
            "25:61",
            "13:05 pm",
            "\\cos 60",
            "60^\\circ",
            "\\cos x^\\circ",
        ] {
            assert_eq!(rewrite(raw), raw, "{raw}");
        }
    }
}
