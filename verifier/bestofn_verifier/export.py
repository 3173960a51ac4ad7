"""Exports a training checkpoint to a verifier directory (model.onnx with dynamic batch and
sequence axes, tokenizer.json, verifier.json), after checking the ONNX model against PyTorch on
real examples: the export fails when they disagree.

The checkpoint may also be a reward model trained elsewhere (a Hugging Face directory without
verifier.json): TRL RewardTrainer and plain sequence-classification reward models, TRL PRMTrainer
process reward models, OpenRLHF reward models (reward_models.py says how each is read).

usage: python -m bestofn_verifier export --checkpoint CKPT --out VERIFIER_DIR
"""

import argparse
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import (VerifierConfig, check_hf_directory, configured_tokenizer, encode, is_step_level, read_jsonl,
                     read_solutions, sigmoid, write_directory_atomically)
from .metrics import brier, ece, fit_platt
from .model import forward_logits, solution_logits, step_tag_id
from .reward_models import LAYOUTS, detect_layout, load_reward_model

TOLERANCE = {"float32": 1e-3, "float16": 5e-2}
# Past this many bytes of weights model.onnx keeps them in model.onnx.data: one protobuf message
# cannot exceed 2 GB.
EXTERNAL_DATA_BYTES = 1_500_000_000


class LogitsOnly:
    """Wraps a sequence classifier so the exported graph takes the 2-D int64 inputs of the
    verifier contract and returns the logits tensor alone.

    The attention mask is expanded here to the additive 4-D form that attention consumes: the
    library's own mask construction branches on shapes in Python, and tracing freezes those
    branches for the example's padding (the parity check caught a 3e-2 logit error)."""

    def __new__(cls, model, names):
        import torch

        class Wrapper(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.model = model

            def forward(self, *inputs):
                named = dict(zip(names, inputs))
                mask = named["attention_mask"][:, None, None, :].to(torch.float32)
                named["attention_mask"] = (1.0 - mask) * torch.finfo(torch.float32).min
                return self.model(**named).logits

        # In eval mode: the exporter restores the wrapper's mode afterwards, recursively, and a
        # wrapper left in training mode would switch dropout on in `model`.
        return Wrapper().eval()


class LastTokenLogits:
    """Wraps a decoder sequence classifier: its score head at the last real token of each
    right-padded row (found from the attention mask), `[batch, 1]`. The decoder builds its causal
    mask from the 2-D attention mask itself."""

    def __new__(cls, model):
        import torch

        class Wrapper(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.model = model

            def forward(self, input_ids, attention_mask):
                hidden = self.model.base_model(input_ids=input_ids, attention_mask=attention_mask,
                                               use_cache=False).last_hidden_state
                last = attention_mask.sum(dim=1) - 1
                return self.model.score(hidden).gather(1, last[:, None, None].expand(-1, 1, 1))[:, 0]

        return Wrapper().eval()


def write_onnx(exported: Path, target: Path, dtype: str, external_data: str):
    """Writes `target` from the exporter's file: computation in float16 when asked (inputs and
    output stay as the verifier contract has them), the weights in `model.onnx.data` beside it
    when they are too many for one file or when asked. Shape inference runs from the file, which
    works past the 2 GB that a model held in one message cannot pass."""
    import onnx

    inferred = exported.with_name("inferred.onnx")
    onnx.shape_inference.infer_shapes_path(str(exported), str(inferred))
    graph = onnx.load(str(inferred))
    if dtype == "float16":
        from onnxruntime.transformers.float16 import convert_float_to_float16

        graph = convert_float_to_float16(graph, keep_io_types=True, disable_shape_infer=True)
    weights = sum(tensor.ByteSize() for tensor in graph.graph.initializer)
    if external_data == "never" and weights >= 2**31:
        raise SystemExit(f"export: {weights / 1e9:.2f} GB of weights cannot be one ONNX file (2 GB at most): "
                         "leave out --external-data never")
    external = external_data == "always" or (external_data == "auto" and weights > EXTERNAL_DATA_BYTES)
    if external:
        onnx.save_model(graph, str(target), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=target.name + ".data", size_threshold=1024)
    else:
        onnx.save_model(graph, str(target))
    print(f"model.onnx: {dtype}, {weights / 1e6:.1f} MB of weights"
          + (f" in {target.name}.data" if external else ""), flush=True)


def parity(reference, session, tokenizer, config, examples, batch_size=16):
    """Max |logit difference| between PyTorch (`reference`: named input tensors -> logits) and ONNX
    Runtime over `examples`, in padded batches."""
    import torch

    worst = 0.0
    for start in range(0, len(examples), batch_size):
        batch = examples[start:start + batch_size]
        inputs = encode(tokenizer, [(e["question"], e["solution"]) for e in batch], config)
        with torch.inference_mode():
            expected = reference({k: torch.from_numpy(v) for k, v in inputs.items()}).float().numpy().reshape(-1)
        actual = session.run([config.output["name"]], inputs)[0].reshape(-1)
        worst = max(worst, float(np.abs(expected - actual).max()))
    return worst


class Positional:
    """Wraps a module taking named inputs so the exporter can call it with the verifier
    contract's inputs in order."""

    def __new__(cls, module, names):
        import torch

        class Wrapper(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.module = module

            def forward(self, *inputs):
                return self.module(**dict(zip(names, inputs)))

        return Wrapper().eval()


def calibration(session, tokenizer, config, validation, batch_size=32):
    """Platt scaling fitted on every validation example (the real label mix, which balanced
    training does not see), with ECE and Brier before and after; None, said why, when the split
    cannot support a fit."""
    labels = np.array([e["label"] for e in validation], dtype=np.float64)
    if len(validation) < 20 or labels.min() == labels.max():
        print(f"calibration: not fitted ({len(validation)} validation examples, "
              f"{int(labels.sum())} correct; needs 20 with both labels)", flush=True)
        return None
    def batch_logits(batch):
        inputs = encode(tokenizer, [(e["question"], e["solution"]) for e in batch], config)
        return solution_logits(session.run(None, inputs)[0], inputs["input_ids"], config)

    logits = np.concatenate([batch_logits(validation[i:i + batch_size])
                             for i in range(0, len(validation), batch_size)])
    scale, shift = fit_platt(logits, labels)
    if not scale > 0:
        print(f"calibration: not fitted (the fit reverses the ranking: scale {scale:.3g})", flush=True)
        return None
    before, after = sigmoid(logits), sigmoid(scale * logits + shift)
    fitted = {"method": "platt", "scale": scale, "shift": shift, "fitted_on": len(validation),
              "ece_before": ece(before, labels), "ece_after": ece(after, labels),
              "brier_before": brier(before, labels), "brier_after": brier(after, labels)}
    print(f"calibration: scale {scale:.3f} shift {shift:.3f} on {len(validation)} validation examples; "
          f"ECE {fitted['ece_before']:.3f} -> {fitted['ece_after']:.3f}, "
          f"Brier {fitted['brier_before']:.3f} -> {fitted['brier_after']:.3f}", flush=True)
    return fitted


# Parity examples for a reward model exported without --check-data: made-up grade-school
# problems whose solutions are steps on lines of their own (a step-level model reads each).
BUILT_IN_EXAMPLES = [
    {"problem_id": "built-in-1", "question": "Tom has 3 apples and buys 4 more. How many apples does he have?",
     "solution": "Tom starts with 3 apples.\nHe buys 4 more, so 3 + 4 = 7.\nThe answer is 7."},
    {"problem_id": "built-in-1", "question": "Tom has 3 apples and buys 4 more. How many apples does he have?",
     "solution": "He has 3 apples.\n3 * 4 = 12.\nThe answer is 12."},
    {"problem_id": "built-in-2", "question": "A box holds 12 eggs. How many eggs are in 5 boxes?",
     "solution": "Each box holds 12 eggs.\n5 boxes hold 5 * 12 = 60 eggs.\nThe answer is 60."},
    {"problem_id": "built-in-2", "question": "A box holds 12 eggs. How many eggs are in 5 boxes?",
     "solution": "The answer is 17."},
    {"problem_id": "built-in-3", "question": "Sara reads 20 pages a day. How many days does a 140-page book take?",
     "solution": "140 / 20 = 7.\nSo it takes 7 days.\nThe answer is 7."},
    {"problem_id": "built-in-3", "question": "Sara reads 20 pages a day. How many days does a 140-page book take?",
     "solution": "She reads 20 pages a day for a 140-page book.\n140 - 20 = 120.\nThe answer is 120."},
]


@dataclass
class Source:
    """What an export reads: the PyTorch reference (named input tensors -> the output), the module
    to trace (the contract's inputs in order), verifier.json, the tokenizer, the Hugging Face
    directory a server would load, examples for the parity check and labeled ones for calibration."""

    reference: object
    wrapper: object
    config: VerifierConfig
    tokenizer_json: Path
    hf_directory: Path
    examples: list
    validation: list


def trained_checkpoint(checkpoint: Path, args) -> Source:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification

    config = VerifierConfig.load(checkpoint)
    step_level = is_step_level(config)
    if step_level:
        config.steps["tag_id"] = step_tag_id(checkpoint / "tokenizer.json", config.steps["tag"])
    architecture = AutoModelForTokenClassification if step_level else AutoModelForSequenceClassification
    model = architecture.from_pretrained(checkpoint / "model", attn_implementation="eager",
                                         dtype=torch.float32).eval()
    validation = read_jsonl(checkpoint / "validation.jsonl")
    if not validation:
        sys.exit(f"{checkpoint}/validation.jsonl has no examples to check the export on")
    wrapper = LastTokenLogits(model) if config.pooling == "last-token" else LogitsOnly(model, config.onnx_inputs)
    return Source(lambda inputs: forward_logits(model, inputs, config), wrapper, config,
                  checkpoint / "tokenizer.json", checkpoint / "model", validation[: args.check_examples], validation)


def reward_model(directory: Path, args) -> Source:
    """A reward model trained elsewhere (see reward_models.py for the layouts)."""
    examples = read_solutions(args.check_data) if args.check_data else BUILT_IN_EXAMPLES
    layout = args.layout if args.layout != "auto" else detect_layout(directory)
    reference, encoder, config, note = load_reward_model(directory, layout, args, examples[: args.check_examples])
    print(f"{directory}: {layout} ({note})", flush=True)
    tokenizer_json = directory / "tokenizer.json"
    if not tokenizer_json.exists():
        sys.exit(f"{directory}: no tokenizer.json (a fast tokenizer); save the tokenizer with "
                 "AutoTokenizer.from_pretrained(...).save_pretrained(...) first")
    if is_step_level(config):
        config.steps["tag_id"] = step_tag_id(tokenizer_json, config.steps["tag"])
    config.training = {"source": str(directory), "layout": layout, "model": note}
    wrapper = LogitsOnly(encoder, config.onnx_inputs) if encoder is not None else Positional(reference,
                                                                                           config.onnx_inputs)
    labeled = [e for e in examples if "label" in e] if args.check_data else []
    return Source(lambda inputs: reference(**inputs), wrapper, config, tokenizer_json, directory,
                  examples[: args.check_examples], labeled)


def write_verifier(directory: Path, source: Source, args):
    """model.onnx traced from the source, checked against PyTorch, with tokenizer.json and
    verifier.json, into `directory`."""
    import onnxruntime as ort
    import torch

    config, examples = source.config, source.examples
    tokenizer = configured_tokenizer(source.tokenizer_json, config)
    step_level = is_step_level(config)
    sample = encode(tokenizer, [(e["question"], e["solution"]) for e in examples[:2]], config)
    inputs = tuple(torch.from_numpy(sample[name]) for name in config.onnx_inputs)
    dynamic = {name: {0: "batch", 1: "sequence"} for name in config.onnx_inputs}
    dynamic[config.output["name"]] = {0: "batch", 1: "sequence"} if step_level else {0: "batch"}
    # The exporter writes a model past 2 GB as one file per weight: kept out of the verifier.
    exported = Path(tempfile.mkdtemp(prefix=".export-", dir=directory))
    torch.onnx.export(source.wrapper, inputs, str(exported / "model.onnx"), input_names=config.onnx_inputs,
                      output_names=[config.output["name"]], dynamic_axes=dynamic, opset_version=args.opset,
                      dynamo=False)
    write_onnx(exported / "model.onnx", directory / "model.onnx", args.dtype, args.external_data)
    shutil.rmtree(exported)
    session = ort.InferenceSession(str(directory / "model.onnx"), providers=["CPUExecutionProvider"])
    worst = parity(source.reference, session, tokenizer, config, examples)
    print(f"parity: max |PyTorch - ONNX Runtime| logit difference {worst:.2e} on {len(examples)} "
          f"examples", flush=True)
    if worst > TOLERANCE[args.dtype]:
        raise SystemExit(f"export rejected: ONNX Runtime differs from PyTorch by {worst:.2e} "
                         f"> {TOLERANCE[args.dtype]} ({args.dtype})")
    config.training.update(export_dtype=args.dtype, export_parity_max_abs_logit_diff=worst,
                           export_parity_examples=len(examples))
    config.calibration = None if args.no_calibration else calibration(session, tokenizer, config, source.validation)
    shutil.copy(source.tokenizer_json, directory / "tokenizer.json")
    if step_level:
        config.steps.pop("tag_id")
    (directory / "verifier.json").write_text(config.to_json())


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bestofn_verifier export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True,
                        help="directory written by `train`, or a reward model's Hugging Face directory")
    parser.add_argument("--out", required=True, help="verifier directory to write")
    parser.add_argument("--check-examples", type=int, default=64,
                        help="examples to compare PyTorch and ONNX Runtime on")
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--dtype", choices=["float32", "float16"], default="float32",
                        help="computation in the exported graph; float16 halves the file and suits GPUs "
                             "(the checkpoint is read as float32 either way, so bf16 and fp16 checkpoints export)")
    parser.add_argument("--external-data", choices=["auto", "always", "never"], default="auto",
                        help="weights in model.onnx.data beside model.onnx: auto does so past 1.5 GB "
                             "(one ONNX file cannot exceed 2 GB)")
    parser.add_argument("--no-calibration", action="store_true",
                        help="do not fit Platt scaling on the validation split")
    byo = parser.add_argument_group("a reward model trained elsewhere (a --checkpoint without verifier.json)")
    byo.add_argument("--layout", choices=("auto",) + LAYOUTS, default="auto",
                     help="sequence-classification (TRL RewardTrainer, plain reward models), token-classification "
                          "(TRL PRMTrainer), openrlhf (a value head on the base model); auto reads config.json")
    byo.add_argument("--input-template", default=None,
                     help="the text the model reads, with {question} and {solution} (default: the chat template, "
                          "else the pair for an encoder; a process reward model: '{question}{solution}')")
    byo.add_argument("--step-separator", default="\n",
                     help="token-classification: what ends each step (TRL's PRMTrainer: a newline)")
    byo.add_argument("--max-length", type=int, default=None, help="tokens read (default: the model's, at most 4096)")
    byo.add_argument("--check-data", default=None,
                     help="JSONL of question/solution (label optional: calibration) for the parity check "
                          "(default: a few made-up arithmetic problems)")
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    checkpoint = Path(args.checkpoint)
    if (checkpoint / "verifier.json").exists():
        source = trained_checkpoint(checkpoint, args)
    elif (checkpoint / "config.json").exists():
        source = reward_model(checkpoint, args)
    else:
        sys.exit(f"{checkpoint}: neither a `train` checkpoint (verifier.json) nor a Hugging Face model (config.json)")
    tokenizer = configured_tokenizer(source.tokenizer_json, source.config)
    check_hf_directory(source.hf_directory, tokenizer, source.config, source.examples)
    write_directory_atomically(args.out, lambda directory: write_verifier(directory, source, args))
    print(f"wrote verifier {args.out}", flush=True)


if __name__ == "__main__":
    main()
