//! The `compare` stage: several runs side by side (GSM8K verifiers paper: verification vs
//! fine-tuning), each a samples file — a pool of N samples per problem, or one chosen solution per
//! problem — with test@1, coverage, majority and verifier accuracy at N, and the paired difference
//! of test@1 between runs over the problems they share, with bootstrap intervals.

pub mod diversity;
pub mod embed;

use std::collections::HashMap;
use std::fmt::Write;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::eval::bootstrap::{bootstrap, weighted_mean};
use crate::eval::report::percent;
use crate::eval::{evaluate, Estimate, EvalOptions, Method, Metrics};
use crate::pool::ProblemPool;
use crate::records::SampleVerdict;

/// One run to compare: a name and its labeled (optionally scored) samples.
pub struct Run {
    pub name: String,
    pub pools: Vec<ProblemPool>,
    /// Traces stopped mid-generation: tokens spent, no samples.
    pub stopped: Vec<SampleVerdict>,
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
    /// Self-improvement / collapse diagnostics, the runs read as iterations (base = first).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub iterations: Vec<Iteration>,
}

/// One run read as an iteration of a self-improvement or collapse loop.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Iteration {
    pub name: String,
    /// Mean per-problem pass@1 (c/n).
    pub pass_at_1: f64,
    /// Mean unbiased pass@k at the diagnostics' k.
    pub coverage_at_k: f64,
    pub diversity: diversity::Diversity,
    /// Against the base; `None` for the base itself.
    pub illusion: Option<diversity::Illusion>,
    pub tail: Option<diversity::TailRetention>,
}

/// Progress of the embedding pass of [`diagnose`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbedProgress {
    Total(usize),
    Problem,
}

#[derive(Debug, Clone, Default)]
pub struct DiagnosticOptions {
    /// k of coverage and of the illusion (default: the smallest N among the runs).
    pub k: Option<usize>,
    /// Embed the samples of at most this many problems per run (the first ones); all by default.
    pub embed_max_problems: Option<usize>,
}

/// Diagnostics of runs read as iterations: `runs` are (name, samples with texts and labels).
/// `progress` gets the number of problems to embed, then is called after each.
pub fn diagnose(
    runs: &[(String, Vec<crate::records::Sample>)],
    mut embedder: Option<&mut embed::Embedder>,
    options: &DiagnosticOptions,
    progress: &mut dyn FnMut(EmbedProgress),
) -> Result<Vec<Iteration>> {
    use diversity::{illusion, tail_retention, text_pools};
    let _span = tracing::info_span!("diagnose", runs = runs.len()).entered();
    let pools: Vec<Vec<diversity::TextPool<'_>>> =
        runs.iter().map(|(_, s)| text_pools(s)).collect();
    let smallest_n = pools
        .iter()
        .flat_map(|p| p.iter().map(|pool| pool.samples.len()))
        .min()
        .ok_or_else(|| Error::Inconsistent("no samples to diagnose".into()))?;
    let k = match options.k {
        None => smallest_n,
        Some(k) if (1..=smallest_n).contains(&k) => k,
        Some(k) => {
            return Err(Error::Settings(format!(
                "--k {k} is outside 1..={smallest_n} (the smallest number of samples of a problem in any run)"
            )))
        }
    };
    let limit = options.embed_max_problems.unwrap_or(usize::MAX);
    if embedder.is_some() {
        progress(EmbedProgress::Total(
            pools.iter().map(|p| p.len().min(limit)).sum(),
        ));
    }
    let mut iterations = Vec::with_capacity(runs.len());
    for (index, ((name, _), run_pools)) in runs.iter().zip(&pools).enumerate() {
        let graded = |pool: &diversity::TextPool<'_>| {
            let labels: Vec<bool> = pool.samples.iter().filter_map(|s| s.correct).collect();
            (labels.iter().filter(|&&c| c).count(), labels.len())
        };
        let problems = run_pools.len().max(1) as f64;
        let mut pass_at_1 = 0.0;
        let mut coverage = 0.0;
        for pool in run_pools {
            let (c, n) = graded(pool);
            if n == 0 {
                return Err(Error::Inconsistent(format!(
                    "run {name:?}, problem {:?}: no labeled sample; run `bestofn label` first",
                    pool.problem_id
                )));
            }
            pass_at_1 += c as f64 / n as f64;
            coverage += crate::eval::estimators::pass_at_k(n, c, k.min(n));
        }
        let mut embedded = 0usize;
        let mut similarity = |pool: &diversity::TextPool<'_>| -> Result<Option<f64>> {
            let Some(embedder) = embedder.as_deref_mut() else {
                return Ok(None);
            };
            if embedded >= limit {
                return Ok(None);
            }
            embedded += 1;
            let texts: Vec<&str> = pool.samples.iter().map(|s| s.text.as_str()).collect();
            let similarity = embedder.mean_pairwise_similarity(&texts);
            progress(EmbedProgress::Problem);
            similarity
        };
        let diversity = diversity::diversity(run_pools, Some(&mut similarity))?;
        let base = (index > 0).then(|| &pools[0]);
        iterations.push(Iteration {
            name: name.clone(),
            pass_at_1: pass_at_1 / problems,
            coverage_at_k: coverage / problems,
            diversity,
            illusion: base.map(|base| illusion(base, run_pools, k)),
            tail: base.map(|base| tail_retention(base, run_pools)),
        });
    }
    Ok(iterations)
}

/// Compares runs; every pair gets a paired difference.
pub fn compare(runs: &[Run], options: &EvalOptions) -> Result<Comparison> {
    let _span = tracing::info_span!("compare", runs = runs.len()).entered();
    if runs.len() < 2 {
        return Err(Error::Settings("compare needs at least two runs".into()));
    }
    let mut summaries = Vec::with_capacity(runs.len());
    for run in runs {
        let mut metrics = evaluate(
            &run.pools,
            &EvalOptions {
                ks: None,
                ..options.clone()
            },
        )
        .map_err(|e| Error::Inconsistent(format!("run {:?}: {e}", run.name)))?;
        if let Some(compute) = metrics.compute.as_mut() {
            compute.add_stopped(&run.stopped, metrics.problems);
        }
        let n = *metrics.ks.last().unwrap_or(&1);
        let at = |method: Method, k: usize| metrics.at(method, k);
        summaries.push(RunSummary {
            name: run.name.clone(),
            problems: metrics.problems,
            n,
            test_at_1: at(Method::Coverage, 1).expect("k = 1 is always evaluated"),
            coverage_at_n: at(Method::Coverage, n).expect("k = N is always evaluated"),
            majority_at_n: at(Method::Majority, n).expect("majority is always evaluated"),
            verifier_at_n: at(Method::Verifier, n),
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
        iterations: Vec::new(),
    })
}

/// Mean of `values` with a percentile-bootstrap interval.
fn bootstrap_mean(values: &[f64], options: &EvalOptions, stream: u64) -> Estimate {
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    bootstrap(
        values.len(),
        &[mean],
        options.bootstrap,
        options.confidence,
        options.seed ^ 0xc0_4a2e ^ stream.rotate_left(17),
        |weights, out| out[0] = weighted_mean(values, weights),
    )[0]
}

/// A run name inside a Markdown table: its pipes escaped.
fn cell(name: &str) -> String {
    name.replace('|', "\\|")
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
    // Generated tokens spent per problem (stopped traces included), where the runs' records say:
    // compute at equal cost.
    // Verification tokens at N beside them, where every sample says.
    let tokens_at_n = |r: &RunSummary| {
        let compute = r.metrics.compute.as_ref()?;
        let verification = compute
            .verification_tokens_per_problem
            .as_ref()
            .and_then(|v| v.last().copied());
        Some((compute.spent_tokens_per_problem, verification))
    };
    let with_tokens = comparison.runs.iter().any(|r| tokens_at_n(r).is_some());
    let (tokens_head, tokens_rule) = if with_tokens {
        (" tokens spent/problem |", "---:|")
    } else {
        ("", "")
    };
    let _ = writeln!(
        md,
        "| run | problems | N | test@1 | coverage@N | majority@N | verifier@N |{tokens_head}"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|{tokens_rule}");
    for r in &comparison.runs {
        let tokens = match (with_tokens, tokens_at_n(r)) {
            (false, _) => String::new(),
            (true, Some((tokens, None))) => format!(" {tokens:.0} |"),
            (true, Some((tokens, Some(verification)))) => {
                format!(" {tokens:.0} + {verification:.0} verification |")
            }
            (true, None) => " n/a |".to_owned(),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |{tokens}",
            cell(&r.name),
            r.problems,
            r.n,
            percent(&r.test_at_1),
            percent(&r.coverage_at_n),
            percent(&r.majority_at_n),
            r.verifier_at_n.as_ref().map_or("n/a".to_owned(), percent)
        );
    }
    if comparison.runs.iter().any(|r| r.n == 1) {
        let _ = writeln!(
            md,
            "\nA run with N = 1 (one chosen solution per problem, e.g. a verifier's pick) has every column equal to the accuracy of its choices."
        );
    }
    let _ = writeln!(md, "\n## Paired differences in test@1 (b − a, points)\n");
    let _ = writeln!(md, "| a | b | shared problems | b − a |");
    let _ = writeln!(md, "|---|---|---:|---:|");
    for d in &comparison.differences {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            cell(&d.a),
            cell(&d.b),
            d.shared_problems,
            percent(&d.difference)
        );
    }
    if !comparison.iterations.is_empty() {
        iterations_markdown(&mut md, &comparison.iterations);
    }
    md
}

fn iterations_markdown(md: &mut String, iterations: &[Iteration]) {
    let k = iterations
        .iter()
        .find_map(|i| i.illusion.as_ref())
        .map_or_else(|| "k".to_owned(), |illusion| illusion.k.to_string());
    let _ = writeln!(
        md,
        "\n## Iterations (base = {})\n",
        cell(&iterations[0].name)
    );
    let _ = writeln!(
        md,
        "pass@1 and coverage@{k} are means over problems. Illusion: of the problems newly solved at pass@1 (c/n ≥ 1/2, not so in the base), those the base already covered within {k} samples (pass@{k} ≥ 1/2). Diversity per problem, averaged: distinct-n, distinct equation sets, mean pairwise cosine similarity of sample embeddings. Tail: share of the base's rare answers (≤ {:.0}% of a problem's samples) and rare 2-grams (once in the base) still produced.\n",
        100.0 * diversity::RARE_ANSWER_SHARE
    );
    let _ = writeln!(md, "| iteration | pass@1 | coverage@{k} | newly solved | already covered (illusion) | distinct-1/2/3/4 | equation sets / samples | embedding similarity | rare answers kept | rare 2-grams kept |");
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|");
    for it in iterations {
        let d = &it.diversity;
        let (newly, illusion) = match &it.illusion {
            Some(i) => (
                i.newly_solved.to_string(),
                match i.share {
                    Some(share) => format!("{} ({:.1}%)", i.already_covered, 100.0 * share),
                    None => "–".into(),
                },
            ),
            None => ("(base)".into(), "(base)".into()),
        };
        let (answers, bigrams) = it
            .tail
            .as_ref()
            .map_or(("(base)".into(), "(base)".into()), |t| {
                (
                    format!(
                        "{:.1}% of {}",
                        100.0 * t.rare_answers_retained,
                        t.rare_answers
                    ),
                    format!(
                        "{:.1}% of {}",
                        100.0 * t.rare_bigrams_retained,
                        t.rare_bigrams
                    ),
                )
            });
        let _ = writeln!(
            md,
            "| {} | {:.1} | {:.1} | {newly} | {illusion} | {:.2} / {:.2} / {:.2} / {:.2} | {:.2} / {:.1} | {} | {answers} | {bigrams} |",
            cell(&it.name),
            100.0 * it.pass_at_1,
            100.0 * it.coverage_at_k,
            d.distinct_n[0],
            d.distinct_n[1],
            d.distinct_n[2],
            d.distinct_n[3],
            d.equation_sets,
            d.samples_per_problem,
            d.embedding_similarity.map_or("n/a".into(), |s| format!("{s:.3}")),
        );
    }
}

/// Writes `compare.json`, `compare.md` and the plot into the staged report directory.
pub fn write_comparison(comparison: &Comparison, dir: &crate::io::OutputDir) -> Result<()> {
    crate::io::write_json_pretty(&dir.file("compare.json"), comparison)?;
    crate::io::write_atomic(&dir.file("compare.md"), markdown(comparison).as_bytes())?;
    let runs: Vec<(&str, &Metrics)> = comparison
        .runs
        .iter()
        .map(|r| (r.name.as_str(), &r.metrics))
        .collect();
    crate::eval::plot::compare_vs_k(&runs, &dir.file(COMPARE_PLOT))
}

/// The plot of every run's curves.
pub const COMPARE_PLOT: &str = "compare_vs_k.svg";
