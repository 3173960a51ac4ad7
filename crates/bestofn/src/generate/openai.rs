//! The `openai` backend: any server that speaks the OpenAI completions / chat completions API
//! (vLLM, SGLang, llama.cpp's server, Ollama, TGI, OpenAI itself).
//!
//! Completion templates go to `/completions`, chat templates to `/chat/completions`. A request
//! asks for up to `n_per_request` samples; servers that return fewer choices (llama.cpp's server
//! ignores `n`) are topped up with more requests until the job has all its samples. A problem's
//! samples have consecutive seeds and a job holds consecutive samples: a request sends its first
//! sample's seed, choice `i` becomes its `i`-th sample, and a server that gives choice `i` the
//! seed `seed + i` (vLLM) gives every sample its own recorded seed, the same as when it is asked
//! for alone.
//!
//! Requests go through the shared client (`io::http`: retries, backoff, `Retry-After`, the API
//! key never shown, replicas). Once per run the backend checks that the server honours `seed`
//! and that it honours `n`, and says so if not.

use clap::Args;
use serde_json::{json, Value};

use super::args::at_least_one;
use super::openai_stream::StreamedTrace;
use super::{
    Backend, BackendConfig, Completion, Generated, GroupStop, Job, Prompt, SamplingParams, Seeding,
    TokenStats, TokenStatsRequest,
};
use crate::error::{Error, Result};
use crate::io::args::HttpArgs;
use crate::io::http::{endpoint, HttpClient, HttpError, HttpOptions, StreamEvent};
use crate::io::secrets::redact_url;

#[derive(Clone, Debug)]
pub struct OpenAiOptions {
    /// Up to and including `/v1`, e.g. `http://127.0.0.1:8000/v1`; several for replicas of one
    /// model.
    pub base_urls: Vec<String>,
    pub model: String,
    pub n_per_request: usize,
    pub max_in_flight: usize,
    pub http: HttpOptions,
}

/// `--backend openai`.
#[derive(Debug, Args)]
#[command(next_help_heading = "OpenAI-compatible server (--backend openai)")]
pub struct OpenAiArgs {
    /// The server's base URL, up to /v1 (e.g. http://127.0.0.1:8000/v1). Repeat for replicas of
    /// one model: each problem's requests go to one replica (its prefix cache keeps the prompt),
    /// new problems to the least loaded one, and a failing replica's problems move to another.
    #[arg(long, env = "OPENAI_BASE_URL")]
    pub base_url: Vec<String>,
    /// Samples asked for per request (`n`); servers that return fewer are topped up.
    #[arg(long, default_value_t = 8)]
    pub n_per_request: usize,
    #[command(flatten)]
    pub http: HttpArgs,
}

impl OpenAiArgs {
    /// The options of `--backend openai` with `--model`.
    pub fn configure(&self, model: Option<&str>) -> Result<OpenAiOptions, Error> {
        at_least_one(self.n_per_request, "--n-per-request")?;
        let http = self.http.resolve()?;
        if self.base_url.is_empty() {
            return Err(Error::Settings(
                "--backend openai needs --base-url (or OPENAI_BASE_URL)".into(),
            ));
        }
        let model = model.map(str::to_owned).ok_or_else(|| {
            Error::Settings("--backend openai needs --model (the name the server serves)".into())
        })?;
        Ok(OpenAiOptions {
            base_urls: self.base_url.iter().map(|url| api_base(url)).collect(),
            model,
            n_per_request: self.n_per_request,
            max_in_flight: self.http.max_in_flight,
            http,
        })
    }
}

impl BackendConfig for OpenAiOptions {
    fn describe(&self) -> String {
        let urls: Vec<String> = self.base_urls.iter().map(|u| redact_url(u)).collect();
        format!(
            "OpenAI-compatible server {}: model {}, {} samples per request, {} requests in flight",
            urls.join(", "),
            self.model,
            self.n_per_request,
            self.max_in_flight
        )
    }

    fn open(&self) -> Result<Box<dyn Backend>> {
        Ok(Box::new(OpenAiBackend::new(self)?))
    }
}

pub struct OpenAiBackend {
    options: OpenAiOptions,
    client: HttpClient,
    /// Whether the run has said that the server ignores `n` (said once, not per request).
    said_n_ignored: std::sync::atomic::AtomicBool,
    /// OpenAI's own API (or Azure's): no sampling parameters beyond its own.
    standard_parameters_only: bool,
}

/// A failure of the client as this stage's error: a refusal is not worth resuming.
fn generation_error(error: HttpError) -> Error {
    match error {
        HttpError::Refused { why, .. } => Error::Rejected(why),
        HttpError::GaveUp(why) => Error::Generation(why),
    }
}

/// The API's base under a URL: a server's root (`http://host:8000`, no path) is its `/v1`, as
/// every OpenAI-compatible server serves it; a URL with a path is taken as given (the query
/// string kept).
fn api_base(url: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let path_start = base.find("://").map_or(0, |i| i + 3);
    let has_path = base[path_start..].trim_end_matches('/').contains('/');
    let base = if has_path {
        base.to_owned()
    } else {
        format!("{}/v1", base.trim_end_matches('/'))
    };
    match query {
        Some(query) => format!("{base}?{query}"),
        None => base,
    }
}

/// Whether `base_url` is OpenAI's own API or Azure OpenAI, which refuse unknown parameters.
fn is_openai_itself(base_url: &str) -> bool {
    let host = base_url
        .split_once("://")
        .map_or(base_url, |(_, rest)| rest)
        .split(['/', '?', ':'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    host == "api.openai.com" || host.ends_with(".openai.azure.com")
}

impl OpenAiBackend {
    pub fn new(options: &OpenAiOptions) -> Result<Self> {
        if options.base_urls.is_empty() {
            return Err(Error::Settings("--backend openai needs --base-url".into()));
        }
        if let Some(url) = options
            .base_urls
            .iter()
            .find(|url| !(url.starts_with("http://") || url.starts_with("https://")))
        {
            return Err(Error::Settings(format!(
                "--base-url `{url}` must start with http:// or https://"
            )));
        }
        if options.n_per_request == 0 || options.max_in_flight == 0 {
            return Err(Error::Settings(
                "--n-per-request and --max-in-flight must be at least 1".into(),
            ));
        }
        Ok(OpenAiBackend {
            standard_parameters_only: options.base_urls.iter().any(|url| is_openai_itself(url)),
            client: HttpClient::new(options.base_urls.clone(), options.http.clone()),
            options: options.clone(),
            said_n_ignored: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The path of `prompt`'s endpoint under the base URL.
    fn path(prompt: &Prompt) -> &'static str {
        match prompt {
            Prompt::Completion(_) => "completions",
            Prompt::Chat { .. } => "chat/completions",
        }
    }

    /// The endpoint for `prompt` on a replica as messages show it: credentials cut out.
    fn url(&self, replica: usize, prompt: &Prompt) -> String {
        redact_url(&endpoint(
            self.client.replicas().url(replica),
            Self::path(prompt),
        ))
    }

    /// Once per run: the server answered fewer choices than `n` asked for.
    fn say_n_ignored(&self, url: &str, asked: usize, got: usize) {
        use std::sync::atomic::Ordering;
        if !self.said_n_ignored.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "{url}: asked for n = {asked} choices, got {got}: the server ignores `n`; the \
                 samples are completed with more requests (--n-per-request 1 asks for one at a time)"
            );
        }
    }

    /// Once per run, with sampling on: the same short request twice with the same seed. Other
    /// texts mean the server ignores `seed` and samples cannot be reproduced; said once. A probe
    /// that fails says nothing: the run's own requests report failures.
    fn check_seed_honoured(&self, job: &Job, params: &SamplingParams) {
        let Some(first) = job.slots.first().filter(|_| params.temperature > 0.0) else {
            return;
        };
        let probe = SamplingParams {
            max_tokens: params.max_tokens.min(16),
            ..params.clone()
        };
        let body = self.body(&job.prompt, 1, first.seed, &probe);
        let url = self.url(0, &job.prompt);
        let text = || {
            self.client
                .post_with_retries(&job.problem_id, Self::path(&job.prompt), &body)
                .ok()
                .map(|(answer, _)| answer)
                .and_then(|answer| {
                    let first = choices(&answer).ok()?.into_iter().next()?;
                    Some(first.text)
                })
        };
        if let (Some(a), Some(b)) = (text(), text()) {
            if a != b {
                tracing::warn!(
                    "{url}: the same request with the same seed gave two different texts: the \
                     server ignores `seed`, so these samples cannot be reproduced"
                );
            }
        }
    }

    fn body(&self, prompt: &Prompt, n: usize, seed: u64, params: &SamplingParams) -> Value {
        let mut body = json!({
            "model": self.options.model,
            "n": n,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
            "seed": seed,
        });
        if !params.stop.is_empty() {
            body["stop"] = json!(params.stop);
        }
        // Every sampling parameter is sent: a server fills what a request leaves out from the
        // model's generation_config.json (Qwen's has top_k 20 and a repetition penalty), and
        // llama.cpp's servers from their own defaults (a repeat penalty of 1.1). OpenAI's own API
        // refuses parameters it does not know, so it gets the standard ones only.
        body["presence_penalty"] = json!(0.0);
        body["frequency_penalty"] = json!(0.0);
        if !self.standard_parameters_only {
            body["top_k"] = json!(params.top_k);
            body["min_p"] = json!(0.0);
            body["repetition_penalty"] = json!(1.0);
            body["repeat_penalty"] = json!(1.0);
        }
        match prompt {
            Prompt::Completion(text) => body["prompt"] = json!(text),
            Prompt::Chat { .. } => body["messages"] = prompt.messages(),
        }
        if let Some(request) = &params.token_stats {
            match prompt {
                Prompt::Completion(_) => body["logprobs"] = json!(request.top_logprobs),
                Prompt::Chat { .. } => {
                    body["logprobs"] = json!(true);
                    body["top_logprobs"] = json!(request.top_logprobs);
                }
            }
        }
        body
    }
}

/// One choice of an answer.
struct Choice<'a> {
    text: String,
    finish_reason: Option<String>,
    /// The choice's `logprobs` object, if the server sent one.
    logprobs: Option<&'a Value>,
}

/// The choices of an answer.
fn choices(answer: &Value) -> std::result::Result<Vec<Choice<'_>>, String> {
    let Some(choices) = answer.get("choices").and_then(Value::as_array) else {
        return Err(format!("the answer has no `choices` list: {answer}"));
    };
    choices
        .iter()
        .map(|choice| {
            let text = choice
                .get("text")
                .or_else(|| choice.get("message").and_then(|m| m.get("content")))
                .and_then(Value::as_str)
                .ok_or_else(|| format!("a choice has no text: {choice}"))?;
            let finish_reason = choice
                .get("finish_reason")
                .and_then(Value::as_str)
                .map(str::to_owned);
            Ok(Choice {
                text: text.to_owned(),
                finish_reason,
                logprobs: choice.get("logprobs").filter(|v| !v.is_null()),
            })
        })
        .collect()
}

/// A choice's token statistics from its `logprobs`: chat's `content[] = {logprob, top_logprobs:
/// [{logprob}]}` or completions' `token_logprobs[]` with `top_logprobs[] = {token: logprob}`.
fn reported_token_stats(
    logprobs: Option<&Value>,
    request: &TokenStatsRequest,
    prompt_tokens: Option<u32>,
) -> std::result::Result<TokenStats, String> {
    let mut stats = TokenStats::new(prompt_tokens, request, false);
    let logprobs = logprobs.ok_or_else(no_logprobs)?;
    push_reported_logprobs(&mut stats, logprobs, request, &mut |_| {})?;
    Ok(stats)
}

/// The token statistics of a saved choice's `logprobs` (`import`), with every top
/// log-probability it holds (up to the API's cap).
pub(crate) fn token_stats_from_logprobs(
    logprobs: &Value,
    prompt_tokens: Option<u32>,
) -> std::result::Result<TokenStats, String> {
    let request = TokenStatsRequest {
        top_logprobs: super::token_stats::MAX_TOP_LOGPROBS,
        keep_top_logprobs: false,
    };
    reported_token_stats(Some(logprobs), &request, prompt_tokens)
}

/// What a server that sent no log-probabilities is told.
pub(super) fn no_logprobs() -> String {
    "the server sent no log-probabilities with its choice: it does not support `logprobs` \
     (--token-stats needs them; run without it)"
        .to_owned()
}

/// Adds the tokens of a `logprobs` object (a whole choice's, or a streamed chunk's) to `stats`,
/// calling `after_each` with the confidences so far after each token.
pub(super) fn push_reported_logprobs(
    stats: &mut TokenStats,
    logprobs: &Value,
    request: &TokenStatsRequest,
    after_each: &mut dyn FnMut(&[f64]),
) -> std::result::Result<(), String> {
    let number = |v: Option<&Value>| v.and_then(Value::as_f64).map(|v| v as f32);
    let top_of = |mut top: Vec<f32>| {
        top.sort_by(|a, b| b.total_cmp(a));
        top.truncate(request.top_logprobs);
        top
    };
    if let Some(content) = logprobs.get("content").and_then(Value::as_array) {
        for token in content {
            let chosen = number(token.get("logprob")).ok_or_else(no_logprobs)?;
            let top = token.get("top_logprobs").and_then(Value::as_array);
            let top = top.ok_or_else(no_logprobs)?;
            let top = top
                .iter()
                .filter_map(|t| number(t.get("logprob")))
                .collect();
            stats.push_reported(chosen, &top_of(top));
            after_each(&stats.confidence);
        }
    } else if let Some(chosen) = logprobs.get("token_logprobs").and_then(Value::as_array) {
        let tops = logprobs.get("top_logprobs").and_then(Value::as_array);
        let tops = tops.ok_or_else(no_logprobs)?;
        for (chosen, top) in chosen.iter().zip(tops) {
            let chosen = number(Some(chosen)).ok_or_else(no_logprobs)?;
            let top = top.as_object().ok_or_else(no_logprobs)?;
            let top = top.values().filter_map(|v| number(Some(v))).collect();
            stats.push_reported(chosen, &top_of(top));
            after_each(&stats.confidence);
        }
    } else {
        return Err(no_logprobs());
    }
    Ok(())
}

/// What the server says about itself in an answer: the model it ran and its configuration's
/// fingerprint, when it says.
fn reported_by_server(answer: &Value) -> Option<serde_json::Map<String, Value>> {
    let mut server = serde_json::Map::new();
    for field in ["model", "system_fingerprint"] {
        if let Some(value) = answer.get(field).filter(|v| v.is_string()) {
            server.insert(field.into(), value.clone());
        }
    }
    (!server.is_empty()).then_some(server)
}

impl Backend for OpenAiBackend {
    fn kind(&self) -> &'static str {
        "openai"
    }

    fn model(&self) -> String {
        self.options.model.clone()
    }

    fn max_in_flight(&self) -> usize {
        self.options.max_in_flight
    }

    fn job_size(&self) -> usize {
        self.options.n_per_request
    }

    fn seeding(&self) -> Seeding {
        Seeding::Consecutive
    }

    /// A trace that may be stopped is streamed alone: a request of its own, in flight beside
    /// the others.
    fn stoppable_job_size(&self) -> usize {
        1
    }

    fn run_jobs(
        &self,
        jobs: &[Job],
        params: &SamplingParams,
        emit: &mut dyn FnMut(&Job, Completion) -> Result<()>,
    ) -> Result<()> {
        if let Some(job) = jobs.first() {
            self.check_seed_honoured(job, params);
        }
        super::run_concurrently(self, jobs, params, emit)
    }

    fn run(
        &self,
        job: &Job,
        params: &SamplingParams,
        emit: &mut dyn FnMut(Completion) -> Result<()>,
    ) -> Result<()> {
        if let (Some(rule), Some(request)) = (job.stop, params.token_stats) {
            return job.slots.iter().try_for_each(|slot| {
                let (text, generated) = self.streamed(job, slot.seed, params, request, rule)?;
                emit(Completion::generated(slot.sample_idx, text, generated))
            });
        }
        let mut remaining = &job.slots[..];
        let mut empty_answers = 0;
        while let Some(first) = remaining.first() {
            let n = remaining.len().min(self.options.n_per_request);
            let body = self.body(&job.prompt, n, first.seed, params);
            let started = std::time::Instant::now();
            let (answer, replica) = self
                .client
                .post_with_retries(&job.problem_id, Self::path(&job.prompt), &body)
                .map_err(generation_error)?;
            let url = self.url(replica, &job.prompt);
            let mut got =
                choices(&answer).map_err(|why| Error::Generation(format!("{url}: {why}")))?;
            got.truncate(n);
            if got.is_empty() {
                empty_answers += 1;
                if empty_answers > self.options.http.max_retries {
                    return Err(Error::Generation(format!(
                        "{url}: the server keeps answering with no choices"
                    )));
                }
                continue;
            }
            let count = got.len();
            if count < n {
                self.say_n_ignored(&url, n, count);
            }
            let wall_ms = started.elapsed().as_millis() as u64;
            let made = self.generated(&answer, got, replica, params, wall_ms);
            for (generated, slot) in made
                .map_err(|why| Error::Generation(format!("{url}: {why}")))?
                .into_iter()
                .zip(remaining)
            {
                let (text, generated) = generated;
                emit(Completion::generated(slot.sample_idx, text, generated))?;
            }
            remaining = &remaining[count..];
        }
        Ok(())
    }
}

impl OpenAiBackend {
    /// One sample streamed, stopped by `rule` once its confidence falls.
    fn streamed(
        &self,
        job: &Job,
        seed: u64,
        params: &SamplingParams,
        request: TokenStatsRequest,
        rule: GroupStop,
    ) -> Result<(String, Generated)> {
        let mut body = self.body(&job.prompt, 1, seed, params);
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": true});
        let started = std::time::Instant::now();
        let mut trace = StreamedTrace::new(request, rule);
        let mut failure = None;
        let replica = self
            .client
            .post_stream_with_retries(
                &job.problem_id,
                Self::path(&job.prompt),
                &body,
                &mut |event| match event {
                    StreamEvent::Start => {
                        trace = StreamedTrace::new(request, rule);
                        true
                    }
                    StreamEvent::Data(chunk) => trace.add(chunk).unwrap_or_else(|why| {
                        failure = Some(why);
                        false
                    }),
                },
            )
            .map_err(generation_error)?;
        if let Some(why) = failure {
            let url = self.url(replica, &job.prompt);
            return Err(Error::Generation(format!("{url}: {why}")));
        }
        let wall_ms = started.elapsed().as_millis() as u64;
        Ok(trace.generated(wall_ms, self.replica_name(replica)))
    }

    /// Which replica made a sample, when there are several (no credentials or query string).
    fn replica_name(&self, replica: usize) -> Option<String> {
        (self.client.replicas().count() > 1).then(|| {
            let base = redact_url(self.client.replicas().url(replica));
            base.split_once('?')
                .map_or(base.as_str(), |(base, _)| base)
                .to_owned()
        })
    }

    /// What the server said of each choice of `answer` (a request that took `wall_ms`).
    fn generated(
        &self,
        answer: &Value,
        got: Vec<Choice<'_>>,
        replica: usize,
        params: &SamplingParams,
        wall_ms: u64,
    ) -> std::result::Result<Vec<(String, Generated)>, String> {
        // Token counts are per request; they belong to a sample only when it is alone.
        let completion_tokens = answer
            .pointer("/usage/completion_tokens")
            .and_then(Value::as_u64)
            .and_then(|t| u32::try_from(t).ok());
        let tokens = completion_tokens.filter(|_| got.len() == 1);
        let prompt_tokens = answer
            .pointer("/usage/prompt_tokens")
            .and_then(Value::as_u64)
            .and_then(|t| u32::try_from(t).ok());
        let mut server = reported_by_server(answer).unwrap_or_default();
        if let Some(replica) = self.replica_name(replica) {
            server.insert("replica".into(), replica.into());
        }
        let server = (!server.is_empty()).then_some(server);
        got.into_iter()
            .map(|choice| {
                let stats = match &params.token_stats {
                    Some(request) => Some(reported_token_stats(
                        choice.logprobs,
                        request,
                        prompt_tokens,
                    )?),
                    None => None,
                };
                let generated = Generated {
                    finish_reason: choice.finish_reason,
                    num_tokens: tokens,
                    server: server.clone(),
                    wall_ms: stats.is_some().then_some(wall_ms),
                    tokens: stats,
                    early_stop: None,
                };
                Ok((choice.text, generated))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_statistics_are_read_from_chat_and_completion_logprobs() {
        let request = TokenStatsRequest {
            top_logprobs: 2,
            keep_top_logprobs: true,
        };
        let chat = json!({"content": [
            {"token": "a", "logprob": -0.5, "top_logprobs": [
                {"token": "a", "logprob": -0.5}, {"token": "b", "logprob": -1.5}]},
            {"token": "c", "logprob": -0.25, "top_logprobs": [
                {"token": "c", "logprob": -0.25}, {"token": "d", "logprob": -2.25}]}]});
        // vLLM's completions add the chosen token to the k best: the k best are what count.
        let completions = json!({"tokens": ["a", "c"], "token_logprobs": [-0.5, -0.25],
            "top_logprobs": [{"a": -0.5, "b": -1.5, "z": -3.0}, {"d": -2.25, "c": -0.25}]});
        for logprobs in [chat, completions] {
            let stats = reported_token_stats(Some(&logprobs), &request, Some(9)).unwrap();
            assert_eq!(
                stats.to_json(),
                json!({"prompt": 9, "completion": 2, "logprobs": [-0.5, -0.25],
                    "confidence": [1.0, 1.25], "top_logprobs": [[-0.5, -1.5], [-0.25, -2.25]]})
            );
        }
        let error = reported_token_stats(None, &request, None).unwrap_err();
        assert!(error.contains("does not support `logprobs`"), "{error}");
        let error = reported_token_stats(
            Some(&json!({"content": [{"logprob": -1.0}]})),
            &request,
            None,
        );
        assert!(error.is_err());
    }

    #[test]
    fn a_servers_root_is_its_v1() {
        assert_eq!(
            api_base("http://127.0.0.1:8000"),
            "http://127.0.0.1:8000/v1"
        );
        assert_eq!(
            api_base("http://127.0.0.1:8000/"),
            "http://127.0.0.1:8000/v1"
        );
        assert_eq!(
            api_base("http://127.0.0.1:8000/v1"),
            "http://127.0.0.1:8000/v1"
        );
        assert_eq!(
            api_base("https://h/openai/v1?api-version=1"),
            "https://h/openai/v1?api-version=1"
        );
        assert_eq!(
            api_base("https://h?api-version=1"),
            "https://h/v1?api-version=1"
        );
    }

    #[test]
    fn reads_completion_and_chat_choices() {
        let completion = json!({"choices": [{"text": "a", "finish_reason": "stop"}, {"text": "b", "finish_reason": null}]});
        let read = |answer| -> Vec<(String, Option<String>)> {
            let got = choices(answer).unwrap();
            got.into_iter().map(|c| (c.text, c.finish_reason)).collect()
        };
        assert_eq!(
            read(&completion),
            vec![("a".into(), Some("stop".into())), ("b".into(), None)]
        );
        let chat = json!({"choices": [{"message": {"role": "assistant", "content": "c"}, "finish_reason": "length"}]});
        assert_eq!(read(&chat), vec![("c".into(), Some("length".into()))]);
        assert!(choices(&json!({"error": "x"})).is_err());
    }

    fn options(base_url: &str) -> OpenAiOptions {
        OpenAiOptions {
            base_urls: vec![base_url.into()],
            model: "m".into(),
            n_per_request: 1,
            max_in_flight: 1,
            http: HttpOptions {
                api_key: Some("sk-secret".into()),
                max_retries: 0,
                timeout: std::time::Duration::from_secs(1),
                retry_base: std::time::Duration::from_millis(1),
            },
        }
    }

    #[test]
    fn every_sampling_parameter_is_sent_and_only_standard_ones_to_openai_itself() {
        let params = SamplingParams {
            temperature: 0.8,
            top_k: 0,
            top_p: 1.0,
            max_tokens: 8,
            stop: vec![],
            seed: 0,
            token_stats: None,
        };
        let prompt = Prompt::Completion("q".into());
        let body = |url: &str| {
            OpenAiBackend::new(&options(url))
                .unwrap()
                .body(&prompt, 2, 41, &params)
        };
        let served = body("http://10.0.0.1:8000/v1");
        // top_k 0 is sent too: left out, vLLM would take the model's generation_config.json one.
        for (field, value) in [
            ("top_k", json!(0)),
            ("min_p", json!(0.0)),
            ("repetition_penalty", json!(1.0)),
            ("repeat_penalty", json!(1.0)),
            ("presence_penalty", json!(0.0)),
            ("seed", json!(41)),
            ("n", json!(2)),
        ] {
            assert_eq!(served[field], value, "{field}");
        }
        for url in [
            "https://api.openai.com/v1",
            "https://team.openai.azure.com/openai/deployments/x?api-version=1",
        ] {
            let standard = body(url);
            assert!(standard.get("top_k").is_none(), "{url}");
            assert!(standard.get("min_p").is_none(), "{url}");
            assert_eq!(standard["frequency_penalty"], json!(0.0));
        }
    }

    #[test]
    fn the_api_key_never_shows_in_debug_output() {
        let options = options("http://127.0.0.1:1/v1");
        assert!(!format!("{options:?}").contains("sk-secret"));
    }
}
