//! The one streaming driver over a samples file: chunks of lines are parsed in parallel, keys
//! checked for uniqueness, bad lines skipped or reported, and each chunk handed on in file order.
//! `label`, `score`, `rank`, `eval`, replay and every whole-file reader use it.

use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;

use super::sample::{SampleRecord, SampleVerdict};
use super::Sample;
use crate::error::{Error, Result};
use crate::io::for_each_chunk;

/// How a samples file is read.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions {
    /// Count and skip malformed lines, repeated keys and records `prepare` rejects.
    pub skip_invalid: bool,
    /// Lines parsed together.
    pub chunk_lines: usize,
    /// Hand on traces stopped mid-generation too (a reader that passes them through or counts
    /// their cost); by default they are counted in [`ReadStats::stopped`] and left out.
    pub keep_stopped: bool,
}

impl ReadOptions {
    pub fn new(skip_invalid: bool) -> Self {
        ReadOptions {
            skip_invalid,
            chunk_lines: 4096,
            keep_stopped: false,
        }
    }
}

/// What a read went through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    pub records: usize,
    pub skipped: usize,
    /// Traces stopped mid-generation, left out.
    pub stopped: usize,
}

/// Reads `path` as records `R`, turns each into a `T` with `prepare` (in parallel; its errors are
/// skippable too), and hands every chunk's results to `consume` in file order.
///
/// A file with no valid record is an error: an empty input is a wrong path or a failed earlier
/// step, never a result.
pub fn map_samples<R, T, P, C>(
    path: &Path,
    options: ReadOptions,
    prepare: P,
    mut consume: C,
) -> Result<ReadStats>
where
    R: SampleRecord,
    T: Send,
    P: Fn(R, usize) -> Result<T> + Sync,
    C: FnMut(Vec<T>) -> Result<()>,
{
    let mut stats = ReadStats::default();
    // problem id → sample_idx → first line: one allocation per problem, not per sample.
    let mut first_line: FastMap<String, FastMap<u32, usize>> = FastMap::default();
    for_each_chunk(path, options.chunk_lines.max(1), |chunk| {
        let parsed: Vec<Result<R>> = chunk
            .par_iter()
            .map(|&(line, text)| R::parse(path, line, text))
            .collect();
        let mut unique = Vec::with_capacity(parsed.len());
        for ((line, _), record) in chunk.iter().zip(parsed) {
            let record = match record {
                Ok(record) => record,
                Err(_) if options.skip_invalid => {
                    stats.skipped += 1;
                    continue;
                }
                Err(e) if first_line.is_empty() => {
                    return Err(match crate::io::table::samples_shape_hint(path) {
                        Some(hint) => Error::input(path, *line, None, hint),
                        None => e,
                    })
                }
                Err(e) => return Err(e),
            };
            let lines = match first_line.get_mut(record.problem_id()) {
                Some(lines) => lines,
                None => first_line
                    .entry(record.problem_id().to_owned())
                    .or_default(),
            };
            if let Some(&first) = lines.get(&record.sample_idx()) {
                if options.skip_invalid {
                    stats.skipped += 1;
                    continue;
                }
                let (id, idx) = (record.problem_id(), record.sample_idx());
                return Err(duplicate_error(path, *line, id, idx, first));
            }
            lines.insert(record.sample_idx(), *line);
            if record.stopped_early() && !options.keep_stopped {
                stats.stopped += 1;
                continue;
            }
            unique.push((*line, record));
        }
        let prepared: Vec<Result<T>> = unique
            .into_par_iter()
            .map(|(line, record)| prepare(record, line))
            .collect();
        let mut kept = Vec::with_capacity(prepared.len());
        for result in prepared {
            match result {
                Ok(item) => kept.push(item),
                Err(_) if options.skip_invalid => stats.skipped += 1,
                Err(e) => return Err(e),
            }
        }
        stats.records += kept.len();
        consume(kept)
    })?;
    if stats.records == 0 {
        return Err(Error::Inconsistent(if stats.stopped > 0 {
            format!(
                "{}: every sample is a trace stopped mid-generation ({} of them): nothing to grade \
                 or rank",
                path.display(),
                stats.stopped
            )
        } else if stats.skipped > 0 {
            format!(
                "{}: every line was invalid ({} skipped): nothing to do",
                path.display(),
                stats.skipped
            )
        } else {
            format!(
                "{}: no samples (the file is empty or blank)",
                path.display()
            )
        }));
    }
    Ok(stats)
}

/// FNV-1a: keys here are short and not attacker-chosen in any way that matters (a slow file is
/// the worst case), so SipHash's cost buys nothing.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(crate::grade::hash::FNV_OFFSET)
    }
}

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = crate::grade::hash::fnv1a(self.0, bytes);
    }
}

type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fnv>>;

/// The error for a second sample with the key of an earlier one.
pub fn duplicate_error(
    path: &Path,
    line: usize,
    problem_id: &str,
    sample_idx: u32,
    first_line: usize,
) -> Error {
    Error::input(
        path,
        line,
        Some("sample_idx"),
        format!(
            "duplicate sample (problem_id {problem_id:?}, sample_idx {sample_idx}); first on line {first_line}"
        ),
    )
}

/// Reads every record of a samples file into memory (traces stopped mid-generation left out).
pub fn read_all<R: SampleRecord>(path: &Path, skip_invalid: bool) -> Result<(Vec<R>, ReadStats)> {
    read_all_with(path, ReadOptions::new(skip_invalid))
}

fn read_all_with<R: SampleRecord>(
    path: &Path,
    options: ReadOptions,
) -> Result<(Vec<R>, ReadStats)> {
    let mut records = Vec::new();
    let stats = map_samples(
        path,
        options,
        |record: R, _| Ok(record),
        |chunk| {
            records.extend(chunk);
            Ok(())
        },
    )?;
    Ok((records, stats))
}

/// Reads a whole samples file (with texts); keys must be unique.
pub fn read_samples(path: &Path) -> Result<Vec<Sample>> {
    read_all(path, false).map(|(samples, _)| samples)
}

/// Verdicts read from a samples file.
pub struct VerdictSet {
    /// The samples: finished traces only.
    pub verdicts: Vec<SampleVerdict>,
    /// Traces stopped mid-generation: what they cost counts, they do not.
    pub stopped: Vec<SampleVerdict>,
    pub skipped: usize,
}

/// Reads the verdict fields of a samples file, skipping texts and unknown fields.
pub fn read_verdicts(path: &Path, skip_invalid: bool) -> Result<VerdictSet> {
    let options = ReadOptions {
        keep_stopped: true,
        ..ReadOptions::new(skip_invalid)
    };
    let (all, stats) = read_all_with::<SampleVerdict>(path, options)?;
    let (stopped, verdicts): (Vec<_>, Vec<_>) = all.into_iter().partition(|v| v.stopped_early);
    if verdicts.is_empty() {
        return Err(Error::Inconsistent(format!(
            "{}: every sample is a trace stopped mid-generation ({} of them): nothing to rank",
            path.display(),
            stopped.len()
        )));
    }
    Ok(VerdictSet {
        verdicts,
        stopped,
        skipped: stats.skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_files_and_all_invalid_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        std::fs::write(&path, "\n\n").unwrap();
        let error = read_verdicts(&path, false).err().unwrap().to_string();
        assert!(
            error.contains("no samples (the file is empty or blank)"),
            "{error}"
        );
        std::fs::write(&path, "{oops\n[1]\n").unwrap();
        let error = read_verdicts(&path, true).err().unwrap().to_string();
        assert!(
            error.contains("every line was invalid (2 skipped)"),
            "{error}"
        );
    }

    #[test]
    fn repeated_keys_fail_or_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        let line = r#"{"problem_id": "a", "sample_idx": 0, "text": "t"}"#;
        std::fs::write(&path, format!("{line}\n{line}\n")).unwrap();
        let error = read_samples(&path).err().unwrap().to_string();
        assert!(
            error.contains("s.jsonl:2: field `sample_idx`: duplicate sample"),
            "{error}"
        );
        let (samples, stats) = read_all::<Sample>(&path, true).unwrap();
        assert_eq!((samples.len(), stats.skipped), (1, 1));
    }
}
