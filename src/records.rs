//! The JSONL records shared by every stage (see DESIGN.md): problems, flat samples, answers.
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

/// One candidate solution: the unit every stage reads and writes.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub problem_id: String,
    pub sample_idx: u32,
    pub text: String,
    /// Final answer extracted by the labeler (normalized form), `None` when none was found.
    pub extracted: Option<String>,
    pub correct: Option<bool>,
    /// Verifier probability of being correct (or an imported reward score).
    pub score: Option<f32>,
    /// Every other field (`generator`, `finish_reason`, `num_tokens`, ...), in input order.
    pub extra: Map<String, Value>,
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

/// The fields of a sample record that have a meaning, as parsed JSON, and everything else.
#[derive(Debug, Default)]
struct SampleFields {
    problem_id: Option<Value>,
    sample_idx: Option<Value>,
    text: Option<Value>,
    extracted: Option<Value>,
    correct: Option<Value>,
    score: Option<Value>,
    extra: Map<String, Value>,
}

impl SampleFields {
    fn slot(&mut self, key: &str) -> Option<&mut Option<Value>> {
        Some(match key {
            "problem_id" => &mut self.problem_id,
            "sample_idx" => &mut self.sample_idx,
            "text" => &mut self.text,
            "extracted" => &mut self.extracted,
            "correct" => &mut self.correct,
            "score" => &mut self.score,
            _ => return None,
        })
    }

    fn from_object(object: Map<String, Value>) -> Self {
        let mut fields = SampleFields::default();
        for (key, value) in object {
            match fields.slot(&key) {
                Some(slot) => *slot = Some(value),
                None => {
                    fields.extra.insert(key, value);
                }
            }
        }
        fields
    }
}

/// Parses a sample line straight into its fields, without building a map of the known ones.
impl<'de> serde::Deserialize<'de> for SampleFields {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;
        impl<'de> serde::de::Visitor<'de> for FieldsVisitor {
            type Value = SampleFields;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<SampleFields, A::Error> {
                let mut fields = SampleFields::default();
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    let key = key.0;
                    match fields.slot(&key) {
                        Some(slot) => *slot = Some(map.next_value()?),
                        None => {
                            let value = map.next_value()?;
                            fields.extra.insert(key.into_owned(), value);
                        }
                    }
                }
                Ok(fields)
            }
        }
        deserializer.deserialize_map(FieldsVisitor)
    }
}

/// An object key, borrowed from the input when it has no escapes.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> serde::de::Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

impl Sample {
    fn from_object(object: Map<String, Value>, origin: &Origin) -> Result<Self> {
        Self::from_fields(SampleFields::from_object(object), origin)
    }

    fn from_fields(fields: SampleFields, origin: &Origin) -> Result<Self> {
        let problem_id = origin
            .id_value(fields.problem_id, "problem_id")?
            .ok_or_else(|| origin.error("problem_id", "missing (required string)"))?;
        let sample_idx = match fields.sample_idx {
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| origin.error("sample_idx", "expected a non-negative integer"))?,
            None | Some(Value::Null) => {
                return Err(origin.error("sample_idx", "missing (required integer)"))
            }
            Some(other) => {
                return Err(origin.error(
                    "sample_idx",
                    format!(
                        "expected a non-negative integer, found {}",
                        json_kind(&other)
                    ),
                ))
            }
        };
        let text = origin
            .string_value(fields.text, "text")?
            .ok_or_else(|| origin.error("text", "missing (required string)"))?;
        let extracted = origin.string_value(fields.extracted, "extracted")?;
        let correct = match fields.correct {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(b),
            Some(other) => {
                return Err(origin.error(
                    "correct",
                    format!("expected true, false or null, found {}", json_kind(&other)),
                ))
            }
        };
        let score = match fields.score {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => {
                let value = n.as_f64().unwrap_or(f64::NAN) as f32;
                if !value.is_finite() {
                    return Err(origin.error("score", "must be a finite number"));
                }
                Some(value)
            }
            Some(other) => {
                return Err(origin.error(
                    "score",
                    format!("expected a number or null, found {}", json_kind(&other)),
                ))
            }
        };
        Ok(Sample {
            problem_id,
            sample_idx,
            text,
            extracted,
            correct,
            score,
            extra: fields.extra,
        })
    }
}

impl Serialize for Sample {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(6 + self.extra.len()))?;
        map.serialize_entry("problem_id", &self.problem_id)?;
        map.serialize_entry("sample_idx", &self.sample_idx)?;
        map.serialize_entry("text", &self.text)?;
        for (key, value) in &self.extra {
            map.serialize_entry(key, value)?;
        }
        map.serialize_entry("extracted", &self.extracted)?;
        map.serialize_entry("correct", &self.correct)?;
        map.serialize_entry("score", &self.score)?;
        map.end()
    }
}

/// Reads a problems file; ids must be unique.
pub fn read_problems(path: &Path) -> Result<Vec<Problem>> {
    let (lines, _) = read_objects(path, false)?;
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

/// Reads a whole samples file (with texts), checking that keys are unique.
pub fn read_samples(path: &Path) -> Result<Vec<Sample>> {
    let mut samples = Vec::new();
    let mut seen: HashMap<(String, u32), usize> = HashMap::new();
    crate::io::for_each_line(path, |line, text| {
        let sample = parse_sample_line(path, line, text)?;
        if let Some(&first) = seen.get(&(sample.problem_id.clone(), sample.sample_idx)) {
            return Err(duplicate_error(
                path,
                line,
                &sample.problem_id,
                sample.sample_idx,
                first,
            ));
        }
        seen.insert((sample.problem_id.clone(), sample.sample_idx), line);
        samples.push(sample);
        Ok(())
    })?;
    Ok(samples)
}

/// Parses one line of a samples file (`line` is its 1-based number, for errors).
pub fn parse_sample_line(path: &Path, line: usize, text: &str) -> Result<Sample> {
    let origin = Origin { path, line };
    match serde_json::from_str::<SampleFields>(text) {
        Ok(fields) => Sample::from_fields(fields, &origin),
        // Not an object, or not JSON: let the generic parser say which.
        Err(_) => crate::io::parse_object(path, line, text)
            .and_then(|object| Sample::from_object(object, &origin)),
    }
}

/// The error for a second sample with the key of an earlier one.
pub fn duplicate_error(
    path: &Path,
    line: usize,
    problem_id: &str,
    sample_idx: u32,
    first_line: usize,
) -> Error {
    Error::input(
        path,
        line,
        Some("sample_idx"),
        format!(
            "duplicate sample (problem_id {problem_id:?}, sample_idx {sample_idx}); first on line {first_line}"
        ),
    )
}

/// Fails on the first repeated `(problem_id, sample_idx)`, or with `skip_invalid` drops every
/// repetition after the first and returns how many were dropped.
fn drop_duplicates<T: Verdict>(
    items: &mut Vec<T>,
    lines: &mut Vec<usize>,
    path: &Path,
    skip_invalid: bool,
) -> Result<usize> {
    // Sorting positions by key puts repetitions side by side, without hashing every key.
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_unstable_by(|&a, &b| {
        (items[a].problem_id(), items[a].sample_idx(), lines[a]).cmp(&(
            items[b].problem_id(),
            items[b].sample_idx(),
            lines[b],
        ))
    });
    let mut duplicate = vec![false; items.len()];
    for pair in order.windows(2) {
        let (first, second) = (&items[pair[0]], &items[pair[1]]);
        if first.problem_id() == second.problem_id() && first.sample_idx() == second.sample_idx() {
            if !skip_invalid {
                return Err(duplicate_error(
                    path,
                    lines[pair[1]],
                    first.problem_id(),
                    first.sample_idx(),
                    lines[pair[0]],
                ));
            }
            duplicate[pair[1]] = true;
        }
    }
    let dropped = duplicate.iter().filter(|&&d| d).count();
    if dropped > 0 {
        let mut keep = duplicate.iter().map(|d| !d);
        items.retain(|_| keep.next().unwrap_or(true));
        let mut keep = duplicate.iter().map(|d| !d);
        lines.retain(|_| keep.next().unwrap_or(true));
    }
    Ok(dropped)
}

/// The fields of a sample that ranking and evaluation read.
pub trait Verdict {
    fn problem_id(&self) -> &str;
    fn sample_idx(&self) -> u32;
    fn extracted(&self) -> Option<&str>;
    fn correct(&self) -> Option<bool>;
    fn score(&self) -> Option<f32>;
}

/// Both sample types hold the verdict fields under the same names.
macro_rules! impl_verdict {
    ($($record:ty),*) => {$(
        impl Verdict for $record {
            fn problem_id(&self) -> &str {
                &self.problem_id
            }
            fn sample_idx(&self) -> u32 {
                self.sample_idx
            }
            fn extracted(&self) -> Option<&str> {
                self.extracted.as_deref()
            }
            fn correct(&self) -> Option<bool> {
                self.correct
            }
            fn score(&self) -> Option<f32> {
                self.score
            }
        }
    )*};
}

impl_verdict!(Sample, SampleVerdict);

/// A sample without its text and unknown fields: what `rank` and `eval` need, read fast.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct SampleVerdict {
    #[serde(deserialize_with = "string_or_integer")]
    pub problem_id: String,
    pub sample_idx: u32,
    #[serde(default)]
    pub extracted: Option<String>,
    #[serde(default)]
    pub correct: Option<bool>,
    #[serde(default)]
    pub score: Option<f32>,
}

fn string_or_integer<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<String, D::Error> {
    struct Id;
    impl serde::de::Visitor<'_> for Id {
        type Value = String;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a string or integer id")
        }
        fn visit_str<E>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
        fn visit_u64<E>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
    }
    deserializer.deserialize_any(Id)
}

/// Verdicts read from a samples file.
pub struct VerdictSet {
    pub verdicts: Vec<SampleVerdict>,
    pub skipped: usize,
}

/// Reads the verdict fields of a samples file, skipping texts and unknown fields.
///
/// `(problem_id, sample_idx)` must be unique. A line that fails the fast parse is parsed again in
/// full so that the error names the field.
pub fn read_verdicts(path: &Path, skip_invalid: bool) -> Result<VerdictSet> {
    let mut verdicts = Vec::new();
    let mut lines = Vec::new();
    let mut skipped = 0;
    crate::io::for_each_line(path, |line, text| {
        match serde_json::from_str::<SampleVerdict>(text) {
            Ok(verdict) => {
                verdicts.push(verdict);
                lines.push(line);
            }
            Err(_) if skip_invalid => skipped += 1,
            Err(fast_error) => {
                let object = crate::io::parse_object(path, line, text)?;
                Sample::from_object(object, &Origin { path, line })?;
                return Err(Error::input(path, line, None, fast_error.to_string()));
            }
        }
        Ok(())
    })?;
    skipped += drop_duplicates(&mut verdicts, &mut lines, path, skip_invalid)?;
    Ok(VerdictSet { verdicts, skipped })
}

/// Samples grouped by problem, problems in first-appearance order, samples by `sample_idx`.
pub fn group_by_problem<T: Verdict>(samples: &[T]) -> Vec<(&str, Vec<&T>)> {
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
