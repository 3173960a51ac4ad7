//! Parquet in and out, as the same JSON records every other format becomes.
//!
//! Reading: any Parquet file (a Hugging Face dataset snapshot, a lighteval details file, pandas'
//! `to_parquet`) is read a batch of rows at a time, each row a JSON object: structs are objects,
//! lists are arrays, dictionaries are decoded. Memory is bounded by a row group, not the file.
//!
//! Writing: records are spooled as JSON lines beside the destination, then written as Parquet
//! with a schema fitted to all of them (so a field first seen in the last record is not lost):
//! booleans, integers, floats, strings and lists of those become typed columns; a field whose
//! values mix types, or hold objects or nested lists, is kept exactly as JSON text (its field
//! metadata says so, and bestofn reads it back as the value it was). A field that some records
//! lack reads back as absent, one that is null reads back as null: JSONL → Parquet → JSONL
//! gives the same records.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, Write};
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, BooleanBuilder, Float64Builder, Int64Builder, ListBuilder, StringBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float16Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type,
    UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use rayon::prelude::*;
use serde_json::{Map, Value};

use super::input::is_stdio;
use crate::error::{Error, Result};

/// The first bytes of every Parquet file.
pub const MAGIC: &[u8] = b"PAR1";
/// Rows handed on at a time when reading.
const READ_BATCH_ROWS: usize = 1024;
/// Rows per row group when writing (also the most records held in memory).
const ROW_GROUP_ROWS: usize = 8192;
/// Field metadata: the column holds JSON text, read back as the value it spells.
const JSON_TEXT: &str = "bestofn.json";
/// Field metadata: a null cell is a record without the field (not a null value).
const NULL_IS_ABSENT: &str = "bestofn.absent";

/// Whether `path` names a Parquet output (`.parquet`).
pub fn is_parquet_name(path: &Path) -> bool {
    !is_stdio(path) && path.extension().is_some_and(|ext| ext == "parquet")
}

/// Calls `visit` with the 1-based number of each batch's first row and its rows as JSON
/// objects. `reader` is the input already opened (and decompressed) on `path`, positioned at the
/// Parquet magic; a plain file is read in place, anything else (a pipe, gzip) from memory.
pub fn for_each_batch(
    path: &Path,
    mut reader: Box<dyn BufRead + Send>,
    mut visit: impl FnMut(usize, Vec<Map<String, Value>>) -> Result<()>,
) -> Result<()> {
    let error = |e: parquet::errors::ParquetError| {
        Error::input(path, 0, None, format!("not a readable Parquet file: {e}"))
    };
    let file_in_place = !is_stdio(path)
        && File::open(path)
            .and_then(|mut f| {
                let mut head = [0u8; 4];
                f.read_exact(&mut head).map(|()| head == MAGIC)
            })
            .unwrap_or(false);
    let batches = if file_in_place {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(error)?
            .with_batch_size(READ_BATCH_ROWS)
            .build()
            .map_err(error)?
    } else {
        let mut bytes = Vec::new();
        reader
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(path, e))?;
        ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
            .map_err(error)?
            .with_batch_size(READ_BATCH_ROWS)
            .build()
            .map_err(error)?
    };
    let mut first_row = 1;
    for batch in batches {
        let batch = batch.map_err(|e| {
            Error::input(
                path,
                first_row,
                None,
                format!("unreadable Parquet data: {e}"),
            )
        })?;
        let rows = batch_rows(path, first_row, &batch)?;
        let count = rows.len();
        visit(first_row, rows)?;
        first_row += count;
    }
    Ok(())
}

/// The rows of one batch as JSON objects, in column order (rows converted in parallel).
fn batch_rows(
    path: &Path,
    first_row: usize,
    batch: &RecordBatch,
) -> Result<Vec<Map<String, Value>>> {
    let schema = batch.schema();
    // Per column: its name, its array, whether it holds JSON text, whether null means absent.
    let columns: Vec<(&str, &dyn Array, bool, bool)> = schema
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(field, column)| {
            let json_text = field.metadata().contains_key(JSON_TEXT);
            let null_is_absent = json_text || field.metadata().contains_key(NULL_IS_ABSENT);
            (
                field.name().as_str(),
                column.as_ref(),
                json_text,
                null_is_absent,
            )
        })
        .collect();
    (0..batch.num_rows())
        .into_par_iter()
        .map(|index| {
            let mut row = Map::with_capacity(columns.len());
            for &(name, column, json_text, null_is_absent) in &columns {
                if column.is_null(index) && null_is_absent {
                    continue;
                }
                let at =
                    |message: String| Error::input(path, first_row + index, Some(name), message);
                let mut value = cell(column, index).map_err(at)?;
                if json_text {
                    if let Value::String(text) = &value {
                        value = serde_json::from_str(text).map_err(|e| {
                            at(format!("not the JSON text its metadata promises: {e}"))
                        })?;
                    }
                }
                row.insert(name.to_owned(), value);
            }
            Ok(row)
        })
        .collect()
}

/// One cell of an Arrow array as a JSON value; unsupported types say which they are.
fn cell(array: &dyn Array, index: usize) -> std::result::Result<Value, String> {
    if array.is_null(index) {
        return Ok(Value::Null);
    }
    Ok(match array.data_type() {
        DataType::Null => Value::Null,
        DataType::Boolean => Value::Bool(array.as_boolean().value(index)),
        DataType::Int8 => array.as_primitive::<Int8Type>().value(index).into(),
        DataType::Int16 => array.as_primitive::<Int16Type>().value(index).into(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(index).into(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(index).into(),
        DataType::UInt8 => array.as_primitive::<UInt8Type>().value(index).into(),
        DataType::UInt16 => array.as_primitive::<UInt16Type>().value(index).into(),
        DataType::UInt32 => array.as_primitive::<UInt32Type>().value(index).into(),
        DataType::UInt64 => array.as_primitive::<UInt64Type>().value(index).into(),
        DataType::Float16 => float(array.as_primitive::<Float16Type>().value(index).to_f64()),
        // The shortest text of the f32 (0.1, not 0.10000000149011612).
        DataType::Float32 => float(
            array
                .as_primitive::<Float32Type>()
                .value(index)
                .to_string()
                .parse()
                .unwrap_or(f64::NAN),
        ),
        DataType::Float64 => float(array.as_primitive::<Float64Type>().value(index)),
        DataType::Utf8 => array.as_string::<i32>().value(index).into(),
        DataType::LargeUtf8 => array.as_string::<i64>().value(index).into(),
        DataType::Utf8View => array.as_string_view().value(index).into(),
        DataType::List(_) => items(array.as_list::<i32>().value(index).as_ref())?,
        DataType::LargeList(_) => items(array.as_list::<i64>().value(index).as_ref())?,
        DataType::FixedSizeList(..) => items(array.as_fixed_size_list().value(index).as_ref())?,
        DataType::Struct(fields) => {
            let array = array.as_struct();
            let mut object = Map::new();
            for (field, column) in fields.iter().zip(array.columns()) {
                object.insert(field.name().clone(), cell(column.as_ref(), index)?);
            }
            Value::Object(object)
        }
        DataType::Map(..) => {
            let entries = array.as_map().value(index);
            let (keys, values) = (entries.column(0), entries.column(1));
            let mut object = Map::new();
            for entry in 0..entries.len() {
                let key = match cell(keys.as_ref(), entry)? {
                    Value::String(key) => key,
                    other => other.to_string(),
                };
                object.insert(key, cell(values.as_ref(), entry)?);
            }
            Value::Object(object)
        }
        DataType::Dictionary(..) => {
            let dictionary = array.as_any_dictionary();
            let key = dictionary.normalized_keys()[index];
            cell(dictionary.values().as_ref(), key)?
        }
        other => {
            return Err(format!(
                "a column of Arrow type {other}, which bestofn does not read (it reads booleans, \
                 numbers, strings, lists, structs, maps): cast it to one of those first"
            ))
        }
    })
}

fn float(value: f64) -> Value {
    serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
}

fn items(array: &dyn Array) -> std::result::Result<Value, String> {
    (0..array.len())
        .map(|i| cell(array, i))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map(Value::Array)
}

/// Records on their way to a Parquet file: JSON lines spooled in a temporary file beside the
/// destination until [`ParquetSpool::finish`] writes them out.
pub struct ParquetSpool {
    lines: BufWriter<File>,
}

impl ParquetSpool {
    /// A spool in `dir` (the destination's directory: the same disk the output goes to).
    pub fn create(dir: &Path) -> Result<Self> {
        let file = tempfile::tempfile_in(dir).map_err(|e| Error::io(dir, e))?;
        Ok(ParquetSpool {
            lines: BufWriter::with_capacity(1 << 20, file),
        })
    }

    /// Writes the spooled records to `out` as one Parquet file (`shown` names it in errors).
    pub fn finish<W: Write + Send>(self, out: W, shown: &Path) -> Result<W> {
        let io = |e: std::io::Error| Error::io(shown, e);
        let mut file = self.lines.into_inner().map_err(|e| io(e.into_error()))?;
        file.rewind().map_err(io)?;
        let (columns, records) = fit_columns(BufReader::new(&file), shown)?;
        if columns.is_empty() && records > 0 {
            // Parquet keeps no rows without columns: the records would come back as none.
            return Err(Error::Inconsistent(format!(
                "{}: no record has any field: there are no columns to write as Parquet",
                shown.display()
            )));
        }
        file.rewind().map_err(io)?;
        let schema = Arc::new(Schema::new(
            columns.iter().map(Column::field).collect::<Vec<_>>(),
        ));
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .build();
        let parquet = |e: parquet::errors::ParquetError| io(std::io::Error::other(e));
        let mut writer =
            ArrowWriter::try_new(out, schema.clone(), Some(properties)).map_err(parquet)?;
        let mut group = Vec::with_capacity(ROW_GROUP_ROWS);
        let mut lines = BufReader::new(&file).lines();
        loop {
            let line = lines.next().transpose().map_err(io)?;
            if let Some(line) = &line {
                group.push(spooled_record(line, shown)?);
            }
            if group.len() == ROW_GROUP_ROWS || (line.is_none() && !group.is_empty()) {
                let arrays = columns.iter().map(|c| c.array(&group)).collect();
                // The row count given: records without any field are rows too.
                let options = RecordBatchOptions::new().with_row_count(Some(group.len()));
                let batch = RecordBatch::try_new_with_options(schema.clone(), arrays, &options)
                    .map_err(|e| io(std::io::Error::other(e)))?;
                writer.write(&batch).map_err(parquet)?;
                group.clear();
            }
            if line.is_none() {
                break;
            }
        }
        writer.into_inner().map_err(parquet)
    }
}

impl Write for ParquetSpool {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.lines.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.lines.flush()
    }
}

fn spooled_record(line: &str, shown: &Path) -> Result<Map<String, Value>> {
    serde_json::from_str(line).map_err(|e| {
        Error::io(
            shown,
            std::io::Error::other(format!("a record is no JSON object: {e}")),
        )
    })
}

/// The columns that hold every spooled record (one per field, in order of first appearance),
/// and how many records there are.
fn fit_columns(spool: impl BufRead, shown: &Path) -> Result<(Vec<Column>, usize)> {
    let mut columns: Vec<Column> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = Default::default();
    let mut records = 0;
    for line in spool.lines() {
        let record = spooled_record(&line.map_err(|e| Error::io(shown, e))?, shown)?;
        for (name, value) in &record {
            let at = *index.entry(name.clone()).or_insert_with(|| {
                columns.push(Column::new(name, records));
                columns.len() - 1
            });
            columns[at].take(value);
        }
        records += 1;
        for column in &mut columns {
            column.absent |= column.present < records;
            column.present = records;
        }
    }
    Ok((columns, records))
}

/// A column's type: scalars, lists of one scalar type, or JSON text for anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Only nulls so far.
    Unknown,
    Bool,
    Int,
    Float,
    Str,
    List(Scalar),
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scalar {
    Unknown,
    Bool,
    Int,
    Float,
    Str,
}

impl Scalar {
    fn of(value: &Value) -> Option<Scalar> {
        match value {
            Value::Null => Some(Scalar::Unknown),
            Value::Bool(_) => Some(Scalar::Bool),
            Value::Number(n) if n.is_i64() => Some(Scalar::Int),
            Value::Number(n) if n.is_f64() => Some(Scalar::Float),
            Value::String(_) => Some(Scalar::Str),
            // Integers past i64, arrays, objects.
            _ => None,
        }
    }

    fn merge(self, other: Scalar) -> Option<Scalar> {
        match (self, other) {
            (Scalar::Unknown, s) | (s, Scalar::Unknown) => Some(s),
            (a, b) if a == b => Some(a),
            _ => None,
        }
    }

    fn data_type(self) -> DataType {
        match self {
            Scalar::Bool => DataType::Boolean,
            Scalar::Int => DataType::Int64,
            Scalar::Float => DataType::Float64,
            Scalar::Unknown | Scalar::Str => DataType::Utf8,
        }
    }
}

impl Kind {
    fn of(value: &Value) -> Kind {
        match value {
            Value::Array(items) => items
                .iter()
                .try_fold(Scalar::Unknown, |s, item| s.merge(Scalar::of(item)?))
                .map_or(Kind::Json, Kind::List),
            value => match Scalar::of(value) {
                Some(Scalar::Unknown) => Kind::Unknown,
                Some(Scalar::Bool) => Kind::Bool,
                Some(Scalar::Int) => Kind::Int,
                Some(Scalar::Float) => Kind::Float,
                Some(Scalar::Str) => Kind::Str,
                None => Kind::Json,
            },
        }
    }

    fn merge(self, other: Kind) -> Kind {
        match (self, other) {
            (Kind::Unknown, k) | (k, Kind::Unknown) => k,
            (Kind::List(a), Kind::List(b)) => a.merge(b).map_or(Kind::Json, Kind::List),
            (a, b) if a == b => a,
            _ => Kind::Json,
        }
    }
}

struct Column {
    name: String,
    kind: Kind,
    /// Some record holds the field as null.
    null: bool,
    /// Some record lacks the field.
    absent: bool,
    /// Records seen with the field, up to the current one.
    present: usize,
}

impl Column {
    fn new(name: &str, records_before: usize) -> Column {
        Column {
            name: name.to_owned(),
            kind: Kind::Unknown,
            null: false,
            absent: records_before > 0,
            present: records_before,
        }
    }

    fn take(&mut self, value: &Value) {
        self.null |= value.is_null();
        self.kind = self.kind.merge(Kind::of(value));
        self.present += 1;
    }

    /// The kind written: JSON text where a null and an absence must both come back.
    fn written_kind(&self) -> Kind {
        if self.null && self.absent {
            Kind::Json
        } else {
            self.kind
        }
    }

    fn field(&self) -> Field {
        let kind = self.written_kind();
        let data_type = match kind {
            Kind::Bool => DataType::Boolean,
            Kind::Int => DataType::Int64,
            Kind::Float => DataType::Float64,
            Kind::Unknown | Kind::Str | Kind::Json => DataType::Utf8,
            Kind::List(scalar) => DataType::new_list(scalar.data_type(), true),
        };
        let mut metadata = std::collections::HashMap::new();
        if kind == Kind::Json {
            metadata.insert(JSON_TEXT.to_owned(), "true".to_owned());
        } else if self.absent {
            metadata.insert(NULL_IS_ABSENT.to_owned(), "true".to_owned());
        }
        Field::new(&self.name, data_type, true).with_metadata(metadata)
    }

    /// This column's cells of `records`.
    fn array(&self, records: &[Map<String, Value>]) -> ArrayRef {
        let values = records.iter().map(|r| r.get(&self.name));
        match self.written_kind() {
            Kind::Bool => build(BooleanBuilder::new(), values, |b, v| {
                b.append_option(v.and_then(Value::as_bool))
            }),
            Kind::Int => build(Int64Builder::new(), values, |b, v| {
                b.append_option(v.and_then(Value::as_i64))
            }),
            Kind::Float => build(Float64Builder::new(), values, |b, v| {
                b.append_option(v.and_then(Value::as_f64))
            }),
            Kind::Unknown | Kind::Str => build(StringBuilder::new(), values, |b, v| {
                b.append_option(v.and_then(Value::as_str))
            }),
            Kind::Json => build(StringBuilder::new(), values, |b, v| {
                b.append_option(v.map(Value::to_string))
            }),
            Kind::List(Scalar::Bool) => list(BooleanBuilder::new(), values, |b, v| {
                b.append_option(v.as_bool())
            }),
            Kind::List(Scalar::Int) => list(Int64Builder::new(), values, |b, v| {
                b.append_option(v.as_i64())
            }),
            Kind::List(Scalar::Float) => list(Float64Builder::new(), values, |b, v| {
                b.append_option(v.as_f64())
            }),
            Kind::List(Scalar::Unknown | Scalar::Str) => {
                list(StringBuilder::new(), values, |b, v| {
                    b.append_option(v.as_str())
                })
            }
        }
    }
}

fn build<'a, B: ArrayBuilder>(
    mut builder: B,
    values: impl Iterator<Item = Option<&'a Value>>,
    mut append: impl FnMut(&mut B, Option<&'a Value>),
) -> ArrayRef {
    for value in values {
        append(&mut builder, value);
    }
    builder.finish()
}

fn list<'a, B: ArrayBuilder>(
    items: B,
    values: impl Iterator<Item = Option<&'a Value>>,
    mut append: impl FnMut(&mut B, &'a Value),
) -> ArrayRef {
    let mut builder = ListBuilder::new(items);
    for value in values {
        match value.and_then(Value::as_array) {
            Some(array) => {
                for item in array {
                    append(builder.values(), item);
                }
                builder.append(true);
            }
            None => builder.append(false),
        }
    }
    Arc::new(builder.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::{for_each_line, OutputFile};
    use proptest::prelude::*;

    /// Writes `records` to `name` in a fresh directory through an output file, reads them back.
    fn round_trip(name: &str, records: &[Map<String, Value>]) -> Vec<Map<String, Value>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        let mut out = OutputFile::create(&path).unwrap();
        for record in records {
            out.write_json_line(record).unwrap();
        }
        out.commit().unwrap();
        let mut back = Vec::new();
        for_each_line(&path, |row, text| {
            assert_eq!(row, back.len() + 1);
            back.push(serde_json::from_str(text.unwrap()).unwrap());
            Ok(())
        })
        .unwrap();
        back
    }

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(object) => object,
            _ => unreachable!(),
        }
    }

    #[test]
    fn typed_columns_nulls_absences_and_mixed_fields_come_back_as_they_were() {
        let records: Vec<_> = [
            serde_json::json!({"id": "a", "n": 1, "p": 0.25, "ok": true, "steps": [0.5, 0.75],
                               "tags": ["x"], "meta": {"k": 1}, "mixed": 1}),
            serde_json::json!({"id": "b", "n": null, "p": 1.0, "ok": null, "steps": [],
                               "meta": null, "mixed": "one", "late": 1e-7}),
            serde_json::json!({"id": "c", "n": 3, "steps": null, "tags": [null, "y"],
                               "mixed": [1, [2]], "big": 18446744073709551615u64}),
        ]
        .into_iter()
        .map(object)
        .collect();
        assert_eq!(round_trip("r.parquet", &records), records);
    }

    #[test]
    fn records_without_any_field_are_refused_not_lost() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.parquet");
        let mut out = OutputFile::create(&path).unwrap();
        out.write_json_line(&Map::new()).unwrap();
        let error = out.commit().unwrap_err().to_string();
        assert!(error.contains("no record has any field"), "{error}");
        assert!(!path.exists());
    }

    #[test]
    fn an_output_not_named_parquet_is_not_parquet() {
        let records = [object(serde_json::json!({"id": "a"}))];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let mut out = OutputFile::create(&path).unwrap();
        out.write_json_line(&records[0]).unwrap();
        out.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"id\":\"a\"}\n");
    }

    #[test]
    fn more_rows_than_a_row_group_are_read_in_order() {
        let records: Vec<_> = (0..ROW_GROUP_ROWS * 2 + 5)
            .map(|i| object(serde_json::json!({"i": i, "text": format!("sample {i}")})))
            .collect();
        assert_eq!(round_trip("big.parquet", &records), records);
    }

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-1e12f64..1e12).prop_map(Value::from),
            "[a-z \\\\\"é]{0,6}".prop_map(Value::from),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        scalar().prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                proptest::collection::btree_map("[a-c]", inner, 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Any records, whatever fields each has and whatever they hold, come back equal.
        #[test]
        fn any_records_survive_parquet(
            records in proptest::collection::vec(
                proptest::collection::btree_map("[p-t]", value(), 0..5), 1..12),
        ) {
            let records: Vec<Map<String, Value>> =
                records.into_iter().map(|r| r.into_iter().collect()).collect();
            prop_assume!(records.iter().any(|r| !r.is_empty()));
            prop_assert_eq!(round_trip("p.parquet", &records), records);
        }
    }
}
