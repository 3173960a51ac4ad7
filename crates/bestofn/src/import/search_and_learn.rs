//! search-and-learn outputs (a dataset: Parquet or JSON lines): one row per problem with its
//! `completions`, the process reward model's `scores` (per completion, per step), the
//! `completion_tokens`, and the method's picks (`pred`, `pred_weighted@n`, `pred_maj@n`,
//! `pred_naive@n`), kept on the problem.
//!
//! Each completion's step scores become its `step_scores`; its `score` is the last step's,
//! the aggregation search-and-learn ranks by by default.

use serde_json::{json, Value};

use super::lm_eval::gold_problem;
use super::{sample_with_source_verdict, scalar_text, Fields, Imported};
use crate::error::Result;

pub(super) fn import_line(mut fields: Fields, index: usize, imported: &mut Imported) -> Result<()> {
    let id = match fields
        .object
        .shift_remove("unique_id")
        .as_ref()
        .and_then(scalar_text)
    {
        Some(id) => id,
        None => index.to_string(),
    };
    let question = fields.string("problem")?;
    let gold = fields.take("answer")?;
    let gold =
        scalar_text(&gold).ok_or_else(|| fields.error("answer", "expected a string or number"))?;
    let completions = fields.array("completions")?;
    let scores = match fields.object.shift_remove("scores") {
        Some(Value::Array(scores)) => scores,
        None | Some(Value::Null) => Vec::new(),
        Some(_) => return Err(fields.error("scores", "expected a list per completion")),
    };
    if !scores.is_empty() && scores.len() != completions.len() {
        return Err(fields.error(
            "scores",
            format!(
                "{} score lists for {} completions",
                scores.len(),
                completions.len()
            ),
        ));
    }
    let tokens = fields.object.shift_remove("completion_tokens");
    for (sample, completion) in completions.into_iter().enumerate() {
        let Value::String(text) = completion else {
            return Err(fields.error(&format!("completions[{sample}]"), "expected a string"));
        };
        let steps = match scores.get(sample) {
            None => None,
            Some(steps) => Some(step_scores(steps).ok_or_else(|| {
                fields.error(&format!("scores[{sample}]"), "expected a list of numbers")
            })?),
        };
        let mut record = sample_with_source_verdict(
            &id,
            sample,
            text,
            json!({ "method": "search-and-learn" }),
            None,
            None,
            steps.as_ref().and_then(|s| s.last().copied()),
        );
        record.step_scores = steps;
        if let Some(count) = tokens
            .as_ref()
            .and_then(|t| t.get(sample))
            .and_then(Value::as_u64)
        {
            record.extra.insert("num_tokens".into(), count.into());
        }
        imported.samples.push(record);
    }
    // The picks (`pred`, `pred_weighted@n`, ...) and the dataset's own fields stay on the problem.
    let extra = std::mem::take(&mut fields.object);
    imported
        .problems
        .push(gold_problem(id, question, gold, extra));
    Ok(())
}

/// A completion's step scores (a bare number is one step).
fn step_scores(value: &Value) -> Option<Vec<f32>> {
    match value {
        Value::Array(steps) => steps.iter().map(|s| s.as_f64().map(|s| s as f32)).collect(),
        Value::Number(n) => n.as_f64().map(|s| vec![s as f32]),
        _ => None,
    }
}
