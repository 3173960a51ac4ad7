//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `../shared/data` beside the repository: real third-party data, read in place.
pub fn shared_data(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(relative)
}

/// A committed fixture under `tests/fixtures`.
pub fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative)
}

/// The project's Python environment (scripts/setup.sh creates it).
pub fn venv_python() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh first",
        python.display()
    );
    python
}

/// Runs `python -m bestofn_verifier ARGS` from verifier/ and asserts it succeeds.
pub fn run_verifier_tool(args: &[&std::ffi::OsStr]) -> String {
    let output = std::process::Command::new(venv_python())
        .args(["-m", "bestofn_verifier"])
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("verifier"))
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "bestofn_verifier {:?} failed:\n{}",
        args,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `score` of every line of a JSONL file.
pub fn scores_of(path: &Path) -> Vec<f64> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["score"]
                .as_f64()
                .unwrap()
        })
        .collect()
}
