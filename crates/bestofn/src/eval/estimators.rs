//! Per-problem accuracy of each strategy at a sample budget k, from one pool of n samples.

use rand::{RngCore, SeedableRng};
use rand_pcg::Pcg64Mcg;

use crate::pool::{ProblemPool, NO_ANSWER};
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

/// A uniform integer in `0..bound` by multiply-shift (Lemire), without the division that
/// `gen_range` spends per call; the bias is below bound / 2^32, nothing next to Monte-Carlo noise.
fn below(rng: &mut Pcg64Mcg, bound: usize) -> usize {
    ((u64::from(rng.next_u32()) * bound as u64) >> 32) as usize
}

/// Accuracy of any `strategy` at every k of `ks`: at k = 1 the share of correct samples (one
/// sample, its own answer), the whole pool at k ≥ n (the answer `rank` gives), else the mean over
/// `trials` uniform random k-subsets.
pub fn strategy_at_ks(
    pool: &ProblemPool,
    ks: &[usize],
    trials: usize,
    seed: u64,
    strategy: Strategy,
) -> Vec<f64> {
    let n = pool.len();
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let mut tally = Tally::default();
    let mut permutation: Vec<u32> = (0..n as u32).collect();
    let hit = |members: &[u32], tally: &mut Tally| match choose(pool, members, strategy, tally) {
        Some(choice) if pool.correct[choice.position] == Some(true) => 1.0,
        _ => 0.0,
    };
    ks.iter()
        .map(|&k| {
            if k >= n {
                return hit(&permutation, &mut tally);
            }
            if k <= 1 {
                return pool.num_correct() as f64 / n as f64;
            }
            let mut total = 0.0;
            for _ in 0..trials {
                for i in 0..k {
                    let j = i + below(&mut rng, n - i);
                    permutation.swap(i, j);
                }
                total += hit(&permutation[..k], &mut tally);
            }
            permutation.sort_unstable();
            total / trials as f64
        })
        .collect()
}

/// Per-answer running totals while samples join a random subset one at a time.
#[derive(Debug, Default)]
pub struct VoteScratch {
    votes: Vec<u32>,
    mass: Vec<f64>,
    /// Step of the trial at which each answer was first drawn (ties go to the earlier one).
    earliest: Vec<u32>,
    /// The first sample drawn with each answer: whose label tells whether the answer is right.
    representative: Vec<u32>,
    touched: Vec<u32>,
    permutation: Vec<u32>,
}

impl VoteScratch {
    fn reset(&mut self, answers: usize) {
        for &a in &self.touched {
            self.votes[a as usize] = 0;
            self.mass[a as usize] = 0.0;
            self.earliest[a as usize] = u32::MAX;
        }
        self.touched.clear();
        if self.votes.len() < answers {
            self.votes.resize(answers, 0);
            self.mass.resize(answers, 0.0);
            self.earliest.resize(answers, u32::MAX);
            self.representative.resize(answers, u32::MAX);
        }
    }
}

/// Whether answer `a` has more score mass than `b`, equal mass going to the one drawn first.
fn mass_beats(mass: &[f64], earliest: &[u32], a: u32, b: u32) -> bool {
    let (a, b) = (a as usize, b as usize);
    mass[a]
        .total_cmp(&mass[b])
        .then(earliest[b].cmp(&earliest[a]))
        .is_gt()
}

/// Accuracy of `majority` and (with scores) `weighted` at every k of `ks`, averaged over random
/// k-subsets.
///
/// Inside a random subset, a tie goes to a uniformly random one of the tied answers (the one
/// drawn first in the trial's permutation), so the order of samples in the file cannot leak into
/// the estimate. k = 1 and k = n are exact; at k = n there is one subset, the whole pool, and
/// its answer is the one `rank` gives by its documented rule (ties to the lower `sample_idx`),
/// so `eval` at N agrees with `rank`. Other k are estimated by `sampled_trials`.
pub fn voting_at_ks(
    pool: &ProblemPool,
    ks: &[usize],
    trials: usize,
    seed: u64,
    scratch: &mut VoteScratch,
) -> (Vec<f64>, Option<Vec<f64>>) {
    let n = pool.len();
    let scores = pool.scores.as_deref();
    let mut majority = vec![0.0; ks.len()];
    let mut weighted = scores.map(|_| vec![0.0; ks.len()]);
    let single = pool.num_correct() as f64 / n as f64;
    let mut tally = Tally::default();
    let mut sampled: Vec<(usize, usize)> = Vec::new();
    for (i, &k) in ks.iter().enumerate() {
        if k <= 1 {
            majority[i] = single;
            weighted.iter_mut().for_each(|w| w[i] = single);
        } else if k >= n {
            // One subset, the whole pool: the answer `rank` gives, by its documented rule.
            let everyone: Vec<u32> = (0..n as u32).collect();
            let hit = |strategy, tally: &mut Tally| match choose(pool, &everyone, strategy, tally) {
                Some(choice) if pool.correct[choice.position] == Some(true) => 1.0,
                _ => 0.0,
            };
            majority[i] = hit(Strategy::Majority, &mut tally);
            if let Some(w) = weighted.as_mut() {
                w[i] = hit(Strategy::Weighted, &mut tally);
            }
        } else {
            sampled.push((k, i));
        }
    }
    if !sampled.is_empty() {
        sampled.sort_unstable();
        sampled_trials(
            pool,
            &sampled,
            trials,
            seed,
            scratch,
            (&mut majority, weighted.as_mut()),
        );
    }
    (majority, weighted)
}

/// Adds the Monte-Carlo estimates at the budgets `sampled` ((k, slot) sorted by k) into the
/// slots of `majority` and `weighted`. Each trial draws one random permutation, whose first k
/// samples are a uniform random k-subset for every k at once; samples join one at a time and
/// the leading answer is kept up to date (a vote can only improve the answer it goes to).
fn sampled_trials(
    pool: &ProblemPool,
    sampled: &[(usize, usize)],
    trials: usize,
    seed: u64,
    scratch: &mut VoteScratch,
    (majority, mut weighted): (&mut [f64], Option<&mut Vec<f64>>),
) {
    let n = pool.len();
    let scores = pool.scores.as_deref();
    let max_k = sampled.last().map_or(0, |&(k, _)| k);
    // Negative scores can lower an answer's mass, so its lead must be recomputed by a scan.
    let monotone_mass = scores.is_none_or(|s| s.iter().all(|&x| x >= 0.0));
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    scratch.reset(pool.answer_texts.len());
    scratch.permutation.clear();
    scratch.permutation.extend(0..n as u32);
    // Separate borrows, so the hot loop keeps each array in registers.
    let VoteScratch {
        votes,
        mass,
        earliest,
        representative,
        touched,
        permutation,
    } = scratch;
    let answer = &pool.answer_ids[..];
    for _ in 0..trials {
        for &a in touched.iter() {
            votes[a as usize] = 0;
            mass[a as usize] = 0.0;
            earliest[a as usize] = u32::MAX;
        }
        touched.clear();
        let (mut by_votes, mut by_mass) = (None::<u32>, None::<u32>);
        let mut next = 0;
        for i in 0..max_k {
            let j = i + below(&mut rng, n - i);
            permutation.swap(i, j);
            let p = permutation[i];
            let a = answer[p as usize];
            if a != NO_ANSWER {
                let slot = a as usize;
                if earliest[slot] == u32::MAX {
                    touched.push(a);
                    earliest[slot] = i as u32;
                    representative[slot] = p;
                }
                votes[slot] += 1;
                let votes_beat = |l: u32| {
                    let l = l as usize;
                    (votes[slot], earliest[l]) > (votes[l], earliest[slot])
                };
                by_votes = match by_votes {
                    Some(l) if l != a && !votes_beat(l) => Some(l),
                    _ => Some(a),
                };
                if let Some(s) = scores {
                    mass[slot] += f64::from(s[p as usize]);
                    by_mass = if monotone_mass {
                        match by_mass {
                            Some(l) if l != a && !mass_beats(mass, earliest, a, l) => Some(l),
                            _ => Some(a),
                        }
                    } else {
                        touched.iter().copied().reduce(|best, x| {
                            if mass_beats(mass, earliest, x, best) {
                                x
                            } else {
                                best
                            }
                        })
                    };
                }
            }
            while next < sampled.len() && sampled[next].0 == i + 1 {
                let slot = sampled[next].1;
                let hit = |leader: Option<u32>| match leader {
                    Some(l) if pool.correct[representative[l as usize] as usize] == Some(true) => {
                        1.0
                    }
                    _ => 0.0,
                };
                majority[slot] += hit(by_votes);
                if let Some(w) = weighted.as_mut() {
                    w[slot] += hit(by_mass);
                }
                next += 1;
            }
        }
    }
    for &(_, slot) in sampled {
        majority[slot] /= trials as f64;
        if let Some(w) = weighted.as_mut() {
            w[slot] /= trials as f64;
        }
    }
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
                step_scores: None,
                uncalibrated_score: None,
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

    /// Exact accuracy on one subset when a tie goes to a uniformly random leader.
    fn random_tie_accuracy(p: &ProblemPool, subset: &[u32], weighted: bool) -> f64 {
        let mut totals: std::collections::HashMap<u32, (f64, bool)> = Default::default();
        for &position in subset {
            let a = p.answer_ids[position as usize];
            if a != NO_ANSWER {
                let weight = if weighted {
                    f64::from(p.scores.as_ref().unwrap()[position as usize])
                } else {
                    1.0
                };
                let entry = totals.entry(a).or_insert((0.0, false));
                entry.0 += weight;
                entry.1 = p.correct[position as usize] == Some(true);
            }
        }
        let Some(best) = totals.values().map(|t| t.0).max_by(f64::total_cmp) else {
            return 0.0;
        };
        let leaders: Vec<bool> = totals
            .values()
            .filter(|t| t.0 == best)
            .map(|t| t.1)
            .collect();
        leaders.iter().filter(|&&r| r).count() as f64 / leaders.len() as f64
    }

    #[test]
    fn any_strategy_at_k_converges_to_its_mean_over_every_subset() {
        let p = pool(&[
            (Some("1"), false, 9.0),
            (Some("2"), true, 3.0),
            (Some("1"), false, 1.0),
            (Some("2"), true, 6.0),
            (Some("3"), false, 2.0),
            (Some("2"), true, 5.0),
            (None, false, 8.0),
        ]);
        let ks: Vec<usize> = (1..=7).collect();
        for strategy in [
            Strategy::ConfidenceVote { keep_top: 50 },
            Strategy::Borda { power_milli: 1000 },
        ] {
            let estimates = strategy_at_ks(&p, &ks, 20_000, 3, strategy);
            for k in 1..=7 {
                let subsets = enumerate_subsets(7, k);
                let exact = subsets
                    .iter()
                    .map(|s| match choose(&p, s, strategy, &mut Tally::default()) {
                        Some(c) if p.correct[c.position] == Some(true) => 1.0,
                        _ => 0.0,
                    })
                    .sum::<f64>()
                    / subsets.len() as f64;
                assert!(
                    (estimates[k - 1] - exact).abs() < 0.015,
                    "{strategy} k={k}: {} vs {exact}",
                    estimates[k - 1]
                );
            }
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
        let ks: Vec<usize> = (1..=7).collect();
        let (majority, weighted) = voting_at_ks(&p, &ks, 20_000, 7, &mut VoteScratch::default());
        let weighted = weighted.unwrap();
        for k in 1..=7 {
            let subsets = enumerate_subsets(7, k);
            for (estimate, by_score) in [(majority[k - 1], false), (weighted[k - 1], true)] {
                let exact = if k == 7 {
                    let strategy = if by_score {
                        Strategy::Weighted
                    } else {
                        Strategy::Majority
                    };
                    let everyone: Vec<u32> = (0..7).collect();
                    let choice = choose(&p, &everyone, strategy, &mut Tally::default()).unwrap();
                    f64::from(u8::from(p.correct[choice.position] == Some(true)))
                } else {
                    subsets
                        .iter()
                        .map(|s| random_tie_accuracy(&p, s, by_score))
                        .sum::<f64>()
                        / subsets.len() as f64
                };
                assert!(
                    (estimate - exact).abs() < 0.015,
                    "k={k} weighted={by_score}: {estimate} vs {exact}"
                );
            }
        }
    }

    #[test]
    fn the_order_of_samples_does_not_leak_into_majority_at_k() {
        // Wrong answers first, then right ones: a tie-break towards low sample_idx would favour
        // the wrong answer at every tie.
        let items = [
            (Some("1"), false, 0.5),
            (Some("3"), false, 0.5),
            (Some("2"), true, 0.5),
            (Some("4"), true, 0.5),
        ];
        let reversed: Vec<_> = items.iter().rev().copied().collect();
        let ks = [2, 3];
        let (forward, _) = voting_at_ks(&pool(&items), &ks, 40_000, 1, &mut VoteScratch::default());
        let (backward, _) = voting_at_ks(
            &pool(&reversed),
            &ks,
            40_000,
            1,
            &mut VoteScratch::default(),
        );
        // Every 2- and 3-subset is a tie: half of the leaders are right on average.
        for (f, b) in forward.iter().zip(&backward) {
            assert!(
                (f - 0.5).abs() < 0.01 && (b - 0.5).abs() < 0.01,
                "{forward:?} {backward:?}"
            );
        }
    }
}
