"""bestofn's training data handling, shared by every objective and any number of processes:
the per-problem validation split, balancing, and the batch plan — every batch of every epoch
fixed in advance from the seed, so a run resumed after a kill, or split over processes, sees the
batches an uninterrupted single run would."""

import hashlib
import math
import random
import sys
from collections import defaultdict

from .config import parse_jsonl

FIELDS = {"problem_id", "question", "solution", "label"}


def example_problem(e):
    """What is wrong with a training example, or None."""
    if not isinstance(e, dict):
        return "not a JSON object (expected the output of `bestofn label --export-verifier-data`)"
    missing = FIELDS - e.keys()
    if missing:
        return (f"missing field(s) {sorted(missing)} "
                "(expected the output of `bestofn label --export-verifier-data`)")
    for field in ("question", "solution"):
        if not isinstance(e[field], str):
            return f"{field} is {type(e[field]).__name__}, not a string"
    if not isinstance(e["problem_id"], (str, int)) or isinstance(e["problem_id"], bool):
        return f"problem_id {e['problem_id']!r} is neither a string nor an integer"
    if e["label"] not in (0, 1):
        return f"label {e['label']!r} is not 0 or 1"
    return None


def read_examples(path):
    """The training export's examples, each checked for the fields training reads, and the
    sha256 of the bytes read (read once: --data may be a pipe)."""
    with open(path, "rb") as f:
        data = f.read()
    examples = parse_jsonl(data, path, example_problem)
    for e in examples:
        e["problem_id"] = str(e["problem_id"])
        e["label"] = int(e["label"])
    if not examples:
        sys.exit(f"{path}: no examples")
    return examples, hashlib.sha256(data).hexdigest()


def is_validation(problem_id: str, fraction: float, seed: int) -> bool:
    digest = hashlib.sha256(f"{seed}:{problem_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def by_problem(examples):
    groups = defaultdict(list)
    for e in examples:
        groups[e["problem_id"]].append(e)
    return groups


def balance(examples, rng):
    """As many correct as incorrect examples per problem."""
    kept = []
    for group in by_problem(examples).values():
        wrong = [e for e in group if not e["label"]]
        right = [e for e in group if e["label"]]
        n = min(len(wrong), len(right))
        kept += rng.sample(wrong, n) + rng.sample(right, n)
    return kept


def at_most_per_problem(examples, count, rng):
    return [e for group in by_problem(examples).values() for e in rng.sample(group, min(len(group), count))]


def first_problems(examples, count):
    """The examples of `count` training problems, drawn in one fixed pseudo-random order of
    problem ids: the learning curve's subsets are nested (each larger one holds the smaller)."""
    order = sorted(by_problem(examples), key=lambda p: hashlib.sha256(f"curve:{p}".encode()).digest())
    kept = set(order[:count])
    return [e for e in examples if e["problem_id"] in kept]


def length_bucketed(items, length, batch_size, rng, bucket_batches=50):
    """Shuffled batches of similar length: shuffle, then sort within windows of many batches."""
    order = list(items)
    rng.shuffle(order)
    window = batch_size * bucket_batches
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start:start + window], key=length)
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def preference_pairs(examples, rng):
    """(correct, incorrect) pairs within each problem that has both: every example is in at
    least one pair (the shorter side cycles), as many pairs as the longer side has examples."""
    pairs = []
    for group in by_problem(examples).values():
        right = [i for i in group if i["label"]]
        wrong = [i for i in group if not i["label"]]
        if not right or not wrong:
            continue
        rng.shuffle(right)
        rng.shuffle(wrong)
        pairs += [(right[k % len(right)], wrong[k % len(wrong)]) for k in range(max(len(right), len(wrong)))]
    return pairs


def plan_batches(train, lengths, objective, batch_size, epochs, seed, world=1):
    """Every batch of the run, in order, as lists of examples. Batches of `batch_size × world` are
    drawn (epoch k from `seed` and k alone) and each is cut into `world` consecutive per-process
    batches, so N processes of batch B train on the batches one process of batch N×B would. For
    the pairwise objective a batch holds the correct examples of its pairs, then the incorrect
    ones in the same order (TRL's layout: chosen half, rejected half). Returns (batches, batches
    per epoch)."""
    length = {id(e): n for e, n in zip(train, lengths)}

    def epoch_batches(epoch):
        rng = random.Random(f"{seed}:{epoch}")
        if objective != "pairwise":
            return length_bucketed(train, lambda e: length[id(e)], batch_size * world, rng)
        pairs = preference_pairs(train, rng)
        if not pairs:
            sys.exit("--objective pairwise: no training problem has both a correct and an incorrect example")
        return length_bucketed(pairs, lambda p: max(length[id(p[0])], length[id(p[1])]),
                               max(1, batch_size // 2) * world, rng)

    def per_process(batch):
        share = math.ceil(len(batch) / world)
        parts = [batch[i:i + share] for i in range(0, len(batch), share)]
        if objective == "pairwise":
            parts = [[p[0] for p in part] + [p[1] for p in part] for part in parts]
        return parts + [parts[-1]] * (world - len(parts))

    planned, epoch = [], 0
    while True:
        batches = epoch_batches(epoch)
        if epoch == 0:
            per_epoch = len(batches)
            total = max(1, math.ceil(per_epoch * epochs))
        planned += batches[: total - len(planned)]
        if len(planned) >= total:
            return [part for batch in planned for part in per_process(batch)], per_epoch * world
        epoch += 1
