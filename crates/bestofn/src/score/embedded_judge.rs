//! The LLM judge in process: a GGUF model run by embedded llama.cpp (`score --backend judge
//! --model FILE.gguf`, no `--base-url`; the bundled SmolLM2 when `--model` is left out). The same
//! prompt as the served judge, through the model's chat template; P(correct) = p(Yes) / (p(Yes) +
//! p(No)) over the model's full next-token distribution, every token spelling either word
//! ("Yes", " yes", ...) counted. Attention runs without flash attention, so the probabilities
//! are llama.cpp's as its other front ends compute them.

use std::path::PathBuf;

use super::log::fingerprint;

/// What the embedded judge runs: the model, its prompt, and CPU threads.
#[derive(Debug, Clone)]
pub struct EmbeddedJudgeOptions {
    pub model: PathBuf,
    /// The user message, with {question} and {solution}.
    pub template: String,
    pub threads: usize,
}

impl EmbeddedJudgeOptions {
    /// What identifies the judge in the scoring log.
    pub fn id(&self) -> String {
        let name = self.model.file_name().unwrap_or_default().to_string_lossy();
        format!(
            "judge llama.cpp {name} template {}",
            fingerprint(&self.template, "")
        )
    }
}

#[cfg(feature = "llama")]
pub use engine::EmbeddedJudge;

#[cfg(feature = "llama")]
mod engine {
    use super::*;
    use crate::error::{Error, Result};
    use crate::generate::{LlamaBackend, LlamaOptions, Prompt};
    use crate::score::scorer::{Pair, PairScore, ScoreStats, Scored, Scorer};
    use crate::score::spec::fill_template;

    pub struct EmbeddedJudge {
        backend: LlamaBackend,
        template: String,
        /// Tokens spelling "yes", then those spelling "no".
        candidates: Vec<llama_cpp_2::token::LlamaToken>,
        yes: usize,
        id: String,
    }

    impl EmbeddedJudge {
        pub fn load(options: &EmbeddedJudgeOptions) -> Result<Self> {
            let backend = LlamaBackend::load(&LlamaOptions {
                model: options.model.clone(),
                parallel: 1,
                threads: options.threads,
                q4_1_kernel: Ok(()),
                flash_attention: false,
            })?;
            let words = backend.tokens_spelling(&["yes", "no"]);
            if words.iter().any(Vec::is_empty) {
                return Err(Error::ModelLoad(format!(
                    "{}: no token spells Yes or No in its vocabulary; it cannot judge",
                    options.model.display()
                )));
            }
            Ok(EmbeddedJudge {
                yes: words[0].len(),
                candidates: words.concat(),
                backend,
                template: options.template.clone(),
                id: options.id(),
            })
        }
    }

    impl Scorer for EmbeddedJudge {
        fn id(&self) -> &str {
            &self.id
        }

        fn chunk_size(&self) -> usize {
            16
        }

        fn score(&mut self, pairs: &[Pair<'_>], stats: &mut ScoreStats) -> Result<Vec<PairScore>> {
            let started = std::time::Instant::now();
            let prompts: Vec<Prompt> = pairs
                .iter()
                .map(|pair| Prompt::Chat {
                    system: None,
                    user: fill_template(&self.template, pair.question, pair.solution),
                })
                .collect();
            let logprobs = self
                .backend
                .next_token_logprobs(&prompts, &self.candidates)?;
            stats.batches += 1;
            stats.model_time += started.elapsed();
            Ok(logprobs
                .iter()
                .map(|(lp, prompt_tokens)| {
                    let mass = |l: &[f32]| l.iter().map(|&l| f64::from(l).exp()).sum::<f64>();
                    let (yes, no) = (mass(&lp[..self.yes]), mass(&lp[self.yes..]));
                    if yes + no > 0.0 {
                        let tokens = Some(*prompt_tokens as u64);
                        Ok(Scored::solution((yes / (yes + no)) as f32).with_tokens(tokens))
                    } else {
                        Err("the judge gives Yes and No no probability at all".to_owned())
                    }
                })
                .collect())
        }
    }
}
