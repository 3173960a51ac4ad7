#!/usr/bin/env bash
# Installs what bestofn needs on a fresh Debian machine (only package registries reachable):
# a Rust toolchain and a C compiler if missing, the Python environment of verifier/ in .venv
# (pinned; it also provides the ONNX Runtime library that `bestofn score` loads), and the release
# binary. Re-runs reuse what is already installed and built.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v cargo >/dev/null 2>&1 || need_apt+=(cargo rustc)
command -v cc >/dev/null 2>&1 || need_apt+=(gcc g++)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} with apt-get" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

# The venv is rebuilt only when verifier/requirements.txt changes. Every package is pinned there
# (a full freeze), so it installs with --no-deps. PyPI's torch is the CUDA build (~3 GB).
stamp=.venv/.requirements.sha256
wanted=$(sha256sum verifier/requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "setup: installing the Python environment into .venv (first time: a few minutes)" >&2
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check --no-deps -r verifier/requirements.txt
  echo "$wanted" > "$stamp"
fi

cargo build --release --locked --quiet
echo "setup: ready (target/release/bestofn, .venv)" >&2
