//! The `compare` stage: several runs side by side (GSM8K verifiers paper: verification vs
//! fine-tuning), each a samples file — a pool of N samples per problem, or one chosen solution per
//! problem — with test@1, coverage, majority and verifier accuracy at N, and the paired difference
//! of test@1 between runs over the problems they share, with bootstrap intervals.

use std::collections::HashMap;
use std::fmt::Write;
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::eval::report::percent;
use crate::eval::{evaluate, quantile, Estimate, EvalOptions, Metrics};
use crate::pool::ProblemPool;

/// One run to compare: a name and its labeled (optionally scored) samples.
pub struct Run {
    pub name: String,
    pub pools: Vec<ProblemPool>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunSummary {
    pub name: String,
    pub problems: usize,
    /// Samples per problem (the smallest pool).
    pub n: usize,
    /// Expected accuracy of one sample (pass@1).
    pub test_at_1: Estimate,
    pub coverage_at_n: Estimate,
    pub majority_at_n: Estimate,
    pub verifier_at_n: Option<Estimate>,
    pub metrics: Metrics,
}

/// `b − a` in test@1 over the problems both runs answered.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PairedDifference {
    pub a: String,
    pub b: String,
    pub shared_problems: usize,
    pub difference: Estimate,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Comparison {
    pub runs: Vec<RunSummary>,
    pub differences: Vec<PairedDifference>,
    pub confidence: f64,
}

/// Compares runs; every pair gets a paired difference.
pub fn compare(runs: &[Run], options: &EvalOptions) -> Result<Comparison> {
    let _span = tracing::info_span!("compare", runs = runs.len()).entered();
    if runs.len() < 2 {
        return Err(Error::Settings("compare needs at least two runs".into()));
    }
    let mut summaries = Vec::with_capacity(runs.len());
    for run in runs {
        let metrics = evaluate(
            &run.pools,
            &EvalOptions {
                ks: None,
                ..options.clone()
            },
        )
        .map_err(|e| Error::Inconsistent(format!("run {:?}: {e}", run.name)))?;
        let n = *metrics.ks.last().unwrap_or(&1);
        let at = |method: &str, k: usize| metrics.at(method, k);
        summaries.push(RunSummary {
            name: run.name.clone(),
            problems: metrics.problems,
            n,
            test_at_1: at("pass@k", 1).expect("k = 1 is always evaluated"),
            coverage_at_n: at("pass@k", n).expect("k = N is always evaluated"),
            majority_at_n: at("majority", n).expect("majority is always evaluated"),
            verifier_at_n: at("verifier", n),
            metrics,
        });
    }
    let test_at_1: Vec<HashMap<&str, f64>> = runs
        .iter()
        .map(|run| {
            run.pools
                .iter()
                .map(|p| {
                    (
                        p.problem_id.as_str(),
                        p.num_correct() as f64 / p.len() as f64,
                    )
                })
                .collect()
        })
        .collect();
    let mut differences = Vec::new();
    for i in 0..runs.len() {
        for j in i + 1..runs.len() {
            let deltas: Vec<f64> = runs[i]
                .pools
                .iter()
                .filter_map(|p| {
                    let id = p.problem_id.as_str();
                    Some(test_at_1[j].get(id)? - test_at_1[i][id])
                })
                .collect();
            if deltas.is_empty() {
                return Err(Error::Inconsistent(format!(
                    "runs {:?} and {:?} share no problem",
                    runs[i].name, runs[j].name
                )));
            }
            differences.push(PairedDifference {
                a: runs[i].name.clone(),
                b: runs[j].name.clone(),
                shared_problems: deltas.len(),
                difference: bootstrap_mean(&deltas, options, (i * runs.len() + j) as u64),
            });
        }
    }
    Ok(Comparison {
        runs: summaries,
        differences,
        confidence: options.confidence,
    })
}

/// Mean of `values` with a percentile-bootstrap interval.
fn bootstrap_mean(values: &[f64], options: &EvalOptions, stream: u64) -> Estimate {
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    if options.bootstrap == 0 {
        return Estimate {
            mean,
            lower: mean,
            upper: mean,
        };
    }
    let mut rng = Pcg64Mcg::seed_from_u64(options.seed ^ 0xc0_4a2e ^ stream.rotate_left(17));
    let mut means: Vec<f64> = (0..options.bootstrap)
        .map(|_| {
            (0..values.len())
                .map(|_| values[rng.gen_range(0..values.len())])
                .sum::<f64>()
                / values.len() as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let alpha = (1.0 - options.confidence) / 2.0;
    Estimate {
        mean,
        lower: quantile(&means, alpha),
        upper: quantile(&means, 1.0 - alpha),
    }
}

/// `compare.md`.
pub fn markdown(comparison: &Comparison) -> String {
    let mut md = String::new();
    let level = 100.0 * comparison.confidence;
    let _ = writeln!(md, "# bestofn comparison\n");
    let _ = writeln!(
        md,
        "Accuracy in %, {level:.0}% percentile-bootstrap intervals over problems. test@1 is the expected accuracy of one sample (pass@1); N is the run's samples per problem.\n"
    );
    let _ = writeln!(
        md,
        "| run | problems | N | test@1 | coverage@N | majority@N | verifier@N |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|");
    for r in &comparison.runs {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.name,
            r.problems,
            r.n,
            percent(&r.test_at_1),
            percent(&r.coverage_at_n),
            percent(&r.majority_at_n),
            r.verifier_at_n.as_ref().map_or("n/a".to_owned(), percent)
        );
    }
    let _ = writeln!(md, "\n## Paired differences in test@1 (b − a, points)\n");
    let _ = writeln!(md, "| a | b | shared problems | b − a |");
    let _ = writeln!(md, "|---|---|---:|---:|");
    for d in &comparison.differences {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            d.a,
            d.b,
            d.shared_problems,
            percent(&d.difference)
        );
    }
    md
}

/// Writes `compare.json` and `compare.md` into `dir`.
pub fn write_comparison(comparison: &Comparison, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let json = serde_json::to_vec_pretty(comparison).map_err(|e| Error::Report(e.to_string()))?;
    crate::io::write_atomic(&dir.join("compare.json"), &json)?;
    crate::io::write_atomic(&dir.join("compare.md"), markdown(comparison).as_bytes())
}
