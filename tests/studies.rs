//! The studies on real files: Compositional GSM on GSM8K test, training-data export, runs read as
//! iterations (Faithful-CoT models), and the comparison plot.

mod common;

use common::bestofn;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use predicates::str::contains;
use serde_json::Value;

/// `bestofn compose` on GSM8K test into `out`, with extra arguments.
fn compose(out: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    bestofn()
        .arg("compose")
        .args(extra)
        .arg("--problems")
        .arg(common::shared_data("gsm8k/test.jsonl"))
        .arg("--out")
        .arg(out)
        .assert()
        .success()
}

#[test]
fn compose_on_gsm8k_test_builds_valid_reproducible_pairs() {
    if common::skip(
        "compose_on_gsm8k_test_builds_valid_reproducible_pairs",
        &[common::Need::SharedData],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let gsm8k = common::shared_data("gsm8k/test.jsonl");
    let out = dir.path().join("composed.jsonl");
    compose(&out, &[]).stderr(contains("1319 problems"));
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("composed.summary.json")).unwrap(),
    )
    .unwrap();
    let complete = summary["complete"].as_u64().unwrap();
    assert!(complete > 1319 * 85 / 100, "{summary}");
    let reproduced = summary["reproduced"].as_u64().unwrap();
    assert!(reproduced as f64 >= 0.99 * complete as f64, "{summary}");
    assert_eq!(
        summary["not_reproduced"].as_array().unwrap().len() as u64,
        complete - reproduced
    );
    let composed = common::read_jsonl(&out);
    assert!(composed.len() >= 1000, "{} pairs", composed.len());
    assert_eq!(summary["pairs"].as_u64().unwrap() as usize, composed.len());

    let originals: HashMap<String, Value> = common::read_jsonl(&gsm8k)
        .into_iter()
        .enumerate()
        .map(|(i, p)| (i.to_string(), p))
        .collect();
    let gold = |id: &str| -> String {
        originals[id]["answer"]
            .as_str()
            .unwrap()
            .rsplit("####")
            .next()
            .unwrap()
            .trim()
            .replace(',', "")
    };
    let modified: HashMap<String, Value> =
        common::read_jsonl(&dir.path().join("composed.q2.jsonl"))
            .into_iter()
            .map(|p| (p["id"].as_str().unwrap().to_owned(), p))
            .collect();
    let mut seconds = HashSet::new();
    for pair in &composed {
        let (q1, q2) = (
            pair["q1_id"].as_str().unwrap(),
            pair["q2_id"].as_str().unwrap(),
        );
        assert_ne!(q1, q2);
        assert!(seconds.insert(q2.to_owned()), "each Q2 is used once");
        let x = pair["x"].as_u64().unwrap();
        assert_eq!(gold(q1), x.to_string(), "X is Q1's answer");
        let new: u64 = pair["answer"]
            .as_str()
            .unwrap()
            .parse()
            .expect("a positive integer");
        assert!(new >= 1);
        assert_ne!(
            new.to_string(),
            gold(q2),
            "the new answer differs from the old"
        );
        // Q2 with X differs from the original exactly where the number was.
        let original = originals[q2]["question"].as_str().unwrap();
        let with_x = pair["q2_question_with_x"].as_str().unwrap();
        let substituted = pair["substituted"].as_str().unwrap();
        let at = original
            .bytes()
            .zip(with_x.bytes())
            .take_while(|(a, b)| a == b)
            .count();
        assert_eq!(&with_x[at..at + 1], "X");
        assert_eq!(
            format!("{}{substituted}{}", &with_x[..at], &with_x[at + 1..]),
            original
        );
        let question = pair["question"].as_str().unwrap();
        assert!(question.starts_with("Let X be the answer to the Q1:"));
        assert!(question.contains("Solve it and use the value of X to solve Q2."));
        let q2 = &modified[&format!("{}-q2", pair["id"].as_str().unwrap())];
        assert_eq!(q2["answer"], pair["answer"]);
        assert_eq!(
            q2["question"].as_str().unwrap(),
            format!("{}{x}{}", &with_x[..at], &with_x[at + 1..])
        );
    }
    // The same seed gives the same file, another seed other pairs.
    let again = dir.path().join("again.jsonl");
    compose(&again, &[]);
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&again).unwrap());
    let other = dir.path().join("other.jsonl");
    compose(&other, &["--seed", "1"]);
    assert_ne!(std::fs::read(&out).unwrap(), std::fs::read(&other).unwrap());
}

#[test]
fn reasoning_gap_from_three_labeled_sets() {
    if common::skip(
        "reasoning_gap_from_three_labeled_sets",
        &[common::Need::SharedData],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let composed = dir.path().join("c.jsonl");
    compose(&composed, &["--pairs", "3"]);
    // A "model" that answers every composed problem wrong, Q1 right, and half of the modified Q2
    // samples right: S1 = 1, S2 = 1/2, S_comp = 0, Δ = −1/2.
    let write_samples = |path: &Path, problems: &Path, right: &dyn Fn(usize) -> bool| {
        let lines: Vec<String> = common::read_jsonl(problems)
            .iter()
            .flat_map(|p| {
                let id = p["id"].as_str().unwrap().to_owned();
                let answer = p["answer"]
                    .as_str()
                    .unwrap()
                    .rsplit("####")
                    .next()
                    .unwrap()
                    .trim()
                    .to_owned();
                (0..2).map(move |i| (id.clone(), answer.clone(), i))
            })
            .map(|(id, answer, i)| {
                let text = if right(i) {
                    format!("#### {answer}")
                } else {
                    "#### -1".into()
                };
                serde_json::json!({"problem_id": id, "sample_idx": i, "text": text}).to_string()
            })
            .collect();
        let raw = path.with_extension("raw.jsonl");
        std::fs::write(&raw, lines.join("\n") + "\n").unwrap();
        bestofn()
            .args(["label", "--problems"])
            .arg(problems)
            .arg("--samples")
            .arg(&raw)
            .arg("--out")
            .arg(path)
            .assert()
            .success();
    };
    let (comp, q1, q2) = (
        dir.path().join("comp.jsonl"),
        dir.path().join("q1.jsonl"),
        dir.path().join("q2.jsonl"),
    );
    write_samples(&comp, &composed, &|_| false);
    write_samples(&q1, &dir.path().join("c.q1.jsonl"), &|_| true);
    write_samples(&q2, &dir.path().join("c.q2.jsonl"), &|i| i == 0);
    bestofn()
        .args(["eval", "--bootstrap", "100", "--samples"])
        .arg(&comp)
        .arg("--reasoning-gap")
        .arg(&composed)
        .arg("--q1-samples")
        .arg(&q1)
        .arg("--q2-samples")
        .arg(&q2)
        .arg("--out")
        .arg(dir.path().join("report"))
        .assert()
        .success()
        .stderr(contains("reasoning gap over 3 pairs: S1 100.0"))
        .stderr(contains("S2 50.0"))
        .stderr(contains("Δ = S_comp − S1·S2 = -50.0"));
    let gap: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("report/reasoning_gap.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(gap["gap"]["mean"], -0.5);
}

/// The Faithful-CoT pool's candidates of one model (its five prompts shared by all models),
/// labeled from the pool's recorded answers, for the first `problems` problems.
fn faithful_iterations(dir: &Path, problems: usize) -> Vec<(String, std::path::PathBuf)> {
    let pool = common::shared_data("samples/faithful_cot_gsm8k_test_pool.derived.jsonl.gz");
    let samples = dir.join("samples.jsonl");
    let problems_path = dir.join("problems.jsonl");
    bestofn()
        .args(["import", "--format", "faithful-cot-pool", "--input"])
        .arg(&pool)
        .arg("--out")
        .arg(&samples)
        .arg("--problems-out")
        .arg(&problems_path)
        .assert()
        .success();
    let labeled = dir.join("labeled.jsonl");
    bestofn()
        .args(["label", "--answer-field", "source_answer", "--problems"])
        .arg(&problems_path)
        .arg("--samples")
        .arg(&samples)
        .arg("--out")
        .arg(&labeled)
        .assert()
        .success();
    let shared_prompts = ["COT", "LtM", "NL+SL", "noNL", "standard"];
    let keep: HashSet<String> = (0..problems).map(|i| i.to_string()).collect();
    let mut by_model: HashMap<String, Vec<String>> = HashMap::new();
    for line in std::fs::read_to_string(&labeled).unwrap().lines() {
        let sample: Value = serde_json::from_str(line).unwrap();
        let generator = &sample["generator"];
        if keep.contains(sample["problem_id"].as_str().unwrap())
            && shared_prompts.contains(&generator["prompt"].as_str().unwrap())
        {
            by_model
                .entry(generator["model"].as_str().unwrap().to_owned())
                .or_default()
                .push(line.to_owned());
        }
    }
    ["code001", "code002", "gpt4"]
        .iter()
        .map(|model| {
            let path = dir.join(format!("{model}.jsonl"));
            std::fs::write(&path, by_model[*model].join("\n") + "\n").unwrap();
            (model.to_string(), path)
        })
        .collect()
}

#[test]
fn compare_reads_faithful_cot_models_as_iterations() {
    if common::skip(
        "compare_reads_faithful_cot_models_as_iterations",
        &[common::Need::SharedData],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let runs = faithful_iterations(dir.path(), 200);
    let out = dir.path().join("compare");
    let mut command = bestofn();
    command
        .args(["compare", "--iterations", "--bootstrap", "100", "--out"])
        .arg(&out);
    for (name, path) in &runs {
        command
            .arg("--run")
            .arg(format!("{name}={}", path.display()));
    }
    command
        .assert()
        .success()
        .stdout(contains("## Iterations (base = code001)"));
    let comparison: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    let iterations = comparison["iterations"].as_array().unwrap();
    assert_eq!(iterations.len(), 3);
    assert!(iterations[0]["illusion"].is_null() && iterations[0]["tail"].is_null());
    let pass1: Vec<f64> = iterations
        .iter()
        .map(|i| i["pass_at_1"].as_f64().unwrap())
        .collect();
    assert!(
        pass1[0] < pass1[1] && pass1[1] < pass1[2],
        "code001 < code002 < gpt4: {pass1:?}"
    );
    for iteration in iterations {
        let d = &iteration["diversity"];
        assert_eq!(d["samples_per_problem"], 5.0);
        let distinct: Vec<f64> = d["distinct_n"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert!(distinct.iter().all(|&v| v > 0.0 && v <= 1.0));
        assert!(
            distinct.windows(2).all(|w| w[0] <= w[1]),
            "longer n-grams repeat less: {distinct:?}"
        );
        let sets = d["equation_sets"].as_f64().unwrap();
        assert!((1.0..=5.0).contains(&sets));
        assert!(
            iteration["coverage_at_k"].as_f64().unwrap()
                >= iteration["pass_at_1"].as_f64().unwrap()
        );
    }
    for iteration in &iterations[1..] {
        let illusion = &iteration["illusion"];
        let (newly, covered) = (
            illusion["newly_solved"].as_u64().unwrap(),
            illusion["already_covered"].as_u64().unwrap(),
        );
        assert!(newly > 0 && covered <= newly);
        let tail = &iteration["tail"];
        assert!(tail["rare_answers"].as_u64().unwrap() > 0);
        assert!((0.0..=1.0).contains(&tail["rare_bigrams_retained"].as_f64().unwrap()));
    }
    assert!(out.join("compare_vs_k.svg").is_file());
}

#[test]
fn export_writes_trl_sft_and_dpo_data_from_real_samples() {
    if common::skip(
        "export_writes_trl_sft_and_dpo_data_from_real_samples",
        &[common::Need::SharedData],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let runs = faithful_iterations(dir.path(), 100);
    let (_, code002) = &runs[1];
    let gsm8k = common::shared_data("gsm8k/test.jsonl");
    let (sft, dpo) = (dir.path().join("sft.jsonl"), dir.path().join("dpo.jsonl"));
    bestofn()
        .args([
            "export",
            "--max-per-problem",
            "2",
            "--original-fraction",
            "0.1",
            "--problems",
        ])
        .arg(&gsm8k)
        .arg("--samples")
        .arg(code002)
        .arg("--sft")
        .arg(&sft)
        .arg("--dpo")
        .arg(&dpo)
        .assert()
        .success()
        .stderr(contains("sft: "))
        .stderr(contains("dpo: "));
    let labeled: HashMap<(String, u64), Value> = common::read_jsonl(code002)
        .into_iter()
        .map(|s| {
            (
                (
                    s["problem_id"].as_str().unwrap().to_owned(),
                    s["sample_idx"].as_u64().unwrap(),
                ),
                s,
            )
        })
        .collect();
    let records = common::read_jsonl(&sft);
    let mut per_problem: HashMap<String, HashSet<String>> = HashMap::new();
    let mut originals = 0;
    for record in &records {
        let messages = record["messages"].as_array().unwrap();
        assert_eq!(messages[0]["role"], "user");
        assert_eq!(messages[1]["role"], "assistant");
        let problem = record["problem_id"].as_str().unwrap().to_owned();
        let text = messages[1]["content"].as_str().unwrap();
        if record["source"] == "original" {
            originals += 1;
            assert!(text.contains("####"), "GSM8K's own solution");
            continue;
        }
        let idx = record["source"]["generated"].as_u64().unwrap();
        let sample = &labeled[&(problem.clone(), idx)];
        assert_eq!(sample["correct"], true, "only correct samples");
        assert_eq!(sample["text"].as_str().unwrap(), text);
        let key = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            per_problem.entry(problem).or_default().insert(key),
            "deduplicated per problem"
        );
    }
    assert!(per_problem.values().all(|texts| texts.len() <= 2));
    let share = originals as f64 / records.len() as f64;
    assert!((share - 0.1).abs() < 0.01, "original share {share}");
    for pair in common::read_jsonl(&dpo) {
        let problem = pair["problem_id"].as_str().unwrap().to_owned();
        let chosen = &labeled[&(problem.clone(), pair["source"]["chosen"].as_u64().unwrap())];
        let rejected = &labeled[&(problem, pair["source"]["rejected"].as_u64().unwrap())];
        assert_eq!(
            (chosen["correct"].as_bool(), rejected["correct"].as_bool()),
            (Some(true), Some(false))
        );
        assert_eq!(pair["chosen"][0]["content"], chosen["text"]);
        assert_eq!(pair["rejected"][0]["content"], rejected["text"]);
    }
}
