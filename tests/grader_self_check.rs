//! The grader's self-check: every gold answer graded against its own reference solution text is
//! correct, for GSM8K train and test, MATH test and MATH-500 — but for the references, listed
//! by id, that box several candidates in one math span: as responses they name several answers
//! (not the gold alone); read as golds they are their last box, the gold.

mod common;

use bestofn::grade::{grade, Gold};
use bestofn::records::read_problems;

fn self_check(relative: &str, expected_count: usize, expected_several: &[&str]) {
    if common::skip(relative, &[common::Need::SharedData]) {
        return;
    }
    let path = common::shared_data(relative);
    let problems = read_problems(&path, &Default::default()).unwrap();
    assert_eq!(problems.len(), expected_count, "{relative}");
    let mut failures = Vec::new();
    let mut several = Vec::new();
    for problem in &problems {
        let gold = Gold::new(problem.answer.as_deref().expect("gold answer"));
        let solution = problem.solution.as_deref().expect("reference solution");
        let verdict = grade(solution, problem.style, Some(&gold));
        if verdict.correct != Some(true) && several_candidates_ending_in_gold(solution, &gold) {
            // As a response, a reference that boxes several answers in one math span
            // (`\boxed{A} \text{ and } \boxed{B}`, "either is correct") names several
            // candidates, which is not the gold alone; as a gold, it is read as its last box.
            eprintln!(
                "{relative} {}: several candidates boxed, the last is the gold",
                problem.id
            );
            several.push(problem.id.clone());
            continue;
        }
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
    assert_eq!(
        several, expected_several,
        "{relative}: references boxing several candidates"
    );
    assert!(
        failures.is_empty(),
        "{relative}: {} of {} fail the self-check:\n{}",
        failures.len(),
        problems.len(),
        failures[..failures.len().min(40)].join("\n")
    );
}

/// Whether `solution`, read as a gold answer, is `gold` (its last box) while its final answer
/// read as a response joins several boxes.
fn several_candidates_ending_in_gold(solution: &str, gold: &Gold) -> bool {
    use bestofn::grade::{extract_answer, gold_answer, normalize, AnswerStyle};
    let joined = extract_answer(solution, AnswerStyle::Math).is_some_and(|a| a.contains(','));
    joined && gold.matches(&normalize(&gold_answer(solution)))
}

#[test]
fn gsm8k_train() {
    self_check("gsm8k/train.jsonl", 7473, &[]);
}

#[test]
fn gsm8k_test() {
    self_check("gsm8k/test.jsonl", 1319, &[]);
}

#[test]
fn math_test() {
    // 2912: "Enter the coordinates of one of the vertices, not both"; its solution boxes both.
    self_check("math/test.jsonl", 5000, &["2912"]);
}

#[test]
fn math500() {
    self_check("math500/test.jsonl", 500, &[]);
}
