//! The embedded llama.cpp engine (through `llama-cpp-2`), any GGUF model.
//!
//! Continuous batching (as llama.cpp's `parallel` example): `parallel` sequence slots are decoded
//! together, one token each per batch, and a slot whose sample finishes takes the next waiting
//! sample at once, so the batch stays full until the run's last samples. Each slot has its own KV
//! stream (`kv_unified = false`): attention then reads only the slot's own cells, which was faster
//! at 16 slots than one cache shared by all (docs/benchmarks.md keeps the figures). The next sample of the same problem keeps its slot's
//! prompt cells; one of a problem another slot holds gets that slot's cells copied; a problem no
//! slot holds has its prompt decoded in the same batch as the other slots' tokens. Each sample has
//! its own sampler seeded with its own seed, so what is drawn does not depend on the batching
//! (the logits of the quantized kernels do, in their last bits).
//!
//! On x86-64 a batch's Q4_1 products run on the batched kernel of `bestofn-ggml-accel` (a ggml
//! accelerator device), bit-identical to ggml's own kernel, so it changes speed, not samples.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::OnceLock;
use std::time::Instant;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend as Runtime;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

use super::LlamaOptions;
use crate::error::{Error, Result};
use crate::generate::{
    Backend, Completion, Generated, GroupWatch, Job, Prompt, SamplingParams, Slot, TokenStats,
};

/// llama.cpp's global state: initialised once per process, with the batched Q4_1 kernel unless
/// `q4_1_kernel` says why not.
fn runtime(q4_1_kernel: &std::result::Result<(), String>) -> Result<&'static Runtime> {
    static RUNTIME: OnceLock<std::result::Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let mut runtime = Runtime::init().map_err(|e| e.to_string())?;
            runtime.void_logs();
            match q4_1_kernel
                .clone()
                .and_then(|()| bestofn_ggml_accel::register())
            {
                Ok(()) => tracing::debug!("batched Q4_1 products on bestofn's kernel"),
                Err(why) => tracing::debug!(%why, "batched Q4_1 products on ggml's kernel"),
            }
            Ok(runtime)
        })
        .as_ref()
        .map_err(|e| Error::GeneratorLoad(format!("initialising llama.cpp: {e}")))
}

pub struct LlamaBackend {
    runtime: &'static Runtime,
    model: LlamaModel,
    name: String,
    options: LlamaOptions,
}

impl LlamaBackend {
    pub fn load(options: &LlamaOptions) -> Result<Self> {
        let _span = tracing::info_span!("load_gguf", path = %options.model.display()).entered();
        if !options.model.is_file() {
            return Err(Error::GeneratorLoad(format!(
                "{}: no such GGUF file (pass --model, or run scripts/setup.sh for the bundled one)",
                options.model.display()
            )));
        }
        if options.parallel == 0 || options.threads == 0 {
            return Err(Error::Settings(
                "--parallel and --threads must be at least 1".into(),
            ));
        }
        let runtime = runtime(&options.q4_1_kernel)?;
        let model =
            LlamaModel::load_from_file(runtime, &options.model, &LlamaModelParams::default())
                .map_err(|e| {
                    Error::GeneratorLoad(format!(
                        "{}: not a GGUF model llama.cpp can load ({e})",
                        options.model.display()
                    ))
                })?;
        let name = options.model.file_name().map_or_else(
            || options.model.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        Ok(LlamaBackend {
            runtime,
            model,
            name,
            options: options.clone(),
        })
    }

    /// The prompt's text as the model should see it (chat prompts through the model's template).
    fn prompt_text(&self, prompt: &Prompt) -> Result<String> {
        match prompt {
            Prompt::Completion(text) => Ok(text.clone()),
            Prompt::Chat { system, user } => {
                let template = self.model.chat_template(None).map_err(|e| {
                    Error::Settings(format!(
                        "{} has no chat template ({e}); use a completion template such as `gsm8k`",
                        self.name
                    ))
                })?;
                let message = |role: &str, content: &str| {
                    LlamaChatMessage::new(role.into(), content.into())
                        .map_err(|e| Error::Inconsistent(format!("a prompt with a NUL byte: {e}")))
                };
                let mut chat = Vec::new();
                if let Some(system) = system {
                    chat.push(message("system", system)?);
                }
                chat.push(message("user", user)?);
                self.model
                    .apply_chat_template(&template, &chat, true)
                    .map_err(|e| Error::Generation(format!("applying the chat template: {e}")))
            }
        }
    }

    fn context(&self, cells: usize, sequences: usize, batch: usize) -> Result<LlamaContext<'_>> {
        let as_u32 = |value: usize| u32::try_from(value).unwrap_or(u32::MAX);
        let threads = i32::try_from(self.options.threads).unwrap_or(i32::MAX);
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(as_u32(cells)))
            .with_n_batch(as_u32(batch))
            .with_n_ubatch(as_u32(batch.min(512)))
            .with_n_seq_max(as_u32(sequences))
            .with_kv_unified(false)
            .with_n_threads(threads)
            .with_n_threads_batch(threads)
            // Flash attention: faster with many sequences (measured, docs/benchmarks.md).
            .with_flash_attention_policy(if self.options.flash_attention {
                llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_ENABLED
            } else {
                llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_DISABLED
            });
        self.model
            .new_context(self.runtime, params)
            .map_err(|e| Error::Generation(format!("creating a llama.cpp context: {e}")))
    }
}

/// One sample being decoded in a slot.
struct Sequence {
    job: usize,
    slot: Slot,
    sampler: LlamaSampler,
    bytes: Vec<u8>,
    tokens: u32,
    /// Index of this sequence's logits in the last decoded batch.
    logits: i32,
    /// With `--token-stats`: what is recorded of its tokens, and when it started.
    stats: Option<TokenStats>,
    started: Instant,
    /// The job's rule for stopping it by its confidence (online), over `stats`.
    watch: Option<GroupWatch>,
}

/// A sample's sampler; llama.cpp takes 32-bit seeds, what `Seeding::PerSample` makes.
fn sampler(params: &SamplingParams, seed: u64) -> LlamaSampler {
    if params.temperature <= 0.0 {
        return LlamaSampler::greedy();
    }
    let top_k = (params.top_k > 0).then(|| LlamaSampler::top_k(params.top_k as i32));
    LlamaSampler::chain_simple(top_k.into_iter().chain([
        LlamaSampler::top_p(params.top_p as f32, 1),
        LlamaSampler::temp(params.temperature as f32),
        LlamaSampler::dist(seed as u32),
    ]))
}

/// Position of the first stop string in `bytes` that ends at or after `from`.
fn find_stop(bytes: &[u8], from: usize, stops: &[String]) -> Option<usize> {
    stops
        .iter()
        .filter(|stop| !stop.is_empty())
        .filter_map(|stop| {
            let start = from.saturating_sub(stop.len() - 1);
            memchr::memmem::find(&bytes[start..], stop.as_bytes()).map(|at| start + at)
        })
        .min()
}

fn decode_error(e: impl std::fmt::Display) -> Error {
    Error::Generation(format!("llama.cpp decode: {e}"))
}

/// The decoding state of a run: which sample each slot decodes and which problem's cells it holds.
struct Slots<'a> {
    jobs: &'a [Job],
    prompts: Vec<Vec<LlamaToken>>,
    params: &'a SamplingParams,
    waiting: VecDeque<(usize, Slot)>,
    active: Vec<Option<Sequence>>,
    /// The job whose cells (prompt and old tokens) a slot's sequence id still tags.
    cells_of: Vec<Option<usize>>,
}

impl Slots<'_> {
    /// A slot other than `except` whose cells hold the job's prompt.
    fn prompt_holder(&self, job: usize, except: usize) -> Option<usize> {
        (0..self.active.len()).find(|&s| s != except && self.cells_of[s] == Some(job))
    }

    /// Gives every free slot the next waiting sample and adds what it needs decoded to `batch`:
    /// the last prompt token when its slot or another holds the prompt's cells (its logits were
    /// overwritten since; another slot's cells are copied first), else the whole prompt. Samples
    /// of a problem whose prompt is in this batch wait for the next one, to copy its cells.
    fn refill(&mut self, ctx: &mut LlamaContext<'_>, batch: &mut LlamaBatch) -> Result<()> {
        let mut deferred = Vec::new();
        let mut prompts_in_batch = Vec::new();
        for s in 0..self.active.len() {
            if self.active[s].is_some() {
                continue;
            }
            let next = loop {
                match self.waiting.pop_front() {
                    Some((job, slot)) if prompts_in_batch.contains(&job) => {
                        deferred.push((job, slot));
                    }
                    other => break other,
                }
            };
            let Some((job, slot)) = next else {
                break;
            };
            let prompt = &self.prompts[job];
            let last = prompt.len() - 1;
            let seq = s as u32;
            let holder = (self.cells_of[s] == Some(job))
                .then_some(s)
                .or_else(|| self.prompt_holder(job, s));
            match holder {
                Some(holder) => {
                    if holder != s {
                        // Each slot has its own KV stream: the holder's cells are copied.
                        ctx.copy_kv_cache_seq(holder as i32, s as i32, None, None)
                            .map_err(decode_error)?;
                    }
                    ctx.clear_kv_cache_seq(Some(seq), Some(last as u32), None)
                        .map_err(decode_error)?;
                    batch
                        .add(prompt[last], last as i32, &[s as i32], true)
                        .map_err(decode_error)?;
                }
                None => {
                    ctx.clear_kv_cache_seq(Some(seq), None, None)
                        .map_err(decode_error)?;
                    for (position, &token) in prompt.iter().enumerate() {
                        batch
                            .add(token, position as i32, &[s as i32], position == last)
                            .map_err(decode_error)?;
                    }
                    prompts_in_batch.push(job);
                }
            }
            self.cells_of[s] = Some(job);
            self.active[s] = Some(Sequence {
                job,
                slot,
                sampler: sampler(self.params, slot.seed),
                bytes: Vec::new(),
                tokens: 0,
                logits: batch.n_tokens() - 1,
                stats: self.params.token_stats.as_ref().map(|request| {
                    TokenStats::new(u32::try_from(prompt.len()).ok(), request, true)
                }),
                started: Instant::now(),
                watch: self.jobs[job].stop.map(GroupWatch::new),
            });
        }
        for waiting in deferred.into_iter().rev() {
            self.waiting.push_front(waiting);
        }
        Ok(())
    }

    /// Samples the next token of every active sequence: a finished sample is handed to `emit`
    /// and frees its slot; the others add their token to `batch`.
    fn step(
        &mut self,
        model: &LlamaModel,
        ctx: &LlamaContext<'_>,
        batch: &mut LlamaBatch,
        emit: &mut dyn FnMut(&Job, Completion) -> Result<()>,
    ) -> Result<()> {
        let vocab = model.vocab();
        let max_tokens = self.params.max_tokens;
        let mut top = Vec::new();
        for s in 0..self.active.len() {
            let Some(sequence) = self.active[s].as_mut() else {
                continue;
            };
            let token = sequence.sampler.sample(ctx, sequence.logits);
            let mut early_stop = None;
            // The end-of-text token is recorded too, as vLLM's logprobs and usage count it.
            if let (Some(stats), Some(request)) =
                (sequence.stats.as_mut(), self.params.token_stats.as_ref())
            {
                let logits = ctx.get_logits_ith(sequence.logits);
                stats.push_logits(logits, token.0 as usize, request.top_logprobs, &mut top);
                early_stop = sequence
                    .watch
                    .as_mut()
                    .and_then(|watch| watch.check(&stats.confidence));
            }
            let mut finish = None;
            if vocab.is_eog(token) {
                finish = Some("stop");
            } else {
                sequence.tokens += 1;
                let before = sequence.bytes.len();
                vocab.token_to_piece_into(token, &mut sequence.bytes, false, None);
                if let Some(at) = find_stop(&sequence.bytes, before, &self.params.stop) {
                    sequence.bytes.truncate(at);
                    finish = Some("stop");
                } else if sequence.tokens >= max_tokens {
                    finish = Some("length");
                } else if early_stop.is_some() {
                    finish = Some("early_stop");
                } else {
                    sequence.logits = batch.n_tokens();
                    let position =
                        self.prompts[sequence.job].len() as i32 + sequence.tokens as i32 - 1;
                    batch
                        .add(token, position, &[s as i32], true)
                        .map_err(decode_error)?;
                }
            }
            if let Some(finish) = finish {
                let sequence = self.active[s].take().expect("an active slot");
                // Emitted as soon as it is done: a crash loses only unfinished samples.
                emit(
                    &self.jobs[sequence.job],
                    Completion::generated(
                        sequence.slot.sample_idx,
                        String::from_utf8_lossy(&sequence.bytes).into_owned(),
                        Generated {
                            finish_reason: Some(finish.to_owned()),
                            num_tokens: Some(sequence.tokens),
                            server: None,
                            wall_ms: sequence
                                .stats
                                .is_some()
                                .then(|| sequence.started.elapsed().as_millis() as u64),
                            tokens: sequence.stats,
                            // A trace that ended on this token finished: it is no stopped one.
                            early_stop: early_stop.filter(|_| finish == "early_stop"),
                        },
                    ),
                )?;
            }
        }
        Ok(())
    }
}

impl LlamaBackend {
    /// A job's prompt as tokens, checked against the model's context.
    fn tokenize(&self, job: &Job, max_tokens: usize) -> Result<Vec<LlamaToken>> {
        let text = self.prompt_text(&job.prompt)?;
        let prompt = self.model.vocab().tokenize(text.as_bytes(), true, true);
        if prompt.is_empty() {
            return Err(Error::Inconsistent(format!(
                "problem `{}`: empty prompt",
                job.problem_id
            )));
        }
        let train = self.model.n_ctx_train() as usize;
        if prompt.len() + max_tokens > train {
            return Err(Error::Settings(format!(
                "problem `{}`: prompt ({} tokens) + max tokens ({max_tokens}) exceed the model's \
                 context ({train})",
                job.problem_id,
                prompt.len()
            )));
        }
        Ok(prompt)
    }
}

impl LlamaBackend {
    /// The log-probabilities of `candidates` as the token that follows each prompt, read from
    /// the model's full next-token distribution (an LLM judge's Yes and No), with the prompt's
    /// length in tokens.
    pub fn next_token_logprobs(
        &self,
        prompts: &[Prompt],
        candidates: &[LlamaToken],
    ) -> Result<Vec<(Vec<f32>, usize)>> {
        let tokenized = prompts
            .iter()
            .map(|prompt| {
                let text = self.prompt_text(prompt)?;
                Ok(self.model.vocab().tokenize(text.as_bytes(), true, true))
            })
            .collect::<Result<Vec<_>>>()?;
        let longest = tokenized.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let train = self.model.n_ctx_train() as usize;
        if longest >= train {
            return Err(Error::Settings(format!(
                "a judge prompt of {longest} tokens exceeds the model's context ({train})"
            )));
        }
        let mut ctx = self.context(longest + 1, 1, longest)?;
        let mut batch = LlamaBatch::new(longest, 1);
        let mut out = Vec::with_capacity(tokenized.len());
        for tokens in &tokenized {
            ctx.clear_kv_cache_seq(Some(0), None, None)
                .map_err(decode_error)?;
            batch.clear();
            for (position, &token) in tokens.iter().enumerate() {
                let last = position + 1 == tokens.len();
                batch
                    .add(token, position as i32, &[0], last)
                    .map_err(decode_error)?;
            }
            ctx.decode(&mut batch).map_err(decode_error)?;
            let logits = ctx.get_logits_ith(batch.n_tokens() - 1);
            let (log_norm, _) = crate::generate::log_normalizer_and_mean(logits);
            let logprobs = candidates
                .iter()
                .map(|t| logits[t.0 as usize] - log_norm)
                .collect();
            out.push((logprobs, tokens.len()));
        }
        Ok(out)
    }

    /// The tokens of the vocabulary that spell each of `words` (trimmed, any case): "Yes",
    /// " yes", "YES" are one word.
    pub fn tokens_spelling(&self, words: &[&str]) -> Vec<Vec<LlamaToken>> {
        let vocab = self.model.vocab();
        let mut found = vec![Vec::new(); words.len()];
        let mut piece = Vec::new();
        for id in 0..self.model.n_vocab() {
            let token = LlamaToken(id);
            piece.clear();
            vocab.token_to_piece_into(token, &mut piece, false, None);
            let text = String::from_utf8_lossy(&piece).trim().to_lowercase();
            if let Some(w) = words.iter().position(|word| *word == text) {
                found[w].push(token);
            }
        }
        found
    }
}

impl Backend for LlamaBackend {
    fn kind(&self) -> &'static str {
        "llama"
    }

    fn model(&self) -> String {
        self.name.clone()
    }

    fn run(
        &self,
        job: &Job,
        params: &SamplingParams,
        emit: &mut dyn FnMut(Completion) -> Result<()>,
    ) -> Result<()> {
        self.run_jobs(std::slice::from_ref(job), params, &mut |_, completion| {
            emit(completion)
        })
    }

    fn run_jobs(
        &self,
        jobs: &[Job],
        params: &SamplingParams,
        emit: &mut dyn FnMut(&Job, Completion) -> Result<()>,
    ) -> Result<()> {
        let max_tokens = params.max_tokens as usize;
        let prompts = jobs
            .iter()
            .map(|job| self.tokenize(job, max_tokens))
            .collect::<Result<Vec<_>>>()?;
        let samples: usize = jobs.iter().map(|job| job.slots.len()).sum();
        if samples == 0 {
            return Ok(());
        }
        let parallel = self.options.parallel.min(samples);
        let longest = prompts.iter().map(Vec::len).max().unwrap_or(0);
        // Each slot holds at most one prompt and its own tokens; a batch at most one prompt and
        // one token per slot.
        let cells = parallel * (longest + max_tokens) + 1;
        let batch_size = parallel * (longest + 1);
        let mut ctx = self.context(cells, parallel, batch_size)?;
        let mut batch = LlamaBatch::new(batch_size, i32::try_from(parallel).unwrap_or(i32::MAX));
        let mut slots = Slots {
            jobs,
            prompts,
            params,
            waiting: jobs
                .iter()
                .enumerate()
                .flat_map(|(index, job)| job.slots.iter().map(move |&slot| (index, slot)))
                .collect(),
            active: (0..parallel).map(|_| None).collect(),
            cells_of: vec![None; parallel],
        };
        loop {
            batch.clear();
            slots.step(&self.model, &ctx, &mut batch, emit)?;
            slots.refill(&mut ctx, &mut batch)?;
            if batch.n_tokens() == 0 {
                tracing::debug!(
                    products = bestofn_ggml_accel::products(),
                    "bestofn's Q4_1 kernel so far"
                );
                return Ok(());
            }
            ctx.decode(&mut batch).map_err(decode_error)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_strings_are_found_across_token_boundaries() {
        let stops = vec!["\n\nQuestion:".to_owned(), "###".to_owned()];
        let text = b"so 4.\n\nQuestion: next";
        // The last token added "estion: next"; the stop string began before it.
        assert_eq!(find_stop(text, 10, &stops), Some(5));
        assert_eq!(find_stop(b"no stop here", 3, &stops), None);
        assert_eq!(find_stop(b"a ### b", 0, &stops), Some(2));
    }
}
