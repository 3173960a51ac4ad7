//! Parquet in and out: the real pools through Parquet and back byte for byte, every stage on
//! Parquet inputs and outputs, and files other tools write or read.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{bestofn, read_jsonl, shared_data, skip, venv_python, Need};

fn convert(input: &Path, out: &Path) {
    bestofn()
        .args(["convert", "--input"])
        .arg(input)
        .arg("--out")
        .arg(out)
        .assert()
        .success();
}

/// `import` of a real grouped set into `dir`: its samples and problems files.
fn import_real(format: &str, input: &Path, dir: &Path) -> (PathBuf, PathBuf) {
    let (samples, problems) = (dir.join("samples.jsonl"), dir.join("problems.jsonl"));
    common::import(&[format], input, &samples, &problems);
    (samples, problems)
}

/// JSONL → Parquet → JSONL gives back the file byte for byte.
fn assert_round_trip(jsonl: &Path) {
    let parquet = jsonl.with_extension("parquet");
    let back = jsonl.with_extension("back.jsonl");
    convert(jsonl, &parquet);
    assert_eq!(&std::fs::read(&parquet).unwrap()[..4], b"PAR1");
    convert(&parquet, &back);
    assert!(
        std::fs::read(jsonl).unwrap() == std::fs::read(&back).unwrap(),
        "{} changed through Parquet",
        jsonl.display()
    );
}

#[test]
fn the_real_pools_come_back_from_parquet_byte_for_byte() {
    if skip(
        "the_real_pools_come_back_from_parquet_byte_for_byte",
        &[Need::SharedData],
    ) {
        return;
    }
    for (format, input) in [
        (
            "faithful-cot-pool",
            "samples/faithful_cot_gsm8k_test_pool.derived.jsonl.gz",
        ),
        (
            "qwen-math-rm",
            "samples/qwen25math_rm_maj/math_cot_100.jsonl",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (samples, problems) = import_real(format, &shared_data(input), dir.path());
        assert_round_trip(&samples);
        assert_round_trip(&problems);
        // Labeled (every field bestofn writes), through Parquet in and out of `label` itself.
        let labeled = dir.path().join("labeled.jsonl");
        let labeled_parquet = dir.path().join("labeled-from-parquet.parquet");
        for (samples, problems, out) in [
            (samples.clone(), problems.clone(), labeled.clone()),
            (
                samples.with_extension("parquet"),
                problems.with_extension("parquet"),
                labeled_parquet.clone(),
            ),
        ] {
            bestofn()
                .arg("label")
                .arg("--samples")
                .arg(samples)
                .arg("--problems")
                .arg(problems)
                .arg("--out")
                .arg(out)
                .assert()
                .success();
        }
        let back = dir.path().join("labeled-back.jsonl");
        convert(&labeled_parquet, &back);
        assert!(
            std::fs::read(&labeled).unwrap() == std::fs::read(&back).unwrap(),
            "{format}"
        );
        assert_round_trip(&labeled);
    }
}

#[test]
fn parquet_written_here_reads_in_pyarrow_with_typed_columns_and_theirs_reads_here() {
    if skip(
        "parquet_written_here_reads_in_pyarrow_with_typed_columns_and_theirs_reads_here",
        &[Need::Harness],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let samples = dir.path().join("samples.jsonl");
    std::fs::write(
        &samples,
        concat!(
            r#"{"problem_id":"p1","sample_idx":0,"text":"So 18.","correct":true,"score":0.75,"step_scores":[0.5,0.75],"generator":{"model":"m"}}"#,
            "\n",
            r#"{"problem_id":"p1","sample_idx":1,"text":"So 20.","correct":false,"score":0.25,"step_scores":null,"generator":{"model":"m"}}"#,
            "\n"
        ),
    )
    .unwrap();
    let parquet = dir.path().join("samples.parquet");
    convert(&samples, &parquet);
    // pandas and the datasets library (through pyarrow) read it with real types; a Hugging
    // Face dataset written by `datasets` reads here as problems.
    let script = r#"
import sys, json
import pyarrow.parquet as pq
from datasets import Dataset
table = pq.read_table(sys.argv[1])
print(json.dumps({f.name: str(f.type) for f in table.schema}))
print(json.dumps(table.to_pylist()[0]))
Dataset.from_list([
    {"problem": "What is $1 + 1$?", "solution": "$\\boxed{2}$", "answer": "2", "level": 1},
    {"problem": "What is $2 + 2$?", "solution": "$\\boxed{4}$", "answer": "4", "level": 2},
]).to_parquet(sys.argv[2])
"#;
    let problems = dir.path().join("math.parquet");
    let output = Command::new(venv_python())
        .args(["-c", script])
        .arg(&parquet)
        .arg(&problems)
        .env("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let mut lines = stdout.lines();
    let types: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(types["sample_idx"], "int64");
    assert_eq!(types["correct"], "bool");
    assert_eq!(types["score"], "double");
    assert_eq!(types["step_scores"], "list<item: double>");
    let first: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(first["step_scores"], serde_json::json!([0.5, 0.75]));

    let math_samples = dir.path().join("math-samples.jsonl");
    std::fs::write(
        &math_samples,
        "{\"problem_id\":\"0\",\"sample_idx\":0,\"text\":\"$\\\\boxed{2}$\"}\n\
         {\"problem_id\":\"1\",\"sample_idx\":0,\"text\":\"$\\\\boxed{5}$\"}\n",
    )
    .unwrap();
    let labeled = dir.path().join("labeled.jsonl");
    bestofn()
        .arg("label")
        .arg("--samples")
        .arg(&math_samples)
        .arg("--problems")
        .arg(&problems)
        .arg("--out")
        .arg(&labeled)
        .assert()
        .success();
    let correct: Vec<_> = read_jsonl(&labeled)
        .iter()
        .map(|s| s["correct"].clone())
        .collect();
    assert_eq!(correct, [serde_json::json!(true), serde_json::json!(false)]);
}

#[test]
fn a_truncated_parquet_file_is_an_error_naming_it_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("s.jsonl");
    std::fs::write(
        &good,
        "{\"problem_id\":\"a\",\"sample_idx\":0,\"text\":\"x\"}\n",
    )
    .unwrap();
    let parquet = dir.path().join("s.parquet");
    convert(&good, &parquet);
    let bytes = std::fs::read(&parquet).unwrap();
    let cut = dir.path().join("cut.parquet");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let out = dir.path().join("out.jsonl");
    bestofn()
        .args(["convert", "--input"])
        .arg(&cut)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(65)
        .stderr(predicates::str::contains("cut.parquet"))
        .stderr(predicates::str::contains("Parquet"));
    assert!(!out.exists());
}
