//! `score --backend confidence`: a trace scored by the generator's own confidence, from the
//! token statistics its generation recorded (`generate --token-stats`), no model run.
//!
//! DeepConf (Fu et al. 2025; facebookresearch/deepconf's `helper.py`): token confidences C_i
//! (recorded), group confidences = the means of C over every sliding window of `--window`
//! tokens (a trace shorter than the window has one group, the mean of all its tokens); a trace
//! scores its lowest group (`lowest-group`), the mean of its lowest 10% of groups, at least one
//! (`bottom-10`), the mean of its last window of tokens (`tail`) or of all of them (`mean`).
//! Self-certainty (Kang et al. 2025): the mean of the recorded per-token KL(uniform ‖ p)
//! (`self-certainty`, the embedded engine's samples only). `mean-logprob`: the mean
//! log-probability of the chosen tokens. No rounding (the reference rounds to 3 decimals).
//!
//! These are not probabilities: the scored samples say so (`score_kind`), and `eval` gives them
//! no ECE or Brier score.

use serde_json::Value;

use super::scorer::{Pair, PairScore, ScoreStats, Scored, Scorer};
use crate::error::Result;

/// Which confidence of a trace is its score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConfidenceMethod {
    /// The lowest sliding-window group confidence (DeepConf).
    LowestGroup,
    /// The mean of the lowest 10% of group confidences (DeepConf).
    #[value(name = "bottom-10")]
    Bottom10,
    /// The mean token confidence of the last window (DeepConf).
    Tail,
    /// The mean token confidence of the whole trace.
    Mean,
    /// The mean per-token self-certainty (embedded llama.cpp samples only).
    SelfCertainty,
    /// The mean log-probability of the chosen tokens.
    MeanLogprob,
}

impl ConfidenceMethod {
    fn name(self) -> &'static str {
        match self {
            ConfidenceMethod::LowestGroup => "lowest-group",
            ConfidenceMethod::Bottom10 => "bottom-10",
            ConfidenceMethod::Tail => "tail",
            ConfidenceMethod::Mean => "mean",
            ConfidenceMethod::SelfCertainty => "self-certainty",
            ConfidenceMethod::MeanLogprob => "mean-logprob",
        }
    }

    /// The field of `tokens` the method reads.
    fn series(self) -> &'static str {
        match self {
            ConfidenceMethod::SelfCertainty => "self_certainty",
            ConfidenceMethod::MeanLogprob => "logprobs",
            _ => "confidence",
        }
    }

    /// Whether `--window` matters to it.
    fn windowed(self) -> bool {
        matches!(
            self,
            ConfidenceMethod::LowestGroup | ConfidenceMethod::Bottom10 | ConfidenceMethod::Tail
        )
    }
}

/// `--method` and `--window`, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfidenceOptions {
    pub method: ConfidenceMethod,
    /// Tokens per group (DeepConf's n; 2,048 in the paper).
    pub window: usize,
}

impl ConfidenceOptions {
    /// What the scores are, as written in each sample's `score_kind` and the scoring log's id.
    pub fn kind(&self) -> String {
        if self.method.windowed() {
            format!("confidence:{}:window={}", self.method.name(), self.window)
        } else {
            format!("confidence:{}", self.method.name())
        }
    }
}

/// The means of every window of `n` values (one mean of all when there are fewer than `n`).
pub fn group_means(values: &[f64], n: usize) -> Vec<f64> {
    if values.is_empty() {
        return Vec::new();
    }
    if values.len() < n {
        return vec![values.iter().sum::<f64>() / values.len() as f64];
    }
    let mut sum: f64 = values[..n].iter().sum();
    let mut means = Vec::with_capacity(values.len() - n + 1);
    means.push(sum / n as f64);
    for i in n..values.len() {
        sum += values[i] - values[i - n];
        means.push(sum / n as f64);
    }
    means
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// The trace's score by `options` from its series (non-empty).
pub fn trace_score(values: &[f64], options: &ConfidenceOptions) -> f64 {
    let n = options.window;
    match options.method {
        ConfidenceMethod::LowestGroup => group_means(values, n)
            .into_iter()
            .fold(f64::INFINITY, f64::min),
        ConfidenceMethod::Bottom10 => {
            let mut groups = group_means(values, n);
            groups.sort_by(f64::total_cmp);
            let lowest = (groups.len() / 10).max(1);
            mean(&groups[..lowest])
        }
        ConfidenceMethod::Tail => mean(&values[values.len().saturating_sub(n)..]),
        ConfidenceMethod::Mean
        | ConfidenceMethod::SelfCertainty
        | ConfidenceMethod::MeanLogprob => mean(values),
    }
}

/// Scores traces by their recorded token statistics.
pub struct ConfidenceScorer {
    options: ConfidenceOptions,
    id: String,
}

impl ConfidenceScorer {
    pub fn new(options: ConfidenceOptions) -> Self {
        ConfidenceScorer {
            id: options.kind(),
            options,
        }
    }

    fn score_one(&self, tokens: Option<&Value>) -> PairScore {
        let field = self.options.method.series();
        let Some(tokens) = tokens else {
            return Err("the sample has no `tokens`: generate with --token-stats".into());
        };
        let series = tokens.get(field).and_then(Value::as_array).ok_or_else(|| {
            match self.options.method {
                ConfidenceMethod::SelfCertainty => format!(
                    "`tokens` has no `{field}`: only the embedded engine (--backend llama) \
                     records it"
                ),
                _ => format!("`tokens` has no `{field}` list"),
            }
        })?;
        let values = series
            .iter()
            .map(|v| v.as_f64().filter(|v| v.is_finite()))
            .collect::<Option<Vec<f64>>>()
            .ok_or_else(|| format!("`tokens.{field}` holds something not a finite number"))?;
        if values.is_empty() {
            return Err(format!(
                "`tokens.{field}` is empty: a trace with no generated token has no confidence"
            ));
        }
        // Read from what generation recorded: no model reads anything.
        Ok(Scored::solution(trace_score(&values, &self.options) as f32).with_tokens(Some(0)))
    }
}

impl Scorer for ConfidenceScorer {
    fn id(&self) -> &str {
        &self.id
    }

    fn score(&mut self, pairs: &[Pair<'_>], stats: &mut ScoreStats) -> Result<Vec<PairScore>> {
        stats.batches += 1;
        Ok(pairs.iter().map(|p| self.score_one(p.tokens)).collect())
    }

    fn score_kind(&self) -> Option<&str> {
        Some(&self.id)
    }

    fn reads(&self) -> &'static str {
        "tokens"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn options(method: ConfidenceMethod, window: usize) -> ConfidenceOptions {
        ConfidenceOptions { method, window }
    }

    #[test]
    fn each_method_follows_its_definition() {
        let c = [3.0, 1.0, 2.0, 6.0, 5.0, 4.0, 0.5, 9.0, 8.0, 7.0, 2.5];
        assert_eq!(group_means(&c, 3)[..3], [2.0, 3.0, 13.0 / 3.0]);
        assert_eq!(group_means(&c, 3).len(), 9);
        assert_eq!(group_means(&c, 20), vec![mean(&c)]);
        let score = |method, window| trace_score(&c, &options(method, window));
        use ConfidenceMethod::*;
        assert_eq!(score(LowestGroup, 3), 2.0);
        // 9 groups: the lowest one (10% of 9, at least one).
        assert_eq!(score(Bottom10, 3), 2.0);
        assert_eq!(score(Bottom10, 1), 0.5);
        // 20 groups: the mean of the lowest two.
        let twenty: Vec<f64> = (0..20).map(|i| f64::from(20 - i)).collect();
        let bottom = trace_score(&twenty, &options(Bottom10, 1));
        assert_eq!(bottom, 1.5);
        assert_eq!(score(Tail, 2), (7.0 + 2.5) / 2.0);
        assert_eq!(score(Tail, 100), mean(&c));
        assert_eq!(score(Mean, 3), mean(&c));
    }

    #[test]
    fn a_sample_without_the_statistics_says_how_to_get_them() {
        let scorer = ConfidenceScorer::new(options(ConfidenceMethod::SelfCertainty, 4));
        assert_eq!(scorer.id(), "confidence:self-certainty");
        let pair = |tokens| Pair {
            question: "q",
            solution: "s",
            tokens,
        };
        let mut stats = ScoreStats::default();
        let served = json!({"confidence": [1.0], "logprobs": [-0.5]});
        let empty = json!({"self_certainty": []});
        let fine = json!({"self_certainty": [2.0, 4.0]});
        let got = ConfidenceScorer::new(options(ConfidenceMethod::SelfCertainty, 4))
            .score(
                &[
                    pair(None),
                    pair(Some(&served)),
                    pair(Some(&empty)),
                    pair(Some(&fine)),
                ],
                &mut stats,
            )
            .unwrap();
        assert!(got[0].as_ref().unwrap_err().contains("--token-stats"));
        assert!(got[1].as_ref().unwrap_err().contains("embedded engine"));
        assert!(got[2].as_ref().unwrap_err().contains("empty"));
        assert_eq!(got[3].as_ref().unwrap().score, 3.0);
    }
}
