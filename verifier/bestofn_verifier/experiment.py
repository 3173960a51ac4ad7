"""The held-out verifier experiment's two data steps (scripts/verifier_experiment.sh):

- split: keep the candidates of one generator family and prompt styles, and split them by
  problem: even-numbered problems train the verifier, odd-numbered ones are held out;
- identity: the "who wrote it" baseline, which scores every held-out candidate by the training
  accuracy of the configuration that wrote it (how much of a ranking identity alone explains).

usage: python -m bestofn_verifier experiment split --pool P --train T --heldout H
           [--models code001,code002,text002,text003] [--prompts COT,LtM,standard]
       python -m bestofn_verifier experiment identity --train-labeled T --heldout-labeled H --out O
"""

import argparse
import json
from collections import defaultdict

FAMILY = "code001,code002,text002,text003"
STYLES = "COT,LtM,standard"


def split_pool(pool_lines, models, prompts):
    """(train lines, held-out lines): the lines of the chosen models and prompts, by problem
    parity. Lines are kept byte for byte."""
    train, heldout = [], []
    for line in pool_lines:
        sample = json.loads(line)
        generator = sample.get("generator") or {}
        if generator.get("model") in models and generator.get("prompt") in prompts:
            (train if int(sample["problem_id"]) % 2 == 0 else heldout).append(line)
    if not train or not heldout:
        raise SystemExit(f"split: {len(train)} training and {len(heldout)} held-out candidates; "
                         "check --models and --prompts against the pool's generator fields")
    return train, heldout


def identity_scores(train_samples, heldout_samples):
    """Held-out samples with `score` = the training accuracy of their `generator.config`."""
    right, total = defaultdict(int), defaultdict(int)
    for sample in train_samples:
        if sample.get("correct") is None:
            raise SystemExit(f"identity: training sample {sample['problem_id']}/{sample['sample_idx']} "
                             "has no label; label the training candidates first")
        config = sample["generator"]["config"]
        total[config] += 1
        right[config] += bool(sample["correct"])
    scored = []
    for sample in heldout_samples:
        config = sample["generator"]["config"]
        if config not in total:
            raise SystemExit(f"identity: configuration {config!r} never appears in training")
        scored.append({**sample, "score": right[config] / total[config]})
    return scored


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [line if line.endswith("\n") else line + "\n" for line in f if line.strip()]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bestofn_verifier experiment", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    steps = parser.add_subparsers(dest="step", required=True)
    split = steps.add_parser("split")
    split.add_argument("--pool", required=True)
    split.add_argument("--train", required=True)
    split.add_argument("--heldout", required=True)
    split.add_argument("--models", default=FAMILY)
    split.add_argument("--prompts", default=STYLES)
    identity = steps.add_parser("identity")
    identity.add_argument("--train-labeled", required=True)
    identity.add_argument("--heldout-labeled", required=True)
    identity.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    if args.step == "split":
        train, heldout = split_pool(read_lines(args.pool), set(args.models.split(",")),
                                    set(args.prompts.split(",")))
        for path, lines in ((args.train, train), (args.heldout, heldout)):
            with open(path, "w", encoding="utf-8") as f:
                f.writelines(lines)
    else:
        train = [json.loads(line) for line in read_lines(args.train_labeled)]
        heldout = [json.loads(line) for line in read_lines(args.heldout_labeled)]
        with open(args.out, "w", encoding="utf-8") as f:
            for sample in identity_scores(train, heldout):
                f.write(json.dumps(sample) + "\n")
