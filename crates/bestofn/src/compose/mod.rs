//! `compose`: Compositional GSM ("Not All LLM Reasoners Are Created Equal"). Two GSM8K problems
//! are chained: Q1's answer becomes X, and one number of Q2's question is replaced by X. Q2's new
//! gold answer is recomputed by re-executing the `<<expr=result>>` calculator annotations of its
//! reference solution with X in place of that number.
//!
//! Re-execution follows the data flow of the annotations: a number in an expression that equals
//! the result of an earlier step is that step's (recomputed) result; any other number is a
//! constant, except the substituted question number, which becomes X. Only numbers that cannot be
//! confused with a step result are substituted: they must appear once in the question, be
//! positive integers outside a written fraction, feed at least one step, and differ from every
//! step's result.
//!
//! A pair is kept when the new answer is a positive integer that differs from the old one. Pairs
//! are drawn from a seeded permutation, so the same seed gives the same set.
//!
//! `calculator.rs` evaluates the annotations, `program.rs` traces their data flow, this file pairs
//! problems, and `write.rs` writes the sets.

mod calculator;
mod program;
mod write;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use serde_json::{json, Map, Value};

use crate::records::Problem;
use calculator::{close, parse_number};
pub use program::{annotations, question_numbers, Program, QuestionNumber, Step};
pub use write::{set_paths, write_sets, ComposedPaths};

/// A chained problem and the two standalone problems it is measured against.
#[derive(Debug, Clone)]
pub struct Composed {
    pub composed: Problem,
    /// Q2 with the substituted number replaced by X's value (the modified-Q2 set).
    pub modified_q2: Problem,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ComposeSummary {
    pub problems: usize,
    /// Problems whose annotations are complete: every expression can be read and a step states
    /// the gold answer.
    pub complete: usize,
    /// Of those, problems whose re-execution without substitution reproduces the gold answer.
    pub reproduced: usize,
    /// The complete problems whose re-execution does not give the gold answer.
    pub not_reproduced: Vec<String>,
    /// Problems with at least one number that can be substituted.
    pub substitutable: usize,
    pub pairs: usize,
    pub attempts: usize,
    /// Problems left out for more than [`MAX_ANNOTATIONS`] annotations or
    /// [`MAX_QUESTION_NUMBERS`] numbers in the question (no GSM8K problem comes near).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub too_large: Vec<String>,
}

/// The most calculator annotations of a solution that is composed: tracing each number to an
/// earlier step is quadratic in them, and tried once per question number.
pub const MAX_ANNOTATIONS: usize = 200;
/// The most numbers of a question that is composed.
pub const MAX_QUESTION_NUMBERS: usize = 200;

/// Whether a problem is small enough to compose (see [`MAX_ANNOTATIONS`]).
fn within_bounds(problem: &Problem) -> bool {
    let annotations = problem.solution.as_deref().map_or(0, |s| {
        memchr::memmem::find_iter(s.as_bytes(), b"<<").count()
    });
    annotations <= MAX_ANNOTATIONS
        && question_numbers(&problem.question).len() <= MAX_QUESTION_NUMBERS
}

impl std::fmt::Display for ComposeSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let share = |part: usize, whole: usize| 100.0 * part as f64 / whole.max(1) as f64;
        write!(
            f,
            "{} problems: {} with complete annotations ({:.1}%); re-executing them without \
             substitution reproduces the gold answer for {} ({:.2}%); {} have a substitutable \
             number; {} pairs built in {} attempts",
            self.problems,
            self.complete,
            share(self.complete, self.problems),
            self.reproduced,
            share(self.reproduced, self.complete),
            self.substitutable,
            self.pairs,
            self.attempts
        )?;
        if !self.too_large.is_empty() {
            write!(
                f,
                "; {} problems left out for more than {MAX_ANNOTATIONS} annotations or \
                 {MAX_QUESTION_NUMBERS} question numbers (first: {})",
                self.too_large.len(),
                self.too_large[0]
            )?;
        }
        Ok(())
    }
}

/// The prompt of the paper: Q1 defines X, Q2 uses it.
pub fn composed_prompt(q1: &str, q2_with_x: &str) -> String {
    format!(
        "Let X be the answer to the Q1:\n\nQ1: {}\n\nSolve it and use the value of X to solve Q2. \
         Explain your answer step by step.\n\nQ2: {}",
        q1.trim(),
        q2_with_x.trim()
    )
}

fn as_positive_integer(value: f64) -> Option<u64> {
    let rounded = value.round();
    (close(value, rounded) && (1.0..1e15).contains(&rounded)).then_some(rounded as u64)
}

/// One way to substitute a number of a problem.
struct Candidate {
    number: QuestionNumber,
    program: Program,
}

fn candidates(problem: &Problem, gold: f64) -> Vec<Candidate> {
    let Some(solution) = problem.solution.as_deref() else {
        return Vec::new();
    };
    let numbers = question_numbers(&problem.question);
    let Some(steps) = annotations(solution) else {
        return Vec::new();
    };
    // Part of a written fraction ("1/5 of her money"): X would make it a different kind of number.
    let in_fraction = |n: &QuestionNumber| {
        let bytes = problem.question.as_bytes();
        (n.start > 0 && bytes[n.start - 1] == b'/') || bytes.get(n.end) == Some(&b'/')
    };
    numbers
        .iter()
        .filter(|n| as_positive_integer(n.value).is_some() && !in_fraction(n))
        .filter(|n| numbers.iter().filter(|m| close(m.value, n.value)).count() == 1)
        .filter(|n| !steps.iter().any(|s| close(s.result, n.value)))
        .filter_map(|n| {
            let program = Program::compile(solution, gold, Some(n.value))?;
            (program.uses_x() && program.reproduces_every_step()).then(|| Candidate {
                number: n.clone(),
                program,
            })
        })
        .collect()
}

/// Builds up to `max_pairs` chained problems from `problems` (GSM8K with reference solutions).
pub fn compose(
    problems: &[Problem],
    max_pairs: usize,
    seed: u64,
) -> (Vec<Composed>, ComposeSummary) {
    let mut summary = ComposeSummary {
        problems: problems.len(),
        ..Default::default()
    };
    let bounded: Vec<bool> = problems.iter().map(within_bounds).collect();
    summary.too_large = problems
        .iter()
        .zip(&bounded)
        .filter(|(_, ok)| !**ok)
        .map(|(p, _)| p.id.clone())
        .collect();
    // A problem too large to compose takes part as neither Q1 nor Q2.
    let golds: Vec<Option<f64>> = problems
        .iter()
        .zip(&bounded)
        .map(|(p, ok)| p.answer.as_deref().and_then(parse_number).filter(|_| *ok))
        .collect();
    for (problem, gold) in problems.iter().zip(&golds) {
        let (Some(solution), Some(gold)) = (problem.solution.as_deref(), gold) else {
            continue;
        };
        if let Some(program) = Program::compile(solution, *gold, None) {
            summary.complete += 1;
            if program.original_answer().is_some_and(|a| close(a, *gold)) {
                summary.reproduced += 1;
            } else {
                summary.not_reproduced.push(problem.id.clone());
            }
        }
    }
    let substitutions: Vec<Vec<Candidate>> = problems
        .iter()
        .zip(&golds)
        .map(|(p, g)| g.map_or_else(Vec::new, |g| candidates(p, g)))
        .collect();
    summary.substitutable = substitutions.iter().filter(|c| !c.is_empty()).count();

    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let mut firsts: Vec<usize> = (0..problems.len())
        .filter(|&i| golds[i].and_then(as_positive_integer).is_some())
        .collect();
    let mut seconds: Vec<usize> = (0..problems.len())
        .filter(|&i| !substitutions[i].is_empty())
        .collect();
    firsts.shuffle(&mut rng);
    seconds.shuffle(&mut rng);
    let mut used_second = vec![false; problems.len()];
    let mut composed = Vec::new();
    'first: for &q1 in &firsts {
        if composed.len() >= max_pairs {
            break;
        }
        let x = as_positive_integer(golds[q1].expect("filtered")).expect("filtered");
        for &q2 in &seconds {
            if q2 == q1 || used_second[q2] {
                continue;
            }
            summary.attempts += 1;
            let old = golds[q2].expect("substitutable problems have a gold answer");
            let mut options: Vec<&Candidate> = substitutions[q2].iter().collect();
            options.shuffle(&mut rng);
            for candidate in options {
                let Some(new) = candidate
                    .program
                    .answer(x as f64)
                    .and_then(as_positive_integer)
                else {
                    continue;
                };
                if close(new as f64, old) {
                    continue;
                }
                used_second[q2] = true;
                composed.push(build(problems, q1, q2, x, new, candidate, composed.len()));
                continue 'first;
            }
        }
    }
    summary.pairs = composed.len();
    (composed, summary)
}

fn build(
    problems: &[Problem],
    q1: usize,
    q2: usize,
    x: u64,
    new: u64,
    candidate: &Candidate,
    index: usize,
) -> Composed {
    let (first, second) = (&problems[q1], &problems[q2]);
    let span = candidate.number.start..candidate.number.end;
    let original_text = &second.question[span.clone()];
    let mut with_x = second.question.clone();
    with_x.replace_range(span.clone(), "X");
    let mut with_value = second.question.clone();
    with_value.replace_range(span, &x.to_string());
    let id = format!("compose-{index}");
    let mut extra = Map::new();
    extra.insert("q1_id".into(), json!(first.id));
    extra.insert("q2_id".into(), json!(second.id));
    extra.insert("x".into(), json!(x));
    extra.insert("substituted".into(), json!(original_text));
    extra.insert("q2_question_with_x".into(), json!(with_x));
    extra.insert("q2_original_answer".into(), json!(second.answer));
    let composed = Problem {
        id: id.clone(),
        question: composed_prompt(&first.question, &with_x),
        answer: Some(new.to_string()),
        solution: None,
        style: second.style,
        extra: extra.clone(),
    };
    let mut q2_extra = Map::new();
    q2_extra.insert("composed_id".into(), Value::String(id.clone()));
    q2_extra.insert("q2_id".into(), json!(second.id));
    let modified_q2 = Problem {
        id: format!("{id}-q2"),
        question: with_value,
        answer: Some(new.to_string()),
        solution: None,
        style: second.style,
        extra: q2_extra,
    };
    Composed {
        composed,
        modified_q2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grade::AnswerStyle;

    fn gsm(id: &str, question: &str, solution: &str, answer: &str) -> Problem {
        Problem {
            id: id.into(),
            question: question.into(),
            answer: Some(answer.into()),
            solution: Some(solution.into()),
            style: AnswerStyle::Gsm8k,
            extra: Map::new(),
        }
    }

    const EGGS_Q: &str = "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her friends every day with four. She sells the remainder at the farmers' market daily for $2 per fresh duck egg. How much in dollars does she make every day at the farmers' market?";
    const EGGS_S: &str = "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\nShe makes 9 * 2 = $<<9*2=18>>18 every day at the farmer’s market.\n#### 18";

    #[test]
    fn composes_pairs_reproducibly() {
        let problems = vec![
            gsm("eggs", EGGS_Q, EGGS_S, "18"),
            gsm(
                "pens",
                "Tom buys 3 packs of 12 pens. How many pens does he have?",
                "He has 3*12=<<3*12=36>>36 pens.\n#### 36",
                "36",
            ),
            gsm(
                "cake",
                "A cake costs $7. How much do 5 cakes cost?",
                "5*7=<<5*7=35>>35\n#### 35",
                "35",
            ),
        ];
        let (pairs, summary) = compose(&problems, 10, 1);
        assert_eq!(summary.complete, 3);
        assert_eq!(summary.reproduced, 3);
        assert_eq!(summary.substitutable, 3);
        assert!(!pairs.is_empty());
        for pair in &pairs {
            let c = &pair.composed;
            assert!(c
                .question
                .starts_with("Let X be the answer to the Q1:\n\nQ1: "));
            assert!(c
                .question
                .contains("Solve it and use the value of X to solve Q2."));
            let x = c.extra["x"].as_u64().unwrap();
            let q1 = problems.iter().find(|p| p.id == c.extra["q1_id"]).unwrap();
            assert_eq!(q1.answer.as_deref(), Some(x.to_string().as_str()));
            assert_ne!(
                c.answer,
                c.extra["q2_original_answer"].as_str().map(str::to_owned)
            );
            assert!(pair.modified_q2.question.contains(&x.to_string()));
            assert!(!pair.modified_q2.question.contains('X'));
        }
        let again = compose(&problems, 10, 1).0;
        assert_eq!(
            pairs
                .iter()
                .map(|p| p.composed.question.clone())
                .collect::<Vec<_>>(),
            again
                .iter()
                .map(|p| p.composed.question.clone())
                .collect::<Vec<_>>()
        );
    }
}
