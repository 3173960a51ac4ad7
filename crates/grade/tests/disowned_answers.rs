//! The class behind the grader's worst false positives: a response that names the gold answer
//! but disowns it — negated, hedged, offered beside a second candidate, scaled or used as an
//! operand — is never graded correct, in either answer style, whatever the number and the
//! reasoning before it. The same statement without the disowning words is graded correct, so
//! the property is not met by grading everything wrong.

use bestofn_grade::{grade, AnswerStyle, Gold};
use proptest::prelude::*;

/// A gold answer: an integer or a decimal, small or past what floats hold exactly.
fn gold_number() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u64..10_000).prop_map(|n| n.to_string()),
        (1u64..1_000, 1u64..100).prop_map(|(i, f)| format!("{i}.{f:02}")),
        (1u128..u128::MAX).prop_map(|n| n.to_string()),
    ]
}

/// Reasoning before the final statement: sentences with numbers of their own.
fn reasoning() -> impl Strategy<Value = String> {
    prop::collection::vec((1u32..500, 1u32..500), 0..3).prop_map(|steps| {
        steps
            .iter()
            .map(|(a, b)| {
                format!(
                    "She buys {a} apples and {b} pears, so {a} + {b} = {}.\n",
                    a + b
                )
            })
            .collect()
    })
}

/// A final statement of `n` that disowns it; `m` is another number.
fn disowning(n: &str, m: &str, form: usize) -> String {
    let forms = [
        format!("The answer is not {n}."),
        format!("The answer isn't {n}."),
        format!("So it is not {n}."),
        format!("Maybe the answer is {n}."),
        format!("The answer is probably {n}."),
        format!("I am not sure the answer is {n}."),
        format!("The answer is {n} or {m}."),
        format!("#### {n} or {m}"),
        format!("\\boxed{{{n}}} or \\boxed{{{m}}}"),
        format!("\\boxed{{{m}}} \\text{{ and }} \\boxed{{{n}}}"),
        format!("The answer is {n} thousand."),
        format!("The answer is {n} million."),
        format!("The answer is {n} dozen."),
        format!("\\boxed{{{n}\\text{{ million}}}}"),
        format!("The answer is {n} squared."),
        format!("The answer is {n} times {m}."),
        format!("The answer is {n}% of {m}."),
        format!("\\boxed{{{n} \\text{{ squared}}}}"),
        format!("\\boxed{{{n}\\text{{ is wrong}}}}"),
    ];
    forms[form % forms.len()].clone()
}

/// The same kinds of statement, owning `n`.
fn owning(n: &str, form: usize) -> String {
    let forms = [
        format!("The answer is {n}."),
        format!("#### {n}"),
        format!("\\boxed{{{n}}}"),
        format!("The answer is {n} apples."),
        format!("\\boxed{{{n}\\text{{ dollars}}}}"),
    ];
    forms[form % forms.len()].clone()
}

fn correct(gold: &str, response: &str, style: AnswerStyle) -> bool {
    grade(response, style, Some(&Gold::new(gold))).correct == Some(true)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn a_disowned_gold_answer_is_never_graded_correct(
        n in gold_number(),
        offset in 1u64..1_000,
        before in reasoning(),
        form in 0usize..1_000,
    ) {
        let m = format!("{}", n.split('.').next().unwrap().parse::<u128>().unwrap_or(0).wrapping_add(offset.into()));
        let response = format!("{before}{}", disowning(&n, &m, form));
        for style in AnswerStyle::ALL {
            prop_assert!(!correct(&n, &response, style), "{style}: {response:?} graded {n}");
        }
    }

    #[test]
    fn an_owned_gold_answer_is_graded_correct(
        n in gold_number(),
        before in reasoning(),
        form in 0usize..1_000,
    ) {
        let response = format!("{before}{}", owning(&n, form));
        for style in AnswerStyle::ALL {
            prop_assert!(correct(&n, &response, style), "{style}: {response:?} not graded {n}");
        }
    }
}
