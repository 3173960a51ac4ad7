//! `generate`: sample N candidate solutions per problem from a model, append-only and resumable.
//!
//! Backends: embedded llama.cpp (`llama/`, its engine behind the cargo feature of the same name),
//! any OpenAI-compatible server (`openai.rs`), vLLM's offline engine (`vllm_offline.rs`), and an
//! existing samples file (`replay.rs`), each
//! holding its flags, its options ([`BackendConfig`]) and its engine ([`Backend`], whose contract
//! is in `backend.rs`). The driver (`run.rs`) owns everything backends share: which
//! `(problem_id, sample_idx)` pairs are missing (`sampling.rs`: the plan and per-sample seeds),
//! the output log, and stopping cleanly on the first error with every finished sample kept. This
//! file is the registry: [`BackendKind`] and [`configure`], the one place that knows every
//! backend.

mod adaptive;
pub mod args;
mod backend;
mod llama;
mod log;
mod online;
mod openai;
mod openai_stream;
mod replay;
mod run;
mod sampling;
pub mod template;
mod token_stats;
mod vllm_offline;

use std::path::Path;

use crate::error::Result;
pub use adaptive::{beta_confidence, AdaptiveStop, NewSample, RoundJudge};
pub(crate) use backend::run_concurrently;
pub use backend::{Backend, Completion, Generated, Job, Origin, Seeding, Slot};
#[cfg(feature = "llama")]
pub(crate) use llama::LlamaBackend;
pub use llama::{default_gguf, LlamaArgs, LlamaOptions};
pub use log::{ExistingSamples, Expected, SampleLog};
pub use online::{percentile, EarlyStop, GroupStop, GroupWatch, OnlineConfidence};
pub(crate) use openai::token_stats_from_logprobs;
pub use openai::{OpenAiArgs, OpenAiOptions};
pub use replay::{ReplayArgs, ReplayOptions};
pub(crate) use run::PER_SAMPLE_GENERATOR_FIELDS;
pub use run::{
    generate, generate_judged, generator_settings, GenerateOptions, GenerateSummary, Progress,
    MAX_PLANNED_SAMPLES,
};
pub use sampling::SamplingParams;
pub use template::{Mode, Prompt, Template};
#[cfg(feature = "llama")]
pub(crate) use token_stats::log_normalizer_and_mean;
pub use token_stats::{TokenStats, TokenStatsRequest};
pub use vllm_offline::{VllmOfflineArgs, VllmOfflineOptions};

/// Which backend generates: the registry of backends, each configured from its own flag group
/// (in its own file) by [`configure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendKind {
    /// llama.cpp embedded in bestofn (any GGUF file).
    Llama,
    /// An OpenAI-compatible server (vLLM, SGLang, llama.cpp server, Ollama, TGI, OpenAI).
    Openai,
    /// Samples from an existing samples file (--replay-from).
    Replay,
    /// vLLM's offline engine (vllm.LLM) in a Python worker: no server.
    VllmOffline,
}

/// The settings of the chosen backend, resolved from its flags: each backend's own options,
/// which know how to open it.
pub trait BackendConfig: std::fmt::Debug + Send + Sync {
    /// Builds the backend (loads the model, connects nothing yet).
    fn open(&self) -> Result<Box<dyn Backend>>;
    /// What will generate, in one line for people (`--dry-run`); credentials never shown.
    fn describe(&self) -> String;
    /// A file the backend reads, with its flag: an output must not be it.
    fn reads(&self) -> Option<(&'static str, &Path)> {
        None
    }
}

/// The chosen backend's settings.
pub type BackendSettings = Box<dyn BackendConfig>;

/// The settings of backend `kind` from `args`' flag groups, on `threads` CPU threads.
pub fn configure(
    kind: BackendKind,
    args: &args::GeneratorArgs,
    threads: usize,
) -> Result<BackendSettings> {
    let model = args.model.as_deref();
    Ok(match kind {
        BackendKind::Llama => Box::new(args.llama.configure(model, threads)?),
        BackendKind::Openai => Box::new(args.openai.configure(model)?),
        BackendKind::Replay => Box::new(args.replay.configure()?),
        BackendKind::VllmOffline => Box::new(args.vllm_offline.configure(model)?),
    })
}

/// Builds the chosen backend.
pub fn open_backend(settings: &BackendSettings) -> Result<Box<dyn Backend>> {
    settings.open()
}
