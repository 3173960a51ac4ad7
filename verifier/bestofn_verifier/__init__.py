"""Training, export and quantization of bestofn verifiers (see ../README.md)."""
