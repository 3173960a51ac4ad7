//! Where bestofn finds what `scripts/setup.sh` installs or `scripts/demo.sh` trains when no path is
//! given: the directories searched are the current directory and its ancestors, then the
//! executable's ancestors (so `target/release/bestofn` finds the checkout it was built in).

use std::path::{Path, PathBuf};

/// Candidate project roots, nearest first.
fn roots() -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        roots.extend(cwd.ancestors().map(Path::to_owned));
    }
    if let Ok(exe) = std::env::current_exe() {
        roots.extend(exe.ancestors().skip(1).map(Path::to_owned));
    }
    roots
}

/// The first `ROOT/relative` that exists.
pub fn in_project(relative: &str) -> Option<PathBuf> {
    roots()
        .into_iter()
        .map(|root| root.join(relative))
        .find(|p| p.exists())
}

/// The first `ROOT/VENV/lib/python*/site-packages/RELATIVE_DIR` that is a directory.
pub fn site_packages_dir(venv: &str, relative_dir: &str) -> Option<PathBuf> {
    roots()
        .into_iter()
        .find_map(|root| in_environment(&root.join(venv), relative_dir))
}

/// `PREFIX/lib/python*/site-packages/RELATIVE_DIR` of a Python environment at `prefix`, when it
/// is a directory (the newest Python's, by name).
pub fn in_environment(prefix: &Path, relative_dir: &str) -> Option<PathBuf> {
    let pythons = std::fs::read_dir(prefix.join("lib")).ok()?;
    let mut dirs: Vec<PathBuf> = pythons
        .flatten()
        .map(|python| python.path().join("site-packages").join(relative_dir))
        .filter(|dir| dir.is_dir())
        .collect();
    dirs.sort();
    dirs.pop()
}

/// The last (by name) file in `dir` whose name starts with `prefix`.
pub fn file_with_prefix(dir: &Path, prefix: &str) -> Option<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|f| f.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    files.sort();
    files.pop()
}
