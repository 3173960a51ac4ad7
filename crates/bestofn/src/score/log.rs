//! The scoring log: each score appended (and synced) as it comes, beside the output, so that a
//! run that dies after an hour of remote scoring resumes where it stopped when the same command
//! runs again. A line is keyed by (problem_id, sample_idx, verifier) and carries a fingerprint
//! of the text it scored: a score is reused only for the same verifier on the same input. The
//! log is locked while a run uses it and removed once the output is complete.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Scored;
use crate::error::{Error, Result};
use crate::io::append_whole_lines;

#[derive(Debug, Serialize, Deserialize)]
struct Line {
    problem_id: String,
    sample_idx: u32,
    verifier: String,
    /// [`fingerprint`] of the question and solution scored.
    input: String,
    #[serde(flatten)]
    scored: Scored,
}

pub struct ScoreLog {
    path: PathBuf,
    file: File,
    verifier: String,
    /// Scores of this verifier: (problem_id, sample_idx) → (input fingerprint, score).
    known: HashMap<(String, u32), (String, Scored)>,
    pending: Vec<u8>,
}

/// The log of the output `out`.
pub fn log_path(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    out.with_file_name(name)
}

/// A stable fingerprint of one verifier input (FNV-1a, 64 bits, over both texts).
pub fn fingerprint(question: &str, solution: &str) -> String {
    use crate::grade::hash::{fnv1a, FNV_OFFSET};
    let hash = fnv1a(
        fnv1a(fnv1a(FNV_OFFSET, question.as_bytes()), &[0xff]),
        solution.as_bytes(),
    );
    format!("{hash:016x}")
}

impl ScoreLog {
    /// Opens (or creates) the log at `path` for `verifier`, locked; a torn last line is cut off.
    pub fn open(path: &Path, verifier: &str) -> Result<Self> {
        let opened = crate::io::open_log(path, "score")?;
        let mut known = HashMap::new();
        for (index, line) in opened.contents.split(|&b| b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let entry: Line = serde_json::from_slice(line).map_err(|e| {
                Error::input(
                    path,
                    index + 1,
                    None,
                    format!("{e}; this is not a scoring log (remove it to score from the start)"),
                )
            })?;
            if entry.verifier == verifier {
                known.insert(
                    (entry.problem_id, entry.sample_idx),
                    (entry.input, entry.scored),
                );
            }
        }
        Ok(ScoreLog {
            path: path.to_owned(),
            file: opened.file,
            verifier: verifier.to_owned(),
            known,
            pending: Vec::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Scores of this verifier in the log.
    pub fn len(&self) -> usize {
        self.known.len()
    }

    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }

    /// The logged score of this sample, if it was scored on the same input.
    pub fn score(&self, problem_id: &str, sample_idx: u32, input: &str) -> Option<Scored> {
        self.known
            .get(&(problem_id.to_owned(), sample_idx))
            .filter(|(logged, _)| logged == input)
            .map(|(_, scored)| scored.clone())
    }

    /// Queues a score; [`ScoreLog::sync`] writes the queue.
    pub fn add(&mut self, problem_id: &str, sample_idx: u32, input: String, scored: Scored) {
        let line = Line {
            problem_id: problem_id.to_owned(),
            sample_idx,
            verifier: self.verifier.clone(),
            input,
            scored,
        };
        serde_json::to_writer(&mut self.pending, &line).expect("a log line serializes");
        self.pending.push(b'\n');
        self.known
            .insert((line.problem_id, sample_idx), (line.input, line.scored));
    }

    /// Writes the queued scores and syncs them to disk.
    pub fn sync(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        append_whole_lines(&mut self.file, &self.path, &self.pending)?;
        self.pending.clear();
        Ok(())
    }

    /// The output is complete: the log is not needed any more.
    pub fn remove(self) -> Result<()> {
        std::fs::remove_file(&self.path).map_err(|e| Error::io(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_survive_a_torn_line_and_count_only_for_their_verifier_and_input() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_path(&dir.path().join("scored.jsonl"));
        assert!(path.ends_with("scored.jsonl.partial"));
        let input = fingerprint("q", "a");
        {
            let mut log = ScoreLog::open(&path, "v1").unwrap();
            log.add("p1", 0, input.clone(), Scored::solution(0.25));
            log.add("p1", 1, input.clone(), Scored::steps(vec![0.75, 0.5]));
            log.sync().unwrap();
            // A second run on the same log waits its turn.
            assert!(matches!(ScoreLog::open(&path, "v1"), Err(Error::Busy(_))));
        }
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"problem_id\": \"p1\", \"sam");
        std::fs::write(&path, text).unwrap();

        let log = ScoreLog::open(&path, "v1").unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(
            log.score("p1", 1, &input),
            Some(Scored::steps(vec![0.75, 0.5]))
        );
        assert_eq!(log.score("p1", 0, &input), Some(Scored::solution(0.25)));
        assert_eq!(log.score("p1", 1, &fingerprint("q", "b")), None);
        assert_eq!(log.score("p2", 0, &input), None);
        drop(log);
        assert!(std::fs::read_to_string(&path).unwrap().ends_with("}\n"));
        assert!(ScoreLog::open(&path, "v2").unwrap().is_empty());
        assert_ne!(fingerprint("ab", "c"), fingerprint("a", "bc"));
    }
}
