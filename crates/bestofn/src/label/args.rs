//! The flags of the labeling stage, shared by `label` and `solve`.

use clap::Args;

use super::{ExportOptions, LabelOptions};
use crate::grade::AnswerStyle;

/// How answers are read from samples.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Labeling")]
pub struct LabelArgs {
    /// Answer style for every problem (gsm8k or math) instead of each problem's own.
    #[arg(long, value_parser = crate::io::args::answer_style())]
    pub style: Option<AnswerStyle>,
    /// Grade this sample field (an answer another tool extracted) instead of the text, where set.
    #[arg(long, value_name = "FIELD")]
    pub answer_field: Option<String>,
    /// Add to every sample an `explanation` field: the answer found, its normalized and parsed
    /// forms, the gold answer's, the verdict and the rule that decided it.
    #[arg(long)]
    pub explain: bool,
    /// What a sample cut off at its token limit (`finish_reason: "length"`) counts as: keep
    /// (graded as any other), wrong, or skip (left out of the labeled file).
    #[arg(long, value_enum, default_value = "keep")]
    pub truncated: super::Truncated,
}

impl LabelArgs {
    pub fn resolve(&self) -> LabelOptions {
        LabelOptions {
            style: self.style,
            answer_field: self.answer_field.clone(),
            explain: self.explain,
            truncated: self.truncated,
        }
    }
}

/// Verifier training data written while labeling.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// Write verifier training examples (question, solution, label, problem id) to this JSONL file.
    #[arg(long, value_name = "FILE")]
    pub export_verifier_data: Option<std::path::PathBuf>,
    /// With --export-verifier-data: as many correct as incorrect examples per problem.
    #[arg(long, requires = "export_verifier_data")]
    pub balance: bool,
    /// With --export-verifier-data: at most N examples per problem.
    #[arg(long, value_name = "N", requires = "export_verifier_data")]
    pub max_per_problem: Option<usize>,
    /// With --export-verifier-data: drop repeated solution texts within a problem.
    #[arg(long, requires = "export_verifier_data")]
    pub dedup: bool,
    /// Seed of the per-problem example selection.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl ExportArgs {
    pub fn resolve(&self) -> ExportOptions {
        ExportOptions {
            balance: self.balance,
            max_per_problem: self.max_per_problem,
            dedup: self.dedup,
            seed: self.seed,
        }
    }
}
