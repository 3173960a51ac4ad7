//! Unicode that changes what a number says: U+2212 (−) and its look-alikes are minus signs, no-break
//! and thin spaces between digits are thousands separators (elsewhere, spaces), and zero-width and
//! bidirectional marks are not there at all. Applied before extraction and normalization; ASCII
//! text passes through untouched, without a copy.

use std::borrow::Cow;

fn is_minus(c: char) -> bool {
    matches!(c, '\u{2212}' | '\u{fe63}' | '\u{ff0d}')
}

fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}' | '\u{2066}'..='\u{2069}' | '\u{feff}'
    )
}

fn is_narrow_space(c: char) -> bool {
    matches!(c, '\u{00a0}' | '\u{2007}' | '\u{2009}' | '\u{202f}')
}

/// `text` with minus signs, separators and invisible marks made plain.
pub fn clean(text: &str) -> Cow<'_, str> {
    let special = |c: char| is_minus(c) || is_invisible(c) || is_narrow_space(c);
    if text.is_ascii() || !text.chars().any(special) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().filter(|&c| !is_invisible(c)).peekable();
    let mut previous = None;
    while let Some(c) = chars.next() {
        if is_minus(c) {
            out.push('-');
        } else if is_narrow_space(c) {
            let between_digits = previous.is_some_and(|p: char| p.is_ascii_digit())
                && chars.peek().is_some_and(char::is_ascii_digit);
            if !between_digits {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
        previous = Some(c);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minus_signs_separators_and_invisible_marks() {
        assert_eq!(clean("#### \u{2212}18"), "#### -18");
        assert_eq!(clean("1\u{202f}000\u{a0}000 apples"), "1000000 apples");
        assert_eq!(clean("x\u{a0}= 5"), "x = 5");
        assert_eq!(clean("4\u{200b}2\u{200f}"), "42");
        assert!(matches!(clean("plain 42"), Cow::Borrowed(_)));
        assert!(matches!(clean("café 42"), Cow::Borrowed(_)));
    }
}
