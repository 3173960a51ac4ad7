//! `bestofn import`.

use std::path::PathBuf;

use super::Outcome;
use crate::error::{Error, Result};
use crate::import::{import, Format, ResponseLink};
use crate::io::{ensure_distinct, Named, OutputSet, TableFormat};
use crate::records::{read_problems, ProblemLayout};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Source format. Grouped: faithful-cot-pool, qwen-math-rm, gsm8k-example-solutions:RUN (RUN:
    /// 6b_finetuning, 6b_verification, 175b_finetuning, 175b_verification); evaluation logs:
    /// lm-eval (a --log_samples samples_<task>_<time>.jsonl), lighteval (a details Parquet
    /// file), search-and-learn (its output dataset). Responses tied to --problems: openai-chat,
    /// openai-completions (saved responses or Batch API output), vllm-outputs (RequestOutputs as
    /// JSON), samples (one text per record).
    #[arg(long)]
    pub format: Format,
    /// Input file (gzip is decompressed).
    #[arg(long)]
    pub input: PathBuf,
    /// Shape of the input (auto: by its name; .json, .csv, .tsv, else JSONL; Parquet is known by
    /// its first bytes).
    #[arg(long, value_enum, default_value_t, value_name = "FORMAT")]
    pub input_format: TableFormat,
    /// The lm-eval filter whose answers and verdicts are kept (strict-match,
    /// flexible-extract, ...): needed when the log holds several.
    #[arg(long, value_name = "NAME")]
    pub filter: Option<String>,
    /// The problems the responses answer (responses formats).
    #[arg(long)]
    pub problems: Option<PathBuf>,
    #[command(flatten)]
    pub layout: ProblemLayout,
    /// The field of each response record holding its problem's id (`custom_id`,
    /// `metadata.problem_id`, `request_id`); without it the i-th record answers the i-th problem.
    #[arg(long, value_name = "FIELD")]
    pub problem_id_field: Option<String>,
    /// The field holding each sample's text (--format samples; default: text).
    #[arg(long, value_name = "FIELD")]
    pub text_field: Option<String>,
    /// Flat samples output (JSONL).
    #[arg(long)]
    pub out: PathBuf,
    /// Problems output (JSONL), with gold answers.
    #[arg(long)]
    pub problems_out: Option<PathBuf>,
}

pub type Settings = Args;

impl Args {
    pub fn resolve(mut self) -> Result<Settings> {
        match (&mut self.format, self.filter.take()) {
            (Format::LmEval { filter }, given) => *filter = given,
            (_, Some(_)) => {
                return Err(Error::Settings(
                    "--filter applies to --format lm-eval".into(),
                ))
            }
            (_, None) => {}
        }
        match (self.format.reads_responses(), &self.problems) {
            (true, None) => {
                return Err(Error::Settings(format!(
                    "--format {} needs --problems: the problems the responses answer",
                    self.format
                )))
            }
            (false, Some(_)) => {
                return Err(Error::Settings(format!(
                    "--format {} holds its own problems: leave out --problems",
                    self.format
                )))
            }
            _ => {}
        }
        if self.text_field.is_some() && self.format != Format::Samples {
            return Err(Error::Settings(
                "--text-field applies to --format samples".into(),
            ));
        }
        let outputs = Named::given([
            Some(Named::file("--out", &self.out)),
            Named::optional("--problems-out", self.problems_out.as_ref()),
        ]);
        let mut inputs = vec![Named::file("--input", &self.input)];
        inputs.extend(self.problems.as_ref().map(|p| Named::file("--problems", p)));
        ensure_distinct(&inputs, &outputs)?;
        Ok(self)
    }
}

pub fn run(settings: &Settings) -> Result<Outcome> {
    let link = match &settings.problems {
        Some(path) => Some(ResponseLink {
            problems: read_problems(path, &settings.layout)?,
            problem_id_field: settings.problem_id_field.clone(),
            text_field: settings.text_field.clone(),
        }),
        None => None,
    };
    let imported = import(
        &settings.input,
        &settings.format,
        settings.input_format,
        link,
    )?;
    let mut outputs = OutputSet::default();
    outputs.add_jsonl(&settings.out, &imported.samples)?;
    if let Some(path) = &settings.problems_out {
        outputs.add_jsonl(path, &imported.problems)?;
    }
    outputs.commit()?;
    Ok(Outcome::summary(format!(
        "imported {} problems, {} samples from {}",
        imported.problems.len(),
        imported.samples.len(),
        settings.input.display()
    )))
}
