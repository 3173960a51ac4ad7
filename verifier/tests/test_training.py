"""Training on the Hugging Face stack: the batch plan (split over processes, resumable), kill -9
and --resume, two processes under accelerate launch (gloo), the pairwise objective, LoRA merged into a decoder,
static int8 quantization, and reward models trained elsewhere exported and scored by `bestofn
score` as PyTorch scores them."""

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "verifier"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bestofn_verifier import export, quantize  # noqa: E402
from bestofn_verifier.config import VerifierConfig, read_jsonl, read_solutions  # noqa: E402
from bestofn_verifier.data import plan_batches, read_examples  # noqa: E402
from bestofn_verifier.train import validation_share  # noqa: E402
from test_pipeline import bestofn_binary, write_jsonl, write_synthetic_data  # noqa: E402

PYTHON = REPO / ".venv" / "bin" / "python"
ACCELERATE = REPO / ".venv" / "bin" / "accelerate"
TWO_CPU_PROCESSES = REPO / "verifier" / "accelerate" / "cpu-2proc.yaml"
SMALL = ["--max-steps", "6", "--save-steps", "2", "--batch-size", "4", "--max-length", "64",
         "--val-fraction", "0.3", "--log-every", "1", "--report-to", "none"]


def random_examples(rng, problems, per_problem):
    return [{"problem_id": str(p), "question": f"q{p}", "solution": "x" * rng.randint(1, 40),
             "label": rng.randint(0, 1)} for p in range(problems) for _ in range(per_problem)]


@pytest.mark.parametrize("seed", range(20))
def test_processes_train_on_the_batches_of_one_process(seed):
    rng = random.Random(seed)
    train = random_examples(rng, rng.randint(3, 30), rng.randint(2, 9))
    lengths = [len(e["solution"]) for e in train]
    batch, epochs = rng.randint(1, 9), rng.choice([0.5, 1, 2.5])
    for objective in ["pointwise", "pairwise"]:
        if objective == "pairwise":
            batch += batch % 2  # whole pairs in each process's batch (train refuses an odd one)
        try:
            one, per_epoch = plan_batches(train, lengths, objective, batch * 2, epochs, seed)
        except SystemExit:
            assert objective == "pairwise"  # no problem with both labels
            continue
        two, _ = plan_batches(train, lengths, objective, batch, epochs, seed, world=2)
        assert len(two) == 2 * len(one)
        for k, whole in enumerate(one):
            halves = two[2 * k] + two[2 * k + 1]
            # The two halves hold the one-process batch (the last may repeat a half to even out).
            assert Counter(map(id, whole)) <= Counter(map(id, halves))
            if objective == "pairwise":
                for part in (two[2 * k], two[2 * k + 1], whole):
                    chosen, rejected = part[: len(part) // 2], part[len(part) // 2:]
                    assert all(c["label"] == 1 and r["label"] == 0 and c["problem_id"] == r["problem_id"]
                               for c, r in zip(chosen, rejected))
        if objective == "pointwise" and epochs >= 1:
            # Every example is seen in the first epoch.
            assert {id(e) for b in one[:per_epoch] for e in b} == {id(e) for e in train}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_synthetic_data(tmp_path_factory.mktemp("training"))


def train(*args, procs=1, check=True):
    if procs == 1:
        command = [PYTHON, "-m", "bestofn_verifier", "train"]
    else:
        command = [ACCELERATE, "launch", "--config_file", TWO_CPU_PROCESSES, "--num_processes", str(procs),
                   "-m", "bestofn_verifier", "train", "--threads", "1"]
    return subprocess.run([str(c) for c in command + list(args)], cwd=REPO / "verifier", check=check,
                          capture_output=True, text=True)


def validation_history(checkpoint):
    return VerifierConfig.load(checkpoint).training["validation"]


def test_kill_and_resume_ends_where_an_uninterrupted_run_ends(data, tmp_path):
    flags = ["--data", data / "examples.jsonl", *SMALL]
    train(*flags, "--out", tmp_path / "whole")
    cut = tmp_path / "cut"
    run = subprocess.Popen([str(PYTHON), "-m", "bestofn_verifier", "train", *map(str, flags), "--out", str(cut)],
                           cwd=REPO / "verifier", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (cut / "trainer" / "checkpoint-4" / "trainer_state.json").exists():
        assert run.poll() is None and time.monotonic() < deadline, "training ended before its 4th step"
        time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert not (cut / "verifier.json").exists()
    # A checkpoint cut off while being written is passed over.
    (cut / "trainer" / "checkpoint-5").mkdir(exist_ok=True)
    resumed = train(*flags, "--out", cut, "--resume")
    assert "resuming from" in resumed.stdout and "checkpoint-5 is incomplete" in resumed.stdout
    assert validation_history(cut) == validation_history(tmp_path / "whole")
    weights = [(d / "model" / "model.safetensors").read_bytes() for d in (cut, tmp_path / "whole")]
    assert weights[0] == weights[1]


def test_training_never_replaces_the_directory_holding_its_data(data, tmp_path):
    inside = tmp_path / "run" / "examples.jsonl"
    inside.parent.mkdir()
    inside.write_bytes((data / "examples.jsonl").read_bytes())
    refused = train("--data", inside, *SMALL, "--out", tmp_path / "run", check=False)
    assert refused.returncode != 0 and "inside --out" in refused.stderr and inside.exists()


def test_a_second_training_into_the_same_out_is_refused(data, tmp_path):
    flags = ["--data", data / "examples.jsonl", *SMALL, "--out", tmp_path / "run"]
    first = subprocess.Popen([str(PYTHON), "-m", "bestofn_verifier", "train", *map(str, flags)],
                             cwd=REPO / "verifier", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (tmp_path / "run" / "trainer" / "plan.json").exists():
        assert first.poll() is None and time.monotonic() < deadline, "the first training ended before its plan"
        time.sleep(0.05)
    second = train(*flags, check=False)
    assert second.returncode != 0 and "being written by another training" in second.stderr
    assert first.wait() == 0 and (tmp_path / "run" / "verifier.json").exists()


GOOD = b'{"problem_id": "p", "question": "q", "solution": "s", "label": 1}'


@pytest.mark.parametrize("examples", [1, 2, 3, 10, 129])
@pytest.mark.parametrize("world", [1, 2, 3, 8])
def test_every_process_runs_as_many_validation_forwards(examples, world):
    shares = [validation_share(examples, rank, world) for rank in range(world)]
    assert sorted(row for rows, _ in shares for row in rows) == list(range(examples))
    # As many rows through the model in every process: as many forward passes.
    assert len({len(scored) for _, scored in shares}) == 1
    for rows, scored in shares:
        assert scored[:len(rows)] == rows and set(scored) <= set(range(examples))


@pytest.mark.parametrize("bad, what", [
    (b'{"problem_id": "p"', "not JSON"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b"[1, 2]", "not a JSON object"),
    (b'{"problem_id": "p", "question": "q", "label": 1}', "missing field(s) ['solution']"),
    (b'{"problem_id": "p", "question": "q", "solution": ["s"], "label": 1}', "solution is list"),
    (b'{"problem_id": "p", "question": 3, "solution": "s", "label": 1}', "question is int"),
    (b'{"problem_id": null, "question": "q", "solution": "s", "label": 1}', "problem_id None"),
    (b'{"problem_id": "p", "question": "q", "solution": "s", "label": 2}', "label 2 is not 0 or 1"),
    (b'{"problem_id": "p", "question": "q", "solution": "s", "label": "1"}', "label '1' is not 0 or 1"),
])
def test_bad_training_data_is_refused_naming_file_and_line(tmp_path, bad, what):
    path = tmp_path / "examples.jsonl"
    path.write_bytes(GOOD + b"\n\n" + GOOD + b"\r\n" + bad + b"\n" + GOOD + b"\n")
    with pytest.raises(SystemExit) as refused:
        read_examples(path)
    assert str(refused.value).startswith(f"{path}:4: ") and what in str(refused.value)


@pytest.mark.parametrize("bad", [b"[1]", b'{"question": "q"}', b'{"question": "q", "solution": 3}',
                                 b'{"question": null, "solution": "s"}', b'"text"'])
def test_rows_to_score_are_refused_alike_by_export_and_quantize(tmp_path, bad):
    """export --check-data and quantize --calibration-data read through one reader: a row they
    cannot score stops the command naming its line (quantize used to drop it silently)."""
    path = tmp_path / "rows.jsonl"
    path.write_bytes(GOOD + b"\n" + bad + b"\n")
    for read in (read_solutions, lambda p: quantize.calibration_examples(p, 10)):
        with pytest.raises(SystemExit, match=f"^{path}:2: needs string fields question and solution$"):
            read(path)
    path.write_bytes(b"\n \n")
    with pytest.raises(SystemExit, match="no examples"):
        quantize.calibration_examples(path, 10)


@pytest.mark.parametrize("seed", range(20))
def test_any_bytes_are_read_or_refused_with_a_line(tmp_path, seed):
    rng = random.Random(seed)
    lines = [GOOD if rng.random() < 0.5 else rng.choice([
        bytes(rng.randrange(256) for _ in range(rng.randint(0, 40))),
        GOOD[:rng.randrange(len(GOOD))], GOOD.replace(b'"s"', b"null"), b"  "]) for _ in range(rng.randint(0, 8))]
    path = tmp_path / "examples.jsonl"
    path.write_bytes(b"\n".join(lines))
    try:
        examples, sha256 = read_examples(path)
    except SystemExit as refused:
        assert str(refused).startswith(f"{path}:") and str(refused) != f"{path}: "
        return
    assert examples and all(e["label"] in (0, 1) and isinstance(e["problem_id"], str) for e in examples)
    assert len(sha256) == 64


def test_resume_refuses_other_settings(data, tmp_path):
    flags = ["--data", data / "examples.jsonl", *SMALL]
    train(*flags, "--out", tmp_path / "run", "--max-steps", "2")
    refused = train(*flags, "--out", tmp_path / "run", "--resume", "--lr", "1e-3", check=False)
    assert refused.returncode != 0 and "lr" in refused.stderr and "other settings" in refused.stderr


def test_two_processes_train_like_one_and_say_so(data, tmp_path):
    flags = ["--data", data / "examples.jsonl", *SMALL]
    train(*flags, "--out", tmp_path / "one", "--batch-size", "8")
    two = train(*flags, "--out", tmp_path / "two", "--batch-size", "4", procs=2)
    assert "over 2 process(es)" in two.stdout
    training = VerifierConfig.load(tmp_path / "two").training
    assert training["world_size"] == 2 and training["global_batch_size"] == 8
    assert VerifierConfig.load(tmp_path / "one").training["global_batch_size"] == 8
    assert training["distributed"] == "MULTI_CPU"
    assert VerifierConfig.load(tmp_path / "one").training["distributed"] == "NO"
    # The same batches, gradients averaged over the processes: only dropout's draws differ.
    one, both = validation_history(tmp_path / "one"), validation_history(tmp_path / "two")
    assert [h["step"] for h in one] == [h["step"] for h in both]
    assert abs(one[-1]["loss"] - both[-1]["loss"]) < 0.05
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == sorted(p.name for p in (tmp_path / "two").iterdir())


def test_a_sharding_config_that_runs_unsharded_is_said(data, tmp_path):
    """accelerate runs an FSDP config as plain data parallelism without accelerators: the run says so."""
    command = [str(PYTHON), "-m", "bestofn_verifier", "train", "--data", str(data / "examples.jsonl"), *SMALL,
               "--max-steps", "1", "--out", str(tmp_path / "run")]
    run = subprocess.run(command, cwd=REPO / "verifier", capture_output=True, text=True, check=True,
                         env={**os.environ, "ACCELERATE_USE_FSDP": "true"})
    assert "asks for FSDP; accelerate runs it as distributed type NO here" in run.stderr
    assert VerifierConfig.load(tmp_path / "run").training["distributed"] == "NO"


def test_pairwise_objective_trains_and_exports(data, tmp_path):
    train("--data", data / "examples.jsonl", *SMALL, "--objective", "pairwise", "--out", tmp_path / "ckpt")
    training = VerifierConfig.load(tmp_path / "ckpt").training
    assert training["objective"] == "pairwise" and training["best_checkpoint"].startswith("checkpoint-")
    export.main(["--checkpoint", str(tmp_path / "ckpt"), "--out", str(tmp_path / "verifier")])
    assert VerifierConfig.load(tmp_path / "verifier").training["export_parity_max_abs_logit_diff"] < 1e-4


@pytest.fixture(scope="module")
def tiny_decoder(tmp_path_factory):
    """A two-layer Llama language model with the bundled SmolLM2's tokenizer."""
    from transformers import AutoTokenizer, LlamaForCausalLM

    from bestofn_verifier.tiny_rm import DEFAULT_TOKENIZER, tiny_llama_config

    if not DEFAULT_TOKENIZER.exists():
        pytest.skip(f"{DEFAULT_TOKENIZER} is written by scripts/setup.sh")
    directory = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = AutoTokenizer.from_pretrained(DEFAULT_TOKENIZER)
    LlamaForCausalLM(tiny_llama_config(tokenizer)).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def test_lora_trains_merges_and_exports(data, tiny_decoder, tmp_path):
    run = train("--data", data / "examples.jsonl", *SMALL, "--base", tiny_decoder, "--lora-r", "4",
                "--lr", "1e-2", "--out", tmp_path / "ckpt")
    assert "LoRA r=4" in run.stdout and "LoRA merged" in run.stdout
    lora = VerifierConfig.load(tmp_path / "ckpt").training["lora"]
    assert lora["merged"] and lora["merge_max_abs_logit_diff"] < 1e-4
    assert (tmp_path / "ckpt" / "adapter" / "adapter_config.json").exists()
    # The merged model is a plain Hugging Face model: no adapter weights left in it.
    from safetensors import safe_open

    with safe_open(str(tmp_path / "ckpt" / "model" / "model.safetensors"), "pt") as weights:
        assert not [k for k in weights.keys() if "lora" in k]
    export.main(["--checkpoint", str(tmp_path / "ckpt"), "--out", str(tmp_path / "verifier")])
    config = VerifierConfig.load(tmp_path / "verifier")
    assert config.pooling == "last-token" and config.training["export_parity_max_abs_logit_diff"] < 1e-4


def test_qlora_trains_on_a_4bit_base_and_merges_into_its_dequantized_weights(data, tiny_decoder, tmp_path):
    run = train("--data", data / "examples.jsonl", *SMALL, "--base", tiny_decoder, "--lora-r", "4",
                "--load-in-4bit", "--lr", "1e-2", "--out", tmp_path / "ckpt")
    assert "base in 4-bit NF4: 14 linear layers" in run.stdout and "LoRA merged" in run.stdout
    lora = VerifierConfig.load(tmp_path / "ckpt").training["lora"]
    assert lora["base_weights"].startswith("nf4") and lora["merge_max_abs_logit_diff"] < 1e-3
    from safetensors.torch import load_file

    merged = load_file(tmp_path / "ckpt" / "model" / "model.safetensors")
    original = load_file(tiny_decoder / "model.safetensors")
    name = "model.layers.0.mlp.up_proj.weight"
    # The merged layer is NF4's rounding of the original plus the trained low-rank update: close, not equal.
    change = (merged[name] - original[name]).abs()
    assert 0 < change.max() < 0.5 * original[name].abs().max()
    export.main(["--checkpoint", str(tmp_path / "ckpt"), "--out", str(tmp_path / "verifier")])
    assert VerifierConfig.load(tmp_path / "verifier").training["export_parity_max_abs_logit_diff"] < 1e-4


def test_qlora_on_an_encoder_keeps_its_classifier_in_float(data, tmp_path):
    """MiniLM's head is `classifier`, which bitsandbytes would quantize with the rest; the head
    trains in full, so it must stay in float (it used to fail in the first forward)."""
    run = train("--data", data / "examples.jsonl", *SMALL, "--lora-r", "4", "--load-in-4bit", "--out",
                tmp_path / "ckpt")
    # Six layers of six linear layers, and the pooler: not the classifier.
    assert "base in 4-bit NF4: 37 linear layers" in run.stdout
    assert VerifierConfig.load(tmp_path / "ckpt").training["lora"]["merge_max_abs_logit_diff"] < 1e-3
    export.main(["--checkpoint", str(tmp_path / "ckpt"), "--out", str(tmp_path / "verifier"), "--no-calibration"])
    assert VerifierConfig.load(tmp_path / "verifier").training["export_parity_max_abs_logit_diff"] < 1e-4


@pytest.mark.parametrize("lora", [False, True])
def test_gathered_weights_rebuild_the_trained_model(data, tiny_decoder, lora):
    """What a sharded run (FSDP, DeepSpeed) saves: the weights the accelerator gathers, loaded
    into the model as training built it, score as the trained model does."""
    import torch

    from bestofn_verifier import train as training
    from bestofn_verifier.config import configured_tokenizer
    from bestofn_verifier.model import predict, verifier_module

    args = training.parse_args(["--data", "x", "--out", "y", "--base", str(tiny_decoder)]
                               + (["--lora-r", "4"] if lora else []))
    config = training.build_config(args, tiny_decoder)
    model, peft_model = training.load_backbone(args, tiny_decoder, config)
    with torch.no_grad():  # as if trained: every trainable weight moved
        for parameter in model.parameters():
            if parameter.requires_grad:
                parameter.add_(torch.randn_like(parameter) * 0.1)
    trained = verifier_module(model, config)
    rebuilt, rebuilt_peft = training.unsharded_model(args, tiny_decoder, config, trained.state_dict())
    assert (rebuilt_peft is not None) == lora
    tokenizer = configured_tokenizer(tiny_decoder / "tokenizer.json", config)
    pairs = [(e["question"], e["solution"]) for e in read_jsonl(data / "examples.jsonl")[:8]]
    expected = predict(trained, tokenizer, config, pairs)
    assert np.abs(predict(verifier_module(rebuilt, config), tokenizer, config, pairs) - expected).max() == 0
    fresh, _ = training.load_backbone(args, tiny_decoder, config)
    assert np.abs(predict(verifier_module(fresh, config), tokenizer, config, pairs) - expected).max() > 1e-3


def test_memory_estimate_of_a_4bit_base_is_what_bitsandbytes_holds():
    """The memory table's QLoRA base against SmolLM2 loaded in NF4: parameters and buffers plus
    the per-block scales bitsandbytes keeps beside each 4-bit weight."""
    import torch
    from bitsandbytes.nn import Linear4bit
    from transformers import AutoConfig, AutoModelForSequenceClassification, BitsAndBytesConfig

    from bestofn_verifier.memory import frozen_base, parameter_counts
    from bestofn_verifier.tiny_rm import DEFAULT_TOKENIZER

    base = DEFAULT_TOKENIZER
    if not (base / "config.json").exists():
        pytest.skip(f"{base} is written by scripts/setup.sh")
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=1, dtype=torch.bfloat16,
        quantization_config=BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4"))
    scales = sum(m.weight.quant_state.absmax.nbytes for m in model.modules() if isinstance(m, Linear4bit))
    held = model.get_memory_footprint() + scales
    parameters, linear = parameter_counts(AutoConfig.from_pretrained(base))
    assert abs(frozen_base("QLoRA", parameters, linear, 2) / held - 1) < 1e-3


@pytest.fixture(scope="module")
def small_run(data, tmp_path_factory):
    """A float32 training with the SMALL flags."""
    out = tmp_path_factory.mktemp("small") / "ckpt"
    train("--data", data / "examples.jsonl", *SMALL, "--out", out)
    return out


def test_bf16_trains_on_the_cpu_in_mixed_precision(data, small_run, tmp_path):
    train("--data", data / "examples.jsonl", *SMALL, "--bf16", "--out", tmp_path / "ckpt")
    training = VerifierConfig.load(tmp_path / "ckpt").training
    assert training["hyperparameters"]["bf16"]
    # bfloat16 autocast rounds the activations: the same run's validation losses move, a little.
    losses = [[entry["loss"] for entry in validation_history(run)] for run in (small_run, tmp_path / "ckpt")]
    assert losses[0] != losses[1] and np.allclose(losses[0], losses[1], atol=0.05)
    export.main(["--checkpoint", str(tmp_path / "ckpt"), "--out", str(tmp_path / "verifier"), "--no-calibration"])
    assert VerifierConfig.load(tmp_path / "verifier").training["export_parity_max_abs_logit_diff"] < 1e-4


def test_static_int8_is_calibrated_and_close(data, small_run, tmp_path):
    export.main(["--checkpoint", str(small_run), "--out", str(tmp_path / "fp32"), "--no-calibration"])
    quantize.main(["--verifier", str(tmp_path / "fp32"), "--out", str(tmp_path / "static"), "--mode", "static",
                   "--calibration-data", str(data / "examples.jsonl")])
    assert VerifierConfig.load(tmp_path / "static").quantization.startswith("static-int8")
    import onnx

    ops = Counter(n.op_type for n in onnx.load(str(tmp_path / "static" / "model.onnx")).graph.node)
    assert ops["QLinearMatMul"] > 0 and ops["QuantizeLinear"] > 0
    scores = {}
    for name in ["fp32", "static"]:
        out = tmp_path / f"{name}.jsonl"
        subprocess.run([str(bestofn_binary()), "score", "--verifier", str(tmp_path / name), "--problems",
                        str(data / "problems.jsonl"), "--samples", str(data / "samples.jsonl"), "--out", str(out)],
                       check=True)
        scores[name] = np.array([s["score"] for s in read_jsonl(out)])
    assert np.abs(scores["fp32"] - scores["static"]).max() < 0.05
    refused = subprocess.run([str(PYTHON), "-m", "bestofn_verifier", "quantize", "--verifier", str(tmp_path / "fp32"),
                              "--out", str(tmp_path / "x"), "--mode", "static"], capture_output=True, text=True,
                             cwd=REPO / "verifier")
    assert refused.returncode == 2 and "--calibration-data" in refused.stderr


def pytorch_reference(layout, directory, question, solution):
    """What the reward model says of one conversation, computed as its own stack does: the
    Hugging Face tokenizer's chat template and the model's own forward (for a process reward
    model, P(right) at each step's separator token)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer

    from bestofn_verifier.reward_models import load_openrlhf

    tokenizer = AutoTokenizer.from_pretrained(directory)
    messages = [{"role": "user", "content": question}, {"role": "assistant", "content": solution}]
    with torch.inference_mode():
        if layout == "token-classification":
            steps = solution.split("\n")
            ids = tokenizer(question, add_special_tokens=False)["input_ids"]
            ends = []
            for step in steps:  # TRL PRMTrainer's tokenization: each step, then the separator
                ids += tokenizer(step + "\n", add_special_tokens=False)["input_ids"]
                ends.append(len(ids) - 1)
            model = AutoModelForTokenClassification.from_pretrained(directory).eval()
            probabilities = model(input_ids=torch.tensor([ids])).logits[0].softmax(-1)[:, 1]
            return [float(probabilities[i]) for i in ends]
        ids = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]
        if layout == "openrlhf":
            ids = ids + [tokenizer.eos_token_id]  # OpenRLHF's reward server appends the EOS token
            model, _ = load_openrlhf(directory)
            logit = model(torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.long))
        else:
            model = AutoModelForSequenceClassification.from_pretrained(directory).eval()
            logit = model(input_ids=torch.tensor([ids])).logits
        return float(torch.sigmoid(logit.reshape(())))


@pytest.mark.parametrize("layout", ["sequence-classification", "token-classification", "openrlhf"])
def test_reward_models_trained_elsewhere_score_as_pytorch_scores_them(layout, tiny_decoder, tmp_path):
    from bestofn_verifier import tiny_rm

    tiny_rm.main(["--layout", layout, "--out", str(tmp_path / "rm")])
    export.main(["--checkpoint", str(tmp_path / "rm"), "--out", str(tmp_path / "verifier")])
    config = VerifierConfig.load(tmp_path / "verifier")
    assert config.training["layout"] == layout
    problems = [{"id": "a", "question": "A box holds 12 eggs. How many eggs are in 5 boxes?", "answer": "60"},
                {"id": "b", "question": "Tom has 3 apples and buys 4 more. How many apples?", "answer": "7"}]
    samples = [{"problem_id": "a", "sample_idx": 0, "text": "5 * 12 = 60.\nThe answer is 60."},
               {"problem_id": "a", "sample_idx": 1, "text": "The answer is 17."},
               {"problem_id": "b", "sample_idx": 0, "text": "3 + 4 = 7.\nSo he has 7.\nThe answer is 7."}]
    write_jsonl(tmp_path / "problems.jsonl", problems)
    write_jsonl(tmp_path / "samples.jsonl", samples)
    subprocess.run([str(bestofn_binary()), "score", "--verifier", str(tmp_path / "verifier"), "--problems",
                    str(tmp_path / "problems.jsonl"), "--samples", str(tmp_path / "samples.jsonl"), "--out",
                    str(tmp_path / "scored.jsonl")], check=True)
    questions = {p["id"]: p["question"] for p in problems}
    for scored in read_jsonl(tmp_path / "scored.jsonl"):
        expected = pytorch_reference(layout, tmp_path / "rm", questions[scored["problem_id"]], scored["text"])
        actual = scored["step_scores"] if layout == "token-classification" else scored["score"]
        assert np.allclose(actual, expected, atol=1e-4, rtol=0), (scored, expected)
