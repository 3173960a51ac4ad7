//! JSONL input and crash-safe output.
//!
//! Readers report 1-based line numbers and accept gzip (`.gz`). Writers go to a temporary file in
//! the destination directory and are renamed into place only when the whole output is complete,
//! so a failed run never leaves a partial file behind.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Opens a file for buffered reading, decompressing it when its name ends in `.gz`.
pub fn open_reader(path: &Path) -> Result<Box<dyn BufRead + Send>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let is_gzip = path.extension().is_some_and(|ext| ext == "gz");
    Ok(if is_gzip {
        Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::read::MultiGzDecoder::new(file),
        ))
    } else {
        Box::new(BufReader::with_capacity(1 << 20, file))
    })
}

/// One non-blank line of a JSONL file, parsed into a JSON object.
pub struct JsonLine {
    /// 1-based line number in the file.
    pub line: usize,
    pub object: Map<String, Value>,
}

/// Calls `visit` with the 1-based number and the text of every non-blank line.
pub fn for_each_line(path: &Path, mut visit: impl FnMut(usize, &str) -> Result<()>) -> Result<()> {
    let mut reader = open_reader(path)?;
    let mut buf = String::new();
    let mut line = 0;
    loop {
        buf.clear();
        let read = reader.read_line(&mut buf).map_err(|e| Error::io(path, e))?;
        if read == 0 {
            return Ok(());
        }
        line += 1;
        let text = buf.trim();
        if !text.is_empty() {
            visit(line, text)?;
        }
    }
}

/// Calls `visit` with successive chunks of up to `max_lines` non-blank lines, each with its 1-based
/// line number, so that a caller can process a chunk in parallel and stream the results.
pub fn for_each_chunk(
    path: &Path,
    max_lines: usize,
    mut visit: impl FnMut(&[(usize, String)]) -> Result<()>,
) -> Result<()> {
    let mut chunk: Vec<(usize, String)> = Vec::with_capacity(max_lines);
    for_each_line(path, |line, text| {
        chunk.push((line, text.to_owned()));
        if chunk.len() == max_lines {
            visit(&chunk)?;
            chunk.clear();
        }
        Ok(())
    })?;
    if chunk.is_empty() {
        Ok(())
    } else {
        visit(&chunk)
    }
}

/// Parses one line as a JSON object, or says why it is not one.
pub fn parse_object(path: &Path, line: usize, text: &str) -> Result<Map<String, Value>> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(Error::input(path, line, None, "expected a JSON object")),
        Err(e) => Err(Error::input(
            path,
            line,
            None,
            format!("not valid JSON ({e})"),
        )),
    }
}

/// Reads every non-blank line of a JSONL file as a JSON object.
///
/// With `skip_invalid`, lines that are not JSON objects are counted in the returned number instead
/// of failing the read.
pub fn read_objects(path: &Path, skip_invalid: bool) -> Result<(Vec<JsonLine>, usize)> {
    let mut objects = Vec::new();
    let mut skipped = 0;
    for_each_line(path, |line, text| {
        match parse_object(path, line, text) {
            Ok(object) => objects.push(JsonLine { line, object }),
            Err(_) if skip_invalid => skipped += 1,
            Err(e) => return Err(e),
        }
        Ok(())
    })?;
    Ok((objects, skipped))
}

/// A file that appears at its destination only once [`AtomicFile::commit`] succeeds.
pub struct AtomicFile {
    destination: PathBuf,
    writer: BufWriter<tempfile::NamedTempFile>,
}

impl AtomicFile {
    pub fn create(destination: &Path) -> Result<Self> {
        let dir = match destination.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let temp = tempfile::Builder::new()
            .prefix(".bestofn-")
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(|e| Error::io(dir, e))?;
        Ok(Self {
            destination: destination.to_owned(),
            writer: BufWriter::with_capacity(1 << 20, temp),
        })
    }

    /// Serializes `value` as one JSONL line.
    pub fn write_json_line<T: serde::Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        serde_json::to_writer(&mut self.writer, value)
            .map_err(|e| Error::io(&self.destination, e.into()))?;
        self.writer
            .write_all(b"\n")
            .map_err(|e| Error::io(&self.destination, e))
    }

    /// Flushes, syncs and renames the temporary file onto the destination.
    pub fn commit(self) -> Result<()> {
        let destination = self.destination;
        let temp = self
            .writer
            .into_inner()
            .map_err(|e| Error::io(&destination, e.into_error()))?;
        temp.persist(&destination)
            .map_err(|e| Error::io(&destination, e.error))?;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

/// Writes `contents` to `destination` atomically.
pub fn write_atomic(destination: &Path, contents: &[u8]) -> Result<()> {
    let mut file = AtomicFile::create(destination)?;
    file.write_all(contents)
        .map_err(|e| Error::io(destination, e))?;
    file.commit()
}

/// Writes each record as a JSONL line to `destination` atomically.
pub fn write_jsonl<T: serde::Serialize>(destination: &Path, records: &[T]) -> Result<()> {
    let mut file = AtomicFile::create(destination)?;
    for record in records {
        file.write_json_line(record)?;
    }
    file.commit()
}
