//! The `score` stage: fill every sample's `score` with a verifier's probability of being
//! correct.
//!
//! The seam is text-level: a [`Scorer`] (in `scorer.rs`) takes (question, solution) pairs and
//! returns probabilities, so an in-process ONNX model and a verifier served over HTTP plug in
//! the same way. The driver (`run.rs`) streams the samples through it, resumably. This file is
//! the registry: the one place that knows every backend. A served engine is one file
//! implementing [`Protocol`] with a `configure` from [`ServedFlags`], plus a variant of
//! [`ScorerBackendKind`] and its arm in [`served_engine`].

pub mod args;
pub(crate) mod confidence;
mod embedded_judge;
mod judge;
mod log;
mod onnx;
mod pair_cut;
mod remote;
mod run;
mod scorer;
mod served;
mod session;
mod sglang;
mod spec;
mod tei;
mod vllm;

use std::path::PathBuf;
use std::sync::Arc;

pub use confidence::{
    group_means, trace_score, ConfidenceMethod, ConfidenceOptions, ConfidenceScorer,
};
#[cfg(feature = "llama")]
pub use embedded_judge::EmbeddedJudge;
pub use embedded_judge::EmbeddedJudgeOptions;
pub use judge::{Judge, DEFAULT_JUDGE_TEMPLATE};
pub use log::{fingerprint, log_path, ScoreLog};
pub use onnx::{plan_batches, OnnxScorer, ScoreOptions};
pub use pair_cut::{Cut, PairCutter};
pub use remote::{Protocol, RemoteOptions, RemoteScorer, Served};
pub use run::score_file;
pub(crate) use run::{score_through_log, KeyedPair};
pub use scorer::{Pair, PairScore, ScoreStats, Scored, Scorer};
pub use served::{EndpointArg, ServedFlags};
pub use session::{find_library, Device, Inputs, OnnxModel};
pub use sglang::Sglang;
pub use spec::{
    InputTemplate, OutputKind, Per, PlattScaling, Side, StepFormat, TooLong, VerifierSpec,
};
pub use tei::{Tei, TeiApi};
pub use vllm::{Truncation, Vllm, VllmApi};

use crate::error::{Error, Result};
use crate::io::secrets::redact_url;

/// Where the verifier runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScorerBackendKind {
    /// In process, with ONNX Runtime (--verifier DIR).
    Onnx,
    /// A vLLM server started with --runner pooling.
    Vllm,
    /// Hugging Face Text Embeddings Inference.
    Tei,
    /// An SGLang server started with --is-embedding.
    Sglang,
    /// An LLM judge on an OpenAI-compatible server: p(Yes) / (p(Yes) + p(No)) at the first token
    /// of its answer (see --judge-template).
    Judge,
    /// The generator's own confidence, from the token statistics of `generate --token-stats`
    /// (see --method; not a probability).
    Confidence,
}

/// The served engine of `kind`, configured from the flags and the verifier directory's spec.
pub fn served_engine(
    kind: ScorerBackendKind,
    flags: &ServedFlags,
    verifier: Option<&VerifierSpec>,
) -> Result<Arc<dyn Protocol>> {
    Ok(match kind {
        ScorerBackendKind::Onnx | ScorerBackendKind::Confidence => {
            return Err(Error::Settings(format!(
                "{kind:?} scores in process, it is not served"
            )))
        }
        ScorerBackendKind::Vllm => Arc::new(Vllm::configure(flags, verifier)?),
        ScorerBackendKind::Tei => Arc::new(Tei::configure(flags, verifier)?),
        ScorerBackendKind::Sglang => Arc::new(Sglang::configure(flags, verifier)?),
        ScorerBackendKind::Judge => Arc::new(Judge::configure(flags, verifier)?),
    })
}

/// Which verifier to run, and where.
#[derive(Debug, Clone)]
pub enum ScorerSettings {
    /// In process: a verifier directory (model.onnx, tokenizer.json, verifier.json).
    Onnx {
        verifier: PathBuf,
        options: ScoreOptions,
    },
    /// The generator's confidence, from the samples' token statistics.
    Confidence(ConfidenceOptions),
    /// An LLM judge run in process by embedded llama.cpp.
    EmbeddedJudge(EmbeddedJudgeOptions),
    /// Served by an engine over HTTP.
    Remote {
        engine: Arc<dyn Protocol>,
        options: RemoteOptions,
    },
}

impl ScorerSettings {
    /// The verifier in words, for logs.
    pub fn describe(&self) -> String {
        match self {
            ScorerSettings::Onnx { verifier, .. } => verifier.display().to_string(),
            ScorerSettings::Confidence(options) => options.kind(),
            ScorerSettings::EmbeddedJudge(options) => options.id(),
            ScorerSettings::Remote { engine, options } => {
                let urls: Vec<String> = options.base_urls.iter().map(|u| redact_url(u)).collect();
                format!("{} at {}", engine.id(), urls.join(", "))
            }
        }
    }
}

#[cfg(feature = "llama")]
fn open_embedded_judge(options: &EmbeddedJudgeOptions) -> Result<Box<dyn Scorer>> {
    Ok(Box::new(EmbeddedJudge::load(options)?))
}

#[cfg(not(feature = "llama"))]
fn open_embedded_judge(_: &EmbeddedJudgeOptions) -> Result<Box<dyn Scorer>> {
    Err(Error::Settings(
        "this build has no embedded llama.cpp for a judge in process: build with --features \
         llama, or serve the judge and give --base-url"
            .into(),
    ))
}

/// Builds the chosen scorer.
pub fn open_scorer(settings: &ScorerSettings) -> Result<Box<dyn Scorer>> {
    match settings {
        ScorerSettings::Onnx { verifier, options } => {
            let scorer = OnnxScorer::load(verifier, options)
                .map_err(|e| e.loading(&format!("the verifier {}", verifier.display())))?;
            Ok(Box::new(scorer))
        }
        ScorerSettings::Confidence(options) => Ok(Box::new(ConfidenceScorer::new(*options))),
        ScorerSettings::EmbeddedJudge(options) => open_embedded_judge(options),
        ScorerSettings::Remote { engine, options } => Ok(Box::new(RemoteScorer::new(
            Arc::clone(engine),
            options.clone(),
        ))),
    }
}
