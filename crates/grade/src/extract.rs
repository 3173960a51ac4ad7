//! Finding the final answer in free text. Every function is a single forward or backward scan:
//! no regular expressions, no backtracking, linear in the input length.

use super::AnswerStyle;

/// Content of the last `\boxed{...}` (or `\fbox{...}`), braces matched with nesting.
/// `\boxed 5` (no braces) yields the following token. `None` when absent or unterminated.
pub fn last_boxed(text: &str) -> Option<&str> {
    last_box_before(text, text.len()).map(|(_, content)| content)
}

/// The last box that starts before `limit`: its start and its content.
fn last_box_before(text: &str, limit: usize) -> Option<(usize, &str)> {
    let head = &text[..limit];
    let (start, command) = ["\\boxed", "\\fbox"]
        .iter()
        .filter_map(|c| memrfind(head, c).map(|i| (i, *c)))
        .max_by_key(|(i, _)| *i)?;
    box_content(&text[start + command.len()..]).map(|(content, _)| (start, content))
}

/// The content of a box from just after its command, and the length it spans there.
fn box_content(after: &str) -> Option<(&str, usize)> {
    let trimmed = after.trim_start();
    let skipped = after.len() - trimmed.len();
    if let Some(body) = trimmed.strip_prefix('{') {
        let bytes = body.as_bytes();
        let mut depth = 1usize;
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                // An escaped brace is a literal, not a group delimiter.
                b'\\' => i += 1,
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some((&body[..i], skipped + 1 + i + 1));
                    }
                }
                _ => {}
            }
            i += 1;
        }
        None
    } else if skipped > 0 {
        // `\boxed 5`: the token up to whitespace or a closing `$`.
        let end = trimmed
            .find(|c: char| c.is_whitespace() || c == '$')
            .unwrap_or(trimmed.len());
        (end > 0).then(|| (&trimmed[..end], skipped + end))
    } else {
        None
    }
}

/// Most boxes read as the parts of one answer.
const MAX_JOINED_BOXES: usize = 32;

/// The final answer in boxes: the last box, together with the boxes just before it that only
/// separators part from it (`\boxed{1}, \boxed{2}`, `\boxed{(2,2)} \quad\text{and}\quad
/// \boxed{(6,2)}`): several boxes in a row are one answer given in parts. Returned with the
/// byte offset just past the last box.
fn final_boxes(text: &str) -> Option<(usize, String)> {
    let (mut start, last) = last_box_before(text, text.len())?;
    let end = last.as_ptr() as usize - text.as_ptr() as usize + last.len() + 1;
    let mut parts = vec![last];
    while parts.len() < MAX_JOINED_BOXES {
        let Some((previous, content)) = last_box_before(text, start) else {
            break;
        };
        let command = if text[previous..].starts_with("\\fbox") {
            5
        } else {
            6
        };
        let Some((_, span)) = box_content(&text[previous + command..]) else {
            break;
        };
        // A box around the later one (`\boxed{\boxed{1}}`) is not a part before it.
        let Some(gap) = text.get(previous + command + span..start) else {
            break;
        };
        if !only_separators(gap) {
            break;
        }
        parts.push(content);
        start = previous;
    }
    // The same answer boxed twice in two spellings (`x+11` or `11+x`) is that answer.
    if parts[1..].iter().all(|part| crate::equivalent(part, last)) {
        return Some((end, last.to_owned()));
    }
    parts.reverse();
    Some((end, parts.join(", ")))
}

/// Every box on the line of the last box, joined, when there are two or more: `\boxed{(3,3)} \text{ for part (a) and } \boxed{(1,1)}` read whole. A
/// second reading, tried when the first is wrong (MATH's own solutions box alternatives this way,
/// and their gold answer is the last box).
pub fn final_line_boxes(text: &str) -> Option<String> {
    let text = response_only(text);
    let (start, _) = last_box_before(text, text.len())?;
    let line_start = memchr::memrchr(b'\n', &text.as_bytes()[..start]).map_or(0, |i| i + 1);
    let mut parts = Vec::new();
    let mut limit = text.len();
    while let Some((at, content)) = last_box_before(text, limit) {
        if at < line_start || parts.len() == MAX_JOINED_BOXES {
            break;
        }
        parts.push(content);
        limit = at;
    }
    if parts.len() < 2 {
        return None;
    }
    parts.reverse();
    Some(parts.join(", "))
}

/// Text after a chat template's turn marker is not the response (a model that ran on into the
/// next turn): the response ends at the first marker that follows some text.
fn response_only(text: &str) -> &str {
    const MARKERS: [&str; 5] = [
        "<|im_start|>",
        "<|im_end|>",
        "<|endoftext|>",
        "<|eot_id|>",
        "<|end_of_text|>",
    ];
    let Some(first) = memchr::memmem::find(text.as_bytes(), b"<|") else {
        return text;
    };
    let mut end = text.len();
    for marker in MARKERS {
        let mut from = first;
        while let Some(at) = text[from..].find(marker).map(|i| i + from) {
            if !text[..at].trim().is_empty() || at + marker.len() >= text.len() {
                end = end.min(at);
                break;
            }
            from = at + marker.len();
        }
    }
    &text[..end]
}

/// Whether `gap` holds nothing but what parts the boxes of one answer, or of several
/// candidates, within one math span: commas, spacing, "and", "or" (bare or in `\text{}`).
/// Boxes so parted are read together (`\boxed{6} \text{ or } \boxed{5}` names two candidates,
/// so it is not the answer 5). Boxes in separate math spans (`$\boxed{-2}$ and $\boxed{1}$`)
/// are not joined: MATH's own solutions write their alternatives that way and keep the last
/// box as the gold answer (the second reading joins them when the last is wrong).
fn only_separators(gap: &str) -> bool {
    const SEPARATORS: [&str; 8] = ["\\quad", "\\qquad", "\\,", "\\;", "and", "or", ",", ";"];
    let mut rest = gap.trim();
    while !rest.is_empty() {
        let token = SEPARATORS
            .iter()
            .find(|t| rest.starts_with(**t))
            .map(|t| t.len())
            .or_else(|| text_separator(rest));
        match token {
            Some(length) => rest = rest[length..].trim_start(),
            None => return false,
        }
    }
    true
}

/// The length of a `\text{ and }` / `\mbox{or}` at the start of `rest` (any spacing inside).
fn text_separator(rest: &str) -> Option<usize> {
    let command = ["\\text{", "\\mbox{", "\\textrm{"]
        .into_iter()
        .find(|c| rest.starts_with(c))?;
    let close = rest.find('}')?;
    let word = rest[command.len()..close].trim();
    matches!(word, "and" | "or" | ",").then_some(close + 1)
}

/// Gold answer of a GSM8K reference solution: what follows the last `####`, commas removed.
pub fn gsm8k_gold(solution: &str) -> Option<String> {
    let tail = &solution[memrfind(solution, "####")? + 4..];
    let line = tail.lines().next().unwrap_or("").trim();
    let gold: String = line.chars().filter(|&c| c != ',').collect();
    (!gold.is_empty()).then_some(gold)
}

/// A number written in text: optional sign, optional `$`, thousands separators, decimals and a
/// `/denominator`. Returned without `$` and separators.
#[derive(Debug, PartialEq)]
struct NumberToken {
    /// Byte offset just past the token.
    end: usize,
    value: String,
}

/// Scans the number token that begins at byte `i`, if one does.
fn number_at(bytes: &[u8], i: usize) -> Option<NumberToken> {
    let is_digit = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_digit);
    let starts_here =
        is_digit(i) || (bytes[i] == b'.' && is_digit(i + 1) && !is_digit(i.wrapping_sub(1)));
    if !starts_here
        || (i > 0 && (is_digit(i - 1) || bytes[i - 1] == b'.' && is_digit(i.wrapping_sub(2))))
    {
        return None;
    }
    // A minus sign counts when it is not a binary operator: "-5", "-$5", "= -5", not "16-3".
    let mut negative = false;
    let mut k = i;
    if k > 0 && bytes[k - 1] == b'$' {
        k -= 1;
    }
    if k > 0 && bytes[k - 1] == b'-' && (k < 2 || !bytes[k - 2].is_ascii_alphanumeric()) {
        negative = true;
    }
    let mut value = String::new();
    if negative {
        value.push('-');
    }
    let mut j = i;
    // Thousands separators: commas, or single spaces (`1 000`) after a first group of at most
    // three digits; one kind per number.
    let mut separator = None;
    while j < bytes.len() {
        let b = bytes[j];
        let group_follows = (1..=3).all(|d| is_digit(j + d)) && !is_digit(j + 4);
        let separates = match b {
            b',' => j > i && separator != Some(b' '),
            b' ' => match separator {
                Some(used) => used == b' ',
                None => (1..=3).contains(&(j - i)),
            },
            _ => false,
        };
        if b.is_ascii_digit() {
            value.push(b as char);
            j += 1;
        } else if separates && group_follows {
            separator = Some(b);
            j += 1;
        } else {
            break;
        }
    }
    if j < bytes.len() && bytes[j] == b'.' && is_digit(j + 1) {
        value.push('.');
        j += 1;
        while is_digit(j) {
            value.push(bytes[j] as char);
            j += 1;
        }
    }
    if j < bytes.len() && bytes[j] == b'/' && is_digit(j + 1) {
        value.push('/');
        j += 1;
        while is_digit(j) {
            value.push(bytes[j] as char);
            j += 1;
        }
    }
    if !value.contains('/') {
        if let Some((power, end)) = scale_after(bytes, j) {
            return Some(NumberToken {
                end,
                value: scaled(&value, power),
            });
        }
        if let Some(end) = word_after(bytes, j, "dozen") {
            return Some(NumberToken {
                end,
                value: dozens(&value),
            });
        }
    }
    Some(NumberToken { end: j, value })
}

/// The last number in the text.
pub fn last_number(text: &str) -> Option<String> {
    numbers(text).last().map(|number| number.value)
}

/// A number found in a text: where it starts and ends, and its value.
struct Found {
    start: usize,
    end: usize,
    value: String,
}

/// The numbers of the text in order, each scanned once. Digits with letters on both sides are
/// part of a word ("AZYUK2A"), not a number.
fn numbers(text: &str) -> impl Iterator<Item = Found> + '_ {
    let bytes = text.as_bytes();
    let letter = move |j: usize| bytes.get(j).is_some_and(u8::is_ascii_alphabetic);
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() {
            let start = i;
            match number_at(bytes, start) {
                Some(token) => {
                    i = token.end.max(start + 1);
                    if !(start > 0 && letter(start - 1) && letter(token.end)) {
                        return Some(Found {
                            start,
                            end: token.end,
                            value: token.value,
                        });
                    }
                }
                None => i += 1,
            }
        }
        None
    })
}

/// Scale words that multiply the number before them ("18 thousand" is 18000), with their power
/// of ten.
const SCALES: [(&str, usize); 5] = [
    ("hundred", 2),
    ("thousand", 3),
    ("million", 6),
    ("billion", 9),
    ("trillion", 12),
];

/// `value` (digits with an optional sign and decimal point) times 10^`power`, written exactly:
/// the decimal point moves, no float is involved.
pub(crate) fn scaled(value: &str, power: usize) -> String {
    let (sign, digits) = value.split_at(usize::from(value.starts_with('-')));
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    let mut frac = frac_part.to_owned();
    while frac.len() < power {
        frac.push('0');
    }
    let (moved, rest) = frac.split_at(power);
    let int_part = format!("{int_part}{moved}");
    let int_part = match int_part.trim_start_matches('0') {
        "" => "0",
        trimmed => trimmed,
    };
    if rest.is_empty() {
        format!("{sign}{int_part}")
    } else {
        format!("{sign}{int_part}.{rest}")
    }
}

/// The power of ten of a scale word right after a number ending at `end` (" million"), and the
/// byte just past it.
fn scale_after(bytes: &[u8], end: usize) -> Option<(usize, usize)> {
    SCALES
        .iter()
        .find_map(|&(word, power)| Some((power, word_after(bytes, end, word)?)))
}

/// The byte just past `word` when it follows a number ending at `end` after one space (ASCII
/// case ignored, a whole word).
fn word_after(bytes: &[u8], end: usize, word: &str) -> Option<usize> {
    let rest = bytes.get(end..)?;
    let after = 1 + word.len();
    let matches = rest.first() == Some(&b' ')
        && rest.len() >= after
        && rest[1..after].eq_ignore_ascii_case(word.as_bytes())
        && !rest.get(after).is_some_and(u8::is_ascii_alphabetic);
    matches.then_some(end + after)
}

/// `value` dozen, exactly ("1.5 dozen" is 18).
fn dozens(value: &str) -> String {
    match crate::number::parse_number(value) {
        Some(crate::Number::Exact(r)) => r.mul(&crate::Rational::integer(12)).to_string(),
        _ => value.to_owned(),
    }
}

/// Words that negate the answer right after them ("the answer is not 18"), and any contraction
/// ending in "n't" ("isn't", "doesn't").
const NEGATIONS: [&str; 6] = ["not", "isnt", "never", "no", "cannot", "neither"];

/// Words that hedge a statement wherever they stand in it ("maybe the answer is 18").
const HEDGES: [&str; 8] = [
    "maybe",
    "perhaps",
    "possibly",
    "probably",
    "might",
    "either",
    "unsure",
    "uncertain",
];

/// Words that, negated anywhere before an answer, hedge it ("I am not sure the answer is 18").
const CERTAINTY: [&str; 3] = ["sure", "certain", "confident"];

/// Words right after a number that make it part of an operation, not an answer ("5 squared",
/// "5 halves"): the value stated is not the number. ("Quarters" are also coins.)
const OPERATIONS: [&str; 11] = [
    "squared", "cubed", "halves", "thirds", "fourths", "fifths", "sixths", "sevenths", "eighths",
    "ninths", "tenths",
];

/// Words that make a number an operand when another number follows them ("5 times 3", "5
/// percent of 200", "5 divided by 2"; "3 times" and "60% of the students" state an answer).
const BINARY_OPERATIONS: [&str; 6] = ["times", "plus", "minus", "divided", "multiplied", "percent"];

/// Whether `before`, the words of a sentence before its answer, disown it: a negation among
/// the last two words ("is not 18"; "the girls not in the club number 40" keeps its 40), or a
/// hedge anywhere.
fn disowns(before: &str) -> bool {
    let negation = |word: &str| word.ends_with("n't") || one_of(word, &NEGATIONS);
    let mut words = before
        // `_` joins an identifier (`flowers_not_grown = 5` says nothing of the 5).
        .split(|c: char| !(c.is_ascii_alphabetic() || c == '\'' || c == '_'))
        .filter(|word| !word.is_empty());
    let mut last_two = [""; 2];
    for word in words.by_ref() {
        if one_of(word, &HEDGES) || (one_of(word, &CERTAINTY) && last_two.into_iter().any(negation))
        {
            return true;
        }
        last_two = [last_two[1], word];
    }
    last_two.into_iter().any(negation)
}

/// Whether a GSM8K answer is offered with an alternative right after it ("18 or 20", "18 or
/// maybe 20", "$18 or $20"): "or", then a number of another value. "216 seconds or 3 minutes"
/// restates one answer in other units, "0.7 or 70%" as a percent.
fn offers_alternatives(after_answer: &str, answer: &str) -> bool {
    let rest = after_answer.trim_start();
    if !rest
        .get(..3)
        .is_some_and(|or| or.eq_ignore_ascii_case("or "))
    {
        return false;
    }
    let alternative = rest[3..]
        .split_whitespace()
        .find(|word| !one_of(word, &HEDGES))
        .unwrap_or("");
    let alternative = alternative.trim_start_matches('$');
    let value = crate::number::parse_number;
    let same = |other: &str| {
        value(other)
            .zip(value(answer))
            .is_some_and(|(a, b)| a.equals(&b))
    };
    // "4/7 or 57.14%": the answer again as a percent (rounded), not another answer.
    let as_percent = |other: &Found| {
        alternative[other.end..].starts_with('%')
            && value(&other.value)
                .zip(value(answer))
                .is_some_and(|(p, a)| (p.to_f64() / 100.0 - a.to_f64()).abs() <= 0.005)
    };
    numbers(alternative)
        .next()
        .is_some_and(|other| other.start == 0 && !same(&other.value) && !as_percent(&other))
}

/// Whether `word` is in `list`, ASCII case ignored (no allocation: grading's hot path).
pub(crate) fn one_of(word: &str, list: &[&str]) -> bool {
    list.iter().any(|w| word.eq_ignore_ascii_case(w))
}

/// Whether `word` changes a number's value when it follows it: a scale word ("million",
/// "dozen") or an operation ("squared"). Such a word is never a unit.
pub(crate) fn scales_or_operates(word: &str) -> bool {
    one_of(word, &OPERATIONS)
        || word.eq_ignore_ascii_case("dozen")
        || SCALES
            .iter()
            .any(|(scale, _)| word.eq_ignore_ascii_case(scale))
}

/// Whether the words right after a number make it an operand ("squared", "times 3", "percent
/// of 200", "% of 200") rather than the value stated.
pub(crate) fn operation_follows(after_number: &str) -> bool {
    let rest = after_number.trim_start_matches(['$', ' ']);
    let (first, rest) = match rest.strip_prefix('%') {
        Some(rest) => ("percent", rest),
        None => rest.split_at(rest.bytes().take_while(u8::is_ascii_alphabetic).count()),
    };
    if one_of(first, &OPERATIONS) {
        return true;
    }
    // "5 times 3", "5 divided by 2", "5% of 200": an operand, when a number follows.
    let rest = rest.trim_start();
    let rest = ["by ", "of "]
        .iter()
        .find_map(|word| rest.strip_prefix(word))
        .unwrap_or(rest)
        .trim_start_matches(['$', ' ']);
    one_of(first, &BINARY_OPERATIONS) && rest.starts_with(|c: char| c.is_ascii_digit())
}

/// What a statement says: an answer, or that it disowns the one it names.
#[derive(Debug, PartialEq)]
enum Stated {
    Answer(String),
    /// Negated or hedged ("not 18", "maybe 18", "18 or 20"): no answer is stated.
    Disowned,
}

/// The answer in a statement such as the rest of an "answer is" line (see [`statement`]); none
/// when the statement disowns it.
pub fn stated_answer(text: &str, style: AnswerStyle) -> Option<String> {
    match statement(text, style)? {
        Stated::Answer(answer) => Some(answer),
        Stated::Disowned => None,
    }
}

/// What a statement says: its first sentence's answer — for GSM8K style the first number after
/// the last `=` of that sentence ("24 - 9 = 15" → 15) — or that it disowns the answer it names
/// (a negation or hedge before it, or, GSM8K style, an alternative after it).
fn statement(text: &str, style: AnswerStyle) -> Option<Stated> {
    let line = text.trim_start().lines().next().unwrap_or("");
    let sentence = match line.find(". ") {
        Some(end) => &line[..end],
        None => line,
    };
    // An answer (a number, math) disowned by the words before it states nothing.
    if let Some(answer_start) = sentence.find(|c: char| c.is_ascii_digit() || c == '$' || c == '\\')
    {
        if disowns(&sentence[..answer_start]) {
            return Some(Stated::Disowned);
        }
    }
    match style {
        AnswerStyle::Gsm8k => {
            let result_at = sentence.rfind('=').map_or(0, |eq| eq + 1);
            let (end, answer) = numbers(&sentence[result_at..])
                .next()
                .map(|found| (result_at + found.end, found.value))
                .or_else(|| {
                    numbers(sentence)
                        .next()
                        .map(|found| (found.end, found.value))
                })?;
            if offers_alternatives(&sentence[end..], &answer) || operation_follows(&sentence[end..])
            {
                return Some(Stated::Disowned);
            }
            Some(Stated::Answer(answer))
        }
        AnswerStyle::Math => {
            let answer = sentence
                .trim()
                .trim_start_matches([':', '*'])
                .trim_end_matches(['.', '*'])
                .trim();
            if answer.is_empty() {
                return None;
            }
            // "The largest $n$ is 34": a sentence, not an answer; its answer is its last math.
            if is_prose(answer) {
                if numbers(answer).any(|found| operation_follows(&answer[found.end..])) {
                    return Some(Stated::Disowned);
                }
                if let Some(found) = last_math_token(answer) {
                    return Some(Stated::Answer(found.text));
                }
            }
            Some(Stated::Answer(answer.to_owned()))
        }
    }
}

/// Whether a stated answer is a sentence: a word of three or more letters outside math spans
/// that is not a LaTeX command (`\frac`) or a joining word ("1 and 2" is an answer).
fn is_prose(answer: &str) -> bool {
    let outside = without_math_spans(answer);
    let bytes = outside.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_alphabetic() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            let word = &outside[start..i];
            let command = start > 0 && bytes[start - 1] == b'\\';
            if !command && word.len() >= 3 && !matches!(word, "and" | "And" | "AND") {
                return true;
            }
        } else {
            i += 1;
        }
    }
    false
}

/// The text with every math span cut out.
fn without_math_spans(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end, _) in math_spans(text) {
        out.push_str(&text[at..start]);
        out.push(' ');
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

/// The last math of a sentence: a number after its last math span, else that span's content.
fn last_math_token(sentence: &str) -> Option<MathToken> {
    let spans = math_spans(sentence);
    let last_span = spans.last().copied();
    let after = last_span.map_or(0, |(_, end, _)| end);
    let number = numbers(&sentence[after..]).last().map(|found| MathToken {
        start: after + found.start,
        end: after + found.end,
        text: found.value,
    });
    number
        .or_else(|| {
            last_span.map(|(start, end, content)| MathToken {
                start,
                end,
                text: content.trim().to_owned(),
            })
        })
        .filter(|found| !found.text.is_empty())
}

/// A number or math span found in a sentence, with where it starts and ends.
struct MathToken {
    start: usize,
    end: usize,
    text: String,
}

/// The math spans of `text` (`$$…$$`, `$…$`, `\(…\)`, `\[…\]`) in order, as (start, end,
/// content); an escaped `\$` is a dollar sign. One forward scan.
fn math_spans(text: &str) -> Vec<(usize, usize, &str)> {
    const DELIMITERS: [(&str, &str); 4] =
        [("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$")];
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'$') {
            i += 2;
            continue;
        }
        let Some((open, close)) = DELIMITERS
            .iter()
            .find(|(open, _)| bytes[i..].starts_with(open.as_bytes()))
        else {
            i += 1;
            continue;
        };
        let body = i + open.len();
        match find_unescaped(&text[body..], close) {
            Some(length) => {
                spans.push((i, body + length + close.len(), &text[body..body + length]));
                i = body + length + close.len();
            }
            None => break,
        }
    }
    spans
}

/// The first `close` in `text` that no backslash escapes (`\$` inside `$...$` is a dollar sign).
fn find_unescaped(text: &str, close: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = text[from..].find(close).map(|i| i + from) {
        if at == 0 || text.as_bytes()[at - 1] != b'\\' || close.starts_with('\\') {
            return Some(at);
        }
        from = at + close.len();
    }
    None
}

/// The fallback answer of a MATH-style response that states none: the last math of its last
/// sentence that has any ("Answer $ 9 $", "Therefore $x \geq 5$ is the solution.", "... there
/// are 12 sequences. I hope it is correct." → 12): that sentence's last math span, or a number
/// after it.
fn final_sentence_math(text: &str) -> Option<String> {
    let spans = math_spans(text);
    // Spans are in order and disjoint: the one that could hold `at` is the last starting at or
    // before it (a binary search, so many spans and many sentences stay linear-logarithmic).
    let inside = |at: usize| {
        let before = spans.partition_point(|(start, _, _)| *start <= at);
        before > 0 && at < spans[before - 1].1
    };
    let bytes = text.as_bytes();
    let mut end = text.len();
    let mut boundaries = memchr::memrchr3_iter(b'.', b'\n', b'?', bytes)
        .filter(|&at| {
            let after = bytes.get(at + 1);
            (bytes[at] == b'\n' || after.is_none_or(u8::is_ascii_whitespace)) && !inside(at)
        })
        .chain(std::iter::once(0));
    loop {
        let start = boundaries.next()?;
        let sentence = &text[start..end];
        if let Some(found) = last_math_token(sentence) {
            // "So it is not 18.", "It is 5 squared.": the sentence disowns its math.
            let owned =
                !disowns(&sentence[..found.start]) && !operation_follows(&sentence[found.end..]);
            return owned.then_some(found.text);
        }
        if start == 0 {
            return None;
        }
        end = start;
    }
}

/// Last occurrence of `needle`, found by scanning backwards for its first byte (SIMD memchr).
fn memrfind(haystack: &str, needle: &str) -> Option<usize> {
    let (bytes, pattern) = (haystack.as_bytes(), needle.as_bytes());
    memchr::memrchr_iter(pattern[0], bytes).find(|&pos| bytes[pos..].starts_with(pattern))
}

/// Byte offsets just past the last "answer is" and the last "answer:" (ASCII case ignored), in
/// one backward scan.
fn after_answer_phrases(text: &str) -> [Option<usize>; 2] {
    let bytes = text.as_bytes();
    let mut found = [None, None];
    for pos in memchr::memrchr2_iter(b'a', b'A', bytes) {
        let rest = &bytes[pos..];
        if rest.len() < 7 || !rest[..6].eq_ignore_ascii_case(b"answer") {
            continue;
        }
        for (slot, suffix) in found.iter_mut().zip(ANSWER_PHRASE_SUFFIXES) {
            let end = 6 + suffix.len();
            if slot.is_none()
                && rest.len() >= end
                && rest[6..end].eq_ignore_ascii_case(suffix.as_bytes())
            {
                *slot = Some(pos + end);
            }
        }
        if found.iter().all(Option::is_some) {
            break;
        }
    }
    found
}

/// What follows "answer" in the phrases that introduce a final answer, tried in order after
/// `\boxed{}` and `####`: "answer is", then "answer:".
const ANSWER_PHRASE_SUFFIXES: [&str; 2] = [" is", ":"];

/// The raw final answer stated in `text` (up to any chat-template turn marker), tried in order:
/// 1. the last `\boxed{}` / `\fbox{}`, with the boxes just before it that only separators part
///    from it (one answer given in parts), unless an "answer is" / "answer:" statement with
///    math in it follows the box (the box was an intermediate result);
/// 2. the last `#### N` line;
/// 3. the last line starting `A: N` (the GSM8K paper's format);
/// 4. the last "answer is ..." then "answer: ..." (case-insensitive), rest of that line;
/// 5. GSM8K style: the last number anywhere in the text; MATH style: the last math of the last
///    sentence that has any.
pub fn extract(text: &str, style: AnswerStyle) -> Option<String> {
    let text = response_only(text);
    let phrases = after_answer_phrases(text);
    if let Some((box_end, boxed)) = final_boxes(text) {
        let later = phrases
            .iter()
            .flatten()
            .filter(|&&at| at > box_end)
            .find_map(|&at| stated_answer(&text[at..], style))
            .filter(|stated| stated.contains(|c: char| c.is_ascii_digit() || c == '\\'));
        return Some(later.unwrap_or(boxed));
    }
    let final_line = memrfind(text, "\nA:")
        .map(|pos| pos + 3)
        .or_else(|| text.starts_with("A:").then_some(2));
    // `#### N`, then the GSM8K paper's final line `A: N`, then "answer is", then "answer:".
    let statements = memrfind(text, "####")
        .map(|pos| pos + 4)
        .into_iter()
        .chain(final_line)
        .chain(phrases.into_iter().flatten());
    for start in statements {
        // "Maybe the answer is 18": the sentence's words before its answer phrase count too.
        let lead = &text[sentence_start(text, start)..start];
        match statement(&text[start..], style) {
            Some(_) if disowns(lead) => return None,
            Some(Stated::Answer(answer)) => return Some(answer),
            Some(Stated::Disowned) => return None,
            None => {}
        }
    }
    match style {
        AnswerStyle::Gsm8k => last_owned_number(text),
        AnswerStyle::Math => final_sentence_math(text),
    }
}

/// The last number of a text that states no answer, unless the words right before it in its
/// sentence disown it ("..., so it is not 18.").
fn last_owned_number(text: &str) -> Option<String> {
    let mut previous_end = 0;
    let mut last = None;
    for found in numbers(text) {
        last = Some((previous_end, found.start, found.end, found.value));
        previous_end = found.end;
    }
    let (from, start, end, value) = last?;
    let sentence_start = sentence_start(&text[from..], start - from) + from;
    let owned = !disowns(&text[sentence_start..start]) && !operation_follows(&text[end..]);
    owned.then_some(value)
}

/// Where the sentence holding byte `at` of `text` starts.
fn sentence_start(text: &str, at: usize) -> usize {
    text[..at]
        .rfind(['.', '\n', '?', '!'])
        .map_or(0, |end| end + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxed_with_nesting_and_escapes() {
        assert_eq!(
            last_boxed("so \\boxed{\\frac{1}{2}}."),
            Some("\\frac{1}{2}")
        );
        assert_eq!(last_boxed("\\boxed{1} then \\boxed{2}"), Some("2"));
        assert_eq!(last_boxed("\\boxed{\\{1,2\\}}"), Some("\\{1,2\\}"));
        assert_eq!(last_boxed("$\\boxed 5$"), Some("5"));
        assert_eq!(last_boxed("\\fbox{7}"), Some("7"));
        assert_eq!(last_boxed("\\boxed{unterminated"), None);
        assert_eq!(last_boxed("no box"), None);
    }

    fn answer_in_boxes(text: &str) -> Option<String> {
        final_boxes(text).map(|(_, answer)| answer)
    }

    #[test]
    fn boxes_in_a_row_are_one_answer() {
        assert_eq!(
            answer_in_boxes("\\boxed{1},\\boxed{2},\\boxed{3}").as_deref(),
            Some("1, 2, 3")
        );
        assert_eq!(
            answer_in_boxes("$$\\boxed{(2, 2)} \\quad \\text{and} \\quad \\boxed{(6, 2)}$$")
                .as_deref(),
            Some("(2, 2), (6, 2)")
        );
        // In one math span, two answers joined by "and" or offered by "or" are read together
        // (neither alone is the answer), unless they are one answer in two spellings; boxes in
        // separate spans are MATH's alternatives: the last box answers.
        assert_eq!(
            answer_in_boxes("\\boxed{x+11} \\text{ or } \\boxed{11+x}").as_deref(),
            Some("11+x")
        );
        assert_eq!(
            answer_in_boxes("are $\\boxed{-2}$ and $\\boxed{1}$.").as_deref(),
            Some("1")
        );
        assert_eq!(
            answer_in_boxes("\\boxed{6} \\text{ or } \\boxed{5}").as_deref(),
            Some("6, 5")
        );
        // An intermediate box is not part of the final answer.
        assert_eq!(
            answer_in_boxes("so \\boxed{200} after six months; in all \\boxed{10455}").as_deref(),
            Some("10455")
        );
        let many: String = (0..100).map(|i| format!("\\boxed{{{i}}},")).collect();
        assert_eq!(
            answer_in_boxes(&many).unwrap().split(", ").count(),
            MAX_JOINED_BOXES
        );
    }

    #[test]
    fn gsm8k_forms() {
        let g = AnswerStyle::Gsm8k;
        assert_eq!(extract("so 5+13 = 18\n#### 18", g).as_deref(), Some("18"));
        assert_eq!(extract("The answer is $1,080.", g).as_deref(), Some("1080"));
        assert_eq!(
            extract("The answer is -$5.50 today", g).as_deref(),
            Some("-5.50")
        );
        assert_eq!(
            extract("Answer: 3/4 of the cake", g).as_deref(),
            Some("3/4")
        );
        assert_eq!(extract("16-3-4=9 eggs, 9*2=18.", g).as_deref(), Some("18"));
        assert_eq!(extract("nothing here", g), None);
        // A number glued inside a word is no answer; a unit after a number is fine.
        assert_eq!(extract("The answer is AZYUK2A.", g), None);
        assert_eq!(extract("The answer is 10am.", g).as_deref(), Some("10"));
        // A stated answer wins over later numbers.
        assert_eq!(
            extract("The answer is 7. Check: 3+4=7, 10", g).as_deref(),
            Some("7")
        );
        // The result of a stated computation, not its first operand.
        assert_eq!(
            extract("The answer is 24 - 9 = 15.", g).as_deref(),
            Some("15")
        );
        assert_eq!(
            extract("The answer is $22. She sells 9 for $18", g).as_deref(),
            Some("22")
        );
    }

    #[test]
    fn math_forms() {
        let m = AnswerStyle::Math;
        assert_eq!(
            extract(
                "Final Answer: The final answer is $5$. I hope it is correct.",
                m
            )
            .as_deref(),
            Some("$5$")
        );
        // No stated answer: the last math of the last sentence with any.
        assert_eq!(extract("we get 5 apples", m).as_deref(), Some("5"));
        assert_eq!(
            extract("so there are 12 ways. I hope it is correct.", m).as_deref(),
            Some("12")
        );
        assert_eq!(
            extract("We get $$x = 2.$$ So it increases by 100%.", m).as_deref(),
            Some("100")
        );
        assert_eq!(
            extract("Answer $ \\frac{1}{2} \\$ = \\frac{10}{9} $", m).as_deref(),
            Some("\\frac{1}{2} \\$ = \\frac{10}{9}")
        );
        // A sentence stated as the answer: its last math.
        assert_eq!(
            extract("Final Answer: The largest $n$ is 34.", m).as_deref(),
            Some("34")
        );
        assert_eq!(
            extract("The answer is: the volume of ABCDEFGH is 120", m).as_deref(),
            Some("120")
        );
        assert_eq!(
            extract("The answer is 1 and 2.", m).as_deref(),
            Some("1 and 2")
        );
        assert_eq!(
            extract("The answer is \\text{Monday}.", m).as_deref(),
            Some("\\text{Monday}")
        );
        // No stated answer: the last math span.
        assert_eq!(extract("Answer \\[ 9 \\]", m).as_deref(), Some("9"));
        assert_eq!(
            extract("Therefore $x \\geq 5$ is the solution.", m).as_deref(),
            Some("x \\geq 5")
        );
        assert_eq!(extract("It costs \\$5 and \\$6.", m).as_deref(), Some("6"));
        assert_eq!(extract("open $x = 1", m).as_deref(), Some("1"));
        assert_eq!(extract("no math at all.", m), None);
    }

    #[test]
    fn a_later_final_answer_beats_an_intermediate_box() {
        let m = AnswerStyle::Math;
        let text = "so $\\boxed{255}$ in interest. Final Answer: The final answer is $10,455$.";
        assert_eq!(extract(text, m).as_deref(), Some("$10,455$"));
        // A later statement without math does not.
        let text = "so $\\boxed{255}$. The answer is correct, I think.";
        assert_eq!(extract(text, m).as_deref(), Some("255"));
    }

    #[test]
    fn the_next_chat_turn_is_not_the_response() {
        let g = AnswerStyle::Gsm8k;
        let text = "The total is 12.<|im_end|>\n<|im_start|>user\nNow 99 more";
        assert_eq!(extract(text, g).as_deref(), Some("12"));
        let text = "<|im_start|>assistant\nIt is 7.";
        assert_eq!(extract(text, g).as_deref(), Some("7"));
    }

    #[test]
    fn every_box_of_the_final_line_is_a_second_reading() {
        let text = "$$\\boxed{(3, 3)} \\text{ for part (a) and } \\boxed{(1, 1)}$$";
        assert_eq!(final_line_boxes(text).as_deref(), Some("(3, 3), (1, 1)"));
        // Boxes on earlier lines are not part of it; one box has no second reading.
        assert_eq!(
            final_line_boxes("\\boxed{1}\nso \\boxed{2} for (a), \\boxed{3} for (b)").as_deref(),
            Some("2, 3")
        );
        assert_eq!(final_line_boxes("\\boxed{1}\n\\boxed{2}"), None);
        // Boxes the first reading already joins read the same (the grader skips an equal reading).
        assert_eq!(
            final_line_boxes("\\boxed{1}, \\boxed{2}").as_deref(),
            Some("1, 2")
        );
    }

    #[test]
    fn numbers_do_not_split_inside_tokens() {
        assert_eq!(last_number("costs $1,234.50 each"), Some("1234.50".into()));
        assert_eq!(last_number("1,23"), Some("23".into()));
        assert_eq!(last_number("x = -3"), Some("-3".into()));
        assert_eq!(last_number("ratio .5"), Some(".5".into()));
        // Spaced thousands, one kind of separator per number.
        assert_eq!(last_number("is 1 000 000."), Some("1000000".into()));
        assert_eq!(last_number("is 1000 000"), Some("000".into()));
        assert_eq!(last_number("1,000 000"), Some("000".into()));
        assert_eq!(last_number("between 12 and 14"), Some("14".into()));
    }

    #[test]
    fn scans_are_linear_on_adversarial_input() {
        let text = "\\boxed{".repeat(20_000) + &"answer is ".repeat(20_000) + &"1,".repeat(50_000);
        let _ = extract(&text, AnswerStyle::Gsm8k);
        let _ = extract(&text, AnswerStyle::Math);
        // Many math spans, then many sentences with no math: each sentence end is looked up
        // among the spans once.
        let text = "$x$ ".repeat(100_000) + &"no. ".repeat(100_000);
        assert_eq!(extract(&text, AnswerStyle::Math).as_deref(), Some("x"));
    }
}
