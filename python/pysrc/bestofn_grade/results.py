"""``bestofn`` outputs as pandas DataFrames (pandas is needed only here, imported on use).

    >>> from bestofn_grade import results
    >>> samples = results.samples("labeled.jsonl")            # one row per sample
    >>> problems = results.problems("report/")                # eval's problems.jsonl
    >>> curves = results.curves("report/")                    # method, k, mean, lower, upper
"""

import gzip
import json
import os

__all__ = ["read_jsonl", "samples", "problems", "curves", "differences"]


def _pandas():
    try:
        import pandas
    except ImportError as error:
        raise ImportError("bestofn_grade.results needs pandas: pip install pandas") from error
    return pandas


def read_jsonl(path):
    """The records of a JSONL file (gzip read by its magic bytes, blank lines skipped), with the
    line number in any error."""
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    records = []
    with opener(path, "rt", encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not valid JSON ({error})") from None
    return records


def samples(path):
    """A samples file (generated, labeled, scored) as a DataFrame, nested fields flattened
    (``generator.seed``)."""
    return _pandas().json_normalize(read_jsonl(path))


def _report_file(report, name):
    path = os.path.join(report, name) if os.path.isdir(report) else report
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: not found (is {report} an eval report directory?)")
    return path


def problems(report):
    """``eval``'s per-problem file (``problems.jsonl`` of a report directory) as a DataFrame."""
    return _pandas().json_normalize(read_jsonl(_report_file(report, "problems.jsonl")))


def _points(report, key, columns):
    with open(_report_file(report, "metrics.json"), encoding="utf-8") as file:
        metrics = json.load(file)
    rows = [
        {**{c: entry[c] for c in columns}, **point}
        for entry in metrics.get(key, [])
        for point in entry["points"]
    ]
    return _pandas().DataFrame(rows)


def curves(report):
    """Every method's accuracy at each k with its interval: method, estimator, k, mean, lower,
    upper (from ``metrics.json``)."""
    return _points(report, "curves", ["method", "estimator"])


def differences(report):
    """Every pair of methods' paired difference at each k with its interval: a, b, k, mean,
    lower, upper."""
    return _points(report, "differences", ["a", "b"])
