//! The JSONL records shared by every stage (docs/records.md): problems, flat samples, answers.
//!
//! Records keep every field they do not know, in order, so a stage never drops what an earlier
//! stage or another tool wrote.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{Error, Result};

mod problem;
mod sample;
mod stream;

/// A string or a number as text (a string verbatim, a number as JSON writes it); anything else
/// has none. What an answer, a gold or a label given either way reads as.
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub use problem::{read_problems, Problem, ProblemLayout, ProblemLayoutBesideSamples};

pub use sample::{
    parse_sample_line, GenerationCost, Rankable, Sample, SampleRecord, SampleVerdict, Verbatim,
    EARLY_STOP, SCORE_KIND, SCORE_TOKENS,
};
pub use stream::{
    duplicate_error, map_samples, read_all, read_samples, read_verdicts, ReadOptions, ReadStats,
    VerdictSet,
};

/// The answer a ranking strategy picked for one problem.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Answer {
    pub problem_id: String,
    pub answer: Option<String>,
    pub strategy: String,
    /// Votes, score mass and the chosen sample, depending on the strategy.
    pub support: Value,
    /// Whether the chosen answer is correct, when the samples were labeled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correct: Option<bool>,
}

/// Where a record came from, for error messages.
struct Origin<'a> {
    path: &'a Path,
    line: usize,
}

impl Origin<'_> {
    fn error(&self, field: &str, message: impl Into<String>) -> Error {
        Error::input(self.path, self.line, Some(field), message)
    }

    fn take_string(&self, object: &mut Map<String, Value>, field: &str) -> Result<Option<String>> {
        self.string_value(object.shift_remove(field), field)
    }

    fn string_value(&self, value: Option<Value>, field: &str) -> Result<Option<String>> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.error(
                field,
                format!("expected a string, found {}", json_kind(&other)),
            )),
        }
    }

    fn require_string(&self, object: &mut Map<String, Value>, field: &str) -> Result<String> {
        self.take_string(object, field)?
            .ok_or_else(|| self.error(field, "missing (required string)"))
    }

    /// An identifier: a string, or an integer written as its decimal form.
    fn take_id(&self, object: &mut Map<String, Value>, field: &str) -> Result<Option<String>> {
        self.id_value(object.shift_remove(field), field)
    }

    fn id_value(&self, value: Option<Value>, field: &str) -> Result<Option<String>> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(Some(n.to_string())),
            Some(other) => Err(self.error(
                field,
                format!(
                    "expected a string or integer id, found {}",
                    json_kind(&other)
                ),
            )),
        }
    }

    /// A gold answer: strings are kept, numbers are written in their JSON form.
    fn take_answer(&self, object: &mut Map<String, Value>, field: &str) -> Result<Option<String>> {
        match object.shift_remove(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(self.error(
                field,
                format!("expected a string or number, found {}", json_kind(&other)),
            )),
        }
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Samples grouped by problem, problems in first-appearance order, samples by `sample_idx`.
pub fn group_by_problem<T: Rankable>(samples: &[T]) -> Vec<(&str, Vec<&T>)> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut groups: Vec<(&str, Vec<&T>)> = Vec::new();
    for sample in samples {
        let slot = *index.entry(sample.problem_id()).or_insert_with(|| {
            groups.push((sample.problem_id(), Vec::new()));
            groups.len() - 1
        });
        groups[slot].1.push(sample);
    }
    for (_, group) in &mut groups {
        group.sort_by_key(|s| s.sample_idx());
    }
    groups
}
