//! The one scanner of `()`, `[]` and `{}` nesting that the grader's structure rules share.

/// Whether `byte` opens or closes a bracket.
pub(crate) fn is_bracket(byte: u8) -> bool {
    b"()[]{}".contains(&byte)
}

/// The nesting depth after each byte of `bytes`, with the byte's index (below 0 once a bracket
/// closes that did not open).
pub(crate) fn depths(bytes: &[u8]) -> impl Iterator<Item = (usize, i32)> + '_ {
    bytes.iter().enumerate().scan(0i32, |depth, (i, byte)| {
        *depth += match byte {
            b'(' | b'[' | b'{' => 1,
            b')' | b']' | b'}' => -1,
            _ => 0,
        };
        Some((i, *depth))
    })
}

/// Whether every bracket of `s` closes inside it, in order.
pub(crate) fn balanced(s: &str) -> bool {
    let mut last = 0;
    for (_, depth) in depths(s.as_bytes()) {
        if depth < 0 {
            return false;
        }
        last = depth;
    }
    last == 0
}

/// Whether the bracket opening `bytes` closes at its end: `(1,2)` yes, `(1,2),(3,4)` no (a list).
pub(crate) fn first_closes_last(bytes: &[u8]) -> bool {
    depths(bytes)
        .find(|&(_, depth)| depth == 0)
        .is_some_and(|(i, _)| i == bytes.len() - 1)
}

/// Splits at any of the `separators` outside any brackets.
pub(crate) fn split_outside<'a>(s: &'a str, separators: &[&str]) -> Vec<&'a str> {
    let bytes = s.as_bytes();
    let mut parts = Vec::new();
    let (mut start, mut skip_to) = (0, 0);
    for (i, depth) in depths(bytes) {
        if i < skip_to || depth != 0 || is_bracket(bytes[i]) {
            continue;
        }
        let rest = &bytes[i..];
        if let Some(separator) = separators
            .iter()
            .find(|sep| rest.starts_with(sep.as_bytes()))
        {
            parts.push(&s[start..i]);
            start = i + separator.len();
            skip_to = start;
        }
    }
    parts.push(&s[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_read_alike_everywhere() {
        assert!(balanced("(a[b]{c})") && !balanced(")(") && !balanced("(("));
        assert!(first_closes_last(b"(1,2)") && !first_closes_last(b"(1,2),(3,4)"));
        assert_eq!(
            split_outside("(1,2),[3,4],5", &[","]),
            ["(1,2)", "[3,4]", "5"]
        );
        assert_eq!(
            split_outside("a or b or (c or d)", &[" or "]),
            ["a", "b", "(c or d)"]
        );
        assert_eq!(split_outside(",,", &[","]), ["", "", ""]);
        assert_eq!(split_outside("", &[","]), [""]);
    }
}
