//! `verifier.json`: how a verifier directory wants its inputs built and its output read.

use std::path::Path;

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
    /// ONNX output name, `[batch, 1]` float32.
    pub name: String,
    /// `logit`: P(correct) = sigmoid(value); `probability`: the value itself.
    #[serde(rename = "type")]
    pub kind: OutputKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    Logit,
    Probability,
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
        let spec: VerifierSpec = serde_json::from_str(&text)
            .map_err(|e| Error::ModelLoad(format!("{}: {e}", path.display())))?;
        if spec.format != "bestofn-verifier" || spec.version != 1 {
            return Err(Error::ModelLoad(format!(
                "{}: expected format \"bestofn-verifier\" version 1, found {:?} version {}",
                path.display(),
                spec.format,
                spec.version
            )));
        }
        for required in ["input_ids", "attention_mask"] {
            if !spec.onnx_inputs.iter().any(|i| i == required) {
                return Err(Error::ModelLoad(format!(
                    "{}: onnx_inputs must include {required:?}",
                    path.display()
                )));
            }
        }
        if spec.max_length < 4 {
            return Err(Error::ModelLoad(format!(
                "{}: max_length {} is too small",
                path.display(),
                spec.max_length
            )));
        }
        Ok(spec)
    }

    /// The model's text input for one (question, solution) pair.
    pub fn input<'a>(&self, question: &'a str, solution: &'a str) -> tokenizers::EncodeInput<'a> {
        match &self.input {
            InputTemplate::Pair => (question, solution).into(),
            InputTemplate::Template { template } => template
                .replace("{question}", question)
                .replace("{solution}", solution)
                .into(),
        }
    }
}
