"""How much GPU memory training a verifier takes, per process: parameters counted on the empty
model (accelerate's `init_empty_weights`, nothing allocated), weights, gradients and Adam states
from accelerate's own estimator (`accelerate estimate-memory`'s `estimate_training_usage`), and
activations from the transformer formula of Korthikanti et al. (2022): per layer, s·b·h·(34 + 5·a·s/h)
bytes in 16-bit without recomputation; with gradient checkpointing 2·s·b·h per layer (its input)
plus one layer recomputed whole. Data parallelism (DDP) holds all of it in every process;
FSDP / ZeRO-3 shard weights, gradients and optimizer states over the processes.
LoRA trains only the adapters: the frozen base needs no gradients or optimizer states. QLoRA
holds the base's linear layers in NF4 as bitsandbytes stores them: half a byte per weight plus a
float32 scale per block of 64 (the rest of the base stays in 16 bits).

A backbone is a local Hugging Face directory (--base) or one of the shapes of common reward-model
backbones (--shape), built from their published configurations.

usage: python -m bestofn_verifier memory (--base DIR | --shape NAME) [--batch-size 8] [--max-length 1024]
"""

import argparse

from .model import HEADS

GIB = 1024 ** 3
# bitsandbytes NF4: 4 bits per weight and one float32 absmax per block of 64 weights.
NF4_BYTES = 0.5 + 4 / 64
# Published shapes (hidden, layers, attention heads, key-value heads, MLP, vocabulary).
SHAPES = {
    "qwen2.5-0.5b": (896, 24, 14, 2, 4864, 151936),
    "qwen2.5-1.5b": (1536, 28, 12, 2, 8960, 151936),
    "qwen2.5-7b": (3584, 28, 28, 4, 18944, 152064),
}


def backbone_config(args):
    from transformers import AutoConfig, Qwen2Config

    if args.base:
        return AutoConfig.from_pretrained(args.base)
    hidden, layers, heads, kv_heads, mlp, vocab = SHAPES[args.shape]
    return Qwen2Config(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                       num_key_value_heads=kv_heads, intermediate_size=mlp, vocab_size=vocab, num_labels=1)


def parameter_counts(config):
    """(parameters, those --load-in-4bit quantizes: the decoder's linear layers, not the
    embeddings or the head) of the one-logit classifier of `config`, counted on the empty model."""
    import torch
    from accelerate import init_empty_weights
    from transformers import AutoModelForSequenceClassification

    config.num_labels = 1
    with init_empty_weights():
        model = AutoModelForSequenceClassification.from_config(config)
    linear = sum(m.weight.numel() for n, m in model.named_modules()
                 if isinstance(m, torch.nn.Linear) and not n.startswith(HEADS))
    return sum(p.numel() for p in model.parameters()), linear


def lora_parameters(config, rank):
    """Adapter parameters on every linear layer of the decoder (peft's all-linear)."""
    hidden, mlp = config.hidden_size, config.intermediate_size
    kv = hidden // config.num_attention_heads * getattr(config, "num_key_value_heads", config.num_attention_heads)
    shapes = [(hidden, hidden), (hidden, kv), (hidden, kv), (hidden, hidden), (hidden, mlp), (hidden, mlp), (mlp, hidden)]
    return config.num_hidden_layers * sum(rank * (i + o) for i, o in shapes)


def frozen_base(training, parameters, linear, bytes_per_weight):
    """Bytes of the base that LoRA keeps frozen: all of it in the training precision, or, for QLoRA,
    its linear layers in NF4."""
    if training == "full":
        return 0
    if training == "QLoRA":
        return linear * NF4_BYTES + (parameters - linear) * bytes_per_weight
    return parameters * bytes_per_weight


def activations(config, batch, length, checkpointing):
    h, a, s = config.hidden_size, config.num_attention_heads, length
    full = s * batch * h * (34 + 5 * a * s / h)
    # With checkpointing each layer keeps its input, and one layer at a time is recomputed whole.
    return config.num_hidden_layers * 2 * s * batch * h + full if checkpointing else config.num_hidden_layers * full


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bestofn_verifier memory", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--base", help="a local Hugging Face model directory")
    where.add_argument("--shape", choices=sorted(SHAPES))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--lora-r", type=int, default=16)
    args = parser.parse_args(argv)

    from accelerate.commands.estimate import estimate_training_usage

    config = backbone_config(args)
    parameters, linear = parameter_counts(config)
    adapters = lora_parameters(config, args.lora_r)
    name = args.base or args.shape
    print(f"{name}: {parameters / 1e9:.3f} B parameters; batch {args.batch_size} × {args.max_length} tokens")
    print("| training | precision | weights+grads+Adam GiB | activations GiB | total, gradient checkpointing GiB "
          "| total, checkpointing + FSDP/ZeRO-3 over 8 GPUs GiB |")
    print("|---|---|---:|---:|---:|---:|")
    for training in ("full", "LoRA", "QLoRA"):
        trained = parameters if training == "full" else adapters
        for precision in ("float32", "bfloat16"):
            usage = estimate_training_usage(trained * 4, precision)
            states = usage["model"] + usage["gradients"] + usage["optimizer"]
            states += frozen_base(training, parameters, linear, 4 if precision == "float32" else 2)
            label = training if training == "full" else f"{training} r={args.lora_r}"
            act = activations(config, args.batch_size, args.max_length, False) * (2 if precision == "float32" else 1)
            low = activations(config, args.batch_size, args.max_length, True) * (2 if precision == "float32" else 1)
            # train refuses --load-in-4bit under FSDP/DeepSpeed: QLoRA has no sharded figure.
            sharded = "—" if training == "QLoRA" else f"{(states / 8 + low) / GIB:.1f}"
            print(f"| {label} | {precision} | {states / GIB:.1f} | {act / GIB:.1f} | {(states + low) / GIB:.1f} "
                  f"| {sharded} |")


if __name__ == "__main__":
    main()
