//! Adaptive N: a problem is sampled in rounds and no more once its answer is settled.
//!
//! The stopping rule is Adaptive-Consistency's Beta criterion (Aggarwal et al., 2023): with `v1`
//! votes for the leading answer and `v2` for the runner-up, and a uniform prior on their shares,
//! the probability that the leader is the more likely of the two is
//! `P(p1 > p2 | v1, v2) = 1 - I_{1/2}(v1 + 1, v2 + 1) = P(Binomial(v1 + v2 + 1, 1/2) <= v1)`;
//! sampling stops once it reaches the confidence asked for. Samples without an answer are not
//! votes.
//!
//! A [`RoundJudge`] replaces the vote rule where something else settles a problem: `solve`
//! scores each round's samples with the verifier as they come and stops a problem once one of
//! them is scored high enough.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value};

use crate::error::Result;
use crate::grade::{answer_key, extract_raw, normalized_answer, stated_answer, AnswerStyle};

/// When to stop sampling a problem.
#[derive(Debug, Clone, PartialEq)]
pub struct AdaptiveStop {
    /// Samples asked for per problem and round; the rule is checked between rounds.
    pub round: u32,
    /// Stop once the leading answer beats the runner-up with this probability.
    pub confidence: f64,
    /// A sample field to take answers from instead of the text (existing records, such as a
    /// replayed pool's).
    pub answer_field: Option<String>,
}

impl AdaptiveStop {
    /// The vote of a new sample: from `--vote-field` of the existing record it is, if any, else
    /// from its text.
    pub fn vote(&self, text: &str, existing: Option<&str>, style: AnswerStyle) -> Option<String> {
        let record =
            existing.and_then(|line| serde_json::from_str::<Map<String, Value>>(line).ok());
        vote_of(text, record.as_ref(), self.answer_field.as_deref(), style)
    }
}

/// A sample written during adaptive sampling, for a [`RoundJudge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSample {
    pub problem_id: String,
    pub sample_idx: u32,
    pub text: String,
}

/// What decides, between rounds of adaptive sampling, that a problem needs no more samples,
/// instead of its votes.
pub trait RoundJudge {
    /// The samples file as the run opens it (a torn last line already cut): what it holds counts.
    fn resume(&mut self, samples: &Path) -> Result<()>;
    /// One round's new samples, once all of them are written.
    fn judge(&mut self, round: Vec<NewSample>) -> Result<()>;
    /// Whether the problem needs no more samples.
    fn settled(&self, problem_id: &str) -> bool;
}

/// `P(Binomial(v1 + v2 + 1, 1/2) <= v1)`: the probability that the answer with `v1` votes is
/// more likely than the one with `v2`.
pub fn beta_confidence(v1: u32, v2: u32) -> f64 {
    let trials = u64::from(v1) + u64::from(v2) + 1;
    // Summed in log space: the binomial coefficients overflow f64 past ~1,000 trials.
    let ln_half = -(trials as f64) * std::f64::consts::LN_2;
    let mut ln_choose = 0.0; // ln C(trials, 0)
    let mut total = 0.0;
    for k in 0..=u64::from(v1) {
        if k > 0 {
            ln_choose += ((trials - k + 1) as f64).ln() - (k as f64).ln();
        }
        total += (ln_choose + ln_half).exp();
    }
    total.min(1.0)
}

/// The vote of one sample: its answer's canonical key, if it states one. With `answer_field`,
/// a sample carrying that field (an answer another tool extracted, such as a program's output in a
/// replayed pool) votes for it instead of for what its text states, as `label --answer-field`.
pub fn vote_of(
    text: &str,
    record: Option<&Map<String, Value>>,
    answer_field: Option<&str>,
    style: AnswerStyle,
) -> Option<String> {
    let stated = answer_field
        .and_then(|field| record?.get(field))
        .and_then(|value| match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
    let raw = match stated {
        Some(stated) => stated_answer(&stated, style)?,
        None => extract_raw(text, style)?,
    };
    normalized_answer(&raw).map(|normalized| answer_key(&normalized))
}

/// The votes for one problem's answers.
#[derive(Debug, Default, Clone)]
pub struct Votes {
    counts: HashMap<String, u32>,
}

impl Votes {
    pub fn add(&mut self, vote: Option<String>) {
        if let Some(key) = vote {
            *self.counts.entry(key).or_default() += 1;
        }
    }

    /// The two largest counts (0 where there is no such answer).
    fn leading_two(&self) -> (u32, u32) {
        self.counts
            .values()
            .fold((0, 0), |(first, second), &count| {
                if count > first {
                    (count, first)
                } else {
                    (first, second.max(count))
                }
            })
    }

    /// Whether the leading answer is settled at `confidence`; never without a vote.
    pub fn settled(&self, confidence: f64) -> bool {
        let (first, second) = self.leading_two();
        first > 0 && beta_confidence(first, second) >= confidence
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_beta_criterion_matches_its_closed_form() {
        // Unanimous: 1 - 2^-(v+1).
        assert_eq!(beta_confidence(0, 0), 0.5);
        assert!((beta_confidence(1, 0) - 0.75).abs() < 1e-15);
        assert!((beta_confidence(4, 0) - 31.0 / 32.0).abs() < 1e-15);
        // A tie is a coin flip's worth short of settled: P(Bin(5, 1/2) <= 2) = 1/2.
        assert!((beta_confidence(2, 2) - 0.5).abs() < 1e-15);
        // P(Bin(8, 1/2) <= 5) = 219/256.
        assert!((beta_confidence(5, 2) - 219.0 / 256.0).abs() < 1e-15);
        // Large counts stay finite and monotone.
        let big = beta_confidence(3000, 2900);
        assert!(big > 0.5 && big < 1.0, "{big}");
        assert!(beta_confidence(3000, 2800) > big);
    }

    #[test]
    fn votes_settle_on_a_clear_leader_only() {
        let mut votes = Votes::default();
        assert!(!votes.settled(0.95), "no vote is never settled");
        votes.add(None);
        assert!(!votes.settled(0.95));
        for _ in 0..4 {
            votes.add(Some("18".into()));
        }
        assert!(votes.settled(0.95), "4 of 4 agree: 31/32");
        votes.add(Some("17".into()));
        votes.add(Some("17".into()));
        assert!(!votes.settled(0.95), "4 to 2 is not settled");
        assert_eq!(votes.leading_two(), (4, 2));
    }

    #[test]
    fn votes_are_answers_not_texts() {
        let style = AnswerStyle::Gsm8k;
        let vote = |text: &str| vote_of(text, None, None, style);
        assert_eq!(
            vote("so 1,000 in all\n#### 1000"),
            vote("The answer is 1000.00")
        );
        assert_eq!(vote("no number here"), None);
        // A program's output, run by the pool's source, votes instead of the program's text.
        let record = serde_json::json!({"source_answer": 18, "text": "answer = money_made"});
        let record = record.as_object();
        assert_eq!(
            vote_of("answer = 6 * 3", record, Some("source_answer"), style),
            vote("#### 18")
        );
        assert_eq!(
            vote_of("#### 6", record, Some("missing"), style),
            vote("#### 6")
        );
    }
}
