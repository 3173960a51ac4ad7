//! An LLM judge served by an OpenAI-compatible server (vLLM, llama.cpp's server, ...): the model
//! is asked whether a solution is correct, and P(correct) = p(Yes) / (p(Yes) + p(No)) is read
//! from the top log-probabilities of the first token of its answer (GenRM's direct verifier;
//! the variants "Yes", " Yes", "yes" are summed, and so are those of "No"). One chat request
//! per solution, `max_tokens` 1: the first token's distribution is the model's own, whatever the
//! sampling settings, so one read per solution is the judge's verdict.
//!
//! With `--verifications K` (GenRM-CoT), the judge first writes a rationale: one request asks
//! for K sampled completions (`n`, seeded by the pair), each ending in a verdict, and the score
//! is the mean over them of the Yes share at the verdict (the last token that is Yes or No).

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

/// The judge prompt with `--verifications`: a rationale, then a verdict on the last line.
pub const DEFAULT_RATIONALE_TEMPLATE: &str = "You are grading a solution to a math problem.\n\n\
Problem:\n{question}\n\n\
Proposed solution:\n{solution}\n\n\
Check the solution step by step. Then, on the last line, write \"Verdict: Yes\" if the solution \
and its final answer are correct, or \"Verdict: No\" if not.";

/// Log-probabilities asked for: the most vLLM serves unless started with more (`--max-logprobs`).
const TOP_LOGPROBS: u32 = 20;

#[derive(Debug, Clone)]
pub struct Judge {
    pub model: String,
    /// The user message, with {question} and {solution} filled in.
    pub template: String,
    /// Sampled verifications with a rationale, or one direct answer.
    pub verifications: Option<Verifications>,
}

/// `--verifications K` and how each rationale is sampled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verifications {
    pub count: u32,
    pub max_tokens: u32,
    pub temperature: f64,
}

impl Judge {
    /// The served model and the judge prompt: `--judge-template`'s file, else the default.
    pub fn configure(flags: &ServedFlags, _verifier: Option<&VerifierSpec>) -> Result<Self, Error> {
        flags.endpoint_of("judge", &[])?;
        let verifications = Verifications::configure(flags)?;
        Ok(Judge {
            model: flags.model()?,
            template: judge_prompt(flags, verifications.is_some())?,
            verifications,
        })
    }
}

/// The judge's prompt: `--judge-template`'s file, else the default (with a rationale or not).
pub(crate) fn judge_prompt(flags: &ServedFlags, rationale: bool) -> Result<String, Error> {
    let template = match &flags.judge_template {
        Some(path) => std::fs::read_to_string(path).map_err(|e| {
            Error::Settings(format!(
                "{} {}: {e}",
                flags.flag("judge-template"),
                path.display()
            ))
        })?,
        None if rationale => DEFAULT_RATIONALE_TEMPLATE.to_owned(),
        None => DEFAULT_JUDGE_TEMPLATE.to_owned(),
    };
    check_template(&template)
        .map_err(|why| Error::Settings(format!("{} {why}", flags.flag("judge-template"))))?;
    Ok(template)
}

impl Verifications {
    /// `--verifications K` with its rationale settings; the settings alone are refused.
    fn configure(flags: &ServedFlags) -> Result<Option<Self>, Error> {
        let settings = |message: String| Err(Error::Settings(message));
        let Some(count) = flags.verifications else {
            if flags.judge_max_tokens.is_some() || flags.judge_temperature.is_some() {
                return settings(format!(
                    "{} and {} apply only with {}",
                    flags.flag("judge-max-tokens"),
                    flags.flag("judge-temperature"),
                    flags.flag("verifications")
                ));
            }
            return Ok(None);
        };
        if !(1..=MAX_VERIFICATIONS).contains(&count) {
            return settings(format!(
                "{} {count} must be between 1 and {MAX_VERIFICATIONS}",
                flags.flag("verifications")
            ));
        }
        let max_tokens = flags.judge_max_tokens.unwrap_or(512);
        let temperature = flags.judge_temperature.unwrap_or(0.7);
        if max_tokens == 0 || !(temperature >= 0.0 && temperature.is_finite()) {
            return settings(format!(
                "{} must be at least 1 and {} a number >= 0",
                flags.flag("judge-max-tokens"),
                flags.flag("judge-temperature")
            ));
        }
        Ok(Some(Verifications {
            count,
            max_tokens,
            temperature,
        }))
    }
}

/// Most verifications of one solution (choices of one request).
const MAX_VERIFICATIONS: u32 = 64;

impl Protocol for Judge {
    fn id(&self) -> String {
        let id = format!(
            "judge /v1/chat/completions {} template {}",
            self.model,
            fingerprint(&self.template, "")
        );
        match &self.verifications {
            Some(v) => format!(
                "{id} verifications {} max_tokens {} temperature {}",
                v.count, v.max_tokens, v.temperature
            ),
            None => id,
        }
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
        let mut request = json!({
            "model": self.model,
            "messages": [{"role": "user", "content": fill_template(&self.template, question, solution)}],
            "max_tokens": 1,
            "temperature": 0,
            "logprobs": true,
            "top_logprobs": TOP_LOGPROBS,
        });
        if let Some(v) = &self.verifications {
            request["n"] = json!(v.count);
            request["max_tokens"] = json!(v.max_tokens);
            request["temperature"] = json!(v.temperature);
            // Seeded by the pair: the same verifications on every run, choice i with seed + i.
            request["seed"] = json!(crate::stable_hash(&fingerprint(question, solution)) >> 2);
        }
        request
    }

    fn scores(&self, answer: &Value, count: usize) -> Result<Vec<Served>, String> {
        let choices = answer
            .get("choices")
            .and_then(Value::as_array)
            .ok_or("has no \"choices\" list")?;
        if let Some(v) = &self.verifications {
            return Ok(vec![Served::Probability(verified_share(choices, v.count)?)]);
        }
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

/// The mean Yes share over the verifications that reached a verdict: in each choice, at the last
/// token that is Yes or No.
fn verified_share(choices: &[Value], asked: u32) -> Result<f64, String> {
    let mut shares = Vec::with_capacity(choices.len());
    for choice in choices {
        let content = choice
            .pointer("/logprobs/content")
            .and_then(Value::as_array)
            .ok_or("has a choice without logprobs.content (is logprobs supported?)")?;
        let verdict = content.iter().rev().find(|token| {
            let word = token
                .get("token")
                .and_then(Value::as_str)
                .unwrap_or_default();
            matches!(word.trim().to_ascii_lowercase().as_str(), "yes" | "no")
        });
        if let Some(verdict) = verdict {
            let top = verdict
                .get("top_logprobs")
                .and_then(Value::as_array)
                .ok_or("has a verdict token without top_logprobs")?;
            shares.push(yes_share(top)?);
        }
    }
    if shares.is_empty() {
        return Err(format!(
            "none of the {} verifications ({asked} asked for) ended in Yes or No: the judge did \
             not answer as asked (see --judge-template, --judge-max-tokens)",
            choices.len()
        ));
    }
    Ok(shares.iter().sum::<f64>() / shares.len() as f64)
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
            verifications: None,
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

    #[test]
    fn verifications_average_the_yes_share_at_each_verdict() {
        let judge = Judge {
            model: "m".into(),
            template: DEFAULT_RATIONALE_TEMPLATE.into(),
            verifications: Some(Verifications {
                count: 3,
                max_tokens: 64,
                temperature: 0.7,
            }),
        };
        let request = judge.request("q", &["s"]);
        assert_eq!(
            (request["n"].clone(), request["max_tokens"].clone()),
            (json!(3), json!(64))
        );
        assert_eq!(request["seed"], judge.request("q", &["s"])["seed"]);
        assert_ne!(request["seed"], judge.request("q", &["t"])["seed"]);
        let token = |word: &str, yes: f64, no: f64| {
            json!({"token": word, "logprob": -0.1, "top_logprobs": [
                {"token": " Yes", "logprob": yes}, {"token": " No", "logprob": no}]})
        };
        let choice = |tokens: Vec<Value>| json!({"logprobs": {"content": tokens}});
        let answer = json!({"choices": [
            // An early "No" in the rationale; the verdict is the last one.
            choice(vec![token("No", -0.1, -3.0), token(":", -1.0, -1.0), token(" Yes", (0.75f64).ln(), (0.25f64).ln())]),
            choice(vec![token(" No", (0.25f64).ln(), (0.75f64).ln())]),
            // Cut off before a verdict: left out.
            choice(vec![token("Because", -1.0, -1.0)]),
        ]});
        let scores = judge.scores(&answer, 1).unwrap();
        assert!((scores[0].probability() - 0.5).abs() < 1e-12);
        let none = json!({"choices": [choice(vec![token("Hmm", -1.0, -1.0)])]});
        assert!(judge
            .scores(&none, 1)
            .unwrap_err()
            .contains("none of the 1 verifications"));
    }

    #[test]
    fn verification_settings_are_checked() {
        let flags = |k: Option<u32>, tokens: Option<u32>| ServedFlags {
            model: Some("m".into()),
            verifications: k,
            judge_max_tokens: tokens,
            ..ServedFlags::default()
        };
        assert!(Judge::configure(&flags(None, Some(5)), None).is_err());
        assert!(Judge::configure(&flags(Some(0), None), None).is_err());
        let judge = Judge::configure(&flags(Some(4), None), None).unwrap();
        assert_eq!(judge.template, DEFAULT_RATIONALE_TEMPLATE);
        assert_eq!(judge.verifications.unwrap().max_tokens, 512);
    }
}
