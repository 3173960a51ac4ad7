"""Reward models trained elsewhere, read as verifiers: the checkpoint layouts the field's trainers
write, each with the input format and head its trainer used.

- `sequence-classification`: one logit per text, `AutoModelForSequenceClassification` with one
  label — what TRL's `RewardTrainer` saves, and plain reward models on the Hub. A decoder reads
  the last token that is not the pad token (transformers' rule); the text is the tokenizer's chat
  template around a user question and an assistant solution when it has one.
- `token-classification`: a process reward model, `AutoModelForTokenClassification` with two
  labels (wrong, right) or one logit, read at the separator after each step — TRL's `PRMTrainer`
  layout: the prompt, then every step followed by the separator, nothing between them.
- `openrlhf`: OpenRLHF's reward model, the base model's weights under its prefix and a linear
  value head (`value_head`, or `score`) read at the last token the attention mask keeps; the text
  ends with the end-of-sequence token (OpenRLHF's reward server appends it), and the
  normalization in config.json (`normalize_reward`, `mean`, `std`) is applied.
"""

import json
import sys
from pathlib import Path

from .config import VerifierConfig, fill_template

LAYOUTS = ("sequence-classification", "token-classification", "openrlhf")
PLACEHOLDERS = [{"role": "user", "content": "{question}"}, {"role": "assistant", "content": "{solution}"}]


def read_state_dict(directory):
    """Every tensor of the checkpoint's safetensors files (one file or an index of shards)."""
    from safetensors.torch import load_file

    files = sorted(Path(directory).glob("*.safetensors"))
    if not files:
        sys.exit(f"{directory}: no *.safetensors weights (save the model with safe_serialization)")
    state = {}
    for f in files:
        state.update(load_file(str(f)))
    return state


def detect_layout(directory):
    config = json.loads((Path(directory) / "config.json").read_text())
    architecture = (config.get("architectures") or [""])[0]
    if architecture.endswith("ForSequenceClassification"):
        return "sequence-classification"
    if architecture.endswith("ForTokenClassification"):
        return "token-classification"
    if value_head_key(read_state_dict(directory)):
        return "openrlhf"
    sys.exit(f"{directory}: architecture {architecture or '(none)'} is none of the reward-model layouts "
             f"({', '.join(LAYOUTS)}); give --layout")


def value_head_key(state):
    """OpenRLHF's value head: a [1, hidden] weight outside the base model (`value_head` by default,
    `score` as its reward-model trainer names it)."""
    for name in ("value_head.weight", "score.weight"):
        if name in state and state[name].ndim == 2 and state[name].shape[0] == 1:
            return name
    return None


def chat_template_input(hf_tokenizer, examples):
    """The chat template around placeholder turns, as a verifier.json template; refused unless
    filling it gives exactly the text and tokens the template renders for real examples."""
    template = hf_tokenizer.apply_chat_template(PLACEHOLDERS, tokenize=False)
    if "{solution}" not in template:
        sys.exit("the chat template drops the assistant turn's text; give --input-template")
    for e in examples:
        messages = [{"role": "user", "content": e["question"]}, {"role": "assistant", "content": e["solution"]}]
        rendered = hf_tokenizer.apply_chat_template(messages, tokenize=False)
        if fill_template(template, e["question"], e["solution"]) != rendered:
            sys.exit("the chat template renders a real conversation otherwise than its placeholders "
                     "(it rewrites the messages); give --input-template")
    return template


def reward_model_config(layout, directory, hf_tokenizer, model, args, examples):
    """verifier.json for a reward model of `layout`."""
    decoder = not hasattr(model.config, "type_vocab_size")
    config = VerifierConfig(base_model=str(directory), max_length=args.max_length or min(
        getattr(model.config, "max_position_embeddings", 4096) or 4096, 4096))
    config.onnx_inputs = ["input_ids", "attention_mask"] + ([] if decoder else ["token_type_ids"])
    pad = hf_tokenizer.pad_token_id if hf_tokenizer.pad_token_id is not None else hf_tokenizer.eos_token_id
    config.pad_token_id = int(getattr(model.config, "pad_token_id", None) or pad or 0)
    if layout == "token-classification":
        separator = args.step_separator
        config.input = {"type": "template", "template": args.input_template or "{question}{solution}"}
        config.output = {"name": "logits", "type": "logit", "per": "step"}
        config.steps = {"separator": separator, "tag": separator, "joiner": ""}
        return config
    if args.input_template:
        template = args.input_template
    elif hf_tokenizer.chat_template:
        template = chat_template_input(hf_tokenizer, examples)
    else:
        template = None if not decoder else "{question}\n{solution}"
    if layout == "openrlhf":
        template = (template or "{question}\n{solution}") + hf_tokenizer.eos_token
    config.input = {"type": "template", "template": template} if template else {"type": "pair"}
    if decoder:
        config.pooling = "last-token"
    return config


def load_openrlhf(directory):
    """OpenRLHF's reward model rebuilt from its checkpoint: (module giving [batch, 1] rewards,
    description). The base model's weights must all load."""
    import torch
    from transformers import AutoConfig, AutoModel

    hf_config = AutoConfig.from_pretrained(directory)
    hf_config._attn_implementation = "eager"
    base = AutoModel.from_config(hf_config, dtype=torch.float32)
    state = read_state_dict(directory)
    head_key = value_head_key(state)
    if head_key is None:
        sys.exit(f"{directory}: no value head (value_head.weight or score.weight of shape [1, hidden])")
    prefix = base.base_model_prefix + "."
    missing, unexpected = base.load_state_dict(
        {k.removeprefix(prefix): v.float() for k, v in state.items() if k != head_key}, strict=False)
    if missing or unexpected:
        sys.exit(f"{directory}: the base model's weights do not match its config.json "
                 f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    head = torch.nn.Linear(hf_config.hidden_size, 1, bias=False)
    head.weight.data = state[head_key].float()
    normalize = bool(getattr(hf_config, "normalize_reward", False))
    mean, std = float(getattr(hf_config, "mean", 0.0)), float(getattr(hf_config, "std", 1.0))

    class OpenRLHFReward(torch.nn.Module):
        """OpenRLHF's reward forward: positions from the mask, the value at the last kept token."""

        def __init__(self):
            super().__init__()
            self.base, self.head = base, head

        def forward(self, input_ids, attention_mask):
            position_ids = (attention_mask.long().cumsum(-1) - 1).masked_fill(attention_mask == 0, 1)
            hidden = self.base(input_ids, attention_mask=attention_mask, position_ids=position_ids,
                               use_cache=False).last_hidden_state
            values = self.head(hidden).squeeze(-1)
            # fliplr in OpenRLHF; flip(1) is the same and exports to ONNX.
            last = attention_mask.size(1) - 1 - attention_mask.long().flip(1).argmax(dim=1, keepdim=True)
            reward = values.gather(dim=1, index=last)
            return (reward - mean) / std if normalize else reward

    note = f"value head {head_key}" + (f", normalized (mean {mean}, std {std})" if normalize else "")
    return OpenRLHFReward().eval(), note


def hf_logits(model):
    """A Hugging Face model as a module whose forward gives its logits tensor."""
    import torch

    decoder = not hasattr(model.config, "type_vocab_size")

    class Logits(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, **inputs):
            return self.model(**inputs, **({"use_cache": False} if decoder else {})).logits

    return Logits().eval()


def load_reward_model(directory, layout, args, examples):
    """(reference module giving the layout's logits from named inputs, the Hugging Face model
    when it is an encoder (exported with the 4-D mask wrapper), verifier.json, a note)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer

    hf_tokenizer = AutoTokenizer.from_pretrained(directory)
    if layout == "openrlhf":
        reference, note = load_openrlhf(directory)
        config = reward_model_config(layout, directory, hf_tokenizer, reference.base, args, examples)
        return reference, None, config, f"OpenRLHF reward model, {note}"
    architecture = (AutoModelForSequenceClassification if layout == "sequence-classification"
                    else AutoModelForTokenClassification)
    model = architecture.from_pretrained(directory, attn_implementation="eager", dtype=torch.float32).eval()
    labels = model.config.num_labels
    if layout == "sequence-classification" and labels != 1:
        sys.exit(f"{directory}: a sequence classifier with {labels} labels; a reward model gives one logit")
    if layout == "token-classification" and labels not in (1, 2):
        sys.exit(f"{directory}: a token classifier with {labels} labels; a process reward model gives one "
                 "logit or two (wrong, right) per token")
    config = reward_model_config(layout, directory, hf_tokenizer, model, args, examples)
    encoder = hasattr(model.config, "type_vocab_size")
    note = f"{type(model).__name__} with {labels} label(s)"
    return hf_logits(model), model if encoder else None, config, note
