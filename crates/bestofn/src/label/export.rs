//! Verifier training data: one example per graded sample (question, solution, label).

use std::collections::HashSet;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

use crate::records::{group_by_problem, Problem, Sample};
use crate::stable_hash;

/// One training example for the verifier, as `verifier/` reads it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VerifierExample {
    pub problem_id: String,
    pub sample_idx: u32,
    pub question: String,
    pub solution: String,
    /// 1 when the solution's final answer is correct.
    pub label: u8,
}

/// Which graded samples become examples.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Keep as many correct as incorrect samples per problem (problems with one class drop out).
    pub balance: bool,
    /// At most this many examples per problem, alternating correct and incorrect.
    pub max_per_problem: Option<usize>,
    /// Drop solutions whose text (whitespace collapsed) repeats one already kept for the problem.
    pub dedup: bool,
    /// Seed of the per-problem choice of which samples to keep.
    pub seed: u64,
}

/// Picks the examples; problems without gold (unlabeled samples) contribute nothing.
pub fn select_verifier_examples(
    problems: &[Problem],
    samples: &[Sample],
    options: &ExportOptions,
) -> Vec<VerifierExample> {
    let questions: std::collections::HashMap<&str, &str> = problems
        .iter()
        .map(|p| (p.id.as_str(), p.question.as_str()))
        .collect();
    let mut examples = Vec::new();
    for (problem_id, group) in group_by_problem(samples) {
        let Some(question) = questions.get(problem_id) else {
            continue;
        };
        let mut seen = HashSet::new();
        let (mut right, mut wrong): (Vec<&Sample>, Vec<&Sample>) = group
            .into_iter()
            .filter(|s| s.correct.is_some())
            .filter(|s| !options.dedup || seen.insert(collapse_whitespace(&s.text)))
            .partition(|s| s.correct == Some(true));
        let mut rng = Pcg64Mcg::seed_from_u64(options.seed ^ stable_hash(problem_id));
        right.shuffle(&mut rng);
        wrong.shuffle(&mut rng);
        if options.balance {
            let keep = right.len().min(wrong.len());
            right.truncate(keep);
            wrong.truncate(keep);
        }
        let mut chosen = interleave(right, wrong);
        if let Some(cap) = options.max_per_problem {
            chosen.truncate(cap);
        }
        chosen.sort_by_key(|s| s.sample_idx);
        examples.extend(chosen.into_iter().map(|s| VerifierExample {
            problem_id: problem_id.to_owned(),
            sample_idx: s.sample_idx,
            question: (*question).to_owned(),
            solution: s.text.clone(),
            label: u8::from(s.correct == Some(true)),
        }));
    }
    examples
}

fn interleave<'a>(a: Vec<&'a Sample>, b: Vec<&'a Sample>) -> Vec<&'a Sample> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter(), b.into_iter());
    loop {
        match (a.next(), b.next()) {
            (None, None) => return out,
            (x, y) => out.extend(x.into_iter().chain(y)),
        }
    }
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
