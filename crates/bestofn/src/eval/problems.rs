//! `problems.jsonl` in the report: one line per problem for one's own error analysis: how many
//! samples it had and how many were right, what each strategy answered on the full pool and
//! whether that was right, and the votes each distinct answer got.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::EvalOptions;
use crate::error::Result;
use crate::pool::{ProblemPool, NO_ANSWER};
use crate::rank::{check_weights, rank, Strategy};

/// The strategies the report's curves end in, on the full pool: those the samples allow.
fn strategies(pools: &[ProblemPool], options: &EvalOptions) -> Vec<Strategy> {
    let scored = pools.iter().all(|p| p.scores.is_some());
    let confidence = scored && pools.iter().any(|p| p.score_kind.is_some());
    let mut strategies = vec![Strategy::First, Strategy::Majority];
    if scored {
        strategies.extend([Strategy::Verifier, Strategy::Weighted]);
    }
    if confidence {
        if check_weights(pools, options.confidence_vote()).is_ok() {
            strategies.push(options.confidence_vote());
        }
        strategies.push(options.borda());
    }
    strategies
}

/// One JSON object per problem, in the pools' order.
pub fn problem_lines(pools: &[ProblemPool], options: &EvalOptions) -> Result<Vec<Value>> {
    let strategies = strategies(pools, options);
    let answers = strategies
        .iter()
        .map(|&strategy| Ok((strategy, rank(pools, strategy)?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(pools
        .iter()
        .enumerate()
        .map(|(i, pool)| {
            let mut picked = Map::new();
            for (strategy, answers) in &answers {
                let answer = &answers[i];
                picked.insert(
                    strategy.to_string(),
                    json!({"answer": answer.answer, "correct": answer.correct}),
                );
            }
            let correct = pool.num_correct();
            json!({
                "problem_id": pool.problem_id,
                "samples": pool.len(),
                "correct_samples": correct,
                "covered": correct > 0,
                "answers": picked,
                "votes": votes(pool),
            })
        })
        .collect())
}

/// Each distinct answer with its votes and its label, most votes first (then first seen).
fn votes(pool: &ProblemPool) -> Vec<Value> {
    let mut by_answer: BTreeMap<u32, (usize, Option<bool>)> = BTreeMap::new();
    let mut unanswered = 0;
    for (&answer, &correct) in pool.answer_ids.iter().zip(&pool.correct) {
        if answer == NO_ANSWER {
            unanswered += 1;
            continue;
        }
        let entry = by_answer.entry(answer).or_insert((0, correct));
        entry.0 += 1;
    }
    let mut votes: Vec<(u32, usize, Option<bool>)> = by_answer
        .into_iter()
        .map(|(answer, (count, correct))| (answer, count, correct))
        .collect();
    votes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut lines: Vec<Value> = votes
        .into_iter()
        .map(|(answer, count, correct)| {
            json!({"answer": pool.answer_texts[answer as usize], "samples": count, "correct": correct})
        })
        .collect();
    if unanswered > 0 {
        lines.push(json!({"answer": null, "samples": unanswered, "correct": false}));
    }
    lines
}
