//! The `label` stage: grade every sample against its problem's gold answer, and turn graded
//! samples into training data for the verifier.

mod export;

use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;
use serde_json::Value;

pub use export::{select_verifier_examples, ExportOptions, VerifierExample};

use crate::error::{Error, Result};
use crate::grade::{extract_answer, normalize, stated_answer, AnswerStyle, Gold};
use crate::records::{Problem, Sample};

/// How the labeler reads answers.
#[derive(Debug, Clone, Default)]
pub struct LabelOptions {
    /// Overrides each problem's answer style.
    pub style: Option<AnswerStyle>,
    /// Grade the value of this sample field (a final answer some other tool extracted) instead of
    /// extracting one from `text`: its first sentence, for GSM8K style the number it states.
    /// Samples where it is missing or null fall back to `text`.
    pub answer_field: Option<String>,
}

/// What labeling found, printed as the stage's summary.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LabelSummary {
    pub samples: usize,
    pub problems: usize,
    /// Samples whose problem has a gold answer.
    pub graded: usize,
    pub correct: usize,
    /// Share of graded samples that are correct.
    pub accuracy: f64,
    /// Share of problems (with gold) where at least one sample is correct.
    pub coverage: f64,
    /// Share of samples from which no final answer could be extracted.
    pub unextractable: f64,
    /// Samples that already carried a `correct` label, and how many of those we agree with.
    pub previously_labeled: usize,
    pub agreeing_with_previous: usize,
}

/// Fills `extracted` and `correct` of every sample. Fails when a sample's problem is unknown.
pub fn label(
    problems: &[Problem],
    samples: &mut [Sample],
    sample_lines: &[usize],
    samples_path: &Path,
    options: &LabelOptions,
) -> Result<LabelSummary> {
    let _span = tracing::info_span!("label", samples = samples.len()).entered();
    let index_of: HashMap<&str, usize> = problems
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.as_str(), i))
        .collect();
    let golds: Vec<Option<Gold>> = problems
        .iter()
        .map(|p| p.answer.as_deref().map(Gold::new))
        .collect();
    let mut problem_of = Vec::with_capacity(samples.len());
    for (position, sample) in samples.iter().enumerate() {
        let Some(&index) = index_of.get(sample.problem_id.as_str()) else {
            return Err(Error::input(
                samples_path,
                sample_lines.get(position).copied().unwrap_or(0),
                Some("problem_id"),
                format!(
                    "problem {:?} is not in the problems file; pass the problems these samples were generated for",
                    sample.problem_id
                ),
            ));
        };
        problem_of.push(index);
    }

    let previous: Vec<Option<bool>> = samples.iter().map(|s| s.correct).collect();
    samples
        .par_iter_mut()
        .zip(problem_of.par_iter())
        .for_each(|(sample, &index)| {
            let style = options.style.unwrap_or(problems[index].style);
            let field_answer = options
                .answer_field
                .as_deref()
                .and_then(|field| sample.extra.get(field))
                .and_then(|value| match value {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                });
            sample.extracted = match field_answer {
                Some(raw) => stated_answer(&raw, style)
                    .map(|answer| normalize(&answer))
                    .filter(|n| !n.is_empty()),
                None => extract_answer(&sample.text, style),
            };
            sample.correct = golds[index]
                .as_ref()
                .map(|g| sample.extracted.as_deref().is_some_and(|e| g.matches(e)));
        });

    let mut summary = summarize(samples, &problem_of, problems.len());
    for (sample, before) in samples.iter().zip(&previous) {
        if let (Some(before), Some(now)) = (before, sample.correct) {
            summary.previously_labeled += 1;
            summary.agreeing_with_previous += usize::from(*before == now);
        }
    }
    Ok(summary)
}

/// Counts over samples; `problem_of` holds each sample's problem index.
fn summarize(samples: &[Sample], problem_of: &[usize], num_problems: usize) -> LabelSummary {
    let mut present = vec![false; num_problems];
    // None: no graded sample; Some(solved).
    let mut solved: Vec<Option<bool>> = vec![None; num_problems];
    let (mut graded, mut correct, mut unextractable) = (0, 0, 0);
    for (sample, &index) in samples.iter().zip(problem_of) {
        present[index] = true;
        if sample.extracted.is_none() {
            unextractable += 1;
        }
        if let Some(ok) = sample.correct {
            graded += 1;
            correct += usize::from(ok);
            solved[index] = Some(solved[index].unwrap_or(false) | ok);
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let with_gold = solved.iter().filter(|s| s.is_some()).count();
    let covered = solved.iter().filter(|s| **s == Some(true)).count();
    LabelSummary {
        samples: samples.len(),
        problems: present.iter().filter(|&&p| p).count(),
        graded,
        correct,
        accuracy: ratio(correct, graded),
        coverage: ratio(covered, with_gold),
        unextractable: ratio(unextractable, samples.len()),
        previously_labeled: 0,
        agreeing_with_previous: 0,
    }
}

impl std::fmt::Display for LabelSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "samples        {}", self.samples)?;
        writeln!(f, "problems       {}", self.problems)?;
        writeln!(
            f,
            "accuracy       {:.2}% ({} of {} graded samples)",
            100.0 * self.accuracy,
            self.correct,
            self.graded
        )?;
        writeln!(
            f,
            "coverage       {:.2}% of problems have a correct sample",
            100.0 * self.coverage
        )?;
        write!(
            f,
            "unextractable  {:.2}% of samples state no final answer",
            100.0 * self.unextractable
        )?;
        if self.previously_labeled > 0 {
            write!(
                f,
                "\nagreement      {:.2}% with the {} labels the input carried ({} differ)",
                100.0 * self.agreeing_with_previous as f64 / self.previously_labeled as f64,
                self.previously_labeled,
                self.previously_labeled - self.agreeing_with_previous
            )?;
        }
        Ok(())
    }
}
