//! SGLang's `/classify` for reward models served with `--is-embedding`: the texts (the pair
//! rendered by a template, e.g. a chat template written out) in, and per text an `embedding`
//! whose first value is the reward, read as a logit.

use serde_json::{json, Value};

use super::log::fingerprint;
use super::remote::{by_index, number_at, Protocol, Served};
use super::served::{EndpointArg, ServedFlags};
use super::spec::{fill_template, VerifierSpec};
use crate::error::Error;

#[derive(Debug, Clone)]
pub struct Sglang {
    pub model: String,
    pub template: String,
}

impl Sglang {
    /// `/classify` of the served model, with the template of the flags or the verifier directory.
    pub fn configure(flags: &ServedFlags, verifier: Option<&VerifierSpec>) -> Result<Self, Error> {
        flags.endpoint_of("sglang", &[EndpointArg::Classify])?;
        Ok(Sglang {
            model: flags.model()?,
            template: flags.template(verifier)?,
        })
    }
}

impl Protocol for Sglang {
    fn id(&self) -> String {
        format!(
            "sglang /classify {} template {}",
            self.model,
            fingerprint(&self.template, "")
        )
    }

    fn path(&self) -> &str {
        "classify"
    }

    fn request(&self, question: &str, solutions: &[&str]) -> Value {
        json!({
            "model": self.model,
            "text": solutions
                .iter()
                .map(|solution| fill_template(&self.template, question, solution))
                .collect::<Vec<_>>(),
        })
    }

    fn scores(&self, answer: &Value, count: usize) -> Result<Vec<Served>, String> {
        let items = answer.as_array().ok_or("is not a list")?;
        let ordered = if items.iter().all(|item| item.get("index").is_some()) {
            by_index(items, count, "index")?
        } else if items.len() == count {
            items.iter().collect()
        } else {
            return Err(format!("has {} results for {count} texts", items.len()));
        };
        ordered
            .into_iter()
            .map(|item| number_at(item, "/embedding/0").map(Served::Logit))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // An answer in the shape SGLang documents (it cannot be installed here).
    #[test]
    fn classify_reads_the_first_embedding_value() {
        let sglang = Sglang {
            model: "rm".into(),
            template: "{question} {solution}".into(),
        };
        assert_eq!(
            sglang.request("q", &["a", "b"]),
            json!({"model": "rm", "text": ["q a", "q b"]})
        );
        let answer = json!([
            {"embedding": [0.5], "meta_info": {"id": "x", "prompt_tokens": 3}},
            {"embedding": [-1.5], "meta_info": {"id": "y", "prompt_tokens": 3}}]);
        assert_eq!(
            sglang.scores(&answer, 2).unwrap(),
            vec![Served::Logit(0.5), Served::Logit(-1.5)]
        );
        assert!(sglang.scores(&json!([{"embedding": []}]), 1).is_err());
    }
}
