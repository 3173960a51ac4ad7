//! Reading JSONL inputs: a file or `-` (standard input), gzip recognised by its magic bytes
//! whatever the name, a UTF-8 byte-order mark dropped, lines numbered from 1, and a line that is
//! not UTF-8 reported with its number (and skippable) instead of failing the whole read.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const UTF8_BOM: [u8; 3] = [0xef, 0xbb, 0xbf];
const BUFFER: usize = 1 << 20;
/// Bytes past which a chunk of lines is handed on before it has its count of lines.
const CHUNK_BYTES: usize = 64 << 20;

/// The longest line read (`--max-line-bytes`): an input without newlines (`/dev/zero`, a
/// corrupt file) is an error naming the limit, not memory growing until the process dies.
static MAX_LINE_BYTES: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_LINE_BYTES);
pub const DEFAULT_MAX_LINE_BYTES: usize = 128 << 20;

/// Sets the longest line any reader accepts, for the whole process (from `--max-line-bytes`).
pub fn set_max_line_bytes(bytes: usize) {
    MAX_LINE_BYTES.store(bytes, Ordering::Relaxed);
}

/// Consumes a run of bare newlines (blank lines) at the reader's position, a buffer at a time:
/// how many. A gigabyte of blank lines is skipped at memchr speed, not a line at a time.
fn skip_newlines(reader: &mut dyn BufRead, path: &Path) -> Result<usize> {
    let mut skipped = 0;
    loop {
        let available = reader.fill_buf().map_err(|e| Error::io(path, e))?;
        let run = available.iter().take_while(|&&b| b == b'\n').count();
        if run == 0 {
            return Ok(skipped);
        }
        reader.consume(run);
        skipped += run;
    }
}

/// Appends one line (through its `\n`) to `buf`; the bytes read, 0 at the end. A line longer
/// than [`MAX_LINE_BYTES`] is an error naming the limit and the flag that raises it.
fn read_line(
    reader: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    path: &Path,
    line: usize,
) -> Result<usize> {
    let max = MAX_LINE_BYTES.load(Ordering::Relaxed);
    let start = buf.len();
    loop {
        let available = reader.fill_buf().map_err(|e| Error::io(path, e))?;
        if available.is_empty() {
            return Ok(buf.len() - start);
        }
        let (used, done) = match memchr::memchr(b'\n', available) {
            Some(at) => (at + 1, true),
            None => (available.len(), false),
        };
        if buf.len() - start + used > max {
            return Err(Error::input(
                path,
                line,
                None,
                format!(
                    "the line is longer than {max} bytes (is this a JSONL file?); \
                     raise the limit with --max-line-bytes if it really holds such lines"
                ),
            ));
        }
        buf.extend_from_slice(&available[..used]);
        reader.consume(used);
        if done {
            return Ok(buf.len() - start);
        }
    }
}

/// Whether `path` names standard input / output.
pub fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Opens a file (or standard input for `-`) for buffered reading, decompressing gzip content.
pub fn open_reader(path: &Path) -> Result<Box<dyn BufRead + Send>> {
    let raw: Box<dyn Read + Send> = if is_stdio(path) {
        Box::new(std::io::stdin())
    } else {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        if file.metadata().is_ok_and(|m| m.is_dir()) {
            return Err(Error::input(
                path,
                0,
                None,
                "is a directory, not a JSONL file",
            ));
        }
        Box::new(file)
    };
    let mut reader = BufReader::with_capacity(BUFFER, raw);
    let head = reader.fill_buf().map_err(|e| Error::io(path, e))?;
    let mut reader: Box<dyn BufRead + Send> = if head.starts_with(&GZIP_MAGIC) {
        Box::new(BufReader::with_capacity(
            BUFFER,
            flate2::bufread::MultiGzDecoder::new(reader),
        ))
    } else {
        Box::new(reader)
    };
    let head = reader.fill_buf().map_err(|e| Error::io(path, e))?;
    if head.starts_with(&UTF8_BOM) {
        reader.consume(UTF8_BOM.len());
    }
    Ok(reader)
}

/// A line that is not valid UTF-8: where its first bad byte is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8 {
    /// 1-based column (in bytes) of the first invalid byte.
    pub column: usize,
}

impl InvalidUtf8 {
    pub fn into_error(self, path: &Path, line: usize) -> Error {
        Error::input(
            path,
            line,
            None,
            format!(
                "not valid UTF-8 (byte {} of the line); re-encode the file as UTF-8",
                self.column
            ),
        )
    }
}

/// The text of one line, or why it has none.
pub type LineText<'a> = std::result::Result<&'a str, InvalidUtf8>;

/// Calls `visit` with the 1-based number and the trimmed text of every non-blank line.
/// An I/O error (or a corrupt gzip stream) ends the read with an error naming the file.
pub fn for_each_line(
    path: &Path,
    visit: impl FnMut(usize, LineText<'_>) -> Result<()>,
) -> Result<()> {
    for_each_line_of(open_reader(path)?, path, visit)
}

/// [`for_each_line`] on a reader already opened on `path`.
pub(crate) fn for_each_line_of(
    mut reader: Box<dyn BufRead + Send>,
    path: &Path,
    mut visit: impl FnMut(usize, LineText<'_>) -> Result<()>,
) -> Result<()> {
    if is_parquet(&mut reader, path)? {
        // Each row as the JSON line it would be: the same parsers and checks follow.
        return super::parquet::for_each_batch(path, reader, |first_row, rows| {
            for (offset, row) in rows.into_iter().enumerate() {
                visit(first_row + offset, Ok(&Value::Object(row).to_string()))?;
            }
            Ok(())
        });
    }
    let mut buf = Vec::new();
    let mut line = 0;
    loop {
        line += skip_newlines(&mut reader, path)?;
        buf.clear();
        if read_line(&mut reader, &mut buf, path, line + 1)? == 0 {
            return Ok(());
        }
        line += 1;
        match line_text(&buf) {
            Ok("") => {}
            text => visit(line, text)?,
        }
    }
}

/// One line of a chunk: its 1-based number and its text (or why it has none).
pub type ChunkLine<'a> = (usize, LineText<'a>);

/// Calls `visit` with successive chunks of up to `max_lines` non-blank lines, so that a caller
/// can process a chunk in parallel and stream the results. The lines of a chunk borrow one
/// buffer: no allocation or copy per line.
pub fn for_each_chunk(
    path: &Path,
    max_lines: usize,
    mut visit: impl FnMut(&[ChunkLine<'_>]) -> Result<()>,
) -> Result<()> {
    let mut reader = open_reader(path)?;
    if is_parquet(&mut reader, path)? {
        return parquet_chunks(path, reader, max_lines, visit);
    }
    let mut buffer: Vec<u8> = Vec::with_capacity(BUFFER);
    let mut spans: Vec<(usize, std::ops::Range<usize>)> = Vec::with_capacity(max_lines);
    let mut line = 0;
    let mut at_end = false;
    while !at_end {
        buffer.clear();
        spans.clear();
        // A chunk: up to max_lines lines (or CHUNK_BYTES), each read whole into the shared
        // buffer; blank lines take no room.
        while spans.len() < max_lines && buffer.len() < CHUNK_BYTES {
            line += skip_newlines(&mut reader, path)?;
            let start = buffer.len();
            if read_line(&mut reader, &mut buffer, path, line + 1)? == 0 {
                at_end = true;
                break;
            }
            line += 1;
            if buffer[start..].iter().all(u8::is_ascii_whitespace) {
                buffer.truncate(start);
            } else {
                spans.push((line, start..buffer.len()));
            }
        }
        let chunk: Vec<ChunkLine<'_>> = spans
            .iter()
            .map(|(number, span)| (*number, line_text(&buffer[span.clone()])))
            .filter(|(_, text)| *text != Ok(""))
            .collect();
        if !chunk.is_empty() {
            visit(&chunk)?;
        }
    }
    Ok(())
}

/// Whether the input starts as a Parquet file does (read whatever its name).
pub(crate) fn is_parquet(reader: &mut Box<dyn BufRead + Send>, path: &Path) -> Result<bool> {
    let head = reader.fill_buf().map_err(|e| Error::io(path, e))?;
    Ok(head.starts_with(super::parquet::MAGIC))
}

/// [`for_each_chunk`] over a Parquet file: each row as its JSON text, numbered from 1.
fn parquet_chunks(
    path: &Path,
    reader: Box<dyn BufRead + Send>,
    max_lines: usize,
    mut visit: impl FnMut(&[ChunkLine<'_>]) -> Result<()>,
) -> Result<()> {
    super::parquet::for_each_batch(path, reader, |first_row, rows| {
        let texts: Vec<String> = rows
            .into_par_iter()
            .map(|row| Value::Object(row).to_string())
            .collect();
        let numbered: Vec<ChunkLine<'_>> = texts
            .iter()
            .enumerate()
            .map(|(offset, text)| (first_row + offset, Ok(text.as_str())))
            .collect();
        numbered.chunks(max_lines.max(1)).try_for_each(&mut visit)
    })
}

/// The trimmed text of a line's bytes, or where they stop being UTF-8.
fn line_text(bytes: &[u8]) -> LineText<'_> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.trim()),
        Err(e) => Err(InvalidUtf8 {
            column: e.valid_up_to() + 1,
        }),
    }
}

/// Parses one line as a JSON object, or says why it is not one. A key repeated inside any
/// object of the line is refused (JSON parsers disagree on which value wins: the gold answer
/// would silently be the last one here and the first one elsewhere).
pub fn parse_object(path: &Path, line: usize, text: LineText<'_>) -> Result<Map<String, Value>> {
    let text = text.map_err(|e| e.into_error(path, line))?;
    match serde_json::from_str::<Strict>(text) {
        Ok(Strict(Value::Object(object))) => Ok(object),
        Ok(_) => Err(Error::input(path, line, None, "expected a JSON object")),
        Err(e) => match e.to_string().strip_prefix(REPEATED) {
            Some(rest) => {
                let key = rest.split(" at line").next().unwrap_or(rest);
                Err(Error::input(
                    path,
                    line,
                    Some(key),
                    "appears twice in the object; keep one",
                ))
            }
            None => Err(Error::input(
                path,
                line,
                None,
                format!("not valid JSON ({e})"),
            )),
        },
    }
}

/// The prefix of the parse error for a repeated key, followed by the key.
const REPEATED: &str = "repeated key ";

/// A JSON value read with every object's keys checked for repeats.
struct Strict(Value);

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("{REPEATED}{key}")));
            }
            let Strict(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_bool<E>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> std::result::Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> std::result::Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> std::result::Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
}

/// One non-blank line of a JSONL file, parsed into a JSON object.
#[derive(Debug)]
pub struct JsonLine {
    /// 1-based line number in the file.
    pub line: usize,
    pub object: Map<String, Value>,
}

/// Reads every non-blank line of a JSONL file as a JSON object; a file without any is an error
/// (an empty input is almost always a wrong path or a failed earlier step).
pub fn read_objects(path: &Path) -> Result<Vec<JsonLine>> {
    read_objects_of(open_reader(path)?, path)
}

/// [`read_objects`] on a reader already opened on `path`.
pub(crate) fn read_objects_of(
    reader: Box<dyn BufRead + Send>,
    path: &Path,
) -> Result<Vec<JsonLine>> {
    let mut objects = Vec::new();
    for_each_line_of(reader, path, |line, text| {
        objects.push(JsonLine {
            line,
            object: parse_object(path, line, text)?,
        });
        Ok(())
    })?;
    if objects.is_empty() {
        return Err(Error::Inconsistent(format!(
            "{}: no records (the file is empty or blank)",
            path.display()
        )));
    }
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn lines_of(path: &Path) -> Vec<(usize, std::result::Result<String, InvalidUtf8>)> {
        let mut lines = Vec::new();
        for_each_line(path, |line, text| {
            lines.push((line, text.map(str::to_owned)));
            Ok(())
        })
        .unwrap();
        lines
    }

    #[test]
    fn gzip_by_content_bom_and_bad_utf8_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        // Gzip under a .jsonl name.
        let gz = dir.path().join("a.jsonl");
        let mut encoder =
            flate2::write::GzEncoder::new(File::create(&gz).unwrap(), Default::default());
        encoder.write_all(b"{\"a\":1}\n\n{\"b\":2}\n").unwrap();
        encoder.finish().unwrap();
        assert_eq!(
            lines_of(&gz),
            vec![(1, Ok("{\"a\":1}".into())), (3, Ok("{\"b\":2}".into()))]
        );
        // A byte-order mark, then a line with a Latin-1 byte.
        let bom = dir.path().join("b.jsonl");
        std::fs::write(&bom, b"\xef\xbb\xbf{\"a\":1}\n{\"b\":\"caf\xe9\"}\n").unwrap();
        assert_eq!(
            lines_of(&bom),
            vec![
                (1, Ok("{\"a\":1}".into())),
                (2, Err(InvalidUtf8 { column: 10 }))
            ]
        );
        let error = parse_object(&bom, 2, Err(InvalidUtf8 { column: 10 }))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("b.jsonl:2: not valid UTF-8 (byte 10"),
            "{error}"
        );
    }

    #[test]
    fn a_line_past_the_limit_is_refused_and_blank_lines_take_no_room() {
        let dir = tempfile::tempdir().unwrap();
        let long = dir.path().join("long.jsonl");
        let mut text = "{\"a\": 1}\n".to_owned();
        text.push_str(&"x".repeat(DEFAULT_MAX_LINE_BYTES + 1));
        std::fs::write(&long, &text).unwrap();
        let error = read_objects(&long).err().unwrap().to_string();
        assert!(
            error.contains("long.jsonl:2") && error.contains("--max-line-bytes"),
            "{error}"
        );
        // Many blank lines between records: chunks hold the records, not the blanks.
        let blanks = dir.path().join("blanks.jsonl");
        let mut text = "\n".repeat(CHUNK_BYTES + 10);
        text.push_str("{\"a\": 1}\n");
        std::fs::write(&blanks, &text).unwrap();
        let mut largest = 0;
        for_each_chunk(&blanks, 4, |chunk| {
            largest = largest.max(chunk.iter().map(|(_, t)| t.unwrap().len()).sum::<usize>());
            assert_eq!(chunk.len(), 1);
            assert_eq!(chunk[0].0, CHUNK_BYTES + 11);
            Ok(())
        })
        .unwrap();
        assert_eq!(largest, "{\"a\": 1}".len());
    }

    #[test]
    fn a_repeated_key_is_refused_at_any_depth_and_other_objects_read_as_serde_json_does() {
        let path = Path::new("p.jsonl");
        for (text, key) in [
            (r#"{"id": "1", "answer": "5", "answer": "6"}"#, "answer"),
            (r#"{"id": "1", "meta": {"a": 1, "a": 2}}"#, "a"),
            (r#"{"c": [{"x": 1}, {"x": 2, "x": 3}]}"#, "x"),
        ] {
            let error = parse_object(path, 3, Ok(text)).unwrap_err().to_string();
            assert!(
                error.contains(&format!("p.jsonl:3: field `{key}`: appears twice")),
                "{error}"
            );
        }
        for text in [
            r#"{"a": 1, "b": -2, "c": 18446744073709551615, "d": 0.1, "e": 1e300, "f": null}"#,
            r#"{"s": "\u00e9\n", "t": true, "l": [1, [2, {"k": []}]], "o": {}}"#,
        ] {
            let strict = parse_object(path, 1, Ok(text)).unwrap();
            let plain: Value = serde_json::from_str(text).unwrap();
            assert_eq!(Value::Object(strict), plain);
        }
    }

    #[test]
    fn empty_and_blank_files_have_no_records() {
        let dir = tempfile::tempdir().unwrap();
        let blank = dir.path().join("blank.jsonl");
        std::fs::write(&blank, "\n  \n").unwrap();
        let error = read_objects(&blank).err().unwrap().to_string();
        assert!(error.contains("no records"), "{error}");
    }
}
