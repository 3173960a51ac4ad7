//! The `replay` backend: samples taken from an existing samples file (another tool's outputs, an
//! earlier run), so `solve` and the later stages can run without a model.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use clap::Args;

use super::{Backend, BackendConfig, Completion, Job, Origin, SamplingParams};
use crate::error::{Error, Result};
use crate::records::{read_all, Verbatim};

/// `--backend replay`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Replay (--backend replay)")]
pub struct ReplayArgs {
    /// The samples file to take samples from.
    #[arg(long, value_name = "SAMPLES")]
    pub replay_from: Option<PathBuf>,
}

impl ReplayArgs {
    /// The options of `--backend replay`.
    pub fn configure(&self) -> std::result::Result<ReplayOptions, Error> {
        let samples = self.replay_from.clone().ok_or_else(|| {
            Error::Settings("--backend replay needs --replay-from SAMPLES".into())
        })?;
        Ok(ReplayOptions { samples })
    }
}

/// Where `--backend replay` takes its samples from.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub samples: PathBuf,
}

impl BackendConfig for ReplayOptions {
    fn describe(&self) -> String {
        format!("replay of {}", self.samples.display())
    }

    fn open(&self) -> Result<Box<dyn Backend>> {
        Ok(Box::new(ReplayBackend::load(&self.samples)?))
    }

    fn reads(&self) -> Option<(&'static str, &Path)> {
        Some(("--replay-from", &self.samples))
    }
}

pub struct ReplayBackend {
    path: PathBuf,
    samples: HashMap<(String, u32), Verbatim>,
}

impl ReplayBackend {
    pub fn load(path: &Path) -> Result<Self> {
        let samples = read_all::<Verbatim>(path, false)?
            .0
            .into_iter()
            .map(|record| {
                let key = (record.sample.problem_id.clone(), record.sample.sample_idx);
                (key, record)
            })
            .collect();
        Ok(ReplayBackend {
            path: path.to_owned(),
            samples,
        })
    }
}

impl Backend for ReplayBackend {
    fn kind(&self) -> &'static str {
        "replay"
    }

    fn model(&self) -> String {
        format!("replay:{}", self.path.display())
    }

    fn hands_back_existing_records(&self) -> bool {
        true
    }

    fn run(
        &self,
        job: &Job,
        _params: &SamplingParams,
        emit: &mut dyn FnMut(Completion) -> Result<()>,
    ) -> Result<()> {
        for slot in &job.slots {
            let key = (job.problem_id.clone(), slot.sample_idx);
            let Some(record) = self.samples.get(&key) else {
                return Err(Error::Inconsistent(format!(
                    "{} has no sample {} of problem `{}`: ask for fewer samples (--n) or replay a \
                     larger file",
                    self.path.display(),
                    slot.sample_idx,
                    job.problem_id
                )));
            };
            emit(Completion {
                sample_idx: slot.sample_idx,
                text: record.sample.text.clone(),
                origin: Origin::Existing(record.line.clone()),
            })?;
        }
        Ok(())
    }
}
