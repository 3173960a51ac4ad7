//! `report.md`: the tables a reader checks first.

use std::fmt::Write;
use std::path::Path;

use super::{AbstentionPoint, Calibration, Compute, Estimate, Metrics};

const NOT_AVAILABLE: &str = "n/a";

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
    header(&mut md, metrics, input);
    accuracy_table(&mut md, metrics);
    if !metrics.differences.is_empty() {
        differences_section(&mut md, metrics);
    }
    if let Some(compute) = &metrics.compute {
        compute_section(&mut md, metrics, compute);
    }
    if let Some(c) = &metrics.calibration {
        calibration_section(&mut md, c);
    }
    if !metrics.score_variants.is_empty() {
        variants_section(&mut md, metrics);
    }
    if let Some(curve) = &metrics.abstention {
        abstention_section(&mut md, curve);
    }
    if !plots.is_empty() {
        let _ = writeln!(md, "## Plots\n");
        for plot in plots {
            let _ = writeln!(md, "![{plot}]({plot})");
        }
    }
    md
}

/// Accuracy beside what the samples cost, for comparisons at equal compute.
fn compute_section(md: &mut String, metrics: &Metrics, compute: &Compute) {
    let _ = writeln!(md, "## Compute\n");
    let time = compute
        .wall_ms_per_sample
        .map_or(String::new(), |ms| format!(", {ms:.0} ms each"));
    let _ = writeln!(
        md,
        "Generated tokens per sample: {:.1} on average{time} (`tokens.completion`, else \
         `num_tokens`).",
        compute.generated_tokens_per_sample
    );
    let verification = compute.verification_tokens_per_problem.as_ref();
    match compute.verification_tokens_per_sample {
        Some(per_sample) => writeln!(
            md,
            " Verification tokens per sample: {per_sample:.1} on average (`score_tokens`: what \
             the verifier or judge read and generated); the methods that read scores spend both.\n"
        ),
        None => writeln!(
            md,
            " Verification tokens are not known for every sample (`score_tokens`: written by \
             `score` where the verifier says).\n"
        ),
    }
    .ok();
    if compute.stopped_traces > 0 {
        let _ = writeln!(
            md,
            "Tokens spent per problem: {:.0}, the {} traces stopped mid-generation included (they \
             are no samples: the table's k counts finished samples only).\n",
            compute.spent_tokens_per_problem, compute.stopped_traces
        );
    }
    let methods: Vec<_> = metrics.curves.iter().map(|c| c.method.title()).collect();
    let verification_head = if verification.is_some() {
        " verification tokens per problem |"
    } else {
        ""
    };
    let _ = writeln!(
        md,
        "| k | tokens per problem |{verification_head} {} |",
        methods.join(" | ")
    );
    let _ = writeln!(
        md,
        "|---|---|{}{}",
        if verification.is_some() { "---|" } else { "" },
        "---|".repeat(methods.len())
    );
    for (i, (&k, tokens)) in metrics
        .ks
        .iter()
        .zip(&compute.generated_tokens_per_problem)
        .enumerate()
    {
        let cells: Vec<String> = metrics
            .curves
            .iter()
            .map(|c| percent(&c.points[i].estimate))
            .collect();
        let verified = verification.map_or(String::new(), |v| format!(" {:.0} |", v[i]));
        let _ = writeln!(
            md,
            "| {k} | {tokens:.0} |{verified} {} |",
            cells.join(" | ")
        );
    }
    let _ = writeln!(md);
}

fn header(md: &mut String, metrics: &Metrics, input: &Path) {
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
        "- samples cut off at their token limit (`finish_reason: \"length\"`): {:.1}%",
        100.0 * metrics.truncated
    );
    let intervals = if metrics.bootstrap == 0 {
        "without intervals (--bootstrap 0)".to_owned()
    } else {
        format!(
            "with {level:.0}% percentile-bootstrap intervals over problems ({} resamples)",
            metrics.bootstrap
        )
    };
    let _ = writeln!(
        md,
        "- accuracy in %, {intervals}; Monte-Carlo strategies use {} random k-subsets per problem; seed {}",
        metrics.trials, metrics.seed
    );
    let _ = writeln!(
        md,
        "- first sample (lowest sample_idx) accuracy: {}\n",
        percent(&metrics.first)
    );
}

fn accuracy_table(md: &mut String, metrics: &Metrics) {
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
}

/// Each pair of strategies, paired on the same problems.
fn differences_section(md: &mut String, metrics: &Metrics) {
    let level = 100.0 * metrics.confidence;
    let _ = writeln!(
        md,
        "## Paired differences
"
    );
    let _ = writeln!(
        md,
        "Accuracy of the first minus the second, in percentage points, with {level:.0}% paired \
         bootstrap intervals (the same resampled problems for both): an interval that excludes 0 \
         says which is better on problems like these.\n"
    );
    let ks: Vec<String> = metrics.ks.iter().map(|k| format!("k = {k}")).collect();
    let _ = writeln!(md, "| | {} |", ks.join(" | "));
    let _ = writeln!(md, "|---|{}", "---:|".repeat(ks.len()));
    for difference in &metrics.differences {
        let cells: Vec<String> = difference
            .points
            .iter()
            .map(|p| signed_points(&p.estimate))
            .collect();
        let _ = writeln!(
            md,
            "| {} − {} | {} |",
            difference.a.title(),
            difference.b.title(),
            cells.join(" | ")
        );
    }
    let _ = writeln!(md);
}

/// A difference in percentage points, signed: `+1.2 [-0.5, +2.9]`; one that rounds to zero is
/// `+0.0` (a rounding error below it is no direction).
pub(crate) fn signed_points(e: &Estimate) -> String {
    let p = |v: f64| {
        let tenths = (1000.0 * v).round();
        format!("{:+.1}", if tenths == 0.0 { 0.0 } else { tenths / 10.0 })
    };
    if !e.has_interval() {
        return p(e.mean);
    }
    format!("{} [{}, {}]", p(e.mean), p(e.lower), p(e.upper))
}

/// The same samples ranked by each way of scoring them, at the full budget.
fn variants_section(md: &mut String, metrics: &Metrics) {
    let n = metrics.ks.last().copied().unwrap_or(1);
    let _ = writeln!(
        md,
        "## Ways of scoring the samples, side by side (k = {n})\n"
    );
    let _ = writeln!(
        md,
        "The curves above rank by the first row. `steps: A` is the aggregation A of each sample's step scores; \
         `score before calibration` is the verifier's probability before the calibration of its verifier.json \
         (`uncalibrated_score`).\n"
    );
    let _ = writeln!(
        md,
        "| scores | verifier@{n} | weighted@{n} | AUROC | ECE | Brier |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|");
    let estimate = |e: &Option<Estimate>| e.as_ref().map_or(NOT_AVAILABLE.to_owned(), percent);
    let number = |v: Option<f64>| v.map_or(NOT_AVAILABLE.to_owned(), |v| format!("{v:.4}"));
    for v in &metrics.score_variants {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            v.scores,
            estimate(&v.verifier),
            estimate(&v.weighted),
            number(v.auroc),
            number(v.ece),
            number(v.brier)
        );
    }
    md.push('\n');
}

fn calibration_section(md: &mut String, c: &Calibration) {
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

fn abstention_section(md: &mut String, curve: &[AbstentionPoint]) {
    let _ = writeln!(
        md,
        "## Accuracy vs answer rate (verifier pick, most confident problems first)\n"
    );
    let _ = writeln!(
        md,
        "| answer rate | answered | accuracy | score threshold |"
    );
    let _ = writeln!(md, "|---:|---:|---:|---:|");
    for p in curve.iter().filter(|p| {
        ((p.answer_rate * 20.0).round() as usize).is_multiple_of(2) || p.answer_rate <= 0.1
    }) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_that_round_to_zero_have_no_sign() {
        let e = |mean: f64, lower: f64, upper: f64| Estimate { mean, lower, upper };
        assert_eq!(
            signed_points(&e(-1e-17, -2e-17, -1e-18)),
            "+0.0 [+0.0, +0.0]"
        );
        assert_eq!(
            signed_points(&e(0.0123, -0.005, 0.029)),
            "+1.2 [-0.5, +2.9]"
        );
        assert_eq!(signed_points(&Estimate::point(-0.0004)), "+0.0");
        assert_eq!(signed_points(&Estimate::point(-0.0006)), "-0.1");
    }
}
