//! A batched Q4_1 × Q8_1 matrix product for x86-64 with AVX2, the kernel behind [`crate::accel`].
//!
//! ggml has no batched form of this product on x86: a batch of tokens runs its one-row-by-one-
//! column dot product (`ggml_vec_dot_q4_1_q8_1`) once per output, unpacking every weight block
//! again for each token. This kernel computes a tile of weight rows by token columns at once, so a
//! weight block is unpacked once per tile and each token's block once per pair of rows. Every
//! output is computed with exactly ggml's operations in ggml's order (the same integer block
//! sums, the same 8-lane fused accumulation, the same horizontal sum, the same scalar sum of
//! the offsets), so it is bit-identical to ggml's: the samples do not change.

use std::arch::x86_64::*;
use std::ops::Range;

use llama_cpp_sys_2 as sys;

/// Values per quantization block (`QK4_1` = `QK8_1` in ggml).
pub const BLOCK: usize = 32;
/// `block_q4_1`: f16 scale `d`, f16 offset `m`, 16 bytes of 4-bit quants (low nibbles are values
/// 0..16, high nibbles 16..32).
pub const Q4_1_BYTES: usize = 20;
/// `block_q8_1`: f16 scale `d`, f16 `s` = d × sum of the quants, 32 signed 8-bit quants.
pub const Q8_1_BYTES: usize = 36;

/// Weight rows in `block_q4_1`s, `row_bytes` apart.
#[derive(Clone, Copy)]
pub struct Weights {
    pub data: *const u8,
    pub row_bytes: usize,
    pub blocks: usize,
}

/// Token columns quantized to `block_q8_1`s (by ggml's own quantizer), plus each block's scale
/// and sum as f32 laid out block by block, so a tile of columns reads them side by side.
#[derive(Default)]
pub struct Columns {
    quants: Vec<u8>,
    scales: Vec<f32>,
    sums: Vec<f32>,
    columns: usize,
    blocks: usize,
}

impl Columns {
    /// Resizes for `columns` columns of `blocks` blocks; the quants are then written through
    /// [`Columns::quants_mut`] and the scales taken with [`Columns::read_scales`].
    pub fn reset(&mut self, columns: usize, blocks: usize) {
        self.columns = columns;
        self.blocks = blocks;
        self.quants.resize(columns * blocks * Q8_1_BYTES, 0);
        // Padded: a tile reads the scales of COLS columns, even where fewer are left.
        self.scales.resize(columns * blocks + COLS, 0.0);
        self.sums.resize(columns * blocks + COLS, 0.0);
    }

    /// The quants of one column, to be filled with `blocks` `block_q8_1`s.
    pub fn quants_mut(&mut self, column: usize) -> &mut [u8] {
        let len = self.blocks * Q8_1_BYTES;
        &mut self.quants[column * len..(column + 1) * len]
    }

    /// Copies every block's f16 scale and sum into the block-major f32 arrays.
    ///
    /// # Safety
    /// The CPU must pass [`supported`].
    #[target_feature(enable = "f16c")]
    pub unsafe fn read_scales(&mut self) {
        for column in 0..self.columns {
            for block in 0..self.blocks {
                let at = self
                    .quants
                    .as_ptr()
                    .add((column * self.blocks + block) * Q8_1_BYTES);
                self.scales[block * self.columns + column] = half_at(at);
                self.sums[block * self.columns + column] = half_at(at.add(2));
            }
        }
    }
}

/// Whether this CPU runs the kernel.
pub fn supported() -> bool {
    is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c")
}

/// Whether the CPU has AVX-512 VNNI, whose `vpdpbusd` makes a block's 8 lane sums in one
/// instruction instead of two (the same integers).
fn vnni() -> bool {
    is_x86_feature_detected!("avx512vnni") && is_x86_feature_detected!("avx512vl")
}

/// Rows of the tile: two rows share each column's loaded quants.
const ROWS: usize = 2;
/// Columns of the tile: four columns share each row's unpacked weights.
const COLS: usize = 4;

/// `out[column * out_stride + row] = weights[row] · columns[column]` for the rows in `rows`.
///
/// # Safety
/// `weights` must hold `rows.end` rows of `columns.blocks` blocks; `out` must be valid for
/// writes at every such index; the CPU must pass [`supported`].
pub unsafe fn product(
    weights: Weights,
    columns: &Columns,
    rows: Range<usize>,
    out: *mut f32,
    out_stride: usize,
) {
    debug_assert_eq!(weights.blocks, columns.blocks);
    let at = Output {
        weights,
        columns,
        out,
        out_stride,
    };
    if vnni() {
        product_vnni(&at, rows);
    } else {
        product_avx2(&at, rows);
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn product_avx2(at: &Output<'_>, rows: Range<usize>) {
    tiles::<Maddubs>(at, rows);
}

#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vnni,avx512vl")]
unsafe fn product_vnni(at: &Output<'_>, rows: Range<usize>) {
    tiles::<Dpbusd>(at, rows);
}

/// The 8 lane sums of a block's 32 products of unsigned weight quants by signed token quants,
/// each lane summing 4 neighbouring products: what ggml's `mul_sum_us8_pairs_float` converts.
trait LaneSums {
    unsafe fn lane_sums(weights: __m256i, tokens: __m256i) -> __m256i;
}

/// `vpmaddubsw` then `vpmaddwd` by ones, as ggml's AVX2 build (no pair can saturate: 2 × 15 × 127).
struct Maddubs;

impl LaneSums for Maddubs {
    #[inline(always)]
    unsafe fn lane_sums(weights: __m256i, tokens: __m256i) -> __m256i {
        let pairs = _mm256_maddubs_epi16(weights, tokens);
        _mm256_madd_epi16(_mm256_set1_epi16(1), pairs)
    }
}

/// `vpdpbusd`, as ggml's AVX-512 VNNI build.
struct Dpbusd;

impl LaneSums for Dpbusd {
    #[inline(always)]
    unsafe fn lane_sums(weights: __m256i, tokens: __m256i) -> __m256i {
        _mm256_dpbusd_epi32(_mm256_setzero_si256(), weights, tokens)
    }
}

/// Where the outputs go.
struct Output<'a> {
    weights: Weights,
    columns: &'a Columns,
    out: *mut f32,
    out_stride: usize,
}

#[inline(always)]
unsafe fn tiles<S: LaneSums>(at: &Output<'_>, rows: Range<usize>) {
    let mut row = rows.start;
    while row < rows.end {
        let tile_rows = (rows.end - row).min(ROWS);
        let mut column = 0;
        while column < at.columns.columns {
            let tile_columns = (at.columns.columns - column).min(COLS);
            match (tile_rows, tile_columns) {
                (2, 4) => tile::<S, 2, 4>(at, row, column),
                (2, 3) => tile::<S, 2, 3>(at, row, column),
                (2, 2) => tile::<S, 2, 2>(at, row, column),
                (2, 1) => tile::<S, 2, 1>(at, row, column),
                (_, 4) => tile::<S, 1, 4>(at, row, column),
                (_, 3) => tile::<S, 1, 3>(at, row, column),
                (_, 2) => tile::<S, 1, 2>(at, row, column),
                _ => tile::<S, 1, 1>(at, row, column),
            }
            column += tile_columns;
        }
        row += tile_rows;
    }
}

/// R × C outputs from `row`, `column`, each as ggml's `ggml_vec_dot_q4_1_q8_1` computes it: per
/// block, the 8 lane sums converted to f32 and fused-multiply-added with `d_w × d_x` into 8 lanes;
/// the offsets `m_w × s_x` summed in a scalar; the lanes summed as `hsum_float_8`, plus the offsets.
#[inline(always)]
unsafe fn tile<S: LaneSums, const R: usize, const C: usize>(
    at: &Output<'_>,
    row: usize,
    column: usize,
) {
    let (weights, columns) = (at.weights, at.columns);
    let blocks = weights.blocks;
    let low_nibbles = _mm256_set1_epi8(0x0f);
    let row_data: [*const u8; R] =
        std::array::from_fn(|r| weights.data.add((row + r) * weights.row_bytes));
    let column_data: [*const u8; C] = std::array::from_fn(|c| {
        columns
            .quants
            .as_ptr()
            .add((column + c) * blocks * Q8_1_BYTES)
    });
    let lane = |c: usize| _mm256_set1_epi32(c as i32);
    let mut lanes = [[_mm256_setzero_ps(); C]; R];
    // Row r's offsets for the tile's columns, a lane each: lane c as ggml's scalar `summs`.
    let mut offsets = [_mm_setzero_ps(); R];
    for block in 0..blocks {
        let at_block = block * columns.columns + column;
        let x_scales = _mm_loadu_ps(columns.scales.as_ptr().add(at_block));
        let x_sums = _mm_loadu_ps(columns.sums.as_ptr().add(at_block));
        let mut quants = [_mm256_setzero_si256(); R];
        // Row r's `d_w × d_x` for the tile's columns, a lane each.
        let mut both_scales = [_mm256_setzero_ps(); R];
        for r in 0..R {
            let w = row_data[r].add(block * Q4_1_BYTES);
            // d and m, the block's two halves, converted together.
            let dm = _mm_cvtph_ps(_mm_cvtsi32_si128(std::ptr::read_unaligned(w as *const i32)));
            both_scales[r] = _mm256_castps128_ps256(_mm_mul_ps(_mm_broadcastss_ps(dm), x_scales));
            offsets[r] = _mm_fmadd_ps(_mm_permute_ps::<0b0101_0101>(dm), x_sums, offsets[r]);
            let packed = _mm_loadu_si128(w.add(4) as *const __m128i);
            let both = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);
            quants[r] = _mm256_and_si256(low_nibbles, both);
        }
        for c in 0..C {
            let x =
                _mm256_loadu_si256(column_data[c].add(block * Q8_1_BYTES + 4) as *const __m256i);
            for r in 0..R {
                let sums = _mm256_cvtepi32_ps(S::lane_sums(quants[r], x));
                let scale = _mm256_permutevar8x32_ps(both_scales[r], lane(c));
                lanes[r][c] = _mm256_fmadd_ps(scale, sums, lanes[r][c]);
            }
        }
    }
    for r in 0..R {
        let mut offset = [0f32; 4];
        _mm_storeu_ps(offset.as_mut_ptr(), offsets[r]);
        for c in 0..C {
            *at.out.add((column + c) * at.out_stride + row + r) =
                hsum_float_8(lanes[r][c]) + offset[c];
        }
    }
}

#[inline(always)]
unsafe fn half_at(at: *const u8) -> f32 {
    let half = std::ptr::read_unaligned(at as *const u16);
    _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(i32::from(half))))
}

/// ggml's `hsum_float_8`, in its order.
#[inline(always)]
unsafe fn hsum_float_8(x: __m256) -> f32 {
    let mut res = _mm256_extractf128_ps(x, 1);
    res = _mm_add_ps(res, _mm256_castps256_ps128(x));
    res = _mm_add_ps(res, _mm_movehl_ps(res, res));
    res = _mm_add_ss(res, _mm_movehdup_ps(res));
    _mm_cvtss_f32(res)
}

/// Whether every output of both kernels this CPU runs is bit-identical to ggml's own
/// `ggml_vec_dot_q4_1_q8_1` on a check of `rows` × up to 9 columns of `width` values: ggml's
/// build flags (its own FMA, its lane sums) decide what its kernel computes, so the kernel is
/// used only where this holds. Errors name the first output that differs.
///
/// ggml's CPU backend must be initialised (`ggml_cpu_init`).
pub fn check_against_ggml(rows: usize, width: usize) -> Result<(), String> {
    if !supported() {
        return Err("this CPU lacks AVX2/FMA/F16C".into());
    }
    let kernels: &[(&str, Kernel)] = if vnni() {
        &[("avx2", product_avx2), ("vnni", product_vnni)]
    } else {
        &[("avx2", product_avx2)]
    };
    let blocks = width / BLOCK;
    let mut values = Values(0x9e37_79b9_7f4a_7c15);
    let weights = quantized(
        sys::GGML_TYPE_Q4_1,
        &values.take(rows * width),
        width,
        Q4_1_BYTES,
    );
    let weight_row = |row: usize| &weights[row * blocks * Q4_1_BYTES..];
    for count in 1..=9 {
        let tokens = quantized(
            sys::GGML_TYPE_Q8_1,
            &values.take(count * width),
            width,
            Q8_1_BYTES,
        );
        let mut columns = Columns::default();
        columns.reset(count, blocks);
        for (column, quants) in tokens.chunks(blocks * Q8_1_BYTES).enumerate() {
            columns.quants_mut(column).copy_from_slice(quants);
        }
        // SAFETY: `supported` holds.
        unsafe { columns.read_scales() };
        for (name, kernel) in kernels {
            let mut out = vec![f32::NAN; rows * count];
            let at = Output {
                weights: Weights {
                    data: weights.as_ptr(),
                    row_bytes: blocks * Q4_1_BYTES,
                    blocks,
                },
                columns: &columns,
                out: out.as_mut_ptr(),
                out_stride: rows,
            };
            // Two calls over a split of the rows, as two threads make them. SAFETY: `out` holds
            // every output of the `rows` rows, `weights` the rows, and `supported` holds.
            unsafe {
                kernel(&at, 0..rows / 2);
                kernel(&at, rows / 2..rows);
            }
            for (column, quants) in tokens.chunks(blocks * Q8_1_BYTES).enumerate() {
                for row in 0..rows {
                    let expected = ggml_dot(width, weight_row(row), quants);
                    let got = out[column * rows + row];
                    if got.to_bits() != expected.to_bits() {
                        return Err(format!(
                            "{name}: row {row}, column {column} of {count}: {got} vs ggml {expected}"
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

type Kernel = unsafe fn(&Output<'_>, Range<usize>);

/// Deterministic check values in -2..2, every 61st 40 times larger so that blocks differ in scale.
struct Values(u64);

impl Values {
    fn take(&mut self, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                // splitmix64
                self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = self.0;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                let unit = (z >> 40) as f32 / (1u64 << 24) as f32;
                (unit * 4.0 - 2.0) * if i % 61 == 0 { 40.0 } else { 1.0 }
            })
            .collect()
    }
}

/// Rows quantized by ggml's own `from_float` for `kind`, `bytes` per block.
pub fn quantized(kind: sys::ggml_type, values: &[f32], width: usize, bytes: usize) -> Vec<u8> {
    // SAFETY: ggml's type traits are static; `out` holds every row's blocks.
    let quantize = unsafe { (*sys::ggml_get_type_traits_cpu(kind)).from_float }
        .expect("ggml quantizes to Q4_1 and Q8_1");
    let row_bytes = width / BLOCK * bytes;
    let mut out = vec![0u8; values.len() / width * row_bytes];
    for (row, chunk) in values.chunks(width).enumerate() {
        let target = out[row * row_bytes..].as_mut_ptr();
        // SAFETY: `chunk` holds `width` values, `target` a row's blocks.
        unsafe { quantize(chunk.as_ptr(), target.cast(), width as i64) };
    }
    out
}

/// ggml's own one-row-by-one-column product.
pub fn ggml_dot(width: usize, weights: &[u8], tokens: &[u8]) -> f32 {
    // SAFETY: both hold `width / BLOCK` blocks of their types.
    let dot = unsafe { (*sys::ggml_get_type_traits_cpu(sys::GGML_TYPE_Q4_1)).vec_dot }
        .expect("ggml has a Q4_1 dot product");
    let mut out = 0f32;
    unsafe {
        dot(
            width as i32,
            &mut out,
            0,
            weights.as_ptr().cast(),
            0,
            tokens.as_ptr().cast(),
            0,
            1,
        )
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_output_is_bit_identical_to_ggml_vec_dot() {
        if !supported() {
            eprintln!("skipped: this CPU lacks AVX2/FMA/F16C");
            return;
        }
        if !vnni() {
            eprintln!("this CPU has no AVX-512 VNNI: only the AVX2 kernel is tested");
        }
        unsafe { sys::ggml_cpu_init() };
        for (rows, blocks) in [(7, 5), (2, 1), (1, 18), (64, 48)] {
            check_against_ggml(rows, blocks * BLOCK).unwrap();
        }
    }
}
