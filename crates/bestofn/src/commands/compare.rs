//! `bestofn compare`.

use std::path::PathBuf;

use super::{progress, Outcome};
use crate::compare::embed::Embedder;
use crate::compare::{
    compare, diagnose, markdown, write_comparison, DiagnosticOptions, EmbedProgress, Run,
};
use crate::error::{Error, Result};
use crate::eval::args::EvalArgs;
use crate::eval::EvalOptions;
use crate::io::{ensure_distinct, Named, OutputDir};
use crate::pool::build_pools;
use crate::records::{read_samples, read_verdicts};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A run as NAME=SAMPLES (labeled samples; a pool per problem or one chosen solution). Repeat.
    /// Without NAME=, the run is named after its file.
    #[arg(long = "run", required = true, value_name = "NAME=SAMPLES", value_parser = parse_run)]
    pub runs: Vec<(String, PathBuf)>,
    /// Report directory: compare.json, compare.md, compare_vs_k.svg.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub eval: EvalArgs,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also read the runs as iterations of one model (base = the first run): pass@1 vs coverage,
    /// the improvement illusion, diversity (distinct-n, equation sets) and tail retention.
    #[arg(long)]
    pub iterations: bool,
    /// With --iterations: also the mean pairwise similarity of sample embeddings, with this
    /// embedder directory (`python -m bestofn_verifier embedder --out DIR`).
    #[arg(long, value_name = "DIR", requires = "iterations")]
    pub embedder: Option<PathBuf>,
    /// With --embedder: embed the samples of at most this many problems per run.
    #[arg(long, value_name = "N", requires = "embedder")]
    pub embed_max_problems: Option<usize>,
    /// With --iterations: k of coverage and of the illusion (default: the smallest N).
    #[arg(long, requires = "iterations")]
    pub k: Option<usize>,
    /// ONNX Runtime shared library for the embedder; else ORT_DYLIB_PATH, else the project's .venv.
    #[arg(long, env = "BESTOFN_ORT_LIB")]
    pub ort_lib: Option<PathBuf>,
}

/// `NAME=PATH`, or a path named after its file.
fn parse_run(value: &str) -> std::result::Result<(String, PathBuf), String> {
    let (name, path) = match value.split_once('=') {
        Some((name, path)) if !name.is_empty() => (name.to_owned(), PathBuf::from(path)),
        _ => {
            let path = PathBuf::from(value);
            let name = path
                .file_stem()
                .map_or_else(|| value.to_owned(), |s| s.to_string_lossy().into_owned());
            (name, path)
        }
    };
    if name.chars().any(char::is_control) {
        return Err(format!(
            "the run name {name:?} has a control character (a newline?)"
        ));
    }
    if path.as_os_str().is_empty() {
        return Err(format!("the run {name:?} names no file"));
    }
    Ok((name, path))
}

#[derive(Debug)]
pub struct Settings {
    runs: Vec<(String, PathBuf)>,
    out: PathBuf,
    options: EvalOptions,
    iterations: Option<Iterations>,
}

#[derive(Debug)]
struct Iterations {
    embedder: Option<PathBuf>,
    ort_lib: Option<PathBuf>,
    diagnostics: DiagnosticOptions,
}

impl Args {
    pub fn resolve(self) -> Result<Settings> {
        for (i, (name, _)) in self.runs.iter().enumerate() {
            if self.runs[..i].iter().any(|(other, _)| other == name) {
                return Err(Error::Settings(format!(
                    "two runs are named {name:?}: give each run its own NAME="
                )));
            }
        }
        if self.k == Some(0) {
            return Err(Error::Settings("--k must be at least 1".into()));
        }
        let mut inputs: Vec<Named> = self
            .runs
            .iter()
            .map(|(_, path)| Named::file("--run", path))
            .collect();
        if self.iterations {
            inputs.extend(
                self.embedder
                    .as_deref()
                    .map(|dir| Named::dir("--embedder", dir)),
            );
        }
        ensure_distinct(&inputs, &[Named::dir("--out", &self.out)])?;
        Ok(Settings {
            options: self.eval.resolve(self.seed)?,
            iterations: self.iterations.then_some(Iterations {
                embedder: self.embedder,
                ort_lib: crate::score::args::ort_library(self.ort_lib.as_ref()),
                diagnostics: DiagnosticOptions {
                    k: self.k,
                    embed_max_problems: self.embed_max_problems,
                },
            }),
            runs: self.runs,
            out: self.out,
        })
    }
}

pub fn run(settings: &Settings) -> Result<Outcome> {
    let mut runs = Vec::new();
    for (name, path) in &settings.runs {
        let set = read_verdicts(path, false)?;
        runs.push(Run {
            name: name.clone(),
            pools: build_pools(&set.verdicts),
            stopped: set.stopped,
        });
    }
    let mut comparison = compare(&runs, &settings.options)?;
    if let Some(iterations) = &settings.iterations {
        comparison.iterations = diagnose_iterations(&settings.runs, iterations)?;
    }
    let report = OutputDir::create(&settings.out)?;
    write_comparison(&comparison, &report)?;
    report.commit()?;
    Ok(Outcome {
        summary: format!("report written to {}", settings.out.display()),
        stdout: Some(markdown(&comparison)),
    })
}

fn diagnose_iterations(
    runs: &[(String, PathBuf)],
    settings: &Iterations,
) -> Result<Vec<crate::compare::Iteration>> {
    let mut embedder = match &settings.embedder {
        Some(dir) => Some(Embedder::load(
            dir,
            settings.ort_lib.as_deref(),
            crate::default_threads(),
        )?),
        None => None,
    };
    let mut texts = Vec::new();
    for (name, path) in runs {
        texts.push((name.clone(), read_samples(path)?));
    }
    let bar = progress::bar(None, "embedding samples");
    let result = diagnose(
        &texts,
        embedder.as_mut(),
        &settings.diagnostics,
        &mut |event| match event {
            EmbedProgress::Total(total) => progress::set_total(&bar, total as u64),
            EmbedProgress::Problem => bar.inc(1),
        },
    );
    bar.finish_and_clear();
    result
}
