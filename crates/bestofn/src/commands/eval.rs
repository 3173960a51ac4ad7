//! `bestofn eval`.

use std::fmt::Write;
use std::path::PathBuf;

use super::Outcome;
use crate::error::{Error, Result};
use crate::eval::args::EvalArgs;
use crate::eval::gap::{reasoning_gap_from_files, ReasoningGap};
use crate::eval::{evaluate_scored, write_report, Estimate, EvalOptions, Metrics};
use crate::io::args::InputArgs;
use crate::io::{ensure_distinct, write_json_pretty, Named, OutputDir};
use crate::pool::build_pools;
use crate::rank::Aggregate;
use crate::records::{read_all, read_problems, read_verdicts, ProblemLayout, Sample};

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
    /// Report directory: metrics.json, report.md, problems.jsonl, SVG plots.
    #[arg(long)]
    pub out: PathBuf,
    /// Also write report.html: the report as one self-contained page, with a table of problems
    /// that opens into each problem's candidates (filterable: verifier right / majority wrong).
    #[arg(long)]
    pub html: bool,
    /// Problems file: the HTML report shows each problem's question and gold answer, and grades
    /// each candidate with the rule that decided (as `show` does).
    #[arg(long, requires = "html")]
    pub problems: Option<PathBuf>,
    #[command(flatten)]
    pub layout: ProblemLayout,
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

/// What the HTML report reads beside the samples.
#[derive(Debug)]
pub struct HtmlReport {
    problems: Option<(PathBuf, ProblemLayout)>,
}

#[derive(Debug)]
pub struct Settings {
    samples: PathBuf,
    html: Option<HtmlReport>,
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
        if self.html && crate::io::is_stdio(&self.samples) {
            return Err(Error::Settings(
                "--html reads the samples twice (their texts for the page): give a file, not -"
                    .into(),
            ));
        }
        let mut inputs = vec![Named::file("--samples", &self.samples)];
        inputs.extend(self.problems.as_ref().map(|p| Named::file("--problems", p)));
        if let Some(files) = &gap {
            inputs.push(Named::file("--reasoning-gap", &files.composed));
            inputs.push(Named::file("--q1-samples", &files.q1_samples));
            inputs.push(Named::file("--q2-samples", &files.q2_samples));
        }
        ensure_distinct(&inputs, &[Named::dir("--out", &self.out)])?;
        Ok(Settings {
            options: self.vote.apply_to_eval(self.eval.resolve(self.seed)?)?,
            aggregates: dedup(self.aggregate),
            html: self.html.then(|| HtmlReport {
                problems: self.problems.map(|path| (path, self.layout)),
            }),
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
    let plots = write_report(&metrics, &settings.samples, &report)?;
    let lines = crate::eval::write_problems(&build_pools(&ranked), &settings.options, &report)?;
    if let Some(html) = &settings.html {
        write_html(html, settings, &metrics, &lines, &plots, &report)?;
    }
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

/// `report.html` into the staged report directory: the candidates' texts are read again.
fn write_html(
    html: &HtmlReport,
    settings: &Settings,
    metrics: &Metrics,
    lines: &[serde_json::Value],
    plots: &[&str],
    report: &OutputDir,
) -> Result<()> {
    let (samples, _) = read_all::<Sample>(&settings.samples, settings.skip_invalid)?;
    let problems = match &html.problems {
        Some((path, layout)) => Some(read_problems(path, layout)?),
        None => None,
    };
    let svgs = plots
        .iter()
        .map(|name| {
            let path = report.file(name);
            let svg = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            Ok((name.to_string(), svg))
        })
        .collect::<Result<Vec<_>>>()?;
    let page = crate::eval::html::page(metrics, lines, &samples, problems.as_deref(), &svgs);
    crate::io::write_atomic(&report.file("report.html"), page.as_bytes())
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
