//! The generation stage's contract: a [`Job`] (one problem's samples to make, each with its
//! seed), the [`Completion`] a backend hands back, the [`Backend`] trait every source of samples
//! implements, and the thread pool that runs a backend's jobs `max_in_flight` at a time.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};

use serde_json::{Map, Value};

use super::{EarlyStop, GroupStop, Prompt, SamplingParams, TokenStats};
use crate::error::{Error, Result};

/// How a backend's samples are seeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seeding {
    /// Each sample its own hashed 32-bit seed.
    PerSample,
    /// A problem's samples consecutive seeds from its base: servers such as vLLM give choice `i`
    /// of a request the seed `seed + i`, so a request for consecutive samples sends the first
    /// one's seed and every choice gets its own sample's seed.
    Consecutive,
}

/// The samples of one problem a backend is asked for.
#[derive(Debug, Clone)]
pub struct Job {
    pub problem_id: String,
    pub prompt: Prompt,
    pub slots: Vec<Slot>,
    /// Stop each trace once its group confidence falls below a threshold (DeepConf online);
    /// needs the token statistics.
    pub stop: Option<GroupStop>,
}

/// One sample to generate: its index and its own seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub sample_idx: u32,
    pub seed: u64,
}

/// One sample a backend hands back.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub sample_idx: u32,
    pub text: String,
    pub origin: Origin,
}

/// Where a sample comes from, which decides how it is written.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// Made by this run's model: written as a new record with this run's `generator`.
    Generated(Box<Generated>),
    /// A record that exists already (another tool's, an earlier run's): written whole, as this
    /// JSON line, with its own `generator` and every field.
    Existing(String),
}

/// What an engine said of a sample it made.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Generated {
    /// `stop` (end of text or a stop string), `length` (max tokens), or what the server said.
    pub finish_reason: Option<String>,
    pub num_tokens: Option<u32>,
    /// What a server said about itself in its answer (`model`, `system_fingerprint`), recorded in
    /// `generator.server`: servers fill what a request leaves out from their own configuration.
    pub server: Option<Map<String, Value>>,
    /// What `--token-stats` records of its tokens (`tokens`), and the time it took (`wall_ms`).
    pub tokens: Option<TokenStats>,
    pub wall_ms: Option<u64>,
    /// Set when the job's [`GroupStop`] stopped it: its text is partial.
    pub early_stop: Option<EarlyStop>,
}

impl Completion {
    /// A sample made by this run's model.
    pub fn generated(sample_idx: u32, text: String, generated: Generated) -> Self {
        Completion {
            sample_idx,
            text,
            origin: Origin::Generated(Box::new(generated)),
        }
    }

    /// The existing record this sample is, if it is one.
    pub fn existing_record(&self) -> Option<&str> {
        match &self.origin {
            Origin::Existing(line) => Some(line),
            Origin::Generated(_) => None,
        }
    }

    /// Tokens the engine generated for it (none for an existing record; where the server gave
    /// no count of its own, those its token statistics hold).
    pub fn generated_tokens(&self) -> u64 {
        match &self.origin {
            // A server's count is per request; the recorded statistics count a sample's own.
            Origin::Generated(generated) => generated.num_tokens.map_or_else(
                || {
                    generated
                        .tokens
                        .as_ref()
                        .map_or(0, |t| t.logprobs.len() as u64)
                },
                u64::from,
            ),
            Origin::Existing(_) => 0,
        }
    }
}

/// A source of samples.
pub trait Backend: Sync {
    /// What goes into `generator.backend`.
    fn kind(&self) -> &'static str;
    /// What goes into `generator.model`.
    fn model(&self) -> String;
    /// Jobs run at once (requests in flight for a server).
    fn max_in_flight(&self) -> usize {
        1
    }
    /// Samples per job; a problem's missing samples are split into jobs of at most this many.
    fn job_size(&self) -> usize {
        usize::MAX
    }
    /// Samples per job when each may be stopped mid-generation (`--online-confidence`).
    fn stoppable_job_size(&self) -> usize {
        self.job_size()
    }
    fn seeding(&self) -> Seeding {
        Seeding::PerSample
    }
    /// Whether this backend hands back existing records ([`Origin::Existing`]), which keep their
    /// own `generator`: a samples file is then not held to this run's settings.
    fn hands_back_existing_records(&self) -> bool {
        false
    }
    /// Generates the job's samples, handing each to `emit` as soon as it is finished. On error,
    /// what was emitted before is kept.
    fn run(
        &self,
        job: &Job,
        params: &SamplingParams,
        emit: &mut dyn FnMut(Completion) -> Result<()>,
    ) -> Result<()>;
    /// Generates every job's samples, handing each to `emit` with its job as soon as it is
    /// finished: by default job after job, or `max_in_flight` jobs at once. A backend that can
    /// keep several jobs in one batch does so here.
    fn run_jobs(
        &self,
        jobs: &[Job],
        params: &SamplingParams,
        emit: &mut dyn FnMut(&Job, Completion) -> Result<()>,
    ) -> Result<()> {
        if self.max_in_flight() <= 1 {
            jobs.iter()
                .try_for_each(|job| self.run(job, params, &mut |completion| emit(job, completion)))
        } else {
            run_concurrently(self, jobs, params, emit)
        }
    }
}

/// Runs jobs on `max_in_flight` threads; the calling thread writes what they produce. After the
/// first error no new job starts, jobs already running finish, and their samples are written.
pub(crate) fn run_concurrently<B: Backend + ?Sized>(
    backend: &B,
    jobs: &[Job],
    params: &SamplingParams,
    write: &mut dyn FnMut(&Job, Completion) -> Result<()>,
) -> Result<()> {
    let queue = Mutex::new(jobs.iter().collect::<VecDeque<_>>());
    let failed = AtomicBool::new(false);
    let (sender, receiver) = mpsc::channel::<(&Job, Result<Completion>)>();
    let workers = backend.max_in_flight().min(jobs.len()).max(1);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let sender = sender.clone();
            let (queue, failed) = (&queue, &failed);
            scope.spawn(move || loop {
                if failed.load(Ordering::Relaxed) {
                    return;
                }
                let Some(job) = queue.lock().expect("queue lock").pop_front() else {
                    return;
                };
                let result = backend.run(job, params, &mut |completion| {
                    sender
                        .send((job, Ok(completion)))
                        .map_err(|_| Error::Generation("the writer stopped".into()))
                });
                if let Err(error) = result {
                    failed.store(true, Ordering::Relaxed);
                    let _ = sender.send((job, Err(error)));
                }
            });
        }
        drop(sender);
        let mut first_error = None;
        for (job, result) in receiver {
            let outcome = result.and_then(|completion| write(job, completion));
            if let Err(error) = outcome {
                failed.store(true, Ordering::Relaxed);
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    })
}
