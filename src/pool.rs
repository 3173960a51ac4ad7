//! Samples of one problem prepared for ranking and evaluation: answers mapped to small ids,
//! scores in rank order. Built once per problem, used by `rank` and by every `eval` trial.

use std::collections::HashMap;

use crate::grade::answer_key;
use crate::records::{group_by_problem, Verdict};

/// Marks a sample from which no final answer was extracted.
pub const NO_ANSWER: u32 = u32::MAX;

/// One problem's samples, ordered by `sample_idx`.
#[derive(Debug, Clone)]
pub struct ProblemPool {
    pub problem_id: String,
    pub sample_idx: Vec<u32>,
    /// Answer id of each sample (equal ids = equivalent answers), or [`NO_ANSWER`].
    pub answer: Vec<u32>,
    /// Normalized spelling of each answer id, as its earliest sample wrote it.
    pub answers: Vec<String>,
    /// Label of each sample, when graded.
    pub correct: Vec<Option<bool>>,
    /// Score of each sample, when every sample of the problem has one.
    pub scores: Option<Vec<f32>>,
    /// Position of every sample with an answer, best score first, ties by lower `sample_idx`.
    pub by_score: Vec<u32>,
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

/// Groups samples by problem (first-appearance order) and prepares each group.
pub fn build_pools<T: Verdict>(samples: &[T]) -> Vec<ProblemPool> {
    group_by_problem(samples)
        .into_iter()
        .map(|(problem_id, group)| build_pool(problem_id, &group))
        .collect()
}

fn build_pool<T: Verdict>(problem_id: &str, group: &[&T]) -> ProblemPool {
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
        answer,
        answers,
        correct: group.iter().map(|s| s.correct()).collect(),
        scores,
        by_score,
    }
}
