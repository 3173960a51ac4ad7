//! `report.md`: the tables a reader checks first.

use std::fmt::Write;
use std::path::Path;

use super::{Estimate, Metrics};

/// `mean [lower, upper]` in percent, one decimal; the mean alone without an interval.
pub(crate) fn percent(e: &Estimate) -> String {
    if !e.has_interval() {
        return format!("{:.1}", 100.0 * e.mean);
    }
    format!(
        "{:.1} [{:.1}, {:.1}]",
        100.0 * e.mean,
        100.0 * e.lower,
        100.0 * e.upper
    )
}

pub fn markdown(metrics: &Metrics, input: &Path, plots: &[&str]) -> String {
    let mut md = String::new();
    let level = 100.0 * metrics.confidence;
    let _ = writeln!(md, "# bestofn evaluation\n");
    let _ = writeln!(md, "- input: `{}`", input.display());
    let _ = writeln!(
        md,
        "- {} problems, {} samples ({} per problem{})",
        metrics.problems,
        metrics.samples,
        metrics.min_samples_per_problem,
        if metrics.max_samples_per_problem != metrics.min_samples_per_problem {
            format!(" at least, up to {}", metrics.max_samples_per_problem)
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        md,
        "- samples without an extractable final answer: {:.1}%",
        100.0 * metrics.unextractable
    );
    let _ = writeln!(
        md,
        "- accuracy in %, with {level:.0}% percentile-bootstrap intervals over problems ({} resamples); Monte-Carlo strategies use {} random k-subsets per problem; seed {}",
        metrics.bootstrap, metrics.trials, metrics.seed
    );
    let _ = writeln!(
        md,
        "- first sample (lowest sample_idx) accuracy: {}\n",
        percent(&metrics.first)
    );

    let _ = writeln!(md, "## Accuracy vs number of samples k\n");
    let header: Vec<&str> = metrics.curves.iter().map(|c| c.method.title()).collect();
    let _ = writeln!(md, "| k | {} |", header.join(" | "));
    let _ = writeln!(md, "|---:|{}", "---:|".repeat(header.len()));
    for (ki, k) in metrics.ks.iter().enumerate() {
        let cells: Vec<String> = metrics
            .curves
            .iter()
            .map(|c| percent(&c.points[ki].estimate))
            .collect();
        let _ = writeln!(md, "| {k} | {} |", cells.join(" | "));
    }
    let _ = writeln!(md);
    for curve in &metrics.curves {
        let _ = writeln!(md, "- {}: {}", curve.method.title(), curve.estimator);
    }
    let _ = writeln!(md);

    if let Some(c) = &metrics.calibration {
        let _ = writeln!(
            md,
            "## Verifier calibration ({} scored samples)\n",
            c.samples
        );
        let fmt = |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{v:.4}"));
        let _ = writeln!(
            md,
            "| AUROC | ECE ({} bins) | Brier |",
            super::calibration::BINS
        );
        let _ = writeln!(md, "|---:|---:|---:|");
        let _ = writeln!(
            md,
            "| {} | {} | {} |\n",
            fmt(c.auroc),
            fmt(c.ece),
            fmt(c.brier)
        );
        if let Some(note) = &c.note {
            let _ = writeln!(md, "{note}\n");
        }
        if !c.bins.is_empty() {
            let _ = writeln!(md, "| score bin | samples | mean score | accuracy |");
            let _ = writeln!(md, "|---|---:|---:|---:|");
            for b in &c.bins {
                let _ = writeln!(
                    md,
                    "| [{:.1}, {:.1}) | {} | {:.3} | {:.3} |",
                    b.lower, b.upper, b.count, b.mean_score, b.accuracy
                );
            }
            let _ = writeln!(md);
        }
    }
    if let Some(curve) = &metrics.abstention {
        let _ = writeln!(
            md,
            "## Accuracy vs answer rate (verifier pick, most confident problems first)\n"
        );
        let _ = writeln!(
            md,
            "| answer rate | answered | accuracy | score threshold |"
        );
        let _ = writeln!(md, "|---:|---:|---:|---:|");
        for p in curve
            .iter()
            .filter(|p| (p.answer_rate * 20.0).round() as usize % 2 == 0 || p.answer_rate <= 0.1)
        {
            let _ = writeln!(
                md,
                "| {:.0}% | {} | {:.1}% | {:.4} |",
                100.0 * p.answer_rate,
                p.answered,
                100.0 * p.accuracy,
                p.threshold
            );
        }
        let _ = writeln!(md);
    }
    if !plots.is_empty() {
        let _ = writeln!(md, "## Plots\n");
        for plot in plots {
            let _ = writeln!(md, "![{plot}]({plot})");
        }
    }
    md
}
