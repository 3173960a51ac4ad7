//! The reasoning gap of Compositional GSM ("Not All LLM Reasoners Are Created Equal"):
//! Δ = S_comp − S1·S2 over composed pairs, where S1 and S2 are the accuracies on the pairs' two
//! questions asked alone and S_comp the accuracy on the chained problem.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use crate::pool::build_pools;
use crate::records::{read_problems, read_verdicts, Problem};

/// Per-problem pass@1 (c/n) of the labeled samples in `path`.
fn accuracies(path: &Path) -> crate::Result<HashMap<String, f64>> {
    let set = read_verdicts(path, false)?;
    // An unlabeled sample is not a wrong one: counting it so would invent a gap.
    if let Some(unlabeled) = set.verdicts.iter().find(|v| v.correct.is_none()) {
        return Err(crate::Error::Inconsistent(format!(
            "{}: sample {} of problem {:?} has no `correct` label; label these samples against \
             their problems first (bestofn label)",
            path.display(),
            unlabeled.sample_idx,
            unlabeled.problem_id
        )));
    }
    Ok(build_pools(&set.verdicts)
        .iter()
        .map(|p| {
            (
                p.problem_id.clone(),
                p.num_correct() as f64 / p.len() as f64,
            )
        })
        .collect())
}

/// [`reasoning_gap`] from files: the composed problems and the labeled samples of the three sets.
pub fn reasoning_gap_from_files(
    composed: &Path,
    composed_samples: &Path,
    q1_samples: &Path,
    q2_samples: &Path,
    options: &crate::eval::EvalOptions,
) -> crate::Result<ReasoningGap> {
    reasoning_gap(
        &read_problems(composed, &Default::default())?,
        &accuracies(composed_samples)?,
        &accuracies(q1_samples)?,
        &accuracies(q2_samples)?,
        options.bootstrap,
        options.confidence,
        options.seed,
    )
}

/// The reasoning gap from per-problem accuracies (pass@1 = c/n) on the three sets.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReasoningGap {
    pub pairs: usize,
    pub s1: crate::eval::Estimate,
    pub s2: crate::eval::Estimate,
    pub s_comp: crate::eval::Estimate,
    /// S_comp − S1·S2.
    pub gap: crate::eval::Estimate,
}

/// Δ = S_comp − S1·S2 over the pairs of `composed` (problems with `q1_id`), with a percentile
/// bootstrap over pairs. `accuracy` maps a problem id to its pass@1.
pub fn reasoning_gap(
    composed: &[Problem],
    comp_accuracy: &HashMap<String, f64>,
    q1_accuracy: &HashMap<String, f64>,
    q2_accuracy: &HashMap<String, f64>,
    bootstrap: usize,
    confidence: f64,
    seed: u64,
) -> crate::Result<ReasoningGap> {
    let mut triples = Vec::new();
    for problem in composed {
        let q1 = problem
            .extra
            .get("q1_id")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                crate::Error::Inconsistent(format!(
                    "problem {:?} has no q1_id: not made by `bestofn compose`",
                    problem.id
                ))
            })?;
        let missing = |set: &str, id: &str| {
            crate::Error::Inconsistent(format!(
                "no labeled samples of problem {id:?} in the {set} set"
            ))
        };
        let comp = *comp_accuracy
            .get(&problem.id)
            .ok_or_else(|| missing("composed", &problem.id))?;
        let s1 = *q1_accuracy.get(q1).ok_or_else(|| missing("Q1", q1))?;
        let q2_id = format!("{}-q2", problem.id);
        let s2 = *q2_accuracy
            .get(&q2_id)
            .ok_or_else(|| missing("modified-Q2", &q2_id))?;
        triples.push((s1, s2, comp));
    }
    if triples.is_empty() {
        return Err(crate::Error::Inconsistent("no composed problems".into()));
    }
    let statistics = |sample: &[(f64, f64, f64)]| {
        let n = sample.len() as f64;
        let s1 = sample.iter().map(|t| t.0).sum::<f64>() / n;
        let s2 = sample.iter().map(|t| t.1).sum::<f64>() / n;
        let comp = sample.iter().map(|t| t.2).sum::<f64>() / n;
        [s1, s2, comp, comp - s1 * s2]
    };
    let point = statistics(&triples);
    let estimates = crate::eval::bootstrap::bootstrap(
        triples.len(),
        &point,
        bootstrap,
        confidence,
        seed ^ 0x9a9,
        |weights, out| {
            let mean = |pick: fn(&(f64, f64, f64)) -> f64| {
                let values: Vec<f64> = triples.iter().map(pick).collect();
                crate::eval::bootstrap::weighted_mean(&values, weights)
            };
            let (s1, s2, comp) = (mean(|t| t.0), mean(|t| t.1), mean(|t| t.2));
            out.copy_from_slice(&[s1, s2, comp, comp - s1 * s2]);
        },
    );
    let estimate = |index: usize| estimates[index];
    Ok(ReasoningGap {
        pairs: triples.len(),
        s1: estimate(0),
        s2: estimate(1),
        s_comp: estimate(2),
        gap: estimate(3),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reasoning_gap_by_hand() {
        let mut composed = Vec::new();
        for i in 0..2 {
            let mut p = Problem {
                id: format!("compose-{i}"),
                question: "q".into(),
                answer: Some("1".into()),
                solution: None,
                style: crate::grade::AnswerStyle::Gsm8k,
                extra: Default::default(),
            };
            p.extra.insert("q1_id".into(), json!(format!("a{i}")));
            composed.push(p);
        }
        let map = |pairs: &[(&str, f64)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect::<HashMap<_, _>>()
        };
        let comp = map(&[("compose-0", 0.5), ("compose-1", 0.0)]);
        let q1 = map(&[("a0", 1.0), ("a1", 0.5)]);
        let q2 = map(&[("compose-0-q2", 1.0), ("compose-1-q2", 0.5)]);
        let gap = reasoning_gap(&composed, &comp, &q1, &q2, 0, 0.95, 0).unwrap();
        // S1 = 0.75, S2 = 0.75, S_comp = 0.25: Δ = 0.25 − 0.5625.
        assert!((gap.gap.mean - (0.25 - 0.5625)).abs() < 1e-12);
        assert_eq!(gap.pairs, 2);
    }
}
