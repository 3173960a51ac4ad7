//! The `label`, `rank` and `eval` commands end to end on committed fixtures.

mod common;

use common::bestofn;

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;
use serde_json::Value;

fn read_jsonl(path: &Path) -> Vec<Value> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `label` with `flags` on the committed fixtures, writing `out`.
fn label_fixtures(flags: &[&str], out: &Path) -> Command {
    let mut command = bestofn();
    command
        .arg("label")
        .args(flags)
        .arg("--problems")
        .arg(common::fixture("problems.jsonl"))
        .arg("--samples")
        .arg(common::fixture("samples.jsonl"))
        .arg("--out")
        .arg(out);
    command
}

fn label_fixture(dir: &Path) -> std::path::PathBuf {
    let out = dir.join("labeled.jsonl");
    label_fixtures(&[], &out)
        .assert()
        .success()
        .stderr(contains("accuracy       41.67% (5 of 12 graded samples)"))
        .stderr(contains("coverage       100.00%"))
        .stderr(contains("unextractable  8.33%"));
    out
}

#[test]
fn label_fills_extracted_and_correct_and_keeps_unknown_fields() {
    let dir = tempfile::tempdir().unwrap();
    let labeled = read_jsonl(&label_fixture(dir.path()));
    let verdicts: Vec<(&str, Option<&str>, bool)> = labeled
        .iter()
        .map(|s| {
            (
                s["problem_id"].as_str().unwrap(),
                s["extracted"].as_str(),
                s["correct"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        vec![
            ("eggs", Some("18"), true),
            ("eggs", Some("26"), false),
            ("eggs", Some("18.00"), true),
            ("eggs", Some("26"), false),
            ("half", Some("0.5"), true),
            ("half", Some("\\frac{1}{3}"), false),
            ("half", Some("\\frac{1}{3}"), false),
            ("half", None, false),
            ("apples", Some("6"), false),
            ("apples", Some("5"), true),
            ("apples", Some("6"), false),
            ("apples", Some("5"), true),
        ]
    );
    assert_eq!(labeled[1]["generator"]["seed"], 1);
    assert_eq!(labeled[1]["score"], 0.4);
}

#[test]
fn rank_applies_each_strategy_with_documented_tie_breaks() {
    let dir = tempfile::tempdir().unwrap();
    let labeled = label_fixture(dir.path());
    let answers_of = |strategy: &str| -> Vec<(String, bool)> {
        let out = dir.path().join(format!("{strategy}.jsonl"));
        bestofn()
            .args(["rank", "--strategy", strategy, "--samples"])
            .arg(&labeled)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        read_jsonl(&out)
            .iter()
            .map(|a| {
                (
                    a["answer"].as_str().unwrap_or("-").to_owned(),
                    a["correct"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    let pairs = |v: &[(&str, bool)]| -> Vec<(String, bool)> {
        v.iter().map(|(a, c)| (a.to_string(), *c)).collect()
    };
    assert_eq!(
        answers_of("first"),
        pairs(&[("18", true), ("0.5", true), ("6", false)])
    );
    // apples: 6 and 5 have two votes each; 6 appears first.
    assert_eq!(
        answers_of("majority"),
        pairs(&[("18", true), ("\\frac{1}{3}", false), ("6", false)])
    );
    // half: the best score (0.95) states no answer, so the next one (1/3) is picked.
    // apples: samples 0 and 1 share the top score 0.5; the lower sample_idx wins.
    assert_eq!(
        answers_of("verifier"),
        pairs(&[("18", true), ("\\frac{1}{3}", false), ("6", false)])
    );
    // apples: 5 has mass 0.95 against 0.6 for 6.
    assert_eq!(
        answers_of("weighted"),
        pairs(&[("18", true), ("\\frac{1}{3}", false), ("5", true)])
    );
}

#[test]
fn topk_vote_takes_k_from_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let labeled = label_fixture(dir.path());
    let out = dir.path().join("topk.jsonl");
    bestofn()
        .args(["rank", "--strategy", "topk-vote", "--k", "1", "--samples"])
        .arg(&labeled)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let answers = read_jsonl(&out);
    assert_eq!(answers[0]["strategy"], "topk-vote@1");
    assert_eq!(answers[0]["support"]["k"], 1);
    bestofn()
        .args(["rank", "--strategy", "majority", "--k", "3", "--samples"])
        .arg(&labeled)
        .arg("--out")
        .arg(dir.path().join("x.jsonl"))
        .assert()
        .code(64)
        .stderr(contains("--k only applies to topk-vote"));
}

#[test]
fn rank_writes_several_strategies_into_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let labeled = label_fixture(dir.path());
    let out = dir.path().join("all.jsonl");
    bestofn()
        .args([
            "rank",
            "--strategy",
            "first,majority,verifier,weighted,topk-vote",
            "--samples",
        ])
        .arg(&labeled)
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stderr(contains("weighted: 3 answers, accuracy 66.67% (2 of 3)"));
    let strategies: Vec<String> = read_jsonl(&out)
        .iter()
        .map(|a| a["strategy"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(strategies.len(), 15);
    assert_eq!(strategies[14], "topk-vote@5");
}

#[test]
fn eval_writes_metrics_report_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let labeled = label_fixture(dir.path());
    let report = dir.path().join("report");
    let metrics = common::eval_metrics(&labeled, &report);
    assert_eq!(metrics["ks"], serde_json::json!([1, 2, 4]));
    let at = |method: &str, k: usize| -> f64 {
        let curve = metrics["curves"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["method"] == method)
            .unwrap();
        curve["points"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["k"] == k)
            .unwrap()["mean"]
            .as_f64()
            .unwrap()
    };
    // Every problem has a correct sample; 5 of 12 samples are correct.
    assert!((at("pass@k", 4) - 1.0).abs() < 1e-12);
    assert!((at("pass@k", 1) - 5.0 / 12.0).abs() < 1e-12);
    // Full pools reproduce `rank`: verifier 1 of 3, weighted 2 of 3, majority 1 of 3.
    assert!((at("verifier", 4) - 1.0 / 3.0).abs() < 1e-12);
    assert!((at("weighted", 4) - 2.0 / 3.0).abs() < 1e-12);
    assert!((at("majority", 4) - 1.0 / 3.0).abs() < 1e-12);
    assert!((metrics["first"]["mean"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-12);
    // Every pair of strategies, paired: the difference of their means, with an interval.
    let differences = metrics["differences"].as_array().unwrap();
    assert_eq!(
        differences.len(),
        3,
        "majority, verifier, weighted: three pairs"
    );
    for difference in differences {
        let (a, b) = (
            difference["a"].as_str().unwrap(),
            difference["b"].as_str().unwrap(),
        );
        for point in difference["points"].as_array().unwrap() {
            let k = point["k"].as_u64().unwrap() as usize;
            let mean = point["mean"].as_f64().unwrap();
            assert!(
                (mean - (at(a, k) - at(b, k))).abs() < 1e-12,
                "{a} − {b} at {k}"
            );
            let (lower, upper) = (
                point["lower"].as_f64().unwrap(),
                point["upper"].as_f64().unwrap(),
            );
            assert!(lower <= mean && mean <= upper);
        }
    }
    // problems.jsonl: each strategy's answer on the full pool, as `rank` picks it, and the votes.
    let problems: Vec<Value> = fs::read_to_string(report.join("problems.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(problems.len(), 3);
    let right = |strategy: &str| {
        problems
            .iter()
            .filter(|p| p["answers"][strategy]["correct"] == true)
            .count()
    };
    assert_eq!(
        (right("verifier"), right("weighted"), right("majority")),
        (1, 2, 1)
    );
    for problem in &problems {
        let votes: u64 = problem["votes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["samples"].as_u64().unwrap())
            .sum();
        assert_eq!(votes, problem["samples"].as_u64().unwrap());
        assert_eq!(
            problem["covered"],
            problem["correct_samples"].as_u64().unwrap() > 0
        );
    }
    let calibration = &metrics["calibration"];
    assert!(calibration["auroc"].as_f64().unwrap() > 0.0);
    assert!(calibration["ece"].as_f64().is_some());
    for file in ["report.md", "accuracy_vs_k.svg", "calibration.svg"] {
        assert!(report.join(file).is_file(), "{file}");
    }
    let svg = fs::read_to_string(report.join("accuracy_vs_k.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("majority"));
    let markdown = fs::read_to_string(report.join("report.md")).unwrap();
    let markdown = markdown.replace(&labeled.display().to_string(), "LABELED");
    insta::assert_snapshot!("fixture_report", markdown);
}

#[test]
fn eval_rejects_unlabeled_samples_and_bad_ks() {
    let dir = tempfile::tempdir().unwrap();
    bestofn()
        .args(["eval", "--samples"])
        .arg(common::fixture("samples.jsonl"))
        .arg("--out")
        .arg(dir.path().join("r"))
        .assert()
        .code(65)
        .stderr(contains("has samples without a `correct` label"));
    assert!(!dir.path().join("r").join("metrics.json").exists());
    let labeled = label_fixture(dir.path());
    bestofn()
        .args(["eval", "--ks", "1,5", "--samples"])
        .arg(&labeled)
        .arg("--out")
        .arg(dir.path().join("r"))
        .assert()
        .code(64)
        .stderr(contains("k = 5 is outside 1..=4"));
}

#[test]
fn verifier_export_balances_caps_and_dedups() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("verifier.jsonl");
    label_fixtures(&["--balance"], &dir.path().join("l.jsonl"))
        .arg("--export-verifier-data")
        .arg(&export)
        .assert()
        .success();
    let examples = read_jsonl(&export);
    // eggs 2+2, half 1+1 (one correct), apples 2+2.
    assert_eq!(examples.len(), 10);
    for problem in ["eggs", "half", "apples"] {
        let labels: Vec<u64> = examples
            .iter()
            .filter(|e| e["problem_id"] == problem)
            .map(|e| e["label"].as_u64().unwrap())
            .collect();
        assert_eq!(
            labels.iter().filter(|&&l| l == 1).count() * 2,
            labels.len(),
            "{problem}"
        );
    }
    assert!(examples[0]["question"]
        .as_str()
        .unwrap()
        .starts_with("Janet"));
    assert!(examples[0]["solution"].is_string());

    label_fixtures(
        &["--dedup", "--max-per-problem", "1"],
        &dir.path().join("l.jsonl"),
    )
    .arg("--export-verifier-data")
    .arg(&export)
    .assert()
    .success();
    assert_eq!(read_jsonl(&export).len(), 3);
}

/// Writes `lines` as a samples file and runs `label` on it against the fixture problems.
fn label_lines(dir: &Path, lines: &[&str]) -> assert_cmd::assert::Assert {
    let samples = dir.join("bad.jsonl");
    fs::write(&samples, lines.join("\n")).unwrap();
    bestofn()
        .args(["label", "--problems"])
        .arg(common::fixture("problems.jsonl"))
        .arg("--samples")
        .arg(&samples)
        .arg("--out")
        .arg(dir.join("out.jsonl"))
        .assert()
}

const GOOD: &str = "{\"problem_id\": \"eggs\", \"sample_idx\": 0, \"text\": \"#### 18\"}";

#[test]
fn malformed_input_names_file_line_and_field_and_writes_nothing() {
    let cases = [
        (vec![GOOD, "{not json"], "bad.jsonl:2: not valid JSON"),
        (
            vec![GOOD, r#"{"problem_id": "eggs", "text": "x"}"#],
            "bad.jsonl:2: field `sample_idx`: missing",
        ),
        (
            vec![GOOD, r#"{"problem_id": "eggs", "sample_idx": -1, "text": "x"}"#],
            "bad.jsonl:2: field `sample_idx`: expected a non-negative integer",
        ),
        (
            vec![GOOD, "", GOOD],
            "bad.jsonl:3: field `sample_idx`: duplicate sample (problem_id \"eggs\", sample_idx 0); first on line 1",
        ),
        (
            vec![GOOD, r#"{"problem_id": "nope", "sample_idx": 0, "text": "x"}"#],
            "bad.jsonl:2: field `problem_id`: problem \"nope\" is not in the problems file",
        ),
        (
            vec![r#"{"problem_id": "eggs", "sample_idx": 0, "text": 5}"#],
            "bad.jsonl:1: field `text`: expected a string, found a number",
        ),
        (
            vec![r#"{"problem_id": "eggs", "sample_idx": 0, "text": "x", "correct": "yes"}"#],
            "bad.jsonl:1: field `correct`: expected true, false or null",
        ),
    ];
    for (lines, message) in cases {
        let dir = tempfile::tempdir().unwrap();
        label_lines(dir.path(), &lines)
            .code(65)
            .stderr(contains(message));
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|name| name != "bad.jsonl")
            .collect();
        assert!(leftovers.is_empty(), "{message}: left {leftovers:?}");
    }
}

#[test]
fn skip_invalid_counts_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    label_lines(dir.path(), &[GOOD, "{oops", "[1]"]).code(65);
    let samples = dir.path().join("bad.jsonl");
    bestofn()
        .args(["label", "--skip-invalid", "--problems"])
        .arg(common::fixture("problems.jsonl"))
        .arg("--samples")
        .arg(&samples)
        .arg("--out")
        .arg(dir.path().join("out.jsonl"))
        .assert()
        .success()
        .stderr(contains("skipped        2 invalid lines"));
    assert_eq!(read_jsonl(&dir.path().join("out.jsonl")).len(), 1);
}

#[test]
fn missing_input_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    bestofn()
        .args(["rank", "--samples"])
        .arg(dir.path().join("absent.jsonl"))
        .arg("--out")
        .arg(dir.path().join("a.jsonl"))
        .assert()
        .code(74)
        .stderr(contains("absent.jsonl"));
}

#[test]
fn grade_explains_a_verdict_with_its_rule() {
    let output = bestofn()
        .args(["grade", "--gold", "2x+4y-3=0", "--response"])
        .arg("So the line is $y = -\\frac{1}{2}x + \\frac{3}{4}$.")
        .output()
        .unwrap();
    assert!(output.status.success());
    insta::assert_snapshot!("grade_relation", String::from_utf8(output.stdout).unwrap());
    // A Unicode minus is a minus: wrong against 18, decided by the number rule.
    let output = bestofn()
        .args([
            "grade",
            "--gold",
            "18",
            "--response",
            "so #### \u{2212}18",
            "--json",
        ])
        .output()
        .unwrap();
    let explanation: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(explanation["extracted"], "-18");
    assert_eq!(explanation["correct"], false);
    assert_eq!(explanation["rule"], "numbers");
    // Standard input as the response.
    bestofn()
        .args(["grade", "--gold", "4.123105625617661", "--response", "-"])
        .write_stdin("The answer is $\\boxed{\\sqrt{17}}$")
        .assert()
        .success()
        .stdout(contains("verdict:      correct"))
        .stdout(contains("rule:         answer-tree"));
}

#[test]
fn grade_explains_the_samples_of_one_problem_and_names_a_missing_one() {
    let problems = common::fixture("problems.jsonl");
    let samples = common::fixture("samples.jsonl");
    let output = bestofn()
        .args(["grade", "--json", "--id", "half", "--problems"])
        .arg(&problems)
        .arg("--samples")
        .arg(&samples)
        .output()
        .unwrap();
    assert!(output.status.success());
    let lines: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let verdicts: Vec<(u64, Option<bool>, &str)> = lines
        .iter()
        .map(|e| {
            (
                e["sample_idx"].as_u64().unwrap(),
                e["correct"].as_bool(),
                e["rule"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        vec![
            (0, Some(true), "numbers"),
            (1, Some(false), "numbers"),
            (2, Some(false), "numbers"),
            (3, Some(false), "no-answer"),
        ]
    );
    bestofn()
        .args(["grade", "--id", "nope", "--problems"])
        .arg(&problems)
        .arg("--samples")
        .arg(&samples)
        .assert()
        .code(65)
        .stderr(contains("no problem has the id \"nope\""));
    bestofn()
        .args(["grade", "--gold", "1"])
        .assert()
        .code(2)
        .stderr(contains("--response"));
    bestofn()
        .args(["grade", "--gold", " ", "--response", "5"])
        .assert()
        .code(64)
        .stderr(contains("--gold is empty"));
}

#[test]
fn label_explain_adds_the_explanation_as_a_field() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("labeled.jsonl");
    label_fixtures(&["--explain"], &out).assert().success();
    let labeled = read_jsonl(&out);
    assert_eq!(labeled.len(), 12);
    for sample in &labeled {
        let explanation = &sample["explanation"];
        assert_eq!(explanation["correct"], sample["correct"]);
        assert_eq!(explanation["extracted"], sample["extracted"]);
        assert!(explanation["rule"].is_string(), "{sample}");
    }
    assert_eq!(labeled[2]["explanation"]["found"], "18.00");
    assert_eq!(labeled[2]["explanation"]["rule"], "numbers");
}

/// `-v` shows the settings a run goes with as resolved (environment included), never a key.
#[test]
fn verbose_runs_log_their_resolved_settings_without_keys() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    bestofn()
        .env("BESTOFN_TEST_KEY", "sk-never-shown-123")
        .args([
            "-v",
            "generate",
            "--backend",
            "openai",
            "--model",
            "m",
            "--n",
            "1",
        ])
        .args(["--api-key-env", "BESTOFN_TEST_KEY", "--max-retries", "0"])
        .arg("--base-url")
        .arg(format!("http://127.0.0.1:{port}/v1"))
        .arg("--problems")
        .arg(common::fixture("problems.jsonl"))
        .arg("--out")
        .arg(dir.path().join("s.jsonl"))
        .assert()
        .failure()
        .stderr(contains("resolved settings"))
        .stderr(contains("api_key: Some(\"<redacted>\")"))
        .stderr(contains("max_retries: 0"))
        .stderr(contains("sk-never-shown").not());
}

#[test]
fn completions_and_man_pages_come_from_the_command_line() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        bestofn()
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(contains("token-stats").and(contains("confidence")));
    }
    bestofn()
        .arg("man")
        .assert()
        .success()
        .stdout(contains(".TH bestofn 1").and(contains("completions")));
    let dir = tempfile::tempdir().unwrap();
    let said = bestofn()
        .args(["man", "--out-dir"])
        .arg(dir.path())
        .assert()
        .success()
        .get_output()
        .stderr
        .clone();
    // One page for bestofn and one per command, as many as it says.
    let pages = fs::read_dir(dir.path()).unwrap().count();
    let said = String::from_utf8(said).unwrap();
    assert!(
        said.starts_with(&format!("{pages} man pages written")),
        "{said}"
    );
    assert!(dir.path().join("bestofn-show.1").is_file() && pages > 10);
    let generate = fs::read_to_string(dir.path().join("bestofn-generate.1")).unwrap();
    assert!(
        generate.contains(".TH bestofn-generate 1"),
        "{}",
        &generate[..200]
    );
    assert!(generate.contains(concat!("bestofn ", env!("CARGO_PKG_VERSION"))));
    assert!(generate.contains("token\\-stats"));
    bestofn()
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .stderr(contains("invalid value"));
}

/// `show`: one problem's question, gold, picks, votes and candidates with their rules.
#[test]
fn show_prints_one_problem_with_its_candidates_verdicts_and_picks() {
    let dir = tempfile::tempdir().unwrap();
    let labeled = label_fixture(dir.path());
    let output = bestofn()
        .args(["show", "--samples"])
        .arg(&labeled)
        .arg("--problems")
        .arg(common::fixture("problems.jsonl"))
        .args(["--id", "eggs"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    insta::assert_snapshot!("show_eggs", String::from_utf8(output).unwrap());
    bestofn()
        .args(["show", "--samples"])
        .arg(&labeled)
        .args(["--id", "nope"])
        .assert()
        .code(65)
        .stderr(contains("no sample of problem \"nope\""));
}

/// `label --truncated`: a sample cut off at its token limit is graded, counted wrong, or left
/// out; `eval` reports the share cut off.
#[test]
fn truncated_samples_count_as_label_truncated_says() {
    let dir = tempfile::tempdir().unwrap();
    let samples = dir.path().join("samples.jsonl");
    let lines: Vec<String> = [
        ("so #### 18", "stop"),
        ("so #### 18", "length"),
        ("9 * 2 = 18, and then", "length"),
        ("#### 26", "stop"),
    ]
    .iter()
    .enumerate()
    .map(|(idx, (text, finish))| {
        serde_json::json!({"problem_id": "eggs", "sample_idx": idx, "text": text,
            "finish_reason": finish})
        .to_string()
    })
    .collect();
    fs::write(&samples, lines.join("\n") + "\n").unwrap();
    let label = |how: &str| {
        let out = dir.path().join(format!("{how}.jsonl"));
        bestofn()
            .args(["label", "--truncated", how, "--problems"])
            .arg(common::fixture("problems.jsonl"))
            .arg("--samples")
            .arg(&samples)
            .arg("--out")
            .arg(&out)
            .assert()
            .success()
            .stderr(contains("truncated      2 samples cut off"));
        let labeled = common::read_jsonl(&out);
        let right = labeled.iter().filter(|s| s["correct"] == true).count();
        (labeled.len(), right, out)
    };
    let (kept, right, keep_file) = label("keep");
    assert_eq!((kept, right), (4, 3));
    let (kept, right, _) = label("wrong");
    assert_eq!((kept, right), (4, 1), "only the finished 18 counts");
    let (kept, right, _) = label("skip");
    assert_eq!((kept, right), (2, 1), "the cut-off samples are left out");
    let metrics = common::eval_metrics(&keep_file, &dir.path().join("report"));
    assert_eq!(metrics["truncated"], 0.5);
}

/// `--config run.toml`: a command's flags from a file, a `[command]` table over the top level,
/// the command line over both (a list replaced, not extended); unknown keys named.
#[test]
fn config_files_give_flags_that_the_command_line_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let labeled = label_fixture(dir.path());
    let config = dir.path().join("run.toml");
    fs::write(
        &config,
        "strategy = [\"verifier\"]\n[rank]\nstrategy = [\"majority\", \"first\"]\nout = \"-\"\n",
    )
    .unwrap();
    let strategies = |extra: &[&str]| -> Vec<String> {
        let output = bestofn()
            .args(["rank", "--config"])
            .arg(&config)
            .arg("--samples")
            .arg(&labeled)
            .args(extra)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let mut seen: Vec<String> = String::from_utf8(output)
            .unwrap()
            .lines()
            .map(|line| {
                serde_json::from_str::<Value>(line).unwrap()["strategy"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        seen.dedup();
        seen
    };
    assert_eq!(strategies(&[]), ["majority", "first"]);
    assert_eq!(strategies(&["--strategy", "verifier"]), ["verifier"]);
    fs::write(&config, "[rank]\nstratgy = \"majority\"\n").unwrap();
    bestofn()
        .args(["rank", "--config"])
        .arg(&config)
        .arg("--samples")
        .arg(&labeled)
        .args(["--out", "-"])
        .assert()
        .code(64)
        .stderr(contains("`stratgy` is no flag of `bestofn rank`"));
}

/// A newcomer's problems as they come: a JSON array with other names for the fields, and a CSV;
/// no conversion by hand.
#[test]
fn problems_in_a_json_array_or_csv_are_read_with_the_users_field_names() {
    let dir = tempfile::tempdir().unwrap();
    let array = dir.path().join("problems.json");
    fs::write(
        &array,
        "[\n {\"qid\": \"a\", \"prompt\": \"2+3?\", \"target\": 5},\n {\"qid\": \"b\", \"prompt\": \"4*4?\", \"target\": \"16\"}\n]\n",
    )
    .unwrap();
    let csv = dir.path().join("problems.csv");
    fs::write(&csv, "qid,prompt,target\na,\"2+3, please\",5\nb,4*4?,16\n").unwrap();
    let samples = dir.path().join("samples.jsonl");
    fs::write(
        &samples,
        "{\"problem_id\": \"a\", \"sample_idx\": 0, \"text\": \"2+3 = 5\\n#### 5\"}\n\
         {\"problem_id\": \"b\", \"sample_idx\": 0, \"text\": \"#### 15\"}\n",
    )
    .unwrap();
    let fields = [
        "--question-field",
        "prompt",
        "--gold-field",
        "target",
        "--id-field",
        "qid",
    ];
    for problems in [&array, &csv] {
        let out = dir.path().join("labeled.jsonl");
        bestofn()
            .arg("label")
            .args(fields)
            .arg("--problems")
            .arg(problems)
            .arg("--samples")
            .arg(&samples)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        let verdicts: Vec<bool> = read_jsonl(&out)
            .iter()
            .map(|s| s["correct"].as_bool().unwrap())
            .collect();
        assert_eq!(verdicts, [true, false], "{}", problems.display());
    }
    // Where samples do not own `--answer-field`, it names the gold's field too.
    bestofn()
        .args([
            "show",
            "--id",
            "a",
            "--question-field",
            "prompt",
            "--answer-field",
            "target",
        ])
        .args(["--id-field", "qid", "--problems"])
        .arg(&csv)
        .arg("--samples")
        .arg(&samples)
        .assert()
        .success()
        .stdout(contains("2+3, please"));
    // The same array under a .jsonl name is refused with the flag that reads it.
    let misnamed = dir.path().join("problems.jsonl");
    fs::copy(&array, &misnamed).unwrap();
    bestofn()
        .arg("label")
        .args(fields)
        .arg("--problems")
        .arg(&misnamed)
        .arg("--samples")
        .arg(&samples)
        .arg("--out")
        .arg(dir.path().join("never.jsonl"))
        .assert()
        .code(65)
        .stderr(contains(
            "this file is a JSON array — pass it as it is with --problems-format json",
        ));
    assert!(!dir.path().join("never.jsonl").exists());
    // Samples in another shape are pointed to the import that reads them.
    let samples_array = dir.path().join("samples.json");
    fs::write(
        &samples_array,
        "[{\"problem_id\": \"a\", \"sample_idx\": 0, \"text\": \"5\"}]",
    )
    .unwrap();
    bestofn()
        .arg("label")
        .args(fields)
        .arg("--problems")
        .arg(&array)
        .arg("--samples")
        .arg(&samples_array)
        .arg("--out")
        .arg(dir.path().join("never.jsonl"))
        .assert()
        .code(65)
        .stderr(contains("samples.json:1: expected JSONL samples"))
        .stderr(contains("bestofn import --format samples"));
}

/// Saved responses of an OpenAI-compatible server, two choices each, become samples tied to
/// their problems: by order, or by the Batch API's `custom_id`; finish reasons and log-probabilities
/// are kept.
#[test]
fn saved_openai_responses_are_imported_with_their_choices_and_finish_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let problems = dir.path().join("problems.json");
    fs::write(
        &problems,
        r#"[{"id": "p1", "question": "2+3?", "answer": "5"}, {"id": "p2", "question": "4*4?", "answer": "16"}]"#,
    )
    .unwrap();
    let chat = |content_a: &str, content_b: &str| {
        serde_json::json!({
            "id": "chatcmpl-1", "object": "chat.completion", "model": "qwen",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content_a}, "finish_reason": "stop",
                 "logprobs": {"content": [{"token": "5", "logprob": -0.1, "top_logprobs": [{"token": "5", "logprob": -0.1}, {"token": "6", "logprob": -2.5}]}]}},
                {"index": 1, "message": {"role": "assistant", "content": content_b}, "finish_reason": "length", "logprobs": null}
            ],
            "usage": {"prompt_tokens": 12, "completion_tokens": 40, "total_tokens": 52}
        })
    };
    let by_order = dir.path().join("responses.jsonl");
    fs::write(
        &by_order,
        format!(
            "{}\n{}\n",
            chat("#### 5", "#### 6"),
            chat("#### 16", "so 4*4 =")
        ),
    )
    .unwrap();
    let out = dir.path().join("samples.jsonl");
    let import = |input: &Path, extra: &[&str]| {
        let mut command = bestofn();
        command
            .args(["import", "--format", "openai-chat", "--input"])
            .arg(input)
            .arg("--problems")
            .arg(&problems)
            .args(extra)
            .arg("--out")
            .arg(&out);
        command
    };
    import(&by_order, &[])
        .assert()
        .success()
        .stderr(contains("4 samples"));
    let samples = read_jsonl(&out);
    let summary: Vec<(&str, u64, &str, &str)> = samples
        .iter()
        .map(|s| {
            (
                s["problem_id"].as_str().unwrap(),
                s["sample_idx"].as_u64().unwrap(),
                s["text"].as_str().unwrap(),
                s["finish_reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("p1", 0, "#### 5", "stop"),
            ("p1", 1, "#### 6", "length"),
            ("p2", 0, "#### 16", "stop"),
            ("p2", 1, "so 4*4 =", "length"),
        ]
    );
    assert_eq!(samples[0]["tokens"]["confidence"], serde_json::json!([1.3]));
    assert_eq!(samples[0]["generator"]["model"], "qwen");
    // Usage counts both choices: no sample gets it as its own.
    assert!(samples[1].get("tokens").is_none());
    // The Batch API's output, out of order, tied by custom_id.
    let batch = dir.path().join("batch_output.jsonl");
    let line = |id: &str, body: Value| serde_json::json!({"id": "batch_req_1", "custom_id": id, "response": {"status_code": 200, "request_id": "r", "body": body}, "error": null});
    fs::write(
        &batch,
        format!(
            "{}\n{}\n",
            line("p2", chat("#### 16", "#### 15")),
            line("p1", chat("#### 5", "#### 5"))
        ),
    )
    .unwrap();
    import(&batch, &["--problem-id-field", "custom_id"])
        .assert()
        .success();
    let ids: Vec<String> = read_jsonl(&out)
        .iter()
        .map(|s| format!("{}/{}", s["problem_id"].as_str().unwrap(), s["sample_idx"]))
        .collect();
    assert_eq!(ids, ["p2/0", "p2/1", "p1/0", "p1/1"]);
    // Tied by order, a count that does not match is refused; so is the other API's shape.
    fs::write(&batch, format!("{}\n", chat("a", "b"))).unwrap();
    import(&batch, &[])
        .assert()
        .code(65)
        .stderr(contains("1 records for 2 problems"));
    bestofn()
        .args(["import", "--format", "openai-completions", "--input"])
        .arg(&by_order)
        .arg("--problems")
        .arg(&problems)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(65)
        .stderr(contains("responses.jsonl:1: field `choices[0].text`"))
        .stderr(contains("use --format openai-chat"));
    // The imported samples label as any others; the truncated ones count as --truncated says.
    import(&by_order, &[]).assert().success();
    bestofn()
        .args(["label", "--truncated", "wrong", "--problems"])
        .arg(&problems)
        .arg("--samples")
        .arg(&out)
        .arg("--out")
        .arg(dir.path().join("labeled.jsonl"))
        .assert()
        .success();
    let verdicts: Vec<bool> = read_jsonl(&dir.path().join("labeled.jsonl"))
        .iter()
        .map(|s| s["correct"].as_bool().unwrap())
        .collect();
    assert_eq!(verdicts, [true, false, true, false]);
}

/// vLLM's offline outputs dumped as JSON, and a CSV of samples, with their own field names.
#[test]
fn vllm_outputs_and_tables_of_samples_are_imported() {
    let dir = tempfile::tempdir().unwrap();
    let problems = dir.path().join("problems.jsonl");
    fs::write(
        &problems,
        "{\"id\": \"a\", \"question\": \"2+3?\", \"answer\": \"5\"}\n{\"id\": \"b\", \"question\": \"1+1?\", \"answer\": \"2\"}\n",
    )
    .unwrap();
    let dump = dir.path().join("outputs.json");
    fs::write(
        &dump,
        r#"[{"request_id": "1", "prompt": "2+3?", "prompt_token_ids": [1, 2, 3], "outputs": [{"index": 0, "text": " 5", "token_ids": [20, 2], "cumulative_logprob": -0.2, "finish_reason": "stop"}, {"index": 1, "text": " 6", "token_ids": [21], "finish_reason": "stop"}], "finished": true},
            {"request_id": "0", "prompt": "1+1?", "outputs": [{"index": 0, "text": " 2", "finish_reason": "length"}]}]"#,
    )
    .unwrap();
    let out = dir.path().join("samples.jsonl");
    let problems_out = dir.path().join("problems.out.jsonl");
    bestofn()
        .args(["import", "--format", "vllm-outputs", "--input"])
        .arg(&dump)
        .arg("--problems")
        .arg(&problems)
        .arg("--out")
        .arg(&out)
        .arg("--problems-out")
        .arg(&problems_out)
        .assert()
        .success();
    let samples = read_jsonl(&out);
    assert_eq!(samples.len(), 3);
    assert_eq!(
        samples[0]["tokens"],
        serde_json::json!({"prompt": 3, "completion": 2})
    );
    assert_eq!(samples[2]["problem_id"], "b");
    assert_eq!(samples[2]["finish_reason"], "length");
    assert_eq!(read_jsonl(&problems_out).len(), 2);
    let table = dir.path().join("samples.csv");
    fs::write(
        &table,
        "qid,response\nb,\"1+1 = 2, so #### 2\"\na,#### 7\nb,#### 3\n",
    )
    .unwrap();
    bestofn()
        .args(["import", "--format", "samples", "--problem-id-field", "qid"])
        .args(["--text-field", "response", "--input"])
        .arg(&table)
        .arg("--problems")
        .arg(&problems)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let ids: Vec<String> = read_jsonl(&out)
        .iter()
        .map(|s| format!("{}/{}", s["problem_id"].as_str().unwrap(), s["sample_idx"]))
        .collect();
    assert_eq!(ids, ["b/0", "a/0", "b/1"]);
    // An id that is not a problem is named with its line.
    fs::write(&table, "qid,response\nzz,#### 7\n").unwrap();
    bestofn()
        .args(["import", "--format", "samples", "--problem-id-field", "qid"])
        .args(["--text-field", "response", "--input"])
        .arg(&table)
        .arg("--problems")
        .arg(&problems)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(65)
        .stderr(contains(
            "samples.csv:2: field `qid`: problem \"zz\" is not in the problems file",
        ));
}

/// Every run leaves its resolved settings beside its output, as a `--config` file that repeats
/// it; `--dry-run` prints the plan and writes nothing.
#[test]
fn runs_leave_their_settings_beside_the_output_and_dry_runs_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("labeled.jsonl");
    label_fixtures(&["--truncated", "wrong"], &out)
        .assert()
        .success();
    let settings_path = dir.path().join("labeled.jsonl.settings.toml");
    let settings = fs::read_to_string(&settings_path).unwrap();
    assert!(settings.contains("[label]"), "{settings}");
    assert!(
        settings.contains("truncated = \"wrong\"  # given"),
        "{settings}"
    );
    assert!(
        settings.contains("problems-format = \"auto\"  # default"),
        "{settings}"
    );
    let first = fs::read(&out).unwrap();
    fs::remove_file(&out).unwrap();
    bestofn()
        .arg("label")
        .arg("--config")
        .arg(&settings_path)
        .assert()
        .success();
    assert_eq!(
        fs::read(&out).unwrap(),
        first,
        "the settings file repeats the run"
    );
    // A device gets nothing beside it (compared with before: a file an older binary left there
    // must not fail this test, and one written now must).
    for device in ["/dev/null", "/dev/stdout"] {
        let beside = || {
            fs::metadata(format!("{device}.settings.toml"))
                .and_then(|m| m.modified())
                .ok()
        };
        let before = beside();
        // stdout redirected to a file, as a shell does: /dev/stdout is then a regular file.
        let redirected = fs::File::create(dir.path().join("stdout.jsonl")).unwrap();
        let status = std::process::Command::new(common::bestofn_path())
            .arg("label")
            .arg("--problems")
            .arg(common::fixture("problems.jsonl"))
            .arg("--samples")
            .arg(common::fixture("samples.jsonl"))
            .args(["--out", device])
            .stdout(redirected)
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        assert_eq!(beside(), before, "nothing written beside {device}");
    }
    // A report directory holds its settings.
    let report = dir.path().join("report");
    bestofn()
        .args(["eval", "--ks", "1,2", "--samples"])
        .arg(&out)
        .arg("--out")
        .arg(&report)
        .assert()
        .success();
    assert!(fs::read_to_string(report.join("settings.toml"))
        .unwrap()
        .contains("ks = [\"1\", \"2\"]  # given"));
    // The plan, and nothing written.
    let samples = dir.path().join("samples.jsonl");
    bestofn()
        .args(["generate", "--backend", "replay", "--n", "2", "--dry-run"])
        .arg("--replay-from")
        .arg(common::fixture("samples.jsonl"))
        .arg("--problems")
        .arg(common::fixture("problems.jsonl"))
        .arg("--out")
        .arg(&samples)
        .assert()
        .success()
        .stdout(contains("problems    3 from"))
        .stdout(contains("N = 2: 6 planned, 0 already in"))
        .stdout(contains("generator   replay of"))
        .stdout(contains("first prompt (problem eggs)"));
    assert!(!samples.exists());
    assert!(!dir.path().join("samples.jsonl.settings.toml").exists());
}
