//! The `vllm-offline` backend: vLLM's offline engine (`vllm.LLM`), the way clusters generate at
//! full throughput without a server. A Python worker (`vllm_offline.py`, run with the
//! interpreter that has vLLM) loads the model once; each batch of jobs goes to it as one
//! `LLM.generate` (or `LLM.chat`) call of one request per sample, each with its own seed, so a
//! sample is the same whether it is drawn alone, in another batch or after a resume. A batch's
//! samples are appended when it finishes: a kill loses at most one batch.

use std::io::{BufRead, BufReader, Read, Seek, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;

use clap::Args;
use serde_json::{json, Map, Value};

use super::{Backend, BackendConfig, Completion, Generated, Job, Prompt, SamplingParams};
use crate::error::{Error, Result};

const WORKER: &str = include_str!("vllm_offline.py");

/// `--backend vllm-offline`.
#[derive(Debug, Args)]
#[command(next_help_heading = "vLLM offline engine (--backend vllm-offline)")]
pub struct VllmOfflineArgs {
    /// The Python interpreter that has vLLM (default: the active virtual environment's, else
    /// python3).
    #[arg(long, value_name = "PYTHON")]
    pub vllm_python: Option<PathBuf>,
    /// An engine argument of vllm.LLM, KEY=VALUE (repeatable): dtype=bfloat16,
    /// tensor_parallel_size=8, max_model_len=4096; VALUE is read as JSON when it parses as JSON,
    /// else as text.
    #[arg(long, value_name = "KEY=VALUE")]
    pub vllm_arg: Vec<String>,
    /// Jobs (a problem's missing samples) per engine call; each call's samples are appended
    /// when it finishes.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub vllm_batch: usize,
}

impl VllmOfflineArgs {
    /// The options of `--backend vllm-offline`, generating with `model`.
    pub fn configure(&self, model: Option<&str>) -> Result<VllmOfflineOptions> {
        let model = model.ok_or_else(|| {
            Error::Settings(
                "--backend vllm-offline needs --model: a Hugging Face directory or name vLLM loads"
                    .into(),
            )
        })?;
        if self.vllm_batch == 0 {
            return Err(Error::Settings("--vllm-batch must be at least 1".into()));
        }
        let mut engine_args = Map::new();
        for pair in &self.vllm_arg {
            let Some((key, value)) = pair.split_once('=').filter(|(k, _)| !k.trim().is_empty())
            else {
                return Err(Error::Settings(format!(
                    "--vllm-arg {pair:?}: expected KEY=VALUE (dtype=bfloat16)"
                )));
            };
            let value = serde_json::from_str(value).unwrap_or_else(|_| Value::from(value));
            if engine_args.insert(key.trim().to_owned(), value).is_some() {
                return Err(Error::Settings(format!("--vllm-arg {key} given twice")));
            }
        }
        let python = self.vllm_python.clone().unwrap_or_else(|| {
            std::env::var_os("VIRTUAL_ENV")
                .map(|env| PathBuf::from(env).join("bin/python"))
                .filter(|python| python.exists())
                .unwrap_or_else(|| PathBuf::from("python3"))
        });
        Ok(VllmOfflineOptions {
            model: model.to_owned(),
            python,
            engine_args,
            batch: self.vllm_batch,
        })
    }
}

/// What `--backend vllm-offline` runs.
#[derive(Debug, Clone)]
pub struct VllmOfflineOptions {
    pub model: String,
    pub python: PathBuf,
    pub engine_args: Map<String, Value>,
    pub batch: usize,
}

impl BackendConfig for VllmOfflineOptions {
    fn describe(&self) -> String {
        format!(
            "vLLM offline engine in {}: model {}, engine arguments {}, {} jobs per call",
            self.python.display(),
            self.model,
            Value::Object(self.engine_args.clone()),
            self.batch
        )
    }

    fn open(&self) -> Result<Box<dyn Backend>> {
        Ok(Box::new(VllmOfflineBackend::start(self)?))
    }
}

/// The worker process and its pipes.
struct Worker {
    child: Child,
    input: Option<ChildStdin>,
    output: BufReader<ChildStdout>,
    /// Where the worker's stderr (vLLM's log) goes, for the error when it fails.
    log: std::fs::File,
}

impl Worker {
    /// The end of the worker's log: what vLLM said before it failed.
    fn log_tail(&mut self) -> String {
        let mut text = String::new();
        let _ = self
            .log
            .rewind()
            .and_then(|()| self.log.read_to_string(&mut text));
        let lines: Vec<&str> = text.lines().rev().take(12).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    fn failed(&mut self, what: &str) -> Error {
        let status = self.child.try_wait().ok().flatten();
        let ended = status.map_or(String::new(), |s| format!(" (the worker exited: {s})"));
        Error::Generation(format!(
            "the vLLM worker {what}{ended}; its log ends:\n{}",
            self.log_tail()
        ))
    }

    /// The worker's next message.
    fn next_message(&mut self) -> Result<Value> {
        let mut line = String::new();
        match self.output.read_line(&mut line) {
            Ok(0) | Err(_) => Err(self.failed("stopped answering")),
            Ok(_) => serde_json::from_str(&line)
                .map_err(|_| self.failed(&format!("said something unexpected: {line:?}"))),
        }
    }
}

pub struct VllmOfflineBackend {
    model: String,
    batch: usize,
    version: String,
    worker: Mutex<Worker>,
}

impl VllmOfflineBackend {
    /// Starts the worker and waits until it has loaded the model.
    fn start(options: &VllmOfflineOptions) -> Result<Self> {
        let load_error = |e: std::io::Error| {
            Error::GeneratorLoad(format!(
                "{}: {e} (name the Python that has vLLM with --vllm-python)",
                options.python.display()
            ))
        };
        let log = tempfile::tempfile().map_err(load_error)?;
        let config = json!({"model": options.model, "engine_args": options.engine_args});
        let mut child = Command::new(&options.python)
            .args(["-c", WORKER])
            .arg(config.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log.try_clone().map_err(load_error)?)
            .spawn()
            .map_err(load_error)?;
        let mut worker = Worker {
            input: child.stdin.take(),
            output: BufReader::new(child.stdout.take().expect("stdout is piped")),
            child,
            log,
        };
        let ready = worker.next_message().map_err(|_| {
            Error::GeneratorLoad(format!(
                "vLLM could not load {} with {}; its log ends:\n{}",
                options.model,
                options.python.display(),
                worker.log_tail()
            ))
        })?;
        Ok(VllmOfflineBackend {
            model: options.model.clone(),
            batch: options.batch,
            version: ready["vllm"].as_str().unwrap_or("unknown").to_owned(),
            worker: Mutex::new(worker),
        })
    }

    /// Generates `jobs` in one engine call, handing each sample to `emit` with its job.
    fn run_batch(
        &self,
        jobs: &[Job],
        params: &SamplingParams,
        emit: &mut dyn FnMut(&Job, Completion) -> Result<()>,
    ) -> Result<()> {
        let mut worker = self.worker.lock().expect("worker lock");
        let mut requests = Vec::new();
        let mut text = String::new();
        for job in jobs {
            for slot in &job.slots {
                let mut request = json!({
                    "id": requests.len(), "seed": slot.seed, "temperature": params.temperature,
                    "top_p": params.top_p, "top_k": params.top_k,
                    "max_tokens": params.max_tokens, "stop": params.stop,
                });
                match &job.prompt {
                    Prompt::Completion(prompt) => request["prompt"] = json!(prompt),
                    Prompt::Chat { system, user } => {
                        let mut messages = Vec::new();
                        if let Some(system) = system {
                            messages.push(json!({"role": "system", "content": system}));
                        }
                        messages.push(json!({"role": "user", "content": user}));
                        request["messages"] = Value::Array(messages);
                    }
                }
                text.push_str(&request.to_string());
                text.push('\n');
                requests.push((job, slot.sample_idx));
            }
        }
        text.push_str("{\"run\": true}\n");
        let input = worker.input.as_mut().expect("the worker's stdin is open");
        if input
            .write_all(text.as_bytes())
            .and_then(|()| input.flush())
            .is_err()
        {
            return Err(worker.failed("stopped reading"));
        }
        loop {
            let message = worker.next_message()?;
            if message["done"] == true {
                return Ok(());
            }
            let Some(&(job, sample_idx)) = message["id"]
                .as_u64()
                .and_then(|i| requests.get(i as usize))
            else {
                return Err(worker.failed(&format!("answered an unknown request: {message}")));
            };
            let generated = Generated {
                finish_reason: message["finish_reason"].as_str().map(str::to_owned),
                num_tokens: message["tokens"].as_u64().map(|t| t as u32),
                server: Some(Map::from_iter([("vllm".to_owned(), json!(self.version))])),
                ..Generated::default()
            };
            let text = message["text"].as_str().unwrap_or_default().to_owned();
            emit(job, Completion::generated(sample_idx, text, generated))?;
        }
    }
}

impl Backend for VllmOfflineBackend {
    fn kind(&self) -> &'static str {
        "vllm-offline"
    }

    fn model(&self) -> String {
        self.model.clone()
    }

    fn run(
        &self,
        job: &Job,
        params: &SamplingParams,
        emit: &mut dyn FnMut(Completion) -> Result<()>,
    ) -> Result<()> {
        self.run_batch(std::slice::from_ref(job), params, &mut |_, completion| {
            emit(completion)
        })
    }

    fn run_jobs(
        &self,
        jobs: &[Job],
        params: &SamplingParams,
        emit: &mut dyn FnMut(&Job, Completion) -> Result<()>,
    ) -> Result<()> {
        jobs.chunks(self.batch)
            .try_for_each(|batch| self.run_batch(batch, params, emit))
    }
}

impl Drop for VllmOfflineBackend {
    fn drop(&mut self) {
        if let Ok(worker) = self.worker.get_mut() {
            // Its stdin closed, the worker's loop ends; a worker stuck in vLLM is killed.
            worker.input.take();
            let _ = worker.child.kill();
            let _ = worker.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[&str], batch: usize) -> VllmOfflineArgs {
        VllmOfflineArgs {
            vllm_python: Some("python".into()),
            vllm_arg: pairs.iter().map(|p| p.to_string()).collect(),
            vllm_batch: batch,
        }
    }

    #[test]
    fn engine_arguments_are_json_where_they_parse_and_text_elsewhere() {
        let options = args(
            &[
                "dtype=bfloat16",
                "tensor_parallel_size=8",
                "enforce_eager=true",
            ],
            4,
        )
        .configure(Some("m"))
        .unwrap();
        let expected =
            json!({"dtype": "bfloat16", "tensor_parallel_size": 8, "enforce_eager": true});
        assert_eq!(Value::Object(options.engine_args), expected);
    }

    #[test]
    fn settings_that_cannot_work_are_refused_before_the_engine_loads() {
        let refused = |args: VllmOfflineArgs, model: Option<&str>, says: &str| {
            let error = args.configure(model).unwrap_err().to_string();
            assert!(error.contains(says), "{error}");
        };
        refused(args(&[], 4), None, "needs --model");
        refused(args(&["dtype"], 4), Some("m"), "expected KEY=VALUE");
        refused(args(&["=1"], 4), Some("m"), "expected KEY=VALUE");
        refused(args(&["a=1", "a=2"], 4), Some("m"), "given twice");
        refused(args(&[], 0), Some("m"), "--vllm-batch");
    }

    #[test]
    fn a_python_without_the_worker_is_a_load_error_with_its_log() {
        let options = args(&[], 1).configure(Some("m")).unwrap();
        let missing = VllmOfflineOptions {
            python: "/nonexistent/python".into(),
            ..options.clone()
        };
        let error = VllmOfflineBackend::start(&missing)
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("--vllm-python"), "{error}");
        // A Python that starts but has no vLLM: what it printed is in the error.
        let Some(python) = ["python3", "/usr/bin/python3"].iter().find(|p| {
            Command::new(p)
                .arg("-c")
                .arg("import sys")
                .status()
                .is_ok_and(|s| s.success())
        }) else {
            return;
        };
        let no_vllm = Command::new(python)
            .args(["-c", "import vllm"])
            .status()
            .is_ok_and(|s| !s.success());
        if no_vllm {
            let options = VllmOfflineOptions {
                python: python.into(),
                ..options
            };
            let error = VllmOfflineBackend::start(&options)
                .err()
                .unwrap()
                .to_string();
            assert!(error.contains("vllm"), "{error}");
        }
    }
}
