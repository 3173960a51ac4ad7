//! The flags of the scoring stage, shared by `score` and `solve`, resolved into
//! [`ScorerSettings`] before any work starts.

use std::path::PathBuf;

use clap::Args;

use super::{Device, ScoreOptions, ScorerSettings, TooLong};
use crate::error::Error;

/// How the verifier runs.
#[derive(Debug, Clone, Args)]
pub struct ScorerArgs {
    /// Most tokens (rows × padded length) per batch.
    #[arg(long, default_value_t = 8192)]
    pub token_budget: usize,
    /// Most samples per batch.
    #[arg(long, default_value_t = 128)]
    pub max_batch: usize,
    /// Inputs longer than the verifier's max_length: truncate or error (default: verifier.json).
    #[arg(long, value_enum)]
    pub too_long: Option<TooLongArg>,
    /// ONNX Runtime shared library (libonnxruntime.so); else ORT_DYLIB_PATH, else the project's .venv.
    #[arg(long, env = "BESTOFN_ORT_LIB")]
    pub ort_lib: Option<PathBuf>,
    /// Run on the GPU with ONNX Runtime's CUDA execution provider (build with --features cuda).
    #[arg(long)]
    pub cuda: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TooLongArg {
    Truncate,
    Error,
}

impl ScorerArgs {
    /// The settings for `verifier`, run on `threads` threads (a command-level flag: `solve`
    /// shares it with generation).
    pub fn resolve(
        &self,
        verifier: PathBuf,
        threads: Option<usize>,
    ) -> Result<ScorerSettings, Error> {
        if threads == Some(0) {
            return Err(Error::Settings("--threads must be at least 1".into()));
        }
        if self.max_batch == 0 {
            return Err(Error::Settings("--max-batch must be at least 1".into()));
        }
        Ok(ScorerSettings {
            verifier,
            options: ScoreOptions {
                ort_library: self.ort_lib.clone(),
                threads: threads.unwrap_or_else(crate::default_threads),
                device: if self.cuda { Device::Cuda } else { Device::Cpu },
                token_budget: self.token_budget,
                max_batch: self.max_batch,
                too_long: self.too_long.map(|t| match t {
                    TooLongArg::Error => TooLong::Error,
                    TooLongArg::Truncate => TooLong::Truncate,
                }),
            },
        })
    }
}
