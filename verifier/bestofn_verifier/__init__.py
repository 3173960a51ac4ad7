"""Training, export and quantization of bestofn verifiers (see ../docs/verifier.md)."""
