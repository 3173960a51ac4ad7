//! SVG plots of the report, drawn with plotters.

use std::path::Path;

use plotters::coord::combinators::LogCoord;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::{Calibration, Method, Metrics};
use crate::error::{Error, Result};

pub const ACCURACY_PLOT: &str = "accuracy_vs_k.svg";
pub const TOKENS_PLOT: &str = "accuracy_vs_tokens.svg";
pub const CALIBRATION_PLOT: &str = "calibration.svg";

const SIZE: (u32, u32) = (800, 560);

fn color_of(method: Method) -> RGBColor {
    match method {
        Method::Coverage => RGBColor(90, 90, 90),
        Method::Majority => RGBColor(31, 119, 180),
        Method::Verifier => RGBColor(214, 39, 40),
        Method::Weighted => RGBColor(44, 160, 44),
        Method::ConfidenceVote => RGBColor(148, 103, 189),
        Method::Borda => RGBColor(255, 127, 14),
    }
}

/// Legend labels, as the plots have always named the curves.
fn label_of(method: Method) -> &'static str {
    match method {
        Method::Coverage => method.title(),
        other => other.name(),
    }
}

fn report_error(e: impl std::fmt::Display) -> Error {
    Error::Report(e.to_string())
}

/// The legend of `chart`'s labelled series at `position` (in `font`, else plotters' own), on a
/// light box.
fn draw_legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
    font: Option<(&str, u32)>,
) -> Result<()> {
    let mut legend = chart.configure_series_labels();
    legend
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK);
    if let Some(font) = font {
        legend.label_font(font);
    }
    legend.draw().map_err(report_error)
}

/// The x axis of an accuracy plot: what each budget k of the report is drawn at.
struct XAxis {
    title: &'static str,
    desc: &'static str,
    /// x of each k of `metrics.ks`.
    at: Vec<f64>,
    /// Added at each k for the methods that read scores (what verifying k samples costs).
    scored_extra: Option<Vec<f64>>,
}

impl XAxis {
    fn samples(metrics: &Metrics) -> Self {
        XAxis {
            title: "Accuracy vs number of samples",
            desc: "samples per problem (k)",
            at: metrics.ks.iter().map(|&k| k as f64).collect(),
            scored_extra: None,
        }
    }

    /// Where `method` at the `i`-th k is drawn.
    fn x(&self, method: Method, i: usize) -> f64 {
        let extra = match &self.scored_extra {
            Some(extra) if method.needs_scores() => extra.get(i).copied().unwrap_or(0.0),
            _ => 0.0,
        };
        self.at.get(i).copied().unwrap_or(i as f64 + 1.0) + extra
    }

    fn range(&self) -> (f64, f64) {
        let low = self.at.first().copied().unwrap_or(1.0).max(1e-9);
        let extra = self.scored_extra.as_ref().and_then(|e| e.last().copied());
        let high = self.at.last().copied().unwrap_or(1.0) + extra.unwrap_or(0.0);
        (low, high.max(2.0 * low))
    }
}

/// Axes of accuracy (%) vs samples per problem on a log scale up to `max_k`.
fn accuracy_axes<'a, DB: DrawingBackend + 'a>(
    root: &'a DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    max_k: f64,
) -> Result<ChartContext<'a, DB, Cartesian2d<LogCoord<f64>, RangedCoordf64>>> {
    accuracy_axes_over(root, title, (1.0, max_k), "samples per problem (k)")
}

/// Axes of accuracy (%) vs `x_desc` on a log scale over `(low, high)`.
fn accuracy_axes_over<'a, DB: DrawingBackend + 'a>(
    root: &'a DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    (low, high): (f64, f64),
    x_desc: &str,
) -> Result<ChartContext<'a, DB, Cartesian2d<LogCoord<f64>, RangedCoordf64>>> {
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(56)
        .build_cartesian_2d((low..high).log_scale(), 0f64..100f64)
        .map_err(report_error)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("accuracy (%)")
        .x_label_formatter(&|k| format!("{}", k.round()))
        .light_line_style(WHITE)
        .draw()
        .map_err(report_error)?;
    Ok(chart)
}

/// Accuracy of each strategy vs k (log scale), bootstrap bands, coverage drawn on top.
pub fn accuracy_vs_k(metrics: &Metrics, path: &Path) -> Result<()> {
    accuracy_plot(metrics, path, &XAxis::samples(metrics))
}

/// The same curves against the generated tokens per problem (`metrics.compute`), the axis on
/// which methods are compared at equal compute; nothing is drawn without token counts.
pub fn accuracy_vs_tokens(metrics: &Metrics, path: &Path) -> Result<bool> {
    let Some(compute) = &metrics.compute else {
        return Ok(false);
    };
    let verified = compute.verification_tokens_per_problem.clone();
    let axis = XAxis {
        title: "Accuracy vs tokens",
        desc: if verified.is_some() {
            "tokens per problem (generated; + verification for methods that read scores)"
        } else {
            "generated tokens per problem"
        },
        at: compute.generated_tokens_per_problem.clone(),
        scored_extra: verified,
    };
    accuracy_plot(metrics, path, &axis)?;
    Ok(true)
}

/// Accuracy of each strategy at the x of each k, bootstrap bands, coverage drawn on top.
fn accuracy_plot(metrics: &Metrics, path: &Path, axis: &XAxis) -> Result<()> {
    let x = |method: Method, k: usize| {
        let i = metrics.ks.iter().position(|&m| m == k).unwrap_or(0);
        axis.x(method, i)
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(report_error)?;
        let (low, high) = axis.range();
        let mut chart = accuracy_axes_over(&root, axis.title, (low, high), axis.desc)?;
        // Strategies first, coverage last so that it is drawn on top.
        let mut curves: Vec<_> = metrics.curves.iter().collect();
        curves.sort_by_key(|c| c.method == Method::Coverage);
        for curve in curves {
            let color = color_of(curve.method);
            let mut band: Vec<(f64, f64)> = curve
                .points
                .iter()
                .map(|p| (x(curve.method, p.k), 100.0 * p.estimate.upper))
                .collect();
            band.extend(
                curve
                    .points
                    .iter()
                    .rev()
                    .map(|p| (x(curve.method, p.k), 100.0 * p.estimate.lower)),
            );
            chart
                .draw_series(std::iter::once(Polygon::new(
                    band,
                    color.mix(0.15).filled(),
                )))
                .map_err(report_error)?;
            let line: Vec<(f64, f64)> = curve
                .points
                .iter()
                .map(|p| (x(curve.method, p.k), 100.0 * p.estimate.mean))
                .collect();
            chart
                .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))
                .map_err(report_error)?
                .label(label_of(curve.method))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            chart
                .draw_series(line.into_iter().map(|p| Circle::new(p, 3, color.filled())))
                .map_err(report_error)?;
        }
        let first = 100.0 * metrics.first.mean;
        let grey = RGBColor(120, 120, 120);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(low, first), (high, first)],
                6,
                4,
                grey.stroke_width(1),
            ))
            .map_err(report_error)?
            .label("first sample")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], grey.stroke_width(1))
            });
        draw_legend(&mut chart, SeriesLabelPosition::LowerRight, None)?;
        root.present().map_err(report_error)?;
    }
    crate::io::write_atomic(path, svg.as_bytes())
}

/// Run colours of the comparison plot (matplotlib's tab10).
const RUN_COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Several runs on one plot: per run (one colour) coverage dotted, majority dashed, verifier
/// solid, against k on a log scale; a run of one sample per problem is a single point at k = 1.
pub fn compare_vs_k(runs: &[(&str, &Metrics)], path: &Path) -> Result<()> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 600)).into_drawing_area();
        root.fill(&WHITE).map_err(report_error)?;
        let max_k = runs
            .iter()
            .filter_map(|(_, m)| m.ks.last().copied())
            .max()
            .unwrap_or(1)
            .max(2) as f64;
        let mut chart = accuracy_axes(
            &root,
            "Runs compared: accuracy vs samples per problem",
            max_k,
        )?;
        for (index, (name, metrics)) in runs.iter().enumerate() {
            let color = RUN_COLORS[index % RUN_COLORS.len()];
            for (method, dash) in [
                (Method::Coverage, Some((2, 4))),
                (Method::Majority, Some((8, 5))),
                (Method::Verifier, None),
            ] {
                let Some(curve) = metrics.curve(method) else {
                    continue;
                };
                let line: Vec<(f64, f64)> = curve
                    .points
                    .iter()
                    .map(|p| (p.k as f64, 100.0 * p.estimate.mean))
                    .collect();
                let label = format!("{name}: {}", label_of(method));
                let style = color.stroke_width(2);
                let series = match dash {
                    Some((size, spacing)) => chart
                        .draw_series(DashedLineSeries::new(line.clone(), size, spacing, style))
                        .map_err(report_error)?,
                    None => chart
                        .draw_series(LineSeries::new(line.clone(), style))
                        .map_err(report_error)?,
                };
                series.label(label).legend(move |(x, y)| match dash {
                    Some(_) => PathElement::new(
                        vec![(x, y), (x + 6, y), (x + 12, y)],
                        color.stroke_width(1),
                    ),
                    None => PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(3)),
                });
                chart
                    .draw_series(line.into_iter().map(|p| Circle::new(p, 3, color.filled())))
                    .map_err(report_error)?;
            }
        }
        draw_legend(
            &mut chart,
            SeriesLabelPosition::LowerRight,
            Some(("sans-serif", 12)),
        )?;
        root.present().map_err(report_error)?;
    }
    crate::io::write_atomic(path, svg.as_bytes())
}

/// Reliability diagram: accuracy vs mean score per bin, against the diagonal.
pub fn reliability_diagram(calibration: &Calibration, path: &Path) -> Result<()> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(report_error)?;
        let caption = match (calibration.ece, calibration.auroc) {
            (Some(ece), Some(auroc)) => {
                format!("Verifier calibration (ECE {ece:.3}, AUROC {auroc:.3})")
            }
            (Some(ece), None) => format!("Verifier calibration (ECE {ece:.3})"),
            _ => "Verifier calibration".to_owned(),
        };
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)
            .map_err(report_error)?;
        chart
            .configure_mesh()
            .x_desc("mean verifier score in bin")
            .y_desc("share correct")
            .light_line_style(WHITE)
            .draw()
            .map_err(report_error)?;
        chart
            .draw_series(DashedLineSeries::new(
                vec![(0.0, 0.0), (1.0, 1.0)],
                6,
                4,
                RGBColor(120, 120, 120).stroke_width(1),
            ))
            .map_err(report_error)?;
        let red = RGBColor(214, 39, 40);
        let max_count = calibration.bins.iter().map(|b| b.count).max().unwrap_or(1) as f64;
        chart
            .draw_series(calibration.bins.iter().map(|b| {
                Rectangle::new(
                    [
                        (b.lower + 0.01, 0.0),
                        (b.upper - 0.01, 0.25 * b.count as f64 / max_count),
                    ],
                    RGBColor(31, 119, 180).mix(0.25).filled(),
                )
            }))
            .map_err(report_error)?
            .label("samples per bin (scaled)")
            .legend(|(x, y)| {
                Rectangle::new(
                    [(x, y - 5), (x + 18, y + 5)],
                    RGBColor(31, 119, 180).mix(0.25).filled(),
                )
            });
        let points: Vec<(f64, f64)> = calibration
            .bins
            .iter()
            .map(|b| (b.mean_score, b.accuracy))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), red.stroke_width(2)))
            .map_err(report_error)?
            .label("accuracy per bin")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], red.stroke_width(2)));
        chart
            .draw_series(points.into_iter().map(|p| Circle::new(p, 4, red.filled())))
            .map_err(report_error)?;
        draw_legend(&mut chart, SeriesLabelPosition::UpperLeft, None)?;
        root.present().map_err(report_error)?;
    }
    crate::io::write_atomic(path, svg.as_bytes())
}
