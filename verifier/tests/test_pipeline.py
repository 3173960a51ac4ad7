"""Training on a few steps, export with its parity check, quantization, and scoring by the
Python baseline and by `bestofn score` on the freshly exported real (MiniLM) model."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "verifier"))

from bestofn_verifier import export, model, quantize, score_baseline, tiny, train  # noqa: E402
from bestofn_verifier.config import (VerifierConfig, configured_tokenizer, encode, model_inputs,  # noqa: E402
                                     read_jsonl, render_steps)
from bestofn_verifier.metrics import auroc, selection_accuracy  # noqa: E402


def synthetic_problems(n=24):
    """Word problems with one right and one wrong worked solution each."""
    problems, examples = [], []
    for i in range(n):
        a, b = 3 + i, 2 + i % 5
        question = f"Tom has {a} apples and buys {b} more. How many apples does he have?"
        problems.append({"id": f"p{i}", "question": question, "answer": str(a + b)})
        for idx, (total, label) in enumerate([(a + b, 1), (a + b + 1 + i % 3, 0)]):
            examples.append({"problem_id": f"p{i}", "sample_idx": idx, "question": question,
                             "solution": f"He has {a} + {b} = {total} apples.\n#### {total}", "label": label})
    return problems, examples


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def write_synthetic_data(work):
    """The synthetic problems as training examples, problems and labeled samples under WORK."""
    problems, examples = synthetic_problems()
    write_jsonl(work / "examples.jsonl", examples)
    write_jsonl(work / "problems.jsonl", problems)
    write_jsonl(work / "samples.jsonl", [
        {"problem_id": e["problem_id"], "sample_idx": e["sample_idx"], "text": e["solution"],
         "correct": bool(e["label"])} for e in examples])
    return work


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    work = write_synthetic_data(tmp_path_factory.mktemp("pipeline"))
    train.main(["--data", str(work / "examples.jsonl"), "--out", str(work / "checkpoint"),
                "--max-steps", "3", "--batch-size", "4", "--max-length", "64", "--val-fraction", "0.3",
                "--threads", "2", "--log-every", "1"])
    export.main(["--checkpoint", str(work / "checkpoint"), "--out", str(work / "verifier")])
    quantize.main(["--verifier", str(work / "verifier"), "--out", str(work / "verifier-int8")])
    return work


def test_validation_split_is_by_problem(exported):
    validation = read_jsonl(exported / "checkpoint" / "validation.jsonl")
    held_out = {e["problem_id"] for e in validation}
    assert held_out, "some problems are held out"
    # Every example of a held-out problem is in validation, none of them in training.
    _, examples = synthetic_problems()
    assert sum(e["problem_id"] in held_out for e in examples) == len(validation)


def test_training_records_its_run(exported):
    config = VerifierConfig.load(exported / "checkpoint")
    assert config.training["steps"] == 3
    assert len(config.training["data_sha256"]) == 64
    assert config.training["balanced_per_problem"] is True
    history = config.training["validation"]
    assert history and np.isfinite(history[-1]["loss"])


def test_export_matches_pytorch_and_has_dynamic_axes(exported):
    import onnx

    config = VerifierConfig.load(exported / "verifier")
    assert config.training["export_parity_max_abs_logit_diff"] < 1e-3
    graph = onnx.load(str(exported / "verifier" / "model.onnx")).graph
    assert [i.name for i in graph.input] == ["input_ids", "attention_mask", "token_type_ids"]
    for i in graph.input:
        dims = [d.dim_param for d in i.type.tensor_type.shape.dim]
        assert dims == ["batch", "sequence"]
    assert [o.name for o in graph.output] == ["logits"]


def test_int8_copy_is_smaller_and_close(exported, tmp_path):
    fp32 = (exported / "verifier" / "model.onnx").stat().st_size
    int8 = (exported / "verifier-int8" / "model.onnx").stat().st_size
    assert int8 < fp32 / 3
    assert VerifierConfig.load(exported / "verifier-int8").quantization.startswith("dynamic-int8")
    scores = {}
    for name in ["verifier", "verifier-int8"]:
        out = tmp_path / f"{name}.jsonl"
        score_baseline.main(["--verifier", str(exported / name), "--problems", str(exported / "problems.jsonl"),
                             "--samples", str(exported / "samples.jsonl"), "--out", str(out)])
        scores[name] = np.array([s["score"] for s in read_jsonl(out)])
    assert np.abs(scores["verifier"] - scores["verifier-int8"]).max() < 0.05


def bestofn_binary():
    for profile in ["release", "debug"]:
        candidate = REPO / "target" / profile / "bestofn"
        if candidate.exists():
            return candidate
    pytest.fail("build bestofn first (cargo build): the parity test runs the Rust scorer")


def test_float16_export_with_external_data_scores_close(exported, tmp_path):
    fp16 = tmp_path / "verifier-fp16"
    export.main(["--checkpoint", str(exported / "checkpoint"), "--out", str(fp16), "--dtype", "float16",
                 "--external-data", "always", "--no-calibration"])
    config = VerifierConfig.load(fp16)
    assert config.training["export_dtype"] == "float16"
    assert config.training["export_parity_max_abs_logit_diff"] < 5e-2
    # The graph alone in model.onnx, the weights (half of float32's) in model.onnx.data.
    weights = (fp16 / "model.onnx.data").stat().st_size
    fp32 = (exported / "verifier" / "model.onnx").stat().st_size
    assert (fp16 / "model.onnx").stat().st_size < fp32 / 20
    assert 0.4 * fp32 < weights < 0.6 * fp32
    scores = {}
    for name, verifier in [("fp32", exported / "verifier"), ("fp16", fp16)]:
        out = tmp_path / f"{name}.jsonl"
        subprocess.run([str(bestofn_binary()), "score", "--verifier", str(verifier), "--no-calibration",
                        "--problems", str(exported / "problems.jsonl"), "--samples", str(exported / "samples.jsonl"),
                        "--out", str(out), "--threads", "2"], check=True)
        scores[name] = np.array([s["score"] for s in read_jsonl(out)])
    assert len(scores["fp16"]) == len(synthetic_problems()[1])
    assert np.abs(scores["fp32"] - scores["fp16"]).max() < 1e-2


def test_rust_scores_match_python_and_pytorch(exported, tmp_path):
    import torch
    from transformers import AutoModelForSequenceClassification

    rust = tmp_path / "rust.jsonl"
    subprocess.run([str(bestofn_binary()), "score", "--verifier", str(exported / "verifier"),
                    "--problems", str(exported / "problems.jsonl"), "--samples", str(exported / "samples.jsonl"),
                    "--out", str(rust), "--threads", "2"], check=True)
    python = tmp_path / "python.jsonl"
    score_baseline.main(["--verifier", str(exported / "verifier"), "--problems", str(exported / "problems.jsonl"),
                         "--samples", str(exported / "samples.jsonl"), "--out", str(python)])
    rust_scores = np.array([s["score"] for s in read_jsonl(rust)])
    python_scores = np.array([s["score"] for s in read_jsonl(python)])
    assert np.abs(rust_scores - python_scores).max() < 1e-5

    config = VerifierConfig.load(exported / "verifier")
    tokenizer = configured_tokenizer(exported / "verifier" / "tokenizer.json", config)
    model = AutoModelForSequenceClassification.from_pretrained(
        exported / "checkpoint" / "model", attn_implementation="eager").eval()
    samples = read_jsonl(exported / "samples.jsonl")
    questions = {p["id"]: p["question"] for p in read_jsonl(exported / "problems.jsonl")}
    inputs = encode(tokenizer, [(questions[s["problem_id"]], s["text"]) for s in samples], config)
    with torch.inference_mode():
        logits = model(**{k: torch.from_numpy(v) for k, v in inputs.items()}).logits.reshape(-1).numpy()
    torch_scores = 1 / (1 + np.exp(-logits.astype(np.float64)))
    assert np.abs(rust_scores - torch_scores).max() < 1e-5


def test_tiny_fixture_is_reproducible(tmp_path):
    fixtures = REPO / "tests" / "fixtures"
    tiny.main(["--out", str(tmp_path / "tiny"), "--texts", str(fixtures / "problems.jsonl"),
               str(fixtures / "samples.jsonl")])
    committed = fixtures / "verifier-tiny"
    for name in ["tokenizer.json", "verifier.json", "model.onnx"]:
        assert (tmp_path / "tiny" / name).read_bytes() == (committed / name).read_bytes(), name


def test_metrics_hand_cases():
    assert auroc([0.9, 0.4, 0.6, 0.2], [1, 1, 0, 0]) == 0.75
    assert auroc([0.5, 0.5], [1, 0]) == 0.5
    assert auroc([0.1], [1]) is None
    examples = [{"problem_id": "a", "label": 0}, {"problem_id": "a", "label": 1}, {"problem_id": "b", "label": 1}]
    assert selection_accuracy(examples, [0.2, 0.9, 0.1]) == 1.0
    assert selection_accuracy(examples, [0.9, 0.2, 0.1]) == 0.5


def test_embedder_export_and_rust_similarity_match_python(tmp_path):
    """The exported sentence encoder matches PyTorch (checked by the export itself), and the mean
    pairwise similarity `bestofn compare --iterations --embedder` reports equals one computed here
    with ONNX Runtime."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    from bestofn_verifier import embedder

    directory = tmp_path / "embedder"
    embedder.main(["--out", str(directory)])
    spec = json.loads((directory / "embedder.json").read_text())
    assert spec["dims"] == 384 and spec["export_parity_max_abs_diff"] < 1e-4

    texts = {"p": ["16 - 3 - 4 = 9 eggs, 9 * 2 = 18 dollars. #### 18", "She makes $18.", "The answer is 20."],
             "q": ["Tom has 5 apples.", "5 apples in all. #### 5"]}
    runs = []
    for name, correct in [("base", False), ("next", True)]:
        path = tmp_path / f"{name}.jsonl"
        write_jsonl(path, [{"problem_id": pid, "sample_idx": i, "text": t, "extracted": "1", "correct": correct}
                           for pid, ts in texts.items() for i, t in enumerate(ts)])
        runs += ["--run", f"{name}={path}"]
    out = tmp_path / "compare"
    subprocess.run([str(bestofn_binary()), "compare", *runs, "--out", str(out), "--iterations",
                    "--embedder", str(directory), "--bootstrap", "0"], check=True, capture_output=True)
    rust = json.loads((out / "compare.json").read_text())["iterations"][0]["diversity"]["embedding_similarity"]

    tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    tokenizer.enable_truncation(spec["max_length"])
    session = ort.InferenceSession(str(directory / "model.onnx"), providers=["CPUExecutionProvider"])
    means = []
    for group in texts.values():
        vectors = []
        for text in group:  # one at a time: no padding at all on this side
            e = tokenizer.encode(text)
            inputs = {"input_ids": np.array([e.ids], dtype=np.int64),
                      "attention_mask": np.array([e.attention_mask], dtype=np.int64),
                      "token_type_ids": np.array([e.type_ids], dtype=np.int64)}
            vectors.append(session.run(["embeddings"], inputs)[0][0])
        pairs = [float(np.dot(vectors[i], vectors[j])) for i in range(len(vectors)) for j in range(i + 1, len(vectors))]
        means.append(sum(pairs) / len(pairs))
    assert abs(rust - sum(means) / len(means)) < 1e-5


def test_experiment_split_keeps_lines_and_splits_by_problem_parity():
    from bestofn_verifier.experiment import identity_scores, split_pool

    def line(problem, idx, model, prompt, config="c", correct=None):
        return json.dumps({"problem_id": str(problem), "sample_idx": idx, "text": "t", "correct": correct,
                           "generator": {"model": model, "prompt": prompt, "config": config}}) + "\n"

    pool = [line(0, 0, "code002", "COT"), line(1, 0, "code002", "LtM"), line(2, 0, "gpt4", "COT"),
            line(3, 1, "text003", "NL+SL")]
    train, heldout = split_pool(pool, {"code002", "text003"}, {"COT", "LtM"})
    assert train == [pool[0]] and heldout == [pool[1]]
    with pytest.raises(SystemExit):
        split_pool(pool, {"nothing"}, {"COT"})

    trained = [json.loads(line(0, i, "m", "p", config, correct)) for i, (config, correct) in
               enumerate([("a", True), ("a", False), ("b", True)])]
    heldout = [json.loads(line(1, 0, "m", "p", "a")), json.loads(line(1, 1, "m", "p", "b"))]
    scored = identity_scores(trained, heldout)
    assert [s["score"] for s in scored] == [0.5, 1.0]
    with pytest.raises(SystemExit):
        identity_scores(trained, [json.loads(line(1, 2, "m", "p", "unseen"))])


def test_checkpoint_is_a_complete_hugging_face_directory(exported, tmp_path):
    from bestofn_verifier.config import check_hf_directory

    checkpoint = exported / "checkpoint"
    config = VerifierConfig.load(checkpoint)
    tokenizer = configured_tokenizer(checkpoint / "tokenizer.json", config)
    examples = read_jsonl(checkpoint / "validation.jsonl")
    check_hf_directory(checkpoint / "model", tokenizer, config, examples)
    # Weights and config without the tokenizer (what train used to write) are refused.
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("config.json", "model.safetensors"):
        (bare / name).write_bytes((checkpoint / "model" / name).read_bytes())
    # (transformers may find some tokenizer through config.json; it then gives other tokens)
    with pytest.raises(SystemExit, match="not a complete Hugging Face directory|other tokens"):
        check_hf_directory(bare, tokenizer, config, examples)


def test_platt_scaling_recovers_a_known_miscalibration():
    from bestofn_verifier.metrics import ece, fit_platt

    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, 20000)
    # The truth is sigmoid(0.5 * logit - 1): an overconfident model trained on balanced data.
    labels = rng.random(20000) < 1 / (1 + np.exp(-(0.5 * logits - 1)))
    scale, shift = fit_platt(logits, labels)
    assert abs(scale - 0.5) < 0.03 and abs(shift + 1) < 0.05
    raw = 1 / (1 + np.exp(-logits))
    fitted = 1 / (1 + np.exp(-(scale * logits + shift)))
    assert ece(fitted, labels) < 0.02 < ece(raw, labels)


def test_calibration_in_verifier_json_is_applied_alike_by_rust_and_python(exported, tmp_path):
    calibrated = tmp_path / "calibrated"
    shutil.copytree(exported / "verifier", calibrated)
    spec = json.loads((calibrated / "verifier.json").read_text())
    spec["calibration"] = {"method": "platt", "scale": 0.7, "shift": -0.3}
    (calibrated / "verifier.json").write_text(json.dumps(spec))
    common = ["--problems", str(exported / "problems.jsonl"), "--samples", str(exported / "samples.jsonl")]

    def rust(verifier, out, *extra):
        subprocess.run([str(bestofn_binary()), "score", "--verifier", str(verifier), *common, "--out", str(out),
                        "--threads", "2", *extra], check=True)
        return np.array([s["score"] for s in read_jsonl(out)], dtype=np.float64)

    raw = rust(exported / "verifier", tmp_path / "raw.jsonl")
    scaled = rust(calibrated, tmp_path / "scaled.jsonl")
    assert np.abs(rust(calibrated, tmp_path / "off.jsonl", "--no-calibration") - raw).max() == 0
    logits = np.log(raw / (1 - raw))
    assert np.abs(scaled - 1 / (1 + np.exp(-(0.7 * logits - 0.3)))).max() < 1e-5
    score_baseline.main(["--verifier", str(calibrated), *common, "--out", str(tmp_path / "python.jsonl")])
    python = np.array([s["score"] for s in read_jsonl(tmp_path / "python.jsonl")])
    assert np.abs(scaled - python).max() < 1e-5
    # Ranking is unchanged.
    assert (np.argsort(scaled, kind="stable") == np.argsort(raw, kind="stable")).all()


def test_steps_are_rendered_as_the_rust_scorer_renders_them():
    steps = {"separator": "\n\n", "tag": "[MASK]", "joiner": None}
    # The same cases as crates/bestofn/src/score/spec.rs's templates_are_checked_and_filled_once.
    assert render_steps("a [MASK]b\n\n \n\nc\n\n", steps) == "a b[MASK]\n\nc[MASK]"
    assert render_steps("", steps) == "[MASK]"
    qwen = {"separator": "\n\n", "tag": "<extra_0>", "joiner": ""}
    assert render_steps("x\n\ny", qwen) == "x<extra_0>y<extra_0>"


def test_token_head_trains_on_solution_tokens_and_reads_the_last_step_tag(tmp_path):
    _, examples = synthetic_problems(8)
    data = tmp_path / "examples.jsonl"
    write_jsonl(data, examples)
    checkpoint, verifier = tmp_path / "checkpoint", tmp_path / "verifier"
    train.main(["--data", str(data), "--out", str(checkpoint), "--head", "token", "--step-separator", "\n",
                "--max-steps", "2", "--batch-size", "4", "--val-fraction", "0.25", "--threads", "2",
                "--input-template", "Question: {question}\nAnswer: {solution}"])
    config = VerifierConfig.load(checkpoint)
    assert config.output == {"name": "logits", "type": "logit", "per": "step"}
    assert config.steps == {"separator": "\n", "tag": "[MASK]", "joiner": None}
    tokenizer = configured_tokenizer(checkpoint / "tokenizer.json", config)
    question, solution = examples[0]["question"], examples[0]["solution"]
    mask = model.solution_token_mask(tokenizer, [(question, solution)], config, 128)[0]
    ids = tokenizer.encode_batch([model_inputs(question, solution, config)])[0].ids
    tag = model.step_tag_id(checkpoint / "tokenizer.json", "[MASK]")
    # Two steps ("He has ..." and "#### n"), each followed by its tag; the question is not trained on.
    assert ids.count(tag) == 2
    assert mask[:len(ids)].sum() > 0 and mask[1] == 0
    assert all(mask[i] == 1 for i, t in enumerate(ids) if t == tag)
    export.main(["--checkpoint", str(checkpoint), "--out", str(verifier), "--no-calibration"])
    assert VerifierConfig.load(verifier).steps == config.steps



def test_verifier_json_is_written_and_read_only_as_the_schema_says(exported, tmp_path):
    from bestofn_verifier.config import schema_errors

    for directory in ["verifier", "verifier-int8"]:
        written = json.loads((exported / directory / "verifier.json").read_text())
        assert schema_errors(written) == []
    config = VerifierConfig.load(exported / "verifier")
    config.output = {"name": "logits", "type": "logits"}
    with pytest.raises(ValueError, match="/output/type: 'logits' is not one of"):
        config.to_json()
    config = VerifierConfig.load(exported / "verifier")
    config.calibration = {"method": "platt", "scale": -1.0, "shift": 0.0}
    with pytest.raises(ValueError, match="/calibration"):
        config.to_json()
    broken = tmp_path / "broken"
    shutil.copytree(exported / "verifier", broken)
    spec = json.loads((broken / "verifier.json").read_text())
    spec["onnx_inputs"] = ["input_ids"]
    (broken / "verifier.json").write_text(json.dumps(spec))
    with pytest.raises(ValueError, match="/onnx_inputs"):
        VerifierConfig.load(broken)
