//! Append-only logs (the samples of `generate`, the scores of an interrupted `score`): opened
//! locked, so that two runs never append to one file at once, with a torn last line cut off.
//!
//! The lock is the operating system's (`flock`), so it is released when its holder exits, even
//! by `kill -9`. When it is taken, the holder is named from `/proc/locks` where the system has it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::{Error, Result};

/// An append-only log opened for appending and locked.
pub struct OpenedLog {
    pub file: File,
    /// Every complete line already in it (a torn last line was cut off the file).
    pub contents: Vec<u8>,
    /// Bytes of the torn last line that was cut off.
    pub repaired_bytes: u64,
}

/// Opens (or creates, with its directory) the log at `path`, which must be a regular file
/// (`what` says who appends to it, for the error), locks it, and cuts off a torn last line.
pub fn open_log(path: &Path, what: &str) -> Result<OpenedLog> {
    if super::parquet::is_parquet_name(path) {
        return Err(Error::Settings(format!(
            "{}: {what} appends to and resumes from a JSONL file, which Parquet cannot be; name \
             it .jsonl and convert it when done (bestofn convert --input FILE.jsonl --out \
             FILE.parquet)",
            path.display()
        )));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    if !file.metadata().map_err(|e| Error::io(path, e))?.is_file() {
        return Err(Error::Settings(format!(
            "{} is not a regular file; {what} appends to and resumes from a file",
            path.display()
        )));
    }
    lock_exclusive(&file, path)?;
    let mut contents = Vec::new();
    file.read_to_end(&mut contents)
        .map_err(|e| Error::io(path, e))?;
    let complete = contents
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |last| last + 1);
    let repaired_bytes = (contents.len() - complete) as u64;
    if repaired_bytes > 0 {
        tracing::warn!(
            bytes = repaired_bytes,
            "{}: cutting off a torn last line",
            path.display()
        );
        file.set_len(complete as u64)
            .map_err(|e| Error::io(path, e))?;
        file.seek(SeekFrom::End(0))
            .map_err(|e| Error::io(path, e))?;
        contents.truncate(complete);
    }
    Ok(OpenedLog {
        file,
        contents,
        repaired_bytes,
    })
}

/// Appends `bytes` (whole lines) to the log `file` and syncs them. When the write fails (a full
/// disk, a file size limit) the file is cut back to its length before, so that it always holds
/// whole lines: what a run says is safe is exactly what the file holds.
pub fn append_whole_lines(file: &mut File, path: &Path, bytes: &[u8]) -> Result<()> {
    let before = file.metadata().map_err(|e| Error::io(path, e))?.len();
    match file.write_all(bytes).and_then(|()| file.sync_data()) {
        Ok(()) => Ok(()),
        Err(error) => {
            if let Err(cut) = file.set_len(before).and_then(|()| file.sync_data()) {
                tracing::warn!(
                    "{}: could not cut off a partly written line: {cut}",
                    path.display()
                );
            }
            Err(Error::io(path, error))
        }
    }
}

/// Takes an exclusive lock on `file` (opened from `path`) for as long as `file` is open.
pub fn lock_exclusive(file: &File, path: &Path) -> Result<()> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = file
                .metadata()
                .ok()
                .and_then(|meta| lock_holder(meta.ino()))
                .map_or_else(
                    || "another process".to_owned(),
                    |(pid, program)| format!("process {pid} ({program})"),
                );
            Err(Error::Busy(format!(
                "{} is being written by {holder}; wait for it to finish, or write to another file",
                path.display()
            )))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(path, e)),
    }
}

/// The pid and program name of the process holding a lock on the file with inode `inode`.
fn lock_holder(inode: u64) -> Option<(u32, String)> {
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    let pid = locks.lines().find_map(|line| {
        // "1: FLOCK  ADVISORY  WRITE 12345 fd:01:67890 0 EOF"
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (pid, file) = (fields.get(4)?, fields.get(5)?);
        let file_inode: u64 = file.rsplit(':').next()?.parse().ok()?;
        (file_inode == inode).then(|| pid.parse::<u32>().ok())?
    })?;
    // The program's name only: its command line may hold a key.
    let program = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    Some((pid, program.trim().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_with_the_holder_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        let first = File::create(&path).unwrap();
        lock_exclusive(&first, &path).unwrap();
        let second = File::options().append(true).open(&path).unwrap();
        let error = lock_exclusive(&second, &path).unwrap_err();
        assert_eq!(error.exit_code(), 75);
        let message = error.to_string();
        assert!(message.contains("is being written by"), "{message}");
        if std::path::Path::new("/proc/locks").exists() {
            assert!(
                message.contains(&format!("process {}", std::process::id())),
                "{message}"
            );
        }
        drop(first);
        lock_exclusive(&second, &path).unwrap();
    }
}
