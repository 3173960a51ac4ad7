//! Flag groups several stages share: reading samples, and talking to servers.

use std::time::Duration;

use clap::Args;

use super::http::HttpOptions;
use crate::error::Error;

#[derive(Debug, Clone, Copy, Args)]
pub struct InputArgs {
    /// Count and skip malformed sample lines (and repeated keys) instead of failing.
    #[arg(long)]
    pub skip_invalid: bool,
}

/// How a server backend makes and retries its requests (`generate --backend openai`, remote
/// scorers).
#[derive(Debug, Clone, Args)]
pub struct HttpArgs {
    /// The environment variable that holds the API key (never logged).
    #[arg(long, default_value = "OPENAI_API_KEY", value_name = "VAR")]
    pub api_key_env: String,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4)]
    pub max_in_flight: usize,
    /// Retries of a request that failed with 429, 5xx, a timeout or a dropped connection.
    #[arg(long, default_value_t = 6)]
    pub max_retries: u32,
    /// First retry delay in milliseconds, doubled on each retry (Retry-After wins).
    #[arg(long, default_value_t = 500)]
    pub retry_base_ms: u64,
    /// Seconds before a request counts as timed out.
    #[arg(long, default_value_t = 600)]
    pub timeout_secs: u64,
}

impl HttpArgs {
    pub fn resolve(&self) -> Result<HttpOptions, Error> {
        for (value, flag) in [
            (self.max_in_flight as u64, "--max-in-flight"),
            (self.timeout_secs, "--timeout-secs"),
        ] {
            if value == 0 {
                return Err(Error::Settings(format!("{flag} must be at least 1")));
            }
        }
        Ok(HttpOptions {
            api_key: std::env::var(&self.api_key_env)
                .ok()
                .filter(|k| !k.is_empty()),
            max_retries: self.max_retries,
            timeout: Duration::from_secs(self.timeout_secs),
            retry_base: Duration::from_millis(self.retry_base_ms),
        })
    }
}

/// The grader's answer styles as a flag's values (the grader crate knows no CLI).
pub fn answer_style() -> impl clap::builder::TypedValueParser<Value = crate::grade::AnswerStyle> {
    use crate::grade::AnswerStyle;
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser as _};
    let values =
        AnswerStyle::ALL.map(|style| PossibleValue::new(style.name()).help(style.summary()));
    PossibleValuesParser::new(values).map(|name| {
        name.parse::<AnswerStyle>()
            .expect("every possible value is a style's name")
    })
}

/// A size in bytes: `1048576`, `512K`, `256M`, `2G` (powers of 1024), at least 1.
pub fn byte_size(text: &str) -> std::result::Result<usize, String> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, ""),
    };
    let scale: usize = match unit.to_ascii_uppercase().trim_end_matches(['B', 'I']) {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        _ => {
            return Err(format!(
                "{text:?} is not a size: write bytes, or a number with K, M or G"
            ))
        }
    };
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{text:?} is not a size of at least one byte"))
}
