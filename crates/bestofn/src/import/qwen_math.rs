//! Qwen2.5-Math's `math_cot_100.jsonl`: 100 MATH problems × 8 sampled responses, each with the
//! repository's extracted prediction, correctness and a reward-model score.

use serde_json::{json, Map, Value};

use super::{sample_with_source_verdict, scalar_text, Fields, Imported};
use crate::error::Result;
use crate::grade::AnswerStyle;
use crate::records::Problem;

pub(super) fn import_line(mut fields: Fields, imported: &mut Imported) -> Result<()> {
    let id = fields.id("idx")?;
    let question = fields.string("question")?;
    let gold = fields.string("gt")?;
    let responses = fields.array("response")?;
    let preds = fields.array("pred")?;
    let verdicts = fields.array("score")?;
    let reward_scores = fields.array("pred_score")?;
    if preds.len() != responses.len()
        || verdicts.len() != responses.len()
        || reward_scores.len() != responses.len()
    {
        return Err(fields.error(
            "response",
            format!(
                "response, pred, score and pred_score must have equal lengths ({}, {}, {}, {})",
                responses.len(),
                preds.len(),
                verdicts.len(),
                reward_scores.len()
            ),
        ));
    }
    for (index, response) in responses.into_iter().enumerate() {
        let Value::String(text) = response else {
            return Err(fields.error(&format!("response[{index}]"), "expected a string"));
        };
        // The reward model's score is a one-element list.
        let score = match &reward_scores[index] {
            Value::Array(inner) => inner.first().and_then(Value::as_f64),
            other => other.as_f64(),
        }
        .ok_or_else(|| fields.error(&format!("pred_score[{index}]"), "expected [number]"))?;
        imported.samples.push(sample_with_source_verdict(
            &id,
            index,
            text,
            json!({ "model": "qwen2.5-math" }),
            scalar_text(&preds[index]),
            verdicts[index].as_bool(),
            Some(score as f32),
        ));
    }
    let mut extra = Map::new();
    for key in ["level", "type"] {
        if let Some(value) = fields.object.shift_remove(key) {
            extra.insert(key.to_owned(), value);
        }
    }
    let solution = match fields.object.shift_remove("solution") {
        Some(Value::String(s)) => Some(s),
        _ => None,
    };
    imported.problems.push(Problem {
        id,
        question,
        answer: Some(gold),
        solution,
        style: AnswerStyle::Math,
        extra,
    });
    Ok(())
}
