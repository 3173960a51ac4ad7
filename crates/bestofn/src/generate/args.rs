//! The flags of the generation stage, shared by `generate` and `solve`: the sampling settings
//! every backend shares, then one group per backend (each defined, and resolved into its own
//! options, in the backend's file). Everything is checked here, before any work starts.

use clap::Args;

use super::token_stats::{TokenStatsRequest, MAX_TOP_LOGPROBS};
use super::{
    AdaptiveStop, BackendKind, BackendSettings, GenerateOptions, LlamaArgs, OnlineConfidence,
    OpenAiArgs, ReplayArgs, SamplingParams, Template, VllmOfflineArgs,
};
use crate::error::Error;

/// How samples are made: shared by `generate` and `solve`.
#[derive(Debug, Args)]
pub struct GeneratorArgs {
    #[arg(long, value_enum, default_value = "llama")]
    pub backend: BackendKind,
    /// llama: GGUF file (default: the bundled SmolLM2-135M-Instruct, found in .venv-llama or
    /// $BESTOFN_GGUF); openai: the model name the server knows; vllm-offline: the Hugging Face
    /// directory or name vLLM loads.
    #[arg(long)]
    pub model: Option<String>,
    /// llama and the verifier: CPU threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Add samples to an output file made with other generator settings instead of refusing.
    #[arg(long)]
    pub allow_settings_change: bool,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    #[command(flatten)]
    pub adaptive: AdaptiveArgs,
    #[command(flatten)]
    pub online: OnlineArgs,
    #[command(flatten)]
    pub llama: LlamaArgs,
    #[command(flatten)]
    pub openai: OpenAiArgs,
    #[command(flatten)]
    pub replay: ReplayArgs,
    #[command(flatten)]
    pub vllm_offline: VllmOfflineArgs,
}

/// Adaptive N: --n becomes the most samples a problem gets.
#[derive(Debug, Args)]
#[command(next_help_heading = "Adaptive N")]
pub struct AdaptiveArgs {
    /// Sample each problem in rounds and stop once its answer is settled: the leading answer
    /// beats the runner-up with probability --adaptive-confidence (Adaptive-Consistency's Beta rule).
    /// The samples drawn are the same as without it, only fewer.
    #[arg(long)]
    pub adaptive: bool,
    /// Samples per problem and round (also of --online-confidence after its warm-up)
    /// [default: 4].
    #[arg(long, value_name = "N")]
    pub adaptive_round: Option<u32>,
    /// How sure the vote must be before a problem stops, in (0.5, 1).
    #[arg(long, default_value_t = 0.95, requires = "adaptive")]
    pub adaptive_confidence: f64,
    /// Votes from this sample field where a replayed sample has it (an answer another tool
    /// extracted, e.g. a program's output) instead of from the text, as `label --answer-field`.
    #[arg(long, value_name = "FIELD", requires = "adaptive")]
    pub vote_field: Option<String>,
}

/// Samples per problem and round unless --adaptive-round says.
const DEFAULT_ROUND: u32 = 4;

impl AdaptiveArgs {
    /// Samples per problem and round, checked.
    fn round(&self) -> Result<u32, Error> {
        let round = self.adaptive_round.unwrap_or(DEFAULT_ROUND);
        at_least_one(round as usize, "--adaptive-round")?;
        Ok(round)
    }

    fn resolve(&self) -> Result<Option<AdaptiveStop>, Error> {
        if !self.adaptive {
            return Ok(None);
        }
        if !(self.adaptive_confidence > 0.5 && self.adaptive_confidence < 1.0) {
            return Err(Error::Settings(format!(
                "--adaptive-confidence {} must be in (0.5, 1): 0.5 stops at the first vote, 1 never stops",
                self.adaptive_confidence
            )));
        }
        Ok(Some(AdaptiveStop {
            round: self.round()?,
            confidence: self.adaptive_confidence,
            answer_field: self.vote_field.clone(),
        }))
    }
}

/// DeepConf online: --n becomes the most traces a problem gets.
#[derive(Debug, Args)]
#[command(next_help_heading = "Online confidence (DeepConf online)")]
pub struct OnlineArgs {
    /// Stop traces, and problems, by the generator's confidence as they are sampled (DeepConf
    /// online; needs --token-stats): the first --warmup traces of a problem set its threshold,
    /// every later trace stops once the mean confidence of its last --confidence-window tokens
    /// falls below it (kept, partial, marked `early_stop`: never graded, ranked or counted), and
    /// a problem stops once the confidence-weighted vote gives one answer --consensus of the
    /// weight. After the warm-up, traces come in rounds of --adaptive-round.
    #[arg(long)]
    pub online_confidence: bool,
    /// Traces per problem sampled whole to set its threshold (DeepConf's N_init).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 16,
        requires = "online_confidence"
    )]
    pub warmup: u32,
    /// The percent of the warm-up's traces at or above the threshold (DeepConf's η: 10 stops
    /// most traces, 90 few); in `solve`, also confidence-vote's [default: 90].
    #[arg(long, value_name = "PERCENT")]
    pub keep_top: Option<String>,
    /// Tokens per group: a trace stops on the mean of its last N token confidences.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 2048,
        requires = "online_confidence"
    )]
    pub confidence_window: usize,
    /// The weighted vote's leading share that stops a problem (DeepConf's τ), in (0.5, 1].
    #[arg(
        long,
        value_name = "SHARE",
        default_value_t = 0.95,
        requires = "online_confidence"
    )]
    pub consensus: f64,
}

/// DeepConf's η unless --keep-top says.
const DEFAULT_KEEP_TOP: u32 = 90;

impl OnlineArgs {
    fn resolve(&self, n: u32, round: u32) -> Result<Option<OnlineConfidence>, Error> {
        if !self.online_confidence {
            return Ok(None);
        }
        at_least_one(self.warmup as usize, "--warmup")?;
        at_least_one(self.confidence_window, "--confidence-window")?;
        if self.warmup >= n {
            return Err(Error::Settings(format!(
                "--warmup {} must be below --n {n}: the warm-up samples every trace whole",
                self.warmup
            )));
        }
        if !(self.consensus > 0.5 && self.consensus <= 1.0) {
            return Err(Error::Settings(format!(
                "--consensus {} must be in (0.5, 1]: the leading answer's share of the weighted vote",
                self.consensus
            )));
        }
        let keep_top = match &self.keep_top {
            Some(text) => crate::rank::keep_top(text).map_err(Error::Settings)?,
            None => DEFAULT_KEEP_TOP,
        };
        Ok(Some(OnlineConfidence {
            warmup: self.warmup,
            keep_top,
            window: self.confidence_window,
            consensus: self.consensus,
            round,
        }))
    }
}

/// What every backend is asked for.
#[derive(Debug, Args)]
#[command(next_help_heading = "Sampling")]
pub struct SamplingArgs {
    /// Prompt template: gsm8k (few-shot, `#### N`), math (few-shot, \boxed{}), chat, or a file.
    #[arg(long, default_value = "chat")]
    pub template: String,
    #[arg(long, default_value_t = 0.7)]
    pub temperature: f64,
    /// Sample only among the k most likely tokens (0: no cut). 40 is llama.cpp's own default;
    /// OpenAI's API has no top_k: use 0 there.
    #[arg(long, default_value_t = 40)]
    pub top_k: u32,
    #[arg(long, default_value_t = 0.95)]
    pub top_p: f64,
    /// Most tokens per sample.
    #[arg(long, default_value_t = 256)]
    pub max_tokens: u32,
    /// A stop string besides the template's own. Repeat for several.
    #[arg(long = "stop", value_name = "TEXT")]
    pub stop: Vec<String>,
    /// Base seed; each sample's seed is derived from it, its problem id and its index.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub token_stats: TokenStatsArgs,
}

/// Per-token statistics, for confidence scoring (`score --backend confidence`).
#[derive(Debug, Args)]
#[command(next_help_heading = "Token statistics")]
pub struct TokenStatsArgs {
    /// Record each sample's `tokens` (prompt and completion token counts, each generated token's
    /// log-probability and confidence; self-certainty with the embedded engine) and `wall_ms`.
    /// Off by default: it makes a samples file 3-4 times larger (docs/confidence.md).
    #[arg(long)]
    pub token_stats: bool,
    /// k of the token confidence: the most likely tokens read at each position (at most 20).
    #[arg(long, value_name = "K", default_value_t = 20, requires = "token_stats")]
    pub top_logprobs: usize,
    /// Keep those k log-probabilities of every token in the record too (`tokens.top_logprobs`).
    #[arg(long, requires = "token_stats")]
    pub keep_top_logprobs: bool,
}

impl TokenStatsArgs {
    fn resolve(&self) -> Result<Option<TokenStatsRequest>, Error> {
        if !self.token_stats {
            return Ok(None);
        }
        if !(1..=MAX_TOP_LOGPROBS).contains(&self.top_logprobs) {
            return Err(Error::Settings(format!(
                "--top-logprobs {} must be between 1 and {MAX_TOP_LOGPROBS} (what OpenAI-compatible \
                 servers give)",
                self.top_logprobs
            )));
        }
        Ok(Some(TokenStatsRequest {
            top_logprobs: self.top_logprobs,
            keep_top_logprobs: self.keep_top_logprobs,
        }))
    }
}

pub(super) fn at_least_one(value: usize, flag: &str) -> Result<(), Error> {
    if value == 0 {
        return Err(Error::Settings(format!("{flag} must be at least 1")));
    }
    Ok(())
}

impl GeneratorArgs {
    /// The backend to build and the generation options, checked before any work starts.
    pub fn resolve(&self, n: u32) -> Result<(BackendSettings, GenerateOptions), Error> {
        at_least_one(n as usize, "--n")?;
        if let Some(threads) = self.threads {
            at_least_one(threads, "--threads")?;
        }
        let threads = self.threads.unwrap_or_else(crate::default_threads);
        let backend = super::configure(self.backend, self, threads)?;
        let (params, template) = self.sampling.resolve()?;
        if self.backend == BackendKind::VllmOffline && params.token_stats.is_some() {
            return Err(Error::Settings(
                "--token-stats: --backend vllm-offline records no token statistics; serve the \
                 model (vllm serve) and use --backend openai"
                    .into(),
            ));
        }
        let round = self.adaptive.round()?;
        let online = self.online.resolve(n, round)?;
        if self.adaptive.adaptive_round.is_some() && !self.adaptive.adaptive && online.is_none() {
            return Err(Error::Settings(
                "--adaptive-round applies to --adaptive or --online-confidence".into(),
            ));
        }
        if online.is_some() {
            online_needs(self.backend, &params)?;
        }
        let options = GenerateOptions {
            n,
            params,
            template,
            allow_settings_change: self.allow_settings_change,
            adaptive: self.adaptive.resolve()?,
            online,
        };
        Ok((backend, options))
    }
}

/// The online rule reads each token's confidence as it is generated.
fn online_needs(backend: BackendKind, params: &SamplingParams) -> Result<(), Error> {
    if backend == BackendKind::VllmOffline {
        return Err(Error::Settings(
            "--online-confidence stops traces as they are generated: vLLM's offline engine \
             returns them whole; serve the model and use --backend openai"
                .into(),
        ));
    }
    if backend == BackendKind::Replay {
        return Err(Error::Settings(
            "--online-confidence stops traces as they are generated: --backend replay generates none"
                .into(),
        ));
    }
    if params.token_stats.is_none() {
        return Err(Error::Settings(
            "--online-confidence reads each token's confidence: add --token-stats".into(),
        ));
    }
    Ok(())
}

impl SamplingArgs {
    fn resolve(&self) -> Result<(SamplingParams, Template), Error> {
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return Err(Error::Settings(
                "--temperature must be a number >= 0".into(),
            ));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(Error::Settings("--top-p must be in (0, 1]".into()));
        }
        at_least_one(self.max_tokens as usize, "--max-tokens")?;
        let template = Template::load(&self.template)?;
        let mut stop = template.stop.clone();
        stop.extend(self.stop.iter().cloned());
        let params = SamplingParams {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            max_tokens: self.max_tokens,
            stop,
            seed: self.seed,
            token_stats: self.token_stats.resolve()?,
        };
        Ok((params, template))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        generator: GeneratorArgs,
    }

    fn resolve(args: &[&str]) -> Result<(BackendSettings, GenerateOptions), Error> {
        let cli = Cli::try_parse_from(std::iter::once("bestofn").chain(args.iter().copied()))
            .expect("flags parse");
        cli.generator.resolve(2)
    }

    #[test]
    fn each_backend_resolves_its_own_flags() {
        let (backend, options) = resolve(&[
            "--backend",
            "openai",
            "--base-url",
            "http://h/v1",
            "--model",
            "m",
            "--seed",
            "9",
        ])
        .unwrap();
        let described = format!("{backend:?}");
        assert!(described.starts_with("OpenAiOptions {"), "{described}");
        assert!(
            described.contains("model: \"m\", n_per_request: 8"),
            "{described}"
        );
        assert_eq!(options.params.seed, 9);
        let (backend, _) = resolve(&["--backend", "replay", "--replay-from", "s.jsonl"]).unwrap();
        assert_eq!(
            backend.reads(),
            Some(("--replay-from", std::path::Path::new("s.jsonl")))
        );
    }

    #[test]
    fn settings_that_cannot_work_are_refused_before_any_work() {
        for (args, message) in [
            (
                vec!["--backend", "openai", "--model", "m"],
                "needs --base-url",
            ),
            (
                vec!["--backend", "openai", "--base-url", "http://h/v1"],
                "needs --model",
            ),
            (
                vec![
                    "--backend",
                    "openai",
                    "--base-url",
                    "u",
                    "--model",
                    "m",
                    "--timeout-secs",
                    "0",
                ],
                "--timeout-secs must be",
            ),
            (vec!["--backend", "replay"], "needs --replay-from"),
            (
                vec![
                    "--backend",
                    "replay",
                    "--replay-from",
                    "s",
                    "--temperature=-1",
                ],
                "--temperature",
            ),
            (
                vec!["--backend", "replay", "--replay-from", "s", "--top-p", "0"],
                "--top-p",
            ),
            (
                vec![
                    "--backend",
                    "replay",
                    "--replay-from",
                    "s",
                    "--threads",
                    "0",
                ],
                "--threads",
            ),
        ] {
            let error = resolve(&args).unwrap_err();
            assert_eq!(error.exit_code(), 64);
            assert!(error.to_string().contains(message), "{args:?}: {error}");
        }
    }
}
