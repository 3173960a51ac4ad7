//! Sampling settings, each sample's seed, and the plan of a run: which samples of which problems
//! are still to be made, in jobs of the backend's size.

use super::backend::{Backend, Job, Seeding, Slot};
use super::log::ExistingSamples;
use super::online::RoundPlan;
use super::token_stats::TokenStatsRequest;
use super::GenerateOptions;
use crate::error::{Error, Result};
use crate::records::Problem;

/// Sampling settings shared by every backend; they are recorded in each sample's `generator`.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    pub temperature: f64,
    /// Keep only the k most likely tokens before top-p (0: no cut).
    pub top_k: u32,
    pub top_p: f64,
    pub max_tokens: u32,
    /// The template's stop strings and any added on the command line.
    pub stop: Vec<String>,
    /// Base seed; each sample's own seed is derived from it, the problem id and the sample index.
    pub seed: u64,
    /// What to record of each token (`--token-stats`); not part of the settings a file is held
    /// to: asking for log-probabilities does not change what is sampled.
    pub token_stats: Option<TokenStatsRequest>,
}

/// FNV-1a spreads a change in the last character over few bits: finished with splitmix64.
fn mixed_hash(text: &str) -> u64 {
    let mut z = crate::stable_hash(text);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl SamplingParams {
    /// The seed of one sample: the same for the same (base seed, problem, index) on every run.
    pub fn sample_seed(&self, problem_id: &str, sample_idx: u32) -> u64 {
        u64::from((mixed_hash(&format!("{}:{problem_id}:{sample_idx}", self.seed)) >> 32) as u32)
    }

    /// The first of a problem's consecutive seeds (sample `i` has this + `i`): below 2^62, so
    /// every seed of the problem fits a signed 64-bit integer, what servers take.
    pub fn problem_seed_base(&self, problem_id: &str) -> u64 {
        mixed_hash(&format!("{}:{problem_id}", self.seed)) >> 2
    }
}

/// The jobs of every problem's missing samples in the round `round_of` plans for it (None: the
/// problem needs no more).
pub(super) fn plan_jobs(
    backend: &dyn Backend,
    problems: &[Problem],
    options: &GenerateOptions,
    existing: &ExistingSamples,
    round_of: &dyn Fn(&Problem) -> Option<RoundPlan>,
) -> Vec<Job> {
    let seeding = backend.seeding();
    let mut jobs = Vec::new();
    for problem in problems {
        let Some(round) = round_of(problem) else {
            continue;
        };
        let seed = |sample_idx: u32| match seeding {
            Seeding::PerSample => options.params.sample_seed(&problem.id, sample_idx),
            Seeding::Consecutive => {
                options.params.problem_seed_base(&problem.id) + u64::from(sample_idx)
            }
        };
        let slots: Vec<Slot> = round
            .indices
            .filter(|&idx| !existing.contains(&problem.id, idx))
            .take(round.take)
            .map(|sample_idx| Slot {
                sample_idx,
                seed: seed(sample_idx),
            })
            .collect();
        if slots.is_empty() {
            continue;
        }
        let prompt = options.template.render(&problem.question);
        let job_size = if round.stop.is_some() {
            backend.stoppable_job_size().max(1)
        } else {
            backend.job_size().max(1)
        };
        // A job of consecutive seeds holds consecutive samples only (missing ones of a resumed
        // file may have gaps).
        let runs = slots
            .chunk_by(|a, b| seeding == Seeding::PerSample || a.sample_idx + 1 == b.sample_idx);
        for chunk in runs.flat_map(|run| run.chunks(job_size)) {
            jobs.push(Job {
                problem_id: problem.id.clone(),
                prompt: prompt.clone(),
                slots: chunk.to_vec(),
                stop: round.stop,
            });
        }
    }
    jobs
}

/// With consecutive seeds, no two problems of a run may share one: refused when their ranges
/// overlap (one chance in ~2^62 / (problems^2 * n); another --seed resolves it).
pub(super) fn check_seed_ranges(
    backend: &dyn Backend,
    problems: &[Problem],
    options: &GenerateOptions,
) -> Result<()> {
    if backend.seeding() != Seeding::Consecutive {
        return Ok(());
    }
    let mut bases: Vec<(u64, &str)> = problems
        .iter()
        .map(|p| (options.params.problem_seed_base(&p.id), p.id.as_str()))
        .collect();
    bases.sort_unstable();
    match bases
        .windows(2)
        .find(|pair| pair[1].0 - pair[0].0 < u64::from(options.n) && pair[0].1 != pair[1].1)
    {
        Some(pair) => Err(Error::Settings(format!(
            "problems `{}` and `{}` would share sample seeds with --seed {}: pass another --seed",
            pair[0].1, pair[1].1, options.params.seed
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{Completion, Template};

    #[test]
    fn sample_seeds_are_stable_and_distinct() {
        let params = SamplingParams {
            temperature: 0.7,
            top_k: 0,
            top_p: 1.0,
            max_tokens: 8,
            stop: vec![],
            seed: 1,
            token_stats: None,
        };
        assert_eq!(params.sample_seed("p", 0), params.sample_seed("p", 0));
        assert_ne!(params.sample_seed("p", 0), params.sample_seed("p", 1));
        assert_ne!(params.sample_seed("p", 0), params.sample_seed("q", 0));
        let other = SamplingParams {
            seed: 2,
            ..params.clone()
        };
        assert_ne!(params.sample_seed("p", 0), other.sample_seed("p", 0));
    }

    /// A server-like backend: three samples per request, consecutive seeds.
    struct Server;

    impl Backend for Server {
        fn kind(&self) -> &'static str {
            "test"
        }
        fn model(&self) -> String {
            "none".into()
        }
        fn job_size(&self) -> usize {
            3
        }
        fn seeding(&self) -> Seeding {
            Seeding::Consecutive
        }
        fn run(
            &self,
            _job: &Job,
            _params: &SamplingParams,
            _emit: &mut dyn FnMut(Completion) -> Result<()>,
        ) -> Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_request_of_consecutive_seeds_holds_consecutive_samples() {
        let options = GenerateOptions {
            n: 8,
            params: SamplingParams {
                temperature: 1.0,
                top_k: 0,
                top_p: 1.0,
                max_tokens: 4,
                stop: vec![],
                seed: 5,
                token_stats: None,
            },
            template: Template::load("chat").unwrap(),
            allow_settings_change: false,
            adaptive: None,
            online: None,
        };
        let problems = [Problem::bare("p"), Problem::bare("q")];
        let mut existing = ExistingSamples::default();
        existing.insert("p", 2);
        existing.insert("p", 5);
        let all = |_: &Problem| {
            Some(RoundPlan {
                indices: 0..options.n,
                take: usize::MAX,
                stop: None,
            })
        };
        let jobs = plan_jobs(&Server, &problems, &options, &existing, &all);
        let of_p: Vec<Vec<u32>> = jobs
            .iter()
            .filter(|job| job.problem_id == "p")
            .map(|job| job.slots.iter().map(|slot| slot.sample_idx).collect())
            .collect();
        assert_eq!(of_p, vec![vec![0, 1], vec![3, 4], vec![6, 7]]);
        for job in &jobs {
            let base = options.params.problem_seed_base(&job.problem_id);
            for slot in &job.slots {
                // What vLLM gives choice i of a request seeded with the first sample's seed.
                assert_eq!(slot.seed, base + u64::from(slot.sample_idx));
                assert!(slot.seed < 1 << 63, "a signed 64-bit integer");
            }
        }
        assert_ne!(
            options.params.problem_seed_base("p"),
            options.params.problem_seed_base("q")
        );
        assert!(check_seed_ranges(&Server, &problems, &options).is_ok());
    }
}
