//! Sentence embeddings through ONNX Runtime, for the diversity of samples: an embedder directory
//! holds `model.onnx` (mean pooling and L2 normalization inside the graph, output
//! `[batch, dims]`), `tokenizer.json` and `embedder.json`, as
//! `python -m bestofn_verifier embedder` writes them.

use std::path::Path;

use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::error::{Error, Result};
use crate::score::{find_library, Device, Inputs, OnnxModel};

#[derive(Debug, serde::Deserialize)]
struct EmbedderSpec {
    max_length: usize,
    onnx_inputs: Vec<String>,
    output: String,
}

pub struct Embedder {
    model: OnnxModel,
    tokenizer: Tokenizer,
}

/// Texts per ONNX Runtime call.
const BATCH: usize = 32;

impl Embedder {
    pub fn load(directory: &Path, ort_library: Option<&Path>, threads: usize) -> Result<Self> {
        Self::load_unnamed(directory, ort_library, threads)
            .map_err(|e| e.loading(&format!("the embedder {}", directory.display())))
    }

    fn load_unnamed(directory: &Path, ort_library: Option<&Path>, threads: usize) -> Result<Self> {
        let spec_path = directory.join("embedder.json");
        let text = std::fs::read_to_string(&spec_path).map_err(|e| {
            Error::ModelLoad(format!(
                "{}: {e} (`python -m bestofn_verifier embedder --out DIR` writes one)",
                spec_path.display()
            ))
        })?;
        let spec: EmbedderSpec = serde_json::from_str(&text)
            .map_err(|e| Error::ModelLoad(format!("{}: {e}", spec_path.display())))?;
        let mut tokenizer =
            Tokenizer::from_file(directory.join("tokenizer.json")).map_err(|e| {
                Error::ModelLoad(format!("{}/tokenizer.json: {e}", directory.display()))
            })?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: spec.max_length,
                ..Default::default()
            }))
            .map_err(|e| Error::ModelLoad(format!("tokenizer truncation: {e}")))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        let model = OnnxModel::load(
            &directory.join("model.onnx"),
            &find_library(ort_library)?,
            threads,
            Device::Cpu,
            &spec.onnx_inputs,
            &spec.output,
        )?;
        Ok(Embedder { model, tokenizer })
    }

    /// Unit-length embeddings of `texts`, in order.
    pub fn embed(&mut self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut embeddings = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(BATCH) {
            let encodings = self
                .tokenizer
                .encode_batch(chunk.to_vec(), true)
                .map_err(|e| Error::ModelRun(format!("tokenizing: {e}")))?;
            let column = |get: &dyn Fn(&tokenizers::Encoding) -> &[u32]| -> Vec<i64> {
                encodings
                    .iter()
                    .flat_map(|e| get(e).iter().map(|&v| i64::from(v)))
                    .collect()
            };
            let inputs = Inputs {
                rows: encodings.len(),
                columns: encodings.first().map_or(0, |e| e.len()),
                tensors: vec![
                    ("input_ids", column(&|e| e.get_ids())),
                    ("attention_mask", column(&|e| e.get_attention_mask())),
                    ("token_type_ids", column(&|e| e.get_type_ids())),
                ],
            };
            let (dims, data) = self.model.run(inputs)?;
            embeddings.extend(data.chunks(dims).map(<[f32]>::to_vec));
        }
        Ok(embeddings)
    }

    /// Mean cosine similarity over all pairs of `texts`; `None` for fewer than two.
    pub fn mean_pairwise_similarity(&mut self, texts: &[&str]) -> Result<Option<f64>> {
        if texts.len() < 2 {
            return Ok(None);
        }
        let embeddings = self.embed(texts)?;
        Ok(Some(mean_pairwise_cosine(&embeddings)))
    }
}

/// Mean dot product over all pairs of unit vectors.
pub fn mean_pairwise_cosine(vectors: &[Vec<f32>]) -> f64 {
    let mut sum = 0.0;
    let mut pairs = 0usize;
    for i in 0..vectors.len() {
        for j in i + 1..vectors.len() {
            sum += vectors[i]
                .iter()
                .zip(&vectors[j])
                .map(|(a, b)| f64::from(a * b))
                .sum::<f64>();
            pairs += 1;
        }
    }
    if pairs == 0 {
        0.0
    } else {
        sum / pairs as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_pairwise_cosine_by_hand() {
        let v = vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![1.0, 0.0]];
        // pairs: (0,1) 0, (0,2) 1, (1,2) 0 → 1/3
        assert!((mean_pairwise_cosine(&v) - 1.0 / 3.0).abs() < 1e-12);
    }
}
