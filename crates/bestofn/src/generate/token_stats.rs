//! What a run records of each generated token with `--token-stats`: the chosen token's
//! log-probability, DeepConf's token confidence C = −(1/k)·Σ_{j≤k} log P(j) over the k most
//! likely tokens (and the chosen one when it is not among them, as DeepConf's reference code
//! reads vLLM's top-k dict, which then holds it too), and, where the whole next-token distribution is at hand (the embedded engine),
//! the token's self-certainty KL(uniform ‖ p). Log-probabilities are the model's own (its raw
//! logits, before temperature or truncation), as vLLM reports them by default.
//!
//! The sample field `tokens` = `{"prompt", "completion", "logprobs", "confidence",
//! "self_certainty"?, "top_logprobs"?}`, with an entry per generated token, the end-of-text
//! token included (as servers count it; `num_tokens` leaves it out); values are rounded to 4 decimals (DeepConf's reference
//! code keeps 3), which keeps a token's three numbers under 25 bytes of JSON.

use serde_json::{json, Map, Value};

/// What `--token-stats` asks every backend to record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenStatsRequest {
    /// k of the token confidence: the most likely tokens read per position (`--top-logprobs`).
    pub top_logprobs: usize,
    /// Keep those k log-probabilities in the record (`--keep-top-logprobs`).
    pub keep_top_logprobs: bool,
}

/// Most top log-probabilities a run may ask for (OpenAI's API allows 20, vLLM's default cap is 20).
pub const MAX_TOP_LOGPROBS: usize = 20;

/// One sample's token statistics, built a token at a time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenStats {
    pub prompt: Option<u32>,
    /// Values rounded to 4 decimals, as f64 so that they print as such.
    pub logprobs: Vec<f64>,
    pub confidence: Vec<f64>,
    /// Only where the full distribution was read (the embedded engine).
    pub self_certainty: Option<Vec<f64>>,
    /// Only with `--keep-top-logprobs`.
    pub top_logprobs: Option<Vec<Vec<f64>>>,
}

/// DeepConf's token confidence: minus the mean of the k best log-probabilities (best first),
/// and of the chosen token's beside them when it is not among them.
fn token_confidence(chosen: f32, top: &[f32]) -> f32 {
    let outside_top = top.last().is_some_and(|&last| chosen < last);
    let extra = outside_top.then_some(chosen);
    let count = top.len() + usize::from(outside_top);
    if count == 0 {
        return f32::NAN;
    }
    let sum: f64 = top.iter().chain(extra.iter()).map(|&l| f64::from(l)).sum();
    -(sum / count as f64) as f32
}

fn rounded(value: f32) -> f64 {
    (f64::from(value) * 1e4).round() / 1e4
}

impl TokenStats {
    /// Statistics of the tokens to come, with `prompt` tokens of prompt where known.
    pub fn new(prompt: Option<u32>, request: &TokenStatsRequest, full_distribution: bool) -> Self {
        TokenStats {
            prompt,
            self_certainty: full_distribution.then(Vec::new),
            top_logprobs: request.keep_top_logprobs.then(Vec::new),
            ..TokenStats::default()
        }
    }

    /// Adds a token from the chosen token's log-probability and the k best log-probabilities
    /// (best first), as a server reports them.
    pub fn push_reported(&mut self, chosen: f32, top: &[f32]) {
        self.logprobs.push(rounded(chosen));
        self.confidence.push(rounded(token_confidence(chosen, top)));
        if let Some(kept) = self.top_logprobs.as_mut() {
            kept.push(top.iter().map(|&l| rounded(l)).collect());
        }
    }

    /// Adds a token from the model's full logits and the chosen token's id.
    pub fn push_logits(&mut self, logits: &[f32], chosen: usize, k: usize, top: &mut Vec<f32>) {
        let (log_norm, mean_logit) = log_normalizer_and_mean(logits);
        top_values(logits, k, top);
        for value in top.iter_mut() {
            *value -= log_norm;
        }
        if let Some(self_certainty) = self.self_certainty.as_mut() {
            // KL(U ‖ p) = −log V − mean_j log p_j, and log p_j = l_j − log Z.
            let kl = -(logits.len() as f32).ln() - mean_logit + log_norm;
            self_certainty.push(rounded(kl));
        }
        self.push_reported(logits[chosen] - log_norm, top);
    }

    /// The `tokens` field of the sample.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("prompt".into(), json!(self.prompt));
        map.insert("completion".into(), json!(self.logprobs.len()));
        map.insert("logprobs".into(), json!(self.logprobs));
        map.insert("confidence".into(), json!(self.confidence));
        if let Some(self_certainty) = &self.self_certainty {
            map.insert("self_certainty".into(), json!(self_certainty));
        }
        if let Some(top) = &self.top_logprobs {
            map.insert("top_logprobs".into(), json!(top));
        }
        Value::Object(map)
    }
}

/// log Σ exp(l) and the mean of `logits`, in one pass after the maximum.
pub(crate) fn log_normalizer_and_mean(logits: &[f32]) -> (f32, f32) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sums = [0f32; 8];
    let mut totals = [0f32; 8];
    let chunks = logits.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        for lane in 0..8 {
            sums[lane] += fast_exp(chunk[lane] - max);
            totals[lane] += chunk[lane];
        }
    }
    let mut sum: f64 = sums.iter().map(|&s| f64::from(s)).sum();
    let mut total: f64 = totals.iter().map(|&s| f64::from(s)).sum();
    for &l in rest {
        sum += f64::from((l - max).exp());
        total += f64::from(l);
    }
    (max + sum.ln() as f32, (total / logits.len() as f64) as f32)
}

/// e^x for x ≤ 0 to about 1e-6 + |x|·1.2e-7 relative (an f32 argument's own precision),
/// branch-free so the loop above vectorizes: e^x = 2^n·e^r with n the integer nearest x·log2 e
/// (rounded by adding 1.5·2^23), r = x − n·ln 2 in two parts (Cody–Waite), e^r by its Taylor
/// polynomial of degree 6 (|r| ≤ ln 2 / 2: error below 2e-7), 2^n set in the exponent bits.
#[inline(always)]
fn fast_exp(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0;
    let x = x.max(-87.0);
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// The `k` largest values of `values`, largest first, into `top`.
fn top_values(values: &[f32], k: usize, top: &mut Vec<f32>) {
    top.clear();
    if k == 0 {
        return;
    }
    for &value in values {
        if top.len() == k {
            if value <= top[k - 1] {
                continue;
            }
            top.pop();
        }
        let at = top.partition_point(|&kept| kept >= value);
        top.insert(at, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn exact(logits: &[f32]) -> (f64, Vec<f64>) {
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let z = logits
            .iter()
            .map(|&l| (l as f64 - max).exp())
            .sum::<f64>()
            .ln()
            + max;
        (z, logits.iter().map(|&l| l as f64 - z).collect())
    }

    proptest! {
        #[test]
        fn statistics_from_logits_match_the_definitions(
            logits in prop::collection::vec(-30f32..30.0, 1..300),
            pick in 0usize..300,
            k in 1usize..=20,
        ) {
            let chosen = pick % logits.len();
            let mut stats = TokenStats::new(Some(3), &TokenStatsRequest { top_logprobs: k, keep_top_logprobs: true }, true);
            stats.push_logits(&logits, chosen, k, &mut Vec::new());
            let (_, logp) = exact(&logits);
            let mut sorted = logp.clone();
            sorted.sort_by(|a, b| b.partial_cmp(a).unwrap());
            let top: Vec<f64> = sorted.into_iter().take(k).collect();
            let mut read = top.clone();
            if logp[chosen] < top[top.len() - 1] - 1e-9 {
                read.push(logp[chosen]);
            }
            let confidence = -read.iter().sum::<f64>() / read.len() as f64;
            let v = logits.len() as f64;
            let kl = -v.ln() - logp.iter().sum::<f64>() / v;
            prop_assert!((stats.logprobs[0] - logp[chosen]).abs() < 2e-4);
            prop_assert!((stats.confidence[0] - confidence).abs() < 2e-4);
            prop_assert!((stats.self_certainty.as_ref().unwrap()[0] - kl).abs() < 2e-4);
            let kept = &stats.top_logprobs.as_ref().unwrap()[0];
            prop_assert_eq!(kept.len(), top.len());
            for (a, b) in kept.iter().zip(&top) {
                prop_assert!((a - b).abs() < 2e-4);
            }
        }

        #[test]
        fn the_fast_exponential_is_close_everywhere_it_is_used(x in -200f32..=0.0) {
            let want = (x as f64).exp();
            let got = fast_exp(x) as f64;
            // An f32 argument is itself known to |x|·6e-8: the result to that, relatively.
            let tolerance = want * (1e-6 + 1.2e-7 * (x.abs() as f64)) + 1e-37;
            prop_assert!((got - want).abs() <= tolerance, "{x}: {got} vs {want}");
        }
    }

    #[test]
    fn a_record_holds_what_was_asked() {
        let request = TokenStatsRequest {
            top_logprobs: 2,
            keep_top_logprobs: false,
        };
        let mut stats = TokenStats::new(Some(7), &request, false);
        stats.push_reported(-0.25, &[-0.25, -1.75]);
        // A chosen token outside the k best counts beside them.
        stats.push_reported(-4.0, &[-0.5, -1.5]);
        assert_eq!(
            stats.to_json(),
            json!({"prompt": 7, "completion": 2, "logprobs": [-0.25, -4.0], "confidence": [1.0, 2.0]})
        );
    }
}
