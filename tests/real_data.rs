//! The stages on the real sample sets in `../shared/data/samples`: the imported files reproduce
//! their sources' own figures, and our grader agrees with their labels.

mod common;

use bestofn::eval::{evaluate, EvalOptions, Method};
use bestofn::import::{import, Format};
use bestofn::io::TableFormat;
use bestofn::label::{label, LabelOptions, LabelSummary};
use bestofn::pool::build_pools;
use bestofn::records::Sample;

fn quick_eval() -> EvalOptions {
    EvalOptions {
        bootstrap: 100,
        trials: 50,
        ..EvalOptions::default()
    }
}

fn relabel(imported: &mut bestofn::import::Imported, options: &LabelOptions) -> LabelSummary {
    let lines: Vec<usize> = (1..=imported.samples.len()).collect();
    label(
        &imported.problems,
        &mut imported.samples,
        &lines,
        std::path::Path::new("imported"),
        options,
    )
    .unwrap()
}

#[test]
fn qwen_math_import_reproduces_the_reference_script_and_agrees_with_its_labels() {
    if common::skip(
        "qwen_math_import_reproduces_the_reference_script_and_agrees_with_its_labels",
        &[common::Need::SharedData],
    ) {
        return;
    }
    let path = common::shared_data("samples/qwen25math_rm_maj/math_cot_100.jsonl");
    let mut imported = import(&path, &Format::QwenMathRm, TableFormat::Auto, None).unwrap();
    assert_eq!(imported.problems.len(), 100);
    assert_eq!(imported.samples.len(), 800);
    assert!(imported.samples.iter().all(|s| s.score.is_some()));

    // The repository's rm_maj_eval.py prints maj@8 = 93.0 and rm@8 = 94.0 on this file.
    let source = evaluate(&build_pools(&imported.samples), &quick_eval()).unwrap();
    assert_eq!(source.ks, vec![1, 2, 4, 8]);
    assert!((source.at(Method::Majority, 8).unwrap().mean - 0.93).abs() < 1e-12);
    assert!((source.at(Method::Verifier, 8).unwrap().mean - 0.94).abs() < 1e-12);
    assert!((source.first.mean - 0.90).abs() < 1e-12);
    // Reward-model scores are logits: AUROC only.
    let calibration = source.calibration.as_ref().unwrap();
    assert!(calibration.ece.is_none() && calibration.auroc.unwrap() > 0.9);

    let summary = relabel(&mut imported, &LabelOptions::default());
    assert_eq!(summary.previously_labeled, 800);
    // The one disagreement: gold "10{,}000" vs "10000", which the source grades wrong.
    assert_eq!(summary.agreeing_with_previous, 799);
    let changed: Vec<&Sample> = imported
        .samples
        .iter()
        .filter(|s| s.correct != s.extra["source_correct"].as_bool())
        .collect();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].extracted.as_deref(), Some("10000"));
    assert_eq!(changed[0].correct, Some(true));
}

#[test]
fn faithful_cot_pool_import_and_grader_agreement() {
    if common::skip(
        "faithful_cot_pool_import_and_grader_agreement",
        &[common::Need::SharedData],
    ) {
        return;
    }
    let path = common::shared_data("samples/faithful_cot_gsm8k_test_pool.derived.jsonl.gz");
    let mut imported = import(&path, &Format::FaithfulCotPool, TableFormat::Auto, None).unwrap();
    assert_eq!(imported.problems.len(), 1319);
    assert_eq!(imported.samples.len(), 1319 * 41);
    let source = evaluate(&build_pools(&imported.samples), &quick_eval()).unwrap();
    assert_eq!(source.ks.last(), Some(&41));
    assert!(source.at(Method::Coverage, 41).unwrap().mean > 0.98);

    // Graded from the answers the pool's own pipeline extracted (program outputs included).
    let summary = relabel(
        &mut imported,
        &LabelOptions {
            answer_field: Some("source_answer".into()),
            ..LabelOptions::default()
        },
    );
    let agreement = summary.agreeing_with_previous as f64 / summary.previously_labeled as f64;
    assert!(agreement > 0.985, "agreement {agreement}");

    // Graded from the text: natural-language styles only (program styles state no answer).
    let natural: Vec<usize> = imported
        .samples
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            matches!(
                s.extra["generator"]["prompt"].as_str(),
                Some("COT" | "LtM" | "standard")
            )
        })
        .map(|(i, _)| i)
        .collect();
    let mut text_graded = import(&path, &Format::FaithfulCotPool, TableFormat::Auto, None).unwrap();
    relabel(&mut text_graded, &LabelOptions::default());
    let agree = natural
        .iter()
        .filter(|&&i| {
            text_graded.samples[i].correct
                == text_graded.samples[i].extra["source_correct"].as_bool()
        })
        .count();
    let agreement = agree as f64 / natural.len() as f64;
    assert!(
        agreement > 0.985,
        "text agreement on natural-language styles {agreement}"
    );
}

#[test]
fn gsm8k_paper_runs_reproduce_their_accuracies_under_our_grading() {
    if common::skip(
        "gsm8k_paper_runs_reproduce_their_accuracies_under_our_grading",
        &[common::Need::SharedData],
    ) {
        return;
    }
    let path = common::shared_data("gsm8k/example_model_solutions.jsonl");
    // The file's own verdicts (share of 1,319 test problems solved by each run's chosen solution).
    let runs = [
        ("6b_finetuning", 286),
        ("6b_verification", 515),
        ("175b_finetuning", 458),
        ("175b_verification", 742),
    ];
    for (run, solved) in runs {
        let format = Format::Gsm8kExampleSolutions { run: run.into() };
        let mut imported = import(&path, &format, TableFormat::Auto, None).unwrap();
        assert_eq!(imported.samples.len(), 1319);
        let source_solved = imported
            .samples
            .iter()
            .filter(|s| s.correct == Some(true))
            .count();
        assert_eq!(source_solved, solved, "{run}");
        let summary = relabel(&mut imported, &LabelOptions::default());
        assert_eq!(
            summary.agreeing_with_previous, 1319,
            "{run}: our grading differs from the paper's"
        );
    }
}

#[test]
fn compare_puts_the_gsm8k_paper_runs_side_by_side_with_paired_differences() {
    if common::skip(
        "compare_puts_the_gsm8k_paper_runs_side_by_side_with_paired_differences",
        &[common::Need::SharedData],
    ) {
        return;
    }
    use bestofn::compare::{compare, Run};
    let path = common::shared_data("gsm8k/example_model_solutions.jsonl");
    let runs: Vec<Run> = ["175b_finetuning", "6b_verification"]
        .iter()
        .map(|run| {
            let mut imported = import(
                &path,
                &Format::Gsm8kExampleSolutions {
                    run: run.to_string(),
                },
                TableFormat::Auto,
                None,
            )
            .unwrap();
            relabel(&mut imported, &LabelOptions::default());
            Run {
                name: run.to_string(),
                pools: build_pools(&imported.samples),
                stopped: Vec::new(),
            }
        })
        .collect();
    let comparison = compare(&runs, &quick_eval()).unwrap();
    assert_eq!(comparison.runs[0].n, 1);
    assert!((comparison.runs[0].test_at_1.mean - 458.0 / 1319.0).abs() < 1e-12);
    assert!((comparison.runs[1].test_at_1.mean - 515.0 / 1319.0).abs() < 1e-12);
    // The paper's finding: 6B with verification beats 175B fine-tuning.
    let d = &comparison.differences[0];
    assert_eq!(
        (d.a.as_str(), d.b.as_str(), d.shared_problems),
        ("175b_finetuning", "6b_verification", 1319)
    );
    assert!((d.difference.mean - 57.0 / 1319.0).abs() < 1e-12);
    assert!(d.difference.lower > 0.0 && d.difference.upper > d.difference.mean);

    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("compare");
    let staged = bestofn::io::OutputDir::create(&report).unwrap();
    bestofn::compare::write_comparison(&comparison, &staged).unwrap();
    staged.commit().unwrap();
    let plot = std::fs::read_to_string(report.join(bestofn::compare::COMPARE_PLOT)).unwrap();
    assert!(plot.starts_with("<svg") && plot.contains("6b_verification: coverage (pass@k)"));
    let markdown = std::fs::read_to_string(report.join("compare.md")).unwrap();
    assert!(
        markdown.contains("| 175b_finetuning | 6b_verification | 1319 | 4.3 ["),
        "{markdown}"
    );
}
