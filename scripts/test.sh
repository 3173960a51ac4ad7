#!/usr/bin/env bash
# Runs the whole test suite (what CI runs). Needs ../shared beside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ ! -d ../shared/data ]; then
  echo "test: ../shared/data is missing: the tests read the real data sets from there" >&2
  exit 1
fi
# Release: the generation tests run the embedded llama.cpp model (and reuse setup's build). Every
# crate of the workspace (the accelerator's check against ggml too) but the Python module, which
# links against Python and is tested from Python below.
cargo test --release --locked --features llama --workspace --exclude bestofn-grade-python
# verifier/: training on a few steps, export parity, quantization, Rust-vs-PyTorch scores.
(cd verifier && HF_HUB_OFFLINE=1 ../.venv/bin/python -m pytest -q tests)
# The grader from Python: verdicts, explanations, the batch function, TRL's reward, threads.
.venv/bin/python -m pytest -q python/tests
# `cargo install` into an empty prefix (with the llama feature, reusing the release build), run
# from another directory: it needs nothing from the checkout.
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cargo install --locked --quiet --path . --features llama --root "$prefix"
(cd "$prefix" && bin/bestofn label --problems "$OLDPWD/tests/fixtures/problems.jsonl" \
  --samples "$OLDPWD/tests/fixtures/samples.jsonl" --out labeled.jsonl 2>/dev/null \
  && test "$(wc -l < labeled.jsonl)" -eq 12) || { echo "test: the installed binary failed" >&2; exit 1; }
# The CUDA execution provider cannot run here, but must keep compiling.
cargo check --locked --features cuda --quiet
# Benchmarks are not run here (they measure, they do not test) but must keep compiling.
# (with the same features as setup: the bench profile writes to target/release too).
cargo bench --locked --no-run --quiet --features llama --workspace --exclude bestofn-grade-python
