//! Prompt templates: files with a small header (`mode`, `stop`, `system`), a `---` line, and a
//! body in which `{question}` is replaced by the problem's question.
//!
//! ```text
//! mode: completion            # or `chat`: the body becomes the user message
//! stop: ["\n\nQuestion:"]     # JSON list of stop strings (optional)
//! system: You are ...          # chat only (optional)
//! ---
//! Question: {question}
//! Answer:
//! ```
//!
//! The sha256 of the template file goes into every sample, so a file records exactly which prompt
//! produced it.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The templates that ship inside the binary, by name.
const BUILT_IN: [(&str, &str); 3] = [
    ("gsm8k", include_str!("../../templates/gsm8k.txt")),
    ("math", include_str!("../../templates/math.txt")),
    ("chat", include_str!("../../templates/chat.txt")),
];

const PLACEHOLDER: &str = "{question}";

/// How a rendered prompt is sent to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Plain text continued by the model (few-shot prompts).
    Completion,
    /// A conversation: the model's own chat template is applied (llama) or the chat endpoint is
    /// used (OpenAI-compatible servers).
    Chat,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The built-in name or the file path it was read from.
    pub name: String,
    pub mode: Mode,
    pub system: Option<String>,
    pub stop: Vec<String>,
    body: String,
    /// sha256 of the template's bytes, hex.
    pub sha256: String,
}

/// A rendered prompt for one problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    Completion(String),
    Chat {
        system: Option<String>,
        user: String,
    },
}

/// What the model is given, as people read it: the text, or each chat message under its role.
impl std::fmt::Display for Prompt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Prompt::Completion(text) => writeln!(f, "{text}"),
            Prompt::Chat { system, user } => {
                if let Some(system) = system {
                    writeln!(f, "[system]\n{system}")?;
                }
                writeln!(f, "[user]\n{user}")
            }
        }
    }
}

impl Prompt {
    /// sha256 of what the model is given (for chat, the JSON of the messages), hex.
    pub fn sha256(&self) -> String {
        let mut hasher = Sha256::new();
        match self {
            Prompt::Completion(text) => hasher.update(text.as_bytes()),
            Prompt::Chat { .. } => hasher.update(self.messages().to_string().as_bytes()),
        }
        hex(&hasher.finalize())
    }

    /// The messages of a chat prompt in the OpenAI format (a completion prompt is one user message).
    pub fn messages(&self) -> serde_json::Value {
        match self {
            Prompt::Completion(text) => serde_json::json!([{"role": "user", "content": text}]),
            Prompt::Chat { system, user } => {
                let mut messages = Vec::new();
                if let Some(system) = system {
                    messages.push(serde_json::json!({"role": "system", "content": system}));
                }
                messages.push(serde_json::json!({"role": "user", "content": user}));
                serde_json::Value::Array(messages)
            }
        }
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Template {
    /// A built-in template by name (`gsm8k`, `math`, `chat`), or else a template file.
    pub fn load(name_or_path: &str) -> Result<Self> {
        if let Some((name, text)) = BUILT_IN.iter().find(|(name, _)| *name == name_or_path) {
            return Self::parse(name, text);
        }
        let path = Path::new(name_or_path);
        let text = std::fs::read_to_string(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                Error::Settings(format!(
                    "template `{name_or_path}` is neither a built-in ({}) nor a file",
                    BUILT_IN.map(|(name, _)| name).join(", ")
                ))
            } else {
                Error::io(path, source)
            }
        })?;
        Self::parse(name_or_path, &text)
    }

    /// Parses a template's text; `origin` names it in errors.
    pub fn parse(origin: &str, text: &str) -> Result<Self> {
        let bad = |line: usize, field: Option<&str>, message: String| {
            Error::input(origin, line, field, message)
        };
        let mut mode = None;
        let mut system = None;
        let mut stop = Vec::new();
        let mut body_start = None;
        let mut offset = 0;
        for (index, line) in text.split_inclusive('\n').enumerate() {
            offset += line.len();
            let line_no = index + 1;
            let trimmed = line.trim_end_matches(['\n', '\r']);
            if trimmed == "---" {
                body_start = Some(offset);
                break;
            }
            if trimmed.trim().is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let Some((key, value)) = trimmed.split_once(':') else {
                return Err(bad(line_no, None, "expected `key: value` or `---`".into()));
            };
            let value = value.trim();
            match key.trim() {
                "mode" => {
                    mode = Some(match value {
                        "completion" => Mode::Completion,
                        "chat" => Mode::Chat,
                        other => {
                            return Err(bad(
                                line_no,
                                Some("mode"),
                                format!("`{other}` is not `completion` or `chat`"),
                            ))
                        }
                    })
                }
                "system" => system = Some(value.to_owned()),
                "stop" => {
                    stop = serde_json::from_str(value).map_err(|e| {
                        bad(
                            line_no,
                            Some("stop"),
                            format!("expected a JSON list of strings: {e}"),
                        )
                    })?
                }
                other => {
                    return Err(bad(
                        line_no,
                        Some(other),
                        "unknown header key (known: mode, stop, system)".into(),
                    ))
                }
            }
        }
        let Some(body_start) = body_start else {
            return Err(bad(
                1,
                None,
                "no `---` line between the header and the body".into(),
            ));
        };
        let body = &text[body_start..];
        if !body.contains(PLACEHOLDER) {
            return Err(bad(1, None, format!("the body never uses {PLACEHOLDER}")));
        }
        let mode = mode.unwrap_or(Mode::Completion);
        if mode == Mode::Completion && system.is_some() {
            return Err(bad(
                1,
                Some("system"),
                "only chat templates have a system message".into(),
            ));
        }
        // A completion prompt must end where the model starts writing: keep its last line open.
        let body = match mode {
            Mode::Completion => body.strip_suffix('\n').unwrap_or(body),
            Mode::Chat => body.trim_end(),
        };
        Ok(Template {
            name: origin.to_owned(),
            mode,
            system,
            stop,
            body: body.to_owned(),
            sha256: hex(&Sha256::digest(text.as_bytes())),
        })
    }

    pub fn render(&self, question: &str) -> Prompt {
        let text = self.body.replace(PLACEHOLDER, question.trim());
        match self.mode {
            Mode::Completion => Prompt::Completion(text),
            Mode::Chat => Prompt::Chat {
                system: self.system.clone(),
                user: text,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_ins_parse_and_render() {
        let gsm8k = Template::load("gsm8k").unwrap();
        assert_eq!(gsm8k.mode, Mode::Completion);
        assert_eq!(gsm8k.stop, vec!["\n\nQuestion:", "\n\n\n"]);
        let Prompt::Completion(text) = gsm8k.render("What is 2 + 2?\n") else {
            panic!("completion expected")
        };
        assert!(
            text.ends_with("Question: What is 2 + 2?\nAnswer:"),
            "{text:?}"
        );
        let chat = Template::load("chat").unwrap();
        let prompt = chat.render("What is 2 + 2?");
        let Prompt::Chat { system, user } = &prompt else {
            panic!("chat expected")
        };
        assert!(system.as_deref().unwrap().contains("math tutor"));
        assert!(user.ends_with("What is 2 + 2?"));
        assert_eq!(prompt.messages().as_array().unwrap().len(), 2);
        assert!(Template::load("math").unwrap().render("x").sha256().len() == 64);
    }

    #[test]
    fn sha_is_of_the_file_and_differs_between_templates() {
        let a = Template::parse("a", "---\nQ: {question}\nA:").unwrap();
        let b = Template::parse("b", "---\nQ: {question}\nA: ").unwrap();
        assert_ne!(a.sha256, b.sha256);
        assert_eq!(a.sha256, hex(&Sha256::digest(b"---\nQ: {question}\nA:")));
    }

    #[test]
    fn bad_templates_name_line_and_field() {
        let error = Template::parse("t.txt", "mode: poem\n---\n{question}").unwrap_err();
        assert_eq!(
            error.to_string(),
            "t.txt:1: field `mode`: `poem` is not `completion` or `chat`"
        );
        let error = Template::parse("t.txt", "# c\nstop: [1]\n---\n{question}").unwrap_err();
        assert!(
            error.to_string().starts_with("t.txt:2: field `stop`"),
            "{error}"
        );
        assert!(Template::parse("t.txt", "---\nno placeholder").is_err());
        assert!(Template::parse("t.txt", "Q: {question}").is_err());
        assert!(Template::load("no-such-template").is_err());
    }
}
