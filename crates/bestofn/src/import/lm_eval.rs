//! lm-evaluation-harness `--log_samples` files (`samples_<task>_<time>.jsonl`): one line per doc
//! and filter, with the doc, its target, every response (`resps`, repeats included), the filtered
//! answer and the harness's metrics.
//!
//! Each response becomes a sample (its index the repeat's). The harness grades the *filtered*
//! answer of a doc, not each response, so its verdict is a sample's `source_correct` only where
//! the doc has one response; with repeats it stays on the problem record (`source_metrics`).

use serde_json::{json, Map, Value};

use super::{sample_with_source_verdict, scalar_text, Fields, Imported};
use crate::error::{Error, Result};
use crate::grade::{self, AnswerStyle};
use crate::io::JsonLine;
use crate::records::Problem;

/// The harness's mark for a response its filter found no answer in.
const NO_ANSWER: &str = "[invalid]";
/// Doc fields that hold the question, in the order tried (else the prompt the harness built).
const QUESTION_FIELDS: [&str; 5] = ["question", "problem", "Question", "Problem", "input"];

/// The lines of the filter to import: `filter`, or the only one the log holds.
pub(super) fn lines_of_filter(
    path: &std::path::Path,
    lines: Vec<JsonLine>,
    filter: Option<&str>,
) -> Result<Vec<JsonLine>> {
    let filter_of = |line: &JsonLine| {
        line.object
            .get("filter")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let mut filters: Vec<String> = Vec::new();
    for line in &lines {
        let name = filter_of(line).ok_or_else(|| {
            Error::input(
                path,
                line.line,
                Some("filter"),
                "missing: is this an lm-eval --log_samples file?",
            )
        })?;
        if !filters.contains(&name) {
            filters.push(name);
        }
    }
    let chosen = match filter {
        Some(name) if filters.iter().any(|f| f == name) => name.to_owned(),
        Some(name) => {
            return Err(Error::Settings(format!(
                "--filter {name}: {} holds the filters {}",
                path.display(),
                filters.join(", ")
            )))
        }
        None if filters.len() == 1 => filters.remove(0),
        None => {
            return Err(Error::Settings(format!(
                "{} holds the filters {}: choose the one whose answers and verdicts to keep \
                 with --filter",
                path.display(),
                filters.join(", ")
            )))
        }
    };
    Ok(lines
        .into_iter()
        .filter(|line| filter_of(line).as_deref() == Some(chosen.as_str()))
        .collect())
}

pub(super) fn import_line(mut fields: Fields, imported: &mut Imported) -> Result<()> {
    let id = fields.id("doc_id")?;
    let filter = fields.string("filter")?;
    let Value::Object(doc) = fields.take("doc")? else {
        return Err(fields.error("doc", "expected an object"));
    };
    let target = fields.take("target")?;
    let target = scalar_text(&target).ok_or_else(|| {
        fields.error(
            "target",
            "expected a string or number (bestofn grades against one gold answer)",
        )
    })?;
    let responses = responses(&mut fields)?;
    let filtered = fields.array("filtered_resps")?;
    let metrics = source_metrics(&mut fields)?;
    let prompt = fields
        .object
        .get("arguments")
        .and_then(|a| a.get("gen_args_0"))
        .and_then(|a| a.get("arg_0"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    // One response: the harness's verdict on the doc is its verdict.
    let count = responses.len();
    let verdict = (count == 1)
        .then(|| metrics.values().find_map(zero_or_one))
        .flatten();
    for (index, text) in responses.into_iter().enumerate() {
        let answer = filtered_answer(&filtered, index, count);
        imported.samples.push(sample_with_source_verdict(
            &id,
            index,
            text,
            json!({ "harness": "lm-eval", "filter": filter }),
            answer,
            verdict,
            None,
        ));
    }
    let question = QUESTION_FIELDS
        .iter()
        .find_map(|key| doc.get(*key).and_then(Value::as_str))
        .map(str::to_owned)
        .or_else(|| prompt.clone())
        .ok_or_else(|| {
            fields.error(
                "doc",
                "no question field and no prompt (arguments.gen_args_0.arg_0)",
            )
        })?;
    let mut extra = Map::new();
    extra.insert("prompt".into(), prompt.map_or(Value::Null, Value::String));
    extra.insert("source_filter".into(), Value::String(filter));
    extra.insert("source_filtered".into(), Value::Array(filtered));
    extra.insert("source_metrics".into(), Value::Object(metrics));
    imported
        .problems
        .push(gold_problem(id, question, target, extra));
    Ok(())
}

/// Every response of the doc's requests, repeats in order. A loglikelihood task's responses
/// are scores, not texts: nothing to import.
fn responses(fields: &mut Fields) -> Result<Vec<String>> {
    let mut texts = Vec::new();
    for (request, repeats) in fields.array("resps")?.into_iter().enumerate() {
        let repeats = match repeats {
            Value::Array(repeats) => repeats,
            single => vec![single],
        };
        for (repeat, response) in repeats.into_iter().enumerate() {
            let Value::String(text) = response else {
                return Err(fields.error(
                    &format!("resps[{request}][{repeat}]"),
                    "expected a generated text: this log is of a task scored by log-likelihood \
                     (multiple choice), which has no samples to import; import generate_until tasks",
                ));
            };
            texts.push(text);
        }
    }
    if texts.is_empty() {
        return Err(fields.error("resps", "no response"));
    }
    Ok(texts)
}

/// The harness's metric values of the doc, by the names its `metrics` lists.
fn source_metrics(fields: &mut Fields) -> Result<Map<String, Value>> {
    let mut metrics = Map::new();
    for name in fields.array("metrics")? {
        let Value::String(name) = name else {
            return Err(fields.error("metrics", "expected metric names"));
        };
        let value = fields.take(&name)?;
        metrics.insert(name, value);
    }
    Ok(metrics)
}

/// A 0/1 metric value as a verdict.
pub(super) fn zero_or_one(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) if n.as_f64() == Some(1.0) => Some(true),
        Value::Number(n) if n.as_f64() == Some(0.0) => Some(false),
        _ => None,
    }
}

/// The filtered answer belonging to response `index`: the i-th of a per-response list, or the
/// doc's one answer when there is one response.
fn filtered_answer(filtered: &[Value], index: usize, responses: usize) -> Option<String> {
    let answer = match filtered {
        [Value::Array(per_response)] if per_response.len() == responses => &per_response[index],
        [single] if responses == 1 => single,
        _ => return None,
    };
    scalar_text(answer).filter(|a| a != NO_ANSWER)
}

/// A problem whose gold is `target`: a reference solution (`... #### 18`, a `\boxed{}`) is
/// read as its answer and kept as the solution.
/// Fields of the source named as a problem's own are kept as `source_<name>` (a solution fills
/// the problem's when the gold is no reference solution).
pub(super) fn gold_problem(
    id: String,
    question: String,
    target: String,
    mut extra: Map<String, Value>,
) -> Problem {
    let answer = grade::gold_answer(&target).into_owned();
    let native = grade::gsm8k_gold(&target)
        .is_some()
        .then_some(AnswerStyle::Gsm8k);
    let mut solution = (answer != target).then_some(target);
    if solution.is_none() {
        if let Some(Value::String(text)) = extra.get("solution") {
            solution = Some(text.clone());
            extra.shift_remove("solution");
        }
    }
    for key in ["id", "question", "answer", "solution", "style"] {
        if let Some(value) = extra.shift_remove(key) {
            extra.insert(format!("source_{key}"), value);
        }
    }
    let style = native.unwrap_or_else(|| AnswerStyle::infer(Some(&answer), solution.as_deref()));
    Problem {
        id,
        question,
        answer: Some(answer).filter(|a| !a.trim().is_empty()),
        solution,
        style,
        extra,
    }
}
