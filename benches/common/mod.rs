//! Inputs shared by the benchmarks: real candidates from `../shared/data`, resampled into
//! pools of any size with a fixed seed.

use std::path::PathBuf;

use bestofn::import::{import, Format, Imported};
use bestofn::io::TableFormat;
use bestofn::records::Sample;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

pub fn shared_data(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(relative)
}

/// The Faithful-CoT GSM8K pool: 1,319 problems × 41 real candidates, with the pool's labels.
pub fn faithful_cot_pool() -> Imported {
    import(
        &shared_data("samples/faithful_cot_gsm8k_test_pool.derived.jsonl.gz"),
        &Format::FaithfulCotPool,
        TableFormat::Auto,
        None,
    )
    .expect("../shared/data must be beside the repository")
}

/// `n` samples per problem drawn with replacement from each problem's candidates, each with a
/// seeded uniform score (timing only: the scores mean nothing).
pub fn resampled_pool(candidates: &[Sample], n: usize) -> Vec<Sample> {
    let mut rng = Pcg64Mcg::seed_from_u64(0);
    let groups = bestofn::records::group_by_problem(candidates);
    let mut samples = Vec::with_capacity(groups.len() * n);
    for (_, group) in groups {
        for idx in 0..n {
            let mut sample = group[rng.gen_range(0..group.len())].clone();
            sample.sample_idx = idx as u32;
            sample.score = Some(rng.gen());
            samples.push(sample);
        }
    }
    samples
}
