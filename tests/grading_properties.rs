//! Property tests of extraction and grading on random and adversarial inputs: the grader is
//! total (never panics) on any text, and the identity test agrees with algebra on random
//! expressions. Case counts are fixed, so the run's length is bounded.

use bestofn::grade::{equivalent, grade, normalize, AnswerStyle, Gold};
use proptest::prelude::*;

/// Pieces of LaTeX answers and responses, including the malformed and the adversarial.
const TOKENS: &[&str] = &[
    "\\boxed{",
    "\\fbox{",
    "{",
    "}",
    "$",
    "$$",
    "\\(",
    "\\)",
    "\\[",
    "\\]",
    "\\frac",
    "\\dfrac{1}{2}",
    "\\sqrt",
    "\\sqrt[3]{",
    "^",
    "_",
    "(",
    ")",
    "[",
    "]",
    "\\{",
    "\\}",
    ",",
    ";",
    "=",
    "<",
    "\\leq",
    "\\geq",
    "\\neq",
    "\\pm",
    "\\cup",
    "\\in",
    "+",
    "-",
    "\\cdot",
    "*",
    "/",
    "!",
    "|",
    "&",
    "\\\\",
    "\\begin{pmatrix}",
    "\\end{pmatrix}",
    "\\text{",
    "\\left(",
    "\\right)",
    "\\sin",
    "\\log_",
    "\\pi",
    "\\infty",
    "\\sum_{k=0}^{n}",
    "x",
    "y",
    "e",
    "n",
    "ab",
    "word",
    " and ",
    " or ",
    "%",
    "1",
    "2",
    "0",
    "17",
    "3.5",
    ".",
    "1,000",
    "1 000",
    "\u{2212}",
    "\u{00a0}",
    "\u{200b}",
    "The answer is ",
    "#### ",
    "\nA: ",
    "Final Answer: ",
    ". ",
    "\n",
    "<|im_start|>",
    "é",
    "\\",
];

fn latexish() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..60).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn grading_is_total_on_latexish_text(response in latexish(), gold in latexish()) {
        let gold = Gold::new(&gold);
        for style in [AnswerStyle::Gsm8k, AnswerStyle::Math] {
            let verdict = grade(&response, style, Some(&gold));
            prop_assert!(verdict.correct.is_some());
            let _ = bestofn::grade::explain(&response, style, Some(&gold));
        }
    }

    #[test]
    fn grading_is_total_on_any_text(response in any::<String>(), gold in any::<String>()) {
        let gold = Gold::new(&gold);
        prop_assert!(grade(&response, AnswerStyle::Math, Some(&gold)).correct.is_some());
    }

    #[test]
    fn an_answer_equals_itself(answer in latexish()) {
        // An answer that normalizes to nothing is no answer, equal to nothing.
        if !normalize(&answer).is_empty() {
            prop_assert!(equivalent(&answer, &answer));
        }
    }
}

/// A random polynomial-and-function expression, as LaTeX, with a second spelling of it that is
/// equal by algebra (terms in reverse order, products commuted, a fraction split).
#[derive(Debug, Clone)]
struct Term {
    coefficient: i32,
    factor: &'static str,
}

fn terms() -> impl Strategy<Value = Vec<Term>> {
    let factor =
        prop::sample::select(&["x", "y^{2}", "\\sin(x)", "\\sqrt{y+4}", "e^{x}", "xy", "1"][..]);
    prop::collection::vec(
        (1i32..9, factor).prop_map(|(coefficient, factor)| Term {
            coefficient,
            factor,
        }),
        1..8,
    )
}

fn spell(terms: &[Term]) -> String {
    let parts: Vec<String> = terms
        .iter()
        .map(|t| format!("{}\\cdot{}", t.coefficient, t.factor))
        .collect();
    parts.join("+")
}

fn respell(terms: &[Term]) -> String {
    let parts: Vec<String> = terms
        .iter()
        .rev()
        .map(|t| format!("\\frac{{{}\\cdot{}}}{{2}}\\cdot2", t.factor, t.coefficient))
        .collect();
    parts.join("+")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_identity_test_agrees_with_algebra(terms in terms(), shift in 1i32..5) {
        let (a, b) = (spell(&terms), respell(&terms));
        prop_assert!(equivalent(&a, &b), "{a} vs {b}");
        let shifted = format!("{b}+{shift}");
        prop_assert!(!equivalent(&a, &shifted), "{a} vs {shifted}");
    }
}

/// The minimal inputs with which the properties above once found panics.
#[test]
fn the_inputs_that_once_panicked() {
    for (response, gold) in [
        ("é", ""),
        ("¡", ""),
        ("", "\u{a700}"),
        ("", "\\(\\boxed{\\)(\\)\\right)\\)\\(é+\\boxed{\\boxed{\\["),
        ("\\boxed{\\boxed{}}", ""),
        ("\\boxed{\\boxed{1}}", "1"),
    ] {
        let gold = Gold::new(gold);
        for style in [AnswerStyle::Gsm8k, AnswerStyle::Math] {
            assert!(grade(response, style, Some(&gold)).correct.is_some());
        }
    }
    assert_eq!(
        grade(
            "\\boxed{\\boxed{1}}",
            AnswerStyle::Math,
            Some(&Gold::new("1"))
        )
        .correct,
        Some(true)
    );
}
