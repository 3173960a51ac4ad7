//! The append-only samples file of `generate`: what is already in it, torn-line repair, appends.
//!
//! A sample is one line written with a single `write` and synced to disk, so a crash at any point
//! leaves complete lines plus at most one torn last line, which the next run cuts off.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::{sample_key, PER_SAMPLE_GENERATOR_FIELDS};
use crate::error::{Error, Result};
use crate::records::Problem;

/// The keys already in a samples file.
#[derive(Debug, Default)]
pub struct ExistingSamples {
    keys: HashSet<(String, u32)>,
    /// The first line of each problem, for error messages.
    first_line: HashMap<String, usize>,
    /// Bytes cut off the end of the file (a torn last line).
    pub repaired_bytes: u64,
}

impl ExistingSamples {
    pub fn contains(&self, problem_id: &str, sample_idx: u32) -> bool {
        // Avoids allocating a key per lookup on the common path of an empty file.
        !self.keys.is_empty() && self.keys.contains(&(problem_id.to_owned(), sample_idx))
    }

    pub fn len(&self) -> usize {
        self.keys.len()
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

impl SampleLog {
    /// Opens (or creates) `path` for appending, after cutting off a torn last line and reading the
    /// keys already present. With `expected`, every existing sample's generator settings must
    /// equal it.
    pub fn open(
        path: &Path,
        expected: Option<&Map<String, Value>>,
    ) -> Result<(Self, ExistingSamples)> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        let mut contents = Vec::new();
        file.read_to_end(&mut contents)
            .map_err(|e| Error::io(path, e))?;
        let complete = contents
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |last| last + 1);
        let mut existing = ExistingSamples {
            repaired_bytes: (contents.len() - complete) as u64,
            ..Default::default()
        };
        if existing.repaired_bytes > 0 {
            tracing::warn!(
                bytes = existing.repaired_bytes,
                "{}: cutting off a torn last line",
                path.display()
            );
            file.set_len(complete as u64)
                .map_err(|e| Error::io(path, e))?;
            file.seek(SeekFrom::End(0))
                .map_err(|e| Error::io(path, e))?;
        }
        let text = std::str::from_utf8(&contents[..complete]).map_err(|e| {
            let line = contents[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            Error::input(path, line, None, "not valid UTF-8")
        })?;
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            record_key(path, index + 1, line, expected, &mut existing)?;
        }
        Ok((
            SampleLog {
                path: path.to_owned(),
                file,
                line: Vec::new(),
            },
            existing,
        ))
    }

    /// Appends one record as one line and syncs it to disk.
    pub fn append(&mut self, record: &Map<String, Value>) -> Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, record).expect("serializing a JSON map");
        self.line.push(b'\n');
        self.file
            .write_all(&self.line)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| Error::io(&self.path, e))
    }
}

fn record_key(
    path: &Path,
    line: usize,
    text: &str,
    expected: Option<&Map<String, Value>>,
    existing: &mut ExistingSamples,
) -> Result<()> {
    #[derive(serde::Deserialize)]
    struct Key {
        problem_id: Value,
        sample_idx: Value,
        #[serde(default)]
        generator: Option<Map<String, Value>>,
    }
    let key: Key = serde_json::from_str(text).map_err(|e| {
        Error::input(
            path,
            line,
            None,
            format!("{e}; this file is not a samples file bestofn can resume"),
        )
    })?;
    let (problem_id, sample_idx) =
        sample_key(path, line, Some(&key.problem_id), Some(&key.sample_idx))?;
    if let Some(expected) = expected {
        check_settings(path, line, key.generator.as_ref(), expected)?;
    }
    if !existing.keys.insert((problem_id.clone(), sample_idx)) {
        return Err(Error::input(
            path,
            line,
            Some("sample_idx"),
            format!("sample {sample_idx} of problem `{problem_id}` appears twice"),
        ));
    }
    existing.first_line.entry(problem_id).or_insert(line);
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

    fn settings() -> Map<String, Value> {
        json!({"backend": "openai", "temperature": 0.7})
            .as_object()
            .unwrap()
            .clone()
    }

    fn record(problem: &str, idx: u32) -> Map<String, Value> {
        let mut generator = settings();
        generator.insert("seed".into(), 7.into());
        json!({"problem_id": problem, "sample_idx": idx, "text": "t", "generator": generator})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn resumes_repairs_a_torn_line_and_checks_settings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        {
            let (mut log, existing) = SampleLog::open(&path, Some(&settings())).unwrap();
            assert!(existing.is_empty());
            log.append(&record("a", 0)).unwrap();
            log.append(&record("a", 1)).unwrap();
        }
        // A crash in the middle of a write.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"problem_id": "a", "sample_i"#).unwrap();
        drop(file);
        let (mut log, existing) = SampleLog::open(&path, Some(&settings())).unwrap();
        assert_eq!(existing.repaired_bytes, 29);
        assert_eq!(existing.len(), 2);
        assert!(existing.contains("a", 1) && !existing.contains("a", 2));
        log.append(&record("a", 2)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text.ends_with('\n'));

        let mut other = settings();
        other.insert("temperature".into(), json!(1.0));
        let error = SampleLog::open(&path, Some(&other))
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("s.jsonl:1: this file was generated with other settings (generator.temperature was 0.7, is now 1.0)"), "{error}");
        assert!(SampleLog::open(&path, None).is_ok());
    }

    #[test]
    fn duplicate_and_malformed_lines_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        std::fs::write(
            &path,
            "{\"problem_id\":\"a\",\"sample_idx\":0}\n{\"problem_id\":\"a\",\"sample_idx\":0}\n",
        )
        .unwrap();
        let error = SampleLog::open(&path, None).err().unwrap().to_string();
        assert!(
            error.ends_with("s.jsonl:2: field `sample_idx`: sample 0 of problem `a` appears twice"),
            "{error}"
        );
        std::fs::write(&path, "{\"problem_id\":\"a\",\"sample_idx\":-1}\n").unwrap();
        assert!(SampleLog::open(&path, None).is_err());
    }
}
