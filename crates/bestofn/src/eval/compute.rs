//! Compute accounting: what the samples behind each budget k cost to generate, so that methods
//! are compared at equal compute (accuracy against tokens, not only against k).

use serde::Serialize;

use crate::pool::ProblemPool;
use crate::records::SampleVerdict;

/// Generation cost of the evaluated samples, where every sample's record says (`num_tokens` or
/// `tokens.completion`; `wall_ms`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Compute {
    /// Mean generated tokens per sample.
    pub generated_tokens_per_sample: f64,
    /// At each k of the report's `ks`: the mean over problems of k × that problem's mean
    /// generated tokens per sample (what a random k-subset costs on average).
    pub generated_tokens_per_problem: Vec<f64>,
    /// Mean generation time per sample in ms, when every sample records `wall_ms`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wall_ms_per_sample: Option<f64>,
    /// The mean over problems of every token generated for it: its samples' and those of its
    /// traces stopped mid-generation (what an online run spent; tokens at N for a fixed N).
    pub spent_tokens_per_problem: f64,
    /// Mean tokens a verifier or judge spent per sample (`score_tokens`), when every sample
    /// records it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_tokens_per_sample: Option<f64>,
    /// At each k of the report's `ks`: what verifying k samples costs per problem, as
    /// `generated_tokens_per_problem` (methods that read scores spend both).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_tokens_per_problem: Option<Vec<f64>>,
    /// Traces stopped mid-generation, whose tokens are in `spent_tokens_per_problem` only.
    #[serde(skip_serializing_if = "is_zero")]
    pub stopped_traces: usize,
}

fn is_zero(count: &usize) -> bool {
    *count == 0
}

fn mean(values: impl Iterator<Item = u64>) -> f64 {
    let (sum, count) = values.fold((0.0, 0usize), |(s, c), v| (s + v as f64, c + 1));
    sum / count.max(1) as f64
}

/// The cost at each k of `ks`, or None unless every sample of every pool has a token count.
pub fn compute(pools: &[ProblemPool], ks: &[usize]) -> Option<Compute> {
    let tokens: Vec<&Vec<u64>> = pools
        .iter()
        .map(|p| p.generated_tokens.as_ref())
        .collect::<Option<_>>()?;
    let wall: Option<Vec<&Vec<u64>>> = pools.iter().map(|p| p.wall_ms.as_ref()).collect();
    let verification: Option<Vec<&Vec<u64>>> =
        pools.iter().map(|p| p.score_tokens.as_ref()).collect();
    Some(Compute {
        generated_tokens_per_sample: mean(tokens.iter().flat_map(|t| t.iter().copied())),
        generated_tokens_per_problem: at_each_k(&tokens, ks),
        verification_tokens_per_sample: verification
            .as_ref()
            .map(|v| mean(v.iter().flat_map(|t| t.iter().copied()))),
        verification_tokens_per_problem: verification.as_ref().map(|v| at_each_k(v, ks)),
        wall_ms_per_sample: wall.map(|w| mean(w.iter().flat_map(|t| t.iter().copied()))),
        spent_tokens_per_problem: mean(tokens.iter().map(|t| t.iter().sum::<u64>())),
        stopped_traces: 0,
    })
}

/// At each k: the mean over problems of k × the problem's mean per sample.
fn at_each_k(per_sample: &[&Vec<u64>], ks: &[usize]) -> Vec<f64> {
    let per_problem_mean: Vec<f64> = per_sample.iter().map(|t| mean(t.iter().copied())).collect();
    let problems = per_problem_mean.len().max(1) as f64;
    ks.iter()
        .map(|&k| per_problem_mean.iter().map(|m| k as f64 * m).sum::<f64>() / problems)
        .collect()
}

impl Compute {
    /// Adds the tokens of the traces stopped mid-generation to what their problems (`problems`
    /// of them, the pools' count) spent.
    pub fn add_stopped(&mut self, stopped: &[SampleVerdict], problems: usize) {
        let tokens: u64 = stopped.iter().filter_map(|s| s.cost.tokens).sum();
        self.spent_tokens_per_problem += tokens as f64 / problems.max(1) as f64;
        self.stopped_traces += stopped.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::GenerationCost;

    fn sample(problem: &str, idx: u32, tokens: Option<u64>) -> SampleVerdict {
        SampleVerdict {
            problem_id: problem.into(),
            sample_idx: idx,
            extracted: Some("1".into()),
            correct: Some(true),
            score: None,
            step_scores: None,
            uncalibrated_score: None,
            score_kind: None,
            cost: GenerationCost {
                tokens,
                wall_ms: Some(10),
                score_tokens: tokens.map(|t| 2 * t),
                truncated: false,
            },
            stopped_early: false,
        }
    }

    #[test]
    fn tokens_per_problem_grow_with_k_from_each_problems_own_mean() {
        // Problem a: 10 and 30 tokens (mean 20); b: 40 and 40 (mean 40).
        let samples = [
            sample("a", 0, Some(10)),
            sample("a", 1, Some(30)),
            sample("b", 0, Some(40)),
            sample("b", 1, Some(40)),
        ];
        let pools = crate::pool::build_pools(&samples);
        let got = compute(&pools, &[1, 2]).unwrap();
        assert_eq!(got.generated_tokens_per_sample, 30.0);
        assert_eq!(got.generated_tokens_per_problem, vec![30.0, 60.0]);
        assert_eq!(got.spent_tokens_per_problem, 60.0, "all of N = 2 samples");
        assert_eq!(got.verification_tokens_per_sample, Some(60.0));
        assert_eq!(got.verification_tokens_per_problem, Some(vec![60.0, 120.0]));
        let mut with_stopped = got.clone();
        let stopped = [sample("a", 2, Some(6)), sample("b", 2, Some(14))];
        with_stopped.add_stopped(&stopped, pools.len());
        assert_eq!(with_stopped.spent_tokens_per_problem, 70.0);
        assert_eq!(with_stopped.stopped_traces, 2);
        assert_eq!(
            with_stopped.generated_tokens_per_problem, got.generated_tokens_per_problem,
            "stopped traces are no samples of any k"
        );
        assert_eq!(got.wall_ms_per_sample, Some(10.0));
        let missing = [sample("a", 0, Some(10)), sample("a", 1, None)];
        assert_eq!(compute(&crate::pool::build_pools(&missing), &[1]), None);
    }
}
