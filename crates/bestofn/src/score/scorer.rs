//! The scoring stage's contract: what a verifier is given ([`Pair`]), what it says of a solution
//! ([`Scored`]), the [`Scorer`] trait every backend implements, and the run's [`ScoreStats`].

use std::time::Duration;

use crate::error::Result;

/// One input to a verifier.
#[derive(Debug, Clone, Copy)]
pub struct Pair<'a> {
    pub question: &'a str,
    pub solution: &'a str,
    /// The sample's `tokens` (what `generate --token-stats` recorded), for scorers that read it.
    pub tokens: Option<&'a serde_json::Value>,
}

/// What a verifier says of one solution.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Scored {
    /// P(correct); for a process reward model, its last step's.
    pub score: f32,
    /// A process reward model's P(step is right) for each step, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<f32>>,
    /// `score` before calibration, when the verifier was calibrated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncalibrated: Option<f32>,
    /// Tokens the verifier read and generated for this solution, where known (compute
    /// accounting: the sample's `score_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
}

impl Scored {
    pub fn solution(score: f32) -> Self {
        Scored {
            score,
            steps: None,
            uncalibrated: None,
            tokens: None,
        }
    }

    /// The same scores, with the tokens it took to make them.
    pub fn with_tokens(self, tokens: Option<u64>) -> Self {
        Scored { tokens, ..self }
    }

    /// Step scores (at least one); the solution's score is the last step's.
    pub fn steps(steps: Vec<f32>) -> Self {
        Scored {
            score: steps.last().copied().unwrap_or(f32::NAN),
            steps: Some(steps),
            uncalibrated: None,
            tokens: None,
        }
    }

    /// Every value a probability (NaN or a value outside [0, 1] is a broken model).
    pub(crate) fn is_probability(&self) -> bool {
        let ok = |v: &f32| (0.0..=1.0).contains(v);
        ok(&self.score) && self.steps.iter().flatten().all(ok) && self.uncalibrated.iter().all(ok)
    }
}

/// A pair's scores, or why this pair cannot be scored (too long, ...).
pub type PairScore = std::result::Result<Scored, String>;

/// A verifier: (question, solution) pairs in, probabilities out.
pub trait Scorer {
    /// What identifies the verifier (a directory, a served model).
    fn id(&self) -> &str;
    /// One result per pair, in order. `Err` fails the whole call (the model or server failed).
    fn score(&mut self, pairs: &[Pair<'_>], stats: &mut ScoreStats) -> Result<Vec<PairScore>>;
    /// Pairs per call: what it takes to batch well (the scores of a call are logged together).
    fn chunk_size(&self) -> usize {
        CHUNK_LINES
    }
    /// What the scores are when they are not probabilities of being correct (written in each
    /// sample's `score_kind`); `None` for a verifier's probabilities.
    fn score_kind(&self) -> Option<&str> {
        None
    }
    /// The sample field the scorer reads, named when a sample cannot be scored.
    fn reads(&self) -> &'static str {
        "text"
    }
}

/// Throughput figures of a scoring run.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ScoreStats {
    pub samples: usize,
    pub batches: usize,
    /// Real tokens, and padded tokens actually fed to the model.
    pub tokens: usize,
    pub padded_tokens: usize,
    /// Samples whose input was truncated to max_length.
    pub truncated: usize,
    /// Of those, pairs a client cut for a server at a word's edge (a few tokens fewer than in
    /// process).
    pub cut_at_word: usize,
    pub skipped: usize,
    /// Traces stopped mid-generation, written through unscored.
    pub stopped: usize,
    /// Scores taken from the log of an interrupted run.
    pub resumed: usize,
    #[serde(skip)]
    pub model_time: Duration,
    #[serde(skip)]
    pub total_time: Duration,
}

impl ScoreStats {
    /// Adds the model's work of `other` (batches, tokens, time), not its samples.
    pub fn add_work(&mut self, other: &ScoreStats) {
        self.batches += other.batches;
        self.tokens += other.tokens;
        self.padded_tokens += other.padded_tokens;
        self.truncated += other.truncated;
        self.cut_at_word += other.cut_at_word;
        self.model_time += other.model_time;
        self.total_time += other.total_time;
    }

    /// Share of the model's input that was padding.
    pub fn padding_share(&self) -> f64 {
        if self.padded_tokens == 0 {
            0.0
        } else {
            1.0 - self.tokens as f64 / self.padded_tokens as f64
        }
    }
}

impl std::fmt::Display for ScoreStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let seconds = self.total_time.as_secs_f64().max(1e-9);
        if self.padded_tokens == 0 && self.tokens == 0 {
            // No tokens counted here: a server's scores, or confidence from recorded statistics.
            write!(
                f,
                "scored {} samples in {} batches: {:.0} samples/s, {} truncated, {:.1} s",
                self.samples,
                self.batches,
                self.samples as f64 / seconds,
                self.truncated,
                self.total_time.as_secs_f64()
            )?;
        } else {
            write!(
                f,
            "scored {} samples in {} batches: {:.0} samples/s, {:.0} tokens/s, padding {:.1}%, {} truncated, model {:.1} s of {:.1} s",
            self.samples,
            self.batches,
            self.samples as f64 / seconds,
            self.tokens as f64 / seconds,
            100.0 * self.padding_share(),
            self.truncated,
            self.model_time.as_secs_f64(),
            seconds
            )?;
        }
        if self.cut_at_word > 0 {
            write!(
                f,
                "\n{} truncated pairs were cut for the server at a word's edge: their scores read \
                 a few tokens fewer than in process",
                self.cut_at_word
            )?;
        }
        if self.resumed > 0 {
            write!(
                f,
                "\n{} scores came from the log of an earlier run",
                self.resumed
            )?;
        }
        if self.skipped > 0 {
            write!(f, "\nskipped {} invalid lines", self.skipped)?;
        }
        if self.stopped > 0 {
            write!(
                f,
                "\n{} traces stopped mid-generation written through unscored",
                self.stopped
            )?;
        }
        Ok(())
    }
}

/// Lines scored together: enough to sort into well-filled batches, few enough to stream.
const CHUNK_LINES: usize = 2048;
