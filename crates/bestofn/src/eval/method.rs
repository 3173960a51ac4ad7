//! What `eval` measures at every budget k: coverage and the accuracy of each ranking strategy.

use serde::Serialize;

use crate::rank::Strategy;

/// A curve of the report. Serialized under the names `metrics.json` has always used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Method {
    /// pass@k: a correct sample among k (the oracle; coverage).
    #[serde(rename = "pass@k")]
    Coverage,
    #[serde(rename = "majority")]
    Majority,
    #[serde(rename = "verifier")]
    Verifier,
    #[serde(rename = "weighted")]
    Weighted,
    /// DeepConf's filtered confidence-weighted vote (confidence scores only).
    #[serde(rename = "confidence-vote")]
    ConfidenceVote,
    /// Borda vote by score rank (confidence scores only).
    #[serde(rename = "borda")]
    Borda,
}

impl Method {
    /// Every method, in report order; the scored ones need a score on every sample, the votes
    /// of confidence scores a `score_kind` too.
    pub const ALL: [Method; 6] = [
        Method::Coverage,
        Method::Majority,
        Method::Verifier,
        Method::Weighted,
        Method::ConfidenceVote,
        Method::Borda,
    ];

    /// The name in `metrics.json`.
    pub fn name(self) -> &'static str {
        match self {
            Method::Coverage => "pass@k",
            Method::Majority => "majority",
            Method::Verifier => "verifier",
            Method::Weighted => "weighted",
            Method::ConfidenceVote => "confidence-vote",
            Method::Borda => "borda",
        }
    }

    /// The column and legend title.
    pub fn title(self) -> &'static str {
        match self {
            Method::Coverage => "coverage (pass@k)",
            Method::Majority => "majority@k",
            Method::Verifier => "verifier@k",
            Method::Weighted => "weighted@k",
            Method::ConfidenceVote => "confidence-vote@k",
            Method::Borda => "borda@k",
        }
    }

    /// The name in one-line summaries (`coverage@16`, `majority@16`).
    pub fn short(self) -> &'static str {
        match self {
            Method::Coverage => "coverage",
            other => other.name(),
        }
    }

    /// How the per-problem value is computed.
    pub fn estimator(self) -> &'static str {
        match self {
            Method::Coverage => "unbiased estimator (Chen et al. 2021)",
            Method::Verifier => "exact expectation over k-subsets (score ranks)",
            Method::Majority | Method::Weighted => {
                "Monte-Carlo over random k-subsets (exact at k=1 and k=N)"
            }
            Method::ConfidenceVote | Method::Borda => {
                "Monte-Carlo over random k-subsets (exact at k=1 and k=N; ties to the lower sample_idx)"
            }
        }
    }

    /// The ranking strategy whose accuracy this is (coverage is no strategy: it is the oracle).
    pub fn strategy(self) -> Option<Strategy> {
        match self {
            Method::Coverage => None,
            Method::Majority => Some(Strategy::Majority),
            Method::Verifier => Some(Strategy::Verifier),
            Method::Weighted => Some(Strategy::Weighted),
            Method::ConfidenceVote => Some(Strategy::ConfidenceVote {
                keep_top: crate::rank::DEFAULT_KEEP_TOP,
            }),
            Method::Borda => Some(Strategy::Borda {
                power_milli: crate::rank::DEFAULT_BORDA_POWER_MILLI,
            }),
        }
    }

    /// Whether the method votes by confidence scores (shown only for scores with a `score_kind`).
    pub fn votes_by_confidence(self) -> bool {
        matches!(self, Method::ConfidenceVote | Method::Borda)
    }

    pub fn needs_scores(self) -> bool {
        self.strategy().is_some_and(Strategy::needs_scores)
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
