//! The flags of the scoring stage, resolved into [`ScorerSettings`] before any work starts: how
//! the in-process verifier runs (shared by `score` and `solve`), and where a served one is
//! (`score --backend vllm|tei|sglang`).

use std::path::{Path, PathBuf};

use clap::Args;

use super::{
    Device, Engine, InputTemplate, RemoteOptions, ScoreOptions, ScorerSettings, Sglang, StepFormat,
    Tei, TeiApi, TooLong, Truncation, VerifierSpec, Vllm, VllmApi,
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
    /// ONNX Runtime shared library (libonnxruntime.so); else ORT_DYLIB_PATH, else the project's .venv.
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
                ort_library: self.ort_lib.clone(),
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

/// Which engine runs the verifier.
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EndpointArg {
    /// vLLM: a cross-encoder given (question, solution) pairs.
    Score,
    /// vLLM: a sequence classifier given one text per pair (see --template).
    Classify,
    /// vLLM: a process reward model (token classification with step pooling) given one text per
    /// pair with its steps tagged (see --step-tag).
    Pooling,
    /// TEI: a classifier given (question, solution) pairs.
    Predict,
    /// TEI: a reranker given the question as query.
    Rerank,
}

/// Where a served verifier is.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Served verifiers (--backend vllm|tei|sglang)")]
pub struct RemoteScorerArgs {
    /// The server's root URL (e.g. http://127.0.0.1:8000). Repeat for replicas of one model:
    /// each problem's requests go to one replica, and a failing replica's problems move on.
    #[arg(long)]
    pub base_url: Vec<String>,
    /// The model name the server serves (vLLM, SGLang).
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
    /// Most solutions in one request (TEI refuses more than its --max-client-batch-size, 32 by
    /// default; a refused request is split and sent again).
    #[arg(long, default_value_t = 32)]
    pub request_size: usize,
    #[command(flatten)]
    pub http: HttpArgs,
}

impl RemoteScorerArgs {
    /// The settings of a served verifier; `verifier` is a directory whose verifier.json may
    /// give the template.
    /// `calibrate`: apply the calibration of `verifier`'s verifier.json.
    pub fn resolve(
        &self,
        kind: ScorerBackendKind,
        verifier: Option<&Path>,
        calibrate: bool,
    ) -> Result<ScorerSettings, Error> {
        let settings = |message: String| Err(Error::Settings(message));
        if self.base_url.is_empty() {
            return settings(format!("--backend {kind:?} needs --base-url").to_lowercase());
        }
        if self.request_size == 0 {
            return settings("--request-size must be at least 1".into());
        }
        let settings = |message: String| Err::<(), _>(Error::Settings(message));
        let model = || {
            self.model.clone().ok_or_else(|| {
                Error::Settings("this backend needs --model (the name the server serves)".into())
            })
        };
        let endpoint_fits = |allowed: &[EndpointArg]| match self.endpoint {
            Some(endpoint) if !allowed.contains(&endpoint) => settings(
                format!("--endpoint {endpoint:?} is not one of --backend {kind:?}'s ({allowed:?})")
                    .to_lowercase(),
            ),
            _ => Ok(()),
        };
        let engine = match kind {
            ScorerBackendKind::Onnx => unreachable!("the in-process scorer has its own flags"),
            ScorerBackendKind::Vllm => {
                endpoint_fits(&[
                    EndpointArg::Score,
                    EndpointArg::Classify,
                    EndpointArg::Pooling,
                ])?;
                let api = match self.endpoint {
                    Some(EndpointArg::Classify) => VllmApi::Classify {
                        template: self.template(verifier)?,
                    },
                    Some(EndpointArg::Pooling) => VllmApi::Pooling {
                        template: self.template(verifier)?,
                        steps: self.steps(verifier)?,
                    },
                    _ => VllmApi::Score,
                };
                // A pair verifier's cut (longest first, over two texts) has no vLLM equivalent.
                let one_text = !matches!(api, VllmApi::Score);
                Engine::Vllm(Vllm {
                    model: model()?,
                    api,
                    truncation: match verifier {
                        Some(directory) if one_text => truncation(&VerifierSpec::load(directory)?),
                        _ => None,
                    },
                })
            }
            ScorerBackendKind::Tei => {
                endpoint_fits(&[EndpointArg::Predict, EndpointArg::Rerank])?;
                Engine::Tei(Tei {
                    api: match self.endpoint {
                        Some(EndpointArg::Rerank) => TeiApi::Rerank,
                        _ => TeiApi::Predict {
                            label: self.label.clone(),
                        },
                    },
                })
            }
            ScorerBackendKind::Sglang => {
                endpoint_fits(&[EndpointArg::Classify])?;
                Engine::Sglang(Sglang {
                    model: model()?,
                    template: self.template(verifier)?,
                })
            }
        };
        Ok(ScorerSettings::Remote {
            engine,
            options: RemoteOptions {
                base_urls: self.base_url.iter().map(|url| server_root(url)).collect(),
                request_size: self.request_size,
                max_in_flight: self.http.max_in_flight,
                http: self.http.resolve()?,
                calibration: match verifier {
                    Some(directory) if calibrate => VerifierSpec::load(directory)?.calibration,
                    _ => None,
                },
            },
        })
    }

    /// How solutions are cut into steps and tagged: the flags, else the verifier directory's.
    fn steps(&self, verifier: Option<&Path>) -> Result<StepFormat, Error> {
        let from_directory = match verifier {
            Some(directory) => VerifierSpec::load(directory)?.steps,
            None => None,
        };
        let tag = self
            .step_tag
            .clone()
            .or_else(|| from_directory.as_ref().map(|steps| steps.tag.clone()))
            .ok_or_else(|| {
                Error::Settings(
                    "--endpoint pooling needs --step-tag TOKEN, the token after each step where \
                     the model reads a step's score (or --verifier DIR whose verifier.json has \
                     steps)"
                        .into(),
                )
            })?;
        let steps = StepFormat {
            separator: self
                .step_separator
                .clone()
                .or_else(|| from_directory.as_ref().map(|s| s.separator.clone()))
                .unwrap_or_else(|| "\n\n".into()),
            tag,
            joiner: self
                .step_joiner
                .clone()
                .or_else(|| from_directory.and_then(|s| s.joiner)),
        };
        steps
            .check()
            .map_err(|why| Error::Settings(format!("--step-separator/--step-tag: {why}")))?;
        Ok(steps)
    }

    /// The text template: --template, else the verifier directory's.
    fn template(&self, verifier: Option<&Path>) -> Result<String, Error> {
        if let Some(template) = &self.template {
            super::spec::check_template(template)
                .map_err(|why| Error::Settings(format!("--template {why}")))?;
            return Ok(template.clone());
        }
        let from_directory = match verifier {
            Some(directory) => match VerifierSpec::load(directory)?.input {
                InputTemplate::Template { template } => Some(template),
                InputTemplate::Pair => None,
            },
            None => None,
        };
        from_directory.ok_or_else(|| {
            Error::Settings(
                "a one-text endpoint needs --template 'Question: {question}\nAnswer: {solution}' \
                 (or --verifier DIR whose verifier.json has a template input); for a pair \
                 verifier use vLLM's --endpoint score or TEI's predict"
                    .into(),
            )
        })
    }
}

/// How the in-process scorer cuts this verifier's inputs, for the server to do the same; none
/// when it refuses them instead (`too_long = "error"`: the server scores them whole).
fn truncation(spec: &VerifierSpec) -> Option<Truncation> {
    (spec.too_long == TooLong::Truncate).then_some(Truncation {
        max_tokens: spec.max_length,
        side: spec.truncation_side,
    })
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

    #[test]
    fn served_verifier_settings_are_checked() {
        let args = |endpoint, template: Option<&str>| RemoteScorerArgs {
            base_url: vec!["http://127.0.0.1:8000/v1/".into()],
            model: Some("v".into()),
            endpoint,
            template: template.map(str::to_owned),
            step_separator: None,
            step_tag: None,
            step_joiner: None,
            label: None,
            request_size: 8,
            http: HttpArgs {
                api_key_env: "BESTOFN_TEST_NO_SUCH_VARIABLE".into(),
                max_in_flight: 2,
                max_retries: 0,
                retry_base_ms: 1,
                timeout_secs: 5,
            },
        };
        let Ok(ScorerSettings::Remote { engine, options }) =
            args(None, None).resolve(ScorerBackendKind::Vllm, None, true)
        else {
            panic!("vllm score needs no template")
        };
        assert!(matches!(
            engine,
            Engine::Vllm(Vllm {
                api: VllmApi::Score,
                ..
            })
        ));
        assert_eq!(options.base_urls, ["http://127.0.0.1:8000"]);
        let error = args(Some(EndpointArg::Classify), None)
            .resolve(ScorerBackendKind::Vllm, None, true)
            .unwrap_err();
        assert!(error.to_string().contains("--template"), "{error}");
        let error = args(
            Some(EndpointArg::Classify),
            Some("{question} {answer} {solution}"),
        )
        .resolve(ScorerBackendKind::Vllm, None, true)
        .unwrap_err();
        assert!(error.to_string().contains("unknown placeholder"), "{error}");
        let error = args(Some(EndpointArg::Rerank), None)
            .resolve(ScorerBackendKind::Vllm, None, true)
            .unwrap_err();
        assert!(error.to_string().contains("--endpoint rerank"), "{error}");
        let mut pooling = args(
            Some(EndpointArg::Pooling),
            Some("Q: {question} A: {solution}"),
        );
        let error = pooling
            .resolve(ScorerBackendKind::Vllm, None, true)
            .unwrap_err();
        assert!(error.to_string().contains("--step-tag"), "{error}");
        pooling.step_tag = Some("<extra_0>".into());
        let Ok(ScorerSettings::Remote {
            engine:
                Engine::Vllm(Vllm {
                    api: VllmApi::Pooling { steps, .. },
                    ..
                }),
            ..
        }) = pooling.resolve(ScorerBackendKind::Vllm, None, true)
        else {
            panic!("vllm pooling with a step tag")
        };
        assert_eq!(steps.separator, "\n\n");
        assert!(args(Some(EndpointArg::Rerank), None)
            .resolve(ScorerBackendKind::Tei, None, true)
            .is_ok());
        assert_eq!(
            server_root("http://h/v1?api-version=2"),
            "http://h?api-version=2"
        );
    }
}
