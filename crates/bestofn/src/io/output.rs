//! Writing outputs without ever losing data.
//!
//! A regular file (or a name that does not exist yet) is written to a temporary file beside it
//! and renamed into place only when complete, so a failed run leaves the old file (or nothing)
//! behind. The new file honours the umask, or keeps the mode of the file it replaces. A symlink
//! is written through (its target is replaced, the link stays). `-` writes to standard output;
//! a device or FIFO (`/dev/null`, a named pipe) is written in place. A name ending in `.gz` is
//! gzip-compressed. A report directory is built in a temporary directory and renamed into place.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;

use super::input::is_stdio;
use super::parquet::{is_parquet_name, ParquetSpool};
use crate::error::{Error, Result};

const BUFFER: usize = 1 << 20;

/// What a path given as an output resolves to.
#[derive(Debug)]
enum Target {
    Stdout,
    /// A device, FIFO or socket: written where it is.
    InPlace(PathBuf),
    /// A regular file or a new name: replaced atomically. The path has symlinks resolved.
    Replace(PathBuf),
}

/// Follows `path` through symlinks (also a dangling one, to the file it names).
pub fn resolve_symlinks(path: &Path) -> Result<PathBuf> {
    let mut current = path.to_owned();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&current).map_err(|e| Error::io(&current, e))?;
                current = match current.parent() {
                    Some(parent) if target.is_relative() => parent.join(target),
                    _ => target,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(Error::io(
        path,
        std::io::Error::other("too many levels of symbolic links"),
    ))
}

/// `/dev/stdout`, `/dev/fd/N`, `/proc/self/fd/N`: names of files this process already has open,
/// whose links do not name a path (`pipe:[123]`), or name a file opened by the shell.
fn names_an_open_descriptor(path: &Path) -> bool {
    [
        "/dev/stdout",
        "/dev/stderr",
        "/dev/fd",
        "/proc/self/fd",
        "/proc/thread-self/fd",
    ]
    .iter()
    .any(|prefix| path.starts_with(prefix))
}

fn target(path: &Path) -> Result<Target> {
    if is_stdio(path) {
        return Ok(Target::Stdout);
    }
    // Written where it is: what the kernel resolves it to is not a file to replace.
    if names_an_open_descriptor(path)
        || std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
    {
        return Ok(Target::InPlace(path.to_owned()));
    }
    let resolved = resolve_symlinks(path)?;
    match std::fs::metadata(&resolved) {
        Ok(meta) if meta.is_dir() => Err(Error::io(
            path,
            std::io::Error::other("is a directory; name a file to write"),
        )),
        Ok(meta) if !meta.is_file() => Ok(Target::InPlace(resolved)),
        _ => Ok(Target::Replace(resolved)),
    }
}

/// The regular file `path` resolves to, if writing it replaces a file (not standard output, a
/// pipe or a device): where a resumable run can keep its log beside the output.
pub fn replaced_file(path: &Path) -> Result<Option<PathBuf>> {
    Ok(match target(path)? {
        Target::Replace(destination) => Some(destination),
        Target::Stdout | Target::InPlace(_) => None,
    })
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Where the bytes go before the compression layer.
enum Sink {
    Stdout(std::io::Stdout),
    File(File),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Stdout(out) => out.write(buf),
            Sink::File(file) => file.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Stdout(out) => out.flush(),
            Sink::File(file) => file.flush(),
        }
    }
}

enum Body {
    Plain(BufWriter<Sink>),
    Gzip(GzEncoder<BufWriter<Sink>>),
    /// Records spooled until the commit writes them as Parquet into the sink.
    Parquet(ParquetSpool, BufWriter<Sink>),
}

/// The name prefix of this process's temporary files and staging directories:
/// `.bestofn-<pid>@<host>-`, so that those a killed run leaves behind can be told from a running
/// one's, and a run on another machine sharing the directory is never taken for a dead one.
fn temporary_prefix() -> String {
    format!(".bestofn-{}@{}-", std::process::id(), host_name())
}

/// This machine's name as it may stand in a file name (letters, digits, `-`, `.`).
fn host_name() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    name.trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Removes the temporary files and staging directories in `dir` left by bestofn processes of
/// this machine that no longer run (killed before they could clean up), and says so. One whose
/// process still runs (a pid alive and named bestofn), or of another machine, is left alone.
fn clean_stale_temporaries(dir: &Path) {
    // Without /proc no process can be told alive: nothing is removed.
    let Some(entries) = bestofn_runs_as(std::process::id())
        .then(|| std::fs::read_dir(dir).ok())
        .flatten()
    else {
        return;
    };
    let host = host_name();
    let (mut removed, mut bytes) = (0usize, 0u64);
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some((pid, owner)) = name
            .to_str()
            .and_then(|n| n.strip_prefix(".bestofn-"))
            .and_then(|rest| rest.split_once('@'))
            .and_then(|(pid, rest)| Some((pid.parse::<u32>().ok()?, rest.rsplit_once('-')?.0)))
        else {
            continue;
        };
        if owner != host || pid == std::process::id() || bestofn_runs_as(pid) {
            continue;
        }
        let path = entry.path();
        let size = entry.metadata().map_or(0, |m| m.len());
        let gone = match entry.file_type() {
            Ok(kind) if kind.is_dir() => std::fs::remove_dir_all(&path),
            _ => std::fs::remove_file(&path),
        };
        if gone.is_ok() {
            removed += 1;
            bytes += size;
        }
    }
    if removed > 0 {
        tracing::warn!(
            "{}: removed {removed} temporary file(s) ({bytes} bytes) left by bestofn runs that \
             were killed",
            dir.display()
        );
    }
}

/// Whether process `pid` runs and is bestofn (a pid reused by another program is not, nor a
/// killed one its parent has not reaped).
fn bestofn_runs_as(pid: u32) -> bool {
    // `/proc/PID/stat`: "PID (program) STATE ..."; a zombie (Z) was killed, not yet reaped.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let program = stat
            .split_once('(')
            .and_then(|(_, rest)| rest.rsplit_once(')'));
        program.is_some_and(|(name, rest)| {
            name.starts_with("bestofn") && !rest.trim_start().starts_with(['Z', 'X'])
        })
    })
}

/// An output file; it appears at its destination only once [`OutputFile::commit`] succeeds.
pub struct OutputFile {
    /// The path as given, for messages.
    shown: PathBuf,
    body: Body,
    /// For a replaced file: the temporary file and the resolved destination.
    pending: Option<(tempfile::TempPath, PathBuf)>,
    /// The line being serialized, reused.
    line: Vec<u8>,
}

/// Whether standard output was closed when the process started (`>&-`), noted by
/// [`note_stdout_state`] first thing in `main`.
static STDOUT_CLOSED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// Rust's runtime gives a closed standard descriptor `/dev/null` opened read-write before
/// `main`; a shell's `> /dev/null` opens it write-only. So a stdout on `/dev/null` open
/// read-write was closed (or is, in effect, nowhere the user asked for).
fn stdout_closed_now() -> bool {
    let on_dev_null =
        std::fs::read_link("/proc/self/fd/1").is_ok_and(|p| p == Path::new("/dev/null"));
    let read_write = std::fs::read_to_string("/proc/self/fdinfo/1").is_ok_and(|info| {
        info.lines()
            .find_map(|line| line.strip_prefix("flags:"))
            .and_then(|flags| u32::from_str_radix(flags.trim(), 8).ok())
            .is_some_and(|flags| flags & 0o3 == 0o2)
    });
    on_dev_null && read_write
}

/// Notes whether standard output is open; call first thing in `main`.
pub fn note_stdout_state() {
    STDOUT_CLOSED.get_or_init(stdout_closed_now);
}

/// Refuses a closed standard output (`>&-`): Rust's stdout takes writes to a closed descriptor
/// as done, so a run would report success having written nothing.
pub fn ensure_stdout_open() -> Result<()> {
    if *STDOUT_CLOSED.get_or_init(stdout_closed_now) {
        return Err(Error::io(
            Path::new("-"),
            std::io::Error::other("standard output is closed: nothing could be written"),
        ));
    }
    Ok(())
}

impl OutputFile {
    pub fn create(path: &Path) -> Result<Self> {
        let (sink, pending) = match target(path)? {
            Target::Stdout => {
                ensure_stdout_open()?;
                (Sink::Stdout(std::io::stdout()), None)
            }
            Target::InPlace(device) => {
                // Appending: a shell's `>>` behind /dev/stdout keeps what it had.
                let file = OpenOptions::new()
                    .append(true)
                    .open(&device)
                    .map_err(|e| Error::io(path, e))?;
                (Sink::File(file), None)
            }
            Target::Replace(destination) => {
                let dir = parent_dir(&destination);
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
                // 0666 is masked by the umask when the file is created, as for any new file.
                clean_stale_temporaries(dir);
                let prefix = temporary_prefix();
                let temp = tempfile::Builder::new()
                    .prefix(&prefix)
                    .suffix(".tmp")
                    .permissions(Permissions::from_mode(0o666))
                    .tempfile_in(dir)
                    .map_err(|e| Error::io(dir, e))?;
                if let Ok(existing) = std::fs::metadata(&destination) {
                    temp.as_file()
                        .set_permissions(existing.permissions())
                        .map_err(|e| Error::io(path, e))?;
                }
                let (file, temp_path) = temp.into_parts();
                (Sink::File(file), Some((temp_path, destination)))
            }
        };
        let gzip = path.extension().is_some_and(|ext| ext == "gz") && !is_stdio(path);
        let buffered = BufWriter::with_capacity(BUFFER, sink);
        let body = if is_parquet_name(path) {
            let spool_dir = match &pending {
                Some((_, destination)) => parent_dir(destination).to_owned(),
                None => std::env::temp_dir(),
            };
            Body::Parquet(ParquetSpool::create(&spool_dir)?, buffered)
        } else if gzip {
            Body::Gzip(GzEncoder::new(buffered, flate2::Compression::default()))
        } else {
            Body::Plain(buffered)
        };
        Ok(OutputFile {
            shown: path.to_owned(),
            body,
            pending,
            line: Vec::new(),
        })
    }

    /// Serializes `value` as one JSONL line. The line is built in memory first: serde's many
    /// small writes then cost a `Vec` push each instead of a dispatch through the layers below.
    pub fn write_json_line<T: serde::Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        serde_json::to_writer(&mut line, value).map_err(|e| Error::io(&self.shown, e.into()))?;
        line.push(b'\n');
        let written = self.write_all(&line).map_err(|e| Error::io(&self.shown, e));
        self.line = line;
        written
    }

    /// Finishes compression, flushes, syncs and renames the file onto its destination.
    pub fn commit(self) -> Result<()> {
        let shown = self.shown;
        let error = |e: std::io::Error| Error::io(&shown, e);
        let buffered = match self.body {
            Body::Plain(buffered) => buffered,
            Body::Gzip(encoder) => encoder.finish().map_err(error)?,
            Body::Parquet(spool, buffered) => spool.finish(buffered, &shown)?,
        };
        let sink = buffered.into_inner().map_err(|e| error(e.into_error()))?;
        match sink {
            Sink::Stdout(mut out) => out.flush().map_err(error)?,
            Sink::File(file) => {
                if let Some((temp, destination)) = self.pending {
                    file.sync_all().map_err(error)?;
                    temp.persist(&destination).map_err(|e| error(e.error))?;
                }
            }
        }
        Ok(())
    }
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.body {
            Body::Plain(w) => w.write(buf),
            Body::Gzip(w) => w.write(buf),
            Body::Parquet(spool, _) => spool.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.body {
            Body::Plain(w) => w.flush(),
            Body::Gzip(w) => w.flush(),
            Body::Parquet(spool, _) => spool.flush(),
        }
    }
}

pub fn write_atomic(destination: &Path, contents: &[u8]) -> Result<()> {
    bytes_file(destination, contents)?.commit()
}

/// Pretty-printed JSON of `value` (reports, summaries).
pub fn pretty_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(value).map_err(|e| crate::Error::Report(e.to_string()))
}

/// Writes `value` as pretty-printed JSON to `destination` atomically.
pub fn write_json_pretty<T: serde::Serialize + ?Sized>(
    destination: &Path,
    value: &T,
) -> Result<()> {
    write_atomic(destination, &pretty_json(value)?)
}

/// Writes each record as a JSONL line to `destination` atomically.
pub fn write_jsonl<T: serde::Serialize>(destination: &Path, records: &[T]) -> Result<()> {
    jsonl_file(destination, records)?.commit()
}

/// An output holding `contents`, flushed (a full disk shows here), not yet in place.
fn bytes_file(path: &Path, contents: &[u8]) -> Result<OutputFile> {
    let mut file = OutputFile::create(path)?;
    file.write_all(contents)
        .and_then(|()| file.flush())
        .map_err(|e| Error::io(path, e))?;
    Ok(file)
}

/// An output holding `records` as JSONL, flushed, not yet in place.
fn jsonl_file<T: serde::Serialize>(path: &Path, records: &[T]) -> Result<OutputFile> {
    let mut file = OutputFile::create(path)?;
    for record in records {
        file.write_json_line(record)?;
    }
    file.flush().map_err(|e| Error::io(path, e))?;
    Ok(file)
}

/// Files that must appear together: each is written completely before any is renamed into
/// place, so a failure while writing (a full disk) leaves none of them behind.
#[derive(Default)]
pub struct OutputSet {
    files: Vec<OutputFile>,
}

impl OutputSet {
    pub fn add_jsonl<T: serde::Serialize>(&mut self, path: &Path, records: &[T]) -> Result<()> {
        self.files.push(jsonl_file(path, records)?);
        Ok(())
    }

    pub fn add_bytes(&mut self, path: &Path, contents: &[u8]) -> Result<()> {
        self.files.push(bytes_file(path, contents)?);
        Ok(())
    }

    pub fn commit(self) -> Result<()> {
        self.files.into_iter().try_for_each(OutputFile::commit)
    }
}

/// A report directory: files are written into a hidden staging directory beside the
/// destination, which replaces the destination only when [`OutputDir::commit`] is called.
pub struct OutputDir {
    destination: PathBuf,
    _staging_parent: tempfile::TempDir,
    staging: PathBuf,
}

impl OutputDir {
    pub fn create(path: &Path) -> Result<Self> {
        if is_stdio(path) {
            return Err(Error::Settings(
                "a report directory cannot be written to standard output".into(),
            ));
        }
        let destination = resolve_symlinks(path)?;
        if destination.exists() && !destination.is_dir() {
            return Err(Error::io(
                path,
                std::io::Error::other("exists and is not a directory"),
            ));
        }
        let dir = parent_dir(&destination);
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        clean_stale_temporaries(dir);
        let staging_parent = tempfile::Builder::new()
            .prefix(&temporary_prefix())
            .tempdir_in(dir)
            .map_err(|e| Error::io(dir, e))?;
        // Created with 0777 so that the umask applies, as for any new directory.
        let staging = staging_parent.path().join("report");
        std::fs::DirBuilder::new()
            .mode(0o777)
            .create(&staging)
            .map_err(|e| Error::io(&staging, e))?;
        Ok(OutputDir {
            destination,
            _staging_parent: staging_parent,
            staging,
        })
    }

    /// Where a file named `name` of the report is staged.
    pub fn file(&self, name: &str) -> PathBuf {
        self.staging.join(name)
    }

    /// Replaces the destination with the staged directory.
    pub fn commit(self) -> Result<()> {
        let error = |e| Error::io(&self.destination, e);
        let old = self._staging_parent.path().join("previous");
        let had_old = self.destination.is_dir();
        if had_old {
            std::fs::rename(&self.destination, &old).map_err(error)?;
        }
        if let Err(e) = std::fs::rename(&self.staging, &self.destination) {
            if had_old {
                let _ = std::fs::rename(&old, &self.destination);
            }
            return Err(error(e));
        }
        // `previous` goes with the staging parent when it is dropped.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn writes_through_symlinks_keeps_modes_and_compresses_gz() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.jsonl");
        std::fs::write(&real, "old\n").unwrap();
        std::fs::set_permissions(&real, Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("link.jsonl");
        symlink("real.jsonl", &link).unwrap();
        write_atomic(&link, b"new\n").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new\n");
        let mode = std::fs::metadata(&real).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);

        let gz = dir.path().join("x.jsonl.gz");
        write_jsonl(&gz, &[serde_json::json!({"a": 1})]).unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(File::open(&gz).unwrap()),
            &mut text,
        )
        .unwrap();
        assert_eq!(text, "{\"a\":1}\n");
    }

    #[test]
    fn devices_are_written_in_place() {
        write_atomic(Path::new("/dev/null"), b"x").unwrap();
        assert!(!std::fs::metadata("/dev/null").unwrap().is_file());
    }

    #[test]
    fn a_set_of_files_appears_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("a.jsonl");
        let blocked = dir.path().join("b.jsonl");
        std::fs::create_dir(&blocked).unwrap();
        let mut set = OutputSet::default();
        set.add_jsonl(&first, &[1, 2]).unwrap();
        assert!(set.add_bytes(&blocked, b"x").is_err());
        drop(set);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(
            names.len(),
            1,
            "only the blocking directory: no a.jsonl, no temporary file"
        );
    }

    #[test]
    fn a_report_directory_appears_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("report");
        std::fs::create_dir(&report).unwrap();
        std::fs::write(report.join("stale.txt"), "x").unwrap();
        let staged = OutputDir::create(&report).unwrap();
        std::fs::write(staged.file("a.json"), "{}").unwrap();
        drop(staged);
        assert!(
            report.join("stale.txt").exists(),
            "an abandoned report leaves the old one"
        );
        let staged = OutputDir::create(&report).unwrap();
        std::fs::write(staged.file("a.json"), "{}").unwrap();
        staged.commit().unwrap();
        assert!(report.join("a.json").exists() && !report.join("stale.txt").exists());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no staging directory is left behind");
    }
}
