//! Kernels of label, rank and eval on real text: answer extraction and grading, answer keys,
//! the per-problem estimators, and a whole evaluation of 1,319 problems × 100 samples.

mod common;

use std::hint::black_box;

use bestofn::eval::{evaluate, verifier_at_k, voting_at_ks, EvalOptions, VoteScratch};
use bestofn::grade::{answer_key, grade, AnswerStyle, Gold};
use bestofn::pool::build_pools;
use bestofn::rank::{rank, Strategy};
use bestofn::records::read_problems;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

fn grading(c: &mut Criterion) {
    let pool = common::faithful_cot_pool();
    let texts: Vec<&str> = pool
        .samples
        .iter()
        .take(4100)
        .map(|s| s.text.as_str())
        .collect();
    let gold = Gold::new("18");
    let mut group = c.benchmark_group("grade");
    group.throughput(Throughput::Elements(texts.len() as u64));
    group.bench_function("faithful_cot_text_gsm8k_style", |b| {
        b.iter(|| {
            for text in &texts {
                black_box(grade(text, AnswerStyle::Gsm8k, Some(&gold)));
            }
        })
    });
    let math = read_problems(
        &common::shared_data("math500/test.jsonl"),
        &Default::default(),
    )
    .unwrap();
    let solutions: Vec<(&str, Gold)> = math
        .iter()
        .map(|p| {
            (
                p.solution.as_deref().unwrap(),
                Gold::new(p.answer.as_deref().unwrap()),
            )
        })
        .collect();
    group.throughput(Throughput::Elements(solutions.len() as u64));
    group.bench_function("math500_solution_math_style", |b| {
        b.iter(|| {
            for (solution, gold) in &solutions {
                black_box(grade(solution, AnswerStyle::Math, Some(gold)));
            }
        })
    });
    let answers: Vec<&str> = math.iter().map(|p| p.answer.as_deref().unwrap()).collect();
    group.bench_function("math500_answer_key", |b| {
        b.iter(|| {
            for answer in &answers {
                black_box(answer_key(&bestofn::grade::normalize(answer)));
            }
        })
    });
    // Wrong answers go through every rule down to the answer tree and the identity test.
    let normalized: Vec<String> = answers
        .iter()
        .map(|a| bestofn::grade::normalize(a))
        .collect();
    let golds: Vec<Gold> = answers.iter().map(|a| Gold::new(a)).collect();
    group.bench_function("math500_answer_vs_other_gold", |b| {
        b.iter(|| {
            for (answer, gold) in normalized.iter().zip(golds.iter().cycle().skip(1)) {
                black_box(gold.matches(answer));
            }
        })
    });
    group.finish();
}

fn estimators(c: &mut Criterion) {
    let imported = common::faithful_cot_pool();
    let mut samples = common::resampled_pool(&imported.samples, 100);
    let lines: Vec<usize> = (1..=samples.len()).collect();
    bestofn::label::label(
        &imported.problems,
        &mut samples,
        &lines,
        std::path::Path::new("bench"),
        &Default::default(),
    )
    .unwrap();
    let pools = build_pools(&samples);
    let ks = [1, 2, 4, 8, 16, 32, 64, 100];

    let mut group = c.benchmark_group("eval");
    group.sample_size(10);
    group.throughput(Throughput::Elements(pools.len() as u64));
    group.bench_function("voting_at_ks_100_trials_1319x100", |b| {
        let mut scratch = VoteScratch::default();
        b.iter(|| {
            for pool in &pools {
                black_box(voting_at_ks(pool, &ks, 100, 7, &mut scratch));
            }
        })
    });
    group.bench_function("verifier_at_k_1319x100", |b| {
        b.iter(|| {
            for pool in &pools {
                for &k in &ks {
                    black_box(verifier_at_k(pool, k));
                }
            }
        })
    });
    group.bench_function("evaluate_with_bootstrap_1319x100", |b| {
        b.iter(|| black_box(evaluate(&pools, &EvalOptions::default()).unwrap()))
    });
    group.bench_function("build_pools_1319x100", |b| {
        b.iter_batched(
            || (),
            |()| black_box(build_pools(&samples)),
            BatchSize::LargeInput,
        )
    });
    group.bench_function("rank_all_strategies_1319x100", |b| {
        b.iter(|| {
            for strategy in [
                Strategy::First,
                Strategy::Majority,
                Strategy::Verifier,
                Strategy::Weighted,
                Strategy::TopkVote { k: 5 },
            ] {
                black_box(rank(&pools, strategy).unwrap());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, grading, estimators);
criterion_main!(benches);
