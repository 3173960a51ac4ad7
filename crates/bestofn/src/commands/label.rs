//! `bestofn label`.

use std::collections::HashMap;
use std::path::PathBuf;

use super::Outcome;
use crate::error::Result;
use crate::io::args::InputArgs;
use crate::io::{ensure_distinct, write_json_pretty, write_jsonl, Named, OutputFile};
use crate::label::args::{ExportArgs, LabelArgs};
use crate::label::{label_file, select_verifier_examples, ExportOptions, LabelOptions};
use crate::records::{read_problems, ProblemLayout, ProblemLayoutBesideSamples, Sample};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Problems with gold answers: bestofn JSONL, GSM8K or MATH native format.
    #[arg(long)]
    pub problems: PathBuf,
    #[command(flatten)]
    pub layout: ProblemLayoutBesideSamples,
    /// Samples to grade (JSONL; gzip is decompressed; - reads standard input).
    #[arg(long)]
    pub samples: PathBuf,
    /// Labeled samples output (- writes standard output).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub label: LabelArgs,
    #[command(flatten)]
    pub input: InputArgs,
    /// Also write the summary as JSON.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Also list every sample whose imported verdict (`correct` before labeling: a harness's,
    /// a source's) differs from bestofn's, one JSON line each with both verdicts and answers.
    #[arg(long, value_name = "FILE")]
    pub disagreements: Option<PathBuf>,
    #[command(flatten)]
    pub export: ExportArgs,
}

#[derive(Debug)]
pub struct Settings {
    problems: PathBuf,
    layout: ProblemLayout,
    samples: PathBuf,
    out: PathBuf,
    options: LabelOptions,
    skip_invalid: bool,
    summary_json: Option<PathBuf>,
    disagreements: Option<PathBuf>,
    export: Option<(PathBuf, ExportOptions)>,
}

impl Args {
    pub fn resolve(self) -> Result<Settings> {
        let outputs = Named::given([
            Some(Named::file("--out", &self.out)),
            Named::optional(
                "--export-verifier-data",
                self.export.export_verifier_data.as_ref(),
            ),
            Named::optional("--summary-json", self.summary_json.as_ref()),
            Named::optional("--disagreements", self.disagreements.as_ref()),
        ]);
        let inputs = Named::problems_and_samples(&self.problems, &self.samples);
        ensure_distinct(&inputs, &outputs)?;
        Ok(Settings {
            options: self.label.resolve(),
            export: self
                .export
                .export_verifier_data
                .clone()
                .map(|path| (path, self.export.resolve())),
            problems: self.problems,
            layout: self.layout.0,
            samples: self.samples,
            out: self.out,
            skip_invalid: self.input.skip_invalid,
            summary_json: self.summary_json,
            disagreements: self.disagreements,
        })
    }
}

/// One sample graded differently before and now: both verdicts, both answers, the gold, the text.
fn disagreement(
    sample: &Sample,
    before: bool,
    golds: &HashMap<&str, Option<&str>>,
) -> serde_json::Value {
    serde_json::json!({
        "problem_id": sample.problem_id,
        "sample_idx": sample.sample_idx,
        "gold": golds.get(sample.problem_id.as_str()).copied().flatten(),
        "source_answer": sample.extra.get("source_answer"),
        "source_correct": before,
        "extracted": sample.extracted,
        "correct": sample.correct,
        "text": sample.text,
    })
}

pub fn run(settings: &Settings) -> Result<Outcome> {
    let problems = read_problems(&settings.problems, &settings.layout)?;
    // Samples are kept in memory only when a verifier export needs them all.
    let mut kept = Vec::new();
    let mut disagreements = match &settings.disagreements {
        Some(path) => Some((OutputFile::create(path)?, 0usize)),
        None => None,
    };
    let golds: HashMap<&str, Option<&str>> = problems
        .iter()
        .map(|p| (p.id.as_str(), p.answer.as_deref()))
        .collect();
    let summary = label_file(
        &problems,
        &settings.samples,
        &settings.out,
        &settings.options,
        settings.skip_invalid,
        |sample, before| {
            if settings.export.is_some() {
                kept.push(sample.clone());
            }
            match (&mut disagreements, before, sample.correct) {
                (Some((out, count)), Some(before), Some(now)) if before != now => {
                    *count += 1;
                    out.write_json_line(&disagreement(sample, before, &golds))
                }
                _ => Ok(()),
            }
        },
    )?;
    let mut message = String::new();
    if let Some((path, options)) = &settings.export {
        let examples = select_verifier_examples(&problems, &kept, options);
        write_jsonl(path, &examples)?;
        message = format!(
            "wrote {} verifier examples to {}\n",
            examples.len(),
            path.display()
        );
    }
    message.push_str(&summary.to_string());
    if let (Some((out, count)), Some(path)) = (disagreements, &settings.disagreements) {
        out.commit()?;
        message.push_str(&format!(
            "\nlisted {count} disagreements in {}",
            path.display()
        ));
    }
    if let Some(path) = &settings.summary_json {
        write_json_pretty(path, &summary)?;
    }
    Ok(Outcome::summary(message))
}
