//! Answer extraction and grading: total (never panics), linear-time, thread-safe (pure functions).
//!
//! A raw answer is found in the text (`extract`), normalized ([`normalize`]), and compared
//! with the gold answer by the first rule that applies ([`Rule`]): the same text; two numbers
//! equal as exact rationals of any size, or, for a float's printout (15.000000000000002), within
//! a relative 1e-9; the same canonical key ([`answer_key`]: numbers as reduced fractions, sets
//! and bare lists sorted); and last the typed answer tree ([`Answer`]), where constants are
//! evaluated exactly, complex numbers by value, other expressions by the identity test at
//! `identity::POINTS` points, and relations, sets, tuples and intervals by their rules; a value
//! found equal under another label than the gold's is not ([`Rule::DifferentLabels`]).

mod answer;
mod brackets;
mod complex;
mod explain;
mod expr;
mod extract;
pub mod hash;
mod identity;
mod normalize;
mod number;
mod spellings;
mod unicode;

use std::fmt;
use std::str::FromStr;

pub use answer::Answer;
pub use explain::{explain, Explanation};
pub use extract::{gsm8k_gold, last_boxed, last_number, stated_answer};
pub use normalize::normalize;
pub use number::{parse_number, Number, Rational};

/// How a final answer is stated in a solution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnswerStyle {
    /// Numeric answers; `\boxed{}`, `#### N`, "The answer is N", "answer: N", then the last number.
    Gsm8k,
    /// LaTeX answers; `\boxed{}`, `#### ...`, "The answer is ...", "answer: ...", then the last
    /// math of the final sentence.
    Math,
}

impl AnswerStyle {
    /// Every style.
    pub const ALL: [AnswerStyle; 2] = [AnswerStyle::Gsm8k, AnswerStyle::Math];

    /// The name [`FromStr`] reads and [`fmt::Display`] writes.
    pub fn name(self) -> &'static str {
        match self {
            AnswerStyle::Gsm8k => "gsm8k",
            AnswerStyle::Math => "math",
        }
    }

    /// What the style reads, in a line (for help texts).
    pub fn summary(self) -> &'static str {
        match self {
            AnswerStyle::Gsm8k => "Numeric answers; `\\boxed{}`, `#### N`, \"The answer is N\", \"answer: N\", then the last number",
            AnswerStyle::Math => "LaTeX answers; `\\boxed{}`, `#### ...`, \"The answer is ...\", \"answer: ...\", then the last math of the final sentence",
        }
    }

    /// MATH style when the gold answer is not a plain number or the solution boxes its answer.
    pub fn infer(answer: Option<&str>, solution: Option<&str>) -> Self {
        let numeric = answer.is_some_and(|a| {
            let normalized = normalize(a);
            !normalized.contains('\\') && parse_number(&normalized).is_some()
        });
        let boxed = solution.is_some_and(|s| s.contains("\\boxed"));
        if numeric && !boxed {
            AnswerStyle::Gsm8k
        } else {
            AnswerStyle::Math
        }
    }
}

impl FromStr for AnswerStyle {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "gsm8k" => Ok(AnswerStyle::Gsm8k),
            "math" => Ok(AnswerStyle::Math),
            other => Err(format!(
                "unknown answer style {other:?} (expected gsm8k or math)"
            )),
        }
    }
}

impl fmt::Display for AnswerStyle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The normalized final answer stated in `text`, if any.
pub fn extract_answer(text: &str, style: AnswerStyle) -> Option<String> {
    normalized_answer(&extract_raw(text, style)?)
}

/// A raw answer normalized; `None` when nothing is left.
pub fn normalized_answer(raw: &str) -> Option<String> {
    let normalized = normalize(raw);
    (!normalized.is_empty()).then_some(normalized)
}

/// The final answer as found in `text`, before normalization.
pub fn extract_raw(text: &str, style: AnswerStyle) -> Option<String> {
    extract::extract(&unicode::clean(text), style)
}

/// Nesting depth past which structured answers are compared as plain strings.
const MAX_STRUCTURE_DEPTH: usize = 4;

/// Canonical key of a normalized answer: equal keys mean equivalent answers.
pub fn answer_key(normalized: &str) -> String {
    key_at_depth(normalized, 0)
}

fn key_at_depth(s: &str, depth: usize) -> String {
    if let Some(n) = parse_number(s) {
        return n.canonical();
    }
    if depth >= MAX_STRUCTURE_DEPTH {
        return s.to_owned();
    }
    let elements = |inner: &str| -> Vec<String> {
        split_top_level(inner)
            .into_iter()
            .map(|e| key_at_depth(e, depth + 1))
            .collect()
    };
    if let Some(inner) = s.strip_prefix("\\{").and_then(|r| r.strip_suffix("\\}")) {
        let mut items = elements(inner);
        items.sort_unstable();
        return format!("{{{}}}", items.join(","));
    }
    if let Some((open, inner, close)) = enclosed(s) {
        if split_top_level(inner).len() > 1 {
            return format!("{open}{}{close}", elements(inner).join(","));
        }
    }
    if split_top_level(s).len() > 1 {
        // A bare list ("2, -3"): the solutions of an equation, in any order: a set.
        let mut items = elements(s);
        items.sort_unstable();
        return format!("{{{}}}", items.join(","));
    }
    s.to_owned()
}

/// `(a, b)` or `[a, b)`: the opening bracket, what it encloses, and the closing one, when the
/// first bracket closes at the end (`(1,2),(3,4)` is a list, not one tuple).
fn enclosed(s: &str) -> Option<(char, &str, char)> {
    let bytes = s.as_bytes();
    let whole = s.len() >= 2
        && matches!(bytes[0], b'(' | b'[')
        && matches!(bytes[s.len() - 1], b')' | b']')
        && brackets::first_closes_last(bytes);
    whole.then(|| {
        let (open, close) = (bytes[0] as char, bytes[s.len() - 1] as char);
        (open, &s[1..s.len() - 1], close)
    })
}

/// Splits on commas outside any brackets.
fn split_top_level(s: &str) -> Vec<&str> {
    brackets::split_outside(s, &[","])
}

/// The rule that decided a comparison, in the order they are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// No answer was found in the response.
    NoAnswer,
    /// The normalized answers are the same text.
    SameText,
    /// Both are numbers: equal, or not, as exact rationals (a float's printout within a relative
    /// 1e-9).
    Numbers,
    /// The same canonical key (reduced fractions, sorted sets and lists).
    CanonicalKey,
    /// Equivalent answer trees.
    AnswerTree,
    /// Equal values that label different things (`\tan x = 2` is not `\cot x = 2`).
    DifferentLabels,
    /// No rule found them equal.
    NoRuleMatched,
}

impl Rule {
    /// What the rule means, for explanations.
    pub fn describe(self) -> &'static str {
        match self {
            Rule::NoAnswer => "no answer was found in the response",
            Rule::SameText => "the normalized answers are the same text",
            Rule::Numbers => "both are numbers, compared as exact rationals (a float's printout within a relative 1e-9)",
            Rule::CanonicalKey => "the canonical keys are equal (reduced fractions, sets and lists sorted)",
            Rule::AnswerTree => {
                "the parsed answers are equivalent (expressions equal at every sample point, \
                 relations proportional, sets and lists matched element by element)"
            }
            Rule::DifferentLabels => {
                "the values are equal but name different things (a label is dropped only when \
                 one side has none or both have the same)"
            }
            Rule::NoRuleMatched => {
                "no rule finds them equal: different numbers, structures or values at the sample points"
            }
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::NoAnswer => "no-answer",
            Rule::SameText => "same-text",
            Rule::Numbers => "numbers",
            Rule::CanonicalKey => "canonical-key",
            Rule::AnswerTree => "answer-tree",
            Rule::DifferentLabels => "different-labels",
            Rule::NoRuleMatched => "no-rule-matched",
        })
    }
}

/// The answer in a gold given as a reference solution (`... #### 18`, `... \boxed{5}`), else the
/// gold as given: the one reading of a gold answer for every entry point (CLI, Python).
pub fn gold_answer(gold: &str) -> std::borrow::Cow<'_, str> {
    if let Some(answer) = gsm8k_gold(gold) {
        return answer.into();
    }
    if gold.contains("\\boxed") || gold.contains("\\fbox") {
        if let Some(answer) = last_boxed(gold) {
            return answer.into();
        }
    }
    gold.into()
}

/// A gold answer read by [`gold_answer`] and prepared once, with the style to grade in: `style`,
/// else the style inferred from that answer and the response. What every one-pair entry point
/// (`bestofn grade --gold`, the Python `grade`/`explain`) grades with, so they cannot disagree.
pub fn pair_gold(gold: &str, response: &str, style: Option<AnswerStyle>) -> (Gold, AnswerStyle) {
    let gold = gold_answer(gold);
    let style = style.unwrap_or_else(|| AnswerStyle::infer(Some(&gold), Some(response)));
    (Gold::new(&gold), style)
}

/// A gold answer prepared once for grading many samples against it.
#[derive(Debug, Clone)]
pub struct Gold {
    pub normalized: String,
    key: String,
    number: Option<Number>,
    tree: Answer,
    /// What the gold names, when normalization dropped a label (`\tan x = 2` → `\tanx`).
    label: Option<String>,
}

impl Gold {
    pub fn new(answer: &str) -> Self {
        let normalized = normalize(answer);
        Gold {
            key: answer_key(&normalized),
            number: parse_number(&normalized),
            tree: Answer::parse(&normalized),
            label: dropped_label(answer),
            normalized,
        }
    }

    /// The gold answer's parsed form.
    pub fn tree(&self) -> &Answer {
        &self.tree
    }

    /// Whether a normalized predicted answer is equivalent to this gold answer.
    pub fn matches(&self, predicted: &str) -> bool {
        self.decide(predicted).0
    }

    /// Whether a normalized predicted answer is equivalent, and the rule that decided it.
    pub fn decide(&self, predicted: &str) -> (bool, Rule) {
        if predicted == self.normalized {
            return (true, Rule::SameText);
        }
        if let (Some(gold), Some(pred)) = (&self.number, parse_number(predicted)) {
            return (gold.equals(&pred), Rule::Numbers);
        }
        if answer_key(predicted) == self.key {
            return (true, Rule::CanonicalKey);
        }
        if answer::same(&Answer::parse(predicted), &self.tree) {
            return (true, Rule::AnswerTree);
        }
        (false, Rule::NoRuleMatched)
    }
}

/// Whether two raw answers are equivalent.
pub fn equivalent(a: &str, b: &str) -> bool {
    Gold::new(b).matches(&normalize(a))
}

/// The labeler's verdict on one sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub extracted: Option<String>,
    /// `None` when there is no gold answer to compare with.
    pub correct: Option<bool>,
}

/// Extracts the answer of `text` and compares it with `gold`. No answer found counts as wrong.
pub fn grade(text: &str, style: AnswerStyle, gold: Option<&Gold>) -> Verdict {
    let extracted = extract_answer(text, style);
    let correct = gold.map(|g| g.judge(text, extracted.as_deref()).correct);
    Verdict { extracted, correct }
}

/// How a response's answer was judged against a gold answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Judgement {
    pub correct: bool,
    pub rule: Rule,
    /// Decided on the second reading: every box of the final line together.
    pub final_line_boxes: bool,
}

/// Every box on the final line of `text` together, normalized (see
/// [`extract::final_line_boxes`]).
pub(crate) fn second_reading(text: &str) -> Option<String> {
    extract::final_line_boxes(&unicode::clean(text)).map(|raw| normalize(&raw))
}

/// The label normalization drops from `raw` (`\tan x = 2` → `\tanx`, `f(x) = 2` → `f(x)`),
/// normalized: the left side of one `=` whose right side alone normalizes as the whole does.
fn dropped_label(raw: &str) -> Option<String> {
    let sides = brackets::split_outside(raw, &["="]);
    let [label, value] = sides[..] else {
        return None;
    };
    let label = normalize(label);
    let labelled = normalize::is_label(&label) && normalize(raw) == normalize(value);
    labelled.then_some(label)
}

impl Gold {
    /// Judges the answer `extracted` from `text`; when it is wrong and the final line holds
    /// several boxes, their joint reading is judged too. A right value under another label
    /// than the gold's is wrong.
    pub fn judge(&self, text: &str, extracted: Option<&str>) -> Judgement {
        let judgement = self.judge_readings(text, extracted);
        if judgement.correct && self.labels_differ(text) {
            return Judgement {
                correct: false,
                rule: Rule::DifferentLabels,
                final_line_boxes: false,
            };
        }
        judgement
    }

    /// Whether the gold and the answer of `text` both label their value, differently.
    fn labels_differ(&self, text: &str) -> bool {
        let Some(gold_label) = &self.label else {
            return false;
        };
        let label = extract_raw(text, AnswerStyle::Math).and_then(|raw| dropped_label(&raw));
        label.is_some_and(|label| {
            label != *gold_label
                && !answer::same(&Answer::parse(&label), &Answer::parse(gold_label))
        })
    }

    fn judge_readings(&self, text: &str, extracted: Option<&str>) -> Judgement {
        let first = self.judge_answer(extracted);
        if first.correct || !text.contains("\\boxed") {
            return first;
        }
        let joint = second_reading(text).filter(|joint| Some(joint.as_str()) != extracted);
        match joint.map(|joint| self.decide(&joint)) {
            Some((true, rule)) => Judgement {
                correct: true,
                rule,
                final_line_boxes: true,
            },
            _ => first,
        }
    }

    /// Judges an answer given alone (no text to read a second time); none found is wrong.
    pub fn judge_answer(&self, extracted: Option<&str>) -> Judgement {
        let (correct, rule) = match extracted {
            Some(answer) => self.decide(answer),
            None => (false, Rule::NoAnswer),
        };
        Judgement {
            correct,
            rule,
            final_line_boxes: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unicode_minus_is_a_minus() {
        let gold = Gold::new("18");
        let verdict = grade("so #### \u{2212}18", AnswerStyle::Gsm8k, Some(&gold));
        assert_eq!(verdict.extracted.as_deref(), Some("-18"));
        assert_eq!(verdict.correct, Some(false));
        assert!(Gold::new("\u{2212}18").matches("-18"));
        // Thin-spaced thousands are one number.
        assert_eq!(
            grade(
                "The answer is 1\u{2009}000.",
                AnswerStyle::Gsm8k,
                Some(&Gold::new("1000"))
            )
            .correct,
            Some(true)
        );
    }

    #[test]
    fn equivalences() {
        let yes = [
            ("18", "18.0"),
            ("18.00", "18"),
            ("$1,000", "1000"),
            ("0.5", "\\frac{1}{2}"),
            ("\\dfrac{1}{2}", "\\frac12"),
            ("(1, 2)", "\\left(1,2\\right)"),
            ("\\{3, 1\\}", "\\{1,3\\}"),
            ("2, -3", "-3,2"),
            ("[0, \\frac{1}{2})", "[0,0.5)"),
            ("x=5", "5"),
            ("10\\text{ inches}", "10"),
            ("45^\\circ", "45"),
            ("\\text{(B)}", "B"),
            // Percent written any way; \cfrac; parentheses around one value; doubled backslashes.
            ("28%", "28\\%"),
            ("28 percent", "28\\%"),
            ("28 pct", "28"),
            ("\\cfrac{1}{3}", "1/3"),
            // Relations in one spelling and orientation; chains and approximations.
            ("x \\geq 5", "x >= 5"),
            ("5 \\geq x", "x \\leq 5"),
            ("x != 3", "x \\neq 3"),
            ("x = 5+5+1 = 7 = 11", "x = 11"),
            ("x \\approx 11", "11"),
            // Labelled answers are their values; words joining answers make a list.
            ("(p,q)=(3,2)", "(3,2)"),
            ("|AB|=1", "1"),
            ("f(x)=1", "1"),
            ("AB=4,CD=5", "4, 5"),
            ("V_{1}:V_{2}=11:21", "11:21"),
            ("1 and -2", "-2,1"),
            ("6 \\text{ and } 8", "6,8"),
            ("(11,7) or (7,11)", "(7,11),(11,7)"),
            ("1, 2, 3", "\\{3,2,1\\}"),
            ("\\pm 2021", "-2021, 2021"),
            ("3 \\pm \\sqrt{2}", "3+\\sqrt{2}, 3-\\sqrt{2}"),
            ("x \\lt 3", "x < 3"),
            ("x \\in [-2, 7]", "[-2,7]"),
            ("-2 \\le x \\le 7", "[-2,7]"),
            ("0 < f(x) < 1", "(0,1)"),
            ("\\frac{1}{3} \\textbf{meters}", "1/3"),
            (
                "\\begin{bmatrix}0 & 0 \\\\ 0 & 0\\end{bmatrix}",
                "\\begin{pmatrix}0&0\\\\0&0\\end{pmatrix}",
            ),
            (
                "\\left[\\begin{array}{cc}1 & 2 \\\\ 3 & 4\\end{array}\\right]",
                "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",
            ),
            ("\\frac{1}{3} \\approx 0.33", "1/3"),
            ("\\left( \\frac{1}{3} \\right)", "1/3"),
            (
                "\\\\left(3, \\\\frac{\\pi}{2}\\\\right)",
                "(3, \\frac{\\pi}{2})",
            ),
        ];
        for (a, b) in yes {
            assert!(equivalent(a, b), "{a} should equal {b}");
        }
        let no = [
            ("18", "19"),
            ("(1,2)", "(2,1)"),
            ("[0,1)", "(0,1)"),
            ("0.333", "\\frac{1}{3}"),
            ("\\sqrt{2}", "2"),
            ("", "0"),
            ("(1)(2)", "1)(2"),
            ("x%", "x"),
            ("x \\geq 5", "x \\leq 5"),
            ("x = 1, y = 2", "2"),
            ("x^2 + y^2 = 1", "1"),
            ("2x + 4y = 3", "3"),
            ("Brand", "Br,d"),
            ("32, 349", "32349"),
            ("2 pi", "2"),
        ];
        for (a, b) in no {
            assert!(!equivalent(a, b), "{a} should differ from {b}");
        }
    }

    #[test]
    fn grading_counts_missing_answers_as_wrong() {
        let gold = Gold::new("42");
        assert_eq!(
            grade("no idea", AnswerStyle::Math, Some(&gold)).correct,
            Some(false)
        );
        assert_eq!(
            grade("#### 42", AnswerStyle::Gsm8k, Some(&gold)).correct,
            Some(true)
        );
        assert_eq!(grade("#### 42", AnswerStyle::Gsm8k, None).correct, None);
    }

    #[test]
    fn adversarial_answers_finish() {
        // Quadratic work on any of these would not finish in a test's lifetime.
        let nested = "{".repeat(200_000) + &"}".repeat(200_000);
        let list = "(1,".repeat(100_000) + &")".repeat(100_000);
        let fracs = "\\frac".repeat(100_000);
        let texts = "\\text{".repeat(100_000);
        for s in [nested, list, fracs, texts] {
            let normalized = normalize(&s);
            let _ = answer_key(&normalized);
            let _ = Gold::new(&s).matches(&normalized);
        }
    }

    #[test]
    fn style_inference() {
        assert_eq!(AnswerStyle::infer(Some("18"), None), AnswerStyle::Gsm8k);
        assert_eq!(
            AnswerStyle::infer(Some("\\frac{1}{2}"), None),
            AnswerStyle::Math
        );
        assert_eq!(
            AnswerStyle::infer(Some("2"), Some("so \\boxed{2}")),
            AnswerStyle::Math
        );
    }

    /// Whether `response` is graded correct against `gold`, each style.
    fn correct(gold: &str, response: &str) -> [bool; 2] {
        AnswerStyle::ALL
            .map(|style| grade(response, style, Some(&Gold::new(gold))).correct == Some(true))
    }

    #[test]
    fn negated_hedged_scaled_and_near_huge_answers_are_not_the_gold() {
        for number in ["18", "7", "250", "3.5"] {
            for disowned in [
                format!("The answer is not {number}."),
                format!("The answer isn't {number}."),
                format!("So she does not make {number}."),
                format!("Maybe the answer is {number}."),
                format!("The answer is probably {number}."),
                format!("The answer is {number} or 99."),
                format!("The answer is {number} or maybe 99."),
                format!("#### perhaps {number}"),
            ] {
                assert!(!correct(number, &disowned)[0], "{disowned}");
            }
            for owned in [
                format!("The answer is {number}, not 99."),
                format!("The girls not in the club number 120 - 80 = {number}."),
                format!("The answer is {number} seconds or 3 minutes."),
                format!("flowers_not_grown = {number}"),
                format!(
                    "The answer is {number} or {}%.",
                    number.parse::<f64>().unwrap() * 100.0
                ),
            ] {
                assert!(correct(number, &owned)[0], "{owned}");
            }
        }
        assert_eq!(correct("18", "The answer is 18 thousand."), [false, false]);
        assert_eq!(correct("18000", "The answer is 18 thousand."), [true, true]);
        assert_eq!(
            correct("1500000", "The answer is $1.5 million."),
            [true, true]
        );
        assert_eq!(
            correct("-2500", "The answer is -2.5 thousand."),
            [true, true]
        );
        let huge = "12345678901234567890";
        assert_eq!(
            correct(huge, "The answer is 12345678901234567891."),
            [false, false]
        );
        assert_eq!(
            correct(huge, &format!("The answer is {huge}.")),
            [true, true]
        );
        assert_eq!(
            correct("15", "The answer is 15.000000000000002"),
            [true, true]
        );
    }

    #[test]
    fn exact_values_compare_exactly_at_any_size_and_scale() {
        let same = |gold: &str, answer: &str| Gold::new(gold).matches(&normalize(answer));
        let e = |zeros: usize| format!("1{}", "0".repeat(zeros));
        // Integers past i128 and past f64's exact range, as numbers and as expressions.
        for (gold, near) in [
            ("4294967296", "4294967295"),
            ("2^{32}", "4294967295"),
            ("10^{30}", "10^{30}+1"),
            ("10^{42}", &format!("{}1", &e(41))),
            ("10^{-20}", "3\\cdot10^{-20}"),
            ("10^{-400}", "0"),
            ("0.000000001", "0"),
            ("(10^{20}+1)-10^{20}", "2"),
        ] {
            assert!(!same(gold, near), "{gold} vs {near}");
            assert!(!same(near, gold), "{near} vs {gold}");
        }
        for (gold, equal) in [
            ("2^{32}", "4294967296"),
            ("10^{42}", e(42).as_str()),
            ("(10^{20}+1)-10^{20}", "1"),
            ("\\frac{1}{3}", "0.3333333333333333"),
            ("\\sqrt{2}", "1.4142135623730951"),
            ("0", "\\sin\\pi"),
        ] {
            assert!(same(gold, equal), "{gold} vs {equal}");
        }
    }

    #[test]
    fn a_side_defined_where_the_other_is_not_is_a_difference() {
        let same = |gold: &str, answer: &str| Gold::new(gold).matches(&normalize(answer));
        assert!(!same("|x|", "\\frac{x\\sqrt{x}}{\\sqrt{x}}"));
        assert!(!same("x", "\\sqrt{x}^2"));
        assert!(same("\\sqrt{x}", "\\sqrt{x}"));
        assert!(same("x^{2/3}", "\\sqrt[3]{x}^2"));
    }

    #[test]
    fn a_label_is_dropped_only_when_one_side_has_none_or_both_the_same() {
        let judged = |gold: &str, response: &str| {
            Gold::new(gold).judge(
                response,
                extract_answer(response, AnswerStyle::Math).as_deref(),
            )
        };
        for (gold, response) in [
            ("\\tan x = 2", "\\boxed{\\cot x = 2}"),
            ("x = 2", "\\boxed{y = 2}"),
            ("f(x) = 2", "\\boxed{g(x) = 2}"),
        ] {
            let judgement = judged(gold, response);
            assert!(!judgement.correct, "{gold} vs {response}");
            assert_eq!(judgement.rule, Rule::DifferentLabels);
        }
        for (gold, response) in [
            ("\\tan x = 2", "\\boxed{\\tan(x) = 2}"),
            ("x = 2", "\\boxed{2}"),
            ("2", "\\boxed{x = 2}"),
            ("AB = 2", "\\boxed{AB=2}"),
        ] {
            assert!(judged(gold, response).correct, "{gold} vs {response}");
        }
    }

    #[test]
    fn vectors_and_units_with_exponents_read_as_their_values() {
        let same = |gold: &str, answer: &str| Gold::new(gold).matches(&normalize(answer));
        let column = "\\begin{pmatrix}1\\\\2\\end{pmatrix}";
        for answer in ["(1,2)", "[1, 2]"] {
            assert!(same(column, answer), "{answer}");
            assert!(
                same("\\begin{pmatrix}1&2\\end{pmatrix}", answer),
                "{answer}"
            );
        }
        assert!(!same(column, "(2,1)"));
        assert!(!same(column, "(1,2,3)"));
        assert!(same("25", "25\\text{ m}^2"));
        assert!(same("25", "25 \\text{ cm}^{2}"));
        assert!(!same("25", "25\\text{ is wrong}"));
    }

    #[test]
    fn scale_words_move_the_decimal_point_exactly() {
        assert_eq!(extract::scaled("18", 3), "18000");
        assert_eq!(extract::scaled("1.5", 6), "1500000");
        assert_eq!(extract::scaled("-0.25", 2), "-25");
        assert_eq!(extract::scaled("1.23456", 3), "1234.56");
        assert_eq!(extract::scaled("0.001", 2), "0.1");
    }
}
