//! `bestofn eval`.

use std::fmt::Write;
use std::path::PathBuf;

use super::Outcome;
use crate::error::Result;
use crate::eval::args::EvalArgs;
use crate::eval::gap::{reasoning_gap_from_files, ReasoningGap};
use crate::eval::{evaluate_scored, write_report, Estimate, EvalOptions, Metrics};
use crate::io::args::InputArgs;
use crate::io::{ensure_distinct, write_json_pretty, Named, OutputDir};
use crate::pool::build_pools;
use crate::rank::Aggregate;
use crate::records::read_verdicts;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Labeled samples (scores optional: verifier and weighted need them; - reads standard input).
    #[arg(long)]
    pub samples: PathBuf,
    #[command(flatten)]
    pub eval: EvalArgs,
    #[command(flatten)]
    pub vote: crate::rank::args::VoteArgs,
    /// Rank by these aggregations of each sample's `step_scores` (a process reward model's):
    /// comma-separated; the first one's curves in full, all of them side by side.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub aggregate: Vec<Aggregate>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Report directory: metrics.json, report.md, SVG plots.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub input: InputArgs,
    /// Compositional GSM: the composed problems (from `bestofn compose`); --samples are the
    /// labeled samples on them. Adds the reasoning gap Δ = S_comp − S1·S2 to the report.
    #[arg(long, value_name = "COMPOSED", requires_all = ["q1_samples", "q2_samples"])]
    pub reasoning_gap: Option<PathBuf>,
    /// With --reasoning-gap: labeled samples on the Q1 set.
    #[arg(long, value_name = "FILE", requires = "reasoning_gap")]
    pub q1_samples: Option<PathBuf>,
    /// With --reasoning-gap: labeled samples on the modified-Q2 set.
    #[arg(long, value_name = "FILE", requires = "reasoning_gap")]
    pub q2_samples: Option<PathBuf>,
}

/// The files of the reasoning gap.
#[derive(Debug)]
pub struct GapFiles {
    composed: PathBuf,
    q1_samples: PathBuf,
    q2_samples: PathBuf,
}

#[derive(Debug)]
pub struct Settings {
    samples: PathBuf,
    options: EvalOptions,
    aggregates: Vec<Aggregate>,
    out: PathBuf,
    skip_invalid: bool,
    gap: Option<GapFiles>,
}

impl Args {
    pub fn resolve(self) -> Result<Settings> {
        let gap = match (self.reasoning_gap, self.q1_samples, self.q2_samples) {
            (Some(composed), Some(q1_samples), Some(q2_samples)) => Some(GapFiles {
                composed,
                q1_samples,
                q2_samples,
            }),
            _ => None,
        };
        let mut inputs = vec![Named::file("--samples", &self.samples)];
        if let Some(files) = &gap {
            inputs.push(Named::file("--reasoning-gap", &files.composed));
            inputs.push(Named::file("--q1-samples", &files.q1_samples));
            inputs.push(Named::file("--q2-samples", &files.q2_samples));
        }
        ensure_distinct(&inputs, &[Named::dir("--out", &self.out)])?;
        Ok(Settings {
            options: self.vote.apply_to_eval(self.eval.resolve(self.seed)?)?,
            aggregates: dedup(self.aggregate),
            samples: self.samples,
            out: self.out,
            skip_invalid: self.input.skip_invalid,
            gap,
        })
    }
}

pub fn run(settings: &Settings) -> Result<Outcome> {
    let set = read_verdicts(&settings.samples, settings.skip_invalid)?;
    let mut metrics = evaluate_scored(&set.verdicts, &settings.aggregates, &settings.options)?;
    if let Some(compute) = metrics.compute.as_mut() {
        compute.add_stopped(&set.stopped, metrics.problems);
    }
    // Everything is computed before the report directory replaces an old one.
    let gap = match &settings.gap {
        Some(files) => Some(reasoning_gap_from_files(
            &files.composed,
            &settings.samples,
            &files.q1_samples,
            &files.q2_samples,
            &settings.options,
        )?),
        None => None,
    };
    // The per-problem file ranks by the scores the curves read (the first aggregation's).
    let mut ranked = set.verdicts.clone();
    if let Some(&aggregate) = settings.aggregates.first() {
        crate::rank::aggregate_steps(&mut ranked, aggregate)?;
    }
    let report = OutputDir::create(&settings.out)?;
    write_report(&metrics, &settings.samples, &report)?;
    crate::eval::write_problems(&build_pools(&ranked), &settings.options, &report)?;
    if let Some(gap) = &gap {
        write_json_pretty(&report.file("reasoning_gap.json"), gap)?;
    }
    report.commit()?;
    let mut summary = String::new();
    if set.skipped > 0 {
        let _ = writeln!(summary, "skipped {} invalid lines", set.skipped);
    }
    summary.push_str(&headline(&metrics));
    for variant in &metrics.score_variants {
        let _ = write!(summary, "\n  by {}:", variant.scores);
        for (name, estimate) in [
            ("verifier", &variant.verifier),
            ("weighted", &variant.weighted),
        ] {
            if let Some(e) = estimate {
                let _ = write!(summary, " {name}@N {:.1}%", 100.0 * e.mean);
            }
        }
        for (name, value) in [
            ("AUROC", variant.auroc),
            ("ECE", variant.ece),
            ("Brier", variant.brier),
        ] {
            if let Some(value) = value {
                let _ = write!(summary, " {name} {value:.4}");
            }
        }
    }
    let _ = write!(summary, "\nreport written to {}", settings.out.display());
    if let Some(gap) = &gap {
        let _ = write!(summary, "\n{}", gap_line(gap));
    }
    Ok(Outcome::summary(summary))
}

/// The aggregations in the order given, each once.
fn dedup(aggregates: Vec<Aggregate>) -> Vec<Aggregate> {
    let mut unique = Vec::with_capacity(aggregates.len());
    for aggregate in aggregates {
        if !unique.contains(&aggregate) {
            unique.push(aggregate);
        }
    }
    unique
}

/// `P problems, N = n: first x%, coverage@n y%, ...`
pub(super) fn headline(metrics: &Metrics) -> String {
    let n = metrics.ks.last().copied().unwrap_or(1);
    let ranked_by = metrics
        .score_variants
        .first()
        .map_or_else(String::new, |v| format!(" (ranked by {})", v.scores));
    let mut line = format!(
        "{} problems, N = {n}{ranked_by}: first {:.1}%",
        metrics.problems,
        100.0 * metrics.first.mean
    );
    for curve in &metrics.curves {
        if let Some(e) = metrics.at(curve.method, n) {
            let _ = write!(
                line,
                ", {}@{n} {:.1}%",
                curve.method.short(),
                100.0 * e.mean
            );
        }
    }
    line
}

fn gap_line(gap: &ReasoningGap) -> String {
    let show = |e: &Estimate| crate::eval::report::percent(e);
    format!(
        "reasoning gap over {} pairs: S1 {}, S2 {}, S_comp {}, Δ = S_comp − S1·S2 = {} points",
        gap.pairs,
        show(&gap.s1),
        show(&gap.s2),
        show(&gap.s_comp),
        show(&gap.gap)
    )
}
