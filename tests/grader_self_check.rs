//! The grader's self-check: every gold answer graded against its own reference solution text is
//! correct, for GSM8K train and test, MATH test and MATH-500.

mod common;

use bestofn::grade::{grade, Gold};
use bestofn::records::read_problems;

fn self_check(relative: &str, expected_count: usize) {
    if common::skip(relative, &[common::Need::SharedData]) {
        return;
    }
    let path = common::shared_data(relative);
    let problems = read_problems(&path).unwrap();
    assert_eq!(problems.len(), expected_count, "{relative}");
    let mut failures = Vec::new();
    for problem in &problems {
        let gold = Gold::new(problem.answer.as_deref().expect("gold answer"));
        let solution = problem.solution.as_deref().expect("reference solution");
        let verdict = grade(solution, problem.style, Some(&gold));
        if verdict.correct != Some(true) {
            failures.push(format!(
                "{}: gold {:?} (normalized {:?}), extracted {:?}",
                problem.id, problem.answer, gold.normalized, verdict.extracted
            ));
        }
        // The gold answer graded against itself, as the bare answer and boxed.
        let bare = problem.answer.as_deref().unwrap();
        assert!(
            gold.matches(&bestofn::grade::normalize(bare)),
            "{}: {bare:?}",
            problem.id
        );
    }
    assert!(
        failures.is_empty(),
        "{relative}: {} of {} fail the self-check:\n{}",
        failures.len(),
        problems.len(),
        failures[..failures.len().min(40)].join("\n")
    );
}

#[test]
fn gsm8k_train() {
    self_check("gsm8k/train.jsonl", 7473);
}

#[test]
fn gsm8k_test() {
    self_check("gsm8k/test.jsonl", 1319);
}

#[test]
fn math_test() {
    self_check("math/test.jsonl", 5000);
}

#[test]
fn math500() {
    self_check("math500/test.jsonl", 500);
}
