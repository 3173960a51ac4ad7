"""Converts the bundled SmolLM2-135M-Instruct GGUF into a Hugging Face model directory (fp32
LlamaForCausalLM with its tokenizer and chat template), the form vLLM serves.

usage: .venv/bin/python scripts/smollm2_hf.py GGUF OUT_DIR   (a no-op when OUT_DIR is complete)
"""
import sys
from pathlib import Path


def main() -> None:
    gguf, out = Path(sys.argv[1]), Path(sys.argv[2])
    done = out / "config.json"
    if done.exists() and (out / "model.safetensors").exists() and (out / "tokenizer.json").exists():
        return
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The weights are dequantized; what remains of the GGUF quantization would make
    # save_pretrained refuse or write a config vLLM cannot load.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.is_quantized = False
    partial = out.with_name(out.name + ".partial")
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    if out.exists():
        import shutil
        shutil.rmtree(out)
    partial.rename(out)
    print(f"smollm2_hf: wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
