//! vLLM's pooling endpoints (a server started with `--runner pooling`): `/score` for a
//! cross-encoder given (question, solution) pairs, `/classify` for a sequence classifier over one
//! text (the pair rendered by a template). Raw logits are asked for (`use_activation: false`) so
//! that every backend turns them into probabilities the same way.

use serde_json::{json, Value};

use super::remote::{indexed_data, number_at, Protocol, Served};
use super::spec::fill_template;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VllmApi {
    /// `POST /score` with `text_1` the question and `text_2` the solutions.
    Score,
    /// `POST /classify` with the rendered texts.
    Classify { template: String },
}

#[derive(Debug, Clone)]
pub struct Vllm {
    pub model: String,
    pub api: VllmApi,
}

impl Protocol for Vllm {
    fn path(&self) -> &str {
        match self.api {
            VllmApi::Score => "score",
            VllmApi::Classify { .. } => "classify",
        }
    }

    fn request(&self, question: &str, solutions: &[&str]) -> Value {
        match &self.api {
            VllmApi::Score => json!({
                "model": self.model,
                "text_1": question,
                "text_2": solutions,
                "use_activation": false,
            }),
            VllmApi::Classify { template } => json!({
                "model": self.model,
                "input": solutions
                    .iter()
                    .map(|solution| fill_template(template, question, solution))
                    .collect::<Vec<_>>(),
                "use_activation": false,
            }),
        }
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
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Answers as vLLM 0.32.0 gave them (shortened), see ../shared/DESIGN.md.
    #[test]
    fn score_and_classify_requests_and_answers() {
        let score = Vllm {
            model: "v".into(),
            api: VllmApi::Score,
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
}
