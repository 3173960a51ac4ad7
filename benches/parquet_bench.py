"""Parquet beside JSONL on a real pool: sizes, and how fast each is read, by bestofn and by the
Python stack.

The Faithful-CoT GSM8K pool (54,079 samples of 1,319 problems) is imported, labeled, and written
as JSONL, gzipped JSONL and Parquet (`bestofn convert`). Timed, best of --repeats runs each:
- `bestofn label` over the JSONL and over the Parquet samples (reading is part of the stage);
- `bestofn convert` Parquet → JSONL and JSONL → Parquet (reading and writing all records);
- pandas `read_json(lines=True)` on the JSONL and pyarrow `read_table(...).to_pylist()` on the
  Parquet (the records as Python objects, what a script reads them into).

usage: .venv/bin/python benches/parquet_bench.py [--repeats 3]
"""
import argparse
import gzip
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pandas
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
POOL = ROOT.parent / "shared/data/samples/faithful_cot_gsm8k_test_pool.derived.jsonl.gz"
BESTOFN = ROOT / "target/release/bestofn"


def best_of(repeats, run):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def bestofn(*args):
    subprocess.run([str(BESTOFN), *map(str, args)], check=True, capture_output=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    repeats = parser.parse_args().repeats
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bestofn("import", "--format", "faithful-cot-pool", "--input", POOL,
                "--out", tmp / "imported.jsonl", "--problems-out", tmp / "problems.jsonl")
        bestofn("label", "--samples", tmp / "imported.jsonl", "--problems", tmp / "problems.jsonl",
                "--out", tmp / "pool.jsonl")
        jsonl, parquet = tmp / "pool.jsonl", tmp / "pool.parquet"
        with open(jsonl, "rb") as src, gzip.open(tmp / "pool.jsonl.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
        to_parquet = best_of(repeats, lambda: bestofn("convert", "--input", jsonl, "--out", parquet))
        print("sizes (54,079 labeled samples):")
        for path in [jsonl, tmp / "pool.jsonl.gz", parquet]:
            print(f"  {path.name:16} {path.stat().st_size / 1e6:8.2f} MB")
        label = lambda source: lambda: bestofn(  # noqa: E731
            "label", "--samples", source, "--problems", tmp / "problems.jsonl",
            "--out", tmp / "relabeled.jsonl")
        rows = [
            ("bestofn label, JSONL samples", best_of(repeats, label(jsonl))),
            ("bestofn label, Parquet samples", best_of(repeats, label(parquet))),
            ("bestofn convert JSONL -> Parquet", to_parquet),
            ("bestofn convert Parquet -> JSONL", best_of(repeats, lambda: bestofn(
                "convert", "--input", parquet, "--out", tmp / "back.jsonl"))),
            ("pandas read_json(lines=True), JSONL", best_of(repeats, lambda: pandas.read_json(
                jsonl, lines=True, dtype=False))),
            ("pyarrow read_table().to_pylist(), Parquet", best_of(repeats, lambda: pq.read_table(
                parquet).to_pylist())),
        ]
        print(f"\nread times, best of {repeats}:")
        for name, seconds in rows:
            print(f"  {name:44} {seconds:7.3f} s")
        same = (tmp / "back.jsonl").read_bytes() == jsonl.read_bytes()
        print(f"\nJSONL -> Parquet -> JSONL byte-identical: {same}")


if __name__ == "__main__":
    main()
