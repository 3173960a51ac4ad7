//! Adaptive sampling stopped by the verifier: each round's samples are scored as they come, and
//! a problem needs no more samples once one of them scores at least the threshold (the sample
//! the verifier would pick is already there). The scores go to the scoring log of the run's
//! scored file, where the score stage finds them, so no sample is scored twice; a killed run
//! keeps them too.

use std::collections::HashMap;
use std::path::Path;

use crate::error::Result;
use crate::generate::{NewSample, RoundJudge};
use crate::records::{map_samples, Problem, ReadOptions, Sample};
use crate::score::{log_path, score_through_log, KeyedPair, ScoreLog, ScoreStats, Scorer};

pub struct VerifierStop<'a> {
    scorer: &'a mut dyn Scorer,
    questions: HashMap<&'a str, &'a str>,
    log: ScoreLog,
    threshold: f32,
    /// Each problem's best score so far.
    best: HashMap<String, f32>,
    /// The model's work, and the scores this run added to the log.
    stats: ScoreStats,
    scored_now: usize,
}

impl<'a> VerifierStop<'a> {
    /// Opens the scoring log of `scored` (locked until the stop is dropped).
    pub fn open(
        scorer: &'a mut dyn Scorer,
        problems: &'a [Problem],
        scored: &Path,
        threshold: f32,
    ) -> Result<Self> {
        let destination = crate::io::replaced_file(scored)?.unwrap_or_else(|| scored.to_owned());
        let log = ScoreLog::open(&log_path(&destination), scorer.id())?;
        Ok(VerifierStop {
            scorer,
            questions: problems
                .iter()
                .map(|p| (p.id.as_str(), p.question.as_str()))
                .collect(),
            log,
            threshold,
            best: HashMap::new(),
            stats: ScoreStats::default(),
            scored_now: 0,
        })
    }

    /// Releases the log for the score stage: the model's work and the scores this run added.
    /// A log that holds nothing is removed (a run that stopped before any score leaves none).
    pub fn finish(self) -> Result<(ScoreStats, usize)> {
        if self.log.is_empty() {
            self.log.remove()?;
        }
        Ok((self.stats, self.scored_now))
    }

    /// Scores what the log does not hold yet, in the scorer's chunks, and notes every score.
    fn score(&mut self, samples: &[NewSample]) -> Result<()> {
        let started = std::time::Instant::now();
        for chunk in samples.chunks(self.scorer.chunk_size().max(1)) {
            // Samples of unknown problems are refused by generation itself.
            let keyed: Vec<KeyedPair> = chunk
                .iter()
                .filter_map(|sample| {
                    let question = self.questions.get(sample.problem_id.as_str()).copied()?;
                    Some(KeyedPair::new(
                        &sample.problem_id,
                        sample.sample_idx,
                        question,
                        &sample.text,
                    ))
                })
                .collect();
            let through = score_through_log(
                &mut *self.scorer,
                Some(&mut self.log),
                &keyed,
                &mut self.stats,
            )?;
            self.scored_now += through.logged;
            // A pair the verifier cannot score, or a score that is no probability, settles
            // nothing; the score stage reports it.
            for (keyed, score) in keyed.iter().zip(through.scores) {
                match score {
                    Ok(scored) if scored.is_probability() => {
                        let best = self
                            .best
                            .entry(keyed.problem_id.to_owned())
                            .or_insert(scored.score);
                        *best = best.max(scored.score);
                    }
                    _ => {}
                }
            }
        }
        self.stats.total_time += started.elapsed();
        Ok(())
    }
}

impl RoundJudge for VerifierStop<'_> {
    fn resume(&mut self, samples: &Path) -> Result<()> {
        if std::fs::metadata(samples).map_or(true, |m| m.len() == 0) {
            return Ok(());
        }
        let chunk_lines = self.scorer.chunk_size();
        map_samples(
            samples,
            ReadOptions {
                chunk_lines,
                ..ReadOptions::new(false)
            },
            |sample: Sample, _| {
                Ok(NewSample {
                    problem_id: sample.problem_id,
                    sample_idx: sample.sample_idx,
                    text: sample.text,
                })
            },
            |chunk| self.score(&chunk),
        )?;
        Ok(())
    }

    fn judge(&mut self, round: Vec<NewSample>) -> Result<()> {
        self.score(&round)
    }

    fn settled(&self, problem_id: &str) -> bool {
        self.best
            .get(problem_id)
            .is_some_and(|&best| best >= self.threshold)
    }
}
