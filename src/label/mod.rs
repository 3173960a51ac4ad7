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
    let by_id: HashMap<&str, (&Problem, Option<Gold>)> = problems
        .iter()
        .map(|p| (p.id.as_str(), (p, p.answer.as_deref().map(Gold::new))))
        .collect();
    if let Some(position) = samples
        .iter()
        .position(|s| !by_id.contains_key(s.problem_id.as_str()))
    {
        return Err(Error::input(
            samples_path,
            sample_lines.get(position).copied().unwrap_or(0),
            Some("problem_id"),
            format!(
                "problem {:?} is not in the problems file; pass the problems these samples were generated for",
                samples[position].problem_id
            ),
        ));
    }

    let previous: Vec<Option<bool>> = samples.iter().map(|s| s.correct).collect();
    samples.par_iter_mut().for_each(|sample| {
        let (problem, gold) = &by_id[sample.problem_id.as_str()];
        let style = options.style.unwrap_or(problem.style);
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
        sample.correct = gold
            .as_ref()
            .map(|g| sample.extracted.as_deref().is_some_and(|e| g.matches(e)));
    });

    let mut summary = summarize(samples);
    for (sample, before) in samples.iter().zip(&previous) {
        if let (Some(before), Some(now)) = (before, sample.correct) {
            summary.previously_labeled += 1;
            summary.agreeing_with_previous += usize::from(*before == now);
        }
    }
    Ok(summary)
}

fn summarize(samples: &[Sample]) -> LabelSummary {
    let mut solved: HashMap<&str, bool> = HashMap::new();
    let mut problems: HashMap<&str, ()> = HashMap::new();
    let (mut graded, mut correct, mut unextractable) = (0, 0, 0);
    for sample in samples {
        problems.insert(&sample.problem_id, ());
        if sample.extracted.is_none() {
            unextractable += 1;
        }
        if let Some(ok) = sample.correct {
            graded += 1;
            correct += usize::from(ok);
            *solved.entry(&sample.problem_id).or_default() |= ok;
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    LabelSummary {
        samples: samples.len(),
        problems: problems.len(),
        graded,
        correct,
        accuracy: ratio(correct, graded),
        coverage: ratio(solved.values().filter(|&&s| s).count(), solved.len()),
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
