"""A seeded set of one- and two-step arithmetic word problems, for measuring selection methods with
a small model that is neither hopeless nor perfect on it (the bundled SmolLM2-135M).

Each problem is drawn from a few sentence templates (addition, subtraction, multiplication; a
second step of addition or subtraction for two-step ones) with small whole numbers, so every
answer is a positive integer. The same --seed gives the same file.

usage: python -m bestofn_verifier arithmetic --count 200 --seed 0 --out problems.jsonl
"""

import argparse
import json
import random

NAMES = ["Tom", "Ana", "Li", "Sara", "Omar", "Mia", "Ben", "Zoe"]
THINGS = ["apples", "books", "coins", "stamps", "marbles", "pencils", "shells", "cards"]


def _one_step(rng):
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    kind = rng.choice(["add", "sub", "mul"])
    if kind == "add":
        a, b = rng.randint(2, 40), rng.randint(2, 40)
        return f"{name} has {a} {thing} and gets {b} more. How many {thing} does {name} have now?", a + b
    if kind == "sub":
        a = rng.randint(10, 60)
        b = rng.randint(1, a - 1)
        return f"{name} has {a} {thing} and gives away {b}. How many {thing} does {name} have left?", a - b
    a, b = rng.randint(2, 9), rng.randint(2, 9)
    return f"{name} has {a} boxes with {b} {thing} in each box. How many {thing} does {name} have?", a * b


def _two_step(rng):
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    a, b = rng.randint(2, 9), rng.randint(2, 9)
    c = rng.randint(1, a * b - 1)
    if rng.random() < 0.5:
        return (f"{name} has {a} bags with {b} {thing} in each bag, then loses {c} {thing}. "
                f"How many {thing} does {name} have now?", a * b - c)
    return (f"{name} has {a} bags with {b} {thing} in each bag and finds {c} more {thing}. "
            f"How many {thing} does {name} have now?", a * b + c)


def problems(count, seed):
    """`count` problems, half one-step and half two-step, in a seeded order."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        question, answer = (_one_step if i % 2 == 0 else _two_step)(rng)
        out.append({"id": f"arith-{seed}-{i}", "question": question, "answer": str(answer)})
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bestofn_verifier arithmetic", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.count < 1:
        raise SystemExit("--count must be at least 1")
    with open(args.out, "w", encoding="utf-8") as f:
        for problem in problems(args.count, args.seed):
            f.write(json.dumps(problem) + "\n")
