//! Records from the files users already have: JSONL, a JSON array of objects, CSV or TSV with a
//! header row, Parquet. Every record becomes a JSON object with the line (a Parquet file's row)
//! it starts on, so errors name the file, the line and the field whatever the format. Which
//! format is read is decided by the flag, or by the name (`.json`, `.csv`, `.tsv`, with or
//! without `.gz`), Parquet by its first bytes; a file in another shape than expected is refused
//! with what it looks like and the flag that reads it.

use std::io::{BufRead, Read};
use std::ops::Range;
use std::path::Path;

use serde_json::{Map, Value};

use super::input::{is_parquet, open_reader, parse_object, read_objects_of, JsonLine};
use crate::error::{Error, Result};

/// The shape of a records file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum TableFormat {
    /// By the file's name: `.json` (an array, or JSON lines as `datasets` writes them), `.csv`,
    /// `.tsv`, `.parquet`; anything else JSONL. Parquet is known by its first bytes, whatever
    /// the name.
    #[default]
    Auto,
    /// One JSON object per line.
    Jsonl,
    /// A JSON array of objects (or JSON lines).
    Json,
    /// Comma-separated values with a header row; empty cells are null.
    Csv,
    /// Tab-separated values with a header row; empty cells are null.
    Tsv,
    /// Apache Parquet (a Hugging Face dataset snapshot): each row a record, structs as objects.
    Parquet,
}

/// Reads every record of `path` (or standard input for `-`); `format_flag` is the flag that
/// chooses the format, named in errors. A file without any record is an error.
pub fn read_table(path: &Path, format: TableFormat, format_flag: &str) -> Result<Vec<JsonLine>> {
    let mut reader = open_reader(path)?;
    // Parquet says what it is in its first bytes, whatever the name or the flag.
    if is_parquet(&mut reader, path)? {
        return non_empty(path, parquet_rows(path, reader)?);
    }
    if resolve(format, path) == TableFormat::Parquet {
        return Err(Error::input(
            path,
            1,
            None,
            format!(
                "not a Parquet file (it does not start with PAR1); leave out {format_flag} \
                 parquet to read it by its name"
            ),
        ));
    }
    let head = reader.fill_buf().map_err(|e| Error::io(path, e))?;
    let first = head.iter().copied().find(|b| !b.is_ascii_whitespace());
    let records = match resolve(format, path) {
        TableFormat::Jsonl => {
            if first == Some(b'[') {
                return Err(Error::input(
                    path,
                    1,
                    None,
                    format!(
                        "expected JSONL: one JSON object per line; this file is a JSON array — \
                         pass it as it is with {format_flag} json"
                    ),
                ));
            }
            if let Some(first) = first.filter(|b| *b != b'{') {
                let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
                if line.contains(&b',') || line.contains(&b'\t') {
                    return Err(Error::input(
                        path,
                        1,
                        None,
                        format!(
                            "expected JSONL: one JSON object per line; this line starts with {:?} \
                             and looks like a CSV header — pass it with {format_flag} csv (or tsv)",
                            first as char
                        ),
                    ));
                }
            }
            read_objects_of(reader, path)?
        }
        TableFormat::Json if first == Some(b'[') => json_array(reader, path)?,
        TableFormat::Json => read_objects_of(reader, path)?,
        TableFormat::Csv => delimited(reader, path, b',')?,
        TableFormat::Tsv => delimited(reader, path, b'\t')?,
        TableFormat::Auto | TableFormat::Parquet => unreachable!("read above"),
    };
    non_empty(path, records)
}

/// `records`, unless there are none: an empty input is a wrong path or a failed earlier step.
fn non_empty(path: &Path, records: Vec<JsonLine>) -> Result<Vec<JsonLine>> {
    if records.is_empty() {
        return Err(Error::Inconsistent(format!(
            "{}: no records (the file is empty or blank)",
            path.display()
        )));
    }
    Ok(records)
}

/// Every row of a Parquet file, numbered from 1.
fn parquet_rows(path: &Path, reader: Box<dyn BufRead + Send>) -> Result<Vec<JsonLine>> {
    let mut records = Vec::new();
    super::parquet::for_each_batch(path, reader, |first_row, rows| {
        records.extend(
            rows.into_iter()
                .enumerate()
                .map(|(offset, object)| JsonLine {
                    line: first_row + offset,
                    object,
                }),
        );
        Ok(())
    })?;
    Ok(records)
}

/// Calls `visit` with every record of `path` in order, and answers how many there were. JSONL
/// and Parquet are streamed (memory bounded by a line or a row group); a JSON array, CSV and TSV
/// are read whole first. A file without any record is an error.
pub fn for_each_record(
    path: &Path,
    format: TableFormat,
    format_flag: &str,
    mut visit: impl FnMut(JsonLine) -> Result<()>,
) -> Result<usize> {
    let mut count = 0;
    if matches!(
        resolve(format, path),
        TableFormat::Jsonl | TableFormat::Parquet
    ) {
        super::input::for_each_line(path, |line, text| {
            count += 1;
            let object = parse_object(path, line, text)?;
            visit(JsonLine { line, object })
        })?;
        if count == 0 {
            return non_empty(path, Vec::new()).map(|_| 0);
        }
        return Ok(count);
    }
    let records = read_table(path, format, format_flag)?;
    count = records.len();
    records.into_iter().try_for_each(visit)?;
    Ok(count)
}

/// The format `Auto` stands for, from the name with any `.gz` taken off.
fn resolve(format: TableFormat, path: &Path) -> TableFormat {
    if format != TableFormat::Auto {
        return format;
    }
    let name = path.to_string_lossy().to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    match name.rsplit_once('.').map(|(_, extension)| extension) {
        Some("json") => TableFormat::Json,
        Some("csv") => TableFormat::Csv,
        Some("tsv") => TableFormat::Tsv,
        Some("parquet") => TableFormat::Parquet,
        _ => TableFormat::Jsonl,
    }
}

/// The objects of a JSON array, each with the line its text starts on.
fn json_array(mut reader: Box<dyn BufRead + Send>, path: &Path) -> Result<Vec<JsonLine>> {
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        Error::input(
            path,
            line,
            None,
            "not valid UTF-8; re-encode the file as UTF-8",
        )
    })?;
    let items =
        array_items(text).map_err(|(line, message)| Error::input(path, line, None, message))?;
    items
        .into_iter()
        .map(|(line, span)| {
            Ok(JsonLine {
                line,
                object: parse_object(path, line, Ok(&text[span]))?,
            })
        })
        .collect()
}

/// Where one item of a JSON array is: the line it starts on and its bytes.
type ItemSpan = (usize, Range<usize>);

/// Splits the text of a JSON array into its items' spans, each with the 1-based line it starts
/// on; the items themselves are parsed (and checked) afterwards. Errors carry their line.
fn array_items(text: &str) -> std::result::Result<Vec<ItemSpan>, (usize, String)> {
    let bytes = text.as_bytes();
    let line_of = |at: usize| 1 + bytes[..at].iter().filter(|b| **b == b'\n').count();
    let open = match bytes.iter().position(|b| !b.is_ascii_whitespace()) {
        Some(at) if bytes[at] == b'[' => at,
        at => return Err((line_of(at.unwrap_or(0)), "expected a JSON array".into())),
    };
    let mut line = line_of(open);
    let (mut depth, mut in_string, mut escaped) = (1usize, false, false);
    let mut start: Option<(usize, usize)> = None;
    let mut items = Vec::new();
    for (at, &byte) in bytes.iter().enumerate().skip(open + 1) {
        if byte == b'\n' {
            line += 1;
        }
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth -= 1,
            _ => {}
        }
        let closes = depth == 0;
        if closes || depth == 1 && byte == b',' {
            match start.take() {
                Some((from_line, from)) => items.push((from_line, from..at)),
                None if byte == b',' || !items.is_empty() => {
                    return Err((line, "an empty item in the array (a comma too many)".into()))
                }
                None => {}
            }
            if closes {
                if let Some(extra) = bytes[at + 1..]
                    .iter()
                    .position(|b| !b.is_ascii_whitespace())
                {
                    return Err((
                        line_of(at + 1 + extra),
                        "text after the end of the JSON array".into(),
                    ));
                }
                return Ok(items);
            }
        } else if start.is_none() && !byte.is_ascii_whitespace() {
            start = Some((line, at));
        }
    }
    Err((
        line,
        "the JSON array is not closed (a `]` is missing)".into(),
    ))
}

/// CSV or TSV with a header row: every row an object of the header's names, empty cells null.
fn delimited(reader: Box<dyn BufRead + Send>, path: &Path, delimiter: u8) -> Result<Vec<JsonLine>> {
    let mut csv = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_reader(reader);
    let csv_error = |e: csv::Error| {
        let line = e.position().map_or(0, |p| p.line() as usize);
        match e.kind() {
            csv::ErrorKind::Io(_) => Error::io(path, std::io::Error::other(e.to_string())),
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => Error::input(
                path,
                line,
                None,
                format!("{len} cells where the header has {expected_len}"),
            ),
            csv::ErrorKind::Utf8 { .. } => Error::input(
                path,
                line,
                None,
                "not valid UTF-8; re-encode the file as UTF-8",
            ),
            _ => Error::input(path, line, None, e.to_string()),
        }
    };
    let header: Vec<String> = csv
        .headers()
        .map_err(csv_error)?
        .iter()
        .map(str::to_owned)
        .collect();
    for (index, name) in header.iter().enumerate() {
        if name.trim().is_empty() {
            return Err(Error::input(
                path,
                1,
                None,
                format!("column {} has no name in the header", index + 1),
            ));
        }
        if header[..index].contains(name) {
            return Err(Error::input(
                path,
                1,
                Some(name),
                "names two columns; keep one",
            ));
        }
    }
    let mut records = Vec::new();
    for row in csv.records() {
        let row = row.map_err(csv_error)?;
        let line = row.position().map_or(0, |p| p.line() as usize);
        let object: Map<String, Value> = header
            .iter()
            .zip(row.iter())
            .map(|(name, cell)| {
                let value = if cell.is_empty() {
                    Value::Null
                } else {
                    Value::String(cell.to_owned())
                };
                (name.clone(), value)
            })
            .collect();
        records.push(JsonLine { line, object });
    }
    Ok(records)
}

/// What a samples file that failed on its first record looks like instead of JSONL, and how to
/// read it: samples in another shape go through `import --format samples`. None: it looks like
/// JSONL (the error is about the record), or it cannot be peeked at (standard input).
pub fn samples_shape_hint(path: &Path) -> Option<String> {
    if super::is_stdio(path) {
        return None;
    }
    let mut head = Vec::new();
    let mut reader = open_reader(path).ok()?;
    reader.by_ref().take(4096).read_to_end(&mut head).ok()?;
    let convert = |shape: &str| {
        format!(
            "expected JSONL samples: one JSON object per line; this file is {shape} — convert it \
             with `bestofn import --format samples --input {} --problems PROBLEMS \
             --problem-id-field FIELD --text-field FIELD --out samples.jsonl`",
            path.display()
        )
    };
    let first = head.iter().copied().find(|b| !b.is_ascii_whitespace())?;
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    if first == b'[' {
        Some(convert("a JSON array"))
    } else if first != b'{' && (line.contains(&b',') || line.contains(&b'\t')) {
        Some(convert("a table (CSV or TSV)"))
    } else {
        None
    }
}

/// Takes the value at `path`: a key of that exact name, else a dotted path through nested
/// objects (the rest of the nested object stays in the record).
pub fn take_path(object: &mut Map<String, Value>, path: &str) -> Option<Value> {
    if let Some(value) = object.shift_remove(path) {
        return Some(value);
    }
    let (head, rest) = path.split_once('.')?;
    match object.get_mut(head)? {
        Value::Object(inner) => take_path(inner, rest),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn read(name: &str, content: &str, format: TableFormat) -> Result<Vec<JsonLine>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        read_table(&path, format, "--problems-format")
    }

    fn lines_and_objects(records: &[JsonLine]) -> Vec<(usize, Value)> {
        records
            .iter()
            .map(|r| (r.line, Value::Object(r.object.clone())))
            .collect()
    }

    #[test]
    fn a_json_array_gives_its_objects_with_the_lines_they_start_on() {
        let text =
            "[\n  {\"id\": 1, \"q\": \"a, [b]\"},\n  {\"id\": 2,\n   \"q\": \"c \\\" ]\"}\n]\n";
        let records = read("p.json", text, TableFormat::Auto).unwrap();
        assert_eq!(
            lines_and_objects(&records),
            vec![
                (2, serde_json::json!({"id": 1, "q": "a, [b]"})),
                (3, serde_json::json!({"id": 2, "q": "c \" ]"})),
            ]
        );
        // `datasets` writes JSON lines under a .json name: read as such.
        let records = read("p.json", "{\"id\": 1}\n{\"id\": 2}\n", TableFormat::Auto).unwrap();
        assert_eq!(records.len(), 2);
    }

    #[test]
    fn a_json_array_named_jsonl_is_refused_with_the_flag_that_reads_it() {
        let error = read("p.jsonl", "[{\"id\": 1}]", TableFormat::Auto)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("expected JSONL: one JSON object per line; this file is a JSON array"),
            "{error}"
        );
        assert!(error.contains("--problems-format json"), "{error}");
        let error = read("p.jsonl", "id,question\n1,q\n", TableFormat::Auto)
            .unwrap_err()
            .to_string();
        assert!(error.contains("--problems-format csv"), "{error}");
    }

    #[test]
    fn broken_arrays_say_where() {
        for (text, line, needle) in [
            ("[{\"a\": 1},\n{\"a\": 2}", 2, "not closed"),
            ("[{\"a\": 1},\n,{\"a\": 2}]", 2, "empty item"),
            ("[{\"a\": 1}]\n\n{\"a\": 2}", 3, "text after the end"),
            ("[{\"a\": 1},\n 3]", 2, "expected a JSON object"),
            ("[{\"a\": 1},\n {\"a\": 1, \"a\": 2}]", 2, "appears twice"),
        ] {
            let error = read("p.json", text, TableFormat::Json)
                .unwrap_err()
                .to_string();
            assert!(
                error.contains(&format!("p.json:{line}:")) && error.contains(needle),
                "{text:?}: {error}"
            );
        }
        let error = read("p.json", "[]", TableFormat::Json)
            .unwrap_err()
            .to_string();
        assert!(error.contains("no records"), "{error}");
    }

    #[test]
    fn csv_rows_are_objects_of_strings_with_empty_cells_null() {
        let text = "id,question,answer\n1,\"Add 2, 3\",5\n2,\"two\nlines\",\n";
        let records = read("p.csv", text, TableFormat::Auto).unwrap();
        assert_eq!(
            lines_and_objects(&records),
            vec![
                (
                    2,
                    serde_json::json!({"id": "1", "question": "Add 2, 3", "answer": "5"})
                ),
                (
                    3,
                    serde_json::json!({"id": "2", "question": "two\nlines", "answer": null})
                ),
            ]
        );
        let records = read("p.tsv", "id\tq\n7\ta,b\n", TableFormat::Auto).unwrap();
        assert_eq!(records[0].object["q"], "a,b");
        let error = read("p.csv", "id,q\n1,a\n2,b,c\n", TableFormat::Auto)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("p.csv:3:") && error.contains("3 cells where the header has 2"),
            "{error}"
        );
        let error = read("p.csv", "id,id\n1,2\n", TableFormat::Auto)
            .unwrap_err()
            .to_string();
        assert!(error.contains("names two columns"), "{error}");
    }

    #[test]
    fn a_broken_parquet_file_is_named_not_misread() {
        let error = read("p.jsonl", "PAR1\0\0", TableFormat::Auto)
            .unwrap_err()
            .to_string();
        assert!(error.contains("Parquet"), "{error}");
    }

    proptest! {
        /// Any list of objects written as a JSON array, pretty or compact, reads back as the same
        /// objects, each at the line it starts on.
        #[test]
        fn json_arrays_round_trip(
            objects in proptest::collection::vec(
                proptest::collection::btree_map("[a-z]{1,6}", "[ -~\n\\[\\]{},\"\\\\]{0,12}", 0..4),
                1..6,
            ),
            pretty in any::<bool>(),
        ) {
            let values: Vec<Value> = objects.iter().map(|o| serde_json::to_value(o).unwrap()).collect();
            let text = if pretty {
                serde_json::to_string_pretty(&values).unwrap()
            } else {
                serde_json::to_string(&values).unwrap()
            };
            let items = array_items(&text).unwrap();
            prop_assert_eq!(items.len(), values.len());
            for ((line, span), value) in items.iter().zip(&values) {
                let parsed: Value = serde_json::from_str(&text[span.clone()]).unwrap();
                prop_assert_eq!(&parsed, value);
                let starts = 1 + text[..span.start].matches('\n').count();
                prop_assert_eq!(*line, starts);
            }
        }
    }
}
