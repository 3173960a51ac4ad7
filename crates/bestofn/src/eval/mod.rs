//! The `eval` stage: from one pool of N samples per problem, accuracy at every budget k for each
//! strategy, with bootstrap confidence intervals over problems; verifier calibration; reports.

pub mod args;
pub mod bootstrap;
mod calibration;
mod compute;
pub(crate) mod estimators;
pub mod gap;
pub mod html;
mod method;
pub(crate) mod plot;
pub(crate) mod problems;
pub(crate) mod report;

use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

pub use bootstrap::{quantile, Estimate};
pub use calibration::{abstention_curve, calibration, AbstentionPoint, Calibration};
pub use compute::Compute;
pub use estimators::{pass_at_k, strategy_at_ks, verifier_at_k, voting_at_ks, VoteScratch};
pub use method::Method;

use crate::error::{Error, Result};
use crate::pool::{build_pools, ProblemPool};
use crate::rank::{aggregate_steps, choose, Aggregate, Strategy, Tally};
use crate::records::SampleVerdict;
use crate::stable_hash;

/// How to evaluate.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Sample budgets; default: powers of two up to N, and N.
    pub ks: Option<Vec<usize>>,
    /// Random k-subsets per problem for the Monte-Carlo strategies.
    pub trials: usize,
    /// Bootstrap resamples of the problems.
    pub bootstrap: usize,
    /// Confidence level of the intervals.
    pub confidence: f64,
    pub seed: u64,
    /// η of the confidence vote, in percent.
    pub keep_top: u32,
    /// p of the Borda vote, in thousandths.
    pub borda_power_milli: u32,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            ks: None,
            trials: 100,
            bootstrap: 1000,
            confidence: 0.95,
            seed: 0,
            keep_top: crate::rank::DEFAULT_KEEP_TOP,
            borda_power_milli: crate::rank::DEFAULT_BORDA_POWER_MILLI,
        }
    }
}

impl EvalOptions {
    fn confidence_vote(&self) -> Strategy {
        Strategy::ConfidenceVote {
            keep_top: self.keep_top,
        }
    }

    fn borda(&self) -> Strategy {
        Strategy::Borda {
            power_milli: self.borda_power_milli,
        }
    }
}

/// One point of an accuracy-vs-k curve.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CurvePoint {
    pub k: usize,
    #[serde(flatten)]
    pub estimate: Estimate,
}

/// The accuracy of one method at every k.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Curve {
    /// `pass@k` (coverage, the oracle), `majority`, `verifier` or `weighted`.
    pub method: Method,
    /// How the per-problem value was computed.
    pub estimator: &'static str,
    pub points: Vec<CurvePoint>,
}

/// Strategy `a` against strategy `b` on the same problems: at each k, the mean over problems of
/// a's accuracy minus b's, with a paired bootstrap interval (both read on the same resampled
/// problems, so what the problems share cancels out).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PairedDifference {
    pub a: Method,
    pub b: Method,
    pub points: Vec<CurvePoint>,
}

/// Everything `eval` measures; written as `metrics.json`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Metrics {
    pub problems: usize,
    pub samples: usize,
    pub min_samples_per_problem: usize,
    pub max_samples_per_problem: usize,
    pub ks: Vec<usize>,
    pub seed: u64,
    pub trials: usize,
    pub bootstrap: usize,
    pub confidence: f64,
    /// Share of samples from which no final answer was extracted.
    pub unextractable: f64,
    /// Share of samples cut off at their token limit (`finish_reason: "length"`).
    pub truncated: f64,
    /// Accuracy of each problem's first sample (lowest sample_idx): the single-sample baseline.
    pub first: Estimate,
    pub curves: Vec<Curve>,
    /// Every pair of strategies (coverage is none): the paired difference at each k.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<PairedDifference>,
    /// Present when every sample has a score.
    pub calibration: Option<Calibration>,
    /// The verifier's pick on the full pool, answering the most confident problems first.
    pub abstention: Option<Vec<AbstentionPoint>>,
    /// What generating the samples cost, where every record says (`num_tokens`, `tokens`,
    /// `wall_ms`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compute: Option<Compute>,
    /// The same samples ranked by other scores (each aggregation of a process reward model's step
    /// scores, the scores before calibration), side by side; the curves above are the first one's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub score_variants: Vec<ScoreVariant>,
}

/// What one way of scoring the samples gives at the full budget N.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ScoreVariant {
    /// `score` (the field as it is), `steps: min` (an aggregation of `step_scores`), or `score
    /// before calibration` (`uncalibrated_score`).
    pub scores: String,
    pub verifier: Option<Estimate>,
    pub weighted: Option<Estimate>,
    pub auroc: Option<f64>,
    pub ece: Option<f64>,
    pub brier: Option<f64>,
}

impl ScoreVariant {
    fn of(scores: String, metrics: &Metrics) -> Self {
        let n = metrics.ks.last().copied().unwrap_or(1);
        let calibration = metrics.calibration.as_ref();
        ScoreVariant {
            scores,
            verifier: metrics.at(Method::Verifier, n),
            weighted: metrics.at(Method::Weighted, n),
            auroc: calibration.and_then(|c| c.auroc),
            ece: calibration.and_then(|c| c.ece),
            brier: calibration.and_then(|c| c.brier),
        }
    }
}

/// Evaluates the samples ranked by each aggregation of their step scores (the first one's curves
/// in full, every one side by side with the `score` field when every sample has one); without
/// aggregations, by `score`.
pub fn evaluate_scored(
    verdicts: &[SampleVerdict],
    aggregates: &[Aggregate],
    options: &EvalOptions,
) -> Result<Metrics> {
    let Some((&first, rest)) = aggregates.split_first() else {
        let mut metrics = evaluate(&build_pools(verdicts), options)?;
        if let Some(before) = before_calibration(verdicts, options)? {
            metrics.score_variants = vec![ScoreVariant::of("score".into(), &metrics), before];
        }
        return Ok(metrics);
    };
    let by_steps = |aggregate: Aggregate| -> Result<Metrics> {
        let mut aggregated = verdicts.to_vec();
        aggregate_steps(&mut aggregated, aggregate)?;
        evaluate(&build_pools(&aggregated), options)
    };
    let mut metrics = by_steps(first)?;
    let mut variants = vec![ScoreVariant::of(format!("steps: {first}"), &metrics)];
    for &aggregate in rest {
        variants.push(ScoreVariant::of(
            format!("steps: {aggregate}"),
            &by_steps(aggregate)?,
        ));
    }
    if verdicts.iter().all(|v| v.score.is_some()) {
        let by_score = evaluate(&build_pools(verdicts), options)?;
        variants.push(ScoreVariant::of("score".into(), &by_score));
    }
    variants.extend(before_calibration(verdicts, options)?);
    metrics.score_variants = variants;
    Ok(metrics)
}

/// The samples ranked by their scores before calibration, when every sample has one.
fn before_calibration(
    verdicts: &[SampleVerdict],
    options: &EvalOptions,
) -> Result<Option<ScoreVariant>> {
    if !verdicts.iter().all(|v| v.uncalibrated_score.is_some()) {
        return Ok(None);
    }
    let uncalibrated: Vec<SampleVerdict> = verdicts
        .iter()
        .map(|v| SampleVerdict {
            score: v.uncalibrated_score,
            ..v.clone()
        })
        .collect();
    let metrics = evaluate(&build_pools(&uncalibrated), options)?;
    Ok(Some(ScoreVariant::of(
        "score before calibration".into(),
        &metrics,
    )))
}

impl Metrics {
    pub fn curve(&self, method: Method) -> Option<&Curve> {
        self.curves.iter().find(|c| c.method == method)
    }

    /// The estimate of `method` at budget `k`.
    pub fn at(&self, method: Method, k: usize) -> Option<Estimate> {
        self.curve(method)?
            .points
            .iter()
            .find(|p| p.k == k)
            .map(|p| p.estimate)
    }
}

/// Evaluates labeled pools. Every sample must carry a `correct` label.
pub fn evaluate(pools: &[ProblemPool], options: &EvalOptions) -> Result<Metrics> {
    let _span = tracing::info_span!("eval", problems = pools.len()).entered();
    let (min_n, max_n) = sample_counts(pools, options)?;
    let ks = resolve_ks(options.ks.as_deref(), min_n)?;
    let scored = pools.iter().all(|p| p.scores.is_some());
    let confidence = scored && pools.iter().any(|p| p.score_kind.is_some());
    // The confidence vote weighs by score: scores below 0 (a mean log-probability) get Borda only.
    let weighable = crate::rank::check_weights(pools, options.confidence_vote()).is_ok();

    let methods: Vec<Method> = Method::ALL
        .into_iter()
        .filter(|m| scored || !m.needs_scores())
        .filter(|m| confidence || !m.votes_by_confidence())
        .filter(|m| weighable || *m != Method::ConfidenceVote)
        .collect();

    // values[method][k index][problem]
    let per_problem: Vec<Vec<Vec<f64>>> = pools
        .par_iter()
        .map_init(VoteScratch::default, |scratch, pool| {
            per_problem_values(pool, &ks, &methods, options, scratch)
        })
        .collect();
    let num_series = methods.len() * ks.len();
    let pairs = strategy_pairs(&methods);
    let series = value_series(pools, &per_problem, ks.len(), num_series, &pairs);
    let estimates = bootstrap_series(&series, options);
    // The estimates of series `first`, `first + 1`, ...: one per k.
    let points = |first: usize| -> Vec<CurvePoint> {
        ks.iter()
            .enumerate()
            .map(|(ki, &k)| CurvePoint {
                k,
                estimate: estimates[first + ki],
            })
            .collect()
    };
    let differences = pairs
        .iter()
        .enumerate()
        .map(|(pair, &(a, b))| PairedDifference {
            a: methods[a],
            b: methods[b],
            points: points(num_series + 1 + pair * ks.len()),
        })
        .collect();
    let curves = methods
        .iter()
        .enumerate()
        .map(|(m, &method)| Curve {
            method,
            estimator: method.estimator(),
            points: points(m * ks.len()),
        })
        .collect();

    let samples: usize = pools.iter().map(ProblemPool::len).sum();
    let unextractable = pools
        .iter()
        .flat_map(|p| &p.answer_ids)
        .filter(|&&a| a == crate::pool::NO_ANSWER)
        .count() as f64
        / samples as f64;

    let (calibration, abstention) = if scored {
        let (calibration, abstention) = verifier_diagnostics(pools);
        (Some(calibration), Some(abstention))
    } else {
        (None, None)
    };

    let compute = compute::compute(pools, &ks);
    Ok(Metrics {
        problems: pools.len(),
        samples,
        min_samples_per_problem: min_n,
        max_samples_per_problem: max_n,
        ks,
        seed: options.seed,
        trials: options.trials,
        bootstrap: options.bootstrap,
        confidence: options.confidence,
        unextractable,
        truncated: pools.iter().map(|p| p.truncated).sum::<usize>() as f64 / samples as f64,
        first: estimates[num_series],
        curves,
        differences,
        calibration,
        abstention,
        compute,
        score_variants: Vec::new(),
    })
}

/// The per-problem values bootstrapped together: each method at each k (`[method * ks + k]`),
/// then the first sample's correctness, then each pair's difference at each k.
fn value_series(
    pools: &[ProblemPool],
    per_problem: &[Vec<Vec<f64>>],
    ks: usize,
    num_series: usize,
    pairs: &[(usize, usize)],
) -> Vec<Vec<f64>> {
    let mut series: Vec<Vec<f64>> = vec![Vec::with_capacity(pools.len()); num_series + 1];
    for (pool, values) in pools.iter().zip(per_problem) {
        for (m, per_k) in values.iter().enumerate() {
            for (ki, &v) in per_k.iter().enumerate() {
                series[m * ks + ki].push(v);
            }
        }
        let first_correct = pool.correct.first().copied().flatten() == Some(true);
        series[num_series].push(f64::from(u8::from(first_correct)));
    }
    for &(a, b) in pairs {
        for ki in 0..ks {
            let (a, b) = (&series[a * ks + ki], &series[b * ks + ki]);
            let difference = a.iter().zip(b).map(|(a, b)| a - b).collect();
            series.push(difference);
        }
    }
    series
}

/// Every pair of strategies among `methods` (by index; coverage is no strategy), the later one
/// first: `verifier − majority`.
fn strategy_pairs(methods: &[Method]) -> Vec<(usize, usize)> {
    let strategies: Vec<usize> = (0..methods.len())
        .filter(|&m| methods[m] != Method::Coverage)
        .collect();
    let mut pairs = Vec::new();
    for (i, &b) in strategies.iter().enumerate() {
        for &a in &strategies[i + 1..] {
            pairs.push((a, b));
        }
    }
    pairs
}

/// The smallest and largest N over labeled pools; unlabeled samples are an error, and mixed N
/// (which cuts every curve at the smallest) is said aloud.
fn sample_counts(pools: &[ProblemPool], options: &EvalOptions) -> Result<(usize, usize)> {
    if pools.is_empty() {
        return Err(Error::Inconsistent("no samples to evaluate".into()));
    }
    if let Some(pool) = pools.iter().find(|p| p.correct.iter().any(Option::is_none)) {
        return Err(Error::Inconsistent(format!(
            "problem {:?} has samples without a `correct` label: eval needs to know which samples \
             are right; label them against problems that have gold answers (`bestofn label \
             --problems P --samples S --out L`)",
            pool.problem_id
        )));
    }
    let min_n = pools.iter().map(ProblemPool::len).min().unwrap_or(0);
    let max_n = pools.iter().map(ProblemPool::len).max().unwrap_or(0);
    if min_n < max_n && options.ks.is_none() {
        let fewer = pools.iter().filter(|p| p.len() < max_n).count();
        tracing::warn!(
            "problems have between {min_n} and {max_n} samples ({fewer} of {} have fewer than \
             {max_n}): the curves stop at k = {min_n}, the smallest N; pass --ks to choose the \
             budgets, or evaluate problems with equal N",
            pools.len()
        );
    }
    Ok((min_n, max_n))
}

/// The verifier's calibration over every scored sample, and the abstention curve of its picks.
fn verifier_diagnostics(pools: &[ProblemPool]) -> (Calibration, Vec<AbstentionPoint>) {
    let pairs: Vec<(f32, bool)> = pools
        .iter()
        .flat_map(|p| {
            let scores = p.scores.as_deref().unwrap_or_default();
            scores
                .iter()
                .zip(&p.correct)
                .map(|(&s, c)| (s, *c == Some(true)))
        })
        .collect();
    let mut tally = Tally::default();
    let picks: Vec<(f32, bool)> = pools
        .iter()
        .map(|p| {
            let members: Vec<u32> = (0..p.len() as u32).collect();
            match choose(p, &members, Strategy::Verifier, &mut tally) {
                Some(c) => (c.support as f32, p.correct[c.position] == Some(true)),
                None => (f32::NEG_INFINITY, false),
            }
        })
        .collect();
    let kind = pools.iter().find_map(|p| p.score_kind.as_deref());
    (calibration(&pairs, kind), abstention_curve(&picks))
}

fn resolve_ks(requested: Option<&[usize]>, min_n: usize) -> Result<Vec<usize>> {
    let mut ks: Vec<usize> = match requested {
        Some(ks) => {
            if let Some(&k) = ks.iter().find(|&&k| k == 0 || k > min_n) {
                return Err(Error::Settings(format!(
                    "k = {k} is outside 1..={min_n} (the smallest number of samples of any problem)"
                )));
            }
            ks.to_vec()
        }
        None => std::iter::successors(Some(1usize), |k| k.checked_mul(2))
            .take_while(|&k| k < min_n)
            .chain([min_n])
            .collect(),
    };
    ks.sort_unstable();
    ks.dedup();
    Ok(ks)
}

fn per_problem_values(
    pool: &ProblemPool,
    ks: &[usize],
    methods: &[Method],
    options: &EvalOptions,
    scratch: &mut VoteScratch,
) -> Vec<Vec<f64>> {
    let n = pool.len();
    let c = pool.num_correct();
    let seed = options.seed ^ stable_hash(&pool.problem_id);
    let (majority, weighted) = voting_at_ks(pool, ks, options.trials, seed, scratch);
    methods
        .iter()
        .map(|method| match method {
            Method::Coverage => ks.iter().map(|&k| pass_at_k(n, c, k)).collect(),
            Method::Verifier => ks.iter().map(|&k| verifier_at_k(pool, k)).collect(),
            Method::Majority => majority.clone(),
            Method::Weighted => weighted.clone().unwrap_or_default(),
            Method::ConfidenceVote => {
                strategy_at_ks(pool, ks, options.trials, seed, options.confidence_vote())
            }
            Method::Borda => strategy_at_ks(pool, ks, options.trials, seed, options.borda()),
        })
        .collect()
}

/// Percentile bootstrap over problems; every series is resampled with the same problem draws.
fn bootstrap_series(series: &[Vec<f64>], options: &EvalOptions) -> Vec<Estimate> {
    let problems = series.first().map_or(0, Vec::len);
    let means: Vec<f64> = series
        .iter()
        .map(|s| s.iter().sum::<f64>() / problems as f64)
        .collect();
    bootstrap::bootstrap(
        problems,
        &means,
        options.bootstrap,
        options.confidence,
        options.seed ^ 0xb007_57a9,
        |weights, out| {
            for (value, s) in out.iter_mut().zip(series) {
                *value = bootstrap::weighted_mean(s, weights);
            }
        },
    )
}

/// Writes `problems.jsonl` (one line per problem: each strategy's answer, the votes) into the
/// staged report directory; the lines, for the HTML report.
pub fn write_problems(
    pools: &[ProblemPool],
    options: &EvalOptions,
    dir: &crate::io::OutputDir,
) -> Result<Vec<serde_json::Value>> {
    let lines = problems::problem_lines(pools, options)?;
    crate::io::write_jsonl(&dir.file(PROBLEMS_FILE), &lines)?;
    Ok(lines)
}

/// The per-problem file of a report.
pub const PROBLEMS_FILE: &str = "problems.jsonl";

/// Writes `metrics.json`, `report.md` and the SVG plots into the staged report directory; the
/// plots' file names.
pub fn write_report(
    metrics: &Metrics,
    input: &Path,
    dir: &crate::io::OutputDir,
) -> Result<Vec<&'static str>> {
    crate::io::write_json_pretty(&dir.file("metrics.json"), metrics)?;
    let mut plots = vec![plot::ACCURACY_PLOT];
    plot::accuracy_vs_k(metrics, &dir.file(plot::ACCURACY_PLOT))?;
    if plot::accuracy_vs_tokens(metrics, &dir.file(plot::TOKENS_PLOT))? {
        plots.push(plot::TOKENS_PLOT);
    }
    if let Some(calibration) = metrics.calibration.as_ref().filter(|c| !c.bins.is_empty()) {
        plot::reliability_diagram(calibration, &dir.file(plot::CALIBRATION_PLOT))?;
        plots.push(plot::CALIBRATION_PLOT);
    }
    let markdown = report::markdown(metrics, input, &plots);
    crate::io::write_atomic(&dir.file("report.md"), markdown.as_bytes())?;
    Ok(plots)
}
