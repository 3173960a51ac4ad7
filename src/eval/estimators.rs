//! Per-problem accuracy of each strategy at a sample budget k, from one pool of n samples.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

use crate::pool::ProblemPool;
use crate::rank::{choose, Strategy, Tally};

/// Unbiased pass@k (Chen et al. 2021): 1 - C(n-c, k) / C(n, k), as a stable product.
pub fn pass_at_k(n: usize, c: usize, k: usize) -> f64 {
    if k > n {
        return f64::NAN;
    }
    if n - c < k {
        return 1.0;
    }
    let mut all_wrong = 1.0;
    for i in 0..k {
        all_wrong *= (n - c - i) as f64 / (n - i) as f64;
    }
    1.0 - all_wrong
}

/// Exact expected accuracy of the verifier's top-1 pick over all k-subsets.
///
/// With samples ranked by score (those without an answer never picked), the sample of rank m is
/// chosen when it is in the subset and no better-ranked sample is: probability
/// C(n-1-m, k-1) / C(n, k). The weights follow the recurrence w_0 = k/n,
/// w_{m+1} = w_m (n-m-k) / (n-1-m).
pub fn verifier_at_k(pool: &ProblemPool, k: usize) -> f64 {
    let n = pool.len();
    if k > n || k == 0 {
        return f64::NAN;
    }
    let mut weight = k as f64 / n as f64;
    let mut expected = 0.0;
    for (m, &position) in pool.by_score.iter().enumerate() {
        if weight == 0.0 {
            break;
        }
        if pool.correct[position as usize] == Some(true) {
            expected += weight;
        }
        let remaining = n - 1 - m;
        weight = if remaining == 0 || n < m + k {
            0.0
        } else {
            weight * (n - m - k) as f64 / remaining as f64
        };
    }
    expected
}

/// Accuracy of vote-based strategies at k, averaged over random k-subsets.
///
/// k = 1 and k = n are computed exactly; otherwise `trials` subsets are drawn with a generator
/// seeded from `seed`, and every strategy is scored on the same subsets.
pub fn voting_at_k(
    pool: &ProblemPool,
    strategies: &[Strategy],
    k: usize,
    trials: usize,
    seed: u64,
    tally: &mut Tally,
    out: &mut [f64],
) {
    let n = pool.len();
    let hit = |members: &[u32], strategy: Strategy, tally: &mut Tally| -> f64 {
        match choose(pool, members, strategy, tally) {
            Some(choice) if pool.correct[choice.position] == Some(true) => 1.0,
            _ => 0.0,
        }
    };
    let mut members: Vec<u32> = (0..n as u32).collect();
    if k >= n {
        for (slot, &strategy) in out.iter_mut().zip(strategies) {
            *slot = hit(&members, strategy, tally);
        }
        return;
    }
    if k == 1 {
        // One sample decides alone: every vote-based strategy scores the share of correct samples.
        let single = pool.num_correct() as f64 / n as f64;
        out.iter_mut().for_each(|slot| *slot = single);
        return;
    }
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    out.iter_mut().for_each(|slot| *slot = 0.0);
    for _ in 0..trials {
        for i in 0..k {
            let j = rng.gen_range(i..n);
            members.swap(i, j);
        }
        for (slot, &strategy) in out.iter_mut().zip(strategies) {
            *slot += hit(&members[..k], strategy, tally);
        }
    }
    out.iter_mut().for_each(|slot| *slot /= trials as f64);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Sample;

    fn pool(items: &[(Option<&str>, bool, f32)]) -> ProblemPool {
        let samples: Vec<Sample> = items
            .iter()
            .enumerate()
            .map(|(i, (answer, correct, score))| Sample {
                problem_id: "p".into(),
                sample_idx: i as u32,
                text: String::new(),
                extracted: answer.map(str::to_owned),
                correct: Some(*correct),
                score: Some(*score),
                extra: Default::default(),
            })
            .collect();
        crate::pool::build_pools(&samples).remove(0)
    }

    /// Brute force over every k-subset.
    fn enumerate_subsets(n: usize, k: usize) -> Vec<Vec<u32>> {
        (0u32..1 << n)
            .filter(|mask| mask.count_ones() as usize == k)
            .map(|mask| (0..n as u32).filter(|i| mask & (1 << i) != 0).collect())
            .collect()
    }

    #[test]
    fn pass_at_k_matches_hand_values() {
        assert_eq!(pass_at_k(10, 0, 5), 0.0);
        assert_eq!(pass_at_k(10, 10, 1), 1.0);
        assert!((pass_at_k(10, 3, 1) - 0.3).abs() < 1e-12);
        // 1 - C(2,2)/C(4,2) = 1 - 1/6
        assert!((pass_at_k(4, 2, 2) - 5.0 / 6.0).abs() < 1e-12);
        assert_eq!(pass_at_k(4, 3, 2), 1.0);
    }

    #[test]
    fn verifier_at_k_equals_brute_force() {
        let p = pool(&[
            (Some("1"), false, 0.9),
            (Some("2"), true, 0.7),
            (None, false, 0.95),
            (Some("2"), true, 0.7),
            (Some("3"), false, 0.2),
            (Some("2"), true, 0.5),
        ]);
        let mut tally = Tally::default();
        for k in 1..=6 {
            let subsets = enumerate_subsets(6, k);
            let brute: f64 = subsets
                .iter()
                .map(|s| match choose(&p, s, Strategy::Verifier, &mut tally) {
                    Some(c) if p.correct[c.position] == Some(true) => 1.0,
                    _ => 0.0,
                })
                .sum::<f64>()
                / subsets.len() as f64;
            assert!((verifier_at_k(&p, k) - brute).abs() < 1e-12, "k={k}");
        }
    }

    #[test]
    fn monte_carlo_converges_to_brute_force() {
        let p = pool(&[
            (Some("1"), false, 0.9),
            (Some("2"), true, 0.3),
            (Some("1"), false, 0.1),
            (Some("2"), true, 0.6),
            (Some("3"), false, 0.2),
            (Some("2"), true, 0.5),
            (None, false, 0.5),
        ]);
        let strategies = [Strategy::Majority, Strategy::Weighted];
        let mut tally = Tally::default();
        for k in 2..=6 {
            let subsets = enumerate_subsets(7, k);
            let mut exact = [0.0; 2];
            for subset in &subsets {
                for (e, &s) in exact.iter_mut().zip(&strategies) {
                    if let Some(c) = choose(&p, subset, s, &mut tally) {
                        *e += f64::from(u8::from(p.correct[c.position] == Some(true)));
                    }
                }
            }
            let mut estimate = [0.0; 2];
            voting_at_k(&p, &strategies, k, 20_000, 7, &mut tally, &mut estimate);
            for i in 0..2 {
                let exact = exact[i] / subsets.len() as f64;
                assert!(
                    (estimate[i] - exact).abs() < 0.015,
                    "k={k} {:?}: {} vs {exact}",
                    strategies[i],
                    estimate[i]
                );
            }
        }
    }
}
