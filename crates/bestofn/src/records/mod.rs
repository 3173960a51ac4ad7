//! The JSONL records shared by every stage (docs/records.md): problems, flat samples, answers.
//!
//! Records keep every field they do not know, in order, so a stage never drops what an earlier
//! stage or another tool wrote.

use std::collections::HashMap;
use std::path::Path;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::grade::{self, AnswerStyle};
use crate::io::{read_objects, JsonLine};

mod sample;
mod stream;

pub use sample::{
    parse_sample_line, GenerationCost, Rankable, Sample, SampleRecord, SampleVerdict, Verbatim,
    EARLY_STOP, SCORE_KIND, SCORE_TOKENS,
};
pub use stream::{
    duplicate_error, map_samples, read_all, read_samples, read_verdicts, ReadOptions, ReadStats,
    VerdictSet,
};

/// A problem with its gold answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub id: String,
    pub question: String,
    /// Gold final answer ("18", "\\frac{1}{2}"), when known.
    pub answer: Option<String>,
    /// Reference solution text, when known.
    pub solution: Option<String>,
    /// How answers to this problem are extracted from free text.
    pub style: AnswerStyle,
    pub extra: Map<String, Value>,
}

#[cfg(test)]
impl Problem {
    /// A GSM8K-style problem `id` with the question "q" and no gold answer, for unit tests.
    pub(crate) fn bare(id: &str) -> Self {
        Problem {
            id: id.into(),
            question: "q".into(),
            answer: None,
            solution: None,
            style: AnswerStyle::Gsm8k,
            extra: Map::new(),
        }
    }
}

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

impl Problem {
    /// Parses one problem record in any of the accepted layouts:
    /// - generic `{"id", "question", "answer", "solution", "style"?}`;
    /// - GSM8K native `{"question", "answer": "...#### 18"}`: gold after `####`, id = record index;
    /// - MATH native `{"problem", "solution", "answer"?}`: gold from the last `\boxed{}` when absent.
    fn from_object(mut object: Map<String, Value>, index: usize, origin: &Origin) -> Result<Self> {
        let style_field = origin.take_string(&mut object, "style")?;
        let explicit_style = style_field
            .as_deref()
            .map(|s| {
                s.parse::<AnswerStyle>()
                    .map_err(|e| origin.error("style", e))
            })
            .transpose()?;
        let mut id = origin.take_id(&mut object, "id")?;

        let (question, answer, solution, native_style) =
            if object.contains_key("problem") && !object.contains_key("question") {
                // MATH native.
                let question = origin.require_string(&mut object, "problem")?;
                let solution = origin.take_string(&mut object, "solution")?;
                let mut answer = origin.take_answer(&mut object, "answer")?;
                if answer.is_none() {
                    answer = solution
                        .as_deref()
                        .and_then(grade::last_boxed)
                        .map(str::to_owned);
                }
                if id.is_none() {
                    id = origin.take_id(&mut object, "unique_id")?;
                }
                (question, answer, solution, Some(AnswerStyle::Math))
            } else {
                let question = origin.require_string(&mut object, "question")?;
                let answer_field = origin.take_answer(&mut object, "answer")?;
                let solution = origin.take_string(&mut object, "solution")?;
                match answer_field {
                    // GSM8K native: the reference solution with its final `#### N` line.
                    Some(full) if solution.is_none() && full.contains("####") => {
                        let gold = grade::gsm8k_gold(&full).ok_or_else(|| {
                            origin.error("answer", "has `####` but no final answer after it")
                        })?;
                        (question, Some(gold), Some(full), Some(AnswerStyle::Gsm8k))
                    }
                    answer => (question, answer, solution, None),
                }
            };
        // An empty gold answer is no gold answer: grading against it would mark everything wrong.
        let answer = answer.filter(|a| !a.trim().is_empty());
        let style = explicit_style
            .or(native_style)
            .unwrap_or_else(|| AnswerStyle::infer(answer.as_deref(), solution.as_deref()));
        Ok(Problem {
            id: id.unwrap_or_else(|| index.to_string()),
            question,
            answer,
            solution,
            style,
            extra: object,
        })
    }
}

impl Serialize for Problem {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(5 + self.extra.len()))?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("question", &self.question)?;
        map.serialize_entry("answer", &self.answer)?;
        map.serialize_entry("solution", &self.solution)?;
        map.serialize_entry("style", &self.style)?;
        for (key, value) in &self.extra {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// Reads a problems file; ids must be unique.
pub fn read_problems(path: &Path) -> Result<Vec<Problem>> {
    let lines = read_objects(path)?;
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(lines.len());
    let mut problems = Vec::with_capacity(lines.len());
    for (index, JsonLine { line, object }) in lines.into_iter().enumerate() {
        let origin = Origin { path, line };
        let problem = Problem::from_object(object, index, &origin)?;
        if let Some(first) = seen.insert(problem.id.clone(), line) {
            return Err(origin.error(
                "id",
                format!(
                    "duplicate problem id {:?} (first on line {first})",
                    problem.id
                ),
            ));
        }
        problems.push(problem);
    }
    Ok(problems)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_gold_answer_is_no_gold_answer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.jsonl");
        std::fs::write(
            &path,
            "{\"id\": \"a\", \"question\": \"q\", \"answer\": \" \"}\n{\"id\": \"b\", \"question\": \"q\", \"answer\": \"3\"}\n",
        )
        .unwrap();
        let problems = read_problems(&path).unwrap();
        assert_eq!(problems[0].answer, None);
        assert_eq!(problems[1].answer.as_deref(), Some("3"));
    }
}
