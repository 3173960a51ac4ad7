//! `bestofn show`: one problem's candidates, as `show.rs` renders them.

use std::path::PathBuf;

use super::Outcome;
use crate::error::{Error, Result};
use crate::records::{map_samples, read_problems, ProblemLayout, ReadOptions, Sample};
use crate::show::{render, ShowOptions};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Samples: generated, labeled or scored (- reads standard input).
    #[arg(long)]
    pub samples: PathBuf,
    /// The problem to show.
    #[arg(long)]
    pub id: String,
    /// Problems file: the question and gold answer, and each sample graded with the rule that
    /// decided (without it, the samples' own labels).
    #[arg(long)]
    pub problems: Option<PathBuf>,
    #[command(flatten)]
    pub layout: ProblemLayout,
    /// Lines of each candidate shown before its middle is folded.
    #[arg(long, default_value_t = 8, value_name = "LINES")]
    pub fold: usize,
    /// Every line of every candidate.
    #[arg(long)]
    pub full: bool,
}

#[derive(Debug)]
pub struct Settings {
    samples: PathBuf,
    id: String,
    problems: Option<PathBuf>,
    layout: ProblemLayout,
    options: ShowOptions,
}

impl Args {
    pub fn resolve(self) -> Result<Settings> {
        Ok(Settings {
            samples: self.samples,
            id: self.id,
            problems: self.problems,
            layout: self.layout,
            options: ShowOptions {
                fold_lines: if self.full { 0 } else { self.fold.max(1) },
            },
        })
    }
}

pub fn run(settings: &Settings) -> Result<Outcome> {
    let problem = match &settings.problems {
        Some(path) => {
            let problems = read_problems(path, &settings.layout)?;
            let found = problems.into_iter().find(|p| p.id == settings.id);
            Some(found.ok_or_else(|| {
                Error::Inconsistent(format!(
                    "{}: no problem has the id {:?}",
                    path.display(),
                    settings.id
                ))
            })?)
        }
        None => None,
    };
    let mut samples = Vec::new();
    let options = ReadOptions {
        keep_stopped: true,
        ..ReadOptions::new(false)
    };
    map_samples(
        &settings.samples,
        options,
        |sample: Sample, _| Ok((sample.problem_id == settings.id).then_some(sample)),
        |chunk| {
            samples.extend(chunk.into_iter().flatten());
            Ok(())
        },
    )?;
    if samples.is_empty() {
        return Err(Error::Inconsistent(format!(
            "{}: no sample of problem {:?}",
            settings.samples.display(),
            settings.id
        )));
    }
    let text = render(&settings.id, problem.as_ref(), &samples, settings.options);
    Ok(Outcome {
        summary: String::new(),
        stdout: Some(text),
    })
}
