//! The sample record, and the one place a sample line is parsed.
//!
//! Every reader (label, score, rank, eval, the generation log, replay) goes through
//! [`SampleRecord::parse`]: ids are coerced by one rule (a string, or an integer written in
//! decimal), a key repeated inside one object is an error naming it, and every message names the
//! file, the line and the field.

use std::path::Path;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use super::{json_kind, Origin};
use crate::error::{Error, Result};
use crate::io::{parse_object, LineText};

/// The sample field that says what `score` is when it is no probability of being correct.
pub const SCORE_KIND: &str = "score_kind";

/// The sample field with the tokens its verifier or judge read and generated to score it.
pub const SCORE_TOKENS: &str = "score_tokens";

/// The sample field of a trace stopped mid-generation (`generate --online-confidence`): its
/// text is partial, so it is no sample to grade, score, rank or count, only a cost.
pub const EARLY_STOP: &str = "early_stop";

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
    /// A process reward model's probability that each step is right, in step order.
    pub step_scores: Option<Vec<f32>>,
    /// The verifier's probability before the calibration of its verifier.json.
    pub uncalibrated_score: Option<f32>,
    /// Every other field (`generator`, `finish_reason`, `num_tokens`, ...), in input order.
    pub extra: Map<String, Value>,
}

/// A sample without its text and unknown fields: what `rank` and `eval` need, read fast.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleVerdict {
    pub problem_id: String,
    pub sample_idx: u32,
    pub extracted: Option<String>,
    pub correct: Option<bool>,
    pub score: Option<f32>,
    pub step_scores: Option<Vec<f32>>,
    pub uncalibrated_score: Option<f32>,
    /// What `score` is when it is no probability of being correct (`score --backend confidence`).
    pub score_kind: Option<String>,
    /// What generating it cost, where recorded: tokens (`tokens.completion`, else `num_tokens`)
    /// and time (`wall_ms`).
    pub cost: GenerationCost,
    /// A trace stopped mid-generation ([`EARLY_STOP`]): a cost, never a vote.
    pub stopped_early: bool,
}

/// What generating a sample cost, where its record says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenerationCost {
    pub tokens: Option<u64>,
    pub wall_ms: Option<u64>,
    /// Tokens its verifier or judge read and generated (`score_tokens`).
    pub score_tokens: Option<u64>,
    /// Cut off at its token limit (`finish_reason: "length"`).
    pub truncated: bool,
}

impl GenerationCost {
    /// From a record's `tokens` (its `completion`), `num_tokens`, `wall_ms` and `score_tokens`.
    fn of(
        tokens: Option<&Value>,
        num_tokens: Option<&Value>,
        wall_ms: Option<&Value>,
        score_tokens: Option<&Value>,
        finish_reason: Option<&Value>,
    ) -> Self {
        let completion = tokens
            .and_then(|t| t.get("completion"))
            .and_then(Value::as_u64);
        GenerationCost {
            tokens: completion.or_else(|| num_tokens.and_then(Value::as_u64)),
            wall_ms: wall_ms.and_then(Value::as_u64),
            score_tokens: score_tokens.and_then(Value::as_u64),
            truncated: finish_reason.and_then(Value::as_str) == Some("length"),
        }
    }
}

/// A record type that can be read from a samples file.
pub trait SampleRecord: Sized + Send {
    /// Parses one line (`line` is its 1-based number, for errors).
    fn parse(path: &Path, line: usize, text: LineText<'_>) -> Result<Self>;
    fn problem_id(&self) -> &str;
    fn sample_idx(&self) -> u32;
    /// A trace stopped mid-generation, which readers leave out unless they ask for it.
    fn stopped_early(&self) -> bool;
}

impl Sample {
    /// Whether it was cut off at its token limit (`finish_reason: "length"`).
    pub fn truncated(&self) -> bool {
        self.extra.get("finish_reason").and_then(Value::as_str) == Some("length")
    }

    /// Whether generation stopped this trace before it finished ([`EARLY_STOP`]).
    pub fn stopped_early(&self) -> bool {
        self.extra.get(EARLY_STOP).is_some_and(|v| !v.is_null())
    }
}

impl SampleRecord for Sample {
    fn parse(path: &Path, line: usize, text: LineText<'_>) -> Result<Self> {
        let origin = Origin { path, line };
        let mut fields = parse_fields(path, line, text, true)?;
        let verdict = fields.verdict(&origin)?;
        let text = origin
            .string_value(fields.text, "text")?
            .ok_or_else(|| origin.error("text", "missing (required string)"))?;
        Ok(Sample {
            problem_id: verdict.problem_id,
            sample_idx: verdict.sample_idx,
            text,
            extracted: verdict.extracted,
            correct: verdict.correct,
            score: verdict.score,
            step_scores: verdict.step_scores,
            uncalibrated_score: verdict.uncalibrated_score,
            extra: {
                let mut extra = fields.extra;
                if let Some(kind) = verdict.score_kind {
                    extra.insert(SCORE_KIND.into(), kind.into());
                }
                extra
            },
        })
    }
    fn problem_id(&self) -> &str {
        &self.problem_id
    }
    fn sample_idx(&self) -> u32 {
        self.sample_idx
    }
    fn stopped_early(&self) -> bool {
        Sample::stopped_early(self)
    }
}

impl SampleRecord for SampleVerdict {
    fn parse(path: &Path, line: usize, text: LineText<'_>) -> Result<Self> {
        parse_fields(path, line, text, false)?.verdict(&Origin { path, line })
    }
    fn problem_id(&self) -> &str {
        &self.problem_id
    }
    fn sample_idx(&self) -> u32 {
        self.sample_idx
    }
    fn stopped_early(&self) -> bool {
        self.stopped_early
    }
}

/// A valid sample kept as the exact line it was read from (replay copies records verbatim).
#[derive(Debug, Clone, PartialEq)]
pub struct Verbatim {
    pub sample: Sample,
    pub line: String,
}

impl SampleRecord for Verbatim {
    fn parse(path: &Path, line: usize, text: LineText<'_>) -> Result<Self> {
        Ok(Verbatim {
            sample: Sample::parse(path, line, text)?,
            line: text.unwrap_or_default().to_owned(),
        })
    }
    fn problem_id(&self) -> &str {
        &self.sample.problem_id
    }
    fn sample_idx(&self) -> u32 {
        self.sample.sample_idx
    }
    fn stopped_early(&self) -> bool {
        self.sample.stopped_early()
    }
}

/// Parses one line of a samples file into a [`Sample`].
pub fn parse_sample_line(path: &Path, line: usize, text: LineText<'_>) -> Result<Sample> {
    Sample::parse(path, line, text)
}

fn parse_fields(path: &Path, line: usize, text: LineText<'_>, full: bool) -> Result<SampleFields> {
    let text = text.map_err(|e| e.into_error(path, line))?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let parsed = FieldsSeed { full }
        .deserialize(&mut deserializer)
        .and_then(|fields| deserializer.end().map(|()| fields));
    match parsed {
        Ok(fields) => Ok(fields),
        // Not an object, or not JSON: let the generic parser say which.
        Err(fast_error) => {
            parse_object(path, line, Ok(text))?;
            Err(Error::input(path, line, None, fast_error.to_string()))
        }
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
    step_scores: Option<Value>,
    uncalibrated_score: Option<Value>,
    score_kind: Option<Value>,
    /// `num_tokens`, `tokens.completion` and `wall_ms`, read in the fast mode only (a full read
    /// keeps them in `extra`, in place).
    cost: GenerationCost,
    /// `early_stop` present and not null, read in the fast mode only (as `cost`).
    stopped_early: bool,
    extra: Map<String, Value>,
    /// The first key that appeared twice in the object.
    repeated: Option<String>,
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
            "step_scores" => &mut self.step_scores,
            "uncalibrated_score" => &mut self.uncalibrated_score,
            SCORE_KIND => &mut self.score_kind,
            _ => return None,
        })
    }

    /// The fields every reader checks, by the one set of rules.
    fn verdict(&mut self, origin: &Origin) -> Result<SampleVerdict> {
        if let Some(key) = &self.repeated {
            return Err(origin.error(key, "appears twice in the object; keep one"));
        }
        let problem_id = origin
            .id_value(self.problem_id.take(), "problem_id")?
            .ok_or_else(|| origin.error("problem_id", "missing (required string)"))?;
        let sample_idx = match &self.sample_idx {
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
                        json_kind(other)
                    ),
                ))
            }
        };
        Ok(SampleVerdict {
            problem_id,
            sample_idx,
            extracted: origin.string_value(self.extracted.take(), "extracted")?,
            correct: correct_value(origin, self.correct.as_ref())?,
            score: score_value(origin, self.score.as_ref())?,
            step_scores: step_scores_value(origin, self.step_scores.as_ref())?,
            uncalibrated_score: number_value(
                origin,
                "uncalibrated_score",
                self.uncalibrated_score.as_ref(),
            )?,
            score_kind: origin.string_value(self.score_kind.take(), SCORE_KIND)?,
            cost: self.cost,
            stopped_early: self.stopped_early,
        })
    }
}

fn correct_value(origin: &Origin, value: Option<&Value>) -> Result<Option<bool>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(origin.error(
            "correct",
            format!("expected true, false or null, found {}", json_kind(other)),
        )),
    }
}

fn score_value(origin: &Origin, value: Option<&Value>) -> Result<Option<f32>> {
    number_value(origin, "score", value)
}

fn number_value(origin: &Origin, field: &str, value: Option<&Value>) -> Result<Option<f32>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            let value = n.as_f64().unwrap_or(f64::NAN) as f32;
            if !value.is_finite() {
                return Err(origin.error(field, "must be a finite number"));
            }
            Ok(Some(value))
        }
        Some(other) => Err(origin.error(
            field,
            format!("expected a number or null, found {}", json_kind(other)),
        )),
    }
}

fn step_scores_value(origin: &Origin, value: Option<&Value>) -> Result<Option<Vec<f32>>> {
    let items = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(Value::Array(_)) => {
            return Err(origin.error(
                "step_scores",
                "is empty; a scored solution has at least one step (or leave the field out)",
            ))
        }
        Some(other) => {
            return Err(origin.error(
                "step_scores",
                format!("expected a list of numbers, found {}", json_kind(other)),
            ))
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(step, item)| {
            item.as_f64()
                .map(|v| v as f32)
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    origin.error(
                        "step_scores",
                        format!("step {step} is {item}, expected a finite number"),
                    )
                })
        })
        .collect::<Result<Vec<f32>>>()
        .map(Some)
}

/// Parses a sample line straight into its fields; without `full`, the text and unknown fields
/// are skipped (what ranking needs, read fast).
struct FieldsSeed {
    full: bool,
}

impl<'de> DeserializeSeed<'de> for FieldsSeed {
    type Value = SampleFields;
    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<SampleFields, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FieldsSeed {
    type Value = SampleFields;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SampleFields, A::Error> {
        let mut fields = SampleFields::default();
        let mut skipped = SkippedKeys::default();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let key = key.0;
            let fast_field = !self.full
                && (read_cost(&key, &mut map, &mut fields.cost)?
                    || read_early_stop(&key, &mut map, &mut fields.stopped_early)?);
            if fast_field {
                if !skipped.insert(&key) && fields.repeated.is_none() {
                    fields.repeated = Some(key.into_owned());
                }
                continue;
            }
            let skip = !self.full && (key == "text" || fields.slot(&key).is_none());
            let repeated = if skip {
                map.next_value::<IgnoredAny>()?;
                !skipped.insert(&key)
            } else {
                let value: Value = map.next_value()?;
                match fields.slot(&key) {
                    Some(slot) => slot.replace(value).is_some(),
                    None => fields.extra.insert(key.to_string(), value).is_some(),
                }
            };
            if repeated && fields.repeated.is_none() {
                fields.repeated = Some(key.into_owned());
            }
        }
        Ok(fields)
    }
}

/// Reads `key`'s value into `cost` when it is one of the cost fields (true). A value of another
/// shape counts as absent, as it did before these fields were read; `tokens`' per-token lists
/// are skipped, not built.
fn read_cost<'de, A: MapAccess<'de>>(
    key: &str,
    map: &mut A,
    cost: &mut GenerationCost,
) -> Result<bool, A::Error> {
    match key {
        "tokens" => {
            if let Some(completion) = map.next_value_seed(Count {
                field: Some("completion"),
            })? {
                cost.tokens = Some(completion);
            }
        }
        "num_tokens" => {
            let value = map.next_value_seed(Count { field: None })?;
            cost.tokens = cost.tokens.or(value);
        }
        "wall_ms" => cost.wall_ms = map.next_value_seed(Count { field: None })?,
        SCORE_TOKENS => cost.score_tokens = map.next_value_seed(Count { field: None })?,
        "finish_reason" => cost.truncated = map.next_value::<Value>()?.as_str() == Some("length"),
        _ => return Ok(false),
    }
    Ok(true)
}

/// Reads `key`'s value into `stopped` when it is [`EARLY_STOP`] (true): stopped unless null.
fn read_early_stop<'de, A: MapAccess<'de>>(
    key: &str,
    map: &mut A,
    stopped: &mut bool,
) -> Result<bool, A::Error> {
    if key != EARLY_STOP {
        return Ok(false);
    }
    *stopped = !map.next_value::<Value>()?.is_null();
    Ok(true)
}

/// A non-negative integer: the value itself (`field` None) or its object's `field`; any other
/// value is read through and gives None.
struct Count {
    field: Option<&'static str>,
}

impl<'de> DeserializeSeed<'de> for Count {
    type Value = Option<u64>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<u64>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Count {
    type Value = Option<u64>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_u64<E>(self, v: u64) -> Result<Option<u64>, E> {
        Ok(self.field.is_none().then_some(v))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Option<u64>, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Option<u64>, E> {
        Ok(None)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Option<u64>, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Option<u64>, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Option<u64>, E> {
        Ok(None)
    }
    fn visit_seq<S: serde::de::SeqAccess<'de>>(self, mut seq: S) -> Result<Option<u64>, S::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Option<u64>, M::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if Some(key.0.as_ref()) == self.field {
                found = map.next_value_seed(Count { field: None })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// The keys a fast read skipped, to catch one repeated: objects have a handful of keys, so a
/// scan of their 64-bit hashes in a small array (no allocation per line) is the cheapest check;
/// past 16 keys a hash set keeps a line of many keys linear. Two distinct keys of one object
/// with equal 64-bit hashes are not a practical concern.
#[derive(Default)]
struct SkippedKeys {
    hashes: [u64; 16],
    count: usize,
    more: std::collections::HashSet<u64>,
}

impl SkippedKeys {
    /// Adds `key`; false if it was there already.
    fn insert(&mut self, key: &str) -> bool {
        let hash = crate::stable_hash(key);
        if self.hashes[..self.count.min(16)].contains(&hash) {
            return false;
        }
        if self.count < 16 {
            self.hashes[self.count] = hash;
        } else if !self.more.insert(hash) {
            return false;
        }
        self.count += 1;
        true
    }
}

/// An object key, borrowed from the input when it has no escapes.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
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

impl Serialize for Sample {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(8 + self.extra.len()))?;
        map.serialize_entry("problem_id", &self.problem_id)?;
        map.serialize_entry("sample_idx", &self.sample_idx)?;
        map.serialize_entry("text", &self.text)?;
        for (key, value) in &self.extra {
            map.serialize_entry(key, value)?;
        }
        map.serialize_entry("extracted", &self.extracted)?;
        map.serialize_entry("correct", &self.correct)?;
        map.serialize_entry("score", &self.score)?;
        if let Some(raw) = &self.uncalibrated_score {
            map.serialize_entry("uncalibrated_score", raw)?;
        }
        if let Some(steps) = &self.step_scores {
            map.serialize_entry("step_scores", steps)?;
        }
        map.end()
    }
}

/// The fields of a sample that ranking and evaluation read.
pub trait Rankable {
    fn problem_id(&self) -> &str;
    fn sample_idx(&self) -> u32;
    fn extracted(&self) -> Option<&str>;
    fn correct(&self) -> Option<bool>;
    fn score(&self) -> Option<f32>;
    fn step_scores(&self) -> Option<&[f32]>;
    /// What `score` is when it is no probability (see [`SampleVerdict::score_kind`]).
    fn score_kind(&self) -> Option<&str>;
    /// What generating the sample cost, where its record says.
    fn cost(&self) -> GenerationCost;
}

/// Both sample types hold the fields ranking reads under the same names.
macro_rules! impl_rankable {
    ($($record:ty: |$this:ident| $score_kind:expr, $cost:expr);*) => {$(
        impl Rankable for $record {
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
            fn step_scores(&self) -> Option<&[f32]> {
                self.step_scores.as_deref()
            }
            fn score_kind(&self) -> Option<&str> {
                let $this = self;
                $score_kind
            }
            fn cost(&self) -> GenerationCost {
                let $this = self;
                $cost
            }
        }
    )*};
}

impl_rankable!(
    Sample: |sample| sample.extra.get(SCORE_KIND).and_then(Value::as_str),
        GenerationCost::of(
            sample.extra.get("tokens"),
            sample.extra.get("num_tokens"),
            sample.extra.get("wall_ms"),
            sample.extra.get(SCORE_TOKENS),
            sample.extra.get("finish_reason"),
        );
    SampleVerdict: |verdict| verdict.score_kind.as_deref(), verdict.cost
);

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<R: SampleRecord>(text: &str) -> Result<R> {
        R::parse(Path::new("s.jsonl"), 3, Ok(text))
    }

    #[test]
    fn one_rule_for_ids_and_repeated_keys() {
        let sample: Sample =
            parse(r#"{"problem_id": 7, "sample_idx": 0, "text": "t", "x": 1}"#).unwrap();
        assert_eq!(sample.problem_id, "7");
        assert_eq!(sample.extra["x"], 1);
        let verdict: SampleVerdict =
            parse(r#"{"problem_id": "7", "sample_idx": 0, "text": "t", "score": 0.5}"#).unwrap();
        assert_eq!(verdict.score, Some(0.5));
        for text in [
            r#"{"problem_id": 7.5, "sample_idx": 0, "text": "t"}"#,
            r#"{"problem_id": "a", "sample_idx": 0, "text": "t", "score": 1, "score": 2}"#,
            r#"{"problem_id": "a", "sample_idx": 0, "text": "t", "x": 1, "x": 2}"#,
        ] {
            let full = parse::<Sample>(text).unwrap_err().to_string();
            let fast = parse::<SampleVerdict>(text)
                .map(|_| ())
                .map_err(|e| e.to_string());
            assert!(full.starts_with("s.jsonl:3: field `"), "{full}");
            assert_eq!(fast, Err(full));
        }
    }

    #[test]
    fn generation_cost_is_read_alike_fast_and_full_and_odd_shapes_count_as_absent() {
        let cost = |fields: &str| {
            let line = format!(r#"{{"problem_id": "a", "sample_idx": 0, "text": "t"{fields}}}"#);
            let fast = parse::<SampleVerdict>(&line).unwrap().cost;
            let full = parse::<Sample>(&line).unwrap();
            assert_eq!(fast, full.cost(), "{line}");
            // A full read keeps the fields where they were.
            assert_eq!(
                serde_json::to_string(&full).unwrap().contains("tokens"),
                line.contains("tokens")
            );
            (fast.tokens, fast.wall_ms)
        };
        let stats = r#""tokens": {"prompt": 9, "completion": 12, "logprobs": [-0.5, -0.1]}"#;
        assert_eq!(
            cost(&format!(r#", "num_tokens": 11, {stats}, "wall_ms": 40"#)),
            (Some(12), Some(40))
        );
        assert_eq!(cost(r#", "num_tokens": 11"#), (Some(11), None));
        assert_eq!(
            cost(r#", "num_tokens": null, "wall_ms": "soon""#),
            (None, None)
        );
        assert_eq!(
            cost(r#", "tokens": [1, 2], "num_tokens": -3, "wall_ms": 1.5"#),
            (None, None)
        );
        assert_eq!(
            cost(r#", "tokens": {"completion": "x", "other": {"completion": 4}}"#),
            (None, None)
        );
        let repeated =
            r#"{"problem_id": "a", "sample_idx": 0, "text": "t", "wall_ms": 1, "wall_ms": 2}"#;
        assert!(parse::<SampleVerdict>(repeated).is_err());
    }

    #[test]
    fn a_repeat_among_many_unknown_keys_is_caught_by_the_fast_read() {
        let keys: String = (0..5_000).map(|i| format!(r#", "k{i}": {i}"#)).collect();
        let line = format!(r#"{{"problem_id": "a", "sample_idx": 0, "text": "t"{keys}}}"#);
        assert!(parse::<SampleVerdict>(&line).is_ok());
        let repeated = format!(r#"{}, "k4321": 0}}"#, &line[..line.len() - 1]);
        let error = parse::<SampleVerdict>(&repeated)
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(error.contains("field `k4321`: appears twice"), "{error}");
    }

    #[test]
    fn invalid_utf8_and_non_objects_name_the_line() {
        let error = Sample::parse(
            Path::new("s.jsonl"),
            4,
            Err(crate::io::InvalidUtf8 { column: 2 }),
        )
        .unwrap_err();
        assert!(error.to_string().starts_with("s.jsonl:4: not valid UTF-8"));
        let error = parse::<SampleVerdict>("[1]").unwrap_err().to_string();
        assert_eq!(error, "s.jsonl:3: expected a JSON object");
    }
}
