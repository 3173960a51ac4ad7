//! `export`: the next iteration's training data from labeled samples, in the formats TRL and
//! common SFT tools read.
//!
//! - SFT: correct samples, deduplicated per problem (whitespace collapsed), at most
//!   `max_per_problem` each (a seeded choice). `original_fraction` F mixes in original
//!   human-written solutions (the problems' `solution` field) so that they make up F of the
//!   output, as in the model-collapse experiments that keep part of the original data.
//! - DPO: (correct, incorrect) pairs per problem, distinct texts, at most `max_pairs_per_problem`.
//!
//! Formats: `messages` (TRL's conversational format: a user turn with the question, an assistant
//! turn with the solution) or `prompt-completion` (plain strings). Every record also names its
//! `problem_id` and where its solution came from, which trainers ignore.

use std::collections::{HashMap, HashSet};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::records::{group_by_problem, Problem, Sample};
use crate::stable_hash;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// `{"messages": [{"role": "user", ...}, {"role": "assistant", ...}]}` (DPO: `prompt`,
    /// `chosen`, `rejected` as message lists).
    #[default]
    Messages,
    /// `{"prompt": str, "completion": str}` (DPO: `prompt`, `chosen`, `rejected` strings).
    PromptCompletion,
}

#[derive(Debug, Clone)]
pub struct SftOptions {
    pub max_per_problem: Option<usize>,
    /// Share of the output made of original solutions, in [0, 1).
    pub original_fraction: f64,
    pub format: Format,
    pub seed: u64,
}

#[derive(Debug, Clone)]
pub struct DpoOptions {
    pub max_pairs_per_problem: usize,
    pub format: Format,
    pub seed: u64,
}

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ExportSummary {
    pub records: usize,
    pub generated: usize,
    pub original: usize,
    pub problems: usize,
    /// Correct samples dropped as repeats of a kept text of the same problem.
    pub duplicates_dropped: usize,
}

impl std::fmt::Display for ExportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} records ({} generated, {} original) from {} problems; {} duplicate texts dropped",
            self.records, self.generated, self.original, self.problems, self.duplicates_dropped
        )
    }
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn sft_record(format: Format, problem: &Problem, solution: &str, source: Value) -> Value {
    let mut record = match format {
        Format::Messages => json!({"messages": [
            {"role": "user", "content": problem.question},
            {"role": "assistant", "content": solution},
        ]}),
        Format::PromptCompletion => json!({"prompt": problem.question, "completion": solution}),
    };
    record["problem_id"] = json!(problem.id);
    record["source"] = source;
    record
}

/// The samples grouped by problem, each with its problem (an unknown problem is an error).
fn groups<'a>(
    problems: &'a [Problem],
    samples: &'a [Sample],
) -> Result<Vec<(&'a Problem, Vec<&'a Sample>)>> {
    let by_id: HashMap<&str, &Problem> = problems.iter().map(|p| (p.id.as_str(), p)).collect();
    group_by_problem(samples)
        .into_iter()
        .map(|(problem_id, group)| {
            let problem = by_id.get(problem_id).ok_or_else(|| {
                Error::Inconsistent(format!("sample of unknown problem `{problem_id}`"))
            })?;
            Ok((*problem, group))
        })
        .collect()
}

fn problem_rng(seed: u64, problem_id: &str) -> Pcg64Mcg {
    Pcg64Mcg::seed_from_u64(seed ^ stable_hash(problem_id))
}

/// Correct samples of each problem, distinct texts, in a seeded order.
fn distinct_correct<'a>(
    group: &[&'a Sample],
    rng: &mut Pcg64Mcg,
    duplicates: &mut usize,
) -> Vec<&'a Sample> {
    let mut seen = HashSet::new();
    let mut kept: Vec<&Sample> = Vec::new();
    for sample in group.iter().filter(|s| s.correct == Some(true)) {
        if seen.insert(collapse_whitespace(&sample.text)) {
            kept.push(sample);
        } else {
            *duplicates += 1;
        }
    }
    kept.shuffle(rng);
    kept
}

/// Most copies of one original solution that `--original-fraction` may ask for: beyond this the
/// "mix" is the original set repeated, and the output would grow without bound as F nears 1.
pub const MAX_ORIGINAL_COPIES: usize = 100;

pub fn select_sft(
    problems: &[Problem],
    samples: &[Sample],
    options: &SftOptions,
) -> Result<(Vec<Value>, ExportSummary)> {
    if !(0.0..1.0).contains(&options.original_fraction) {
        return Err(Error::Settings(
            "--original-fraction must be in [0, 1)".into(),
        ));
    }
    let mut summary = ExportSummary::default();
    let mut records = Vec::new();
    let mut covered = HashSet::new();
    for (problem, group) in groups(problems, samples)? {
        let problem_id = problem.id.as_str();
        let mut rng = problem_rng(options.seed, problem_id);
        let mut kept = distinct_correct(&group, &mut rng, &mut summary.duplicates_dropped);
        if let Some(cap) = options.max_per_problem {
            kept.truncate(cap);
        }
        kept.sort_by_key(|s| s.sample_idx);
        if !kept.is_empty() {
            covered.insert(problem_id);
        }
        for sample in kept {
            records.push(sft_record(
                options.format,
                problem,
                &sample.text,
                json!({"generated": sample.sample_idx}),
            ));
        }
    }
    summary.generated = records.len();
    if options.original_fraction > 0.0 {
        let wanted = (options.original_fraction * summary.generated as f64
            / (1.0 - options.original_fraction))
            .round() as usize;
        let mut originals: Vec<&Problem> =
            problems.iter().filter(|p| p.solution.is_some()).collect();
        if wanted > 0 && originals.is_empty() {
            return Err(Error::Inconsistent(
                "--original-fraction needs problems with a `solution` (the original human-written one)"
                    .into(),
            ));
        }
        if wanted > MAX_ORIGINAL_COPIES * originals.len() {
            return Err(Error::Settings(format!(
                "--original-fraction {} needs {wanted} original solutions beside {} generated \
                 ones: more than {MAX_ORIGINAL_COPIES} copies of each of the {} problems that have \
                 one; lower the fraction",
                options.original_fraction,
                summary.generated,
                originals.len()
            )));
        }
        let mut rng = Pcg64Mcg::seed_from_u64(options.seed ^ 0x6f72_6967);
        originals.shuffle(&mut rng);
        // Each original at most once while there are enough; beyond that they repeat in order.
        for problem in originals.iter().cycle().take(wanted) {
            let solution = problem.solution.as_deref().unwrap_or_default();
            records.push(sft_record(
                options.format,
                problem,
                solution,
                json!("original"),
            ));
            covered.insert(problem.id.as_str());
        }
        summary.original = wanted;
    }
    summary.records = records.len();
    summary.problems = covered.len();
    Ok((records, summary))
}

pub fn select_dpo(
    problems: &[Problem],
    samples: &[Sample],
    options: &DpoOptions,
) -> Result<(Vec<Value>, ExportSummary)> {
    let mut summary = ExportSummary::default();
    let mut records = Vec::new();
    for (problem, group) in groups(problems, samples)? {
        let problem_id = problem.id.as_str();
        let mut rng = problem_rng(options.seed, problem_id);
        let chosen = distinct_correct(&group, &mut rng, &mut summary.duplicates_dropped);
        let mut seen = HashSet::new();
        let mut rejected: Vec<&Sample> = group
            .iter()
            .copied()
            .filter(|s| s.correct == Some(false) && seen.insert(collapse_whitespace(&s.text)))
            .collect();
        rejected.shuffle(&mut rng);
        // Pair i-th correct with i-th incorrect, cycling the shorter list, so each text is used
        // as evenly as possible.
        let pairs = if chosen.is_empty() || rejected.is_empty() {
            0
        } else {
            chosen
                .len()
                .max(rejected.len())
                .min(options.max_pairs_per_problem)
        };
        if pairs > 0 {
            summary.problems += 1;
        }
        for i in 0..pairs {
            let (good, bad) = (chosen[i % chosen.len()], rejected[i % rejected.len()]);
            let mut record = match options.format {
                Format::Messages => json!({
                    "prompt": [{"role": "user", "content": problem.question}],
                    "chosen": [{"role": "assistant", "content": good.text}],
                    "rejected": [{"role": "assistant", "content": bad.text}],
                }),
                Format::PromptCompletion => json!({
                    "prompt": problem.question, "chosen": good.text, "rejected": bad.text,
                }),
            };
            record["problem_id"] = json!(problem_id);
            record["source"] = json!({"chosen": good.sample_idx, "rejected": bad.sample_idx});
            records.push(record);
        }
    }
    summary.records = records.len();
    summary.generated = records.len();
    Ok((records, summary))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grade::AnswerStyle;
    use serde_json::Map;

    fn problem(id: &str, solution: Option<&str>) -> Problem {
        Problem {
            id: id.into(),
            question: format!("question {id}"),
            answer: Some("1".into()),
            solution: solution.map(str::to_owned),
            style: AnswerStyle::Gsm8k,
            extra: Map::new(),
        }
    }

    fn sample(problem_id: &str, idx: u32, text: &str, correct: bool) -> Sample {
        Sample {
            problem_id: problem_id.into(),
            sample_idx: idx,
            text: text.into(),
            extracted: None,
            correct: Some(correct),
            score: None,
            step_scores: None,
            uncalibrated_score: None,
            extra: Map::new(),
        }
    }

    fn samples() -> Vec<Sample> {
        vec![
            sample("a", 0, "right one", true),
            sample("a", 1, "right  one", true), // a repeat once whitespace is collapsed
            sample("a", 2, "right two", true),
            sample("a", 3, "wrong", false),
            sample("b", 0, "wrong b", false),
            sample("c", 0, "right c", true),
        ]
    }

    #[test]
    fn sft_keeps_distinct_correct_samples_capped_per_problem() {
        let problems = [
            problem("a", Some("orig a")),
            problem("b", Some("orig b")),
            problem("c", None),
        ];
        let options = SftOptions {
            max_per_problem: None,
            original_fraction: 0.0,
            format: Format::Messages,
            seed: 0,
        };
        let (records, summary) = select_sft(&problems, &samples(), &options).unwrap();
        assert_eq!(
            summary,
            ExportSummary {
                records: 3,
                generated: 3,
                original: 0,
                problems: 2,
                duplicates_dropped: 1
            }
        );
        assert_eq!(
            records[0]["messages"][0],
            json!({"role": "user", "content": "question a"})
        );
        assert_eq!(records[0]["messages"][1]["role"], "assistant");
        let capped = SftOptions {
            max_per_problem: Some(1),
            format: Format::PromptCompletion,
            ..options
        };
        let (records, _) = select_sft(&problems, &samples(), &capped).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(
            records[1],
            json!({"prompt": "question c", "completion": "right c", "problem_id": "c", "source": {"generated": 0}})
        );
    }

    #[test]
    fn original_fraction_is_the_share_of_originals_in_the_output() {
        let problems = [
            problem("a", Some("orig a")),
            problem("b", Some("orig b")),
            problem("c", None),
        ];
        // 3 generated; F = 0.25 → 1 original (1 / 4); F = 0.5 → 3 originals, cycling the two.
        let options = |f| SftOptions {
            max_per_problem: None,
            original_fraction: f,
            format: Format::Messages,
            seed: 3,
        };
        let (records, summary) = select_sft(&problems, &samples(), &options(0.25)).unwrap();
        assert_eq!(
            (summary.generated, summary.original, records.len()),
            (3, 1, 4)
        );
        assert_eq!(records[3]["source"], "original");
        let (_, summary) = select_sft(&problems, &samples(), &options(0.5)).unwrap();
        assert_eq!(summary.original, 3);
        assert!(select_sft(&problems, &samples(), &options(1.0)).is_err());
        // F near 1 would ask for millions of copies of two originals: refused before building.
        let error = select_sft(&problems, &samples(), &options(0.9999999)).unwrap_err();
        assert_eq!(error.exit_code(), 64);
        assert!(error.to_string().contains("lower the fraction"), "{error}");
    }

    #[test]
    fn dpo_pairs_correct_with_incorrect_per_problem() {
        let problems = [problem("a", None), problem("b", None), problem("c", None)];
        let options = DpoOptions {
            max_pairs_per_problem: 4,
            format: Format::PromptCompletion,
            seed: 0,
        };
        let (records, summary) = select_dpo(&problems, &samples(), &options).unwrap();
        // Only problem a has both: 2 distinct correct × 1 incorrect → 2 pairs.
        assert_eq!(summary.problems, 1);
        assert_eq!(records.len(), 2);
        for record in &records {
            assert_eq!(record["rejected"], "wrong");
            assert!(record["chosen"].as_str().unwrap().starts_with("right"));
        }
        assert_ne!(records[0]["chosen"], records[1]["chosen"]);
        let one = DpoOptions {
            max_pairs_per_problem: 1,
            format: Format::Messages,
            seed: 0,
        };
        let (records, _) = select_dpo(&problems, &samples(), &one).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0]["chosen"][0]["role"], "assistant");
    }
}
