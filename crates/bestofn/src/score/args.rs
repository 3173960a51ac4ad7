//! The flags of the scoring stage, resolved into [`ScorerSettings`] before any work starts: how
//! the in-process verifier runs ([`ScorerArgs`], shared by `score` and `solve`), and where a
//! served one is: `score --backend vllm --base-url URL --model NAME` ([`RemoteScorerArgs`]) or
//! `solve --score-backend vllm --score-base-url URL --score-model NAME` ([`SolveScorerArgs`];
//! generation owns the plain names there). Both spellings resolve through [`VerifierChoice`].

use std::path::PathBuf;

use clap::Args;

use super::{
    served_engine, ConfidenceMethod, ConfidenceOptions, Device, EmbeddedJudgeOptions, EndpointArg,
    PairCutter, RemoteOptions, ScoreOptions, ScorerBackendKind, ScorerSettings, ServedFlags,
    TooLong, VerifierSpec,
};
use crate::error::Error;
use crate::io::args::HttpArgs;

/// How the verifier runs.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "In-process verifier (ONNX Runtime)")]
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
    /// ONNX Runtime shared library (libonnxruntime.so); else $ORT_DYLIB_PATH, else the project's
    /// .venv.
    #[arg(long, env = "BESTOFN_ORT_LIB")]
    pub ort_lib: Option<PathBuf>,
    /// Run on the GPU with ONNX Runtime's CUDA execution provider (build with --features cuda).
    #[arg(long)]
    pub cuda: bool,
    /// Leave out the calibration verifier.json carries (the raw sigmoid of the model's logit;
    /// also for a served verifier given with --verifier).
    #[arg(long)]
    pub no_calibration: bool,
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
        Ok(ScorerSettings::Onnx {
            verifier,
            options: ScoreOptions {
                ort_library: ort_library(self.ort_lib.as_ref()),
                threads: threads.unwrap_or_else(crate::default_threads),
                device: if self.cuda { Device::Cuda } else { Device::Cpu },
                token_budget: self.token_budget,
                max_batch: self.max_batch,
                too_long: self.too_long.map(|t| match t {
                    TooLongArg::Error => TooLong::Error,
                    TooLongArg::Truncate => TooLong::Truncate,
                }),
                calibrate: !self.no_calibration,
            },
        })
    }
}

/// The ONNX Runtime library to load: the flag, else `$ORT_DYLIB_PATH` (read here, once), else
/// none (the project's .venv is searched when the model loads).
pub fn ort_library(flag: Option<&PathBuf>) -> Option<PathBuf> {
    flag.cloned().or_else(|| {
        std::env::var_os("ORT_DYLIB_PATH")
            .filter(|path| !path.is_empty())
            .map(PathBuf::from)
    })
}

/// Where a served verifier is (`score`'s spelling).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Served verifiers (--backend vllm|tei|sglang|judge)")]
pub struct RemoteScorerArgs {
    /// The server's root URL (e.g. http://127.0.0.1:8000). Repeat for replicas of one model:
    /// each problem's requests go to one replica, and a failing replica's problems move on.
    #[arg(long)]
    pub base_url: Vec<String>,
    /// The model name the server serves (vLLM, SGLang, judge).
    #[arg(long)]
    pub model: Option<String>,
    /// vllm: score (default), classify or pooling (a process reward model); tei: predict
    /// (default) or rerank.
    #[arg(long, value_enum)]
    pub endpoint: Option<EndpointArg>,
    /// How a pair becomes one text for vllm classify and sglang: {question} and {solution} are
    /// filled in (default: the template of --verifier's verifier.json).
    #[arg(long)]
    pub template: Option<String>,
    /// Process reward models: what ends a step in a solution (default: verifier.json's, else a
    /// blank line).
    #[arg(long, value_name = "TEXT")]
    pub step_separator: Option<String>,
    /// Process reward models: the token that follows each step, where the model's step score
    /// is read (e.g. <extra_0> for Qwen2.5-Math-PRM; default: verifier.json's).
    #[arg(long, value_name = "TOKEN")]
    pub step_tag: Option<String>,
    /// Process reward models: what goes between tagged steps (default: the separator).
    #[arg(long, value_name = "TEXT")]
    pub step_joiner: Option<String>,
    /// tei predict: the label that means correct, for a classifier with several outputs.
    #[arg(long)]
    pub label: Option<String>,
    /// judge: a file holding the judge's prompt, with {question} and {solution} (default: a
    /// prompt asking for Yes or No; docs/serving.md shows it).
    #[arg(long, value_name = "FILE")]
    pub judge_template: Option<PathBuf>,
    /// judge: K sampled verifications per solution, each a rationale that ends in a verdict;
    /// the score is the mean of their p(Yes) / (p(Yes) + p(No)) at the verdict (GenRM-CoT).
    /// Without it, one direct Yes/No answer.
    #[arg(long, value_name = "K")]
    pub verifications: Option<u32>,
    /// judge with --verifications: the most tokens of a rationale [default: 512].
    #[arg(long, value_name = "N")]
    pub judge_max_tokens: Option<u32>,
    /// judge with --verifications: the sampling temperature of the rationales [default: 0.7].
    #[arg(long, value_name = "T")]
    pub judge_temperature: Option<f64>,
    /// Most solutions in one request (TEI refuses more than its --max-client-batch-size, 32 by
    /// default; a refused request is split and sent again).
    #[arg(long, default_value_t = 32)]
    pub request_size: usize,
    #[command(flatten)]
    pub http: HttpArgs,
    /// confidence: which of the trace's confidences is its score (DeepConf's lowest-group,
    /// bottom-10, tail; mean; self-certainty; mean-logprob).
    #[arg(long, value_enum, help_heading = CONFIDENCE_HEADING)]
    pub method: Option<ConfidenceMethod>,
    /// confidence: tokens per group of lowest-group and bottom-10, and the tail's length.
    #[arg(long, default_value_t = DEFAULT_WINDOW, value_name = "N", help_heading = CONFIDENCE_HEADING)]
    pub window: usize,
}

const CONFIDENCE_HEADING: &str = "Confidence (--backend confidence)";
const SOLVE_CONFIDENCE_HEADING: &str = "Confidence (--score-backend confidence)";
/// DeepConf's group size.
const DEFAULT_WINDOW: usize = 2048;

impl RemoteScorerArgs {
    /// The choice of `score --backend kind [--verifier DIR]`.
    pub fn choice(&self, kind: ScorerBackendKind, verifier: Option<PathBuf>) -> VerifierChoice<'_> {
        VerifierChoice {
            kind,
            verifier,
            confidence: (self.method, self.window),
            base_urls: &self.base_url,
            request_size: self.request_size,
            http: &self.http,
            flags: ServedFlags {
                prefix: "",
                model: self.model.clone(),
                endpoint: self.endpoint,
                template: self.template.clone(),
                step_separator: self.step_separator.clone(),
                step_tag: self.step_tag.clone(),
                step_joiner: self.step_joiner.clone(),
                label: self.label.clone(),
                judge_template: self.judge_template.clone(),
                verifications: self.verifications,
                judge_max_tokens: self.judge_max_tokens,
                judge_temperature: self.judge_temperature,
            },
        }
    }
}

/// Where `solve` scores: in process (`--verifier DIR`), or with a served verifier. The flags of
/// `score`'s served verifiers, named `--score-*` (generation owns `--backend`, `--base-url` and
/// `--model` here); the HTTP flags (--max-in-flight, --max-retries, ...) serve both servers.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Scoring (--score-backend onnx|vllm|tei|sglang|judge|confidence)")]
pub struct SolveScorerArgs {
    /// What scores: a verifier in process (onnx, --verifier DIR) or served by vLLM, TEI or
    /// SGLang (--score-base-url; --verifier DIR then gives the template and calibration), an LLM
    /// judge, or the generator's own confidence (confidence, with --token-stats).
    #[arg(long, value_enum, default_value = "onnx")]
    pub score_backend: ScorerBackendKind,
    /// The scoring server's root URL; repeat for replicas of one model.
    #[arg(long, value_name = "URL")]
    pub score_base_url: Vec<String>,
    /// The model name the scoring server serves (vLLM, SGLang, judge).
    #[arg(long, value_name = "NAME")]
    pub score_model: Option<String>,
    /// vllm: score (default), classify or pooling; tei: predict (default) or rerank.
    #[arg(long, value_enum, value_name = "ENDPOINT")]
    pub score_endpoint: Option<EndpointArg>,
    /// How a pair becomes one text for vllm classify/pooling and sglang (default: --verifier's).
    #[arg(long, value_name = "TEMPLATE")]
    pub score_template: Option<String>,
    /// Process reward models: what ends a step (default: verifier.json's, else a blank line).
    #[arg(long, value_name = "TEXT")]
    pub score_step_separator: Option<String>,
    /// Process reward models: the token after each step (default: verifier.json's).
    #[arg(long, value_name = "TOKEN")]
    pub score_step_tag: Option<String>,
    /// Process reward models: what goes between tagged steps (default: the separator).
    #[arg(long, value_name = "TEXT")]
    pub score_step_joiner: Option<String>,
    /// tei predict: the label that means correct.
    #[arg(long, value_name = "LABEL")]
    pub score_label: Option<String>,
    /// judge: a file holding the judge's prompt, with {question} and {solution}.
    #[arg(long, value_name = "FILE")]
    pub score_judge_template: Option<PathBuf>,
    /// judge: K sampled verifications per solution, each a rationale that ends in a verdict.
    #[arg(long, value_name = "K")]
    pub score_verifications: Option<u32>,
    /// judge with verifications: the most tokens of a rationale [default: 512].
    #[arg(long, value_name = "N")]
    pub score_judge_max_tokens: Option<u32>,
    /// judge with verifications: the sampling temperature of the rationales [default: 0.7].
    #[arg(long, value_name = "T")]
    pub score_judge_temperature: Option<f64>,
    /// Most solutions in one scoring request.
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub score_request_size: usize,
    /// confidence: which of the trace's confidences is its score.
    #[arg(long, value_enum, value_name = "METHOD", help_heading = SOLVE_CONFIDENCE_HEADING)]
    pub score_method: Option<ConfidenceMethod>,
    /// confidence: tokens per group of lowest-group and bottom-10, and the tail's length.
    #[arg(long, default_value_t = DEFAULT_WINDOW, value_name = "N", help_heading = SOLVE_CONFIDENCE_HEADING)]
    pub score_window: usize,
}

impl SolveScorerArgs {
    /// The choice of `solve --score-backend kind [--verifier DIR]`, over the HTTP flags `http`.
    pub fn choice<'a>(
        &'a self,
        verifier: Option<PathBuf>,
        http: &'a HttpArgs,
    ) -> VerifierChoice<'a> {
        VerifierChoice {
            kind: self.score_backend,
            verifier,
            confidence: (self.score_method, self.score_window),
            base_urls: &self.score_base_url,
            request_size: self.score_request_size,
            http,
            flags: ServedFlags {
                prefix: "score-",
                model: self.score_model.clone(),
                endpoint: self.score_endpoint,
                template: self.score_template.clone(),
                step_separator: self.score_step_separator.clone(),
                step_tag: self.score_step_tag.clone(),
                step_joiner: self.score_step_joiner.clone(),
                label: self.score_label.clone(),
                judge_template: self.score_judge_template.clone(),
                verifications: self.score_verifications,
                judge_max_tokens: self.score_judge_max_tokens,
                judge_temperature: self.score_judge_temperature,
            },
        }
    }
}

/// A verifier as a command's flags give it, in either spelling.
#[derive(Debug)]
pub struct VerifierChoice<'a> {
    pub kind: ScorerBackendKind,
    /// The verifier directory: the model itself in process; for a served verifier, optional,
    /// the template, steps and calibration of its verifier.json.
    pub verifier: Option<PathBuf>,
    /// `--method` and `--window` of the confidence scorer.
    pub confidence: (Option<ConfidenceMethod>, usize),
    pub base_urls: &'a [String],
    pub request_size: usize,
    pub http: &'a HttpArgs,
    pub flags: ServedFlags,
}

impl VerifierChoice<'_> {
    /// The settings: the in-process verifier with `onnx`'s flags on `threads` threads, or the
    /// served one.
    pub fn resolve(
        self,
        onnx: &ScorerArgs,
        threads: Option<usize>,
    ) -> Result<ScorerSettings, Error> {
        let settings = |message: String| Err(Error::Settings(message));
        let backend = format!("{} {:?}", self.flags.flag("backend"), self.kind).to_lowercase();
        if self.kind == ScorerBackendKind::Onnx {
            let Some(verifier) = self.verifier else {
                return settings(format!("{backend} needs --verifier DIR"));
            };
            return onnx.resolve(verifier, threads);
        }
        if self.kind == ScorerBackendKind::Confidence {
            return self.confidence_settings(&backend);
        }
        if self.kind == ScorerBackendKind::Judge && self.base_urls.is_empty() {
            return self.embedded_judge_settings(threads);
        }
        if self.base_urls.is_empty() {
            return settings(format!("{backend} needs {}", self.flags.flag("base-url")));
        }
        if self.request_size == 0 {
            return settings(format!(
                "{} must be at least 1",
                self.flags.flag("request-size")
            ));
        }
        let spec = self
            .verifier
            .as_deref()
            .map(VerifierSpec::load)
            .transpose()?;
        let engine = served_engine(self.kind, &self.flags, spec.as_ref())?;
        let pair_cutter = match (self.verifier.as_deref(), &spec) {
            (Some(dir), Some(spec)) if engine.sends_pairs() => {
                PairCutter::of(dir, spec)?.map(std::sync::Arc::new)
            }
            _ => None,
        };
        Ok(ScorerSettings::Remote {
            engine,
            options: RemoteOptions {
                pair_cutter,
                base_urls: self.base_urls.iter().map(|url| server_root(url)).collect(),
                request_size: self.request_size,
                max_in_flight: self.http.max_in_flight,
                http: self.http.resolve()?,
                calibration: spec
                    .filter(|_| !onnx.no_calibration)
                    .and_then(|spec| spec.calibration),
            },
        })
    }
}

impl VerifierChoice<'_> {
    /// A judge without a server: the GGUF of the model flag (the bundled one by default) in
    /// process.
    fn embedded_judge_settings(&self, threads: Option<usize>) -> Result<ScorerSettings, Error> {
        if self.flags.verifications.is_some() {
            return Err(Error::Settings(format!(
                "{} needs a served judge ({}): the judge in process reads one direct answer",
                self.flags.flag("verifications"),
                self.flags.flag("base-url")
            )));
        }
        let model = match &self.flags.model {
            Some(model) => PathBuf::from(model),
            None => crate::generate::default_gguf()?,
        };
        Ok(ScorerSettings::EmbeddedJudge(EmbeddedJudgeOptions {
            model,
            template: super::judge::judge_prompt(&self.flags, false)?,
            threads: threads.unwrap_or_else(crate::default_threads),
        }))
    }

    fn confidence_settings(&self, backend: &str) -> Result<ScorerSettings, Error> {
        let (method, window) = self.confidence;
        let Some(method) = method else {
            return Err(Error::Settings(format!(
                "{backend} needs {} (lowest-group, bottom-10, tail, mean, self-certainty or \
                 mean-logprob)",
                self.flags.flag("method")
            )));
        };
        if window == 0 {
            return Err(Error::Settings(format!(
                "{} must be at least 1",
                self.flags.flag("window")
            )));
        }
        Ok(ScorerSettings::Confidence(ConfidenceOptions {
            method,
            window,
        }))
    }
}

/// A served verifier's URL up to the server's root: vLLM's /classify has no /v1 form, so a
/// base URL copied from generation (`.../v1`) is cut back.
fn server_root(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let base = base.trim_end_matches('/');
    let base = base.strip_suffix("/v1").unwrap_or(base);
    match query {
        Some(query) => format!("{base}?{query}"),
        None => base.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(endpoint: Option<EndpointArg>, template: Option<&str>) -> RemoteScorerArgs {
        RemoteScorerArgs {
            base_url: vec!["http://127.0.0.1:8000/v1/".into()],
            model: Some("v".into()),
            endpoint,
            template: template.map(str::to_owned),
            step_separator: None,
            step_tag: None,
            step_joiner: None,
            label: None,
            judge_template: None,
            verifications: None,
            judge_max_tokens: None,
            judge_temperature: None,
            request_size: 8,
            method: None,
            window: 2048,
            http: HttpArgs {
                api_key_env: "BESTOFN_TEST_NO_SUCH_VARIABLE".into(),
                max_in_flight: 2,
                max_retries: 0,
                retry_base_ms: 1,
                timeout_secs: 5,
            },
        }
    }

    fn onnx() -> ScorerArgs {
        ScorerArgs {
            token_budget: 8192,
            max_batch: 128,
            too_long: None,
            ort_lib: None,
            cuda: false,
            no_calibration: false,
        }
    }

    /// The served engine's id, or the error's message.
    fn resolved(args: &RemoteScorerArgs, kind: ScorerBackendKind) -> Result<String, String> {
        match args.choice(kind, None).resolve(&onnx(), None) {
            Ok(ScorerSettings::Remote { engine, options }) => {
                assert_eq!(options.base_urls, ["http://127.0.0.1:8000"]);
                Ok(engine.id())
            }
            Ok(_) => panic!("a served backend resolved in process"),
            Err(error) => Err(error.to_string()),
        }
    }

    #[test]
    fn served_verifier_settings_are_checked() {
        use ScorerBackendKind::{Tei, Vllm};
        assert_eq!(resolved(&args(None, None), Vllm).unwrap(), "vllm /score v");
        let needs_template = resolved(&args(Some(EndpointArg::Classify), None), Vllm);
        assert!(needs_template.unwrap_err().contains("--template"));
        let bad_template = args(
            Some(EndpointArg::Classify),
            Some("{question} {answer} {solution}"),
        );
        assert!(resolved(&bad_template, Vllm)
            .unwrap_err()
            .contains("unknown placeholder"));
        let wrong_engine = resolved(&args(Some(EndpointArg::Rerank), None), Vllm);
        assert!(wrong_engine.unwrap_err().contains("--endpoint rerank"));
        let mut pooling = args(
            Some(EndpointArg::Pooling),
            Some("Q: {question} A: {solution}"),
        );
        assert!(resolved(&pooling, Vllm).unwrap_err().contains("--step-tag"));
        pooling.step_tag = Some("<extra_0>".into());
        let id = resolved(&pooling, Vllm).unwrap();
        assert!(id.starts_with("vllm /pooling v template "), "{id}");
        assert_eq!(
            resolved(&args(Some(EndpointArg::Rerank), None), Tei).unwrap(),
            "tei /rerank"
        );
        let mut no_url = args(None, None);
        no_url.base_url.clear();
        assert_eq!(
            resolved(&no_url, Vllm).unwrap_err(),
            "invalid settings: --backend vllm needs --base-url"
        );
        assert_eq!(
            server_root("http://h/v1?api-version=2"),
            "http://h?api-version=2"
        );
    }

    #[test]
    fn solve_spells_the_same_flags_with_a_score_prefix() {
        let http = args(None, None).http;
        let solve = SolveScorerArgs {
            score_backend: ScorerBackendKind::Vllm,
            score_base_url: vec![],
            score_model: None,
            score_endpoint: Some(EndpointArg::Classify),
            score_template: None,
            score_step_separator: None,
            score_step_tag: None,
            score_step_joiner: None,
            score_label: None,
            score_judge_template: None,
            score_verifications: None,
            score_judge_max_tokens: None,
            score_judge_temperature: None,
            score_request_size: 4,
            score_method: None,
            score_window: 2048,
        };
        let error = |solve: &SolveScorerArgs| {
            solve
                .choice(None, &http)
                .resolve(&onnx(), None)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            error(&solve),
            "invalid settings: --score-backend vllm needs --score-base-url"
        );
        let mut solve = solve;
        solve.score_base_url = vec!["http://127.0.0.1:8000".into()];
        assert!(error(&solve).contains("--score-model"), "{}", error(&solve));
        solve.score_model = Some("v".into());
        assert!(
            error(&solve).contains("--score-template"),
            "{}",
            error(&solve)
        );
        solve.score_backend = ScorerBackendKind::Onnx;
        assert_eq!(
            error(&solve),
            "invalid settings: --score-backend onnx needs --verifier DIR"
        );
    }
}
