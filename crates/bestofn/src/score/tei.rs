//! Hugging Face Text Embeddings Inference: `/predict` with (question, solution) pairs, or
//! `/rerank` with the question as the query. Raw scores are asked for, and over-long inputs are
//! cut on the left (the end of a solution, where its answer is, is kept), as `score` does.
//! TEI refuses a request over its `--max-client-batch-size` (default 32) with 413: keep
//! `--request-size` at or below it (a refused request is split in halves and sent again).

use serde_json::{json, Value};

use super::remote::{by_index, number_at, Protocol, Served};
use super::served::{EndpointArg, ServedFlags};
use super::spec::VerifierSpec;
use crate::error::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TeiApi {
    /// `POST /predict` with `[[question, solution], ...]`; `label` names the output that means
    /// correct in a classifier with several (with one output it may be left out).
    Predict { label: Option<String> },
    /// `POST /rerank` with `query` the question and `texts` the solutions.
    Rerank,
}

#[derive(Debug, Clone)]
pub struct Tei {
    pub api: TeiApi,
}

impl Tei {
    /// `/predict` (by default) or `/rerank`; TEI serves one model, so no model name is needed.
    pub fn configure(flags: &ServedFlags, _verifier: Option<&VerifierSpec>) -> Result<Self, Error> {
        let endpoint = flags.endpoint_of("tei", &[EndpointArg::Predict, EndpointArg::Rerank])?;
        Ok(Tei {
            api: match endpoint {
                Some(EndpointArg::Rerank) => TeiApi::Rerank,
                _ => TeiApi::Predict {
                    label: flags.label.clone(),
                },
            },
        })
    }
}

impl Protocol for Tei {
    fn id(&self) -> String {
        match &self.api {
            TeiApi::Predict { label } => format!("tei /predict label {label:?}"),
            TeiApi::Rerank => "tei /rerank".to_owned(),
        }
    }

    fn path(&self) -> &str {
        match self.api {
            TeiApi::Predict { .. } => "predict",
            TeiApi::Rerank => "rerank",
        }
    }

    fn sends_pairs(&self) -> bool {
        matches!(self.api, TeiApi::Predict { .. })
    }

    fn request(&self, question: &str, solutions: &[&str]) -> Value {
        match self.api {
            // Always a list of pairs: a flat ["q", "a"] would be read as one pair, not two texts.
            TeiApi::Predict { .. } => json!({
                "inputs": solutions.iter().map(|s| [question, s]).collect::<Vec<_>>(),
                "raw_scores": true,
                "truncate": true,
                "truncation_direction": "Left",
            }),
            TeiApi::Rerank => json!({
                "query": question,
                "texts": solutions,
                "raw_scores": true,
                "truncate": true,
                "truncation_direction": "Left",
            }),
        }
    }

    fn scores(&self, answer: &Value, count: usize) -> Result<Vec<Served>, String> {
        let items = answer.as_array().ok_or("is not a list")?;
        match &self.api {
            TeiApi::Rerank => by_index(items, count, "index")?
                .into_iter()
                .map(|item| number_at(item, "/score").map(Served::Logit))
                .collect(),
            TeiApi::Predict { label } => {
                if items.len() != count {
                    return Err(format!("has {} results for {count} pairs", items.len()));
                }
                items
                    .iter()
                    .map(|predictions| predicted(predictions, label.as_deref()))
                    .collect()
            }
        }
    }
}

/// One pair's `[{score, label}, ...]` (sorted by score, so read by label): the one output's raw
/// score, or the softmax probability of `label` among several.
fn predicted(predictions: &Value, label: Option<&str>) -> Result<Served, String> {
    let predictions = predictions
        .as_array()
        .filter(|p| !p.is_empty())
        .ok_or("has a result that is not a list of {score, label}")?;
    let scores: Vec<(String, f64)> = predictions
        .iter()
        .map(|p| {
            let name = p.get("label").and_then(Value::as_str).unwrap_or_default();
            number_at(p, "/score").map(|score| (name.to_owned(), score))
        })
        .collect::<Result<_, _>>()?;
    if let [(_, score)] = scores.as_slice() {
        return Ok(Served::Logit(*score));
    }
    let labels = || {
        scores
            .iter()
            .map(|(l, _)| l.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let label = label.ok_or_else(|| {
        format!(
            "has several labels ({}): say which means correct with --label",
            labels()
        )
    })?;
    let chosen = scores
        .iter()
        .find(|(name, _)| name == label)
        .ok_or_else(|| format!("has no label {label:?} (it has {})", labels()))?
        .1;
    let max = scores
        .iter()
        .map(|(_, s)| *s)
        .fold(f64::NEG_INFINITY, f64::max);
    let total: f64 = scores.iter().map(|(_, s)| (s - max).exp()).sum();
    Ok(Served::Probability((chosen - max).exp() / total))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Answers in the shapes TEI documents (it cannot be installed here).
    #[test]
    fn predict_sends_pairs_and_reads_by_label() {
        let tei = Tei {
            api: TeiApi::Predict { label: None },
        };
        let request = tei.request("q", &["a"]);
        assert_eq!(request["inputs"], json!([["q", "a"]]));
        let answer =
            json!([[{"score": 1.5, "label": "LABEL_0"}], [{"score": -2.0, "label": "LABEL_0"}]]);
        assert_eq!(
            tei.scores(&answer, 2).unwrap(),
            vec![Served::Logit(1.5), Served::Logit(-2.0)]
        );
        assert!(tei
            .scores(&answer, 3)
            .unwrap_err()
            .contains("2 results for 3"));

        // Sorted by score: the label decides, not the position.
        let two = json!([[{"score": 2.0, "label": "wrong"}, {"score": 0.0, "label": "right"}]]);
        assert!(tei.scores(&two, 1).unwrap_err().contains("--label"));
        let tei = Tei {
            api: TeiApi::Predict {
                label: Some("right".into()),
            },
        };
        let Served::Probability(p) = tei.scores(&two, 1).unwrap()[0] else {
            panic!("a probability")
        };
        assert!((p - 1.0 / (1.0 + 2f64.exp())).abs() < 1e-12);
    }

    #[test]
    fn rerank_results_come_sorted_and_are_put_back_in_order() {
        let tei = Tei {
            api: TeiApi::Rerank,
        };
        assert_eq!(tei.request("q", &["a", "b"])["texts"], json!(["a", "b"]));
        let answer = json!([{"index": 1, "score": 3.0}, {"index": 0, "score": -1.0}]);
        assert_eq!(
            tei.scores(&answer, 2).unwrap(),
            vec![Served::Logit(-1.0), Served::Logit(3.0)]
        );
    }
}
