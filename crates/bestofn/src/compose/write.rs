//! The files of a composed set: the chained problems, the Q1 set and the modified-Q2 set they
//! are measured against, and the summary, which appear together or not at all.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{ComposeSummary, Composed};
use crate::io::OutputSet;
use crate::records::Problem;

/// Where [`write_sets`] put the three problem sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposedPaths {
    pub composed: PathBuf,
    /// NAME.q1.jsonl: the Q1 problems, as they were.
    pub q1: PathBuf,
    /// NAME.q2.jsonl: the modified Q2 problems.
    pub q2: PathBuf,
    /// NAME.summary.json.
    pub summary: PathBuf,
}

/// The four files of a composed set named `out`.
pub fn set_paths(out: &Path) -> ComposedPaths {
    let stem = out
        .file_stem()
        .map_or_else(|| "composed".into(), |s| s.to_string_lossy().into_owned());
    ComposedPaths {
        composed: out.to_owned(),
        q1: out.with_file_name(format!("{stem}.q1.jsonl")),
        q2: out.with_file_name(format!("{stem}.q2.jsonl")),
        summary: out.with_file_name(format!("{stem}.summary.json")),
    }
}

/// Writes the composed set to `out` and the Q1 set, the modified-Q2 set and the summary beside it.
pub fn write_sets(
    out: &Path,
    problems: &[Problem],
    composed: &[Composed],
    summary: &ComposeSummary,
) -> crate::Result<ComposedPaths> {
    let paths = set_paths(out);
    let by_id: HashMap<&str, &Problem> = problems.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut seen = std::collections::HashSet::new();
    let q1: Vec<&Problem> = composed
        .iter()
        .filter_map(|c| c.composed.extra.get("q1_id").and_then(Value::as_str))
        .filter(|id| seen.insert(*id))
        .filter_map(|id| by_id.get(id).copied())
        .collect();
    let main: Vec<&Problem> = composed.iter().map(|c| &c.composed).collect();
    let modified: Vec<&Problem> = composed.iter().map(|c| &c.modified_q2).collect();
    let json = crate::io::pretty_json(summary)?;
    // All four appear together or none does (a full disk must not leave a set without its pair).
    let mut set = OutputSet::default();
    set.add_jsonl(&paths.composed, &main)?;
    set.add_jsonl(&paths.q1, &q1)?;
    set.add_jsonl(&paths.q2, &modified)?;
    set.add_bytes(&paths.summary, &json)?;
    set.commit()?;
    Ok(paths)
}
