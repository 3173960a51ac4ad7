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
//! 429, 408 and 5xx answers, timeouts, refused and dropped connections and unreadable bodies are
//! retried with exponential backoff (honouring `Retry-After`); other answers fail at once with the
//! server's message. The API key is sent as a bearer token and never logged. Once per run the
//! backend checks that the server honours `seed` and that it honours `n`, and says so if not.

use std::time::Duration;

use rand::Rng;
use serde_json::{json, Value};

use super::replicas::Replicas;
use super::{Backend, Completion, Job, Prompt, SamplingParams, Seeding};
use crate::error::{Error, Result};

#[derive(Clone)]
pub struct OpenAiOptions {
    /// Up to and including `/v1`, e.g. `http://127.0.0.1:8000/v1`; several for replicas of one
    /// model.
    pub base_urls: Vec<String>,
    pub model: String,
    pub api_key: Option<String>,
    pub n_per_request: usize,
    pub max_in_flight: usize,
    pub max_retries: u32,
    pub timeout: Duration,
    /// First backoff delay; doubled on each retry up to [`MAX_BACKOFF`].
    pub retry_base: Duration,
}

impl std::fmt::Debug for OpenAiOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiOptions")
            .field("base_urls", &self.base_urls)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("n_per_request", &self.n_per_request)
            .field("max_in_flight", &self.max_in_flight)
            .field("max_retries", &self.max_retries)
            .field("timeout", &self.timeout)
            .field("retry_base", &self.retry_base)
            .finish()
    }
}

const MAX_BACKOFF: Duration = Duration::from_secs(30);
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

pub struct OpenAiBackend {
    options: OpenAiOptions,
    agent: ureq::Agent,
    /// Whether the run has said that the server ignores `n` (said once, not per request).
    said_n_ignored: std::sync::atomic::AtomicBool,
    /// OpenAI's own API (or Azure's): no sampling parameters beyond its own.
    standard_parameters_only: bool,
    replicas: Replicas,
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

/// Why a request failed: worth another try or not.
enum Failure {
    Retryable {
        why: String,
        retry_after: Option<Duration>,
    },
    Fatal(String),
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
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(options.timeout))
            .build()
            .into();
        Ok(OpenAiBackend {
            standard_parameters_only: options.base_urls.iter().any(|url| is_openai_itself(url)),
            replicas: Replicas::new(options.base_urls.clone()),
            options: options.clone(),
            agent,
            said_n_ignored: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The endpoint for `prompt` under a replica's base URL, keeping its query string where it
    /// belongs (`https://host/v1?api-version=X` → `https://host/v1/chat/completions?api-version=X`).
    fn url(&self, replica: usize, prompt: &Prompt) -> String {
        let base_url = self.replicas.url(replica);
        let (base, query) = match base_url.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (base_url, None),
        };
        let base = base.trim_end_matches('/');
        let endpoint = match prompt {
            Prompt::Completion(_) => "completions",
            Prompt::Chat { .. } => "chat/completions",
        };
        match query {
            Some(query) => format!("{base}/{endpoint}?{query}"),
            None => format!("{base}/{endpoint}"),
        }
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
            self.post_with_retries(&job.problem_id, &job.prompt, &body)
                .ok()
                .map(|(answer, _)| answer)
                .and_then(|answer| choices(&answer).ok())
                .and_then(|got| got.into_iter().next())
                .map(|(text, _)| text)
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

    /// `text` with the API key, wherever a server echoed it, replaced by `<redacted>`.
    fn redact(&self, text: &str) -> String {
        match &self.options.api_key {
            Some(key) if !key.is_empty() => text.replace(key.as_str(), "<redacted>"),
            _ => text.to_owned(),
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
        body
    }

    /// One POST; the parsed JSON answer or why it failed.
    fn post(&self, url: &str, body: &Value) -> std::result::Result<Value, Failure> {
        let mut request = self.agent.post(url);
        if let Some(key) = &self.options.api_key {
            request = request.header("Authorization", &format!("Bearer {key}"));
        }
        let mut response = match request.send_json(body) {
            Ok(response) => response,
            Err(error) => return Err(classify_transport_error(error)),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Duration::from_secs_f64(s).min(MAX_RETRY_AFTER));
        let text = match response.body_mut().read_to_string() {
            Ok(text) => text,
            Err(error) => {
                return Err(Failure::Retryable {
                    why: format!("HTTP {status}, reading the body failed: {error}"),
                    retry_after,
                })
            }
        };
        // What a server says may echo the request's headers, the key among them: redacted before
        // it is cut, so no part of the key is left at the cut.
        let excerpt = || {
            let shown = self.redact(&text);
            let mut end = shown.len().min(300);
            while !shown.is_char_boundary(end) {
                end -= 1;
            }
            shown[..end].trim().to_owned()
        };
        match status {
            200..=299 => serde_json::from_str(&text).map_err(|e| Failure::Retryable {
                why: format!("HTTP {status} with a body that is not JSON ({e})"),
                retry_after: None,
            }),
            408 | 429 | 500..=599 => Err(Failure::Retryable {
                why: format!("HTTP {status}: {}", excerpt()),
                retry_after,
            }),
            _ => Err(Failure::Fatal(format!("HTTP {status}: {}", excerpt()))),
        }
    }

    /// POSTs `body` for a problem to its replica until an answer comes, retrying what is worth
    /// retrying (on another replica when there are several); the answer and its replica.
    fn post_with_retries(
        &self,
        problem: &str,
        prompt: &Prompt,
        body: &Value,
    ) -> Result<(Value, usize)> {
        let mut replica = self.replicas.start(problem);
        let mut attempt = 0;
        loop {
            let url = self.url(replica, prompt);
            match self.post(&url, body) {
                Ok(value) => {
                    self.replicas.done(replica, true);
                    return Ok((value, replica));
                }
                Err(Failure::Fatal(why)) => {
                    self.replicas.done(replica, false);
                    return Err(Error::Rejected(format!("{url}: {why}")));
                }
                Err(Failure::Retryable { why, retry_after }) => {
                    if attempt >= self.options.max_retries {
                        self.replicas.done(replica, false);
                        return Err(Error::Generation(format!(
                            "{url}: giving up after {} attempts; last error: {why}",
                            attempt + 1
                        )));
                    }
                    replica = self.replicas.failed(problem, replica);
                    let delay = retry_after.unwrap_or_else(|| self.backoff(attempt));
                    let next = self.replicas.url(replica);
                    tracing::warn!(
                        attempt = attempt + 1,
                        ?delay,
                        "{url}: {why}; retrying on {next}"
                    );
                    std::thread::sleep(delay);
                    attempt += 1;
                }
            }
        }
    }

    /// Exponential backoff with jitter, so clients that failed together do not retry together.
    fn backoff(&self, attempt: u32) -> Duration {
        let exponential = self
            .options
            .retry_base
            .saturating_mul(1 << attempt.min(16))
            .min(MAX_BACKOFF);
        exponential.mul_f64(rand::thread_rng().gen_range(0.5..=1.0))
    }
}

fn classify_transport_error(error: ureq::Error) -> Failure {
    match error {
        ureq::Error::Timeout(_)
        | ureq::Error::Io(_)
        | ureq::Error::ConnectionFailed
        | ureq::Error::Protocol(_) => Failure::Retryable {
            why: error.to_string(),
            retry_after: None,
        },
        other => Failure::Fatal(other.to_string()),
    }
}

/// The choices of an answer: text, finish reason.
fn choices(answer: &Value) -> std::result::Result<Vec<(String, Option<String>)>, String> {
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
            let finish = choice
                .get("finish_reason")
                .and_then(Value::as_str)
                .map(str::to_owned);
            Ok((text.to_owned(), finish))
        })
        .collect()
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
        let mut remaining = &job.slots[..];
        let mut empty_answers = 0;
        while let Some(first) = remaining.first() {
            let n = remaining.len().min(self.options.n_per_request);
            let body = self.body(&job.prompt, n, first.seed, params);
            let (answer, replica) = self.post_with_retries(&job.problem_id, &job.prompt, &body)?;
            let url = self.url(replica, &job.prompt);
            let mut got =
                choices(&answer).map_err(|why| Error::Generation(format!("{url}: {why}")))?;
            got.truncate(n);
            if got.is_empty() {
                empty_answers += 1;
                if empty_answers > self.options.max_retries {
                    return Err(Error::Generation(format!(
                        "{url}: the server keeps answering with no choices"
                    )));
                }
                continue;
            }
            // Token counts are per request; they belong to a sample only when it is alone.
            let tokens = (got.len() == 1)
                .then(|| {
                    answer
                        .pointer("/usage/completion_tokens")
                        .and_then(Value::as_u64)
                })
                .flatten()
                .and_then(|t| u32::try_from(t).ok());
            let mut server = reported_by_server(&answer).unwrap_or_default();
            if self.replicas.len() > 1 {
                // Which replica made it (without any query string, where keys may travel).
                let base = self.replicas.url(replica);
                let base = base.split_once('?').map_or(base, |(base, _)| base);
                server.insert("replica".into(), base.into());
            }
            let server = (!server.is_empty()).then_some(server);
            let count = got.len();
            if count < n {
                self.say_n_ignored(&url, n, count);
            }
            for ((text, finish_reason), slot) in got.into_iter().zip(remaining) {
                emit(Completion {
                    sample_idx: slot.sample_idx,
                    text,
                    finish_reason,
                    num_tokens: tokens,
                    replayed: None,
                    server: server.clone(),
                })?;
            }
            remaining = &remaining[count..];
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_completion_and_chat_choices() {
        let completion = json!({"choices": [{"text": "a", "finish_reason": "stop"}, {"text": "b", "finish_reason": null}]});
        assert_eq!(
            choices(&completion).unwrap(),
            vec![("a".into(), Some("stop".into())), ("b".into(), None)]
        );
        let chat = json!({"choices": [{"message": {"role": "assistant", "content": "c"}, "finish_reason": "length"}]});
        assert_eq!(
            choices(&chat).unwrap(),
            vec![("c".into(), Some("length".into()))]
        );
        assert!(choices(&json!({"error": "x"})).is_err());
    }

    fn options(base_url: &str) -> OpenAiOptions {
        OpenAiOptions {
            base_urls: vec![base_url.into()],
            model: "m".into(),
            api_key: Some("sk-secret".into()),
            n_per_request: 1,
            max_in_flight: 1,
            max_retries: 0,
            timeout: Duration::from_secs(1),
            retry_base: Duration::from_millis(1),
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
        let options = OpenAiOptions {
            base_urls: vec!["http://127.0.0.1:1/v1".into()],
            model: "m".into(),
            api_key: Some("sk-secret".into()),
            n_per_request: 1,
            max_in_flight: 1,
            max_retries: 0,
            timeout: Duration::from_secs(1),
            retry_base: Duration::from_millis(1),
        };
        assert!(!format!("{options:?}").contains("sk-secret"));
    }
}
