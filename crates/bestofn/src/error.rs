//! Typed errors of the library, tagged by the phase in which they arise.

use std::path::PathBuf;

/// Everything that can go wrong in a pipeline stage.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened, read or written (the cause is the `source`, printed after
    /// the path by the error chain).
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An input record is malformed: names the file, the 1-based line and the field.
    #[error("{}:{line}: {}{message}", path.display(), field.as_ref().map(|f| format!("field `{f}`: ")).unwrap_or_default())]
    Input {
        path: PathBuf,
        line: usize,
        field: Option<String>,
        message: String,
    },
    /// The inputs are individually valid but do not fit together (unknown problem, missing labels, ...).
    #[error("{0}")]
    Inconsistent(String),
    /// Settings that cannot work, found before any work starts.
    #[error("invalid settings: {0}")]
    Settings(String),
    /// A model (verifier directory, ONNX Runtime library) could not be loaded or does not fit its
    /// description.
    #[error("{0}")]
    ModelLoad(String),
    /// Running a loaded model failed, or it gave outputs that cannot be probabilities.
    #[error("{0}")]
    ModelRun(String),
    /// A generator (GGUF model, server settings) could not be loaded.
    #[error("loading the generator: {0}")]
    GeneratorLoad(String),
    /// Generation failed while running (a server that kept failing, a decode error); everything
    /// generated before is kept and a re-run resumes.
    #[error("generating: {0}")]
    Generation(String),
    /// A server refused a request in a way that retrying cannot fix (a 4xx other than 408/429).
    #[error("the server refused the request: {0}")]
    Rejected(String),
    /// Another process holds the lock on an append-only file.
    #[error("{0}")]
    Busy(String),
    /// A run stopped part way; what it wrote before is kept (`source` says why it stopped).
    #[error("stopped; {kept} {what} are safe in {}{}", path.display(), if *resumable { " (run the same command again to go on from there)" } else { "" })]
    Stopped {
        kept: usize,
        /// What was kept: "samples", "scores".
        what: &'static str,
        path: PathBuf,
        resumable: bool,
        #[source]
        source: Box<Error>,
    },
    /// A report (plot, markdown, metrics) could not be produced.
    #[error("while writing the report: {0}")]
    Report(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub fn input(
        path: impl Into<PathBuf>,
        line: usize,
        field: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Error::Input {
            path: path.into(),
            line,
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }

    /// Prefixes the message of a model-loading error with what was being loaded.
    pub fn loading(self, what: &str) -> Self {
        match self {
            Error::ModelLoad(message) => Error::ModelLoad(format!("loading {what}: {message}")),
            other => other,
        }
    }

    /// Process exit code for this error, stable for scripts (sysexits.h values).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input { .. } | Error::Inconsistent(_) => 65,
            Error::Settings(_) => 64,
            Error::Io { .. } | Error::Report(_) => 74,
            Error::ModelLoad(_) | Error::GeneratorLoad(_) => 69,
            Error::Generation(_) | Error::Busy(_) => 75,
            Error::Rejected(_) => 76,
            Error::ModelRun(_) => 70,
            Error::Stopped { source, .. } => source.exit_code(),
        }
    }

    /// Whether running the same command again may get past this error: a failure of the
    /// machine or a server (I/O, a server that gave up, a busy file), not of the input, the
    /// settings or the model, which a rerun meets again.
    pub fn rerun_may_help(&self) -> bool {
        match self {
            Error::Io { .. } | Error::ModelRun(_) | Error::Generation(_) | Error::Busy(_) => true,
            Error::Stopped { source, .. } => source.rerun_may_help(),
            Error::Input { .. }
            | Error::Inconsistent(_)
            | Error::Settings(_)
            | Error::ModelLoad(_)
            | Error::GeneratorLoad(_)
            | Error::Rejected(_)
            | Error::Report(_) => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
