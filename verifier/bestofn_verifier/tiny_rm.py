"""Writes a tiny reward model of one of the layouts `export` reads, for tests and demos: a
two-layer Llama with a local tokenizer (the bundled SmolLM2's by default, with its chat
template), random weights from --seed.

- sequence-classification: trained a few steps by TRL's RewardTrainer on made-up preference
  pairs and saved by it, so the directory is exactly what that trainer writes;
- token-classification: `AutoModelForTokenClassification` with two labels, as TRL's PRMTrainer
  saved its process reward models (the trainer is gone from TRL 1.x);
- openrlhf: OpenRLHF's reward-model checkpoint — the base model's weights under `model.`, a
  `value_head` without bias, `normalize_reward`/`mean`/`std` in config.json (OpenRLHF itself
  needs DeepSpeed and CUDA and is not installed here).

usage: python -m bestofn_verifier tiny-rm --layout LAYOUT --out DIR [--tokenizer DIR] [--seed N]
"""

import argparse
import json
import os
import shutil
from pathlib import Path

from .config import write_directory_atomically
from .export import BUILT_IN_EXAMPLES
from .reward_models import LAYOUTS

DEFAULT_TOKENIZER = Path(__file__).resolve().parents[2] / "models" / "smollm2-135m-instruct"


def tiny_llama_config(tokenizer):
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                       pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                       eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=False)


def preference_pairs():
    """(question, better, worse) from the built-in examples: each problem's first solution is right."""
    by_problem = {}
    for e in BUILT_IN_EXAMPLES:
        by_problem.setdefault(e["problem_id"], []).append(e)
    return [(a["question"], a["solution"], b["solution"]) for a, b in by_problem.values()]


def reward_trainer_model(tokenizer, config, directory):
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification
    from trl import RewardConfig, RewardTrainer

    config.num_labels = 1
    model = AutoModelForSequenceClassification.from_config(config)

    def turn(question, answer):
        return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]

    data = Dataset.from_list([{"chosen": turn(q, good), "rejected": turn(q, bad)} for q, good, bad in
                              preference_pairs()])
    scratch = directory / "trl-run"
    arguments = RewardConfig(output_dir=str(scratch), max_steps=3, per_device_train_batch_size=2, learning_rate=1e-2,
                             report_to=[], save_strategy="no", logging_steps=1, use_cpu=True)
    trainer = RewardTrainer(model=model, args=arguments, train_dataset=data, processing_class=tokenizer)
    trainer.train()
    trainer.save_model(str(directory))
    shutil.rmtree(scratch, ignore_errors=True)


def openrlhf_model(tokenizer, config, directory):
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModel

    base = AutoModel.from_config(config)
    state = {f"model.{k}": v.contiguous() for k, v in base.state_dict().items()}
    state["value_head.weight"] = torch.randn(1, config.hidden_size) / (config.hidden_size + 1) ** 0.5
    save_file(state, str(directory / "model.safetensors"), metadata={"format": "pt"})
    saved = config.to_dict()
    saved.update(architectures=["RewardModel"], normalize_reward=True, mean=0.25, std=1.5)
    (directory / "config.json").write_text(json.dumps(saved, indent=2) + "\n")
    tokenizer.save_pretrained(directory)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bestofn_verifier tiny-rm", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layout", choices=LAYOUTS, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--tokenizer", default=str(DEFAULT_TOKENIZER), help="a local Hugging Face tokenizer directory")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer, set_seed

    set_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    config = tiny_llama_config(tokenizer)

    def write(directory: Path):
        if args.layout == "sequence-classification":
            reward_trainer_model(tokenizer, config, directory)
        elif args.layout == "token-classification":
            config.num_labels = 2
            model = AutoModelForTokenClassification.from_config(config)
            with torch.no_grad():
                model.score.weight.normal_(0, 0.5)
            model.save_pretrained(directory)
            tokenizer.save_pretrained(directory)
        else:
            openrlhf_model(tokenizer, config, directory)

    write_directory_atomically(args.out, write)
    print(f"wrote a tiny {args.layout} reward model to {args.out}", flush=True)


if __name__ == "__main__":
    main()
