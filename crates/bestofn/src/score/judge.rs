//! An LLM judge served by an OpenAI-compatible server (vLLM, llama.cpp's server, ...): the model
//! is asked whether a solution is correct, and P(correct) = p(Yes) / (p(Yes) + p(No)) is read
//! from the top log-probabilities of the first token of its answer (GenRM's direct verifier;
//! the variants "Yes", " Yes", "yes" are summed, and so are those of "No"). One chat request
//! per solution, `max_tokens` 1: the first token's distribution is the model's own, whatever the
//! sampling settings, so one read per solution is the judge's verdict.

use serde_json::{json, Value};

use super::log::fingerprint;
use super::remote::{by_index, Protocol, Served};
use super::served::ServedFlags;
use super::spec::{check_template, fill_template, VerifierSpec};
use crate::error::Error;

/// The judge prompt when none is given: the question, the proposed solution, and a question
/// answered with one word.
pub const DEFAULT_JUDGE_TEMPLATE: &str = "You are grading a solution to a math problem.\n\n\
Problem:\n{question}\n\n\
Proposed solution:\n{solution}\n\n\
Is the proposed solution correct, including its final answer? Answer with one word, Yes or No.";

/// Log-probabilities asked for: the most vLLM serves unless started with more (`--max-logprobs`).
const TOP_LOGPROBS: u32 = 20;

#[derive(Debug, Clone)]
pub struct Judge {
    pub model: String,
    /// The user message, with {question} and {solution} filled in.
    pub template: String,
}

impl Judge {
    /// The served model and the judge prompt: `--judge-template`'s file, else the default.
    pub fn configure(flags: &ServedFlags, _verifier: Option<&VerifierSpec>) -> Result<Self, Error> {
        flags.endpoint_of("judge", &[])?;
        let template = match &flags.judge_template {
            Some(path) => std::fs::read_to_string(path).map_err(|e| {
                Error::Settings(format!(
                    "{} {}: {e}",
                    flags.flag("judge-template"),
                    path.display()
                ))
            })?,
            None => DEFAULT_JUDGE_TEMPLATE.to_owned(),
        };
        check_template(&template)
            .map_err(|why| Error::Settings(format!("{} {why}", flags.flag("judge-template"))))?;
        Ok(Judge {
            model: flags.model()?,
            template,
        })
    }
}

impl Protocol for Judge {
    fn id(&self) -> String {
        format!(
            "judge /v1/chat/completions {} template {}",
            self.model,
            fingerprint(&self.template, "")
        )
    }

    fn path(&self) -> &str {
        "v1/chat/completions"
    }

    /// A chat request holds one conversation.
    fn most_per_request(&self) -> Option<usize> {
        Some(1)
    }

    fn request(&self, question: &str, solutions: &[&str]) -> Value {
        let solution = solutions.first().copied().unwrap_or_default();
        json!({
            "model": self.model,
            "messages": [{"role": "user", "content": fill_template(&self.template, question, solution)}],
            "max_tokens": 1,
            "temperature": 0,
            "logprobs": true,
            "top_logprobs": TOP_LOGPROBS,
        })
    }

    fn scores(&self, answer: &Value, count: usize) -> Result<Vec<Served>, String> {
        let choices = answer
            .get("choices")
            .and_then(Value::as_array)
            .ok_or("has no \"choices\" list")?;
        by_index(choices, count, "index")?
            .into_iter()
            .map(|choice| {
                let first = choice
                    .pointer("/logprobs/content/0/top_logprobs")
                    .and_then(Value::as_array)
                    .ok_or("has a choice without logprobs.content[0].top_logprobs (is logprobs supported?)")?;
                yes_share(first).map(Served::Probability)
            })
            .collect()
    }
}

/// p(Yes) / (p(Yes) + p(No)) over the top log-probabilities of one token, every spelling of each
/// word summed; an error when neither word is among them.
fn yes_share(top: &[Value]) -> Result<f64, String> {
    let (mut yes, mut no) = (0.0, 0.0);
    for entry in top {
        let (Some(token), Some(logprob)) = (
            entry.get("token").and_then(Value::as_str),
            entry.get("logprob").and_then(Value::as_f64),
        ) else {
            return Err(format!(
                "has a top log-probability without token and logprob: {entry}"
            ));
        };
        match token.trim().to_ascii_lowercase().as_str() {
            "yes" => yes += logprob.exp(),
            "no" => no += logprob.exp(),
            _ => {}
        }
    }
    if yes + no > 0.0 {
        Ok(yes / (yes + no))
    } else {
        Err(format!(
            "has neither Yes nor No among the first token's {} most likely: the judge did not \
             answer as asked (see --judge-template)",
            top.len()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_is_the_yes_share_of_the_first_token() {
        let top = |pairs: &[(&str, f64)]| -> Vec<Value> {
            pairs
                .iter()
                .map(|(t, l)| json!({"token": t, "logprob": l}))
                .collect()
        };
        let share = yes_share(&top(&[
            ("Yes", -0.5),
            (" yes", -2.0),
            ("No", -1.0),
            ("Maybe", -0.1),
        ]));
        let (y, n) = ((-0.5f64).exp() + (-2.0f64).exp(), (-1.0f64).exp());
        assert!((share.unwrap() - y / (y + n)).abs() < 1e-12);
        assert_eq!(yes_share(&top(&[("Yes", -0.1)])).unwrap(), 1.0);
        assert_eq!(yes_share(&top(&[(" NO", -0.1)])).unwrap(), 0.0);
        assert!(yes_share(&top(&[("Maybe", -0.1)]))
            .unwrap_err()
            .contains("neither Yes nor No"));
        assert!(yes_share(&[json!({"token": "Yes"})]).is_err());
    }

    #[test]
    fn answers_are_read_by_choice_index() {
        let judge = Judge {
            model: "m".into(),
            template: DEFAULT_JUDGE_TEMPLATE.into(),
        };
        let answer = json!({"choices": [{"index": 0, "logprobs": {"content": [{"token": "Yes",
            "logprob": -0.1, "top_logprobs": [{"token": "Yes", "logprob": -0.1},
            {"token": "No", "logprob": -2.4}]}]}}]});
        let scores = judge.scores(&answer, 1).unwrap();
        let expected = (-0.1f64).exp() / ((-0.1f64).exp() + (-2.4f64).exp());
        assert!((scores[0].probability() - expected).abs() < 1e-12);
        assert!(judge.scores(&json!({"choices": []}), 1).is_err());
        let request = judge.request("What is 6 * 7?", &["42"]);
        assert_eq!(request["max_tokens"], 1);
        assert!(request["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("What is 6 * 7?"));
    }
}
