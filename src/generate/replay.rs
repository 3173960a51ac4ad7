//! The `replay` backend: samples taken from an existing samples file (another tool's outputs, an
//! earlier run), so `solve` and the later stages can run without a model.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::{sample_key, Backend, Completion, Job, SamplingParams};
use crate::error::{Error, Result};
use crate::io::{for_each_line, parse_object};

pub struct ReplayBackend {
    path: PathBuf,
    samples: HashMap<(String, u32), Map<String, Value>>,
}

impl ReplayBackend {
    pub fn load(path: &Path) -> Result<Self> {
        let mut samples = HashMap::new();
        for_each_line(path, |line, text| {
            let record = parse_object(path, line, text)?;
            let (problem_id, sample_idx) = sample_key(
                path,
                line,
                record.get("problem_id"),
                record.get("sample_idx"),
            )?;
            if samples.insert((problem_id, sample_idx), record).is_some() {
                return Err(Error::input(
                    path,
                    line,
                    Some("sample_idx"),
                    "this key appears twice",
                ));
            }
            Ok(())
        })?;
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

    fn records_settings(&self) -> bool {
        false
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
            let text = record
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or_default();
            emit(Completion {
                sample_idx: slot.sample_idx,
                text: text.to_owned(),
                finish_reason: None,
                num_tokens: None,
                replayed: Some(record.clone()),
            })?;
        }
        Ok(())
    }
}
