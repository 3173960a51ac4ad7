//! The append-only samples file of `generate`: what is already in it, torn-line repair, appends.
//!
//! A sample is one line written with a single `write` and synced to disk, so a crash at any point
//! leaves complete lines plus at most one torn last line, which the next run cuts off.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::adaptive::{vote_of, Votes};
use super::PER_SAMPLE_GENERATOR_FIELDS;
use crate::error::{Error, Result};
use crate::grade::AnswerStyle;
use crate::io::{append_whole_lines, InvalidUtf8, LineText};
use crate::records::{parse_sample_line, Problem, Sample};

/// The keys already in a samples file.
#[derive(Debug, Default)]
pub struct ExistingSamples {
    keys: HashSet<(String, u32)>,
    /// The first line of each problem, for error messages.
    first_line: HashMap<String, usize>,
    /// Bytes cut off the end of the file (a torn last line).
    pub repaired_bytes: u64,
    /// Each problem's votes so far, when the run samples adaptively.
    pub votes: HashMap<String, Votes>,
}

impl ExistingSamples {
    pub fn contains(&self, problem_id: &str, sample_idx: u32) -> bool {
        // Avoids allocating a key per lookup on the common path of an empty file.
        !self.keys.is_empty() && self.keys.contains(&(problem_id.to_owned(), sample_idx))
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Marks a sample written since the file was opened.
    pub(crate) fn insert(&mut self, problem_id: &str, sample_idx: u32) {
        self.keys.insert((problem_id.to_owned(), sample_idx));
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Samples with an index below `n`.
    pub fn count_below(&self, n: u32) -> usize {
        self.keys.iter().filter(|(_, idx)| *idx < n).count()
    }

    /// A problem id in the file that `known` lacks, with its first line.
    pub fn unknown_problem(&self, known: &HashMap<&str, &Problem>) -> Option<(&str, usize)> {
        self.first_line
            .iter()
            .filter(|(id, _)| !known.contains_key(id.as_str()))
            .min_by_key(|(_, line)| **line)
            .map(|(id, line)| (id.as_str(), *line))
    }
}

pub struct SampleLog {
    path: PathBuf,
    file: File,
    line: Vec<u8>,
}

/// What every existing sample of a log must agree with.
#[derive(Debug, Default)]
pub struct Expected<'a> {
    /// The run's generator settings (none for a replay, or with --allow-settings-change).
    pub settings: Option<&'a Map<String, Value>>,
    /// The template's sha256 and each problem's prompt sha256 under it: a sample made with this
    /// template for another prompt answers another question.
    pub template_sha256: Option<&'a str>,
    pub prompts: HashMap<&'a str, String>,
    /// Each problem's question sha256: checked whatever the template or the settings flags.
    pub questions: HashMap<&'a str, String>,
    /// For adaptive sampling: each problem's answer style, to count the votes of the samples
    /// below this index already in the file.
    pub votes: Option<(HashMap<&'a str, AnswerStyle>, u32, Option<&'a str>)>,
}

impl SampleLog {
    /// Opens (or creates) `path` for appending and locks it against other writers, after cutting
    /// off a torn last line and reading the keys already present, each checked against
    /// `expected`.
    pub fn open(path: &Path, expected: &Expected) -> Result<(Self, ExistingSamples)> {
        if crate::io::is_stdio(path) {
            return Err(Error::Settings(
                "generate appends to its --out file and resumes from it: name a file, not -".into(),
            ));
        }
        let opened = crate::io::open_log(path, "generate")?;
        let mut existing = ExistingSamples {
            repaired_bytes: opened.repaired_bytes,
            ..Default::default()
        };
        for (index, raw) in opened.contents.split(|&b| b == b'\n').enumerate() {
            let text = std::str::from_utf8(raw).map_err(|e| InvalidUtf8 {
                column: e.valid_up_to() + 1,
            });
            if text.is_ok_and(|t| t.trim().is_empty()) {
                continue;
            }
            record_key(
                path,
                index + 1,
                text.map(str::trim),
                expected,
                &mut existing,
            )?;
        }
        Ok((
            SampleLog {
                path: path.to_owned(),
                file: opened.file,
                line: Vec::new(),
            },
            existing,
        ))
    }

    /// Appends one record as one line and syncs it to disk.
    pub fn append<T: serde::Serialize>(&mut self, record: &T) -> Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, record)
            .map_err(|e| Error::io(&self.path, e.into()))?;
        self.write_line()
    }

    /// Appends a record that is already one JSON line (an existing record), and syncs it.
    pub fn append_line(&mut self, json: &str) -> Result<()> {
        self.line.clear();
        self.line.extend_from_slice(json.as_bytes());
        self.write_line()
    }

    fn write_line(&mut self) -> Result<()> {
        self.line.push(b'\n');
        append_whole_lines(&mut self.file, &self.path, &self.line)
    }
}

fn record_key(
    path: &Path,
    line: usize,
    text: LineText<'_>,
    expected: &Expected,
    existing: &mut ExistingSamples,
) -> Result<()> {
    let sample = parse_sample_line(path, line, text).map_err(|e| match e {
        Error::Input {
            path,
            line,
            field,
            message,
        } => Error::Input {
            path,
            line,
            field,
            message: format!("{message}; this file is not a samples file bestofn can resume"),
        },
        other => other,
    })?;
    let generator = sample.extra.get("generator").and_then(Value::as_object);
    if let Some(settings) = expected.settings {
        check_settings(path, line, generator, settings)?;
    }
    check_prompt(path, line, &sample, generator, expected)?;
    if !existing
        .keys
        .insert((sample.problem_id.clone(), sample.sample_idx))
    {
        return Err(Error::input(
            path,
            line,
            Some("sample_idx"),
            format!(
                "sample {} of problem `{}` appears twice",
                sample.sample_idx, sample.problem_id
            ),
        ));
    }
    if let Some((styles, n, answer_field)) = &expected.votes {
        if let Some(&style) = styles.get(sample.problem_id.as_str()) {
            if sample.sample_idx < *n {
                let vote = vote_of(&sample.text, Some(&sample.extra), *answer_field, style);
                let votes = existing.votes.entry(sample.problem_id.clone()).or_default();
                votes.add(vote);
            }
        }
    }
    existing.first_line.entry(sample.problem_id).or_insert(line);
    Ok(())
}

/// A sample made with this run's template must have been made for this run's prompt: otherwise
/// the problem with its id has another question now (an edited file, another slice of a set
/// whose ids are line numbers), and the old sample answers a question no longer asked.
fn check_prompt(
    path: &Path,
    line: usize,
    sample: &Sample,
    generator: Option<&Map<String, Value>>,
    expected: &Expected,
) -> Result<()> {
    let field = |name: &str| generator.and_then(|g| g.get(name)).and_then(Value::as_str);
    if let (Some(before), Some(now)) = (
        field("question_sha256"),
        expected.questions.get(sample.problem_id.as_str()),
    ) {
        if before != now {
            return Err(Error::Settings(format!(
                "{}:{line}: sample {} of problem `{}` answers another question (question_sha256 \
                 {before}, now {now}): the problem's question changed since. Write to a new \
                 --out file, or give the changed problems new ids",
                path.display(),
                sample.sample_idx,
                sample.problem_id
            )));
        }
    }
    let same_template =
        expected.template_sha256.is_some() && field("template_sha256") == expected.template_sha256;
    let (Some(before), Some(now)) = (
        field("prompt_sha256"),
        expected.prompts.get(sample.problem_id.as_str()),
    ) else {
        return Ok(());
    };
    if same_template && before != now {
        return Err(Error::Settings(format!(
            "{}:{line}: sample {} of problem `{}` was generated for another prompt (prompt_sha256 \
             {before}, now {now}): the problem's question changed since. Write to a new --out \
             file, or give the changed problems new ids",
            path.display(),
            sample.sample_idx,
            sample.problem_id
        )));
    }
    Ok(())
}

fn check_settings(
    path: &Path,
    line: usize,
    found: Option<&Map<String, Value>>,
    expected: &Map<String, Value>,
) -> Result<()> {
    let empty = Map::new();
    let found = found.unwrap_or(&empty);
    let differing = expected
        .iter()
        .map(|(key, value)| (key, Some(value), found.get(key)))
        .chain(
            found
                .iter()
                .filter(|(key, _)| {
                    !expected.contains_key(*key)
                        && !PER_SAMPLE_GENERATOR_FIELDS.contains(&key.as_str())
                })
                .map(|(key, value)| (key, None, Some(value))),
        )
        .find(|(_, now, before)| now != before);
    match differing {
        None => Ok(()),
        Some((key, now, before)) => {
            let show =
                |value: Option<&Value>| value.map_or("(absent)".to_owned(), Value::to_string);
            Err(Error::Settings(format!(
                "{}:{line}: this file was generated with other settings (generator.{key} was {}, \
                 is now {}); write to a new --out file, or pass --allow-settings-change to add \
                 samples with the new settings to it",
                path.display(),
                show(before),
                show(now)
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::Write;

    fn settings() -> Map<String, Value> {
        json!({"backend": "openai", "temperature": 0.7, "template_sha256": "t1"})
            .as_object()
            .unwrap()
            .clone()
    }

    fn record(problem: &str, idx: u32) -> Map<String, Value> {
        let mut generator = settings();
        generator.insert("seed".into(), 7.into());
        generator.insert("prompt_sha256".into(), "p1".into());
        generator.insert("question_sha256".into(), "q1".into());
        json!({"problem_id": problem, "sample_idx": idx, "text": "t", "generator": generator})
            .as_object()
            .unwrap()
            .clone()
    }

    fn expecting(settings: Option<&Map<String, Value>>) -> Expected<'_> {
        Expected {
            settings,
            template_sha256: Some("t1"),
            prompts: HashMap::from([("a", "p1".to_owned())]),
            questions: HashMap::from([("a", "q1".to_owned())]),
            votes: None,
        }
    }

    #[test]
    fn resumes_repairs_a_torn_line_and_checks_settings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        let settings = settings();
        {
            let (mut log, existing) = SampleLog::open(&path, &expecting(Some(&settings))).unwrap();
            assert!(existing.is_empty());
            log.append(&record("a", 0)).unwrap();
            log.append(&record("a", 1)).unwrap();
        }
        // A crash in the middle of a write.
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(br#"{"problem_id": "a", "sample_i"#).unwrap();
        drop(file);
        let (mut log, existing) = SampleLog::open(&path, &expecting(Some(&settings))).unwrap();
        assert_eq!(existing.repaired_bytes, 29);
        assert_eq!(existing.len(), 2);
        assert!(existing.contains("a", 1) && !existing.contains("a", 2));
        log.append(&record("a", 2)).unwrap();
        drop(log);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text.ends_with('\n'));

        let mut other = settings.clone();
        other.insert("temperature".into(), json!(1.0));
        let error = SampleLog::open(&path, &expecting(Some(&other)))
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("s.jsonl:1: this file was generated with other settings (generator.temperature was 0.7, is now 1.0)"), "{error}");
        assert!(SampleLog::open(&path, &expecting(None)).is_ok());
    }

    #[test]
    fn a_second_writer_and_a_changed_question_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        let (mut log, _) = SampleLog::open(&path, &expecting(None)).unwrap();
        log.append(&record("a", 0)).unwrap();
        let error = SampleLog::open(&path, &expecting(None)).err().unwrap();
        assert_eq!(error.exit_code(), 75);
        assert!(error.to_string().contains("is being written by"), "{error}");
        drop(log);
        let mut changed = expecting(None);
        changed.prompts.insert("a", "p2".into());
        let error = SampleLog::open(&path, &changed).err().unwrap();
        assert_eq!(error.exit_code(), 64);
        assert!(
            error
                .to_string()
                .contains("s.jsonl:1: sample 0 of problem `a` was generated for another prompt"),
            "{error}"
        );
        // Another template makes other prompts: that is a settings change, checked there; the
        // question is checked whatever the template (and whatever --allow-settings-change).
        changed.template_sha256 = Some("t2");
        assert!(SampleLog::open(&path, &changed).is_ok());
        changed.questions.insert("a", "q2".into());
        let error = SampleLog::open(&path, &changed).err().unwrap();
        assert_eq!(error.exit_code(), 64);
        assert!(
            error
                .to_string()
                .contains("sample 0 of problem `a` answers another question"),
            "{error}"
        );
    }

    #[test]
    fn duplicate_and_malformed_lines_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        let line = "{\"problem_id\":\"a\",\"sample_idx\":0,\"text\":\"t\"}\n";
        std::fs::write(&path, line.repeat(2)).unwrap();
        let error = SampleLog::open(&path, &expecting(None))
            .err()
            .unwrap()
            .to_string();
        assert!(
            error.ends_with("s.jsonl:2: field `sample_idx`: sample 0 of problem `a` appears twice"),
            "{error}"
        );
        std::fs::write(
            &path,
            "{\"problem_id\":\"a\",\"sample_idx\":-1,\"text\":\"t\"}\n",
        )
        .unwrap();
        assert!(SampleLog::open(&path, &expecting(None)).is_err());
        std::fs::write(
            &path,
            b"{\"problem_id\":\"a\",\"sample_idx\":0,\"text\":\"\xff\"}\n",
        )
        .unwrap();
        let error = SampleLog::open(&path, &expecting(None))
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("s.jsonl:1: not valid UTF-8"), "{error}");
    }
}
