//! A trace streamed from an OpenAI-compatible server (`"stream": true`), read a chunk at a time
//! so that the online rule can stop it mid-generation: its text and token statistics grow with
//! each `data:` event, and the first token whose group confidence falls below the threshold
//! ends the read (the connection is closed, and vLLM aborts the request).

use serde_json::{Map, Value};

use super::openai::{no_logprobs, push_reported_logprobs};
use super::{EarlyStop, Generated, GroupStop, GroupWatch, TokenStats, TokenStatsRequest};

/// One streamed choice, as it comes.
pub(super) struct StreamedTrace {
    request: TokenStatsRequest,
    pub text: String,
    stats: TokenStats,
    watch: GroupWatch,
    finish_reason: Option<String>,
    early_stop: Option<EarlyStop>,
    prompt_tokens: Option<u32>,
    completion_tokens: Option<u32>,
    server: Map<String, Value>,
}

impl StreamedTrace {
    pub fn new(request: TokenStatsRequest, rule: GroupStop) -> Self {
        StreamedTrace {
            request,
            text: String::new(),
            stats: TokenStats::new(None, &request, false),
            watch: GroupWatch::new(rule),
            finish_reason: None,
            early_stop: None,
            prompt_tokens: None,
            completion_tokens: None,
            server: Map::new(),
        }
    }

    /// Reads one event; false once the trace is stopped (read no more).
    pub fn add(&mut self, event: &Value) -> Result<bool, String> {
        for field in ["model", "system_fingerprint"] {
            if let Some(value) = event.get(field).filter(|v| v.is_string()) {
                self.server.insert(field.into(), value.clone());
            }
        }
        if let Some(usage) = event.get("usage").filter(|u| !u.is_null()) {
            let count = |field: &str| {
                usage
                    .get(field)
                    .and_then(Value::as_u64)
                    .and_then(|t| u32::try_from(t).ok())
            };
            self.prompt_tokens = count("prompt_tokens");
            self.completion_tokens = count("completion_tokens");
        }
        let Some(choice) = event
            .get("choices")
            .and_then(Value::as_array)
            .and_then(|c| c.first())
        else {
            return Ok(true); // the usage chunk, or a keep-alive
        };
        let piece = choice
            .get("text")
            .or_else(|| choice.pointer("/delta/content"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        self.text.push_str(piece);
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish_reason = Some(reason.to_owned());
        }
        match choice.get("logprobs").filter(|l| !l.is_null()) {
            Some(logprobs) => {
                let (watch, early_stop) = (&mut self.watch, &mut self.early_stop);
                push_reported_logprobs(&mut self.stats, logprobs, &self.request, &mut |series| {
                    if early_stop.is_none() {
                        *early_stop = watch.check(series);
                    }
                })?;
            }
            None if !piece.is_empty() => return Err(no_logprobs()),
            None => {}
        }
        // A trace that finished on the chunk that stopped it is finished.
        if self.finish_reason.is_some() {
            self.early_stop = None;
        }
        Ok(self.early_stop.is_none())
    }

    /// The sample: what the server said of it, or what stopped it; `wall_ms` it took.
    pub fn generated(mut self, wall_ms: u64, replica: Option<String>) -> (String, Generated) {
        self.stats.prompt = self.prompt_tokens;
        if let Some(replica) = replica {
            self.server.insert("replica".into(), replica.into());
        }
        let stopped = self.early_stop.is_some();
        let counted = u32::try_from(self.stats.logprobs.len()).unwrap_or(u32::MAX);
        let generated = Generated {
            finish_reason: if stopped {
                Some("early_stop".into())
            } else {
                self.finish_reason
            },
            num_tokens: Some(self.completion_tokens.unwrap_or(counted)),
            server: (!self.server.is_empty()).then_some(self.server),
            tokens: Some(self.stats),
            wall_ms: Some(wall_ms),
            early_stop: self.early_stop,
        };
        (self.text, generated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chunk(text: &str, logprob: f64, finish: Option<&str>) -> Value {
        json!({"model": "m", "choices": [{"index": 0, "text": text, "finish_reason": finish,
            "logprobs": {"tokens": [text], "token_logprobs": [logprob],
                "top_logprobs": [{text: logprob, "other": -9.0}]}}]})
    }

    fn request() -> TokenStatsRequest {
        TokenStatsRequest {
            top_logprobs: 2,
            keep_top_logprobs: false,
        }
    }

    #[test]
    fn a_trace_stops_at_the_first_window_below_the_threshold() {
        // Confidence of a token = −(logprob − 9) / 2: −0.0 → 4.5, −4.0 → 6.5 (the chosen one is
        // among the two best).
        let rule = GroupStop {
            window: 2,
            threshold: 6.0,
        };
        let mut trace = StreamedTrace::new(request(), rule);
        assert!(
            trace.add(&chunk("a", -4.0, None)).unwrap(),
            "one token: no window yet"
        );
        assert!(trace.add(&chunk("b", -4.0, None)).unwrap(), "6.5 ≥ 6");
        assert!(
            !trace.add(&chunk("c", 0.0, None)).unwrap(),
            "(6.5 + 4.5) / 2 < 6: stop"
        );
        let (text, generated) = trace.generated(7, None);
        assert_eq!(text, "abc");
        assert_eq!(generated.finish_reason.as_deref(), Some("early_stop"));
        let stop = generated.early_stop.unwrap();
        assert_eq!(stop.at_token, 3);
        assert!((stop.group_confidence - 5.5).abs() < 1e-9);
        assert_eq!(generated.num_tokens, Some(3));
    }

    #[test]
    fn a_finished_trace_is_never_marked_stopped_and_a_chunk_without_logprobs_is_an_error() {
        let rule = GroupStop {
            window: 1,
            threshold: 100.0,
        };
        let mut trace = StreamedTrace::new(request(), rule);
        assert!(trace.add(&chunk("x", -1.0, Some("stop"))).unwrap());
        assert!(trace
            .add(&json!({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 1}}))
            .unwrap());
        let (_, generated) = trace.generated(1, None);
        assert_eq!(generated.finish_reason.as_deref(), Some("stop"));
        assert_eq!(generated.early_stop, None);
        assert_eq!(generated.tokens.unwrap().prompt, Some(5));
        let mut trace = StreamedTrace::new(request(), rule);
        let bare = json!({"choices": [{"text": "y", "logprobs": null}]});
        assert!(trace
            .add(&bare)
            .unwrap_err()
            .contains("does not support `logprobs`"));
    }
}
