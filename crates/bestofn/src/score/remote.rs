//! Verifiers served over HTTP (vLLM, TEI, SGLang): what every engine's client shares. The pairs
//! of one question go out together (so the server's prefix cache sees the shared question), in
//! requests of at most `request_size` solutions, `max_in_flight` at a time, through the HTTP
//! client of [`crate::io::http`] (retries, backoff, replicas). A request the server refuses as
//! too large or malformed is split in halves down to the one pair at fault, which fails alone.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rayon::prelude::*;
use serde_json::Value;

use super::pair_cut::{Cut, PairCutter};
use super::scorer::{Pair, PairScore, ScoreStats, Scored, Scorer};
use super::spec::{OutputKind, PlattScaling};
use crate::error::{Error, Result};
use crate::io::http::{HttpClient, HttpError, HttpOptions};

/// What a server gives for one solution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Served {
    /// A raw score: P(correct) = sigmoid(value).
    Logit(f64),
    /// A probability already.
    Probability(f64),
}

impl Served {
    /// The score in `values`, one per label: one is the score itself; two are (wrong, right)
    /// logits or probabilities, whose difference is the logit of "right".
    pub fn from_labels(kind: OutputKind, values: &[f64]) -> std::result::Result<Served, String> {
        Ok(match (kind, values) {
            (OutputKind::Logit, [logit]) => Served::Logit(*logit),
            (OutputKind::Logit, [wrong, right]) => Served::Logit(right - wrong),
            (OutputKind::Probability, [p]) => Served::Probability(*p),
            (OutputKind::Probability, [_, right]) => Served::Probability(*right),
            (_, values) => {
                return Err(format!(
                    "gives {} values per position; a verifier gives one (the score) or two \
                     (wrong, right)",
                    values.len()
                ))
            }
        })
    }

    pub fn probability(self) -> f64 {
        match self {
            Served::Logit(x) => 1.0 / (1.0 + (-x).exp()),
            Served::Probability(p) => p,
        }
    }

    /// The probability after `calibration` (applied to the logit, recovered from a probability).
    pub fn calibrated(self, calibration: Option<&PlattScaling>) -> f64 {
        match (calibration, self) {
            (None, served) => served.probability(),
            (Some(c), Served::Logit(x)) => c.probability(x),
            (Some(c), Served::Probability(p)) => c.probability((p / (1.0 - p)).ln()),
        }
    }
}

/// What a server says of one solution: one score, or (a process reward model) one per step.
#[derive(Debug, Clone, PartialEq)]
pub enum Judged {
    Solution(Served),
    Steps(Vec<Served>),
}

impl Judged {
    /// The probabilities after `calibration`.
    /// The probabilities after `calibration` (and the solution's before it, when calibrated).
    pub fn scored(self, calibration: Option<&PlattScaling>) -> Scored {
        let probability = |served: Served| served.calibrated(calibration) as f32;
        let (last, mut scored) = match self {
            Judged::Solution(served) => (Some(served), Scored::solution(probability(served))),
            Judged::Steps(steps) => (
                steps.last().copied(),
                Scored::steps(steps.into_iter().map(probability).collect()),
            ),
        };
        if calibration.is_some() {
            scored.uncalibrated = last.map(|served| served.probability() as f32);
        }
        scored
    }
}

/// One engine's endpoint: its request for a question's solutions and how to read the answer.
pub trait Protocol: std::fmt::Debug + Send + Sync {
    /// What identifies the served verifier in the scoring log: engine, endpoint, model and what
    /// shapes the input (not the URL: the same model on another replica gives the same scores).
    fn id(&self) -> String;
    /// Where the request goes, under the base URL.
    fn path(&self) -> &str;
    /// Most solutions one request can hold (a chat request holds one conversation).
    fn most_per_request(&self) -> Option<usize> {
        None
    }
    /// Whether requests send (question, solution) pairs that the server tokenizes as a pair:
    /// then pairs past a truncating pair verifier's max_length are cut by the client.
    fn sends_pairs(&self) -> bool {
        false
    }
    fn request(&self, question: &str, solutions: &[&str]) -> Value;
    /// One score per solution, in request order; `Err` says what in the answer is wrong.
    fn scores(&self, answer: &Value, count: usize) -> std::result::Result<Vec<Served>, String>;
    /// What the answer says of each solution of the request: one score each unless the endpoint
    /// scores steps.
    fn judged(
        &self,
        answer: &Value,
        solutions: &[&str],
    ) -> std::result::Result<Vec<Judged>, String> {
        let scores = self.scores(answer, solutions.len())?;
        Ok(scores.into_iter().map(Judged::Solution).collect())
    }
}

/// The tokens an answer's `usage` says the server read and generated.
fn answer_tokens(answer: &Value) -> Option<u64> {
    let usage = answer.get("usage")?;
    let count = |field: &str| usage.get(field).and_then(Value::as_u64);
    count("total_tokens")
        .or_else(|| Some(count("prompt_tokens")? + count("completion_tokens").unwrap_or(0)))
}

/// Where a served verifier is and how to talk to it.
#[derive(Debug, Clone)]
pub struct RemoteOptions {
    pub base_urls: Vec<String>,
    /// Most solutions in one request.
    pub request_size: usize,
    pub max_in_flight: usize,
    pub http: HttpOptions,
    /// From the verifier.json of `--verifier`, unless `--no-calibration`.
    pub calibration: Option<PlattScaling>,
    /// With a truncating pair verifier's directory and a pair endpoint: cuts long pairs as the
    /// in-process scorer does.
    pub pair_cutter: Option<Arc<PairCutter>>,
}

pub struct RemoteScorer {
    id: String,
    protocol: Arc<dyn Protocol>,
    client: HttpClient,
    request_size: usize,
    max_in_flight: usize,
    calibration: Option<PlattScaling>,
    pair_cutter: Option<Arc<PairCutter>>,
    /// Whether the server took a request of this run: until it has, a refusal may be the
    /// server's (a wrong model or endpoint) rather than the input's.
    served_one: AtomicBool,
    /// Whether the server takes a minimal request, asked once, at the first refusal.
    takes_minimal: std::sync::OnceLock<std::result::Result<(), String>>,
}

/// Solutions of one question sent together: indices into the pairs of a `score` call.
struct Request<'a> {
    question: &'a str,
    rows: Vec<usize>,
}

impl RemoteScorer {
    /// The scorer of `protocol`'s verifier; its id names the calibration too, so that a log
    /// of calibrated scores is not taken for uncalibrated ones.
    pub fn new(protocol: Arc<dyn Protocol>, options: RemoteOptions) -> Self {
        let calibrated = options.calibration.map_or_else(String::new, |c| {
            format!(" calibrated {} {}", c.scale, c.shift)
        });
        RemoteScorer {
            id: format!("{}{calibrated}", protocol.id()),
            client: HttpClient::new(options.base_urls, options.http),
            request_size: options
                .request_size
                .min(protocol.most_per_request().unwrap_or(usize::MAX)),
            max_in_flight: options.max_in_flight,
            calibration: options.calibration,
            pair_cutter: options.pair_cutter,
            protocol,
            served_one: AtomicBool::new(false),
            takes_minimal: std::sync::OnceLock::new(),
        }
    }

    /// Whether the server would take any request: a refusal before it took one is checked
    /// once with a minimal pair. Refused too, the fault is the server's or the settings', and
    /// no pair of the input is blamed (nor split into many requests to find the culprit).
    fn server_takes_requests(&self, question: &str) -> Result<()> {
        if self.served_one.load(Ordering::Relaxed) {
            return Ok(());
        }
        let verdict = self.takes_minimal.get_or_init(|| {
            let body = self
                .protocol
                .request("What is 1 + 1?", &["1 + 1 = 2. The answer is 2."]);
            match self
                .client
                .post_with_retries(question, self.protocol.path(), &body)
            {
                Ok(_) => Ok(()),
                Err(HttpError::Refused { why, .. } | HttpError::GaveUp(why)) => Err(why),
            }
        });
        verdict.clone().map_err(|why| {
            Error::Rejected(format!(
                "the server refuses even a minimal request ({why}): check the server and \
                 --model / the endpoint; no pair of the input is at fault"
            ))
        })
    }

    /// The pairs as the server gets them: past a pair verifier's max_length, cut as the
    /// in-process scorer cuts them (counted in `stats`).
    fn cut<'a>(&self, pairs: &[Pair<'a>], stats: &mut ScoreStats) -> Vec<Pair<'a>> {
        let Some(cutter) = self.pair_cutter.as_deref() else {
            return pairs.to_vec();
        };
        let cuts: Vec<Cut<'a>> = pairs
            .par_iter()
            .map(|pair| cutter.cut(pair.question, pair.solution))
            .collect();
        stats.truncated += cuts.iter().filter(|c| !matches!(c, Cut::Whole(_))).count();
        stats.cut_at_word += cuts.iter().filter(|c| matches!(c, Cut::AtWord(_))).count();
        pairs
            .iter()
            .zip(cuts)
            .map(|(pair, cut)| Pair {
                solution: cut.text(),
                ..*pair
            })
            .collect()
    }

    /// The pairs grouped by question (in order of first appearance), cut to `request_size`.
    fn requests<'a>(&self, pairs: &[Pair<'a>]) -> Vec<Request<'a>> {
        let mut groups: Vec<Request<'a>> = Vec::new();
        let mut group_of: HashMap<&str, usize> = HashMap::new();
        for (row, pair) in pairs.iter().enumerate() {
            let group = *group_of.entry(pair.question).or_insert_with(|| {
                groups.push(Request {
                    question: pair.question,
                    rows: Vec::new(),
                });
                groups.len() - 1
            });
            groups[group].rows.push(row);
        }
        groups
            .into_iter()
            .flat_map(|group| {
                let question = group.question;
                group
                    .rows
                    .chunks(self.request_size)
                    .map(|rows| Request {
                        question,
                        rows: rows.to_vec(),
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Scores of `rows` (pairs of `question`), each its own result when the server refuses
    /// what only some of them contain. Counts requests made in `requests`.
    fn send(
        &self,
        question: &str,
        rows: &[usize],
        pairs: &[Pair<'_>],
        requests: &AtomicUsize,
    ) -> Result<Vec<(usize, PairScore)>> {
        let solutions: Vec<&str> = rows.iter().map(|&row| pairs[row].solution).collect();
        let body = self.protocol.request(question, &solutions);
        requests.fetch_add(1, Ordering::Relaxed);
        match self
            .client
            .post_with_retries(question, self.protocol.path(), &body)
        {
            Ok((answer, _replica)) => {
                self.served_one.store(true, Ordering::Relaxed);
                let scores = self.protocol.judged(&answer, &solutions).map_err(|why| {
                    Error::ModelRun(format!(
                        "{}: the server's answer {why}",
                        self.protocol.path()
                    ))
                })?;
                // A request's usage is a solution's own only when the request holds one.
                let tokens = answer_tokens(&answer).filter(|_| rows.len() == 1);
                Ok(rows
                    .iter()
                    .zip(scores)
                    .map(|(&row, judged)| {
                        let scored = judged.scored(self.calibration.as_ref());
                        (row, Ok(scored.with_tokens(tokens)))
                    })
                    .collect())
            }
            // 400 and 422 (an input over the model's length, say) and 413 (a batch over the server's
            // limit) are about what was sent: halve it until the culprit stands alone.
            Err(HttpError::Refused {
                status: Some(status @ (400 | 413 | 422)),
                why,
            }) => {
                // A 413 is about the batch's size by definition; a 400 or 422 before the
                // server took anything may be about the server.
                if status != 413 {
                    self.server_takes_requests(question)?;
                }
                if rows.len() == 1 {
                    return Ok(vec![(rows[0], Err(why))]);
                }
                let (left, right) = rows.split_at(rows.len() / 2);
                let mut scores = self.send(question, left, pairs, requests)?;
                scores.extend(self.send(question, right, pairs, requests)?);
                Ok(scores)
            }
            Err(HttpError::Refused { why, .. }) => Err(Error::Rejected(why)),
            Err(HttpError::GaveUp(why)) => Err(Error::ModelRun(why)),
        }
    }
}

impl Scorer for RemoteScorer {
    fn id(&self) -> &str {
        &self.id
    }

    /// Enough pairs to keep every request slot busy twice over, few enough that a crash loses
    /// little (each call's scores are logged when it returns).
    fn chunk_size(&self) -> usize {
        (self.request_size * self.max_in_flight * 2).max(64)
    }

    fn score(&mut self, pairs: &[Pair<'_>], stats: &mut ScoreStats) -> Result<Vec<PairScore>> {
        let started = Instant::now();
        let cut = self.cut(pairs, stats);
        let pairs = &cut[..];
        let requests = self.requests(pairs);
        let next = AtomicUsize::new(0);
        let sent = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let results: Mutex<Vec<Option<PairScore>>> = Mutex::new(vec![None; pairs.len()]);
        let first_error: Mutex<Option<Error>> = Mutex::new(None);
        std::thread::scope(|scope| {
            for _ in 0..self.max_in_flight.min(requests.len()) {
                scope.spawn(|| {
                    while !failed.load(Ordering::Relaxed) {
                        let Some(request) = requests.get(next.fetch_add(1, Ordering::Relaxed))
                        else {
                            break;
                        };
                        match self.send(request.question, &request.rows, pairs, &sent) {
                            Ok(scores) => {
                                let mut results = results.lock().unwrap();
                                for (row, score) in scores {
                                    results[row] = Some(score);
                                }
                            }
                            Err(error) => {
                                failed.store(true, Ordering::Relaxed);
                                first_error.lock().unwrap().get_or_insert(error);
                            }
                        }
                    }
                });
            }
        });
        if let Some(error) = first_error.into_inner().unwrap() {
            return Err(error);
        }
        stats.batches += sent.into_inner();
        stats.model_time += started.elapsed();
        Ok(results
            .into_inner()
            .unwrap()
            .into_iter()
            .map(|score| score.expect("every row is in one request"))
            .collect())
    }
}

/// The `data` array of an OpenAI-style answer, checked to hold `count` items with indices
/// 0..count (in any order); the items in index order.
pub(crate) fn indexed_data(
    answer: &Value,
    count: usize,
) -> std::result::Result<Vec<&Value>, String> {
    let items = answer
        .get("data")
        .and_then(Value::as_array)
        .ok_or("has no \"data\" list")?;
    by_index(items, count, "index")
}

/// Items that carry their position in field `key`, put in that order; every position once.
pub(crate) fn by_index<'a>(
    items: &'a [Value],
    count: usize,
    key: &str,
) -> std::result::Result<Vec<&'a Value>, String> {
    if items.len() != count {
        return Err(format!("has {} results for {count} solutions", items.len()));
    }
    let mut ordered: Vec<Option<&Value>> = vec![None; count];
    for item in items {
        let index = item
            .get(key)
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("has a result without an integer {key:?}"))?
            as usize;
        match ordered.get_mut(index) {
            Some(slot @ None) => *slot = Some(item),
            Some(Some(_)) => return Err(format!("gives {key} {index} twice")),
            None => return Err(format!("gives {key} {index} for {count} solutions")),
        }
    }
    Ok(ordered
        .into_iter()
        .map(|item| item.expect("all set"))
        .collect())
}

/// A finite number in `item` at `pointer` (a JSON pointer such as `/probs/0`).
pub(crate) fn number_at(item: &Value, pointer: &str) -> std::result::Result<f64, String> {
    item.pointer(pointer)
        .and_then(Value::as_f64)
        .filter(|x| x.is_finite())
        .ok_or_else(|| format!("has a result without a finite number at {pointer}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn results_are_put_in_index_order_and_checked() {
        let items = [json!({"index": 1, "s": 0.2}), json!({"index": 0, "s": 0.9})];
        let ordered = by_index(&items, 2, "index").unwrap();
        assert_eq!(number_at(ordered[0], "/s").unwrap(), 0.9);
        assert!(by_index(&items, 3, "index")
            .unwrap_err()
            .contains("2 results for 3"));
        let twice = [json!({"index": 0}), json!({"index": 0})];
        assert!(by_index(&twice, 2, "index").unwrap_err().contains("twice"));
        let outside = [json!({"index": 0}), json!({"index": 5})];
        assert!(by_index(&outside, 2, "index")
            .unwrap_err()
            .contains("index 5"));
        assert!(number_at(&json!({"s": "x"}), "/s").is_err());
    }

    #[test]
    fn served_logits_become_probabilities() {
        assert_eq!(Served::Logit(0.0).probability(), 0.5);
        assert_eq!(Served::Probability(0.25).probability(), 0.25);
        assert!((Served::Logit(2.0).probability() - 0.880_797_077_977_882_3).abs() < 1e-12);
        let platt = PlattScaling {
            scale: 0.5,
            shift: -1.0,
        };
        assert!((Served::Logit(2.0).calibrated(Some(&platt)) - 0.5).abs() < 1e-12);
        let p = Served::Logit(2.0).probability();
        assert!((Served::Probability(p).calibrated(Some(&platt)) - 0.5).abs() < 1e-12);
        assert_eq!(Served::Logit(2.0).calibrated(None), p);
    }
}
