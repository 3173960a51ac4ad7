//! `bestofn score` with a real ONNX model through ONNX Runtime: the committed tiny verifier.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::str::contains;

fn score(
    verifier: &Path,
    samples: &Path,
    out: &Path,
    extra: &[&str],
) -> assert_cmd::assert::Assert {
    Command::cargo_bin("bestofn")
        .unwrap()
        .args(["score", "--threads", "1", "--verifier"])
        .arg(verifier)
        .arg("--problems")
        .arg(common::fixture("problems.jsonl"))
        .arg("--samples")
        .arg(samples)
        .arg("--out")
        .arg(out)
        .args(extra)
        .assert()
}

fn tiny() -> PathBuf {
    common::fixture("verifier-tiny")
}

#[test]
fn scores_match_python_onnxruntime_and_keep_every_field() {
    if common::skip(
        "scores_match_python_onnxruntime_and_keep_every_field",
        &[common::Need::OnnxRuntime, common::Need::Venv],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("rust.jsonl");
    score(&tiny(), &common::fixture("samples.jsonl"), &ours, &[])
        .success()
        .stderr(contains("scored 12 samples"));
    let python = dir.path().join("python.jsonl");
    common::run_verifier_tool(&[
        "score".as_ref(),
        "--verifier".as_ref(),
        tiny().as_os_str(),
        "--problems".as_ref(),
        common::fixture("problems.jsonl").as_os_str(),
        "--samples".as_ref(),
        common::fixture("samples.jsonl").as_os_str(),
        "--out".as_ref(),
        python.as_os_str(),
    ]);
    let (a, b) = (common::scores_of(&ours), common::scores_of(&python));
    assert_eq!(a.len(), 12);
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-6, "rust {x} vs python {y}");
        assert!((0.0..=1.0).contains(x));
    }
    // Distinct inputs get distinct scores: the model really ran on each.
    let distinct: std::collections::BTreeSet<u64> = a.iter().map(|s| s.to_bits()).collect();
    assert!(distinct.len() > 6);
    let first: serde_json::Value =
        serde_json::from_str(fs::read_to_string(&ours).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(first["generator"]["seed"], 0);
    assert_eq!(first["text"], "16 - 3 - 4 = 9 eggs. 9 * 2 = 18.\n#### 18");
}

#[test]
fn batching_does_not_change_scores() {
    if common::skip(
        "batching_does_not_change_scores",
        &[common::Need::OnnxRuntime],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one.jsonl");
    let many = dir.path().join("many.jsonl");
    score(
        &tiny(),
        &common::fixture("samples.jsonl"),
        &one,
        &["--max-batch", "1"],
    )
    .success()
    .stderr(contains("in 12 batches"));
    score(
        &tiny(),
        &common::fixture("samples.jsonl"),
        &many,
        &["--token-budget", "100000"],
    )
    .success()
    .stderr(contains("in 1 batches"));
    for (x, y) in common::scores_of(&one).iter().zip(common::scores_of(&many)) {
        assert!((x - y).abs() < 1e-6);
    }
}

#[test]
fn a_missing_onnx_runtime_library_is_a_load_error() {
    let dir = tempfile::tempdir().unwrap();
    score(
        &tiny(),
        &common::fixture("samples.jsonl"),
        &dir.path().join("o.jsonl"),
        &["--ort-lib", "/nonexistent/libonnxruntime.so"],
    )
    .code(69)
    .stderr(contains(
        "ONNX Runtime library /nonexistent/libonnxruntime.so does not exist",
    ));
    assert!(!dir.path().join("o.jsonl").exists());
}

/// A copy of the tiny verifier with its verifier.json edited.
fn edited_verifier(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let copy = dir.join("verifier");
    fs::create_dir_all(&copy).unwrap();
    for file in ["model.onnx", "tokenizer.json"] {
        fs::copy(tiny().join(file), copy.join(file)).unwrap();
    }
    let mut spec: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(tiny().join("verifier.json")).unwrap()).unwrap();
    edit(&mut spec);
    fs::write(copy.join("verifier.json"), spec.to_string()).unwrap();
    copy
}

#[test]
fn inputs_that_do_not_match_verifier_json_are_a_load_error() {
    if common::skip(
        "inputs_that_do_not_match_verifier_json_are_a_load_error",
        &[common::Need::OnnxRuntime],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let verifier = edited_verifier(dir.path(), |spec| {
        spec["onnx_inputs"] = serde_json::json!(["input_ids", "attention_mask"]);
    });
    score(&verifier, &common::fixture("samples.jsonl"), &dir.path().join("o.jsonl"), &[])
        .code(69)
        .stderr(contains("takes inputs [\"attention_mask\", \"input_ids\", \"token_type_ids\"] but its spec declares"));
    let verifier = edited_verifier(dir.path(), |spec| {
        spec["output"]["name"] = serde_json::json!("scores");
    });
    score(
        &verifier,
        &common::fixture("samples.jsonl"),
        &dir.path().join("o.jsonl"),
        &[],
    )
    .code(69)
    .stderr(contains("has no output \"scores\""));
}

#[test]
fn too_long_inputs_truncate_or_fail_by_policy() {
    if common::skip(
        "too_long_inputs_truncate_or_fail_by_policy",
        &[common::Need::OnnxRuntime],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let verifier = edited_verifier(dir.path(), |spec| {
        spec["max_length"] = serde_json::json!(24)
    });
    score(
        &verifier,
        &common::fixture("samples.jsonl"),
        &dir.path().join("t.jsonl"),
        &[],
    )
    .success()
    .stderr(contains("truncated"));
    score(
        &verifier,
        &common::fixture("samples.jsonl"),
        &dir.path().join("e.jsonl"),
        &["--too-long", "error"],
    )
    .code(65)
    .stderr(contains(
        "samples.jsonl:1: field `text`: question and solution are",
    ))
    .stderr(contains("over the verifier's max_length 24"));
    assert!(!dir.path().join("e.jsonl").exists());
}

#[test]
fn unknown_problems_are_reported_with_their_line() {
    if common::skip(
        "unknown_problems_are_reported_with_their_line",
        &[common::Need::OnnxRuntime],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let samples = dir.path().join("s.jsonl");
    fs::write(
        &samples,
        "{\"problem_id\": \"eggs\", \"sample_idx\": 0, \"text\": \"x\"}\n{\"problem_id\": \"nope\", \"sample_idx\": 0, \"text\": \"x\"}\n",
    )
    .unwrap();
    score(&tiny(), &samples, &dir.path().join("o.jsonl"), &[])
        .code(65)
        .stderr(contains(
            "s.jsonl:2: field `problem_id`: problem \"nope\" is not in the problems file",
        ));
    // Nothing was scored: no output, and no scoring log left behind.
    assert!(!dir.path().join("o.jsonl").exists());
    assert!(!dir.path().join("o.jsonl.partial").exists());
    // An empty samples file is an error, not an empty success.
    fs::write(&samples, "").unwrap();
    score(&tiny(), &samples, &dir.path().join("o.jsonl"), &[])
        .code(65)
        .stderr(contains("no samples (the file is empty or blank)"));
    assert!(!dir.path().join("o.jsonl.partial").exists());
}

/// (2) A stream is read once: the progress bar does not count lines of a pipe first.
#[test]
fn samples_from_a_pipe_are_all_scored() {
    if common::skip(
        "samples_from_a_pipe_are_all_scored",
        &[common::Need::OnnxRuntime],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.jsonl");
    for stream in ["-", "/dev/stdin"] {
        Command::cargo_bin("bestofn")
            .unwrap()
            .args(["score", "--threads", "1", "--verifier"])
            .arg(tiny())
            .arg("--problems")
            .arg(common::fixture("problems.jsonl"))
            .args(["--samples", stream, "--out"])
            .arg(&out)
            .write_stdin(fs::read(common::fixture("samples.jsonl")).unwrap())
            .assert()
            .success()
            .stderr(contains("scored 12 samples"));
        assert_eq!(common::scores_of(&out).len(), 12);
    }
}

/// (10, 15) Outputs that are not probabilities, and verifier.json values that cannot work, are
/// errors naming what is wrong, never `null` scores.
#[test]
fn verifier_json_is_checked_for_meaning() {
    if common::skip(
        "verifier_json_is_checked_for_meaning",
        &[common::Need::OnnxRuntime],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.jsonl");
    let samples = common::fixture("samples.jsonl");
    // The tiny model gives logits; read as probabilities some fall outside [0, 1].
    let verifier = edited_verifier(dir.path(), |spec| {
        spec["output"]["type"] = serde_json::json!("probability");
    });
    score(&verifier, &samples, &out, &[])
        .code(70)
        .stderr(contains("which is not a probability"))
        .stderr(contains("samples.jsonl:"));
    assert!(!out.exists());
    let verifier = edited_verifier(dir.path(), |spec| {
        spec["input"] = serde_json::json!({"type": "template", "template": "{question} {nonexistent} {solution}"});
    });
    score(&verifier, &samples, &out, &[])
        .code(69)
        .stderr(contains("unknown placeholder {nonexistent}"));
    let verifier = edited_verifier(dir.path(), |spec| {
        spec["pad_token_id"] = serde_json::json!(-1);
    });
    score(&verifier, &samples, &out, &[])
        .code(69)
        .stderr(contains("not a valid verifier.json"))
        .stderr(contains("/pad_token_id: -1 is less than the minimum of 0"));
    // A calibration that would reverse the ranking is refused, not applied.
    let verifier = edited_verifier(dir.path(), |spec| {
        spec["calibration"] = serde_json::json!({"method": "platt", "scale": -0.5, "shift": 0.0});
    });
    score(&verifier, &samples, &out, &[])
        .code(69)
        .stderr(contains("/calibration: "));
    assert!(!out.exists());
}

/// `solve` without llama.cpp: the replay backend and the committed tiny verifier, every stage.
#[test]
fn solve_runs_every_stage_with_a_replayed_generator() {
    if common::skip(
        "solve_runs_every_stage_with_a_replayed_generator",
        &[common::Need::OnnxRuntime],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let answers = dir.path().join("run").join("answers.jsonl");
    let solve = || {
        let mut command = Command::cargo_bin("bestofn").unwrap();
        command
            .args(["solve", "--backend", "replay", "--n", "4", "--threads", "1"])
            .arg("--replay-from")
            .arg(common::fixture("samples.jsonl"))
            .arg("--problems")
            .arg(common::fixture("problems.jsonl"))
            .arg("--verifier")
            .arg(tiny())
            .arg("--out")
            .arg(&answers);
        command
    };
    solve()
        .assert()
        .success()
        .stderr(contains("12 samples generated"))
        .stderr(contains("scored 12 samples"))
        .stderr(contains("verifier: 3 answers, accuracy"))
        .stderr(contains("coverage@4: 100.0%"));
    let picked = common::read_jsonl(&answers);
    assert_eq!(picked.len(), 12, "4 strategies × 3 problems");
    assert!(picked.iter().all(|a| a["answer"].is_string()));
    let scored = common::read_jsonl(&dir.path().join("run/answers.scored.jsonl"));
    assert!(scored
        .iter()
        .all(|s| s["score"].is_number() && s.get("extracted").is_some()));
    assert!(dir.path().join("run/answers.report/metrics.json").exists());
    // Re-running resumes: nothing to generate, the later stages run again.
    solve()
        .assert()
        .success()
        .stderr(contains("0 samples generated, 12 already present"));
}

/// A verifier served by a real vLLM (`--runner pooling`): the checkpoint `train` writes, served
/// as it is, scores what the in-process ONNX export scores; a run killed mid-way resumes.
mod served {
    use super::*;
    use serde_json::{json, Value};
    use std::collections::BTreeMap;

    const TEMPLATE: &str = "Question: {question}\nAnswer: {solution}";

    fn write_jsonl(path: &Path, rows: &[Value]) {
        let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
        fs::write(path, text).unwrap();
    }

    /// Real labeled data, the GSM8K paper's sampled solutions: training examples from the first
    /// 40 problems, and problems with one sample per run (with its label) from the next `count`.
    fn gsm8k_paper_data(dir: &Path, count: usize) -> (PathBuf, PathBuf, PathBuf) {
        let rows = common::read_jsonl(&common::shared_data("gsm8k/example_model_solutions.jsonl"));
        let runs = [
            "6b_finetuning",
            "175b_finetuning",
            "6b_verification",
            "175b_verification",
        ];
        let mut examples = Vec::new();
        for (i, row) in rows[..40].iter().enumerate() {
            for (idx, run) in runs.iter().enumerate() {
                examples.push(json!({"problem_id": format!("t{i}"), "sample_idx": idx,
                    "question": row["question"], "solution": row[run]["solution"],
                    "label": u8::from(row[run]["is_correct"].as_bool().unwrap())}));
            }
        }
        let mut problems = Vec::new();
        let mut samples = Vec::new();
        for (i, row) in rows[40..40 + count].iter().enumerate() {
            problems.push(json!({"id": format!("p{i}"), "question": row["question"]}));
            for (idx, run) in runs.iter().enumerate() {
                let text = row[run]["solution"].as_str().unwrap();
                // The solutions end with "A: <answer>".
                let answer = text.rsplit("A:").next().unwrap().trim();
                samples.push(json!({"problem_id": format!("p{i}"), "sample_idx": idx,
                    "text": text, "extracted": answer, "correct": row[run]["is_correct"]}));
            }
        }
        let paths = (
            dir.join("examples.jsonl"),
            dir.join("problems.jsonl"),
            dir.join("samples.jsonl"),
        );
        write_jsonl(&paths.0, &examples);
        write_jsonl(&paths.1, &problems);
        write_jsonl(&paths.2, &samples);
        paths
    }

    /// A verifier trained a few steps on `examples` (its checkpoint, which vLLM serves, and
    /// its exported directory).
    fn trained_verifier(dir: &Path, examples: &Path) -> (PathBuf, PathBuf) {
        let checkpoint = dir.join("checkpoint");
        let verifier = dir.join("verifier");
        common::run_verifier_tool(&[
            "train".as_ref(),
            "--data".as_ref(),
            examples.as_os_str(),
            "--out".as_ref(),
            checkpoint.as_os_str(),
            "--max-steps".as_ref(),
            "4".as_ref(),
            "--batch-size".as_ref(),
            "8".as_ref(),
            "--max-length".as_ref(),
            "512".as_ref(),
            "--input-template".as_ref(),
            TEMPLATE.as_ref(),
            "--threads".as_ref(),
            "2".as_ref(),
        ]);
        common::run_verifier_tool(&[
            "export".as_ref(),
            "--checkpoint".as_ref(),
            checkpoint.as_os_str(),
            "--out".as_ref(),
            verifier.as_os_str(),
        ]);
        (checkpoint, verifier)
    }

    /// SIGKILLs `child` once the scoring log at `log` holds `at_least` lines; the lines kept.
    fn kill_once_logged(mut child: std::process::Child, log: &Path, at_least: usize) -> usize {
        let logged = || fs::read_to_string(log).map_or(0, |t| t.lines().count());
        while logged() < at_least {
            assert!(
                child.try_wait().unwrap().is_none(),
                "the run ended before it could be killed"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        logged()
    }

    /// Runs `bestofn ARGS` to success.
    fn succeeds(args: &[&std::ffi::OsStr]) -> assert_cmd::assert::Assert {
        common::bestofn().args(args).assert().success()
    }

    #[test]
    fn solve_with_a_served_verifier_resumes_after_a_kill_and_answers_as_the_stages_by_hand() {
        if common::skip(
            "solve_with_a_served_verifier_resumes_after_a_kill_and_answers_as_the_stages_by_hand",
            &[common::Need::Vllm, common::Need::SharedData],
        ) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (examples, problems, samples) = gsm8k_paper_data(dir.path(), 60);
        let (checkpoint, verifier) = trained_verifier(dir.path(), &examples);
        let server = common::VllmServer::start_with(
            &checkpoint.join("model"),
            "verifier",
            &["--runner", "pooling"],
        );
        let url = server.root_url();
        let path = |name: &str| dir.path().join(name);
        let os = |text: &'static str| std::ffi::OsStr::new(text);
        // Generation replays the samples; the verifier is served (/classify, with the template
        // and calibration of --verifier); small requests one at a time, so that the run is long
        // enough to be killed mid-way.
        let replay = [
            os("--backend"),
            os("replay"),
            os("--replay-from"),
            samples.as_os_str(),
            os("--n"),
            os("4"),
        ];
        let served = |prefix: &str| -> Vec<std::ffi::OsString> {
            [
                ("backend", "vllm"),
                ("base-url", url.as_str()),
                ("model", "verifier"),
                ("endpoint", "classify"),
                ("request-size", "2"),
            ]
            .iter()
            .flat_map(|(flag, value)| [format!("--{prefix}{flag}").into(), (*value).into()])
            .chain(["--verifier".into(), verifier.clone().into_os_string()])
            .collect()
        };

        // By hand: generate → label → score → rank.
        let (generated, labeled, scored, by_hand) = (
            path("hand.samples.jsonl"),
            path("hand.labeled.jsonl"),
            path("hand.scored.jsonl"),
            path("hand.jsonl"),
        );
        let mut generate = vec![
            os("generate"),
            os("--problems"),
            problems.as_os_str(),
            os("--out"),
            generated.as_os_str(),
        ];
        generate.extend(replay);
        succeeds(&generate);
        succeeds(&[
            os("label"),
            os("--problems"),
            problems.as_os_str(),
            os("--samples"),
            generated.as_os_str(),
            os("--out"),
            labeled.as_os_str(),
        ]);
        let mut score = vec![
            os("score"),
            os("--problems"),
            problems.as_os_str(),
            os("--samples"),
            labeled.as_os_str(),
            os("--out"),
            scored.as_os_str(),
        ];
        let score_flags = served("");
        score.extend(score_flags.iter().map(|f| f.as_os_str()));
        succeeds(&score);
        succeeds(&[
            os("rank"),
            os("--samples"),
            scored.as_os_str(),
            os("--strategy"),
            os("verifier,weighted"),
            os("--out"),
            by_hand.as_os_str(),
        ]);

        // In one command, killed while scoring, then run again.
        let answers = path("solve/answers.jsonl");
        let mut solve = vec![
            os("solve"),
            os("--problems"),
            problems.as_os_str(),
            os("--out"),
            answers.as_os_str(),
            os("--strategy"),
            os("verifier,weighted"),
            os("--max-in-flight"),
            os("1"),
            os("--threads"),
            os("1"),
        ];
        solve.extend(replay);
        let solve_flags = served("score-");
        solve.extend(solve_flags.iter().map(|f| f.as_os_str()));
        let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("bestofn"))
            .args(&solve)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let log = path("solve/answers.scored.jsonl.partial");
        let kept = kill_once_logged(child, &log, 40);
        assert!(
            kept < 240 && !answers.exists(),
            "killed while scoring: {kept} scores logged, no answers yet"
        );
        succeeds(&solve).stderr(contains(format!("{kept} scores came from the log")));
        assert!(
            !log.exists(),
            "the log is removed once the scored file is complete"
        );

        let scores_gap = max_difference(&scored, &path("solve/answers.scored.jsonl"));
        eprintln!("solve vs the stages by hand: max |Δp| {scores_gap:.1e}");
        assert!(scores_gap <= 1e-6);
        let answers_of = |path: &Path| -> Vec<(String, String, Value)> {
            common::read_jsonl(path)
                .into_iter()
                .map(|a| {
                    (
                        a["problem_id"].as_str().unwrap().to_owned(),
                        a["strategy"].as_str().unwrap().to_owned(),
                        a["answer"].clone(),
                    )
                })
                .collect()
        };
        let (by_hand, solved) = (answers_of(&by_hand), answers_of(&answers));
        assert_eq!(by_hand.len(), 120, "an answer per problem and strategy");
        assert_eq!(solved, by_hand);
    }

    /// p(Yes) / (p(Yes) + p(No)) over one token's top log-probabilities, computed here from the
    /// server's answer, apart from bestofn's reading.
    fn yes_share_of(answer: &Value) -> f64 {
        let top = answer["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
            .as_array()
            .unwrap();
        let mass = |word: &str| -> f64 {
            top.iter()
                .filter(|t| {
                    t["token"]
                        .as_str()
                        .unwrap()
                        .trim()
                        .eq_ignore_ascii_case(word)
                })
                .map(|t| t["logprob"].as_f64().unwrap().exp())
                .sum()
        };
        mass("yes") / (mass("yes") + mass("no"))
    }

    #[test]
    fn a_served_judge_scores_by_the_yes_share_of_its_first_token() {
        if common::skip(
            "a_served_judge_scores_by_the_yes_share_of_its_first_token",
            &[common::Need::Vllm],
        ) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let server = common::VllmServer::start(&common::smollm2_hf_dir());
        let (problems, samples) = (
            common::fixture("problems.jsonl"),
            common::fixture("samples.jsonl"),
        );
        let out = dir.path().join("judged.jsonl");
        let url = server.root_url();
        run_score(
            &problems,
            &samples,
            &out,
            &[
                "--backend",
                "judge",
                "--base-url",
                &url,
                "--model",
                "smollm2",
            ],
        )
        .success()
        .stderr(contains("scored 12 samples"));
        let judged = common::read_jsonl(&out);
        let scores: Vec<f64> = judged
            .iter()
            .map(|s| s["score"].as_f64().unwrap())
            .collect();
        assert!(scores.iter().all(|p| (0.0..=1.0).contains(p)), "{scores:?}");
        let spread = scores.iter().cloned().fold(f64::MIN, f64::max)
            - scores.iter().cloned().fold(f64::MAX, f64::min);
        assert!(
            spread > 1e-4,
            "the judge read each solution: scores {scores:?}"
        );

        // The first sample asked by hand, with the default prompt filled in here.
        let question = common::read_jsonl(&problems)[0]["question"]
            .as_str()
            .unwrap()
            .to_owned();
        let first = &judged[0];
        assert_eq!(first["problem_id"], "eggs");
        let prompt = bestofn::score::DEFAULT_JUDGE_TEMPLATE
            .replace("{question}", &question)
            .replace("{solution}", first["text"].as_str().unwrap());
        let body = json!({"model": "smollm2", "messages": [{"role": "user", "content": prompt}],
            "max_tokens": 1, "temperature": 0, "logprobs": true, "top_logprobs": 20});
        let answer: Value = ureq::post(format!("{url}/v1/chat/completions"))
            .send_json(&body)
            .unwrap()
            .body_mut()
            .read_json()
            .unwrap();
        let by_hand = yes_share_of(&answer);
        eprintln!(
            "judge: first sample {:.6} by bestofn, {by_hand:.6} by hand; scores {scores:?}",
            scores[0]
        );
        assert!((scores[0] - by_hand).abs() <= 1e-6);

        judged_with_sampled_verifications(&problems, &samples, &url, dir.path());
    }

    /// K sampled verifications (a short answer each, so that every one ends in its verdict):
    /// every sample scored, and seeded: the same scores again.
    fn judged_with_sampled_verifications(problems: &Path, samples: &Path, url: &str, dir: &Path) {
        let template = dir.join("judge.txt");
        std::fs::write(&template, bestofn::score::DEFAULT_JUDGE_TEMPLATE).unwrap();
        let run_verified = |name: &str| {
            let out = dir.join(name);
            run_score(
                problems,
                samples,
                &out,
                &[
                    "--backend",
                    "judge",
                    "--base-url",
                    url,
                    "--model",
                    "smollm2",
                    "--judge-template",
                    template.to_str().unwrap(),
                    "--verifications",
                    "4",
                    "--judge-max-tokens",
                    "3",
                    "--judge-temperature",
                    "1.0",
                ],
            )
            .success()
            .stderr(contains("scored 12 samples"));
            common::scores_of(&out)
        };
        let (once, again) = (run_verified("k1.jsonl"), run_verified("k2.jsonl"));
        assert!(once.iter().all(|p| (0.0..=1.0).contains(p)), "{once:?}");
        assert_eq!(once, again, "seeded verifications give the same scores");
    }

    fn run_score(
        problems: &Path,
        samples: &Path,
        out: &Path,
        args: &[&str],
    ) -> assert_cmd::assert::Assert {
        Command::cargo_bin("bestofn")
            .unwrap()
            .args(["score", "--threads", "1", "--problems"])
            .arg(problems)
            .arg("--samples")
            .arg(samples)
            .arg("--out")
            .arg(out)
            .args(args)
            .assert()
    }

    fn scores_by_key(path: &Path) -> BTreeMap<(String, u64), f64> {
        let mut scores = BTreeMap::new();
        for line in common::read_jsonl(path) {
            let key = (
                line["problem_id"].as_str().unwrap().to_owned(),
                line["sample_idx"].as_u64().unwrap(),
            );
            assert!(
                scores
                    .insert(key, line["score"].as_f64().unwrap())
                    .is_none(),
                "one score per sample"
            );
        }
        scores
    }

    /// Pairs past the verifier's max_length (and past the server's 512): cut by the client as
    /// in process, so /score neither refuses them (400) nor reads more than in process.
    fn long_pairs_are_cut_as_in_process(
        dir: &Path,
        problems: &Path,
        samples: &Path,
        pair_verifier: &Path,
        url: &str,
    ) {
        let long_samples = dir.join("long-samples.jsonl");
        let long: String = common::read_jsonl(samples)
            .into_iter()
            .take(12)
            .map(|mut sample| {
                let text = sample["text"].as_str().unwrap().repeat(14);
                sample["text"] = json!(text);
                format!("{sample}\n")
            })
            .collect();
        fs::write(&long_samples, long).unwrap();
        let pair_dir = pair_verifier.to_str().unwrap();
        let long_onnx = dir.join("long-onnx.jsonl");
        run_score(
            problems,
            &long_samples,
            &long_onnx,
            &["--verifier", pair_dir],
        )
        .success();
        let long_served = dir.join("long-served.jsonl");
        let args = [
            "--backend",
            "vllm",
            "--base-url",
            url,
            "--model",
            "verifier",
            "--verifier",
            pair_dir,
        ];
        let output = run_score(problems, &long_samples, &long_served, &args)
            .success()
            .stderr(contains("12 truncated"))
            .get_output()
            .stderr
            .clone();
        // A cut inside a word that re-tokenizes otherwise moves to the word's edge (said, and
        // counted); every other pair reads exactly the in-process tokens.
        let stderr = String::from_utf8_lossy(&output);
        let at_word: usize = stderr
        .lines()
        .find_map(|l| l.strip_suffix(" truncated pairs were cut for the server at a word's edge: their scores read a few tokens fewer than in process"))
        .map_or(0, |n| n.parse().unwrap());
        let (a, b) = (scores_by_key(&long_onnx), scores_by_key(&long_served));
        let equal = a
            .iter()
            .filter(|(key, x)| (*x - b[*key]).abs() <= 1e-5)
            .count();
        eprintln!(
            "pairs past max_length: {equal} of 12 equal in process, {at_word} cut at a word's edge"
        );
        assert!(
            at_word <= 4 && equal >= 12 - at_word,
            "{equal} equal, {at_word} at a word's edge"
        );
    }

    fn max_difference(a: &Path, b: &Path) -> f64 {
        max_difference_of(&scores_by_key(a), &scores_by_key(b))
    }

    fn max_difference_of(
        a: &BTreeMap<(String, u64), f64>,
        b: &BTreeMap<(String, u64), f64>,
    ) -> f64 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .map(|(key, x)| (x - b[key]).abs())
            .fold(0.0, f64::max)
    }

    /// Every sample's step scores, by (problem_id, sample_idx).
    fn step_scores_by_key(path: &Path) -> BTreeMap<(String, u64), Vec<f64>> {
        common::read_jsonl(path)
            .iter()
            .map(|line| {
                let key = (
                    line["problem_id"].as_str().unwrap().to_owned(),
                    line["sample_idx"].as_u64().unwrap(),
                );
                let steps: Vec<f64> = line["step_scores"]
                    .as_array()
                    .expect("a step-level verifier writes step_scores")
                    .iter()
                    .map(|s| s.as_f64().unwrap())
                    .collect();
                assert_eq!(line["score"].as_f64(), steps.last().copied());
                (key, steps)
            })
            .collect()
    }

    /// The token id of `token` in a tokenizer.json's added tokens.
    fn added_token_id(tokenizer: &Path, token: &str) -> u64 {
        let tokenizer: Value =
            serde_json::from_str(&fs::read_to_string(tokenizer).unwrap()).unwrap();
        tokenizer["added_tokens"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["content"] == token)
            .and_then(|t| t["id"].as_u64())
            .unwrap()
    }

    #[test]
    fn a_decoder_verifier_scores_alike_in_process_and_served() {
        if common::skip(
            "a_decoder_verifier_scores_alike_in_process_and_served",
            &[
                common::Need::Vllm,
                common::Need::SharedData,
                common::Need::OnnxRuntime,
            ],
        ) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (examples, problems, samples) = gsm8k_paper_data(dir.path(), 10);
        let checkpoint = dir.path().join("checkpoint");
        let verifier = dir.path().join("verifier");
        let base = common::smollm2_hf_dir();
        let train: &[&std::ffi::OsStr] = &[
            "train".as_ref(),
            "--base".as_ref(),
            base.as_os_str(),
            "--data".as_ref(),
            examples.as_os_str(),
            "--out".as_ref(),
            checkpoint.as_os_str(),
            "--max-steps".as_ref(),
            "2".as_ref(),
            "--batch-size".as_ref(),
            "2".as_ref(),
            "--max-length".as_ref(),
            "512".as_ref(),
            "--threads".as_ref(),
            "2".as_ref(),
        ];
        common::run_verifier_tool(train);
        common::run_verifier_tool(&[
            "export".as_ref(),
            "--checkpoint".as_ref(),
            checkpoint.as_os_str(),
            "--out".as_ref(),
            verifier.as_os_str(),
            "--check-examples".as_ref(),
            "8".as_ref(),
        ]);
        let spec: Value =
            serde_json::from_str(&fs::read_to_string(verifier.join("verifier.json")).unwrap())
                .unwrap();
        assert_eq!(spec["pooling"], "last-token");
        assert_eq!(spec["onnx_inputs"], json!(["input_ids", "attention_mask"]));
        let verifier_arg = verifier.to_str().unwrap();
        let in_process = dir.path().join("onnx.jsonl");
        run_score(
            &problems,
            &samples,
            &in_process,
            &["--verifier", verifier_arg],
        )
        .success()
        // One solution of 1564 tokens: the server is told to cut it the same way.
        .stderr(contains("1 truncated"));

        let server = common::VllmServer::start_with(
            &checkpoint.join("model"),
            "decoder",
            &["--runner", "pooling"],
        );
        let url = server.root_url();
        let served = dir.path().join("vllm.jsonl");
        let classify = [
            "--backend",
            "vllm",
            "--base-url",
            &url,
            "--model",
            "decoder",
            "--endpoint",
            "classify",
            "--verifier",
            verifier_arg,
        ];
        run_score(&problems, &samples, &served, &classify).success();
        let gap = max_difference(&in_process, &served);
        eprintln!(
            "max |Δp|: decoder verifier, onnx (right-padded batches) vs vllm /classify {gap:.2e}"
        );
        assert!(gap <= 1e-5);
    }

    #[test]
    fn served_step_scores_equal_in_process_step_scores() {
        if common::skip(
            "served_step_scores_equal_in_process_step_scores",
            &[
                common::Need::Vllm,
                common::Need::SharedData,
                common::Need::OnnxRuntime,
            ],
        ) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (examples, problems, samples) = gsm8k_paper_data(dir.path(), 30);
        let checkpoint = dir.path().join("checkpoint");
        let verifier = dir.path().join("verifier");
        let train: &[&str] = &[
            "train",
            "--head",
            "token",
            "--step-separator",
            "\n",
            "--step-tag",
            "[MASK]",
            "--max-steps",
            "4",
            "--batch-size",
            "8",
            "--max-length",
            "512",
            "--input-template",
            TEMPLATE,
            "--threads",
            "2",
        ];
        let mut args: Vec<&std::ffi::OsStr> = train.iter().map(|a| a.as_ref()).collect();
        args.extend([
            "--data".as_ref(),
            examples.as_os_str(),
            "--out".as_ref(),
            checkpoint.as_os_str(),
        ]);
        common::run_verifier_tool(&args);
        common::run_verifier_tool(&[
            "export".as_ref(),
            "--checkpoint".as_ref(),
            checkpoint.as_os_str(),
            "--out".as_ref(),
            verifier.as_os_str(),
        ]);
        let in_process = dir.path().join("onnx.jsonl");
        let verifier_arg = verifier.to_str().unwrap();
        run_score(
            &problems,
            &samples,
            &in_process,
            &["--verifier", verifier_arg],
        )
        .success();

        let tag_id = added_token_id(&checkpoint.join("tokenizer.json"), "[MASK]");
        let pooler = format!(r#"{{"tok_pooling_type": "STEP", "step_tag_id": {tag_id}}}"#);
        let server = common::VllmServer::start_with(
            &checkpoint.join("model"),
            "prm",
            &["--runner", "pooling", "--pooler-config", &pooler],
        );
        let url = server.root_url();
        let served = dir.path().join("vllm.jsonl");
        let pooling = [
            "--backend",
            "vllm",
            "--base-url",
            &url,
            "--model",
            "prm",
            "--endpoint",
            "pooling",
            "--verifier",
            verifier_arg,
        ];
        run_score(&problems, &samples, &served, &pooling)
            .success()
            .stderr(contains("scored 120 samples"));

        let (ours, theirs) = (step_scores_by_key(&in_process), step_scores_by_key(&served));
        assert_eq!(ours.len(), 120);
        let mut gap = 0f64;
        for (key, steps) in &ours {
            assert_eq!(steps.len(), theirs[key].len(), "steps of {key:?}");
            for (a, b) in steps.iter().zip(&theirs[key]) {
                gap = gap.max((a - b).abs());
            }
        }
        let most_steps = ours.values().map(Vec::len).max().unwrap();
        eprintln!(
            "max |Δp| over step scores: onnx vs vllm /pooling {gap:.2e}; up to {most_steps} steps"
        );
        assert!(gap <= 1e-5);
        assert!(most_steps > 2, "the solutions were cut into steps");

        // One scoring pass serves every aggregation, side by side (the samples carry their real
        // labels).
        let report = dir.path().join("report");
        Command::cargo_bin("bestofn")
            .unwrap()
            .args([
                "eval",
                "--bootstrap",
                "0",
                "--aggregate",
                "min,last,prod,mean",
                "--samples",
            ])
            .arg(&served)
            .arg("--out")
            .arg(&report)
            .assert()
            .success()
            .stderr(contains("(ranked by steps: min)"))
            .stderr(contains("by steps: mean"));
        let markdown = fs::read_to_string(report.join("report.md")).unwrap();
        for row in [
            "| steps: min |",
            "| steps: last |",
            "| steps: prod |",
            "| steps: mean |",
            "| score |",
        ] {
            assert!(markdown.contains(row), "{row} in\n{markdown}");
        }
    }

    #[test]
    fn served_scores_equal_in_process_scores_and_a_killed_run_resumes() {
        if common::skip(
            "served_scores_equal_in_process_scores_and_a_killed_run_resumes",
            &[
                common::Need::Vllm,
                common::Need::SharedData,
                common::Need::OnnxRuntime,
            ],
        ) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (examples, problems, samples) = gsm8k_paper_data(dir.path(), 60);
        let (checkpoint, verifier) = trained_verifier(dir.path(), &examples);
        // The same ONNX model given the pair as a text pair: what /score computes.
        let pair_verifier = dir.path().join("verifier-pair");
        fs::create_dir_all(&pair_verifier).unwrap();
        for file in ["model.onnx", "tokenizer.json"] {
            fs::copy(verifier.join(file), pair_verifier.join(file)).unwrap();
        }
        let mut spec: Value =
            serde_json::from_str(&fs::read_to_string(verifier.join("verifier.json")).unwrap())
                .unwrap();
        spec["input"] = json!({"type": "pair"});
        fs::write(pair_verifier.join("verifier.json"), spec.to_string()).unwrap();

        let in_process = |verifier: &Path, name: &str| {
            let out = dir.path().join(name);
            let verifier = verifier.to_str().unwrap();
            run_score(&problems, &samples, &out, &["--verifier", verifier]).success();
            out
        };
        let onnx_template = in_process(&verifier, "onnx-template.jsonl");
        let onnx_pair = in_process(&pair_verifier, "onnx-pair.jsonl");

        let server = common::VllmServer::start_with(
            &checkpoint.join("model"),
            "verifier",
            &["--runner", "pooling"],
        );
        let url = server.root_url();
        let served = |endpoint: &str, name: &str, extra: &[&str]| {
            let out = dir.path().join(name);
            let mut args = vec![
                "--backend",
                "vllm",
                "--base-url",
                &url,
                "--model",
                "verifier",
                "--endpoint",
                endpoint,
            ];
            args.extend_from_slice(extra);
            run_score(&problems, &samples, &out, &args)
                .success()
                .stderr(contains("scored 240 samples"));
            out
        };
        let classify = served(
            "classify",
            "vllm-classify.jsonl",
            &["--verifier", verifier.to_str().unwrap()],
        );
        let score = served("score", "vllm-score.jsonl", &[]);
        let (classify_gap, score_gap) = (
            max_difference(&onnx_template, &classify),
            max_difference(&onnx_pair, &score),
        );
        eprintln!("max |Δp|: onnx vs vllm /classify {classify_gap:.2e}, onnx vs vllm /score {score_gap:.2e}");
        assert!(classify_gap <= 1e-5 && score_gap <= 1e-5);
        // The model really ran on each input: scores spread, not one value for all.
        let values: Vec<f64> = scores_by_key(&score).into_values().collect();
        let spread = values.iter().cloned().fold(f64::MIN, f64::max)
            - values.iter().cloned().fold(f64::MAX, f64::min);
        assert!(spread > 1e-3, "scores spread only {spread}");

        long_pairs_are_cut_as_in_process(dir.path(), &problems, &samples, &pair_verifier, &url);

        // Small requests one at a time, so the run is long enough to be killed mid-way.
        let slow = [
            "--backend",
            "vllm",
            "--base-url",
            &url,
            "--model",
            "verifier",
            "--request-size",
            "2",
            "--max-in-flight",
            "1",
        ];
        let whole = dir.path().join("whole.jsonl");
        run_score(&problems, &samples, &whole, &slow).success();
        let resumed = dir.path().join("resumed.jsonl");
        let log = dir.path().join("resumed.jsonl.partial");
        let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("bestofn"))
            .args(["score", "--problems"])
            .arg(&problems)
            .arg("--samples")
            .arg(&samples)
            .arg("--out")
            .arg(&resumed)
            .args(slow)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let kept = kill_once_logged(child, &log, 40);
        assert!(
            kept < 240 && !resumed.exists(),
            "killed mid-way: {kept} scores logged, no output yet"
        );
        run_score(&problems, &samples, &resumed, &slow)
            .success()
            .stderr(contains(format!("{kept} scores came from the log")));
        assert!(
            !log.exists(),
            "the log is removed once the output is complete"
        );
        let (whole, resumed) = (scores_by_key(&whole), scores_by_key(&resumed));
        assert_eq!(
            whole.keys().collect::<Vec<_>>(),
            resumed.keys().collect::<Vec<_>>(),
            "one score per sample, as uninterrupted"
        );
        let differing = whole
            .iter()
            .filter(|(key, score)| resumed[key] != **score)
            .count();
        let largest = max_difference_of(&whole, &resumed);
        eprintln!(
            "resumed vs uninterrupted: {differing} of 240 scores differ, by at most {largest:.1e}"
        );
        // The same requests served again may differ in the last bits on vLLM's CPU path (seen:
        // 2 of 240 by 5e-8); the scores taken from the log are the killed run's own.
        assert!(largest <= 1e-6);
    }
}

/// TEI and SGLang cannot be installed here: a scripted server answers as their documentation
/// says they do (TEI: results sorted by score, 413 over its client batch limit, 429 when
/// overloaded; SGLang: the reward as `embedding[0]`).
mod documented_engines {
    use super::*;
    use common::proxy::ScriptedServer;
    use serde_json::{json, Value};
    use std::sync::atomic::{AtomicBool, Ordering};

    /// The logit the scripted engine gives a solution.
    fn logit_of(solution: &str) -> f64 {
        (solution.len() % 17) as f64 / 4.0 - 2.0
    }

    fn sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    /// One problem with `n` distinct solutions; the problems and samples files.
    fn one_problem(dir: &Path, n: usize) -> (PathBuf, PathBuf) {
        let problems = dir.join("problems.jsonl");
        fs::write(
            &problems,
            "{\"id\": \"p\", \"question\": \"What is 6 * 7?\"}\n",
        )
        .unwrap();
        let samples = dir.join("samples.jsonl");
        let lines: String = (0..n)
            .map(|i| format!("{}\n", json!({"problem_id": "p", "sample_idx": i, "text": "6 * 7 = 42. ".repeat(i % 5 + 1) + &"x".repeat(i)})))
            .collect();
        fs::write(&samples, lines).unwrap();
        (problems, samples)
    }

    fn served_score(
        problems: &Path,
        samples: &Path,
        out: &Path,
        args: &[&str],
    ) -> assert_cmd::assert::Assert {
        Command::cargo_bin("bestofn")
            .unwrap()
            .args(["score", "--problems"])
            .arg(problems)
            .arg("--samples")
            .arg(samples)
            .arg("--out")
            .arg(out)
            .args(["--retry-base-ms", "1"])
            .args(args)
            .assert()
    }

    fn texts_and_scores(out: &Path) -> Vec<(String, f64)> {
        common::read_jsonl(out)
            .iter()
            .map(|l| {
                (
                    l["text"].as_str().unwrap().to_owned(),
                    l["score"].as_f64().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn tei_predict_is_split_to_its_batch_limit_retried_when_overloaded_and_read_by_label() {
        let overloaded = AtomicBool::new(true);
        let server = ScriptedServer::start(move |path, body| {
            assert_eq!(path, "/predict");
            if overloaded.swap(false, Ordering::SeqCst) {
                return (
                    429,
                    r#"{"error": "Model is overloaded", "error_type": "overloaded"}"#.into(),
                );
            }
            let inputs = body["inputs"].as_array().unwrap();
            if inputs.len() > 32 {
                let error = format!(
                    "batch size {} > maximum allowed batch size 32",
                    inputs.len()
                );
                return (
                    413,
                    json!({"error": error, "error_type": "Validation"}).to_string(),
                );
            }
            let answers: Vec<Value> = inputs
                .iter()
                .map(|pair| {
                    let x = logit_of(pair[1].as_str().unwrap());
                    let mut labels = [("correct", x), ("incorrect", -x)];
                    labels.sort_by(|a, b| b.1.total_cmp(&a.1));
                    json!(labels.map(|(label, score)| json!({"score": score, "label": label})))
                })
                .collect();
            (200, json!(answers).to_string())
        });
        let dir = tempfile::tempdir().unwrap();
        let (problems, samples) = one_problem(dir.path(), 70);
        let out = dir.path().join("scored.jsonl");
        let url = server.url();
        served_score(
            &problems,
            &samples,
            &out,
            &[
                "--backend",
                "tei",
                "--base-url",
                &url,
                "--label",
                "correct",
                "--request-size",
                "64",
                "--max-in-flight",
                "1",
            ],
        )
        .success()
        .stderr(contains("scored 70 samples"));
        for (text, score) in texts_and_scores(&out) {
            // softmax over (x, -x), read by label whatever the order
            assert!(
                (score - sigmoid(2.0 * logit_of(&text))).abs() < 1e-6,
                "{text}: {score}"
            );
        }
        let sizes: Vec<usize> = server
            .requests()
            .iter()
            .map(|(_, b)| b["inputs"].as_array().unwrap().len())
            .collect();
        // 429 then 413 for 64, halves of 32, then the last 6.
        assert_eq!(sizes, [64, 64, 32, 32, 6]);
        let first = &server.requests()[0].1;
        assert_eq!(
            first["inputs"][0][0], "What is 6 * 7?",
            "pairs, never a flat list"
        );
        assert_eq!(first["truncation_direction"], "Left");
    }

    #[test]
    fn sglang_classify_reads_the_reward_of_each_rendered_text() {
        let server = ScriptedServer::start(|path, body| {
            assert_eq!(path, "/classify");
            let texts = body["text"].as_array().unwrap();
            let answers: Vec<Value> = texts
                .iter()
                .map(|t| {
                    let solution = t.as_str().unwrap().split("\nA: ").nth(1).unwrap();
                    json!({"embedding": [logit_of(solution)], "meta_info": {"prompt_tokens": 9}})
                })
                .collect();
            (200, json!(answers).to_string())
        });
        let dir = tempfile::tempdir().unwrap();
        let (problems, samples) = one_problem(dir.path(), 10);
        let out = dir.path().join("scored.jsonl");
        let url = server.url();
        served_score(
            &problems,
            &samples,
            &out,
            &[
                "--backend",
                "sglang",
                "--base-url",
                &url,
                "--model",
                "rm",
                "--template",
                "Q: {question}\nA: {solution}",
            ],
        )
        .success();
        for (text, score) in texts_and_scores(&out) {
            assert!((score - sigmoid(logit_of(&text))).abs() < 1e-6);
        }
        let requests = server.requests();
        assert_eq!(
            requests.len(),
            1,
            "one request for the problem's 10 solutions"
        );
        assert_eq!(requests[0].1["model"], "rm");
        // Without a template there is nothing to send: refused before any request.
        served_score(
            &problems,
            &samples,
            &out,
            &["--backend", "sglang", "--base-url", &url, "--model", "rm"],
        )
        .code(64)
        .stderr(contains("--template"));
        assert_eq!(server.requests().len(), 1);
    }

    #[test]
    fn a_server_that_answers_nonsense_fails_the_run_and_keeps_nothing_half_done() {
        let server =
            ScriptedServer::start(|_, _| (200, r#"{"data": [{"index": 0, "score": 0.5}]}"#.into()));
        let dir = tempfile::tempdir().unwrap();
        let (problems, samples) = one_problem(dir.path(), 3);
        let out = dir.path().join("scored.jsonl");
        let url = server.url();
        served_score(
            &problems,
            &samples,
            &out,
            &["--backend", "vllm", "--base-url", &url, "--model", "v"],
        )
        .code(70)
        .stderr(contains("1 results for 3 solutions"));
        assert!(!out.exists());
    }

    /// A server that refuses everything (a wrong model name, say) is found out with one
    /// minimal request, blamed as the server (exit 76), not split into many requests to pin it
    /// on a pair of the input. A server that refuses only a too-long pair still blames it.
    #[test]
    fn a_server_that_refuses_everything_is_blamed_not_the_input() {
        let server = ScriptedServer::start(|_, _| {
            (
                400,
                r#"{"error": {"message": "model `v` does not exist"}}"#.into(),
            )
        });
        let dir = tempfile::tempdir().unwrap();
        let (problems, samples) = one_problem(dir.path(), 40);
        let out = dir.path().join("scored.jsonl");
        let vllm = |url: &str| {
            [
                "--backend",
                "vllm",
                "--base-url",
                url,
                "--model",
                "v",
                "--request-size",
                "40",
            ]
            .map(str::to_owned)
        };
        served_score(
            &problems,
            &samples,
            &out,
            &vllm(&server.url()).each_ref().map(String::as_str),
        )
        .code(76)
        .stderr(contains("refuses even a minimal request"))
        .stderr(contains("does not exist"));
        assert_eq!(
            server.requests().len(),
            2,
            "the batch and the minimal probe"
        );
        assert!(!out.exists());

        let picky = ScriptedServer::start(|_, body| {
            let texts = body["text_2"].as_array().cloned().unwrap_or_default();
            if texts
                .iter()
                .any(|t| t.as_str().unwrap().contains(&"x".repeat(39)))
            {
                return (400, r#"{"error": {"message": "too long"}}"#.into());
            }
            let data: Vec<Value> = (0..texts.len())
                .map(|i| json!({"index": i, "score": 0.5}))
                .collect();
            (200, json!({ "data": data }).to_string())
        });
        served_score(
            &problems,
            &samples,
            &out,
            &vllm(&picky.url()).each_ref().map(String::as_str),
        )
        .code(65)
        .stderr(contains("too long"));
    }
}

/// The LLM judge in process (embedded llama.cpp, the bundled GGUF), checked against
/// llama-cpp-python's next-token distribution for the same prompt.
#[cfg(feature = "llama")]
mod embedded_judge {
    use super::*;
    use common::bestofn;
    use std::collections::BTreeMap;

    /// p(Yes) / (p(Yes) + p(No)) after `user` as SmolLM2's chat template (ChatML, as llama.cpp
    /// applies it) frames it, every token spelling either word counted, by llama-cpp-python.
    fn yes_share_by_llama_cpp_python(user: &str) -> f64 {
        let script = r#"
import math, sys
from llama_cpp import Llama
llm = Llama(model_path=sys.argv[1], n_ctx=2048, verbose=False, logits_all=True)
prompt = "<|im_start|>user\n" + sys.stdin.read() + "<|im_end|>\n<|im_start|>assistant\n"
tokens = llm.tokenize(prompt.encode(), add_bos=True, special=True)
llm.eval(tokens)
logits = llm.scores[llm.n_tokens - 1]
top = max(logits)
norm = top + math.log(sum(math.exp(l - top) for l in logits))
mass = {"yes": 0.0, "no": 0.0}
for i in range(llm.n_vocab()):
    word = llm.detokenize([i]).decode("utf-8", "replace").strip().lower()
    if word in mass:
        mass[word] += math.exp(logits[i] - norm)
print(mass["yes"] / (mass["yes"] + mass["no"]))
"#;
        let mut child = std::process::Command::new(common::llama_venv_python())
            .args(["-c", script])
            .arg(common::bundled_gguf())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(user.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    #[test]
    fn the_judge_in_process_reads_yes_and_no_as_llama_cpp_python_does() {
        if common::skip(
            "the_judge_in_process_reads_yes_and_no_as_llama_cpp_python_does",
            &[common::Need::LlamaVenv],
        ) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (problems, samples) = (
            common::fixture("problems.jsonl"),
            common::fixture("samples.jsonl"),
        );
        // The judge in process on the fixtures: `extra` flags, output `name`.
        let judge = |extra: &[&str], name: &str| {
            let out = dir.path().join(name);
            let assert = bestofn()
                .args([
                    "score",
                    "--backend",
                    "judge",
                    "--threads",
                    "2",
                    "--problems",
                ])
                .arg(&problems)
                .arg("--samples")
                .arg(&samples)
                .arg("--out")
                .arg(&out)
                .args(extra)
                .env("BESTOFN_GGUF", common::bundled_gguf())
                .assert();
            (out, assert)
        };
        let (out, assert) = judge(&[], "judged.jsonl");
        assert.success().stderr(contains("scored 12 samples"));
        let judged = common::read_jsonl(&out);
        let scores = common::scores_of(&out);
        assert!(scores.iter().all(|p| (0.0..=1.0).contains(p)), "{scores:?}");
        let questions: BTreeMap<String, String> = common::read_jsonl(&problems)
            .into_iter()
            .map(|p| {
                (
                    p["id"].as_str().unwrap().to_owned(),
                    p["question"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        for (sample, score) in judged.iter().zip(&scores).take(3) {
            let user = bestofn::score::DEFAULT_JUDGE_TEMPLATE
                .replace(
                    "{question}",
                    &questions[sample["problem_id"].as_str().unwrap()],
                )
                .replace("{solution}", sample["text"].as_str().unwrap());
            let theirs = yes_share_by_llama_cpp_python(&user);
            assert!(
                (score - theirs).abs() < 1e-4,
                "{score} vs llama-cpp-python's {theirs}"
            );
        }
        // K sampled verifications need a served judge.
        let (_, assert) = judge(&["--verifications", "2"], "k.jsonl");
        assert.code(64).stderr(contains("needs a served judge"));
    }
}
