//! The batched Q4_1 kernel against ggml's one-row-by-one-column product on the same tile: a
//! SmolLM2-135M projection (576 wide, 576 rows) times a 16-token batch.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

#[cfg(target_arch = "x86_64")]
fn products(c: &mut Criterion) {
    use bestofn_ggml_accel::q4_1::{self, Columns, Weights, BLOCK, Q4_1_BYTES, Q8_1_BYTES};
    use llama_cpp_sys_2 as sys;

    if !q4_1::supported() {
        eprintln!("SKIPPED q4_1 bench: this CPU lacks AVX2/FMA/F16C");
        return;
    }
    let (rows, width, tokens) = (576, 576, 16);
    let blocks = width / BLOCK;
    // SAFETY: idempotent; quantizing needs ggml's CPU kernels ready.
    unsafe { sys::ggml_cpu_init() };
    let values = |n: usize, seed: usize| -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 7919 + seed) % 1000) as f32 / 250.0 - 2.0)
            .collect()
    };
    let weights = q4_1::quantized(
        sys::GGML_TYPE_Q4_1,
        &values(rows * width, 1),
        width,
        Q4_1_BYTES,
    );
    let quants = q4_1::quantized(
        sys::GGML_TYPE_Q8_1,
        &values(tokens * width, 2),
        width,
        Q8_1_BYTES,
    );
    let mut columns = Columns::default();
    columns.reset(tokens, blocks);
    for (column, chunk) in quants.chunks(blocks * Q8_1_BYTES).enumerate() {
        columns.quants_mut(column).copy_from_slice(chunk);
    }
    // SAFETY: `supported` holds.
    unsafe { columns.read_scales() };
    let mut out = vec![0f32; rows * tokens];

    let mut group = c.benchmark_group("q4_1_576x576x16");
    group.throughput(Throughput::Elements((rows * tokens) as u64));
    group.bench_function("bestofn_batched", |b| {
        b.iter(|| {
            let weights = Weights {
                data: weights.as_ptr(),
                row_bytes: blocks * Q4_1_BYTES,
                blocks,
            };
            // SAFETY: `out` holds rows × tokens outputs, `weights` every row, `supported` holds.
            unsafe { q4_1::product(weights, &columns, 0..rows, out.as_mut_ptr(), rows) };
            black_box(&out);
        })
    });
    group.bench_function("ggml_vec_dot", |b| {
        b.iter(|| {
            for (column, chunk) in quants.chunks(blocks * Q8_1_BYTES).enumerate() {
                for row in 0..rows {
                    let weight_row = &weights[row * blocks * Q4_1_BYTES..];
                    out[column * rows + row] = q4_1::ggml_dot(width, weight_row, chunk);
                }
            }
            black_box(&out);
        })
    });
    group.finish();
}

#[cfg(not(target_arch = "x86_64"))]
fn products(_: &mut Criterion) {
    eprintln!("SKIPPED q4_1 bench: the kernel is for x86-64 only");
}

criterion_group!(benches, products);
criterion_main!(benches);
