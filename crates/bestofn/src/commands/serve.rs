//! `bestofn serve`.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use super::Outcome;
use crate::error::{Error, Result};
use crate::score::args::ScorerArgs;
use crate::serve::{serve, ServeOptions};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on. Anything but loopback needs a token (--token-env).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0: any free one, printed at start).
    #[arg(long, default_value_t = 5000)]
    pub port: u16,
    /// The environment variable holding the bearer token every request but /health must carry
    /// (`Authorization: Bearer TOKEN`); required to listen on anything but loopback.
    #[arg(long, value_name = "VAR")]
    pub token_env: Option<String>,
    /// Largest request body (K, M, G suffixes); larger ones get 413.
    #[arg(long, default_value = "16M", value_parser = crate::io::args::byte_size, value_name = "BYTES")]
    pub body_limit: usize,
    /// Requests answered at once; more get 503 with Retry-After.
    #[arg(long, default_value_t = 64)]
    pub max_concurrent: usize,
    /// Seconds a request may take, body upload included; longer ones get 408.
    #[arg(long, default_value_t = 60)]
    pub request_timeout_secs: u64,
    /// Seconds a client may take to send its request's headers before it is cut off.
    #[arg(long, default_value_t = 10)]
    pub header_timeout_secs: u64,
    /// Seconds the requests in flight may take to finish after SIGTERM.
    #[arg(long, default_value_t = 30)]
    pub drain_secs: u64,
    /// Verifier directory for /score and for /get_reward rows without a label (in process, ONNX
    /// Runtime); without it those answer 501.
    #[arg(long)]
    pub verifier: Option<PathBuf>,
    /// Threads answering requests (and running the verifier); default: every core.
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub scorer: ScorerArgs,
}

#[derive(Debug)]
pub struct Settings {
    options: ServeOptions,
}

impl Args {
    pub fn resolve(self) -> Result<Settings> {
        let address = socket_address(&self.host, self.port)?;
        let token = match &self.token_env {
            Some(var) => match std::env::var(var) {
                Ok(token) if !token.trim().is_empty() => Some(token),
                _ => {
                    return Err(Error::Settings(format!(
                        "--token-env {var}: the environment variable {var} is not set (or empty)"
                    )))
                }
            },
            None => None,
        };
        if token.is_none() && !address.ip().is_loopback() {
            return Err(Error::Settings(format!(
                "refusing to listen on {address} without a token: anyone who reaches it could use \
                 it. Put a token in an environment variable and name it with --token-env (every \
                 request then carries `Authorization: Bearer TOKEN`), or listen on 127.0.0.1"
            )));
        }
        for (value, flag) in [
            (self.max_concurrent as u64, "--max-concurrent"),
            (self.request_timeout_secs, "--request-timeout-secs"),
            (self.header_timeout_secs, "--header-timeout-secs"),
        ] {
            if value == 0 {
                return Err(Error::Settings(format!("{flag} must be at least 1")));
            }
        }
        let threads = self.threads.unwrap_or_else(crate::default_threads);
        let verifier = match self.verifier {
            Some(dir) => Some((
                self.scorer.resolve(dir, Some(threads))?,
                self.scorer.token_budget,
            )),
            None => None,
        };
        Ok(Settings {
            options: ServeOptions {
                address,
                token,
                body_limit: self.body_limit,
                max_concurrent: self.max_concurrent,
                request_timeout: Duration::from_secs(self.request_timeout_secs),
                header_timeout: Duration::from_secs(self.header_timeout_secs),
                drain_timeout: Duration::from_secs(self.drain_secs),
                verifier,
                threads,
            },
        })
    }
}

/// `host:port` as one address (a name is looked up; the first address it has).
fn socket_address(host: &str, port: u16) -> Result<SocketAddr> {
    (host, port)
        .to_socket_addrs()
        .map_err(|e| Error::Settings(format!("--host {host}: {e}")))?
        .next()
        .ok_or_else(|| Error::Settings(format!("--host {host}: no address")))
}

pub fn run(settings: Settings) -> Result<Outcome> {
    let summary = serve(settings.options, |address| {
        // The line scripts wait for: where the server listens (port 0 picks one).
        eprintln!("listening on http://{address}");
    })?;
    Ok(Outcome::summary(if summary.drained {
        format!(
            "stopped: every request in flight was answered ({})",
            summary.address
        )
    } else {
        format!(
            "stopped: --drain-secs ran out with requests still in flight ({})",
            summary.address
        )
    }))
}
