//! The one I/O layer every command uses.
//!
//! - [`input`]: JSONL readers (files or `-`, gzip by content, BOM, UTF-8 errors with their line);
//! - [`table`]: records from JSONL, a JSON array, CSV, TSV or Parquet, with the line (row) each
//!   starts on;
//! - [`parquet`]: Parquet files read as JSON records a batch at a time, and written from them;
//! - [`output`]: crash-safe writers (atomic replace, through symlinks, modes kept, `-`, devices,
//!   `.gz`, whole report directories and sets of files);
//! - [`paths`]: outputs that would overwrite an input or each other, refused before any work;
//! - [`lock`]: append-only logs, opened locked with a torn last line cut off;
//! - [`http`]: the HTTP client of every server backend (retries, backoff, keys never shown,
//!   replicas);
//! - [`secrets`]: credentials in URLs cut out of whatever is shown.

pub mod args;
pub mod http;
pub mod input;
pub mod lock;
pub mod output;
pub mod parquet;
pub mod paths;
mod replicas;
pub mod secrets;
pub mod table;

pub use input::{
    for_each_chunk, for_each_line, is_stdio, open_reader, parse_object, read_objects, ChunkLine,
    InvalidUtf8, JsonLine, LineText,
};
pub use lock::{append_whole_lines, lock_exclusive, open_log, OpenedLog};
pub use output::{
    pretty_json, replaced_file, write_atomic, write_json_pretty, write_jsonl, OutputDir,
    OutputFile, OutputSet,
};
pub use paths::{ensure_distinct, ensure_file_family_base, Named};
pub use table::{for_each_record, read_table, take_path, TableFormat};
