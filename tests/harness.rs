//! Evaluation-harness logs as pools: a real lm-evaluation-harness run (`--log_samples`) on the
//! bundled SmolLM2, imported, graded and evaluated; lighteval details and a search-and-learn
//! dataset written as Parquet by the library those tools write with.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{bestofn, fixture, read_jsonl, skip, smollm2_hf_dir, venv_python, Need};
use serde_json::Value;

/// Sixteen additions in the GSM8K answer format (`... #### N`): easy enough for a 135M model
/// to get some right, so both verdicts occur.
fn write_addition_problems(path: &Path) {
    let lines: String = (0..16)
        .map(|i| {
            let (a, b) = (2 + (i * 7) % 19, 3 + (i * 5) % 17);
            let question =
                format!("Tom has {a} apples and buys {b} more. How many apples does he have now?");
            let c = a + b;
            let answer = format!("He has {a} + {b} = <<{a}+{b}={c}>>{c} apples.\n#### {c}");
            serde_json::json!({"question": question, "answer": answer}).to_string() + "\n"
        })
        .collect();
    std::fs::write(path, lines).unwrap();
}

/// Runs the harness on the two fixture tasks (greedy, and 4 sampled repeats) in `dir`; the
/// directory its logs are written to.
fn run_lm_eval(dir: &Path) -> PathBuf {
    for task in ["arith.yaml", "arith_plain.yaml", "arith_sampled.yaml"] {
        std::fs::copy(fixture(&format!("harness/{task}")), dir.join(task)).unwrap();
    }
    write_addition_problems(&dir.join("arith.jsonl"));
    let lm_eval = venv_python().with_file_name("lm_eval");
    let model = format!("pretrained={},dtype=float32", smollm2_hf_dir().display());
    let output = Command::new(lm_eval)
        .args(["--model", "hf", "--model_args", &model])
        .args([
            "--tasks",
            "arith,arith_plain,arith_sampled",
            "--include_path",
            ".",
        ])
        .args(["--log_samples", "--output_path", "out", "--device", "cpu"])
        .args(["--batch_size", "8", "--seed", "1"])
        .current_dir(dir)
        // Nothing from the hub: the model is a local directory, the data a local file.
        .env("HF_HUB_OFFLINE", "1")
        .env("HF_DATASETS_OFFLINE", "1")
        .env("HF_HOME", dir.join("hf"))
        .env("TOKENIZERS_PARALLELISM", "false")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "lm_eval failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let run = std::fs::read_dir(dir.join("out"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    run.path()
}

/// The one file of `dir` whose name starts with `prefix`.
fn file_starting(dir: &Path, prefix: &str) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    assert_eq!(found.len(), 1, "{prefix}* in {}: {found:?}", dir.display());
    found.remove(0)
}

fn import(format: &[&str], input: &Path, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (samples, problems) = (
        dir.join(format!("{name}.jsonl")),
        dir.join(format!("{name}.problems.jsonl")),
    );
    common::import(format, input, &samples, &problems);
    (samples, problems)
}

fn label(samples: &Path, problems: &Path, extra: &[&std::ffi::OsStr]) -> (PathBuf, String) {
    let out = samples.with_extension("labeled.jsonl");
    let assert = bestofn()
        .arg("label")
        .arg("--samples")
        .arg(samples)
        .arg("--problems")
        .arg(problems)
        .arg("--out")
        .arg(&out)
        .args(extra)
        .assert()
        .success();
    let summary = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    (out, summary)
}

/// Imports one greedy task's log under `filter`, grades it, and checks it against the harness:
/// the imported verdicts are the harness's (their mean its exact match), every sample graded
/// otherwise is listed with both verdicts, and eval's pass@1 is the harness's exact match moved
/// by exactly those. How many were listed.
fn check_against_the_harness(
    log: &Path,
    filter: &str,
    harness_em: f64,
    dir: &Path,
    name: &str,
) -> usize {
    let (samples, problems) = import(&["lm-eval", "--filter", filter], log, dir, name);
    let source: Vec<bool> = read_jsonl(&samples)
        .iter()
        .map(|s| s["source_correct"].as_bool().unwrap())
        .collect();
    let docs = source.len();
    assert_eq!(docs, 16);
    let source_em = source.iter().filter(|&&c| c).count() as f64 / docs as f64;
    assert!(
        (source_em - harness_em).abs() < 1e-9,
        "{name}: {source_em} vs {harness_em}"
    );

    let listing = dir.join(format!("{name}.disagreements.jsonl"));
    let (labeled, summary) = label(
        &samples,
        &problems,
        &["--disagreements".as_ref(), listing.as_os_str()],
    );
    let ours: Vec<bool> = read_jsonl(&labeled)
        .iter()
        .map(|s| s["correct"].as_bool().unwrap())
        .collect();
    let listed = read_jsonl(&listing);
    let differ: Vec<usize> = (0..docs).filter(|&i| ours[i] != source[i]).collect();
    assert_eq!(listed.len(), differ.len(), "{summary}");
    for (entry, &i) in listed.iter().zip(&differ) {
        assert_eq!(entry["source_correct"], source[i]);
        assert_eq!(entry["correct"], ours[i]);
    }
    let carried = format!(
        "with the {docs} labels the input carried ({} differ",
        differ.len()
    );
    assert!(summary.contains(&carried), "{summary}");

    let metrics = common::eval_metrics(&labeled, &dir.join(format!("{name}.report")));
    let pass1 = curve(&metrics, "pass@k", 1);
    let gained = differ.iter().filter(|&&i| ours[i]).count() as f64;
    let lost = differ.len() as f64 - gained;
    let moved = harness_em + (gained - lost) / docs as f64;
    assert!(
        (pass1 - moved).abs() < 1e-9,
        "{name}: {pass1} vs {harness_em}"
    );
    eprintln!(
        "lm-eval {name}: harness exact match {harness_em:.4}, bestofn pass@1 {pass1:.4}, {} \
         disagreements",
        differ.len()
    );
    differ.len()
}

#[test]
fn a_real_lm_eval_log_is_graded_as_the_harness_grades_it_but_where_listed() {
    if skip(
        "a_real_lm_eval_log_is_graded_as_the_harness_grades_it_but_where_listed",
        &[Need::Harness],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = run_lm_eval(dir.path());
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(file_starting(&run, "results_")).unwrap())
            .unwrap();

    // Two filters in the log: which one is kept must be said.
    let log = file_starting(&run, "samples_arith_2");
    bestofn()
        .args(["import", "--format", "lm-eval", "--input"])
        .arg(&log)
        .arg("--out")
        .arg(dir.path().join("refused.jsonl"))
        .assert()
        .code(64)
        .stderr(predicates::str::contains("strict-match, flexible-extract"));
    let mut disagreements = 0;
    for task in ["arith", "arith_plain"] {
        for filter in ["strict-match", "flexible-extract"] {
            let harness_em = results["results"][task][format!("exact_match,{filter}")]
                .as_f64()
                .unwrap();
            let log = file_starting(&run, &format!("samples_{task}_2"));
            let name = format!("{task}-{filter}");
            disagreements += check_against_the_harness(&log, filter, harness_em, dir.path(), &name);
        }
    }
    // The plain task's answers carry no "#### N": strict-match misses answers bestofn reads.
    assert!(disagreements > 0);
    let first_problem = &read_jsonl(&dir.path().join("arith-strict-match.problems.jsonl"))[0];
    // The gold is the answer after ####, the reference solution kept.
    assert_eq!(first_problem["answer"], "5");
    assert!(first_problem["solution"]
        .as_str()
        .unwrap()
        .ends_with("#### 5"));

    // Repeats: each response a sample; the harness's verdict stays on the problem.
    let sampled = file_starting(&run, "samples_arith_sampled_");
    let (samples, problems) = import(
        &["lm-eval", "--filter", "strict-match"],
        &sampled,
        dir.path(),
        "sampled",
    );
    let imported = read_jsonl(&samples);
    assert_eq!(imported.len(), 64);
    assert!(imported.iter().all(|s| s["source_correct"].is_null()));
    let indices: Vec<u64> = imported
        .iter()
        .take(4)
        .map(|s| s["sample_idx"].as_u64().unwrap())
        .collect();
    assert_eq!(indices, [0, 1, 2, 3]);
    assert!(read_jsonl(&problems)
        .iter()
        .all(|p| p["source_metrics"]["exact_match"].is_number()));
    let (labeled, _) = label(&samples, &problems, &[]);
    let metrics = common::eval_metrics(&labeled, &dir.path().join("report-sampled"));
    assert!(curve(&metrics, "pass@k", 4) >= curve(&metrics, "pass@k", 1));
    assert!(curve(&metrics, "majority", 4).is_finite());
}

/// The mean of `method`'s curve at `k` in eval's metrics.json.
fn curve(metrics: &Value, method: &str, k: u64) -> f64 {
    let curve = metrics["curves"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["method"] == method);
    let points = curve.unwrap_or_else(|| panic!("no {method} curve"))["points"]
        .as_array()
        .unwrap();
    points.iter().find(|p| p["k"] == k).unwrap()["mean"]
        .as_f64()
        .unwrap()
}

/// lighteval details and a search-and-learn dataset, written by `datasets` as those tools do.
fn write_tool_datasets(dir: &Path) {
    let status = Command::new(venv_python())
        .arg(fixture("harness/write_datasets.py"))
        .arg(dir)
        .env("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn lighteval_details_keep_the_docs_verdict_where_it_is_one_samples() {
    if skip(
        "lighteval_details_keep_the_docs_verdict_where_it_is_one_samples",
        &[Need::Harness],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write_tool_datasets(dir.path());
    let details = file_starting(dir.path(), "details_");
    let (samples, problems) = import(&["lighteval"], &details, dir.path(), "lighteval");
    let imported = read_jsonl(&samples);
    let by_problem = |id: &str| imported.iter().filter(|s| s["problem_id"] == id).count();
    assert_eq!(
        (by_problem("0"), by_problem("1"), by_problem("2")),
        (1, 1, 3)
    );
    let verdicts: Vec<&Value> = imported.iter().map(|s| &s["source_correct"]).collect();
    assert_eq!(
        verdicts,
        [
            &Value::Bool(true),
            &Value::Bool(false),
            &Value::Null,
            &Value::Null,
            &Value::Null
        ]
    );
    let problems_read = read_jsonl(&problems);
    // The question as asked, not the prompt around it; only the doc's own metrics.
    assert_eq!(problems_read[0]["question"], "What is $6 \\times 7$?");
    assert_eq!(
        problems_read[2]["source_metrics"]
            .as_object()
            .unwrap()
            .len(),
        1
    );
    let (labeled, summary) = label(&samples, &problems, &[]);
    assert!(
        summary.contains("agreement      100.00% with the 2 labels"),
        "{summary}"
    );
    let correct: Vec<Value> = read_jsonl(&labeled)
        .iter()
        .map(|s| s["correct"].clone())
        .collect();
    assert_eq!(correct, [true, false, true, false, true].map(Value::Bool));
}

#[test]
fn search_and_learn_scores_become_step_scores_and_rank_by_the_last() {
    if skip(
        "search_and_learn_scores_become_step_scores_and_rank_by_the_last",
        &[Need::Harness],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write_tool_datasets(dir.path());
    let dataset = dir.path().join("search_and_learn_best_of_n.parquet");
    let (samples, problems) = import(&["search-and-learn"], &dataset, dir.path(), "sal");
    let imported = read_jsonl(&samples);
    assert_eq!(imported.len(), 4);
    assert_eq!(imported[1]["step_scores"], serde_json::json!([0.5, 0.125]));
    assert_eq!(imported[1]["score"], 0.125);
    assert_eq!(imported[3]["num_tokens"], 30);
    let problem = &read_jsonl(&problems)[1];
    assert_eq!(problem["id"], "test/prealgebra/2.json");
    assert_eq!(problem["answer"], "\\frac{3}{4}");
    assert_eq!(problem["pred_weighted@2"], "\\boxed{\\frac{3}{4}}");
    let (labeled, _) = label(&samples, &problems, &[]);
    let metrics = common::eval_metrics(&labeled, &dir.path().join("report"));
    // The PRM's last step picks the right completion of both problems; the first pick does not.
    assert_eq!(curve(&metrics, "verifier", 2), 1.0);
    assert_eq!(metrics["first"]["mean"], 0.5);
}

/// One hand-written lm-eval log line: `doc_id`, the doc, its target and responses.
fn lm_eval_line(doc_id: u64, resps: Value, filter: &str) -> String {
    serde_json::json!({
        "doc_id": doc_id, "doc": {"question": "2 + 2?"}, "target": "#### 4",
        "arguments": {"gen_args_0": {"arg_0": "Q: 2 + 2?\nA:", "arg_1": {}}},
        "resps": resps, "filtered_resps": ["4"], "filter": filter,
        "metrics": ["exact_match"], "exact_match": 1.0,
    })
    .to_string()
        + "\n"
}

#[test]
fn harness_logs_that_cannot_be_samples_are_refused_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let refuse = |format: &[&str], contents: String, expected: &str| {
        let input = dir.path().join("log.jsonl");
        std::fs::write(&input, contents).unwrap();
        let out = dir.path().join("out.jsonl");
        bestofn()
            .args(["import", "--format"])
            .args(format)
            .arg("--input")
            .arg(&input)
            .arg("--out")
            .arg(&out)
            .assert()
            .failure()
            .stderr(predicates::str::contains(expected));
        assert!(!out.exists());
    };
    // A multiple-choice task scores choices by log-likelihood: no texts.
    let loglikelihood = serde_json::json!([[[-1.5, false]], [[-0.5, true]]]);
    refuse(
        &["lm-eval"],
        lm_eval_line(0, loglikelihood, "none"),
        "log-likelihood",
    );
    // The same doc twice under one filter.
    let twice = lm_eval_line(0, serde_json::json!([["4"]]), "none").repeat(2);
    refuse(&["lm-eval"], twice, "problem id \"0\" again");
    let filters = lm_eval_line(0, serde_json::json!([["4"]]), "a")
        + &lm_eval_line(0, serde_json::json!([["4"]]), "b");
    refuse(&["lm-eval", "--filter", "c"], filters, "--filter c: ");
    refuse(
        &["faithful-cot-pool", "--filter", "a"],
        "{}\n".into(),
        "--filter applies to --format lm-eval",
    );
    let mismatched = serde_json::json!({"problem": "?", "answer": "1", "completions": ["a", "b"], "scores": [[0.5]]});
    refuse(
        &["search-and-learn"],
        mismatched.to_string() + "\n",
        "1 score lists for 2 completions",
    );
    refuse(
        &["lighteval"],
        "{\"doc\": {}, \"model_response\": {}}\n".into(),
        "doc.query",
    );
}

#[test]
fn a_resumable_log_is_never_named_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let problems = dir.path().join("problems.jsonl");
    std::fs::write(
        &problems,
        "{\"id\":\"a\",\"question\":\"2 + 2?\",\"answer\":\"4\"}\n",
    )
    .unwrap();
    let replay = dir.path().join("replay.jsonl");
    std::fs::write(
        &replay,
        "{\"problem_id\":\"a\",\"sample_idx\":0,\"text\":\"4\"}\n",
    )
    .unwrap();
    bestofn()
        .args([
            "generate",
            "--backend",
            "replay",
            "--n",
            "1",
            "--replay-from",
        ])
        .arg(&replay)
        .arg("--problems")
        .arg(&problems)
        .arg("--out")
        .arg(dir.path().join("samples.parquet"))
        .assert()
        .code(64)
        .stderr(predicates::str::contains("bestofn convert"));
    assert!(!dir.path().join("samples.parquet").exists());
}
