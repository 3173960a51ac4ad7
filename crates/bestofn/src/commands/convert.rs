//! `bestofn convert`: records from one file format to another, unchanged.

use std::path::PathBuf;

use super::Outcome;
use crate::error::Result;
use crate::io::{ensure_distinct, for_each_record, Named, OutputFile, TableFormat};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Input records: JSONL, a JSON array, CSV, TSV or Parquet (`-` reads standard input).
    #[arg(long)]
    pub input: PathBuf,
    /// Shape of the input (auto: by its name; Parquet is known by its first bytes).
    #[arg(long, value_enum, default_value_t, value_name = "FORMAT")]
    pub input_format: TableFormat,
    /// Output: Parquet when the name ends in .parquet, else JSONL (.gz compressed; - standard
    /// output).
    #[arg(long)]
    pub out: PathBuf,
}

pub type Settings = Args;

impl Args {
    pub fn resolve(self) -> Result<Settings> {
        ensure_distinct(
            &[Named::file("--input", &self.input)],
            &[Named::file("--out", &self.out)],
        )?;
        Ok(self)
    }
}

pub fn run(settings: &Settings) -> Result<Outcome> {
    let mut out = OutputFile::create(&settings.out)?;
    let records = for_each_record(
        &settings.input,
        settings.input_format,
        "--input-format",
        |record| out.write_json_line(&record.object),
    )?;
    out.commit()?;
    Ok(Outcome::summary(format!(
        "converted {records} records from {} to {}",
        settings.input.display(),
        settings.out.display()
    )))
}
