//! `--config FILE.toml`: a command's flags from a file, the command line overriding them.
//!
//! Keys are flag names without their dashes (`n = 16`, `token-stats = true`, `strategy =
//! ["majority", "verifier"]`); top-level keys apply to any command, a `[generate]` (or any
//! command's) table to that command alone, over the top level. `true` gives a switch, `false`
//! leaves it out; a list repeats the flag. A flag the command line gives replaces the file's.

use std::ffi::OsString;
use std::path::Path;

use clap::{CommandFactory, FromArgMatches};

use super::Cli;
use crate::error::{Error, Result};

/// The global flags that take a value, before the command's name.
const GLOBAL_WITH_VALUE: [&str; 2] = ["--max-line-bytes", "--config"];

/// Parses the command line, with `--config`'s flags put in front of the command's own.
pub fn parse(args: Vec<OsString>) -> Result<Cli> {
    let mut command = Cli::command().args_override_self(true);
    let names: Vec<String> = command
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in &names {
        command = command.mut_subcommand(name, |sub| sub.args_override_self(true));
    }
    let args = with_config(args, &command)?;
    let matches = command
        .try_get_matches_from(args)
        .unwrap_or_else(|e| e.exit());
    Cli::from_arg_matches(&matches).map_err(|e| Error::Settings(e.to_string()))
}

/// `args` with the flags of the `--config` file inserted after the command's name.
fn with_config(args: Vec<OsString>, command: &clap::Command) -> Result<Vec<OsString>> {
    let texts: Vec<Option<&str>> = args.iter().map(|a| a.to_str()).collect();
    let config = texts.iter().enumerate().find_map(|(i, a)| match (*a)? {
        "--config" => texts.get(i + 1).copied().flatten().map(str::to_owned),
        other => other.strip_prefix("--config=").map(str::to_owned),
    });
    let (Some(config), Some(at)) = (config, command_position(&texts)) else {
        return Ok(args);
    };
    let name = texts[at].unwrap_or_default();
    let Some(subcommand) = command.find_subcommand(name) else {
        return Ok(args); // clap says what is wrong with the name
    };
    // A flag the command line gives replaces the file's (a list too, not added to it).
    let given: Vec<&str> = texts[at + 1..]
        .iter()
        .flatten()
        .filter_map(|a| a.strip_prefix("--"))
        .map(|a| a.split_once('=').map_or(a, |(flag, _)| flag))
        .collect();
    let flags = flags_of(Path::new(&config), subcommand, &given)?;
    let mut out = args[..=at].to_vec();
    out.extend(flags.into_iter().map(OsString::from));
    out.extend(args[at + 1..].iter().cloned());
    Ok(out)
}

/// Where the command's name is: the first word that is no global flag or its value.
fn command_position(args: &[Option<&str>]) -> Option<usize> {
    let mut i = 1;
    while i < args.len() {
        let arg = args[i]?;
        if GLOBAL_WITH_VALUE.contains(&arg) {
            i += 2;
        } else if arg.starts_with('-') {
            i += 1;
        } else {
            return Some(i);
        }
    }
    None
}

/// The flags `path` gives `subcommand`, checked against its flags, but those in `given`.
fn flags_of(path: &Path, subcommand: &clap::Command, given: &[&str]) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| Error::Settings(format!("{}: not a TOML file: {e}", path.display())))?;
    let name = subcommand.get_name();
    let mut keys: Vec<(String, toml::Value)> = Vec::new();
    for (key, value) in &table {
        match value {
            toml::Value::Table(_) => {} // a command's own table: below, or another command's
            _ => keys.push((key.clone(), value.clone())),
        }
    }
    if let Some(toml::Value::Table(own)) = table.get(name) {
        for (key, value) in own {
            keys.retain(|(k, _)| k != key);
            keys.push((key.clone(), value.clone()));
        }
    }
    let known: Vec<&str> = subcommand
        .get_arguments()
        .filter_map(|a| a.get_long())
        .collect();
    let mut flags = Vec::new();
    for (key, value) in keys {
        let flag = key.replace('_', "-");
        if !known.contains(&flag.as_str()) || flag == "config" {
            return Err(Error::Settings(format!(
                "{}: `{key}` is no flag of `bestofn {name}` (keys are its flags without dashes: \
                 see `bestofn {name} --help`)",
                path.display()
            )));
        }
        let values = flag_values(path, &flag, &value)?;
        if !given.contains(&flag.as_str()) {
            flags.extend(values);
        }
    }
    Ok(flags)
}

/// `--flag=value` for each value (a switch for `true`, nothing for `false`).
fn flag_values(path: &Path, flag: &str, value: &toml::Value) -> Result<Vec<String>> {
    let one = |value: &toml::Value| -> Result<Option<String>> {
        Ok(match value {
            toml::Value::Boolean(true) => Some(format!("--{flag}")),
            toml::Value::Boolean(false) => None,
            toml::Value::String(s) => Some(format!("--{flag}={s}")),
            toml::Value::Integer(n) => Some(format!("--{flag}={n}")),
            toml::Value::Float(x) => Some(format!("--{flag}={x}")),
            other => {
                return Err(Error::Settings(format!(
                    "{}: `{flag}` is a {}; give a string, number, boolean or a list of them",
                    path.display(),
                    other.type_str()
                )))
            }
        })
    };
    match value {
        toml::Value::Array(items) => Ok(items
            .iter()
            .map(one)
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect()),
        other => Ok(one(other)?.into_iter().collect()),
    }
}
