"""The verifier directory contract shared with the Rust scorer: model.onnx, tokenizer.json and
verifier.json. Tokenization goes through the `tokenizers` library configured from verifier.json,
exactly as bestofn does it, so training, export checks and Rust scoring see the same tokens."""

import json
import os
import re
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

FORMAT = "bestofn-verifier"
VERSION = 1
# The contract of verifier.json, shared with the Rust loader (which validates against it too).
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "verifier.schema.json"


def schema_errors(data) -> list:
    """Every way `data` breaks the verifier.json schema, each as "PATH: message" (PATH a JSON
    pointer to the bad field, "/" for the whole file)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    return [
        "/" + "/".join(str(part) for part in error.absolute_path) + f": {error.message}" for error in errors
    ]


def check_schema(data, where) -> None:
    """Refuses `data` (what goes to or comes from `where`) unless it fits the schema."""
    errors = schema_errors(data)
    if errors:
        raise ValueError(f"{where}: not a valid verifier.json ({SCHEMA_PATH.name}): " + "; ".join(errors))


@dataclass
class VerifierConfig:
    # How question and solution become the model's input: {"type": "pair"} encodes them as a text
    # pair; {"type": "template", "template": "...{question}...{solution}..."} as one text.
    input: dict = field(default_factory=lambda: {"type": "pair"})
    max_length: int = 256
    # Which end of an over-long input is cut: "left" keeps a solution's final answer.
    truncation_side: str = "left"
    # What the scorer does with an input longer than max_length: "truncate" or "error".
    too_long: str = "truncate"
    # The ONNX output and its meaning: P(correct) = sigmoid(logit).
    output: dict = field(default_factory=lambda: {"name": "logits", "type": "logit"})
    onnx_inputs: list = field(default_factory=lambda: ["input_ids", "attention_mask", "token_type_ids"])
    pad_token_id: int = 0
    # Which side of a batch is padded; the scorer pads the right (a decoder's positions then stay
    # what they are unpadded).
    padding_side: str = "right"
    # Where a solution-level head reads the sequence: "model" (the model's own, e.g. BERT's [CLS]
    # pooler) or "last-token" (a decoder verifier: the hidden state of the last real token).
    pooling: str = "model"
    base_model: str = ""
    training: dict = field(default_factory=dict)
    quantization: str | None = None
    # Platt scaling fitted at export on the validation split: P(correct) = sigmoid(scale * logit + shift).
    calibration: dict | None = None
    # A step-level verifier (output["per"] == "step"): {"separator", "tag", "joiner"}; each step of the
    # solution is followed by the tag token, whose output is the step's score.
    steps: dict | None = None
    format: str = FORMAT
    version: int = VERSION

    def to_json(self) -> str:
        """verifier.json's text, refused unless it fits the schema."""
        data = asdict(self)
        check_schema(data, "the verifier.json to write")
        return json.dumps(data, indent=2, sort_keys=False) + "\n"

    @staticmethod
    def load(directory) -> "VerifierConfig":
        path = Path(directory) / "verifier.json"
        data = json.loads(path.read_text())
        check_schema(data, path)
        return VerifierConfig(**data)


class ConfiguredTokenizer:
    """The tokenizer with the truncation verifier.json prescribes and no padding. A pair whose
    question alone exceeds max_length cannot be fitted by cutting the solution only: it is
    truncated longest-first instead (as `bestofn score` does)."""

    def __init__(self, tokenizer_json, config: VerifierConfig):
        strategy = "only_second" if config.input["type"] == "pair" else "longest_first"
        self.primary = self._load(tokenizer_json, config, strategy)
        self.fallback = self._load(tokenizer_json, config, "longest_first")

    @staticmethod
    def _load(tokenizer_json, config, strategy):
        tokenizer = Tokenizer.from_file(str(tokenizer_json))
        tokenizer.enable_truncation(config.max_length, strategy=strategy, direction=config.truncation_side)
        tokenizer.no_padding()
        return tokenizer

    def encode_batch(self, inputs):
        try:
            return self.primary.encode_batch(inputs)
        except Exception:
            out = []
            for item in inputs:
                try:
                    out.append(self.primary.encode(*item) if isinstance(item, tuple) else self.primary.encode(item))
                except Exception:
                    out.append(self.fallback.encode(*item) if isinstance(item, tuple) else self.fallback.encode(item))
            return out


def configured_tokenizer(tokenizer_json, config: VerifierConfig) -> ConfiguredTokenizer:
    return ConfiguredTokenizer(tokenizer_json, config)


def split_steps(solution: str, steps: dict):
    """The solution's steps, as `bestofn score` cuts them: blank pieces left out; a solution with
    no text is one empty step."""
    pieces = [p for p in solution.split(steps["separator"]) if p.strip(" \t\n\r") != ""]
    return pieces or [solution]


def render_steps(solution: str, steps: dict):
    """The solution with each step followed by the tag (a tag inside a step is taken out)."""
    joiner = steps["separator"] if steps.get("joiner") is None else steps["joiner"]
    tag = steps["tag"]
    return joiner.join(step.replace(tag, "") + tag for step in split_steps(solution, steps))


def is_step_level(config: VerifierConfig) -> bool:
    return config.output.get("per") == "step"


def fill_template(template: str, question: str, solution: str) -> str:
    # One pass, as the Rust scorer does: a question that contains "{solution}" stays as written.
    fill = {"{question}": question, "{solution}": solution}
    return re.sub(r"\{question\}|\{solution\}", lambda m: fill[m.group(0)], template)


def model_inputs(question: str, solution: str, config: VerifierConfig):
    if is_step_level(config):
        question = question.replace(config.steps["tag"], "")
        solution = render_steps(solution, config.steps)
    if config.input["type"] == "pair":
        return (question, solution)
    return fill_template(config.input["template"], question, solution)


def encode(tokenizer: Tokenizer, pairs, config: VerifierConfig):
    """Pads a batch of (question, solution) pairs to its longest member; int64 arrays by name."""
    encodings = tokenizer.encode_batch([model_inputs(q, s, config) for q, s in pairs])
    length = max(len(e.ids) for e in encodings)
    arrays = {name: np.zeros((len(encodings), length), dtype=np.int64) for name in config.onnx_inputs}
    if "input_ids" in arrays:
        arrays["input_ids"].fill(config.pad_token_id)
    for row, e in enumerate(encodings):
        n = len(e.ids)
        arrays["input_ids"][row, :n] = e.ids
        arrays["attention_mask"][row, :n] = 1
        if "token_type_ids" in arrays:
            arrays["token_type_ids"][row, :n] = e.type_ids
    return arrays


def parse_jsonl(data: bytes, path, check=None):
    """The rows of JSONL bytes. A line that is not UTF-8 JSON, or that `check(row)` finds fault
    with (it returns what is wrong, or None), stops the command naming the file and line."""
    rows = []
    for number, line in enumerate(data.removeprefix(b"\xef\xbb\xbf").split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line.decode("utf-8"))  # JSON Lines are UTF-8: no guessing of UTF-16
        except UnicodeDecodeError:
            sys.exit(f"{path}:{number}: not UTF-8 text")
        except json.JSONDecodeError as e:
            sys.exit(f"{path}:{number}: not JSON ({e.msg} at column {e.colno})")
        problem = check(row) if check else None
        if problem:
            sys.exit(f"{path}:{number}: {problem}")
        rows.append(row)
    return rows


def read_jsonl(path, check=None):
    with open(path, "rb") as f:
        return parse_jsonl(f.read(), path, check)


def solution_fault(row):
    """What keeps a row from being scored: it needs string fields question and solution."""
    if isinstance(row, dict) and isinstance(row.get("question"), str) and isinstance(row.get("solution"), str):
        return None
    return "needs string fields question and solution"


def read_solutions(path):
    """Rows to score (an export's check or a quantization's calibration); refuses a bad row or none."""
    rows = read_jsonl(path, solution_fault)
    if not rows:
        sys.exit(f"{path}: no examples")
    return rows


def write_directory_atomically(destination, write_into):
    """Calls write_into(temp_dir), then renames the finished directory onto `destination`."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=".bestofn-", dir=destination.parent))
    temp.chmod(0o755)
    try:
        write_into(temp)
        # As readable as any file this user writes (the ONNX external-data writer makes 0600 files).
        umask = os.umask(0)
        os.umask(umask)
        for written in temp.rglob("*"):
            if written.is_file():
                written.chmod(0o666 & ~umask)
        if destination.exists():
            old = destination.with_name(destination.name + ".old")
            os.rename(destination, old)
            os.rename(temp, destination)
            import shutil

            shutil.rmtree(old)
        else:
            os.rename(temp, destination)
    except BaseException:
        import shutil

        shutil.rmtree(temp, ignore_errors=True)
        raise


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def save_hf_directory(model, base, directory):
    """The model with the tokenizer of its base: a complete Hugging Face directory, which a
    serving engine (vLLM, TEI) loads as it is."""
    from transformers import AutoTokenizer

    model.save_pretrained(directory)
    AutoTokenizer.from_pretrained(base).save_pretrained(directory)


def check_hf_directory(directory, tokenizer, config: VerifierConfig, examples):
    """Exits unless `directory` loads as a Hugging Face model with a tokenizer that gives the
    verifier's tokens: what a serving engine would score must be what `bestofn score` scores."""
    from transformers import AutoTokenizer

    try:
        served = AutoTokenizer.from_pretrained(directory)
    except (OSError, ValueError, TypeError) as error:
        raise SystemExit(f"{directory}: not a complete Hugging Face directory, its tokenizer does not load "
                         f"({error}); train again to write one") from error
    for e in examples:
        inputs = model_inputs(e["question"], e["solution"], config)
        ours = tokenizer.encode_batch([inputs])[0].ids
        if len(ours) >= config.max_length:
            continue  # truncated here by verifier.json's rule; a server applies its own
        theirs = served(*inputs)["input_ids"] if isinstance(inputs, tuple) else served(inputs)["input_ids"]
        if list(theirs) != list(ours):
            raise SystemExit(f"{directory}: its tokenizer gives other tokens than tokenizer.json for problem "
                             f"{e['problem_id']}: a served copy would score other inputs")
