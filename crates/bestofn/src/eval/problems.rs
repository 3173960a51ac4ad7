//! `problems.jsonl` in the report: one line per problem for one's own error analysis: how many
//! samples it had and how many were right, what each strategy answered on the full pool and
//! whether that was right, and the votes each distinct answer got.

use serde_json::{json, Map, Value};

use super::EvalOptions;
use crate::error::Result;
use crate::pool::ProblemPool;
use crate::rank::{check_weights, rank, Strategy};

/// The strategies the report's curves end in, on the full pool: those the samples allow.
pub(crate) fn strategies(pools: &[ProblemPool], options: &EvalOptions) -> Vec<Strategy> {
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

/// Each distinct answer with its votes and its label (no answer is wrong).
fn votes(pool: &ProblemPool) -> Vec<Value> {
    pool.answer_votes()
        .into_iter()
        .map(|v| {
            let correct = v.correct.or(v.answer.is_none().then_some(false));
            json!({"answer": v.answer, "samples": v.samples, "correct": correct})
        })
        .collect()
}
