//! A process reward model scores every step of a solution; ranking needs one score per solution.
//! The aggregation is chosen where the scores are used (`rank`, `eval`), so one scoring pass
//! serves them all.

use crate::error::{Error, Result};
use crate::records::SampleVerdict;

/// How a solution's step scores become its score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Aggregate {
    // The last step's score: the PRM's judgement of the whole solution.
    Last,
    // The weakest step: a solution is as good as its worst step.
    Min,
    // The product: the probability that every step is right, were the steps independent.
    Prod,
    // The mean over steps.
    Mean,
}

impl Aggregate {
    pub fn name(self) -> &'static str {
        match self {
            Aggregate::Last => "last",
            Aggregate::Min => "min",
            Aggregate::Prod => "prod",
            Aggregate::Mean => "mean",
        }
    }

    /// The solution's score from its step scores (at least one).
    pub fn of(self, steps: &[f32]) -> f32 {
        match self {
            Aggregate::Last => steps.last().copied().unwrap_or(f32::NAN),
            Aggregate::Min => steps.iter().copied().fold(f32::INFINITY, f32::min),
            Aggregate::Prod => steps.iter().map(|&s| f64::from(s)).product::<f64>() as f32,
            Aggregate::Mean => {
                (steps.iter().map(|&s| f64::from(s)).sum::<f64>() / steps.len() as f64) as f32
            }
        }
    }
}

impl std::fmt::Display for Aggregate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Every sample's score replaced by `aggregate` of its step scores; a sample without step scores
/// is an error that names it (its score would mean something else).
pub fn aggregate_steps(verdicts: &mut [SampleVerdict], aggregate: Aggregate) -> Result<()> {
    for verdict in verdicts {
        let steps = verdict.step_scores.as_deref().ok_or_else(|| {
            Error::Inconsistent(format!(
                "--aggregate {aggregate} needs step scores, but sample {} of problem {:?} has no \
                 `step_scores`; score with a process reward model (a verifier that scores steps) \
                 or leave --aggregate out to rank by `score`",
                verdict.sample_idx, verdict.problem_id
            ))
        })?;
        verdict.score = Some(aggregate.of(steps));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregations_of_step_scores() {
        let steps = [0.9, 0.5, 0.8];
        assert_eq!(Aggregate::Last.of(&steps), 0.8);
        assert_eq!(Aggregate::Min.of(&steps), 0.5);
        assert!((Aggregate::Prod.of(&steps) - 0.36).abs() < 1e-6);
        assert!((Aggregate::Mean.of(&steps) - 2.2 / 3.0).abs() < 1e-6);
        assert_eq!(Aggregate::Min.of(&[0.3]), 0.3);
    }

    #[test]
    fn a_sample_without_steps_is_named() {
        let mut verdicts = vec![SampleVerdict {
            problem_id: "p1".into(),
            sample_idx: 4,
            extracted: None,
            correct: None,
            score: Some(0.5),
            step_scores: None,
            uncalibrated_score: None,
            score_kind: None,
            cost: Default::default(),
            stopped_early: false,
        }];
        let error = aggregate_steps(&mut verdicts, Aggregate::Min).unwrap_err();
        assert!(
            error.to_string().contains("sample 4 of problem \"p1\""),
            "{error}"
        );
        verdicts[0].step_scores = Some(vec![0.2, 0.7]);
        aggregate_steps(&mut verdicts, Aggregate::Min).unwrap();
        assert_eq!(verdicts[0].score, Some(0.2));
    }
}
