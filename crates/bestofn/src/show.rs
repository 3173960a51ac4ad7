//! `show`: one problem as a reader wants to see it: its question and gold answer, what each
//! strategy picks on the full pool, the votes, and every candidate with its extracted answer,
//! verdict and the grader's rule, score (and step scores), finish reason and folded text.

use std::fmt::Write;

use crate::eval::EvalOptions;
use crate::grade::{explain, Gold};
use crate::pool::build_pools;
use crate::rank::rank;
use crate::records::{Problem, Sample};

/// How candidates' texts are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShowOptions {
    /// Lines of a text shown before folding its middle (0: every line).
    pub fold_lines: usize,
}

/// `text` with its middle folded to at most `keep` lines, each prefixed for reading.
fn folded(text: &str, keep: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let mut out = String::new();
    let shown: Vec<String> = if keep == 0 || lines.len() <= keep {
        lines.iter().map(|l| (*l).to_owned()).collect()
    } else {
        let head = keep.div_ceil(2);
        let tail = keep - head;
        let mut shown: Vec<String> = lines[..head].iter().map(|l| (*l).to_owned()).collect();
        shown.push(format!(
            "… {} lines folded (--full shows them) …",
            lines.len() - keep
        ));
        shown.extend(lines[lines.len() - tail..].iter().map(|l| (*l).to_owned()));
        shown
    };
    for line in shown {
        let _ = writeln!(out, "    │ {line}");
    }
    out
}

fn verdict(correct: Option<bool>) -> &'static str {
    match correct {
        Some(true) => "correct",
        Some(false) => "wrong",
        None => "unlabeled",
    }
}

/// One candidate as a reader sees it: graded with the rule that decided where the problem is
/// known (else the sample's own label), its score, step scores, finish reason and text.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Candidate {
    pub sample_idx: u32,
    pub answer: Option<String>,
    pub correct: Option<bool>,
    /// `rule: what it means`, when the problem's gold was at hand.
    pub rule: Option<String>,
    pub score: Option<f32>,
    pub step_scores: Option<Vec<f32>>,
    pub finish_reason: Option<String>,
    /// A trace stopped mid-generation: shown, never a sample.
    pub stopped: bool,
    pub text: String,
}

/// A problem's samples as `show` reads them.
pub struct Graded {
    /// The finished samples in `sample_idx` order, regraded against the problem's gold when known.
    pub finished: Vec<Sample>,
    /// Every candidate: the finished ones, then the stopped traces.
    pub candidates: Vec<Candidate>,
}

/// Grades `samples` of `problem` (when known) and lays them out as candidates.
pub fn graded(problem: Option<&Problem>, samples: &[Sample]) -> Graded {
    let (stopped, finished): (Vec<&Sample>, Vec<&Sample>) =
        samples.iter().partition(|s| s.stopped_early());
    let mut finished: Vec<Sample> = finished.into_iter().cloned().collect();
    finished.sort_by_key(|s| s.sample_idx);
    let gold = problem.and_then(|p| p.answer.as_deref()).map(Gold::new);
    let mut candidates = Vec::with_capacity(samples.len());
    for sample in &mut finished {
        let explanation = problem.map(|p| explain(&sample.text, p.style, gold.as_ref()));
        if let Some(e) = &explanation {
            sample.extracted = e.extracted.clone();
            sample.correct = e.correct.or(sample.correct);
        }
        let rule = explanation
            .and_then(|e| e.rule)
            .map(|rule| format!("{rule}: {}", rule.describe()));
        candidates.push(candidate(sample, rule, false));
    }
    candidates.extend(stopped.into_iter().map(|s| candidate(s, None, true)));
    Graded {
        finished,
        candidates,
    }
}

fn candidate(sample: &Sample, rule: Option<String>, stopped: bool) -> Candidate {
    Candidate {
        sample_idx: sample.sample_idx,
        answer: sample.extracted.clone(),
        correct: sample.correct,
        rule,
        score: sample.score,
        step_scores: sample.step_scores.clone(),
        finish_reason: sample
            .extra
            .get("finish_reason")
            .and_then(|v| v.as_str())
            .map(str::to_owned),
        stopped,
        text: sample.text.clone(),
    }
}

/// The problem `id` as text: `samples` are its samples (stopped traces among them).
pub fn render(
    id: &str,
    problem: Option<&Problem>,
    samples: &[Sample],
    options: ShowOptions,
) -> String {
    let Graded {
        finished,
        candidates,
    } = graded(problem, samples);
    let mut md = String::new();
    let right = finished.iter().filter(|s| s.correct == Some(true)).count();
    let stopped = candidates.iter().filter(|c| c.stopped).count();
    let _ = write!(
        md,
        "problem {id}: {} samples, {right} correct",
        finished.len()
    );
    if stopped > 0 {
        let _ = write!(md, "; {stopped} traces stopped mid-generation");
    }
    let _ = writeln!(md);
    if let Some(problem) = problem {
        let _ = writeln!(
            md,
            "question  {}",
            problem.question.replace('\n', "\n          ")
        );
        let _ = writeln!(
            md,
            "gold      {}",
            problem.answer.as_deref().unwrap_or("(none)")
        );
    }
    picks(&mut md, &finished);
    for candidate in &candidates {
        if candidate.stopped {
            let _ = writeln!(
                md,
                "\n#{}  stopped mid-generation (no sample)",
                candidate.sample_idx
            );
        } else {
            candidate_line(&mut md, candidate);
        }
        md.push_str(&folded(&candidate.text, options.fold_lines));
    }
    md
}

/// `#i  verdict  answer a  score s  steps [..]  finish f`, and the rule below it.
fn candidate_line(md: &mut String, candidate: &Candidate) {
    let _ = write!(
        md,
        "\n#{}  {}  answer {}",
        candidate.sample_idx,
        verdict(candidate.correct),
        candidate.answer.as_deref().unwrap_or("(none)")
    );
    if let Some(score) = candidate.score {
        let _ = write!(md, "  score {score:.4}");
    }
    if let Some(steps) = &candidate.step_scores {
        let steps: Vec<String> = steps.iter().map(|s| format!("{s:.2}")).collect();
        let _ = write!(md, "  steps [{}]", steps.join(" "));
    }
    if let Some(reason) = &candidate.finish_reason {
        let _ = write!(md, "  finish {reason}");
    }
    let _ = writeln!(md);
    if let Some(rule) = &candidate.rule {
        let _ = writeln!(md, "    rule: {rule}");
    }
}

/// What each strategy picks on the full pool, and the votes.
fn picks(md: &mut String, finished: &[Sample]) {
    if finished.is_empty() {
        return;
    }
    let pools = build_pools(finished);
    let strategies = crate::eval::problems::strategies(&pools, &EvalOptions::default());
    let picked: Vec<String> = strategies
        .into_iter()
        .filter_map(|strategy| {
            let answer = rank(&pools, strategy).ok()?.remove(0);
            let mark = answer
                .correct
                .map_or(String::new(), |c| format!(" ({})", verdict(Some(c))));
            Some(format!(
                "{strategy}: {}{mark}",
                answer.answer.as_deref().unwrap_or("(none)")
            ))
        })
        .collect();
    let _ = writeln!(md, "picked    {}", picked.join(" · "));
    let votes: Vec<String> = pools[0]
        .answer_votes()
        .into_iter()
        .map(|v| {
            let text = v.answer.unwrap_or("(none)");
            match v.correct {
                Some(c) => format!("{text} ×{} ({})", v.samples, verdict(Some(c))),
                None => format!("{text} ×{}", v.samples),
            }
        })
        .collect();
    let _ = writeln!(md, "votes     {}", votes.join(" · "));
}
