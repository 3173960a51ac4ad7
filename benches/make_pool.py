#!/usr/bin/env python3
"""Builds a 1,319 problems x N samples pool for timing by resampling (with replacement, seeded)
the real Faithful-CoT candidates of each GSM8K test problem. Scores are seeded uniform numbers:
they exercise the score-based strategies' code paths and mean nothing.

usage: make_pool.py POOL.jsonl.gz N OUT_SAMPLES OUT_PROBLEMS
"""
import gzip
import json
import random
import sys

pool_path, n, samples_path, problems_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
rng = random.Random(0)
with gzip.open(pool_path, "rt") as pool, open(samples_path, "w") as samples, open(problems_path, "w") as problems:
    for line in pool:
        record = json.loads(line)
        pid = str(record["id"])
        problems.write(json.dumps({"id": pid, "question": record["question"], "answer": str(record["gold"])}) + "\n")
        candidates = record["candidates"]
        for idx in range(n):
            c = rng.choice(candidates)
            samples.write(json.dumps({
                "problem_id": pid,
                "sample_idx": idx,
                "text": c["completion"],
                "generator": {"model": c["lm"], "prompt": c["prompt"]},
                "score": rng.random(),
            }) + "\n")
