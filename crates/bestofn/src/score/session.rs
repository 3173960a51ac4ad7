//! ONNX Runtime through `ort`, its shared library loaded at run time: the process-wide
//! environment, sessions, and a model wrapper shared by the verifier and the embedder.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::{Tensor, TensorElementType, ValueType};

use crate::error::{Error, Result};

/// The ONNX Runtime release whose library bestofn is built against (`api-31`).
const ORT_LIBRARY: &str = "libonnxruntime.so";

/// Where the ONNX Runtime library is looked for, in order: the explicit path (the flag, else
/// `ORT_DYLIB_PATH`, resolved with the settings: [`super::args::ort_library`]); the wheel
/// (`onnxruntime` or `onnxruntime-gpu`, both install `onnxruntime/capi/`) of the active Python
/// environment (`VIRTUAL_ENV`, else `CONDA_PREFIX`); the project's `.venv` in the current
/// directory, its ancestors, or beside the executable's build directory; the wheel that
/// `python3` on PATH imports.
pub fn find_library(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = explicit {
        return Ok(path.to_owned());
    }
    let active = ["VIRTUAL_ENV", "CONDA_PREFIX"]
        .into_iter()
        .filter_map(std::env::var_os)
        .find_map(|prefix| crate::locate::in_environment(Path::new(&prefix), WHEEL_DIR));
    let found = active
        .or_else(|| crate::locate::site_packages_dir(".venv", WHEEL_DIR))
        .or_else(python_wheel_dir)
        .and_then(|dir| crate::locate::file_with_prefix(&dir, ORT_LIBRARY));
    if let Some(found) = found {
        tracing::info!(library = %found.display(), "ONNX Runtime found");
        return Ok(found);
    }
    Err(Error::ModelLoad(
        "no ONNX Runtime library found: `pip install onnxruntime` (or onnxruntime-gpu) into the \
         active environment, pass --ort-lib PATH, set ORT_DYLIB_PATH, or run scripts/setup.sh \
         (it installs the wheel into .venv)"
            .into(),
    ))
}

/// Where the onnxruntime wheel keeps its library, inside site-packages.
const WHEEL_DIR: &str = "onnxruntime/capi";

/// The wheel's library directory as `python3` on PATH imports it, if it does.
fn python_wheel_dir() -> Option<PathBuf> {
    let output = std::process::Command::new("python3")
        .args([
            "-c",
            "import onnxruntime, os; print(os.path.dirname(onnxruntime.__file__))",
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let dir = String::from_utf8(output.stdout).ok()?;
    let capi = Path::new(dir.trim()).join("capi");
    (output.status.success() && capi.is_dir()).then_some(capi)
}

/// The process-wide ONNX Runtime environment (only one may exist per process).
fn environment(library: &Path) -> Result<&'static Environment> {
    static ENVIRONMENT: OnceLock<std::result::Result<Environment, String>> = OnceLock::new();
    ENVIRONMENT
        .get_or_init(|| {
            if !library.is_file() {
                return Err(format!(
                    "ONNX Runtime library {} does not exist",
                    library.display()
                ));
            }
            ort::init_from(library)
                .map_err(|e| format!("loading ONNX Runtime from {}: {e}", library.display()))?
                .with_name("bestofn")
                .build()
                .map_err(|e| format!("starting ONNX Runtime: {e}"))
        })
        .as_ref()
        .map_err(|e| Error::ModelLoad(e.clone()))
}

/// An ONNX Runtime session on `model` (a file), in the process-wide environment.
pub(crate) fn open_session(
    model: &Path,
    library: &Path,
    threads: usize,
    device: Device,
) -> Result<Session> {
    let environment = environment(library)?;
    if !model.is_file() {
        return Err(Error::ModelLoad(format!(
            "{} does not exist",
            model.display()
        )));
    }
    let load_error =
        |e: &dyn std::fmt::Display| Error::ModelLoad(format!("{}: {e}", model.display()));
    let mut builder = Session::builder(environment)
        .map_err(|e| load_error(&e))?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(|e| load_error(&e))?
        .with_intra_threads(threads.max(1))
        .map_err(|e| load_error(&e))?
        .with_inter_threads(1)
        .map_err(|e| load_error(&e))?;
    if device == Device::Cuda {
        builder = with_cuda(builder)?;
    }
    builder.commit_from_file(model).map_err(|e| load_error(&e))
}

/// Execution device for the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    #[default]
    Cpu,
    /// ONNX Runtime's CUDA execution provider (cargo feature `cuda`).
    Cuda,
}

/// An ONNX Runtime session that takes named int64 `[rows, columns]` inputs and gives one float32
/// output of `[rows, width]`: the part of running a model that the verifier and the embedder
/// share.
pub struct OnnxModel {
    session: Session,
    path: PathBuf,
    inputs: Vec<String>,
    output: String,
}

/// The int64 inputs of one batch, by name, row-major `[rows, columns]`.
pub struct Inputs {
    pub rows: usize,
    pub columns: usize,
    pub tensors: Vec<(&'static str, Vec<i64>)>,
}

impl OnnxModel {
    /// Opens `model` and checks that its inputs are exactly `inputs` (int64) and that it has a
    /// float32 output named `output`.
    pub fn load(
        model: &Path,
        library: &Path,
        threads: usize,
        device: Device,
        inputs: &[String],
        output: &str,
    ) -> Result<Self> {
        let session = open_session(model, library, threads, device)?;
        let loaded = OnnxModel {
            session,
            path: model.to_owned(),
            inputs: inputs.to_vec(),
            output: output.to_owned(),
        };
        loaded.check_signature()?;
        Ok(loaded)
    }

    /// Runs one batch; the output as `(width, values)` with `rows × width` values.
    pub fn run(&mut self, batch: Inputs) -> Result<(usize, Vec<f32>)> {
        let rows = batch.rows;
        let (shape, values) = self.run_raw(batch)?;
        let width = values.len() / rows.max(1);
        if shape.len() != 2 || width * rows != values.len() || width == 0 {
            return Err(Error::ModelRun(format!(
                "{}: output {:?} has shape {shape:?} for {rows} rows",
                self.path.display(),
                self.output
            )));
        }
        Ok((width, values))
    }

    /// Runs one batch; the output's shape and values (row-major), whatever its rank.
    pub fn run_raw(&mut self, batch: Inputs) -> Result<(Vec<usize>, Vec<f32>)> {
        let shape = [batch.rows, batch.columns];
        let mut tensors = batch.tensors;
        let mut values = Vec::with_capacity(self.inputs.len());
        for name in &self.inputs {
            let position = tensors.iter().position(|(n, _)| n == name).ok_or_else(|| {
                Error::ModelLoad(format!(
                    "{}: input {name:?} is not one bestofn feeds (input_ids, attention_mask, token_type_ids)",
                    self.path.display()
                ))
            })?;
            let data = std::mem::take(&mut tensors[position].1);
            let tensor = Tensor::from_array((shape, data))
                .map_err(|e| Error::ModelRun(format!("building an input tensor: {e}")))?;
            values.push((name.clone(), tensor));
        }
        let outputs = self
            .session
            .run(values)
            .map_err(|e| Error::ModelRun(format!("{}: {e}", self.path.display())))?;
        let (out_shape, data) = outputs[self.output.as_str()]
            .try_extract_tensor::<f32>()
            .map_err(|e| Error::ModelRun(format!("reading output {:?}: {e}", self.output)))?;
        let dims = out_shape.iter().map(|&d| d.max(0) as usize).collect();
        Ok((dims, data.to_vec()))
    }

    /// The model's inputs must be exactly `onnx_inputs`, int64; its output `[batch, 1]` float32.
    fn check_signature(&self) -> Result<()> {
        let model = &self.path;
        let mut declared: Vec<&str> = self.inputs.iter().map(String::as_str).collect();
        let mut actual: Vec<&str> = self.session.inputs().iter().map(|i| i.name()).collect();
        declared.sort_unstable();
        actual.sort_unstable();
        if declared != actual {
            return Err(Error::ModelLoad(format!(
                "{} takes inputs {actual:?} but its spec declares onnx_inputs {declared:?}",
                model.display()
            )));
        }
        for input in self.session.inputs() {
            if !matches!(
                input.dtype(),
                ValueType::Tensor {
                    ty: TensorElementType::Int64,
                    ..
                }
            ) {
                return Err(Error::ModelLoad(format!(
                    "{}: input {:?} is {:?}, expected an int64 tensor",
                    model.display(),
                    input.name(),
                    input.dtype()
                )));
            }
        }
        let output = self
            .session
            .outputs()
            .iter()
            .find(|o| o.name() == self.output)
            .ok_or_else(|| {
                Error::ModelLoad(format!(
                    "{} has no output {:?} (the spec's output name); it has {:?}",
                    model.display(),
                    self.output,
                    self.session
                        .outputs()
                        .iter()
                        .map(|o| o.name())
                        .collect::<Vec<_>>()
                ))
            })?;
        if !matches!(
            output.dtype(),
            ValueType::Tensor {
                ty: TensorElementType::Float32,
                ..
            }
        ) {
            return Err(Error::ModelLoad(format!(
                "{}: output {:?} is {:?}, expected a float32 tensor",
                model.display(),
                self.output,
                output.dtype()
            )));
        }
        Ok(())
    }
}

#[cfg(feature = "cuda")]
fn with_cuda(
    builder: ort::session::builder::SessionBuilder,
) -> Result<ort::session::builder::SessionBuilder> {
    builder
        .with_execution_providers([ort::ep::CUDA::default().build().error_on_failure()])
        .map_err(|e| Error::ModelLoad(format!("CUDA execution provider: {e}")))
}

#[cfg(not(feature = "cuda"))]
fn with_cuda(
    _builder: ort::session::builder::SessionBuilder,
) -> Result<ort::session::builder::SessionBuilder> {
    Err(Error::Settings(
        "this bestofn was built without the `cuda` feature; rebuild with --features cuda".into(),
    ))
}
