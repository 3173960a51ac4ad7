//! The one percentile bootstrap of bestofn (eval's curves, compare's paired differences,
//! compose's reasoning gap): resample the items (problems, pairs) with replacement, recompute
//! every statistic on each resample, and take the percentiles of the resampled values.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::Serialize;

/// A statistic with its bootstrap interval (`lower == upper == mean` without resamples).
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Estimate {
    pub mean: f64,
    pub lower: f64,
    pub upper: f64,
}

impl Estimate {
    /// A value without an interval.
    pub fn point(mean: f64) -> Self {
        Estimate {
            mean,
            lower: mean,
            upper: mean,
        }
    }

    /// Whether an interval was computed (and is not a single point).
    pub fn has_interval(&self) -> bool {
        self.lower != self.upper
    }
}

/// Most resamples a flag may ask for: far past where intervals stop changing, and a bound on
/// memory (one value per resample and statistic).
pub const MAX_RESAMPLES: usize = 100_000;

/// Fewest resamples that give a percentile interval worth printing.
pub const MIN_RESAMPLES: usize = 100;

/// Percentile-bootstrap estimates of several statistics of `items` items at once.
///
/// `point` holds each statistic on the items as they are. Each resample draws `items` items with
/// replacement; `statistics(weights, out)` gets how often each item was drawn and writes every
/// statistic of that resample into `out`. Without resamples (`resamples == 0`) the estimates are
/// points.
pub fn bootstrap(
    items: usize,
    point: &[f64],
    resamples: usize,
    confidence: f64,
    seed: u64,
    mut statistics: impl FnMut(&[f64], &mut [f64]),
) -> Vec<Estimate> {
    if resamples == 0 || items == 0 {
        return point.iter().map(|&mean| Estimate::point(mean)).collect();
    }
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let mut weights = vec![0f64; items];
    let mut values = vec![0f64; point.len()];
    let mut draws: Vec<Vec<f64>> = vec![Vec::with_capacity(resamples); point.len()];
    for _ in 0..resamples {
        weights.iter_mut().for_each(|w| *w = 0.0);
        for _ in 0..items {
            weights[rng.gen_range(0..items)] += 1.0;
        }
        statistics(&weights, &mut values);
        for (draw, &value) in draws.iter_mut().zip(&values) {
            draw.push(value);
        }
    }
    let alpha = (1.0 - confidence) / 2.0;
    point
        .iter()
        .zip(draws)
        .map(|(&mean, mut values)| {
            values.sort_by(f64::total_cmp);
            Estimate {
                mean,
                lower: quantile(&values, alpha),
                upper: quantile(&values, 1.0 - alpha),
            }
        })
        .collect()
}

/// The mean of `values` weighted by how often each was drawn.
pub fn weighted_mean(values: &[f64], weights: &[f64]) -> f64 {
    values.iter().zip(weights).map(|(v, w)| v * w).sum::<f64>() / values.len() as f64
}

/// Linear-interpolated quantile of sorted values.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    let fraction = position - below as f64;
    sorted[below] * (1.0 - fraction) + sorted[above] * fraction
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_cover_the_mean_and_points_have_none() {
        let values: Vec<f64> = (0..50).map(|i| f64::from(i % 2)).collect();
        let mean = values.iter().sum::<f64>() / 50.0;
        let estimates = bootstrap(50, &[mean], 1000, 0.95, 1, |w, out| {
            out[0] = weighted_mean(&values, w);
        });
        let e = estimates[0];
        assert!(
            e.lower < e.mean && e.mean < e.upper && e.has_interval(),
            "{e:?}"
        );
        assert!(!bootstrap(50, &[mean], 0, 0.95, 1, |_, _| {})[0].has_interval());
    }
}
