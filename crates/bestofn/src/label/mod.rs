//! The `label` stage: grade every sample against its problem's gold answer, and turn graded
//! samples into training data for the verifier.

pub mod args;
mod export;

use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;
use serde_json::Value;

pub use export::{select_verifier_examples, ExportOptions, VerifierExample};

use crate::error::{Error, Result};
use crate::grade::{self, normalized_answer, stated_answer, AnswerStyle, Explanation, Gold};
use crate::io::OutputFile;
use crate::records::{map_samples, Problem, ReadOptions, Sample};

/// How the labeler reads answers.
#[derive(Debug, Clone, Default)]
pub struct LabelOptions {
    /// Overrides each problem's answer style.
    pub style: Option<AnswerStyle>,
    /// Grade the value of this sample field (a final answer some other tool extracted) instead of
    /// extracting one from `text`: its first sentence, for GSM8K style the number it states.
    /// Samples where it is missing or null fall back to `text`.
    pub answer_field: Option<String>,
    /// Add each verdict's explanation to its sample as the field `explanation`.
    pub explain: bool,
    /// What a sample cut off at its token limit (`finish_reason: "length"`) counts as.
    pub truncated: Truncated,
}

/// What a sample cut off at its token limit counts as (`label --truncated`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Truncated {
    /// Graded as any other: an answer it states before the cut counts.
    #[default]
    Keep,
    /// Wrong, whatever it states: an unfinished solution is no solution.
    Wrong,
    /// Left out of the labeled file (and of every count after it); the samples file keeps it.
    Skip,
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
    /// Of the disagreements: samples the input called correct that we grade wrong.
    pub previously_correct_now_wrong: usize,
    /// Invalid lines skipped (with `--skip-invalid`).
    pub skipped: usize,
    /// Traces stopped mid-generation, written through ungraded: no samples.
    pub stopped: usize,
    /// Samples cut off at their token limit (`finish_reason: "length"`), and what they counted as.
    pub truncated: usize,
    pub truncated_as: Truncated,
}

/// Gold answers prepared once, and the rules to grade samples against them.
pub struct Labeler<'a> {
    problems: &'a [Problem],
    index_of: HashMap<&'a str, usize>,
    golds: Vec<Option<Gold>>,
    options: &'a LabelOptions,
}

impl<'a> Labeler<'a> {
    pub fn new(problems: &'a [Problem], options: &'a LabelOptions) -> Self {
        Labeler {
            problems,
            index_of: problems
                .iter()
                .enumerate()
                .map(|(i, p)| (p.id.as_str(), i))
                .collect(),
            golds: problems
                .iter()
                .map(|p| p.answer.as_deref().map(Gold::new))
                .collect(),
            options,
        }
    }

    /// Position of the sample's problem, or the error naming the line that refers to it.
    fn problem_index(&self, sample: &Sample, path: &Path, line: usize) -> Result<usize> {
        self.index_of
            .get(sample.problem_id.as_str())
            .copied()
            .ok_or_else(|| {
                Error::input(
                    path,
                    line,
                    Some("problem_id"),
                    format!(
                        "problem {:?} is not in the problems file; pass the problems these samples were generated for",
                        sample.problem_id
                    ),
                )
            })
    }

    /// Fills `extracted` and `correct` of a sample of problem `index`; says whether the answer
    /// came from `--answer-field`.
    fn grade(&self, sample: &mut Sample, index: usize) -> bool {
        let style = self.options.style.unwrap_or(self.problems[index].style);
        let field_answer = self
            .options
            .answer_field
            .as_deref()
            .and_then(|field| sample.extra.get(field))
            .and_then(|value| match value {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            });
        let used_field = field_answer.is_some();
        let gold = self.golds[index].as_ref();
        // The answer as found (kept for an explanation), then normalized.
        let (found, judgement) = match field_answer {
            Some(raw) => {
                sample.extracted = stated_answer(&raw, style).and_then(|a| normalized_answer(&a));
                (
                    Some(raw),
                    gold.map(|g| g.judge_answer(sample.extracted.as_deref())),
                )
            }
            None => {
                let found = grade::extract_raw(&sample.text, style);
                sample.extracted = found.as_deref().and_then(normalized_answer);
                let judgement = gold.map(|g| g.judge(&sample.text, sample.extracted.as_deref()));
                (found, judgement)
            }
        };
        sample.correct = judgement.map(|j| j.correct);
        if self.options.truncated == Truncated::Wrong && sample.truncated() {
            sample.correct = sample.correct.map(|_| false);
        }
        if self.options.explain {
            let extracted = sample.extracted.clone();
            let explanation =
                Explanation::new(&sample.text, style, found, extracted, gold, judgement);
            sample.extra.insert(
                "explanation".into(),
                serde_json::to_value(explanation).unwrap_or(Value::Null),
            );
        }
        used_field
    }
}

/// Running counts behind [`LabelSummary`].
struct Counts {
    present: Vec<bool>,
    /// Per problem: `None` without a graded sample, else whether one is correct.
    solved: Vec<Option<bool>>,
    samples: usize,
    graded: usize,
    correct: usize,
    unextractable: usize,
    truncated: usize,
    previously_labeled: usize,
    agreeing_with_previous: usize,
    previously_correct_now_wrong: usize,
}

impl Counts {
    fn new(problems: usize) -> Self {
        Counts {
            present: vec![false; problems],
            solved: vec![None; problems],
            samples: 0,
            graded: 0,
            correct: 0,
            unextractable: 0,
            truncated: 0,
            previously_labeled: 0,
            agreeing_with_previous: 0,
            previously_correct_now_wrong: 0,
        }
    }

    fn add(&mut self, sample: &Sample, index: usize, previous: Option<bool>) {
        self.samples += 1;
        self.present[index] = true;
        self.unextractable += usize::from(sample.extracted.is_none());
        self.truncated += usize::from(sample.truncated());
        if let Some(ok) = sample.correct {
            self.graded += 1;
            self.correct += usize::from(ok);
            self.solved[index] = Some(self.solved[index].unwrap_or(false) | ok);
            if let Some(before) = previous {
                self.previously_labeled += 1;
                self.agreeing_with_previous += usize::from(before == ok);
                self.previously_correct_now_wrong += usize::from(before && !ok);
            }
        }
    }

    fn summary(self, skipped: usize, stopped: usize, truncated_as: Truncated) -> LabelSummary {
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let with_gold = self.solved.iter().filter(|s| s.is_some()).count();
        let covered = self.solved.iter().filter(|s| **s == Some(true)).count();
        LabelSummary {
            samples: self.samples,
            problems: self.present.iter().filter(|&&p| p).count(),
            graded: self.graded,
            correct: self.correct,
            accuracy: ratio(self.correct, self.graded),
            coverage: ratio(covered, with_gold),
            unextractable: ratio(self.unextractable, self.samples),
            previously_labeled: self.previously_labeled,
            agreeing_with_previous: self.agreeing_with_previous,
            previously_correct_now_wrong: self.previously_correct_now_wrong,
            skipped,
            stopped,
            truncated: self.truncated,
            truncated_as,
        }
    }
}

/// Labels samples held in memory. `sample_lines` gives each sample's line in `samples_path`, for
/// the error when a sample's problem is unknown.
pub fn label(
    problems: &[Problem],
    samples: &mut [Sample],
    sample_lines: &[usize],
    samples_path: &Path,
    options: &LabelOptions,
) -> Result<LabelSummary> {
    let _span = tracing::info_span!("label", samples = samples.len()).entered();
    let labeler = Labeler::new(problems, options);
    let indices = samples
        .iter()
        .enumerate()
        .map(|(i, s)| {
            labeler.problem_index(s, samples_path, sample_lines.get(i).copied().unwrap_or(0))
        })
        .collect::<Result<Vec<usize>>>()?;
    let previous: Vec<Option<bool>> = samples.iter().map(|s| s.correct).collect();
    samples
        .par_iter_mut()
        .zip(indices.par_iter())
        .for_each(|(sample, &index)| {
            labeler.grade(sample, index);
        });
    let mut counts = Counts::new(problems.len());
    for ((sample, &index), before) in samples.iter().zip(&indices).zip(previous) {
        counts.add(sample, index, before);
    }
    Ok(counts.summary(0, 0, options.truncated))
}

/// Labels a samples file into `out`, streaming: memory stays bounded by a chunk of lines
/// whatever the file's size. Each labeled sample is also passed to `visit` with the verdict it
/// carried before (e.g. to keep it for a verifier export, to list disagreements). `out` appears
/// only when every line was labeled.
pub fn label_file(
    problems: &[Problem],
    samples_path: &Path,
    out: &Path,
    options: &LabelOptions,
    skip_invalid: bool,
    mut visit: impl FnMut(&Sample, Option<bool>) -> Result<()>,
) -> Result<LabelSummary> {
    let _span = tracing::info_span!("label", path = %samples_path.display()).entered();
    let labeler = Labeler::new(problems, options);
    let mut output = OutputFile::create(out)?;
    let mut counts = Counts::new(problems.len());
    let mut answer_field_seen = false;
    let mut stopped = 0;
    let mut truncated_skipped = 0;
    let options_read = ReadOptions {
        keep_stopped: true,
        ..ReadOptions::new(skip_invalid)
    };
    let stats = map_samples(
        samples_path,
        options_read,
        |mut sample: Sample, line| {
            let index = labeler.problem_index(&sample, samples_path, line)?;
            let previous = sample.correct;
            // A partial text is no answer: a stopped trace goes through ungraded.
            let used_field = (!sample.stopped_early()).then(|| labeler.grade(&mut sample, index));
            let skipped = options.truncated == Truncated::Skip && sample.truncated();
            Ok((sample, index, previous, used_field, skipped))
        },
        |chunk| {
            for (sample, index, previous, used_field, skipped) in chunk {
                if skipped {
                    truncated_skipped += 1;
                    continue;
                }
                let Some(used_field) = used_field else {
                    stopped += 1;
                    output.write_json_line(&sample)?;
                    continue;
                };
                answer_field_seen |= used_field;
                counts.add(&sample, index, previous);
                output.write_json_line(&sample)?;
                visit(&sample, previous)?;
            }
            Ok(())
        },
    )?;
    if stopped + truncated_skipped == stats.records {
        return Err(Error::Inconsistent(format!(
            "{}: no sample left to grade ({stopped} traces stopped mid-generation, \
             {truncated_skipped} cut off at their token limit and left out by --truncated skip)",
            samples_path.display()
        )));
    }
    if let (Some(field), false) = (&options.answer_field, answer_field_seen) {
        return Err(Error::Inconsistent(format!(
            "{}: no sample has a value in the field `{field}` named by --answer-field; check its spelling",
            samples_path.display()
        )));
    }
    output.commit()?;
    let mut summary = counts.summary(stats.skipped, stopped, options.truncated);
    summary.truncated += truncated_skipped;
    Ok(summary)
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
            let differ = self.previously_labeled - self.agreeing_with_previous;
            write!(
                f,
                "\nagreement      {:.2}% with the {} labels the input carried ({differ} differ",
                100.0 * self.agreeing_with_previous as f64 / self.previously_labeled as f64,
                self.previously_labeled,
            )?;
            if differ > 0 {
                write!(
                    f,
                    ": {} correct there and wrong here, {} the reverse",
                    self.previously_correct_now_wrong,
                    differ - self.previously_correct_now_wrong
                )?;
            }
            f.write_str(")")?;
        }
        if self.skipped > 0 {
            write!(f, "\nskipped        {} invalid lines", self.skipped)?;
        }
        if self.stopped > 0 {
            write!(
                f,
                "\nstopped early  {} traces (partial texts: written through ungraded, no samples)",
                self.stopped
            )?;
        }
        if self.truncated > 0 {
            let counted = match self.truncated_as {
                Truncated::Keep => "graded as any other (--truncated keep)",
                Truncated::Wrong => "counted wrong (--truncated wrong)",
                Truncated::Skip => "left out (--truncated skip)",
            };
            write!(
                f,
                "\ntruncated      {} samples cut off at their token limit: {counted}",
                self.truncated
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(id: &str, answer: Option<&str>) -> Problem {
        Problem {
            id: id.into(),
            question: "q".into(),
            answer: answer.map(str::to_owned),
            solution: None,
            style: AnswerStyle::Gsm8k,
            extra: Default::default(),
        }
    }

    fn sample(problem_id: &str, text: &str, field: Option<&str>) -> Sample {
        let mut extra = serde_json::Map::new();
        if let Some(value) = field {
            extra.insert("pred".into(), value.into());
        }
        Sample {
            problem_id: problem_id.into(),
            sample_idx: 0,
            text: text.into(),
            extracted: None,
            correct: Some(true),
            score: None,
            step_scores: None,
            uncalibrated_score: None,
            extra,
        }
    }

    #[test]
    fn grades_text_or_a_named_field_and_counts_agreement() {
        let problems = [problem("a", Some("18")), problem("b", None)];
        let options = LabelOptions {
            style: None,
            answer_field: Some("pred".into()),
            ..LabelOptions::default()
        };
        let mut samples = vec![
            sample("a", "so #### 18", None),
            sample("a", "#### 18", Some("17")),
            sample("b", "#### 4", None),
        ];
        let lines = [1, 2, 3];
        let summary = label(&problems, &mut samples, &lines, Path::new("s"), &options).unwrap();
        assert_eq!(samples[0].extracted.as_deref(), Some("18"));
        assert_eq!(samples[0].correct, Some(true));
        // The field wins over the text where it is set.
        assert_eq!(samples[1].extracted.as_deref(), Some("17"));
        assert_eq!(samples[1].correct, Some(false));
        // No gold: the answer is extracted, the label left empty.
        assert_eq!(
            (samples[2].extracted.as_deref(), samples[2].correct),
            (Some("4"), None)
        );
        assert_eq!(
            (summary.graded, summary.correct, summary.problems),
            (2, 1, 2)
        );
        assert_eq!(
            (summary.previously_labeled, summary.agreeing_with_previous),
            (2, 1)
        );
        let unknown = vec![sample("zzz", "#### 1", None)];
        let error = label(
            &problems,
            &mut unknown.clone(),
            &[7],
            Path::new("s"),
            &options,
        );
        assert!(error
            .unwrap_err()
            .to_string()
            .starts_with("s:7: field `problem_id`"));
    }
}
