//! DeepConf online (Fu et al. 2025, "Deep Think with Confidence"): a problem's first `warmup`
//! traces are sampled whole and set its threshold s, the (100 − η)-th percentile of their lowest
//! group confidences (numpy's linear interpolation, as the reference code); every later trace is
//! stopped as soon as the mean token confidence of its last `window` tokens falls below s; and the
//! problem is sampled no more once, after a round of new traces, the confidence-weighted vote of
//! its traces that reach s (the warm-up's too, each weighted by its lowest group confidence) gives
//! the leading answer a share of at least τ.
//!
//! After the warm-up, a problem is sampled in rounds of `round` samples aligned on the warm-up
//! (indices `warmup + r·round ..`), and the vote only ever reads whole rounds: a run killed in a
//! round resumes the same round, and stops at the same sample as a run never killed.
//!
//! A stopped trace is written with its partial text, `finish_reason: "early_stop"` and the field
//! `early_stop` (what stopped it); readers leave it out of every count but the tokens spent.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::{json, Value};

use super::adaptive::{vote_of, Votes};
use super::AdaptiveStop;
use crate::error::{Error, Result};
use crate::grade::AnswerStyle;
use crate::records::{map_samples, Problem, ReadOptions, Sample};
use crate::score::confidence::group_means;

/// `--online-confidence`: the settings of DeepConf online.
#[derive(Debug, Clone, PartialEq)]
pub struct OnlineConfidence {
    /// Traces per problem sampled whole before any is stopped (`--warmup`, N_init).
    pub warmup: u32,
    /// η: the percent of the warm-up's traces whose lowest group confidence reaches the threshold
    /// (`--keep-top`).
    pub keep_top: u32,
    /// Tokens per group (`--confidence-window`).
    pub window: usize,
    /// τ: the weighted vote's leading share that stops a problem (`--consensus`).
    pub consensus: f64,
    /// Samples per problem and round after the warm-up.
    pub round: u32,
}

/// Stop a trace once the mean confidence of its last `window` tokens is below `threshold`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupStop {
    pub window: usize,
    pub threshold: f64,
}

/// What stopped a trace, recorded as its `early_stop` field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EarlyStop {
    pub rule: GroupStop,
    /// The group confidence that fell below the threshold.
    pub group_confidence: f64,
    /// Tokens generated when it stopped.
    pub at_token: usize,
}

impl EarlyStop {
    pub fn to_json(&self) -> Value {
        json!({
            "method": "deepconf-online",
            "threshold": self.rule.threshold,
            "window": self.rule.window,
            "group_confidence": (self.group_confidence * 1e4).round() / 1e4,
            "at_token": self.at_token,
        })
    }
}

/// A trace's last `window` token confidences, summed as they come.
#[derive(Debug, Clone)]
pub struct GroupWatch {
    rule: GroupStop,
    sum: f64,
}

impl GroupWatch {
    pub fn new(rule: GroupStop) -> Self {
        GroupWatch { rule, sum: 0.0 }
    }

    /// After `confidence` (the trace's series so far) grew by one token: what stops the trace,
    /// if its last full window fell below the threshold.
    pub fn check(&mut self, confidence: &[f64]) -> Option<EarlyStop> {
        let (n, window) = (confidence.len(), self.rule.window);
        let last = *confidence.last()?;
        self.sum += last;
        if n > window {
            self.sum -= confidence[n - 1 - window];
        }
        let group = self.sum / window as f64;
        (n >= window && group < self.rule.threshold).then_some(EarlyStop {
            rule: self.rule,
            group_confidence: group,
            at_token: n,
        })
    }
}

/// The `q`-th percentile of `values` (non-empty) by linear interpolation between the closest
/// ranks, as `numpy.percentile` computes it by default.
pub fn percentile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let position = q / 100.0 * (sorted.len() - 1) as f64;
    let (low, high) = (position.floor() as usize, position.ceil() as usize);
    sorted[low] + (sorted[high] - sorted[low]) * (position - low as f64)
}

/// What one trace of a problem says.
#[derive(Debug, Clone, PartialEq)]
enum Trace {
    Stopped,
    Finished {
        lowest_group: f64,
        vote: Option<String>,
    },
}

/// The samples one round of a problem asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundPlan {
    /// Indices the round covers; the missing ones are sampled.
    pub indices: std::ops::Range<u32>,
    /// At most this many of them.
    pub take: usize,
    /// How its traces are stopped, after the warm-up.
    pub stop: Option<GroupStop>,
}

/// Every problem's traces so far, and what they decide.
#[derive(Debug)]
pub struct OnlineState {
    settings: OnlineConfidence,
    n: u32,
    adaptive: Option<AdaptiveStop>,
    styles: HashMap<String, AnswerStyle>,
    traces: HashMap<String, BTreeMap<u32, Trace>>,
}

impl OnlineState {
    pub fn new(
        settings: OnlineConfidence,
        n: u32,
        adaptive: Option<AdaptiveStop>,
        problems: &[Problem],
    ) -> Self {
        OnlineState {
            settings,
            n,
            adaptive,
            styles: problems.iter().map(|p| (p.id.clone(), p.style)).collect(),
            traces: HashMap::new(),
        }
    }

    /// Reads the traces a samples file already holds (a resumed run).
    pub fn resume(&mut self, samples: &Path) -> Result<()> {
        if std::fs::metadata(samples).map_or(true, |m| m.len() == 0) {
            return Ok(());
        }
        let options = ReadOptions {
            keep_stopped: true,
            ..ReadOptions::new(false)
        };
        map_samples(
            samples,
            options,
            |sample: Sample, line| Ok((line, sample)),
            |chunk| {
                for (line, sample) in chunk {
                    let confidence = confidence_of(&sample);
                    let stopped = sample.stopped_early();
                    self.add(
                        &sample.problem_id,
                        sample.sample_idx,
                        &sample.text,
                        confidence.as_deref(),
                        stopped,
                    )
                    .map_err(|why| Error::input(samples, line, Some("tokens"), why.to_string()))?;
                }
                Ok(())
            },
        )?;
        Ok(())
    }

    /// Adds a written trace: its text, its token confidences, whether it was stopped.
    pub fn add(
        &mut self,
        problem_id: &str,
        sample_idx: u32,
        text: &str,
        confidence: Option<&[f64]>,
        stopped: bool,
    ) -> Result<()> {
        let Some(&style) = self.styles.get(problem_id) else {
            return Ok(());
        };
        let Some(confidence) = confidence.filter(|c| !c.is_empty()) else {
            return Err(Error::Settings(
                "--online-confidence needs every sample's token confidences (`tokens.confidence`): \
                 this one has none; it was generated without --token-stats (use another --out)"
                    .into(),
            ));
        };
        let trace = if stopped {
            Trace::Stopped
        } else {
            Trace::Finished {
                lowest_group: lowest_group(confidence, self.settings.window),
                vote: vote_of(text, None, None, style),
            }
        };
        self.traces
            .entry(problem_id.to_owned())
            .or_default()
            .insert(sample_idx, trace);
        Ok(())
    }

    /// What the next round of `problem` samples: the missing warm-up, else the round after the
    /// last whole one, unless the problem is settled or has all `n`.
    pub fn plan(&self, problem_id: &str) -> Option<RoundPlan> {
        let warmup = self.settings.warmup.min(self.n);
        let empty = BTreeMap::new();
        let traces = self.traces.get(problem_id).unwrap_or(&empty);
        let whole = self.whole_rounds_end(traces);
        if whole < warmup {
            return Some(RoundPlan {
                indices: 0..warmup,
                take: usize::MAX,
                stop: None,
            });
        }
        if whole >= self.n {
            return None;
        }
        let threshold = self.threshold(traces)?;
        // Checked after each round of new traces, as DeepConf checks after each new trace: the
        // warm-up alone sets the threshold, it never settles a problem.
        if whole > warmup && self.settled(traces, whole, threshold) {
            return None;
        }
        let round = self.settings.round;
        Some(RoundPlan {
            indices: whole..whole.saturating_add(round).min(self.n),
            take: usize::MAX,
            stop: Some(GroupStop {
                window: self.settings.window,
                threshold,
            }),
        })
    }

    /// The end of the traces present without a gap, at a round's boundary (or at `n`).
    fn whole_rounds_end(&self, traces: &BTreeMap<u32, Trace>) -> u32 {
        let present = (0..self.n).take_while(|i| traces.contains_key(i)).count() as u32;
        let warmup = self.settings.warmup.min(self.n);
        if present < warmup || present == self.n {
            return present;
        }
        let round = self.settings.round;
        warmup + (present - warmup) / round * round
    }

    /// The threshold s from the warm-up's traces (None when one of them was stopped: a file
    /// written with other settings, refused when the run opens it).
    fn threshold(&self, traces: &BTreeMap<u32, Trace>) -> Option<f64> {
        let lowest: Vec<f64> = traces
            .range(..self.settings.warmup.min(self.n))
            .map(|(_, trace)| match trace {
                Trace::Finished { lowest_group, .. } => Some(*lowest_group),
                Trace::Stopped => None,
            })
            .collect::<Option<_>>()?;
        (!lowest.is_empty()).then(|| percentile(&lowest, 100.0 - f64::from(self.settings.keep_top)))
    }

    /// Whether the traces below `end` settle the problem: the weighted vote of those reaching
    /// the threshold gives its leader a share of at least τ, or (with --adaptive) their votes
    /// pass the Beta rule.
    fn settled(&self, traces: &BTreeMap<u32, Trace>, end: u32, threshold: f64) -> bool {
        let mut weights: HashMap<&str, f64> = HashMap::new();
        let mut votes = Votes::default();
        for trace in traces.range(..end).map(|(_, t)| t) {
            if let Trace::Finished {
                lowest_group,
                vote: Some(vote),
            } = trace
            {
                if *lowest_group >= threshold {
                    *weights.entry(vote).or_default() += lowest_group;
                    votes.add(Some(vote.clone()));
                }
            }
        }
        let total: f64 = weights.values().sum();
        let leader = weights.values().copied().fold(0.0, f64::max);
        let by_weight = total > 0.0 && leader / total >= self.settings.consensus;
        let by_beta = self
            .adaptive
            .as_ref()
            .is_some_and(|stop| votes.settled(stop.confidence));
        by_weight || by_beta
    }

    /// Checks that the warm-up traces of the file were not stopped (a file of other settings).
    pub fn check_warmups(&self, samples: &Path) -> Result<()> {
        let warmup = self.settings.warmup.min(self.n);
        for (problem, traces) in &self.traces {
            if let Some((idx, _)) = traces
                .range(..warmup)
                .find(|(_, trace)| **trace == Trace::Stopped)
            {
                return Err(Error::Settings(format!(
                    "{}: sample {idx} of problem `{problem}` was stopped early, but --warmup {warmup} \
                     samples it whole: the file was made with other online settings (use another --out)",
                    samples.display()
                )));
            }
        }
        Ok(())
    }
}

/// The lowest group confidence of a finished trace (DeepConf's `min_conf`).
fn lowest_group(confidence: &[f64], window: usize) -> f64 {
    group_means(confidence, window)
        .into_iter()
        .fold(f64::INFINITY, f64::min)
}

/// A written sample's token confidences, from its `tokens` field.
fn confidence_of(sample: &Sample) -> Option<Vec<f64>> {
    sample
        .extra
        .get("tokens")?
        .get("confidence")?
        .as_array()?
        .iter()
        .map(Value::as_f64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn percentiles_interpolate_as_numpy_does() {
        // numpy.percentile([1, 2, 3, 4], q) for q = 0, 10, 50, 90, 100.
        let values = [4.0, 1.0, 3.0, 2.0];
        for (q, want) in [
            (0.0, 1.0),
            (10.0, 1.3),
            (50.0, 2.5),
            (90.0, 3.7),
            (100.0, 4.0),
        ] {
            assert!((percentile(&values, q) - want).abs() < 1e-12, "{q}");
        }
        assert_eq!(percentile(&[7.0], 90.0), 7.0);
    }

    proptest! {
        /// The watch stops a trace at the first full window whose mean is below the threshold,
        /// which is what the offline lowest group confidence of the trace so far says.
        #[test]
        fn the_watch_agrees_with_the_offline_lowest_group(
            series in prop::collection::vec(0.0f64..10.0, 1..120),
            window in 1usize..20,
            threshold in 0.0f64..10.0,
        ) {
            let mut watch = GroupWatch::new(GroupStop { window, threshold });
            let stopped_at = (1..=series.len()).find_map(|n| watch.check(&series[..n]));
            match stopped_at {
                Some(stop) => {
                    let n = stop.at_token;
                    prop_assert!(n >= window);
                    prop_assert!(lowest_group(&series[..n], window) < threshold + 1e-9);
                    prop_assert!(n == window || lowest_group(&series[..n - 1], window) >= threshold - 1e-9);
                }
                None if series.len() >= window => {
                    prop_assert!(lowest_group(&series, window) >= threshold - 1e-9);
                }
                None => {}
            }
        }
    }

    fn state(n: u32) -> OnlineState {
        let settings = OnlineConfidence {
            warmup: 4,
            keep_top: 50,
            window: 2,
            consensus: 0.9,
            round: 3,
        };
        OnlineState::new(settings, n, None, &[Problem::bare("p")])
    }

    fn add(state: &mut OnlineState, idx: u32, answer: &str, confidence: f64, stopped: bool) {
        let series = [confidence; 3];
        let text = format!("#### {answer}");
        state.add("p", idx, &text, Some(&series), stopped).unwrap();
    }

    #[test]
    fn warm_up_then_aligned_rounds_then_the_weighted_vote_stops_a_problem() {
        let mut online = state(20);
        assert_eq!(online.plan("p").unwrap().indices, 0..4);
        assert_eq!(online.plan("p").unwrap().stop, None);
        // The warm-up: lowest group confidences 1, 2, 3, 4; η = 50 → s = 2.5.
        for (idx, confidence) in [(0, 1.0), (1, 2.0), (2, 3.0)] {
            add(&mut online, idx, "7", confidence, false);
        }
        assert_eq!(
            online.plan("p").unwrap().indices,
            0..4,
            "the warm-up is not whole"
        );
        add(&mut online, 3, "8", 4.0, false);
        let plan = online.plan("p").unwrap();
        assert_eq!(plan.indices, 4..7);
        assert_eq!(plan.stop.unwrap().threshold, 2.5);
        // Votes at or above s: 7 (weight 3) and 8 (weight 4): no consensus.
        add(&mut online, 4, "7", 9.0, false);
        add(&mut online, 6, "9", 1.0, true);
        assert_eq!(
            online.plan("p").unwrap().indices,
            4..7,
            "a round is read whole"
        );
        add(&mut online, 5, "7", 9.0, false);
        // 7: 3 + 9 + 9 = 21 of 25 = 0.84 < 0.9.
        assert_eq!(online.plan("p").unwrap().indices, 7..10);
        for idx in 7..10 {
            add(&mut online, idx, "7", 9.0, false);
        }
        // 7: 48 of 52 ≥ 0.9: settled.
        assert_eq!(online.plan("p"), None);
    }

    #[test]
    fn a_problem_with_every_trace_stops_and_a_sample_without_confidences_is_refused() {
        let mut online = state(5);
        for idx in 0..4 {
            add(&mut online, idx, &idx.to_string(), 5.0, false);
        }
        assert_eq!(
            online.plan("p").unwrap().indices,
            4..5,
            "the last round is cut at n"
        );
        add(&mut online, 4, "0", 5.0, false);
        assert_eq!(online.plan("p"), None);
        let error = online.add("p", 9, "#### 1", None, false).unwrap_err();
        assert!(error.to_string().contains("--token-stats"), "{error}");
    }
}
