//! Saved model responses as samples: OpenAI-compatible chat or completions responses (one
//! response object per record, or the Batch API's output lines, whose `response.body` is one),
//! vLLM's offline `RequestOutput`s dumped as JSON, and plain tables of samples. Responses carry
//! no question, so each record is tied to a problem of a problems file: by a field of the record
//! that holds the problem's id (`--problem-id-field`, dotted for nested fields), or by order (the
//! i-th record answers the i-th problem).
//!
//! Every choice (or output) becomes one sample, numbered per problem in file order; its
//! `finish_reason` is kept, and so are the token counts where they belong to it alone and the
//! token statistics where the response holds log-probabilities (so `score --backend confidence`
//! reads them as it reads a generated sample's).

use std::collections::HashMap;
use std::path::Path;

use serde_json::{json, Map, Value};

use super::{Format, Imported};
use crate::error::{Error, Result};
use crate::generate::token_stats_from_logprobs;
use crate::io::{read_table, take_path, JsonLine, TableFormat};
use crate::records::{Problem, Sample};

/// How response records are tied to problems, and read.
#[derive(Debug, Clone)]
pub struct ResponseLink {
    /// The problems the responses answer (written through as the import's problems).
    pub problems: Vec<Problem>,
    /// The field of each record holding its problem's id; without it, records follow the
    /// problems' order one to one.
    pub problem_id_field: Option<String>,
    /// The field holding a sample's text in `--format samples` (default `text`).
    pub text_field: Option<String>,
}

/// One response's text and what is known of how it ended and what it cost.
struct Response {
    text: String,
    finish_reason: Option<Value>,
    reasoning: Option<Value>,
    tokens: Option<Value>,
}

/// Reads saved responses in `format` and ties them to `link.problems`.
pub fn import_responses(
    path: &Path,
    format: &Format,
    input_format: TableFormat,
    link: ResponseLink,
) -> Result<Imported> {
    let records = read_table(path, input_format, "--input-format")?;
    if link.problem_id_field.is_none() && records.len() != link.problems.len() {
        return Err(Error::Inconsistent(format!(
            "{}: {} records for {} problems: tied by order, the i-th record answers the i-th \
             problem; name the field holding each record's problem id with --problem-id-field",
            path.display(),
            records.len(),
            link.problems.len()
        )));
    }
    let known: HashMap<&str, ()> = link.problems.iter().map(|p| (p.id.as_str(), ())).collect();
    let mut next_index: HashMap<String, u32> = HashMap::new();
    let mut samples = Vec::new();
    for (position, JsonLine { line, mut object }) in records.into_iter().enumerate() {
        let error = |field: &str, message: String| Error::input(path, line, Some(field), message);
        let problem_id = match &link.problem_id_field {
            Some(field) => {
                let id = match take_path(&mut object, field) {
                    Some(Value::String(id)) => id,
                    Some(Value::Number(n)) if n.is_u64() || n.is_i64() => n.to_string(),
                    Some(_) => return Err(error(field, "expected a string or integer id".into())),
                    None => {
                        return Err(error(field, "missing (named by --problem-id-field)".into()))
                    }
                };
                if !known.contains_key(id.as_str()) {
                    return Err(error(
                        field,
                        format!("problem {id:?} is not in the problems file"),
                    ));
                }
                id
            }
            None => link.problems[position].id.clone(),
        };
        let (responses, generator) = match format {
            Format::OpenAiChat | Format::OpenAiCompletions => {
                openai_responses(&mut object, format).map_err(|(f, m)| error(&f, m))?
            }
            Format::VllmOutputs => vllm_outputs(&mut object).map_err(|(f, m)| error(&f, m))?,
            Format::Samples => {
                let field = link.text_field.as_deref().unwrap_or("text");
                match take_path(&mut object, field) {
                    Some(Value::String(text)) => {
                        (vec![plain(text)], json!({ "imported": "samples" }))
                    }
                    _ => return Err(error(
                        field,
                        "expected the sample's text (a string); name its field with --text-field"
                            .into(),
                    )),
                }
            }
            other => unreachable!("{other} is a grouped format"),
        };
        for response in responses {
            let index = next_index.entry(problem_id.clone()).or_default();
            samples.push(response.into_sample(&problem_id, *index, generator.clone()));
            *index += 1;
        }
    }
    if samples.is_empty() {
        return Err(Error::Inconsistent(format!(
            "{}: no record holds a response: there is nothing to import",
            path.display()
        )));
    }
    Ok(Imported {
        problems: link.problems,
        samples,
    })
}

type FieldError = (String, String);

fn plain(text: String) -> Response {
    Response {
        text,
        finish_reason: None,
        reasoning: None,
        tokens: None,
    }
}

/// The choices of a chat or completions response (a Batch API line's `response.body` is one).
fn openai_responses(
    object: &mut Map<String, Value>,
    format: &Format,
) -> std::result::Result<(Vec<Response>, Value), FieldError> {
    let mut body = match object.get("response") {
        Some(Value::Object(batch)) => {
            let status = batch.get("status_code").and_then(Value::as_u64);
            if status.is_some_and(|s| s != 200) {
                return Err((
                    "response.status_code".into(),
                    format!(
                        "the request failed ({}); it has no choices",
                        status.unwrap_or(0)
                    ),
                ));
            }
            match batch.get("body") {
                Some(Value::Object(body)) => body.clone(),
                _ => {
                    return Err((
                        "response.body".into(),
                        "expected the response object".into(),
                    ))
                }
            }
        }
        _ => object.clone(),
    };
    let usage = |key: &str| {
        body.get("usage")
            .and_then(|u| u.get(key))
            .and_then(Value::as_u64)
            .and_then(|t| u32::try_from(t).ok())
    };
    let (prompt_tokens, completion_tokens) = (usage("prompt_tokens"), usage("completion_tokens"));
    let mut generator = Map::new();
    generator.insert("imported".into(), format.to_string().into());
    for key in ["model", "system_fingerprint"] {
        if let Some(value) = body.get(key).filter(|v| !v.is_null()) {
            generator.insert(key.into(), value.clone());
        }
    }
    let Some(Value::Array(choices)) = body.remove("choices") else {
        return Err((
            "choices".into(),
            "missing: expected a response object with a `choices` list".into(),
        ));
    };
    let alone = choices.len() == 1;
    let responses = choices
        .into_iter()
        .enumerate()
        .map(|(index, choice)| {
            let field = |name: &str| format!("choices[{index}].{name}");
            let text = match format {
                Format::OpenAiChat => choice.pointer("/message/content"),
                _ => choice.get("text"),
            };
            let Some(Value::String(text)) = text else {
                let (name, expected) = match format {
                    Format::OpenAiChat => ("message.content", "a chat response: message.content (use --format openai-completions for `text`)"),
                    _ => ("text", "a completions response: text (use --format openai-chat for message.content)"),
                };
                return Err((field(name), format!("expected a string, as in {expected}")));
            };
            let logprobs = choice.get("logprobs").filter(|v| !v.is_null());
            let tokens = match logprobs {
                Some(logprobs) => Some(
                    token_stats_from_logprobs(logprobs, prompt_tokens)
                        .map_err(|message| (field("logprobs"), message))?
                        .to_json(),
                ),
                None if alone => completion_tokens.map(|c| json!({ "prompt": prompt_tokens, "completion": c })),
                None => None,
            };
            Ok(Response {
                text: text.clone(),
                finish_reason: choice.get("finish_reason").cloned(),
                reasoning: choice.pointer("/message/reasoning_content").filter(|v| !v.is_null()).cloned(),
                tokens,
            })
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok((responses, Value::Object(generator)))
}

/// The outputs of a vLLM `RequestOutput` dumped as JSON: `outputs[] = {text, finish_reason?,
/// token_ids?}`.
fn vllm_outputs(
    object: &mut Map<String, Value>,
) -> std::result::Result<(Vec<Response>, Value), FieldError> {
    let Some(Value::Array(outputs)) = object.remove("outputs") else {
        return Err((
            "outputs".into(),
            "missing: expected a RequestOutput with an `outputs` list".into(),
        ));
    };
    let prompt_tokens = object
        .get("prompt_token_ids")
        .and_then(Value::as_array)
        .map(Vec::len);
    let responses = outputs
        .into_iter()
        .enumerate()
        .map(|(index, output)| {
            let Some(Value::String(text)) = output.get("text") else {
                return Err((format!("outputs[{index}].text"), "expected a string".into()));
            };
            let completion = output
                .get("token_ids")
                .and_then(Value::as_array)
                .map(Vec::len);
            Ok(Response {
                text: text.clone(),
                finish_reason: output.get("finish_reason").cloned(),
                reasoning: None,
                tokens: completion.map(|c| json!({ "prompt": prompt_tokens, "completion": c })),
            })
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok((responses, json!({ "imported": "vllm-outputs" })))
}

impl Response {
    fn into_sample(self, problem_id: &str, sample_idx: u32, generator: Value) -> Sample {
        let mut extra = Map::new();
        extra.insert("generator".into(), generator);
        if let Some(reason) = self.finish_reason.filter(|v| !v.is_null()) {
            extra.insert("finish_reason".into(), reason);
        }
        if let Some(reasoning) = self.reasoning {
            extra.insert("reasoning".into(), reasoning);
        }
        if let Some(tokens) = self.tokens {
            extra.insert("tokens".into(), tokens);
        }
        Sample {
            problem_id: problem_id.to_owned(),
            sample_idx,
            text: self.text,
            extracted: None,
            correct: None,
            score: None,
            step_scores: None,
            uncalibrated_score: None,
            extra,
        }
    }
}
