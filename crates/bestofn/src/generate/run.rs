//! The generation driver: opens the append-only samples log, plans the missing samples, runs the
//! backend's jobs (in rounds, sampling adaptively) and appends each sample as it comes, keeping
//! every finished sample when a run stops.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::adaptive::Votes;
use super::backend::{Backend, Completion, Generated, Job, Origin};
use super::log::{ExistingSamples, Expected, SampleLog};
use super::online::{OnlineState, RoundPlan};
use super::sampling::{check_seed_ranges, plan_jobs};
use super::{AdaptiveStop, NewSample, OnlineConfidence, RoundJudge, SamplingParams, Template};
use crate::error::{Error, Result};
use crate::records::Problem;

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub n: u32,
    pub params: SamplingParams,
    pub template: Template,
    /// Add samples made with other settings to an existing file instead of refusing.
    pub allow_settings_change: bool,
    /// Sample in rounds and stop a problem once its answer is settled.
    pub adaptive: Option<AdaptiveStop>,
    /// DeepConf online: stop traces whose confidence falls, and problems whose weighted vote
    /// is settled.
    pub online: Option<OnlineConfidence>,
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
    /// Traces of this run stopped mid-generation (online), and their tokens (in `tokens` too).
    pub stopped: usize,
    pub stopped_tokens: u64,
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
        if self.stopped > 0 {
            write!(
                f,
                "; {} traces stopped early by their confidence ({} tokens)",
                self.stopped, self.stopped_tokens
            )?;
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
    let Value::Object(mut map) = value else {
        unreachable!("json! of an object")
    };
    // The online rule decides which traces are whole: a file is held to it too.
    if let Some(online) = &options.online {
        map.insert(
            "online_confidence".into(),
            json!({
                "warmup": online.warmup,
                "keep_top": online.keep_top,
                "window": online.window,
                "consensus": online.consensus,
                "round": online.round,
            }),
        );
    }
    map
}

/// Fields of `generator` that differ between the samples of one run.
pub(crate) const PER_SAMPLE_GENERATOR_FIELDS: [&str; 4] =
    ["seed", "prompt_sha256", "question_sha256", "server"];

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

/// The samples a run plans (problems × N), refused past [`MAX_PLANNED_SAMPLES`].
fn planned_samples(problems: &[Problem], options: &GenerateOptions) -> Result<u64> {
    let planned = problems.len() as u64 * u64::from(options.n);
    if planned > MAX_PLANNED_SAMPLES {
        return Err(Error::Settings(format!(
            "{} problems × --n {} = {planned} samples, more than one run plans ({MAX_PLANNED_SAMPLES}); \
             split the problems into several runs",
            problems.len(),
            options.n
        )));
    }
    Ok(planned)
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
    let planned = planned_samples(problems, options)?;
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
    let mut online = open_online(options, problems, out)?;
    let resumed = match judge.as_deref_mut() {
        Some(judge) if options.adaptive.is_some() => judge.resume(out),
        _ => Ok(()),
    };
    let mut round = Vec::new();
    let result = resumed.and_then(|()| loop {
        let round_of = |problem: &Problem| {
            next_round(problem, options, online.as_ref(), judge.as_deref(), &votes)
        };
        let jobs = plan_jobs(backend, problems, options, &existing, &round_of);
        if jobs.is_empty() {
            break Ok(());
        }
        let mut write = |job: &Job, completion: Completion| -> Result<()> {
            existing.insert(&job.problem_id, completion.sample_idx);
            if let Some(online) = &mut online {
                note_online(online, job, &completion, &mut summary)?;
            }
            if let Some(stop) = &options.adaptive {
                if judge.is_some() {
                    round.push(NewSample {
                        problem_id: job.problem_id.clone(),
                        sample_idx: completion.sample_idx,
                        text: completion.text.clone(),
                    });
                } else {
                    let style = known[job.problem_id.as_str()].style;
                    let vote = stop.vote(&completion.text, completion.existing_record(), style);
                    votes.entry(job.problem_id.clone()).or_default().add(vote);
                }
            }
            let tokens = completion.generated_tokens();
            match completion.origin {
                Origin::Existing(line) => log.append_line(&line)?,
                Origin::Generated(generated) => log.append(&new_record(
                    &settings,
                    params,
                    job,
                    &known[job.problem_id.as_str()].question,
                    completion.sample_idx,
                    completion.text,
                    *generated,
                ))?,
            }
            summary.tokens += tokens;
            summary.generated += 1;
            progress(Progress::Sample);
            Ok(())
        };
        if let Err(error) = backend.run_jobs(&jobs, params, &mut write) {
            break Err(error);
        }
        if options.adaptive.is_none() && options.online.is_none() {
            break Ok(());
        }
        if let Some(judge) = judge.as_deref_mut() {
            if let Err(error) = judge.judge(std::mem::take(&mut round)) {
                break Err(error);
            }
        }
    });
    summary.elapsed = started.elapsed();
    finished(
        summary,
        result,
        planned as usize,
        options.adaptive.is_some() || options.online.is_some(),
        out,
    )
}

/// Adds a finished trace to the online rule's state; a stopped one counts what it cost.
fn note_online(
    online: &mut OnlineState,
    job: &Job,
    completion: &Completion,
    summary: &mut GenerateSummary,
) -> Result<()> {
    let Origin::Generated(generated) = &completion.origin else {
        return Ok(());
    };
    let tokens = generated.tokens.as_ref().map(|t| t.confidence.as_slice());
    let stopped = generated.early_stop.is_some();
    online.add(
        &job.problem_id,
        completion.sample_idx,
        &completion.text,
        tokens,
        stopped,
    )?;
    if stopped {
        summary.stopped += 1;
        summary.stopped_tokens += completion.generated_tokens();
    }
    Ok(())
}

/// The next round of `problem`'s samples: the online rule's, else all of them (a round of them
/// with adaptive sampling), or none once its answer is settled.
fn next_round(
    problem: &Problem,
    options: &GenerateOptions,
    online: Option<&OnlineState>,
    judge: Option<&dyn RoundJudge>,
    votes: &HashMap<String, Votes>,
) -> Option<RoundPlan> {
    if let Some(online) = online {
        return online.plan(&problem.id);
    }
    let settled = match (&options.adaptive, judge) {
        (None, _) => false,
        (Some(_), Some(judge)) => judge.settled(&problem.id),
        (Some(stop), None) => votes
            .get(&problem.id)
            .is_some_and(|v| v.settled(stop.confidence)),
    };
    (!settled).then(|| RoundPlan {
        indices: 0..options.n,
        take: options
            .adaptive
            .as_ref()
            .map_or(usize::MAX, |stop| stop.round as usize),
        stop: None,
    })
}

/// The online rule's state, with what a resumed file already holds.
fn open_online(
    options: &GenerateOptions,
    problems: &[Problem],
    out: &Path,
) -> Result<Option<OnlineState>> {
    let Some(settings) = &options.online else {
        return Ok(None);
    };
    let mut state = OnlineState::new(
        settings.clone(),
        options.n,
        options.adaptive.clone(),
        problems,
    );
    state.resume(out)?;
    state.check_warmups(out)?;
    Ok(Some(state))
}

/// The summary of a run that ended with `result`: with the samples an adaptive run found it did
/// not need, or the error saying how many samples are safe in `out`.
fn finished(
    mut summary: GenerateSummary,
    result: Result<()>,
    planned: usize,
    adaptive: bool,
    out: &Path,
) -> Result<GenerateSummary> {
    summary.not_needed = planned.saturating_sub(summary.already_present + summary.generated)
        * usize::from(result.is_ok() && adaptive);
    result.map_err(|error| Error::Stopped {
        kept: summary.already_present + summary.generated,
        what: "samples",
        path: out.to_owned(),
        resumable: error.rerun_may_help(),
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
    // Existing records keep the generator that made them: nothing to hold them to.
    let new_records = !backend.hands_back_existing_records();
    let expected = Expected {
        settings: (new_records && !options.allow_settings_change).then_some(settings),
        template_sha256: new_records.then_some(options.template.sha256.as_str()),
        prompts: problems
            .iter()
            .map(|p| (p.id.as_str(), options.template.render(&p.question).sha256()))
            .collect(),
        questions: problems
            .iter()
            .map(|p| (p.id.as_str(), question_sha256(&p.question)))
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

/// The hash that ties a sample to its problem's question whatever the template.
pub(crate) fn question_sha256(question: &str) -> String {
    use sha2::Digest;
    super::template::hex(&sha2::Sha256::digest(question.as_bytes()))
}

/// Progress of a run, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Planned(usize),
    Sample,
}

/// The record of sample `sample_idx` of `job`, made by this run: this run's `generator` with
/// the sample's own seed, the hashes of its prompt and of its problem's question, and what the
/// server said of itself.
fn new_record(
    settings: &Map<String, Value>,
    params: &SamplingParams,
    job: &Job,
    question: &str,
    sample_idx: u32,
    text: String,
    generated: Generated,
) -> Map<String, Value> {
    let mut generator = settings.clone();
    let seed = job
        .slots
        .iter()
        .find(|slot| slot.sample_idx == sample_idx)
        .map_or_else(
            || params.sample_seed(&job.problem_id, sample_idx),
            |slot| slot.seed,
        );
    generator.insert("seed".into(), seed.into());
    generator.insert("prompt_sha256".into(), job.prompt.sha256().into());
    generator.insert("question_sha256".into(), question_sha256(question).into());
    if let Some(server) = generated.server {
        generator.insert("server".into(), Value::Object(server));
    }
    let mut record = Map::new();
    record.insert("problem_id".into(), job.problem_id.clone().into());
    record.insert("sample_idx".into(), sample_idx.into());
    record.insert("text".into(), text.into());
    record.insert("generator".into(), Value::Object(generator));
    record.insert("finish_reason".into(), generated.finish_reason.into());
    record.insert("num_tokens".into(), generated.num_tokens.into());
    if let Some(tokens) = generated.tokens {
        record.insert("tokens".into(), tokens.to_json());
    }
    if let Some(wall_ms) = generated.wall_ms {
        record.insert("wall_ms".into(), wall_ms.into());
    }
    if let Some(early_stop) = generated.early_stop {
        record.insert(crate::records::EARLY_STOP.into(), early_stop.to_json());
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::Template;

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
            emit(Completion::generated(
                job.slots[0].sample_idx,
                "#### 1".into(),
                Generated::default(),
            ))?;
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
                token_stats: None,
            },
            template: Template::load("gsm8k").unwrap(),
            allow_settings_change: false,
            adaptive: None,
            online: None,
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
