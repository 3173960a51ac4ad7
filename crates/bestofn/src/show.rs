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

/// The problem `id` as text: `samples` are its samples (stopped traces among them).
pub fn render(
    id: &str,
    problem: Option<&Problem>,
    samples: &[Sample],
    options: ShowOptions,
) -> String {
    let (stopped, finished): (Vec<&Sample>, Vec<&Sample>) =
        samples.iter().partition(|s| s.stopped_early());
    let mut finished: Vec<Sample> = finished.into_iter().cloned().collect();
    finished.sort_by_key(|s| s.sample_idx);
    let gold = problem.and_then(|p| p.answer.as_deref()).map(Gold::new);
    // With the problems file, each sample is graded here, with the rule that decided.
    let explanations: Vec<_> = finished
        .iter()
        .map(|s| problem.map(|p| explain(&s.text, p.style, gold.as_ref())))
        .collect();
    for (sample, explanation) in finished.iter_mut().zip(&explanations) {
        if let Some(e) = explanation {
            sample.extracted = e.extracted.clone();
            sample.correct = e.correct.or(sample.correct);
        }
    }
    let mut md = String::new();
    let right = finished.iter().filter(|s| s.correct == Some(true)).count();
    let _ = write!(
        md,
        "problem {id}: {} samples, {right} correct",
        finished.len()
    );
    if !stopped.is_empty() {
        let _ = write!(md, "; {} traces stopped mid-generation", stopped.len());
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
    for (sample, explanation) in finished.iter().zip(&explanations) {
        let _ = write!(
            md,
            "\n#{}  {}  answer {}",
            sample.sample_idx,
            verdict(sample.correct),
            sample.extracted.as_deref().unwrap_or("(none)")
        );
        if let Some(score) = sample.score {
            let _ = write!(md, "  score {score:.4}");
        }
        if let Some(steps) = &sample.step_scores {
            let steps: Vec<String> = steps.iter().map(|s| format!("{s:.2}")).collect();
            let _ = write!(md, "  steps [{}]", steps.join(" "));
        }
        if let Some(reason) = sample.extra.get("finish_reason").and_then(|v| v.as_str()) {
            let _ = write!(md, "  finish {reason}");
        }
        let _ = writeln!(md);
        if let Some(rule) = explanation.as_ref().and_then(|e| e.rule) {
            let _ = writeln!(md, "    rule: {rule}: {}", rule.describe());
        }
        md.push_str(&folded(&sample.text, options.fold_lines));
    }
    for sample in stopped {
        let _ = writeln!(
            md,
            "\n#{}  stopped mid-generation (no sample)",
            sample.sample_idx
        );
        md.push_str(&folded(&sample.text, options.fold_lines));
    }
    md
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
