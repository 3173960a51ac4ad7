//! What every served verifier is configured from: the engine-neutral flags ([`ServedFlags`], the
//! same for `score --base-url ...` and `solve --score-base-url ...`) and the verifier directory
//! that may give a template, step tags and a calibration. Each engine reads what it needs in
//! its own file (`Vllm::configure`, ...); the registry in `mod.rs` picks the engine.

use super::spec::{check_template, InputTemplate, StepFormat, VerifierSpec};
use crate::error::Error;

/// Which endpoint of an engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EndpointArg {
    /// vLLM: a cross-encoder given (question, solution) pairs.
    Score,
    /// vLLM: a sequence classifier given one text per pair (see --template).
    Classify,
    /// vLLM: a process reward model (token classification with step pooling) given one text per
    /// pair with its steps tagged (see --step-tag).
    Pooling,
    /// TEI: a classifier given (question, solution) pairs.
    Predict,
    /// TEI: a reranker given the question as query.
    Rerank,
}

/// A served verifier's flags, as given (checked by the engine that reads them).
#[derive(Debug, Clone, Default)]
pub struct ServedFlags {
    /// What the command's flags start with (`score-` in `solve`), for messages.
    pub prefix: &'static str,
    pub model: Option<String>,
    pub endpoint: Option<EndpointArg>,
    pub template: Option<String>,
    pub step_separator: Option<String>,
    pub step_tag: Option<String>,
    pub step_joiner: Option<String>,
    pub label: Option<String>,
    /// judge: the file of the judge's prompt.
    pub judge_template: Option<std::path::PathBuf>,
    /// judge: sampled verifications per solution, each a rationale ending in a verdict.
    pub verifications: Option<u32>,
    /// judge with verifications: the most tokens of a rationale, and its temperature.
    pub judge_max_tokens: Option<u32>,
    pub judge_temperature: Option<f64>,
}

impl ServedFlags {
    /// The flag `name` as this command spells it.
    pub fn flag(&self, name: &str) -> String {
        format!("--{}{name}", self.prefix)
    }

    /// The served model's name, which this engine needs.
    pub fn model(&self) -> Result<String, Error> {
        self.model.clone().ok_or_else(|| {
            Error::Settings(format!(
                "this backend needs {} (the name the server serves)",
                self.flag("model")
            ))
        })
    }

    /// The endpoint, refused where the engine has no such endpoint.
    pub fn endpoint_of(
        &self,
        engine: &str,
        allowed: &[EndpointArg],
    ) -> Result<Option<EndpointArg>, Error> {
        match self.endpoint {
            Some(_) if allowed.is_empty() => Err(Error::Settings(format!(
                "{} does not apply to {engine}: it has one endpoint",
                self.flag("endpoint")
            ))),
            Some(endpoint) if !allowed.contains(&endpoint) => Err(Error::Settings(
                format!(
                    "{} {endpoint:?} is not one of {engine}'s ({allowed:?})",
                    self.flag("endpoint")
                )
                .to_lowercase(),
            )),
            endpoint => Ok(endpoint),
        }
    }

    /// The text template: the flag, else the verifier directory's.
    pub fn template(&self, verifier: Option<&VerifierSpec>) -> Result<String, Error> {
        if let Some(template) = &self.template {
            check_template(template)
                .map_err(|why| Error::Settings(format!("{} {why}", self.flag("template"))))?;
            return Ok(template.clone());
        }
        let from_directory = verifier.and_then(|spec| match &spec.input {
            InputTemplate::Template { template } => Some(template.clone()),
            InputTemplate::Pair => None,
        });
        from_directory.ok_or_else(|| {
            Error::Settings(format!(
                "a one-text endpoint needs {} 'Question: {{question}}\\nAnswer: {{solution}}' \
                 (or --verifier DIR whose verifier.json has a template input); for a pair \
                 verifier use vLLM's score endpoint or TEI's predict",
                self.flag("template")
            ))
        })
    }

    /// How solutions are cut into steps and tagged: the flags, else the verifier directory's.
    pub fn steps(&self, verifier: Option<&VerifierSpec>) -> Result<StepFormat, Error> {
        let from_directory = verifier.and_then(|spec| spec.steps.clone());
        let tag = self
            .step_tag
            .clone()
            .or_else(|| from_directory.as_ref().map(|steps| steps.tag.clone()))
            .ok_or_else(|| {
                Error::Settings(format!(
                    "{} pooling needs {} TOKEN, the token after each step where the model reads \
                     a step's score (or --verifier DIR whose verifier.json has steps)",
                    self.flag("endpoint"),
                    self.flag("step-tag")
                ))
            })?;
        let steps = StepFormat {
            separator: self
                .step_separator
                .clone()
                .or_else(|| from_directory.as_ref().map(|s| s.separator.clone()))
                .unwrap_or_else(|| "\n\n".into()),
            tag,
            joiner: self
                .step_joiner
                .clone()
                .or_else(|| from_directory.and_then(|s| s.joiner)),
        };
        steps.check().map_err(|why| {
            Error::Settings(format!(
                "{}/{}: {why}",
                self.flag("step-separator"),
                self.flag("step-tag")
            ))
        })?;
        Ok(steps)
    }
}
