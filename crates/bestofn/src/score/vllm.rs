//! vLLM's pooling endpoints (a server started with `--runner pooling`): `/score` for a
//! cross-encoder given (question, solution) pairs, `/classify` for a sequence classifier over one
//! text (the pair rendered by a template), `/pooling` with `task: token_classify` for a process
//! reward model (served with step pooling, so that it answers one row per step tag). Raw logits
//! are asked for (`use_activation: false`) so that every backend turns them into probabilities
//! the same way.

use serde_json::{json, Value};

use super::log::fingerprint;
use super::remote::{indexed_data, number_at, Judged, Protocol, Served};
use super::served::{EndpointArg, ServedFlags};
use super::spec::{fill_template, OutputKind, Side, StepFormat, TooLong, VerifierSpec};
use crate::error::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VllmApi {
    /// `POST /score` with `text_1` the question and `text_2` the solutions.
    Score,
    /// `POST /classify` with the rendered texts.
    Classify { template: String },
    /// `POST /pooling` (`token_classify`) with the texts rendered with tagged steps.
    Pooling { template: String, steps: StepFormat },
}

#[derive(Debug, Clone)]
pub struct Vllm {
    pub model: String,
    pub api: VllmApi,
    /// Set from a verifier directory: one-text inputs cut as the in-process scorer cuts them.
    pub truncation: Option<Truncation>,
}

/// An input past `max_tokens` loses tokens on `side` (vLLM's `truncate_prompt_tokens` and
/// `truncation_side`, which cut after the special tokens are placed, as the tokenizer does in
/// process), so that the server scores the tokens the in-process scorer scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncation {
    pub max_tokens: usize,
    pub side: Side,
}

impl Vllm {
    /// The endpoint the flags ask for (`score` by default), with the template and steps of the
    /// flags or of the verifier directory.
    pub fn configure(flags: &ServedFlags, verifier: Option<&VerifierSpec>) -> Result<Self, Error> {
        use EndpointArg::{Classify, Pooling, Score};
        let model = flags.model()?;
        let api = match flags.endpoint_of("vllm", &[Score, Classify, Pooling])? {
            Some(Classify) => VllmApi::Classify {
                template: flags.template(verifier)?,
            },
            Some(Pooling) => VllmApi::Pooling {
                template: flags.template(verifier)?,
                steps: flags.steps(verifier)?,
            },
            _ => VllmApi::Score,
        };
        // A pair verifier's cut (longest first, over two texts) has no vLLM equivalent.
        let one_text = !matches!(api, VllmApi::Score);
        Ok(Vllm {
            model,
            api,
            truncation: verifier.filter(|_| one_text).and_then(Truncation::of),
        })
    }

    /// A one-text request's body: the texts, and how to cut them when they are too long.
    fn one_text_request(&self, input: Vec<String>) -> Value {
        let mut request = json!({
            "model": self.model,
            "input": input,
            "use_activation": false,
        });
        if let Some(truncation) = self.truncation {
            request["truncate_prompt_tokens"] = json!(truncation.max_tokens);
            request["truncation_side"] = json!(match truncation.side {
                Side::Left => "left",
                Side::Right => "right",
            });
        }
        request
    }
}

impl Truncation {
    /// How the in-process scorer cuts this verifier's inputs, for the server to do the same;
    /// none when it refuses them instead (`too_long = "error"`: the server scores them whole).
    fn of(spec: &VerifierSpec) -> Option<Truncation> {
        (spec.too_long == TooLong::Truncate).then_some(Truncation {
            max_tokens: spec.max_length,
            side: spec.truncation_side,
        })
    }
}

impl Protocol for Vllm {
    fn id(&self) -> String {
        match &self.api {
            VllmApi::Score => format!("vllm /score {}", self.model),
            VllmApi::Classify { template } => format!(
                "vllm /classify {} template {}",
                self.model,
                fingerprint(template, "")
            ),
            VllmApi::Pooling { template, steps } => format!(
                "vllm /pooling {} template {} steps {}",
                self.model,
                fingerprint(template, ""),
                steps.id()
            ),
        }
    }

    fn path(&self) -> &str {
        match self.api {
            VllmApi::Score => "score",
            VllmApi::Classify { .. } => "classify",
            VllmApi::Pooling { .. } => "pooling",
        }
    }

    fn sends_pairs(&self) -> bool {
        matches!(self.api, VllmApi::Score)
    }

    fn request(&self, question: &str, solutions: &[&str]) -> Value {
        match &self.api {
            VllmApi::Score => json!({
                "model": self.model,
                "text_1": question,
                "text_2": solutions,
                "use_activation": false,
            }),
            VllmApi::Classify { template } => self.one_text_request(
                solutions
                    .iter()
                    .map(|solution| fill_template(template, question, solution))
                    .collect(),
            ),
            VllmApi::Pooling { template, steps } => {
                let question = steps.clean(question);
                let mut request = self.one_text_request(
                    solutions
                        .iter()
                        .map(|solution| {
                            fill_template(template, &question, &steps.render(solution).0)
                        })
                        .collect(),
                );
                request["task"] = json!("token_classify");
                request
            }
        }
    }

    fn judged(&self, answer: &Value, solutions: &[&str]) -> Result<Vec<Judged>, String> {
        let VllmApi::Pooling { steps, .. } = &self.api else {
            let scores = self.scores(answer, solutions.len())?;
            return Ok(scores.into_iter().map(Judged::Solution).collect());
        };
        indexed_data(answer, solutions.len())?
            .into_iter()
            .zip(solutions)
            .map(|(item, solution)| {
                step_rows(item, steps.steps(solution).len(), self.truncation.is_some())
            })
            .collect()
    }

    fn scores(&self, answer: &Value, count: usize) -> Result<Vec<Served>, String> {
        indexed_data(answer, count)?
            .into_iter()
            .map(|item| match self.api {
                VllmApi::Score => number_at(item, "/score").map(Served::Logit),
                VllmApi::Classify { .. } => {
                    let classes = item.get("num_classes").and_then(Value::as_u64);
                    if classes.is_some_and(|n| n != 1) {
                        return Err(format!(
                            "has {} classes per input; a verifier served for /classify must \
                             have one output (P(correct) = sigmoid)",
                            classes.unwrap_or_default()
                        ));
                    }
                    number_at(item, "/probs/0").map(Served::Logit)
                }
                VllmApi::Pooling { .. } => Err("scores steps (read with `judged`)".into()),
            })
            .collect()
    }
}

/// One row per step tag: a server with all-token pooling answers one per token instead. Under
/// truncation the tags cut with their steps have no row (as in process), but one must be left.
fn step_rows(item: &Value, steps: usize, truncated: bool) -> Result<Judged, String> {
    let rows = item
        .get("data")
        .and_then(Value::as_array)
        .ok_or("has a result without a \"data\" list")?;
    if truncated && rows.is_empty() && steps > 0 {
        return Err("has no step left after truncation to the verifier's max_length".into());
    }
    let cut = truncated && rows.len() < steps;
    if rows.len() != steps && !cut {
        return Err(format!(
            "has {} rows for a solution of {steps} steps: serve the model with step pooling, \
             --pooler-config '{{\"tok_pooling_type\": \"STEP\", \"step_tag_id\": ID}}' where ID is \
             the step tag's token id",
            rows.len()
        ));
    }
    rows.iter()
        .map(|row| {
            let values = row
                .as_array()
                .map(|values| {
                    values
                        .iter()
                        .map(Value::as_f64)
                        .collect::<Option<Vec<f64>>>()
                })
                .unwrap_or_else(|| row.as_f64().map(|v| vec![v]))
                .filter(|values| values.iter().all(|v| v.is_finite()))
                .ok_or_else(|| {
                    format!("has a step row {row} that is not a list of finite numbers")
                })?;
            Served::from_labels(OutputKind::Logit, &values)
        })
        .collect::<Result<Vec<Served>, String>>()
        .map(Judged::Steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Answers as vLLM 0.32.0 gave them (shortened), as recorded in the vLLM recipe of the shared design notes.
    #[test]
    fn score_and_classify_requests_and_answers() {
        let score = Vllm {
            model: "v".into(),
            api: VllmApi::Score,
            truncation: None,
        };
        assert_eq!(
            score.request("q", &["a", "b"]),
            json!({"model": "v", "text_1": "q", "text_2": ["a", "b"], "use_activation": false})
        );
        let answer = json!({"id": "score-1", "object": "list", "model": "v", "data": [
            {"index": 1, "object": "score", "score": -0.5},
            {"index": 0, "object": "score", "score": 1.25}]});
        assert_eq!(
            score.scores(&answer, 2).unwrap(),
            vec![Served::Logit(1.25), Served::Logit(-0.5)]
        );

        let classify = Vllm {
            model: "v".into(),
            api: VllmApi::Classify {
                template: "Q: {question}\nA: {solution}".into(),
            },
            truncation: None,
        };
        assert_eq!(classify.path(), "classify");
        assert_eq!(
            classify.request("2+2?", &["4"])["input"],
            json!(["Q: 2+2?\nA: 4"])
        );
        let answer =
            json!({"data": [{"index": 0, "label": "LABEL_0", "probs": [0.75], "num_classes": 1}]});
        assert_eq!(
            classify.scores(&answer, 1).unwrap(),
            vec![Served::Logit(0.75)]
        );
        let two =
            json!({"data": [{"index": 0, "label": "x", "probs": [0.1, 0.2], "num_classes": 2}]});
        assert!(classify.scores(&two, 1).unwrap_err().contains("2 classes"));
    }

    // vLLM 0.32.0 serving a token classifier with step pooling answered like this.
    #[test]
    fn pooling_reads_one_row_per_step() {
        let prm = Vllm {
            model: "prm".into(),
            api: VllmApi::Pooling {
                template: "Q: {question} A: {solution}".into(),
                steps: StepFormat {
                    separator: "\n\n".into(),
                    tag: "[MASK]".into(),
                    joiner: None,
                },
            },
            truncation: None,
        };
        let request = prm.request("2+2?[MASK]", &["two plus two\n\nis four", "4"]);
        assert_eq!(
            request,
            json!({"model": "prm", "task": "token_classify", "use_activation": false,
                   "input": ["Q: 2+2? A: two plus two[MASK]\n\nis four[MASK]", "Q: 2+2? A: 4[MASK]"]})
        );
        let answer = json!({"object": "list", "data": [
            {"index": 1, "object": "pooling", "data": [[0.5]]},
            {"index": 0, "object": "pooling", "data": [[-0.28], [1.0, 3.0]]}]});
        let judged = prm
            .judged(&answer, &["two plus two\n\nis four", "4"])
            .unwrap();
        assert_eq!(
            judged,
            vec![
                Judged::Steps(vec![Served::Logit(-0.28), Served::Logit(2.0)]),
                Judged::Steps(vec![Served::Logit(0.5)])
            ]
        );
        // All-token pooling: one row per token, not per step.
        let all_tokens = json!({"data": [{"index": 0, "data": [[0.1], [0.2], [0.3]]}]});
        let error = prm.judged(&all_tokens, &["a\n\nb"]).unwrap_err();
        assert!(
            error.contains("3 rows for a solution of 2 steps"),
            "{error}"
        );
        assert!(error.contains("step_tag_id"), "{error}");
    }

    #[test]
    fn a_verifier_directory_makes_the_server_cut_inputs_as_in_process() {
        let mut prm = Vllm {
            model: "prm".into(),
            api: VllmApi::Pooling {
                template: "{question} {solution}".into(),
                steps: StepFormat {
                    separator: "\n\n".into(),
                    tag: "<t>".into(),
                    joiner: None,
                },
            },
            truncation: Some(Truncation {
                max_tokens: 512,
                side: Side::Left,
            }),
        };
        let request = prm.request("q", &["a\n\nb\n\nc"]);
        assert_eq!(request["truncate_prompt_tokens"], 512);
        assert_eq!(request["truncation_side"], "left");
        assert_eq!(request["task"], "token_classify");
        // Two of three tags left: the last two steps' scores.
        let cut = json!({"data": [{"index": 0, "data": [[0.5], [1.5]]}]});
        assert_eq!(
            prm.judged(&cut, &["a\n\nb\n\nc"]).unwrap(),
            vec![Judged::Steps(vec![Served::Logit(0.5), Served::Logit(1.5)])]
        );
        let none_left = json!({"data": [{"index": 0, "data": []}]});
        assert!(prm
            .judged(&none_left, &["a\n\nb"])
            .unwrap_err()
            .contains("no step left"));
        // Without truncation a missing row is a misconfigured server.
        prm.truncation = None;
        assert!(prm.judged(&cut, &["a\n\nb\n\nc"]).is_err());
        assert!(prm
            .request("q", &["a"])
            .get("truncate_prompt_tokens")
            .is_none());
    }
}
