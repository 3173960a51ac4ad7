//! The verifier behind `/score` and `/get_reward`: one thread owns the model; requests queue their
//! (question, solution) pairs, and the thread scores whatever is waiting in one call, up to the
//! token budget (so many small concurrent requests share batches).

use std::sync::mpsc;

use crate::error::{Error, Result};
use crate::score::{open_scorer, Pair, PairScore, ScoreStats, ScorerSettings};

/// One request's pairs and where its scores go.
struct Job {
    pairs: Vec<(String, String)>,
    reply: tokio::sync::oneshot::Sender<std::result::Result<Vec<PairScore>, String>>,
}

impl Job {
    /// Tokens, estimated at four bytes each: what decides how many jobs share a call.
    fn estimated_tokens(&self) -> usize {
        self.pairs
            .iter()
            .map(|(q, s)| (q.len() + s.len()) / 4 + 1)
            .sum()
    }
}

/// The queue in front of the verifier thread.
pub struct VerifierQueue {
    sender: mpsc::Sender<Job>,
    id: String,
}

impl VerifierQueue {
    /// Loads the verifier on its own thread (a load error is returned here, before the server
    /// starts) and starts serving the queue.
    pub fn start(settings: ScorerSettings, token_budget: usize) -> Result<Self> {
        let (ready, loaded) = mpsc::channel::<Result<String>>();
        let (sender, receiver) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("verifier".into())
            .spawn(move || {
                let mut scorer = match open_scorer(&settings) {
                    Ok(scorer) => {
                        let _ = ready.send(Ok(scorer.id().to_owned()));
                        scorer
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                while let Ok(first) = receiver.recv() {
                    let mut jobs = vec![first];
                    let mut tokens = jobs[0].estimated_tokens();
                    while tokens < token_budget {
                        match receiver.try_recv() {
                            Ok(job) => {
                                tokens += job.estimated_tokens();
                                jobs.push(job);
                            }
                            Err(_) => break,
                        }
                    }
                    score_together(scorer.as_mut(), jobs);
                }
            })
            .map_err(|e| Error::ModelLoad(format!("starting the verifier thread: {e}")))?;
        let id = loaded
            .recv()
            .map_err(|_| Error::ModelLoad("the verifier thread stopped while loading".into()))??;
        Ok(VerifierQueue { sender, id })
    }

    /// What identifies the verifier (its directory).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The scores of `pairs`, in order, each a probability or why that pair has none.
    pub async fn score(
        &self,
        pairs: Vec<(String, String)>,
    ) -> std::result::Result<Vec<PairScore>, String> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let stopped = || "the verifier thread stopped".to_owned();
        self.sender
            .send(Job { pairs, reply })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// One call for every waiting job; each gets its own scores back (or the call's error).
fn score_together(scorer: &mut dyn crate::score::Scorer, jobs: Vec<Job>) {
    let pairs: Vec<Pair<'_>> = jobs
        .iter()
        .flat_map(|job| &job.pairs)
        .map(|(question, solution)| Pair {
            question,
            solution,
            tokens: None,
        })
        .collect();
    let mut stats = ScoreStats::default();
    match scorer.score(&pairs, &mut stats) {
        Ok(scores) => {
            let mut scores = scores.into_iter();
            for job in jobs {
                let own: Vec<PairScore> = scores.by_ref().take(job.pairs.len()).collect();
                let _ = job.reply.send(Ok(own));
            }
        }
        Err(error) => {
            let message = error.to_string();
            for job in jobs {
                let _ = job.reply.send(Err(message.clone()));
            }
        }
    }
}
