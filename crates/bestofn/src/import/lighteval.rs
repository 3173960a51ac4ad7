//! lighteval details (`details_<task>_<time>.parquet`): one row per doc with the `doc` (query,
//! choices, gold index), the `model_response` (every sampled text) and the doc's `metric` values.
//!
//! As with lm-eval, the metrics grade the doc: they are a sample's `source_correct` only where
//! the doc has one response, and stay on the problem (`source_metrics`) otherwise.

use serde_json::{json, Map, Value};

use super::lm_eval::{gold_problem, zero_or_one};
use super::{sample_with_source_verdict, scalar_text, Fields, Imported};
use crate::error::Result;

pub(super) fn import_line(mut fields: Fields, index: usize, imported: &mut Imported) -> Result<()> {
    let Value::Object(mut doc) = fields.take("doc")? else {
        return Err(fields.error("doc", "expected an object"));
    };
    let Value::Object(mut response) = fields.take("model_response")? else {
        return Err(fields.error("model_response", "expected an object"));
    };
    // Arrow gives every row each metric any row has: the null ones are not this doc's.
    let metrics = match fields.object.shift_remove("metric") {
        Some(Value::Object(metrics)) => metrics.into_iter().filter(|(_, v)| !v.is_null()).collect(),
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err(fields.error("metric", "expected an object")),
    };
    let id = match doc.get("id").and_then(scalar_text) {
        Some(id) if !id.is_empty() => id,
        _ => index.to_string(),
    };
    let query = match doc.shift_remove("query") {
        Some(Value::String(query)) => query,
        _ => return Err(fields.error("doc.query", "expected a string")),
    };
    let question = match doc.shift_remove("original_query") {
        Some(Value::String(original)) if !original.is_empty() => original,
        _ => query.clone(),
    };
    let gold = gold_choice(&fields, &doc)?;
    let texts = match response.shift_remove("text") {
        Some(Value::Array(texts)) => texts,
        _ => return Err(fields.error("model_response.text", "expected a list of texts")),
    };
    let verdict = (texts.len() == 1)
        .then(|| metrics.values().find_map(zero_or_one))
        .flatten();
    let task = doc.get("task_name").cloned().unwrap_or(Value::Null);
    for (sample, text) in texts.into_iter().enumerate() {
        let Value::String(text) = text else {
            return Err(fields.error(
                &format!("model_response.text[{sample}]"),
                "expected a string",
            ));
        };
        imported.samples.push(sample_with_source_verdict(
            &id,
            sample,
            text,
            json!({ "harness": "lighteval", "task": task }),
            None,
            verdict,
            None,
        ));
    }
    if imported.samples.last().is_none_or(|s| s.problem_id != id) {
        return Err(fields.error("model_response.text", "no response"));
    }
    let mut extra = Map::new();
    extra.insert("prompt".into(), Value::String(query));
    extra.insert("source_metrics".into(), Value::Object(metrics));
    imported
        .problems
        .push(gold_problem(id, question, gold, extra));
    Ok(())
}

/// The gold answer: the choice at `gold_index` (the first of several).
fn gold_choice(fields: &Fields, doc: &Map<String, Value>) -> Result<String> {
    let index = match doc.get("gold_index") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::Array(indices)) => indices.first().and_then(Value::as_u64),
        _ => None,
    }
    .ok_or_else(|| fields.error("doc.gold_index", "expected an index or a list of them"))?;
    doc.get("choices")
        .and_then(|c| c.get(index as usize))
        .and_then(scalar_text)
        .ok_or_else(|| fields.error("doc.choices", format!("no choice at gold_index {index}")))
}
