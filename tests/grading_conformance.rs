//! The grading conformance set of `../shared/data/grading-conformance/`: 259 cases from the test
//! suites of other graders (Math-Verify, hendrycks/math, lighteval, open-r1) with the verdict each
//! asserts. The score may only go up: the test fails below the floor measured for this grader.

mod common;

use std::collections::HashMap;

use bestofn::grade::{grade, Gold};
use bestofn::records::{read_problems, read_samples};

/// Cases graded as their source expects, as measured on this grader; raise it with every fix.
const FLOOR: usize = 259;

#[test]
fn conformance_score_does_not_drop() {
    if common::skip(
        "conformance_score_does_not_drop",
        &[common::Need::SharedData],
    ) {
        return;
    }
    let dir = common::shared_data("grading-conformance");
    let problems = read_problems(&dir.join("problems.jsonl")).unwrap();
    let samples = read_samples(&dir.join("samples.jsonl")).unwrap();
    let expected: HashMap<String, bool> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let by_id: HashMap<&str, _> = problems.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut misses = Vec::new();
    for sample in &samples {
        let problem = by_id[sample.problem_id.as_str()];
        let gold = problem.answer.as_deref().map(Gold::new);
        let verdict = grade(&sample.text, problem.style, gold.as_ref());
        let want = expected[&sample.problem_id];
        if verdict.correct != Some(want) {
            misses.push(format!(
                "{}: expected {want}, extracted {:?} vs gold {:?}",
                sample.problem_id, verdict.extracted, problem.answer
            ));
        }
    }
    let score = samples.len() - misses.len();
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "grading conformance: {score}/{} as the sources expect",
        samples.len()
    );
    assert_eq!(samples.len(), 259);
    assert!(
        score >= FLOOR,
        "{score}/259 is below the floor {FLOOR}; misses:\n{}",
        misses.join("\n")
    );
}
