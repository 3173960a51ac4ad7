//! The Faithful-CoT GSM8K test pool: one line per problem with 41 candidates from six OpenAI
//! models under several prompt styles.

use serde_json::{json, Map, Value};

use super::{sample_with_source_verdict, scalar_text, Fields, Imported};
use crate::error::Result;
use crate::grade::AnswerStyle;
use crate::records::Problem;

pub(super) fn import_line(mut fields: Fields, imported: &mut Imported) -> Result<()> {
    let id = fields.id("id")?;
    let question = fields.string("question")?;
    let gold = fields.take("gold")?;
    let gold =
        scalar_text(&gold).ok_or_else(|| fields.error("gold", "expected a string or number"))?;
    let candidates = fields.array("candidates")?;
    for (index, candidate) in candidates.into_iter().enumerate() {
        let field = format!("candidates[{index}]");
        let Value::Object(mut candidate) = candidate else {
            return Err(fields.error(&field, "expected an object"));
        };
        let mut text_of = |key: &str| -> Result<String> {
            match candidate.shift_remove(key) {
                Some(Value::String(s)) => Ok(s),
                _ => Err(fields.error(&format!("{field}.{key}"), "expected a string")),
            }
        };
        let completion = text_of("completion")?;
        let generator = json!({
            "model": text_of("lm")?,
            "prompt": text_of("prompt")?,
            "config": text_of("config")?,
        });
        let source_answer = candidate.get("answer").and_then(scalar_text);
        let source_correct = candidate.get("is_correct").and_then(Value::as_bool);
        imported.samples.push(sample_with_source_verdict(
            &id,
            index,
            completion,
            generator,
            source_answer,
            source_correct,
            None,
        ));
    }
    imported.problems.push(Problem {
        id,
        question,
        answer: Some(gold),
        solution: None,
        style: AnswerStyle::Gsm8k,
        extra: Map::new(),
    });
    Ok(())
}
