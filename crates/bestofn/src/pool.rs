//! Samples of one problem prepared for ranking and evaluation: answers mapped to small ids,
//! scores in rank order. Built once per problem, used by `rank` and by every `eval` trial.

use std::collections::HashMap;

use crate::grade::answer_key;
use crate::records::{group_by_problem, Rankable};

/// Marks a sample from which no final answer was extracted.
pub const NO_ANSWER: u32 = u32::MAX;

/// One problem's samples, ordered by `sample_idx`.
#[derive(Debug, Clone)]
pub struct ProblemPool {
    pub problem_id: String,
    pub sample_idx: Vec<u32>,
    /// Answer id of each sample (equal ids = equivalent answers), or [`NO_ANSWER`].
    pub answer_ids: Vec<u32>,
    /// Normalized spelling of each answer id, as its earliest sample wrote it.
    pub answer_texts: Vec<String>,
    /// Label of each sample, when graded.
    pub correct: Vec<Option<bool>>,
    /// Score of each sample, when every sample of the problem has one.
    pub scores: Option<Vec<f32>>,
    /// Position of every sample with an answer, best score first, ties by lower `sample_idx`.
    pub by_score: Vec<u32>,
    /// What the scores are when they are no probabilities (`score_kind`).
    pub score_kind: Option<String>,
    /// Generated tokens of each sample, when every sample's record says.
    pub generated_tokens: Option<Vec<u64>>,
    /// Generation time of each sample in ms, when every sample's record says.
    pub wall_ms: Option<Vec<u64>>,
    /// Tokens its verifier or judge spent on each sample, when every sample's record says.
    pub score_tokens: Option<Vec<u64>>,
    /// Samples cut off at their token limit.
    pub truncated: usize,
}

impl ProblemPool {
    pub fn len(&self) -> usize {
        self.sample_idx.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sample_idx.is_empty()
    }

    /// Number of samples labeled correct.
    pub fn num_correct(&self) -> usize {
        self.correct.iter().filter(|c| **c == Some(true)).count()
    }
}

/// One distinct answer of a pool (`None`: the samples that state none) and its votes.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerVotes<'a> {
    pub answer: Option<&'a str>,
    pub samples: usize,
    /// The label of its first sample.
    pub correct: Option<bool>,
}

impl ProblemPool {
    /// Each distinct answer with its votes, most votes first (then first seen); the samples
    /// without an answer last.
    pub fn answer_votes(&self) -> Vec<AnswerVotes<'_>> {
        let mut votes: Vec<AnswerVotes<'_>> = Vec::new();
        let mut seen: HashMap<u32, usize> = HashMap::new();
        let mut unanswered = 0;
        for (&answer, &correct) in self.answer_ids.iter().zip(&self.correct) {
            if answer == NO_ANSWER {
                unanswered += 1;
                continue;
            }
            let at = *seen.entry(answer).or_insert_with(|| {
                votes.push(AnswerVotes {
                    answer: Some(&self.answer_texts[answer as usize]),
                    samples: 0,
                    correct,
                });
                votes.len() - 1
            });
            votes[at].samples += 1;
        }
        votes.sort_by_key(|v| std::cmp::Reverse(v.samples));
        if unanswered > 0 {
            votes.push(AnswerVotes {
                answer: None,
                samples: unanswered,
                correct: None,
            });
        }
        votes
    }
}

/// Groups samples by problem (first-appearance order) and prepares each group.
pub fn build_pools<T: Rankable>(samples: &[T]) -> Vec<ProblemPool> {
    group_by_problem(samples)
        .into_iter()
        .map(|(problem_id, group)| build_pool(problem_id, &group))
        .collect()
}

fn build_pool<T: Rankable>(problem_id: &str, group: &[&T]) -> ProblemPool {
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut answers = Vec::new();
    let answer = group
        .iter()
        .map(|s| match s.extracted() {
            None => NO_ANSWER,
            Some(extracted) => *ids.entry(answer_key(extracted)).or_insert_with(|| {
                answers.push(extracted.to_owned());
                (answers.len() - 1) as u32
            }),
        })
        .collect::<Vec<_>>();
    let scores: Option<Vec<f32>> = group.iter().map(|s| s.score()).collect();
    let mut by_score: Vec<u32> = match &scores {
        Some(_) => (0..group.len() as u32)
            .filter(|&i| answer[i as usize] != NO_ANSWER)
            .collect(),
        None => Vec::new(),
    };
    if let Some(scores) = &scores {
        // Positions follow sample_idx order, so a stable sort breaks ties by lower sample_idx.
        by_score.sort_by(|&a, &b| scores[b as usize].total_cmp(&scores[a as usize]));
    }
    ProblemPool {
        problem_id: problem_id.to_owned(),
        sample_idx: group.iter().map(|s| s.sample_idx()).collect(),
        answer_ids: answer,
        answer_texts: answers,
        correct: group.iter().map(|s| s.correct()).collect(),
        scores,
        by_score,
        score_kind: group.iter().find_map(|s| s.score_kind()).map(str::to_owned),
        generated_tokens: group.iter().map(|s| s.cost().tokens).collect(),
        wall_ms: group.iter().map(|s| s.cost().wall_ms).collect(),
        score_tokens: group.iter().map(|s| s.cost().score_tokens).collect(),
        truncated: group.iter().filter(|s| s.cost().truncated).count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::SampleVerdict;

    fn verdict(problem: &str, idx: u32, answer: Option<&str>, score: Option<f32>) -> SampleVerdict {
        SampleVerdict {
            problem_id: problem.into(),
            sample_idx: idx,
            extracted: answer.map(str::to_owned),
            correct: Some(answer == Some("2")),
            score,
            step_scores: None,
            uncalibrated_score: None,
            score_kind: None,
            cost: Default::default(),
            stopped_early: false,
        }
    }

    #[test]
    fn pools_group_order_and_key_answers() {
        let samples = [
            verdict("b", 1, Some("2.0"), Some(0.2)),
            verdict("a", 0, Some("1"), None),
            verdict("b", 0, Some("2"), Some(0.9)),
            verdict("b", 2, None, Some(0.95)),
            verdict("b", 3, Some("5"), Some(0.2)),
        ];
        let pools = build_pools(&samples);
        assert_eq!(
            pools[0].problem_id, "b",
            "problems in first-appearance order"
        );
        let b = &pools[0];
        assert_eq!(b.sample_idx, vec![0, 1, 2, 3]);
        // "2" and "2.0" are one answer, spelled as its earliest sample wrote it.
        assert_eq!(b.answer_ids, vec![0, 0, NO_ANSWER, 1]);
        assert_eq!(b.answer_texts, vec!["2".to_owned(), "5".to_owned()]);
        // Best score first among samples with an answer; equal scores by lower sample_idx.
        assert_eq!(b.by_score, vec![0, 1, 3]);
        assert_eq!(b.num_correct(), 1);
        assert!(
            pools[1].scores.is_none(),
            "a sample without a score leaves the pool unscored"
        );
    }
}
