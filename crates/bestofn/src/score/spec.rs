//! `verifier.json`: how a verifier directory wants its inputs built and its output read.

use std::path::Path;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::error::{Error, Result};

/// How question and solution are joined into the model's input.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum InputTemplate {
    /// A text pair: `[CLS] question [SEP] solution [SEP]` for BERT-style tokenizers.
    Pair,
    /// One text with `{question}` and `{solution}` replaced.
    Template { template: String },
}

/// What to do with an input longer than `max_length`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TooLong {
    Truncate,
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Left,
    Right,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OutputSpec {
    /// ONNX output name: `[batch, 1]` float32 for a solution-level verifier, `[batch, tokens,
    /// labels]` for a step-level one.
    pub name: String,
    /// `logit`: P(correct) = sigmoid(value); `probability`: the value itself.
    #[serde(rename = "type")]
    pub kind: OutputKind,
    /// What one output judges: the whole solution, or each step (read at the step tags).
    #[serde(default)]
    pub per: Per,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Per {
    #[default]
    Solution,
    Step,
}

/// How a solution is cut into steps for a process reward model, and how the steps are marked in
/// its input: each step is followed by `tag` (one token, where the model's step score is read),
/// and the tagged steps are joined with `joiner`. A tag written in the question or a step is
/// taken out (it would be read as a step end).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StepFormat {
    /// What ends a step in the solution text (`"\n\n"` for most chat models).
    pub separator: String,
    pub tag: String,
    /// Between tagged steps; the separator when absent.
    #[serde(default)]
    pub joiner: Option<String>,
}

impl StepFormat {
    /// What identifies the format in a scoring log.
    pub fn id(&self) -> String {
        let joiner = self.joiner.as_deref().unwrap_or(&self.separator);
        format!("{:?} {:?} {:?}", self.separator, self.tag, joiner)
    }

    pub fn check(&self) -> std::result::Result<(), String> {
        if self.separator.is_empty() || self.tag.is_empty() {
            return Err("steps need a non-empty separator and tag".into());
        }
        Ok(())
    }

    /// The solution's steps (blank pieces left out; a solution with no text is one empty step).
    pub fn steps<'a>(&self, solution: &'a str) -> Vec<&'a str> {
        let steps: Vec<&str> = solution
            .split(self.separator.as_str())
            .filter(|step| !step.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r')))
            .collect();
        if steps.is_empty() {
            vec![solution]
        } else {
            steps
        }
    }

    /// The solution as the model reads it, and its number of steps.
    pub fn render(&self, solution: &str) -> (String, usize) {
        let joiner = self.joiner.as_deref().unwrap_or(&self.separator);
        let steps = self.steps(solution);
        let mut text = String::with_capacity(solution.len() + steps.len() * self.tag.len());
        for (i, step) in steps.iter().enumerate() {
            if i > 0 {
                text.push_str(joiner);
            }
            text.push_str(&step.replace(&self.tag, ""));
            text.push_str(&self.tag);
        }
        (text, steps.len())
    }

    /// The question without step tags.
    pub fn clean<'a>(&self, question: &'a str) -> std::borrow::Cow<'a, str> {
        if question.contains(&self.tag) {
            question.replace(&self.tag, "").into()
        } else {
            question.into()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    Logit,
    Probability,
}

/// Platt scaling, fitted by `export` on the validation split:
/// P(correct) = sigmoid(scale · logit + shift). The scale undoes over- or under-confidence (a
/// temperature), the shift the prior that balanced training moved; ranking is unchanged
/// (scale > 0).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct PlattScaling {
    pub scale: f64,
    pub shift: f64,
}

impl PlattScaling {
    pub fn probability(&self, logit: f64) -> f64 {
        1.0 / (1.0 + (-(self.scale * logit + self.shift)).exp())
    }
}

/// The contents of `verifier.json` that scoring depends on (other fields are kept by the
/// Python side for provenance).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct VerifierSpec {
    pub format: String,
    pub version: u32,
    pub input: InputTemplate,
    pub max_length: usize,
    pub truncation_side: Side,
    pub too_long: TooLong,
    pub output: OutputSpec,
    pub onnx_inputs: Vec<String>,
    pub pad_token_id: i64,
    #[serde(default)]
    pub base_model: String,
    #[serde(default)]
    pub quantization: Option<String>,
    #[serde(default)]
    pub calibration: Option<PlattScaling>,
    /// For a step-level verifier (`output.per = "step"`).
    #[serde(default)]
    pub steps: Option<StepFormat>,
    /// The side batches are padded on; bestofn pads the right (a decoder verifier's positions
    /// then stay what they are unpadded, and its export reads the last real token).
    #[serde(default = "right")]
    pub padding_side: Side,
}

fn right() -> Side {
    Side::Right
}

/// The contract of verifier.json, shared with the Python exporter (which validates against it
/// before it writes one).
const SCHEMA: &str = include_str!("../../../../schemas/verifier.schema.json");

/// Every way `value` breaks the schema, each as "POINTER: message" (POINTER the bad field, `/`
/// for the whole file).
pub fn schema_errors(value: &serde_json::Value) -> Vec<String> {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    let validator = VALIDATOR.get_or_init(|| {
        let schema = serde_json::from_str(SCHEMA).expect("the committed schema is JSON");
        jsonschema::validator_for(&schema).expect("the committed schema is a valid JSON Schema")
    });
    validator
        .iter_errors(value)
        .map(|error| {
            let pointer = error.instance_path().to_string();
            let pointer = if pointer.is_empty() {
                "/".to_owned()
            } else {
                pointer
            };
            format!("{pointer}: {error}")
        })
        .collect()
}

impl VerifierSpec {
    pub fn load(directory: &Path) -> Result<Self> {
        let path = directory.join("verifier.json");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Error::ModelLoad(format!(
                "{}: {e} (a verifier directory holds model.onnx, tokenizer.json and verifier.json)",
                path.display()
            ))
        })?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::ModelLoad(format!("{}: {e}", path.display())))?;
        let errors = schema_errors(&value);
        if !errors.is_empty() {
            return Err(Error::ModelLoad(format!(
                "{}: not a valid verifier.json (schemas/verifier.schema.json): {}",
                path.display(),
                errors.join("; ")
            )));
        }
        let spec: VerifierSpec = serde_json::from_value(value)
            .map_err(|e| Error::ModelLoad(format!("{}: {e}", path.display())))?;
        // What the schema cannot say: placeholders other than {question} and {solution}, and a
        // padding side this scorer does not do.
        if let InputTemplate::Template { template } = &spec.input {
            check_template(template).map_err(|why| {
                Error::ModelLoad(format!("{}: input.template {why}", path.display()))
            })?;
        }
        if spec.padding_side != Side::Right {
            return Err(Error::ModelLoad(format!(
                "{}: padding_side \"left\" is not supported: bestofn pads batches on the right \
                 (export the verifier again with the current `bestofn_verifier export`)",
                path.display()
            )));
        }
        Ok(spec)
    }

    /// The model's text input for one (question, solution) pair (placeholders in one pass, so
    /// a solution that contains "{question}" stays as written); a step-level verifier reads the
    /// solution's steps, tagged.
    pub fn input<'a>(&self, question: &'a str, solution: &'a str) -> tokenizers::EncodeInput<'a> {
        if let (Per::Step, Some(steps)) = (self.output.per, &self.steps) {
            let question = steps.clean(question).into_owned();
            let (solution, _) = steps.render(solution);
            return match &self.input {
                InputTemplate::Pair => (question, solution).into(),
                InputTemplate::Template { template } => {
                    fill_template(template, &question, &solution).into()
                }
            };
        }
        match &self.input {
            InputTemplate::Pair => (question, solution).into(),
            InputTemplate::Template { template } => {
                fill_template(template, question, solution).into()
            }
        }
    }
}

const PLACEHOLDERS: [&str; 2] = ["{question}", "{solution}"];

/// A template must hold `{solution}`, and no placeholder other than `{question}` and
/// `{solution}` (a misspelled one would reach the model as literal text).
pub(crate) fn check_template(template: &str) -> std::result::Result<(), String> {
    if !template.contains("{solution}") {
        return Err("has no {solution} placeholder".into());
    }
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open..];
        match PLACEHOLDERS.iter().find(|p| after.starts_with(**p)) {
            Some(p) => rest = &after[p.len()..],
            None => {
                let name: String = after.chars().take_while(|&c| c != '}').take(40).collect();
                if after[1..].starts_with(|c: char| c.is_alphanumeric() || c == '_') {
                    return Err(format!(
                        "has an unknown placeholder {name}}}; only {{question}} and {{solution}} are filled in"
                    ));
                }
                rest = &after[1..];
            }
        }
    }
    Ok(())
}

pub(crate) fn fill_template(template: &str, question: &str, solution: &str) -> String {
    let mut text = String::with_capacity(template.len() + question.len() + solution.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        text.push_str(&rest[..open]);
        let after = &rest[open..];
        if let Some(tail) = after.strip_prefix("{question}") {
            text.push_str(question);
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("{solution}") {
            text.push_str(solution);
            rest = tail;
        } else {
            text.push('{');
            rest = &after[1..];
        }
    }
    text.push_str(rest);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_checked_and_filled_once() {
        assert!(check_template("Q: {question}\nA: {solution}").is_ok());
        assert!(check_template("{\"q\": 1} {solution}").is_ok());
        let error = check_template("{question} {nonexistent} {solution}").unwrap_err();
        assert!(
            error.contains("unknown placeholder {nonexistent}"),
            "{error}"
        );
        assert!(check_template("{question}").is_err());
        let steps = StepFormat {
            separator: "\n\n".into(),
            tag: "[MASK]".into(),
            joiner: None,
        };
        assert_eq!(
            steps.render("a [MASK]b\n\n \n\nc\n\n"),
            ("a b[MASK]\n\nc[MASK]".to_owned(), 2)
        );
        assert_eq!(steps.render(""), ("[MASK]".to_owned(), 1));
        let qwen = StepFormat {
            joiner: Some(String::new()),
            tag: "<extra_0>".into(),
            ..steps
        };
        assert_eq!(
            qwen.render("x\n\ny"),
            ("x<extra_0>y<extra_0>".to_owned(), 2)
        );
        assert_eq!(qwen.clean("q<extra_0>"), "q");
        assert_eq!(
            fill_template("Q: {question} A: {solution}", "a {solution}", "b"),
            "Q: a {solution} A: b"
        );
    }

    fn tiny_fixture() -> serde_json::Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/verifier-tiny/verifier.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn the_schema_takes_the_committed_verifier_and_names_each_bad_field() {
        assert_eq!(schema_errors(&tiny_fixture()), Vec::<String>::new());
        type Break = fn(&mut serde_json::Value);
        let cases: [(&str, Break); 9] = [
            ("/output/type", |v| v["output"]["type"] = "logits".into()),
            ("/onnx_inputs", |v| {
                v["onnx_inputs"] = serde_json::json!(["input_ids"])
            }),
            ("/pad_token_id", |v| v["pad_token_id"] = (-1).into()),
            (
                "/calibration",
                |v| {
                    v["calibration"] =
                        serde_json::json!({"method": "platt", "scale": -0.5, "shift": 0})
                },
            ),
            (
                "/input",
                |v| v["input"] = serde_json::json!({"type": "template", "template": "{question}"}),
            ),
            ("/max_length", |v| v["max_length"] = 2.into()),
            ("/version", |v| v["version"] = 2.into()),
            ("/: Additional properties", |v| {
                v["too_lng"] = "error".into()
            }),
            ("/: \"steps\" is a required property", |v| {
                v["output"]["per"] = "step".into();
                v.as_object_mut().unwrap().remove("steps");
            }),
        ];
        for (pointer, break_it) in cases {
            let mut value = tiny_fixture();
            break_it(&mut value);
            let errors = schema_errors(&value);
            assert!(
                errors.iter().any(|e| e.starts_with(pointer)),
                "{pointer}: {errors:?}"
            );
        }
    }

    #[test]
    fn every_required_field_is_named_when_missing() {
        let fixture = tiny_fixture();
        for field in fixture.as_object().unwrap().keys() {
            let mut value = fixture.clone();
            value.as_object_mut().unwrap().remove(field);
            let errors = schema_errors(&value);
            let required = [
                "format",
                "version",
                "input",
                "max_length",
                "truncation_side",
                "too_long",
                "output",
                "onnx_inputs",
                "pad_token_id",
            ];
            if required.contains(&field.as_str()) {
                assert!(
                    errors.iter().any(|e| e.contains(&format!("\"{field}\""))),
                    "{field}: {errors:?}"
                );
            } else {
                assert!(errors.is_empty(), "{field} is optional: {errors:?}");
            }
        }
    }
}
