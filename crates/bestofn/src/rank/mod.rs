//! The `rank` stage: pick one answer per problem from its samples.
//!
//! Ties are broken deterministically, always towards the earlier sample (lower `sample_idx`):
//! - `first`: the sample with the lowest `sample_idx`, whatever it answered;
//! - `majority`: most votes; samples without an extracted answer do not vote; among answers with
//!   equal votes, the one whose earliest sample comes first;
//! - `verifier`: the highest-scored sample that states an answer; equal scores, lower `sample_idx`;
//! - `weighted`: the answer with the largest sum of scores; equal mass as for `majority`;
//! - `topk-vote`: majority among the `k` highest-scored samples with an answer; equal votes go to
//!   the answer whose best sample ranks higher;
//! - `confidence-vote` (DeepConf's offline vote): the `--keep-top` η% highest-scored samples (at
//!   least one, rounded up) vote with their scores as weights; equal mass goes to the answer whose
//!   best sample ranks higher;
//! - `borda` (self-certainty's vote): the samples ranked by score, rank r of N gives its answer
//!   (N − r + 1)^p (`--borda-power` p); equal points as for `confidence-vote`.
//!
//! Samples scored step by step (a process reward model) are ranked by an [`Aggregate`] of their
//! step scores when one is asked for.

mod aggregate;
pub mod args;

pub use aggregate::{aggregate_steps, Aggregate};

use std::fmt;
use std::str::FromStr;

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::pool::{ProblemPool, NO_ANSWER};
use crate::records::Answer;

/// A ranking strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    First,
    Majority,
    Verifier,
    Weighted,
    TopkVote {
        k: usize,
    },
    /// Keep the `keep_top` percent best-scored samples; they vote with their scores.
    ConfidenceVote {
        keep_top: u32,
    },
    /// Rank r of N votes (N − r + 1)^p, p = `power_milli` / 1000.
    Borda {
        power_milli: u32,
    },
    /// DeepConf online's vote: the samples whose score reaches the (100 − `keep_top`)-th
    /// percentile of the first `warmup` samples' scores vote with their scores.
    OnlineVote {
        keep_top: u32,
        warmup: u32,
    },
}

/// DeepConf's conservative filter (η = 90%); its aggressive one is 10%.
pub const DEFAULT_KEEP_TOP: u32 = 90;
/// DeepConf's N_init: the warm-up samples that set online-vote's threshold.
pub const DEFAULT_WARMUP: u32 = 16;
/// Plain Borda points (N − r + 1).
pub const DEFAULT_BORDA_POWER_MILLI: u32 = 1000;

impl Strategy {
    pub fn needs_scores(self) -> bool {
        !matches!(self, Strategy::First | Strategy::Majority)
    }

    /// Whether the strategy needs scores of at least 0: DeepConf's vote weighs by confidence.
    /// (`weighted` has always taken any score, a reward model's logits too.)
    pub fn weighs_by_score(self) -> bool {
        matches!(
            self,
            Strategy::ConfidenceVote { .. } | Strategy::OnlineVote { .. }
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Strategy::First => "first",
            Strategy::Majority => "majority",
            Strategy::Verifier => "verifier",
            Strategy::Weighted => "weighted",
            Strategy::TopkVote { .. } => "topk-vote",
            Strategy::ConfidenceVote { .. } => "confidence-vote",
            Strategy::Borda { .. } => "borda",
            Strategy::OnlineVote { .. } => "online-vote",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Strategy::TopkVote { k } => write!(f, "topk-vote@{k}"),
            Strategy::ConfidenceVote { keep_top } => write!(f, "confidence-vote@{keep_top}"),
            Strategy::OnlineVote { keep_top, warmup } => {
                write!(f, "online-vote@{keep_top}/{warmup}")
            }
            Strategy::Borda { power_milli } => {
                write!(f, "borda@{}", f64::from(*power_milli) / 1000.0)
            }
            other => f.write_str(other.name()),
        }
    }
}

impl FromStr for Strategy {
    type Err = String;
    /// `first`, `majority`, `verifier`, `weighted`, `topk-vote` (k = 5) or `topk-vote@K`,
    /// `confidence-vote` (η = 90) or `confidence-vote@η`, `borda` (p = 1) or `borda@P`,
    /// `online-vote` (η = 90, 16 warm-up samples) or `online-vote@η` or `online-vote@η/WARMUP`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || {
            format!(
                "unknown strategy {s:?} (expected first, majority, verifier, weighted, topk-vote[@K], \
                 confidence-vote[@PERCENT], borda[@POWER] or online-vote[@PERCENT[/WARMUP]])"
            )
        };
        let (name, parameter) = match s.split_once('@') {
            Some((name, parameter)) => (name, Some(parameter)),
            None => (s, None),
        };
        Ok(match (name, parameter) {
            ("first", None) => Strategy::First,
            ("majority", None) => Strategy::Majority,
            ("verifier", None) => Strategy::Verifier,
            ("weighted", None) => Strategy::Weighted,
            ("topk-vote", None) => Strategy::TopkVote { k: 5 },
            ("topk-vote", Some(k)) => match k.parse::<usize>() {
                Ok(k) if k > 0 => Strategy::TopkVote { k },
                _ => return Err(unknown()),
            },
            ("confidence-vote", None) => Strategy::ConfidenceVote {
                keep_top: DEFAULT_KEEP_TOP,
            },
            ("confidence-vote", Some(eta)) => Strategy::ConfidenceVote {
                keep_top: keep_top(eta)?,
            },
            ("borda", None) => Strategy::Borda {
                power_milli: DEFAULT_BORDA_POWER_MILLI,
            },
            ("borda", Some(power)) => Strategy::Borda {
                power_milli: borda_power(power)?,
            },
            ("online-vote", None) => Strategy::OnlineVote {
                keep_top: DEFAULT_KEEP_TOP,
                warmup: DEFAULT_WARMUP,
            },
            ("online-vote", Some(parameters)) => {
                let (eta, warmup) = parameters
                    .split_once('/')
                    .map_or((parameters, None), |(eta, w)| (eta, Some(w)));
                Strategy::OnlineVote {
                    keep_top: keep_top(eta)?,
                    warmup: warmup.map_or(Ok(DEFAULT_WARMUP), warmup_samples)?,
                }
            }
            _ => return Err(unknown()),
        })
    }
}

/// η of `confidence-vote`: a whole percent in 1..=100.
pub fn keep_top(text: &str) -> Result<u32, String> {
    match text.trim_end_matches('%').parse::<u32>() {
        Ok(eta) if (1..=100).contains(&eta) => Ok(eta),
        _ => Err(format!(
            "keep-top {text:?} must be a whole percent from 1 to 100"
        )),
    }
}

/// The warm-up of `online-vote`: a whole number of samples, at least 1.
pub fn warmup_samples(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(warmup) if warmup > 0 => Ok(warmup),
        _ => Err(format!(
            "warm-up {text:?} must be a whole number of samples, at least 1"
        )),
    }
}

/// p of `borda`, in thousandths: a number in (0, 100].
pub fn borda_power(text: &str) -> Result<u32, String> {
    match text.parse::<f64>() {
        Ok(p) if p > 0.0 && p <= 100.0 => Ok((p * 1000.0).round().max(1.0) as u32),
        _ => Err(format!("borda power {text:?} must be a number in (0, 100]")),
    }
}

/// What a strategy chose: the position of the representative sample, if any answer was chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Choice {
    pub position: usize,
    /// Votes (or summed score) behind the chosen answer, and the total over all answers.
    pub support: f64,
    pub total: f64,
}

/// The strategies as given, with `k` applied to top-k votes; a strategy named twice is refused
/// (it would write two identical answers per problem).
pub fn resolve_strategies(strategies: &[Strategy], k: Option<usize>) -> Result<Vec<Strategy>> {
    let has_topk = strategies
        .iter()
        .any(|s| matches!(s, Strategy::TopkVote { .. }));
    let resolved: Vec<Strategy> = match k {
        Some(0) => return Err(Error::Settings("--k must be at least 1".into())),
        Some(_) if !has_topk => {
            return Err(Error::Settings("--k only applies to topk-vote".into()))
        }
        k => strategies
            .iter()
            .map(|&s| match (s, k) {
                (Strategy::TopkVote { .. }, Some(k)) => Strategy::TopkVote { k },
                (s, _) => s,
            })
            .collect(),
    };
    for (i, strategy) in resolved.iter().enumerate() {
        if resolved[..i].contains(strategy) {
            return Err(Error::Settings(format!(
                "strategy {strategy} is named twice; name each strategy once"
            )));
        }
    }
    Ok(resolved)
}

/// One line per strategy: how many answers, and their accuracy where labeled.
pub fn summary_line(strategy: Strategy, answers: &[Answer]) -> String {
    let graded: Vec<bool> = answers.iter().filter_map(|a| a.correct).collect();
    if graded.is_empty() {
        return format!("{strategy}: {} answers", answers.len());
    }
    let right = graded.iter().filter(|&&c| c).count();
    format!(
        "{strategy}: {} answers, accuracy {:.2}% ({right} of {})",
        answers.len(),
        100.0 * right as f64 / graded.len() as f64,
        graded.len()
    )
}

/// Reusable per-answer counters, so that repeated selections allocate nothing.
#[derive(Debug, Default)]
pub struct Tally {
    weight: Vec<f64>,
    earliest: Vec<u32>,
    best_rank: Vec<u32>,
    touched: Vec<u32>,
}

impl Tally {
    fn reset(&mut self, answers: usize) {
        for &a in &self.touched {
            self.weight[a as usize] = 0.0;
            self.earliest[a as usize] = u32::MAX;
            self.best_rank[a as usize] = u32::MAX;
        }
        self.touched.clear();
        if self.weight.len() < answers {
            self.weight.resize(answers, 0.0);
            self.earliest.resize(answers, u32::MAX);
            self.best_rank.resize(answers, u32::MAX);
        }
    }

    /// Adds a vote of `weight` for the answer of the sample at `position` (rank `rank` by score).
    fn add(&mut self, answer: u32, position: u32, rank: u32, weight: f64) {
        let a = answer as usize;
        if self.earliest[a] == u32::MAX {
            self.touched.push(answer);
        }
        self.weight[a] += weight;
        self.earliest[a] = self.earliest[a].min(position);
        self.best_rank[a] = self.best_rank[a].min(rank);
    }

    /// The heaviest answer; ties by earliest sample, or by best score rank when `by_rank`.
    fn winner(&self, by_rank: bool) -> Option<Choice> {
        let total: f64 = self.touched.iter().map(|&a| self.weight[a as usize]).sum();
        self.touched
            .iter()
            .map(|&a| a as usize)
            .max_by(|&a, &b| {
                let tie_a = if by_rank {
                    self.best_rank[a]
                } else {
                    self.earliest[a]
                };
                let tie_b = if by_rank {
                    self.best_rank[b]
                } else {
                    self.earliest[b]
                };
                self.weight[a]
                    .total_cmp(&self.weight[b])
                    .then(tie_b.cmp(&tie_a))
            })
            .map(|a| Choice {
                position: self.earliest[a] as usize,
                support: self.weight[a],
                total,
            })
    }
}

/// Applies `strategy` to the samples at `members` (positions into `pool`; any order).
pub fn choose(
    pool: &ProblemPool,
    members: &[u32],
    strategy: Strategy,
    tally: &mut Tally,
) -> Option<Choice> {
    match strategy {
        Strategy::First => members.iter().min().map(|&p| Choice {
            position: p as usize,
            support: 1.0,
            total: 1.0,
        }),
        Strategy::Majority | Strategy::Weighted => {
            tally.reset(pool.answer_texts.len());
            let scores = pool.scores.as_deref();
            for &p in members {
                let answer = pool.answer_ids[p as usize];
                if answer != NO_ANSWER {
                    let weight = match (strategy, scores) {
                        (Strategy::Weighted, Some(s)) => f64::from(s[p as usize]),
                        _ => 1.0,
                    };
                    tally.add(answer, p, 0, weight);
                }
            }
            tally.winner(false)
        }
        Strategy::Verifier => {
            let scores = pool.scores.as_deref()?;
            members
                .iter()
                .filter(|&&p| pool.answer_ids[p as usize] != NO_ANSWER)
                .min_by(|&&a, &&b| {
                    scores[b as usize]
                        .total_cmp(&scores[a as usize])
                        .then(a.cmp(&b))
                })
                .map(|&p| Choice {
                    position: p as usize,
                    support: f64::from(scores[p as usize]),
                    total: 1.0,
                })
        }
        Strategy::TopkVote { k } => {
            let scores = pool.scores.as_deref()?;
            let mut ranked: Vec<u32> = members
                .iter()
                .copied()
                .filter(|&p| pool.answer_ids[p as usize] != NO_ANSWER)
                .collect();
            ranked.sort_by(|&a, &b| {
                scores[b as usize]
                    .total_cmp(&scores[a as usize])
                    .then(a.cmp(&b))
            });
            ranked.truncate(k);
            tally.reset(pool.answer_texts.len());
            for (rank, &p) in ranked.iter().enumerate() {
                tally.add(pool.answer_ids[p as usize], p, rank as u32, 1.0);
            }
            ranked_winner(pool, &ranked, tally)
        }
        Strategy::ConfidenceVote { keep_top } => {
            let scores = pool.scores.as_deref()?;
            let mut ranked = by_score(members, scores);
            // η% of the traces, rounded up, at least one; those without an answer keep their
            // place but do not vote (DeepConf filters traces, then votes).
            let keep = (ranked.len() * keep_top as usize).div_ceil(100).max(1);
            ranked.truncate(keep);
            ranked.retain(|&p| pool.answer_ids[p as usize] != NO_ANSWER);
            score_weighted_vote(pool, &ranked, scores, tally)
        }
        Strategy::OnlineVote { keep_top, warmup } => {
            let scores = pool.scores.as_deref()?;
            let threshold = online_threshold(pool, members, scores, keep_top, warmup);
            let mut ranked = by_score(members, scores);
            ranked.retain(|&p| {
                pool.answer_ids[p as usize] != NO_ANSWER
                    && f64::from(scores[p as usize]) >= threshold
            });
            score_weighted_vote(pool, &ranked, scores, tally)
        }
        Strategy::Borda { power_milli } => {
            borda(pool, members, pool.scores.as_deref()?, power_milli, tally)
        }
    }
}

/// A vote over `ranked` (best first, every one with an answer), each weighed by its score.
fn score_weighted_vote(
    pool: &ProblemPool,
    ranked: &[u32],
    scores: &[f32],
    tally: &mut Tally,
) -> Option<Choice> {
    tally.reset(pool.answer_texts.len());
    for (rank, &p) in ranked.iter().enumerate() {
        let weight = f64::from(scores[p as usize]);
        tally.add(pool.answer_ids[p as usize], p, rank as u32, weight);
    }
    ranked_winner(pool, ranked, tally)
}

/// Borda count: the sample ranked r of n by score gives its answer (n − r)^power points.
fn borda(
    pool: &ProblemPool,
    members: &[u32],
    scores: &[f32],
    power_milli: u32,
    tally: &mut Tally,
) -> Option<Choice> {
    let ranked = by_score(members, scores);
    let n = ranked.len();
    let power = f64::from(power_milli) / 1000.0;
    tally.reset(pool.answer_texts.len());
    for (rank, &p) in ranked.iter().enumerate() {
        let answer = pool.answer_ids[p as usize];
        if answer != NO_ANSWER {
            let points = ((n - rank) as f64).powf(power);
            tally.add(answer, p, rank as u32, points);
        }
    }
    let answered: Vec<u32> = ranked
        .into_iter()
        .filter(|&p| pool.answer_ids[p as usize] != NO_ANSWER)
        .collect();
    ranked_winner(pool, &answered, tally)
}

/// DeepConf online's threshold: the (100 − η)-th percentile of the scores of the members among
/// the problem's first `warmup` samples (of every member when none is).
fn online_threshold(
    pool: &ProblemPool,
    members: &[u32],
    scores: &[f32],
    keep_top: u32,
    warmup: u32,
) -> f64 {
    let score = |&p: &u32| f64::from(scores[p as usize]);
    let warm: Vec<f64> = members
        .iter()
        .filter(|&&p| pool.sample_idx[p as usize] < warmup)
        .map(score)
        .collect();
    let basis = if warm.is_empty() {
        members.iter().map(score).collect()
    } else {
        warm
    };
    if basis.is_empty() {
        return f64::INFINITY;
    }
    crate::generate::percentile(&basis, 100.0 - f64::from(keep_top))
}

/// `members` best score first, equal scores by lower position.
fn by_score(members: &[u32], scores: &[f32]) -> Vec<u32> {
    let mut ranked = members.to_vec();
    ranked.sort_by(|&a, &b| {
        scores[b as usize]
            .total_cmp(&scores[a as usize])
            .then(a.cmp(&b))
    });
    ranked
}

/// The tally's winner (ties by best rank), represented by its best-ranked sample in `ranked`.
fn ranked_winner(pool: &ProblemPool, ranked: &[u32], tally: &Tally) -> Option<Choice> {
    tally.winner(true).map(|c| Choice {
        position: ranked
            .iter()
            .map(|&p| p as usize)
            .find(|&p| pool.answer_ids[p] == pool.answer_ids[c.position])
            .unwrap_or(c.position),
        ..c
    })
}

/// Ranks every problem's full pool of samples.
/// Refuses inputs that would give answers without meaning: samples never labeled (every answer
/// would be null), and a `--k` larger than any problem's number of samples (a top-k vote that
/// is no longer one).
pub fn check_pools(pools: &[ProblemPool], k: Option<usize>) -> Result<()> {
    let labeled = pools.iter().any(|p| {
        p.answer_ids.iter().any(|&a| a != NO_ANSWER) || p.correct.iter().any(Option::is_some)
    });
    if !labeled {
        return Err(Error::Inconsistent(
            "no sample has an extracted answer: these samples were never labeled; run `bestofn \
             label` on them first (against problems with or without gold answers)"
                .into(),
        ));
    }
    let largest = pools.iter().map(ProblemPool::len).max().unwrap_or(0);
    match k {
        Some(k) if k > largest => Err(Error::Settings(format!(
            "--k {k} is more than the samples of any problem (at most {largest})"
        ))),
        _ => Ok(()),
    }
}

pub fn rank(pools: &[ProblemPool], strategy: Strategy) -> Result<Vec<Answer>> {
    let _span = tracing::info_span!("rank", %strategy, problems = pools.len()).entered();
    if strategy.needs_scores() {
        if let Some(pool) = pools.iter().find(|p| p.scores.is_none()) {
            return Err(Error::Inconsistent(format!(
                "strategy {strategy} needs a score on every sample, but problem {:?} has samples without one; run `bestofn score` first",
                pool.problem_id
            )));
        }
    }
    check_weights(pools, strategy)?;
    let mut tally = Tally::default();
    Ok(pools
        .iter()
        .map(|pool| {
            let members: Vec<u32> = (0..pool.len() as u32).collect();
            let choice = choose(pool, &members, strategy, &mut tally);
            answer_record(pool, strategy, choice)
        })
        .collect())
}

/// A strategy that weighs votes by score needs scores of at least 0 (a mean log-probability is
/// below 0: rank it by `verifier` or `borda`).
pub fn check_weights(pools: &[ProblemPool], strategy: Strategy) -> Result<()> {
    if !strategy.weighs_by_score() {
        return Ok(());
    }
    let negative = pools.iter().find_map(|pool| {
        let scores = pool.scores.as_deref()?;
        let p = scores.iter().position(|&s| s < 0.0)?;
        Some((pool, p))
    });
    match negative {
        Some((pool, p)) => Err(Error::Inconsistent(format!(
            "strategy {strategy} weighs votes by score, but sample {} of problem {:?} scores {} \
             (below 0: votes would count against their answer); rank these scores with \
             verifier or borda",
            pool.sample_idx[p],
            pool.problem_id,
            pool.scores.as_deref().map_or(0.0, |s| s[p])
        ))),
        None => Ok(()),
    }
}

fn answer_record(pool: &ProblemPool, strategy: Strategy, choice: Option<Choice>) -> Answer {
    let Some(choice) = choice else {
        return Answer {
            problem_id: pool.problem_id.clone(),
            answer: None,
            strategy: strategy.to_string(),
            support: json!({ "samples": pool.len(), "reason": "no sample states a final answer" }),
            correct: pool.correct.first().and_then(|c| c.map(|_| false)),
        };
    };
    let p = choice.position;
    let answer_id = pool.answer_ids[p];
    let sample_idx = pool.sample_idx[p];
    let score = pool.scores.as_ref().map(|s| short_float(f64::from(s[p])));
    let support = match strategy {
        Strategy::First => json!({ "sample_idx": sample_idx }),
        Strategy::Verifier => json!({ "sample_idx": sample_idx, "score": score }),
        Strategy::Majority => json!({
            "votes": choice.support as u64,
            "total_votes": choice.total as u64,
            "distinct_answers": pool.answer_texts.len(),
            "sample_idx": sample_idx,
        }),
        Strategy::Weighted => json!({
            "mass": short_float(choice.support),
            "total_mass": short_float(choice.total),
            "sample_idx": sample_idx,
            "score": score,
        }),
        Strategy::TopkVote { k } => json!({
            "k": k,
            "votes": choice.support as u64,
            "sample_idx": sample_idx,
            "score": score,
        }),
        Strategy::ConfidenceVote { keep_top } => json!({
            "keep_top_percent": keep_top,
            "mass": short_float(choice.support),
            "total_mass": short_float(choice.total),
            "sample_idx": sample_idx,
            "score": score,
        }),
        Strategy::OnlineVote { keep_top, warmup } => json!({
            "keep_top_percent": keep_top,
            "warmup": warmup,
            "mass": short_float(choice.support),
            "total_mass": short_float(choice.total),
            "sample_idx": sample_idx,
            "score": score,
        }),
        Strategy::Borda { power_milli } => json!({
            "power": f64::from(power_milli) / 1000.0,
            "points": short_float(choice.support),
            "total_points": short_float(choice.total),
            "sample_idx": sample_idx,
            "score": score,
        }),
    };
    Answer {
        problem_id: pool.problem_id.clone(),
        answer: (answer_id != NO_ANSWER).then(|| pool.answer_texts[answer_id as usize].clone()),
        strategy: strategy.to_string(),
        support,
        correct: pool.correct[p],
    }
}

/// A score as JSON rounded to 6 decimals: scores are `f32`, so more digits are noise
/// (0.9, not 0.8999999761581421).
fn short_float(x: f64) -> Value {
    serde_json::Number::from_f64((x * 1e6).round() / 1e6).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::build_pools;
    use crate::records::SampleVerdict;

    fn pools(answers: &[(Option<&str>, Option<f32>)]) -> Vec<ProblemPool> {
        let samples: Vec<SampleVerdict> = answers
            .iter()
            .enumerate()
            .map(|(i, (answer, score))| SampleVerdict {
                problem_id: "p".into(),
                sample_idx: i as u32,
                extracted: answer.map(str::to_owned),
                correct: None,
                score: *score,
                step_scores: None,
                uncalibrated_score: None,
                score_kind: None,
                cost: Default::default(),
                stopped_early: false,
            })
            .collect();
        build_pools(&samples)
    }

    #[test]
    fn strategies_resolve_once_each_with_k() {
        let topk = Strategy::TopkVote { k: 5 };
        assert_eq!(
            resolve_strategies(&[Strategy::Majority, topk], Some(3)).unwrap(),
            vec![Strategy::Majority, Strategy::TopkVote { k: 3 }]
        );
        for (strategies, k, message) in [
            (
                vec![Strategy::Majority, Strategy::Majority],
                None,
                "named twice",
            ),
            (
                vec![Strategy::Majority],
                Some(2),
                "only applies to topk-vote",
            ),
            (vec![topk], Some(0), "at least 1"),
        ] {
            let error = resolve_strategies(&strategies, k).unwrap_err();
            assert!(error.to_string().contains(message), "{error}");
        }
    }

    #[test]
    fn unlabeled_pools_and_a_k_beyond_n_are_refused() {
        let unlabeled = pools(&[(None, None), (None, None)]);
        assert!(check_pools(&unlabeled, None)
            .unwrap_err()
            .to_string()
            .contains("never labeled"));
        let labeled = pools(&[(Some("1"), None), (None, None)]);
        check_pools(&labeled, Some(2)).unwrap();
        assert_eq!(check_pools(&labeled, Some(3)).unwrap_err().exit_code(), 64);
    }

    #[test]
    fn ties_go_to_the_earlier_sample() {
        let pool = &pools(&[
            (Some("7"), Some(0.5)),
            (Some("3"), Some(0.9)),
            (Some("3"), Some(0.1)),
            (Some("7"), Some(0.5)),
        ])[0];
        let everyone = [0, 1, 2, 3];
        let mut tally = Tally::default();
        let pick = |strategy, tally: &mut Tally| {
            let choice = choose(pool, &everyone, strategy, tally).unwrap();
            pool.answer_texts[pool.answer_ids[choice.position] as usize].clone()
        };
        // Two votes each: "7" was answered first. Mass 1.0 each: "7" again.
        assert_eq!(pick(Strategy::Majority, &mut tally), "7");
        assert_eq!(pick(Strategy::Weighted, &mut tally), "7");
        assert_eq!(pick(Strategy::Verifier, &mut tally), "3");
        assert_eq!(pick(Strategy::First, &mut tally), "7");
    }

    #[test]
    fn confidence_votes_keep_the_most_confident_and_weigh_by_score() {
        // "3" has more votes, "7" the most confident samples.
        let pool = &pools(&[
            (Some("3"), Some(1.0)),
            (Some("7"), Some(9.0)),
            (Some("3"), Some(2.0)),
            (None, Some(8.5)),
            (Some("7"), Some(8.0)),
            (Some("3"), Some(1.5)),
        ])[0];
        let everyone = [0, 1, 2, 3, 4, 5];
        let mut tally = Tally::default();
        let mut pick = |strategy| {
            let choice = choose(pool, &everyone, strategy, &mut tally).unwrap();
            let answer = pool.answer_texts[pool.answer_ids[choice.position] as usize].clone();
            (answer, choice.position, choice.support)
        };
        assert_eq!(pick(Strategy::Majority).0, "3");
        // η = 50%: the three best (9.0, 8.5 without an answer, 8.0) keep "7" alone.
        assert_eq!(
            pick(Strategy::ConfidenceVote { keep_top: 50 }),
            ("7".into(), 1, 17.0)
        );
        // η = 100%: every sample votes with its score: 17 for "7" against 4.5 for "3".
        assert_eq!(pick(Strategy::ConfidenceVote { keep_top: 100 }).0, "7");
        // Borda, N = 6: ranks 1..6 are samples 1, 3, 4, 2, 5, 0 → "7": 6 + 4 = 10, "3": 3 + 2 + 1 = 6.
        assert_eq!(
            pick(Strategy::Borda { power_milli: 1000 }),
            ("7".into(), 1, 10.0)
        );
        // p = 0.5 shrinks the lead: "7" √6 + √4 = 4.45, "3" √3 + √2 + 1 = 4.15.
        assert_eq!(pick(Strategy::Borda { power_milli: 500 }).0, "7");
    }

    #[test]
    fn the_online_vote_takes_its_threshold_from_the_warm_up() {
        let pool = &pools(&[
            (Some("3"), Some(1.0)),
            (Some("7"), Some(4.0)),
            (Some("3"), Some(2.0)),
            (Some("7"), Some(3.0)),
            (Some("3"), Some(2.6)),
            (Some("3"), Some(2.4)),
        ])[0];
        let everyone = [0, 1, 2, 3, 4, 5];
        let mut tally = Tally::default();
        let mut pick = |keep_top, warmup| {
            let strategy = Strategy::OnlineVote { keep_top, warmup };
            let choice = choose(pool, &everyone, strategy, &mut tally).unwrap();
            let answer = pool.answer_texts[pool.answer_ids[choice.position] as usize].clone();
            (answer, choice.support)
        };
        // Warm-up 1.0, 4.0, 2.0, 3.0; η = 50 → s = 2.5: 7 (4 + 3) against 3 (2.6).
        assert_eq!(pick(50, 4), ("7".into(), 7.0));
        // η = 100 → s = 1.0, the warm-up's lowest: everyone votes, 3 has 8.0.
        assert_eq!(pick(100, 4), ("3".into(), 8.0));
        assert_eq!(
            "online-vote@10/8".parse(),
            Ok(Strategy::OnlineVote {
                keep_top: 10,
                warmup: 8
            })
        );
        assert_eq!(
            "online-vote".parse::<Strategy>().unwrap().to_string(),
            "online-vote@90/16"
        );
        assert!("online-vote@10/0".parse::<Strategy>().is_err());
    }

    #[test]
    fn confidence_strategies_parse_with_their_parameters_and_refuse_negative_weights() {
        assert_eq!(
            "confidence-vote".parse(),
            Ok(Strategy::ConfidenceVote { keep_top: 90 })
        );
        assert_eq!(
            "confidence-vote@10".parse(),
            Ok(Strategy::ConfidenceVote { keep_top: 10 })
        );
        assert_eq!(
            "borda@0.5".parse(),
            Ok(Strategy::Borda { power_milli: 500 })
        );
        assert_eq!(
            Strategy::Borda { power_milli: 500 }.to_string(),
            "borda@0.5"
        );
        for bad in [
            "confidence-vote@0",
            "confidence-vote@101",
            "borda@-1",
            "borda@x",
            "majority@3",
        ] {
            assert!(bad.parse::<Strategy>().is_err(), "{bad}");
        }
        let negative = pools(&[(Some("1"), Some(-0.5)), (Some("2"), Some(-0.2))]);
        let error = rank(&negative, Strategy::ConfidenceVote { keep_top: 90 }).unwrap_err();
        assert!(error.to_string().contains("verifier or borda"), "{error}");
        assert!(rank(&negative, Strategy::Borda { power_milli: 1000 }).is_ok());
    }
}
