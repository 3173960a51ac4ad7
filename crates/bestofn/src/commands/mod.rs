//! The commands: one module each, with its arguments (flag groups owned by the stages they
//! configure), its `Settings` resolved and checked before any work starts, and `run`.
//!
//! `main` only parses, calls [`execute`], prints the [`Outcome`] and maps errors to exit codes.

mod compare;
mod compose;
mod config;
mod convert;
mod docs;
mod eval;
mod export;
mod generate;
mod grade;
mod import;
mod label;
mod progress;
mod rank;
mod score;
mod serve;
mod show;
mod solve;

use clap::{Parser, Subcommand};

use crate::error::Result;
pub use config::{parse as parse_command_line, ResolvedFlags};

/// Best-of-N solving with a learned verifier.
///
/// Every stage reads and writes JSONL (`-` is standard input or output; `.gz` is compressed);
/// inputs may also be Parquet, and an output named `.parquet` is written as Parquet.
/// Exit codes: 0 success, 2 bad arguments, 64 invalid settings, 65 malformed or inconsistent
/// input, 69 a model or library that cannot be loaded, 70 a model that failed while running,
/// 74 I/O failure, 75 generation stopped by a failing server or a file locked by another run
/// (what was generated is kept: run the same command again to resume), 76 a request the server
/// refused, 1 anything else.
#[derive(Debug, Parser)]
#[command(name = "bestofn", version, propagate_version = true)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// The longest input line read, in bytes (K, M, G suffixes): a file without newlines is
    /// refused instead of filling memory.
    #[arg(long, global = true, value_name = "BYTES", default_value = "128M", value_parser = crate::io::args::byte_size)]
    pub max_line_bytes: usize,
    /// Flags from a TOML file (`n = 16`, `token-stats = true`, `strategy = ["majority"]`; a
    /// `[generate]` table for one command); the command line overrides them.
    #[arg(long, global = true, value_name = "FILE.toml")]
    pub config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sample N solutions per problem from a model (embedded llama.cpp, an OpenAI-compatible
    /// server, or a replayed file), appending to a resumable samples file.
    Generate(generate::Args),
    /// generate → label → score → rank (→ eval when the problems have gold answers) in one
    /// command.
    Solve(Box<solve::Args>),
    /// Convert a grouped sample set (one problem per line with its candidates) to problems and
    /// flat samples.
    Import(import::Args),
    /// Grade samples against gold answers: fill `extracted` and `correct`.
    Label(label::Args),
    /// Records from one file format to another, unchanged: JSONL, JSON, CSV, TSV or Parquet in;
    /// JSONL or Parquet out.
    Convert(convert::Args),
    /// One problem: its question and gold, what each strategy picks, the votes, and every
    /// candidate with its answer, verdict and rule, score and folded text.
    Show(show::Args),
    /// Explain a verdict: the answer found in a response, its normalized and parsed forms, the
    /// gold answer's, and the rule that decided.
    Grade(grade::Args),
    /// Fill every sample's `score` with the verifier's probability that it is correct.
    Score(score::Args),
    /// Pick one answer per problem.
    Rank(rank::Args),
    /// Accuracy vs number of samples per strategy, calibration, and a report directory.
    Eval(eval::Args),
    /// Compositional GSM: chain pairs of GSM8K problems (Q1's answer is X in Q2), recomputing
    /// Q2's answer by re-executing its reference solution's calculator annotations.
    Compose(compose::Args),
    /// Training data for the next iteration from labeled samples: SFT (correct samples) and/or
    /// DPO (correct vs incorrect pairs), in TRL's formats.
    Export(export::Args),
    /// Several runs side by side, with paired differences over their shared problems.
    Compare(compare::Args),
    /// The grader and the verifier as an HTTP service: /grade, /score, OpenRLHF's /get_reward,
    /// /health, /metrics (loopback unless a token is set).
    Serve(serve::Args),
    /// Shell completions for bash, zsh, fish, elvish or PowerShell, on standard output.
    Completions(docs::CompletionsArgs),
    /// The man pages: bestofn.1 on standard output, or every command's into --out-dir.
    Man(docs::ManArgs),
}

/// What a command has to say when it succeeds: a summary for stderr, and data for stdout.
#[derive(Debug, Default)]
pub struct Outcome {
    pub summary: String,
    pub stdout: Option<String>,
}

impl Outcome {
    fn summary(summary: impl std::fmt::Display) -> Self {
        Outcome {
            summary: summary.to_string(),
            stdout: None,
        }
    }

    fn stdout(data: String) -> Self {
        Outcome {
            summary: String::new(),
            stdout: Some(data),
        }
    }
}

/// Resolves the command's settings (every check that needs no work; environment variables are
/// read here), logs them (`-v`; keys are redacted), runs it, and writes every flag's resolved
/// value beside its output.
pub fn execute(command: Command, resolved: &ResolvedFlags) -> Result<Outcome> {
    let outcome = run(command)?;
    resolved.write_beside_output();
    Ok(outcome)
}

fn run(command: Command) -> Result<Outcome> {
    match command {
        Command::Generate(args) => generate::run(&logged(args.resolve()?)),
        Command::Solve(args) => solve::run(&logged(args.resolve()?)),
        Command::Import(args) => import::run(&logged(args.resolve()?)),
        Command::Label(args) => label::run(&logged(args.resolve()?)),
        Command::Convert(args) => convert::run(&logged(args.resolve()?)),
        Command::Grade(args) => grade::run(&logged(args.resolve()?)),
        Command::Show(args) => show::run(&logged(args.resolve()?)),
        Command::Score(args) => score::run(&logged(args.resolve()?)),
        Command::Rank(args) => rank::run(&logged(args.resolve()?)),
        Command::Eval(args) => eval::run(&logged(args.resolve()?)),
        Command::Compose(args) => compose::run(&logged(args.resolve()?)),
        Command::Export(args) => export::run(&logged(args.resolve()?)),
        Command::Compare(args) => compare::run(&logged(args.resolve()?)),
        Command::Serve(args) => serve::run(logged(args.resolve()?)),
        Command::Completions(args) => docs::completions(&args),
        Command::Man(args) => docs::man(&args),
    }
}

/// The settings a run goes with, as resolved, in the log.
fn logged<S: std::fmt::Debug>(settings: S) -> S {
    let shown = crate::io::secrets::redact_urls(&format!("{settings:?}"));
    tracing::info!(settings = %shown, "resolved settings");
    settings
}
