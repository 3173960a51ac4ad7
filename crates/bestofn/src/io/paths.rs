//! Checking a command's files before any work starts: an output must not be one of the inputs
//! (writing it would destroy the input), and two outputs must not be the same file (one would
//! silently replace the other). Paths are compared after resolving symlinks, and existing files
//! by device and inode, so `./a`, `a` and a link to `a` are all the same file.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::input::is_stdio;
use super::output::resolve_symlinks;
use crate::error::{Error, Result};

/// One file of a command, named by the flag that gives it.
#[derive(Debug, Clone)]
pub struct Named<'a> {
    pub flag: &'a str,
    pub path: &'a Path,
    /// A directory output (a report): inputs inside it would be deleted with it.
    pub directory: bool,
}

impl<'a> Named<'a> {
    pub fn file(flag: &'a str, path: &'a Path) -> Self {
        Named {
            flag,
            path,
            directory: false,
        }
    }

    /// An output given by an optional flag.
    pub fn optional(flag: &'a str, path: Option<&'a std::path::PathBuf>) -> Option<Self> {
        path.map(|path| Named::file(flag, path))
    }

    /// The `--problems` and `--samples` inputs most stages read.
    pub fn problems_and_samples(problems: &'a Path, samples: &'a Path) -> [Self; 2] {
        [
            Named::file("--problems", problems),
            Named::file("--samples", samples),
        ]
    }

    /// The paths among `paths` that were given.
    pub fn given<const N: usize>(paths: [Option<Self>; N]) -> Vec<Self> {
        paths.into_iter().flatten().collect()
    }

    pub fn dir(flag: &'a str, path: &'a Path) -> Self {
        Named {
            flag,
            path,
            directory: true,
        }
    }
}

/// Refuses a `--out` that names files after it (`X.q1.jsonl`, `X.samples.jsonl`) when it is not a
/// plain file name: `-`, a device (`/dev/null`), a FIFO or a directory would have its name
/// used for files it cannot hold (`/dev/null.q1.jsonl`).
pub fn ensure_file_family_base(out: &Path, command: &str) -> Result<()> {
    let special = is_stdio(out)
        || out.starts_with("/dev")
        || out.starts_with("/proc")
        || std::fs::metadata(out).is_ok_and(|meta| !meta.is_file());
    if special {
        return Err(Error::Settings(format!(
            "{command} writes several files named after --out {}: name a regular file (e.g. \
             out/run.jsonl), not a device, pipe, directory or -",
            out.display()
        )));
    }
    Ok(())
}

/// How a path is identified for comparison.
#[derive(Debug, PartialEq, Eq)]
struct Identity {
    inode: Option<(u64, u64)>,
    /// Absolute, symlink-free path (the parent canonicalized when the file does not exist).
    path: PathBuf,
    /// Devices and FIFOs (`/dev/null`) may be named several times.
    special: bool,
    /// An existing directory: as an input (a verifier, an embedder), nothing may be written
    /// inside it.
    directory: bool,
}

fn identity(path: &Path) -> Option<Identity> {
    if is_stdio(path) {
        return None;
    }
    let resolved = resolve_symlinks(path).ok()?;
    let absolute = match std::fs::canonicalize(&resolved) {
        Ok(canonical) => canonical,
        Err(_) => {
            let parent = match resolved.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            let parent = std::fs::canonicalize(parent).unwrap_or_else(|_| parent.to_owned());
            parent.join(resolved.file_name()?)
        }
    };
    let meta = std::fs::metadata(&absolute).ok();
    Some(Identity {
        inode: meta.as_ref().map(|m| (m.dev(), m.ino())),
        special: meta.as_ref().is_some_and(|m| !m.is_file() && !m.is_dir()),
        directory: meta.as_ref().is_some_and(std::fs::Metadata::is_dir),
        path: absolute,
    })
}

fn same(a: &Identity, b: &Identity) -> bool {
    !a.special && !b.special && (a.path == b.path || (a.inode.is_some() && a.inode == b.inode))
}

/// Refuses (exit 64) outputs that are an input, contain an input, lie inside an input directory,
/// or coincide with each other.
pub fn ensure_distinct(inputs: &[Named], outputs: &[Named]) -> Result<()> {
    let inputs: Vec<(&Named, Identity)> = inputs
        .iter()
        .filter_map(|n| identity(n.path).map(|id| (n, id)))
        .collect();
    let outputs: Vec<(&Named, Identity)> = outputs
        .iter()
        .filter_map(|n| identity(n.path).map(|id| (n, id)))
        .collect();
    for (i, (output, out_id)) in outputs.iter().enumerate() {
        for (input, in_id) in &inputs {
            let input_inside = output.directory && in_id.path.starts_with(&out_id.path);
            let written_inside = in_id.directory && out_id.path.starts_with(&in_id.path);
            if same(out_id, in_id) || input_inside || written_inside {
                return Err(Error::Settings(format!(
                    "{} {} would overwrite the input {} {}: write to another path",
                    output.flag,
                    output.path.display(),
                    input.flag,
                    input.path.display()
                )));
            }
        }
        for (other, other_id) in &outputs[..i] {
            let nested = (output.directory && other_id.path.starts_with(&out_id.path))
                || (other.directory && out_id.path.starts_with(&other_id.path));
            if same(out_id, other_id) || nested {
                return Err(Error::Settings(format!(
                    "{} and {} both write {}: give each output its own path",
                    other.flag,
                    output.flag,
                    output.path.display()
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_file_under_other_names_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("s.jsonl");
        std::fs::write(&input, "{}\n").unwrap();
        let link = dir.path().join("link.jsonl");
        std::os::unix::fs::symlink(&input, &link).unwrap();
        let dotted = dir.path().join(".").join("s.jsonl");
        for alias in [&input, &link, &dotted] {
            let error = ensure_distinct(
                &[Named::file("--samples", &input)],
                &[Named::file("--out", alias)],
            )
            .unwrap_err();
            assert_eq!(error.exit_code(), 64);
            assert!(error
                .to_string()
                .contains("would overwrite the input --samples"));
        }
        let fresh = dir.path().join("new.jsonl");
        let error = ensure_distinct(
            &[],
            &[Named::file("--sft", &fresh), Named::file("--dpo", &fresh)],
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("--sft and --dpo both write"),
            "{error}"
        );
        // An input inside a report directory would be deleted with it.
        let error = ensure_distinct(
            &[Named::file("--samples", &input)],
            &[Named::dir("--out", dir.path())],
        )
        .unwrap_err();
        assert!(error.to_string().contains("would overwrite"), "{error}");
        // Nothing is written inside or over an input directory (a verifier, an embedder).
        let model_dir = dir.path().join("verifier");
        std::fs::create_dir(&model_dir).unwrap();
        for output in [
            model_dir.join("model.onnx"),
            model_dir.clone(),
            model_dir.join("a/b"),
        ] {
            let error = ensure_distinct(
                &[Named::dir("--verifier", &model_dir)],
                &[Named::file("--out", &output)],
            )
            .unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains("would overwrite the input --verifier"),
                "{error}"
            );
        }
        // Devices and standard streams may repeat.
        let null = Path::new("/dev/null");
        let stdout = Path::new("-");
        ensure_distinct(
            &[Named::file("--samples", stdout)],
            &[
                Named::file("--sft", null),
                Named::file("--dpo", null),
                Named::file("--out", stdout),
            ],
        )
        .unwrap();
    }
}
