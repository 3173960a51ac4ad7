"""The data steps of the scripts (scripts/verifier_experiment.sh, studies.sh, verdict_changes.sh):

- split: keep the candidates of one generator family and prompt styles, and split them by
  problem: even-numbered problems train the verifier, odd-numbered ones are held out;
- identity: the "who wrote it" baseline, which scores every held-out candidate by the training
  accuracy of the configuration that wrote it (how much of a ranking identity alone explains);
- first-problems: the samples of the first K problems (in file order), to measure a slow
  verifier on part of a set;
- by-model: one samples file per generator model, of the chosen prompt styles (the Faithful-CoT
  models as self-improvement iterations);
- verdict-changes: every sample whose verdict differs between two directories of labeled files
  of the same names (two builds' labels).

usage: python -m bestofn_verifier experiment split --pool P --train T --heldout H
           [--models code001,code002,text002,text003] [--prompts COT,LtM,standard]
       python -m bestofn_verifier experiment identity --train-labeled T --heldout-labeled H --out O
       python -m bestofn_verifier experiment first-problems --samples S --problems K --out O
       python -m bestofn_verifier experiment by-model --samples S --out-dir D [--prompts COT,...]
       python -m bestofn_verifier experiment verdict-changes --old DIR --new DIR
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


def first_problems(lines, count):
    """The lines of the first `count` problems to appear, byte for byte."""
    if count < 1:
        raise SystemExit(f"first-problems: --problems {count} keeps nothing; give at least 1")
    kept, out = set(), []
    for line in lines:
        problem = json.loads(line)["problem_id"]
        if problem in kept or len(kept) < count:
            kept.add(problem)
            out.append(line)
    return out


def by_model(lines, prompts):
    """{model: its lines} for the samples whose `generator.prompt` is one of `prompts`."""
    models = defaultdict(list)
    for line in lines:
        generator = json.loads(line).get("generator") or {}
        if generator.get("prompt") in prompts and generator.get("model"):
            models[generator["model"]].append(line)
    if not models:
        raise SystemExit("by-model: no sample has a generator.model with one of the prompts "
                         f"{sorted(prompts)}")
    return dict(models)


def verdict_changes(old, new):
    """(key, old sample, new sample) for every (problem_id, sample_idx) of `old` whose `correct`
    differs in `new`; a sample missing from `new` is an error (the same inputs were not labeled)."""
    new_by_key = {(s["problem_id"], s["sample_idx"]): s for s in new}
    changes = []
    for sample in old:
        key = (sample["problem_id"], sample["sample_idx"])
        if key not in new_by_key:
            raise SystemExit(f"verdict-changes: sample {key} is missing from the new labels")
        if sample.get("correct") != new_by_key[key].get("correct"):
            changes.append((key, sample, new_by_key[key]))
    return changes


def print_verdict_changes(old_dir, new_dir):
    from pathlib import Path

    total = 0
    for old_file in sorted(Path(old_dir).glob("*.labeled.jsonl")):
        read = lambda path: [json.loads(line) for line in read_lines(path)]  # noqa: E731
        changes = verdict_changes(read(old_file), read(Path(new_dir) / old_file.name))
        total += len(changes)
        print(f"{old_file.name.removesuffix('.labeled.jsonl')}: {len(changes)} verdicts changed")
        for (problem, idx), o, n in changes:
            print(f"  {problem}#{idx}: {o.get('extracted')!r} {o.get('correct')} -> "
                  f"{n.get('extracted')!r} {n.get('correct')}")
    print(f"{total} verdicts changed in all")


def write_lines(path, lines, source):
    """Writes `lines` to `path`, refusing to overwrite `source`, the file they were read from."""
    from pathlib import Path

    if Path(path).resolve() == Path(source).resolve():
        raise SystemExit(f"{path} is the input {source}: write to another path")
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(lines)


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
    first = steps.add_parser("first-problems")
    first.add_argument("--samples", required=True)
    first.add_argument("--problems", type=int, required=True)
    first.add_argument("--out", required=True)
    models = steps.add_parser("by-model")
    models.add_argument("--samples", required=True)
    models.add_argument("--out-dir", required=True)
    models.add_argument("--prompts", default="COT,LtM,NL+SL,noNL,standard")
    changes = steps.add_parser("verdict-changes")
    changes.add_argument("--old", required=True)
    changes.add_argument("--new", required=True)
    args = parser.parse_args(argv)

    if args.step == "split":
        train, heldout = split_pool(read_lines(args.pool), set(args.models.split(",")),
                                    set(args.prompts.split(",")))
        write_lines(args.train, train, args.pool)
        write_lines(args.heldout, heldout, args.pool)
    elif args.step == "first-problems":
        write_lines(args.out, first_problems(read_lines(args.samples), args.problems), args.samples)
    elif args.step == "by-model":
        from pathlib import Path

        Path(args.out_dir).mkdir(parents=True, exist_ok=True)
        for model, lines in by_model(read_lines(args.samples), set(args.prompts.split(","))).items():
            write_lines(Path(args.out_dir) / f"{model}.jsonl", lines, args.samples)
    elif args.step == "verdict-changes":
        print_verdict_changes(args.old, args.new)
    else:
        train = [json.loads(line) for line in read_lines(args.train_labeled)]
        heldout = [json.loads(line) for line in read_lines(args.heldout_labeled)]
        with open(args.out, "w", encoding="utf-8") as f:
            for sample in identity_scores(train, heldout):
                f.write(json.dumps(sample) + "\n")
