//! `example_model_solutions.jsonl` of the GSM8K verifiers paper: per test problem, the one
//! solution each of four runs (6B/175B × fine-tuning/verification) chose, with `is_correct`.
//! One run is imported at a time (`--run`), as one sample per problem.

use serde_json::{json, Map, Value};

use super::{sample_with_source_verdict, Fields, Imported};
use crate::error::Result;
use crate::grade::{stated_answer, AnswerStyle};
use crate::records::Problem;

pub(super) fn import_line(
    mut fields: Fields,
    run: &str,
    index: usize,
    imported: &mut Imported,
) -> Result<()> {
    let question = fields.string("question")?;
    let reference = fields.string("ground_truth")?;
    let gold = reference
        .rfind("A:")
        .and_then(|pos| stated_answer(&reference[pos + 2..], AnswerStyle::Gsm8k))
        .ok_or_else(|| fields.error("ground_truth", "no final `A: N` line"))?;
    let Value::Object(mut chosen) = fields.take(run)? else {
        return Err(fields.error(run, "expected an object {solution, is_correct}"));
    };
    let solution = match chosen.shift_remove("solution") {
        Some(Value::String(s)) => s,
        _ => return Err(fields.error(&format!("{run}.solution"), "expected a string")),
    };
    let is_correct = chosen.get("is_correct").and_then(Value::as_bool);
    let id = index.to_string();
    let mut sample = sample_with_source_verdict(
        &id,
        0,
        solution,
        json!({ "model": run }),
        None,
        is_correct,
        None,
    );
    // The paper's files carry only a verdict, no extracted answer.
    sample.extracted = None;
    imported.samples.push(sample);
    imported.problems.push(Problem {
        id,
        question,
        answer: Some(gold),
        solution: Some(reference),
        style: AnswerStyle::Gsm8k,
        extra: Map::new(),
    });
    Ok(())
}
