//! The HTTP client every server backend shares: JSON POSTs with the API key as a bearer token
//! (never logged, and cut out of whatever a server echoes back), retries with exponential backoff
//! and jitter on what retrying can fix (429, 408 and 5xx answers, timeouts, refused and dropped
//! connections, unreadable bodies), `Retry-After` honoured, and replicas: the requests of one key
//! (a problem) go to one server, and move to another when it fails.

use std::time::Duration;

use rand::Rng;
use serde_json::Value;

pub use super::replicas::Replicas;
use super::secrets::{redact_url, redact_urls};

/// How requests are made and retried.
#[derive(Clone)]
pub struct HttpOptions {
    pub api_key: Option<String>,
    pub max_retries: u32,
    pub timeout: Duration,
    /// First backoff delay; doubled on each retry up to `MAX_BACKOFF`.
    pub retry_base: Duration,
}

impl std::fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpOptions")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("max_retries", &self.max_retries)
            .field("timeout", &self.timeout)
            .field("retry_base", &self.retry_base)
            .finish()
    }
}

const MAX_BACKOFF: Duration = Duration::from_secs(30);
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// Why no answer came.
#[derive(Debug)]
pub enum HttpError {
    /// The server refused the request in a way retrying cannot fix (a 4xx other than 408/429;
    /// `status` is `None` when no answer came, e.g. a malformed URL).
    Refused { status: Option<u16>, why: String },
    /// Every attempt failed in a way worth retrying.
    GaveUp(String),
}

/// What a streamed answer hands its reader.
#[derive(Debug)]
pub enum StreamEvent<'a> {
    /// An attempt begins: forget what an earlier one sent.
    Start,
    /// One `data:` object.
    Data(&'a Value),
}

/// Why a request failed: worth another try or not.
enum Failure {
    Retryable {
        why: String,
        retry_after: Option<Duration>,
    },
    Fatal {
        status: Option<u16>,
        why: String,
    },
}

pub struct HttpClient {
    agent: ureq::Agent,
    options: HttpOptions,
    replicas: Replicas,
}

/// `path` under a base URL, keeping the base's query string where it belongs
/// (`https://host/v1?api-version=X` + `chat/completions` → `https://host/v1/chat/completions?api-version=X`).
pub fn endpoint(base_url: &str, path: &str) -> String {
    let (base, query) = match base_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (base_url, None),
    };
    let base = base.trim_end_matches('/');
    match query {
        Some(query) => format!("{base}/{path}?{query}"),
        None => format!("{base}/{path}"),
    }
}

impl HttpClient {
    pub fn new(base_urls: Vec<String>, options: HttpOptions) -> Self {
        // No redirect is followed: ureq would repeat a POST as a GET without its body (and
        // another host would get it). A redirect is an error naming where it points.
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(options.timeout))
            .build()
            .into();
        HttpClient {
            agent,
            options,
            replicas: Replicas::new(base_urls),
        }
    }

    pub fn replicas(&self) -> &Replicas {
        &self.replicas
    }

    /// `text` with the API key, wherever a server echoed it, replaced by `<redacted>`.
    pub fn redact(&self, text: &str) -> String {
        match &self.options.api_key {
            Some(key) if !key.is_empty() => text.replace(key.as_str(), "<redacted>"),
            _ => text.to_owned(),
        }
    }

    /// Sends one POST; the response, whatever its status, or why none came.
    fn send(
        &self,
        url: &str,
        body: &Value,
    ) -> std::result::Result<ureq::http::Response<ureq::Body>, Failure> {
        let mut request = self.agent.post(url);
        if let Some(key) = &self.options.api_key {
            request = request.header("Authorization", &format!("Bearer {key}"));
        }
        request.send_json(body).map_err(classify_transport_error)
    }

    /// One POST; the parsed JSON answer or why it failed.
    fn post(&self, url: &str, body: &Value) -> std::result::Result<Value, Failure> {
        let mut response = self.send(url, body)?;
        let status = response.status().as_u16();
        let text = self.body_text(&mut response)?;
        if !(200..=299).contains(&status) {
            return Err(self.refusal(&response, &text));
        }
        // Redacted before parsing: what the server says enters messages and records.
        serde_json::from_str(&self.redact(&text)).map_err(|e| Failure::Retryable {
            why: format!("HTTP {status} with a body that is not JSON ({e})"),
            retry_after: None,
        })
    }

    /// A response's body as text.
    fn body_text(
        &self,
        response: &mut ureq::http::Response<ureq::Body>,
    ) -> std::result::Result<String, Failure> {
        let status = response.status().as_u16();
        response
            .body_mut()
            .read_to_string()
            .map_err(|error| Failure::Retryable {
                why: format!("HTTP {status}, reading the body failed: {error}"),
                retry_after: retry_after(response),
            })
    }

    /// Why an answer of a status other than 2xx failed, from its headers and body `text`.
    fn refusal(&self, response: &ureq::http::Response<ureq::Body>, text: &str) -> Failure {
        let status = response.status().as_u16();
        // What a server says may echo the request's headers, the key among them: redacted before
        // it is cut, so no part of the key is left at the cut.
        let excerpt = || {
            let shown = self.redact(text);
            let mut end = shown.len().min(300);
            while !shown.is_char_boundary(end) {
                end -= 1;
            }
            shown[..end].trim().to_owned()
        };
        match status {
            300..=399 => {
                let location = response
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .map_or_else(|| "(no Location)".to_owned(), redact_url);
                Failure::Fatal {
                    status: Some(status),
                    why: format!(
                        "HTTP {status}: the server redirects to {location}; bestofn does not \
                         follow redirects (a POST would be resent without its body): give the \
                         final URL as the base URL"
                    ),
                }
            }
            408 | 429 | 500..=599 => Failure::Retryable {
                why: format!("HTTP {status}: {}", excerpt()),
                retry_after: retry_after(response),
            },
            _ => Failure::Fatal {
                status: Some(status),
                why: format!("HTTP {status}: {}", excerpt()),
            },
        }
    }

    /// One streamed POST (server-sent events): `on_event` gets [`StreamEvent::Start`], then each
    /// `data:` object as it comes, until `[DONE]` or until it returns false, which closes the
    /// connection (a server such as vLLM then aborts the request).
    fn post_stream(
        &self,
        url: &str,
        body: &Value,
        on_event: &mut dyn FnMut(StreamEvent<'_>) -> bool,
    ) -> std::result::Result<(), Failure> {
        use std::io::BufRead;
        let mut response = self.send(url, body)?;
        let status = response.status().as_u16();
        if !(200..=299).contains(&status) {
            let text = self.body_text(&mut response)?;
            return Err(self.refusal(&response, &text));
        }
        let broken = |why: String| Failure::Retryable {
            why: format!("HTTP {status}, the stream broke: {why}"),
            retry_after: None,
        };
        on_event(StreamEvent::Start);
        let reader = std::io::BufReader::new(response.body_mut().as_reader());
        for line in reader.lines() {
            let line = line.map_err(|e| broken(e.to_string()))?;
            let Some(data) = line.strip_prefix("data:").map(str::trim) else {
                continue; // blank separators, comments, event names
            };
            if data == "[DONE]" {
                return Ok(());
            }
            let event: Value = serde_json::from_str(&self.redact(data))
                .map_err(|e| broken(format!("an event that is not JSON ({e})")))?;
            if let Some(error) = event.get("error") {
                return Err(Failure::Fatal {
                    status: Some(status),
                    why: format!("the server sent an error in its stream: {error}"),
                });
            }
            if !on_event(StreamEvent::Data(&event)) {
                return Ok(());
            }
        }
        Err(broken("it ended before `data: [DONE]`".into()))
    }

    /// POSTs `body` to `path` on the replica of `key` until an answer comes, retrying what is
    /// worth retrying (on another replica when there are several); the answer and its replica.
    pub fn post_with_retries(
        &self,
        key: &str,
        path: &str,
        body: &Value,
    ) -> Result<(Value, usize), HttpError> {
        self.with_retries(key, path, &mut |url| self.post(url, body))
    }

    /// [`Self::post_with_retries`] for a streamed answer: each attempt begins with
    /// [`StreamEvent::Start`], after which `on_event` forgets what an earlier attempt sent.
    pub fn post_stream_with_retries(
        &self,
        key: &str,
        path: &str,
        body: &Value,
        on_event: &mut dyn FnMut(StreamEvent<'_>) -> bool,
    ) -> Result<usize, HttpError> {
        self.with_retries(key, path, &mut |url| self.post_stream(url, body, on_event))
            .map(|((), replica)| replica)
    }

    /// Runs `attempt` on the replica of `key` until it succeeds or fails for good.
    fn with_retries<T>(
        &self,
        key: &str,
        path: &str,
        attempt_at: &mut dyn FnMut(&str) -> std::result::Result<T, Failure>,
    ) -> Result<(T, usize), HttpError> {
        let mut replica = self.replicas.start(key);
        let mut attempt = 0;
        loop {
            let url = endpoint(self.replicas.url(replica), path);
            let shown = redact_url(&url);
            match attempt_at(&url) {
                Ok(value) => {
                    self.replicas.done(replica, true);
                    return Ok((value, replica));
                }
                Err(Failure::Fatal { status, why }) => {
                    self.replicas.done(replica, false);
                    return Err(HttpError::Refused {
                        status,
                        why: redact_urls(&format!("{shown}: {why}")),
                    });
                }
                Err(Failure::Retryable { why, retry_after }) => {
                    if attempt >= self.options.max_retries {
                        self.replicas.done(replica, false);
                        return Err(HttpError::GaveUp(redact_urls(&format!(
                            "{shown}: giving up after {} attempts; last error: {why}",
                            attempt + 1
                        ))));
                    }
                    replica = self.replicas.failed(key, replica);
                    let delay = retry_after.unwrap_or_else(|| self.backoff(attempt));
                    let next = redact_url(self.replicas.url(replica));
                    let why = redact_urls(&why);
                    tracing::warn!(
                        attempt = attempt + 1,
                        ?delay,
                        "{shown}: {why}; retrying on {next}"
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

/// A response's `Retry-After` in seconds, capped.
fn retry_after(response: &ureq::http::Response<ureq::Body>) -> Option<Duration> {
    response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s).min(MAX_RETRY_AFTER))
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
        other => Failure::Fatal {
            status: None,
            why: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_the_query_string_at_the_end() {
        assert_eq!(
            endpoint(
                "https://h/openai/v1?api-version=2024-10",
                "chat/completions"
            ),
            "https://h/openai/v1/chat/completions?api-version=2024-10"
        );
        assert_eq!(
            endpoint("http://h:8000/v1/", "score"),
            "http://h:8000/v1/score"
        );
    }

    #[test]
    fn the_key_is_cut_out_of_echoed_text_and_debug_output() {
        let options = HttpOptions {
            api_key: Some("sk-secret".into()),
            max_retries: 0,
            timeout: Duration::from_secs(1),
            retry_base: Duration::from_millis(1),
        };
        assert!(!format!("{options:?}").contains("sk-secret"));
        let client = HttpClient::new(vec!["http://127.0.0.1:1/v1".into()], options);
        assert_eq!(
            client.redact("Authorization: Bearer sk-secret"),
            "Authorization: Bearer <redacted>"
        );
    }
}
