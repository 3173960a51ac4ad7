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

/// Parses the command line, with `--config`'s flags put in front of the command's own; also
/// gives every flag's resolved value, to be written beside the outputs.
pub fn parse(args: Vec<OsString>) -> Result<(Cli, ResolvedFlags)> {
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
        .try_get_matches_from_mut(args)
        .unwrap_or_else(|e| e.exit());
    let cli = Cli::from_arg_matches(&matches).map_err(|e| Error::Settings(e.to_string()))?;
    let resolved = ResolvedFlags::of(&command, &matches);
    Ok((cli, resolved))
}

/// Flags that say how to run, not what: not written among the settings.
const NOT_SETTINGS: [&str; 6] = ["help", "version", "config", "verbose", "dry-run", "json"];

/// A command's every flag as it was resolved (command line, `--config` file, defaults), as a
/// TOML file that `--config` reads back: the run, repeatable. URLs' credentials are cut out.
#[derive(Debug, Default)]
pub struct ResolvedFlags {
    command: String,
    toml: String,
    /// The command's `--out`, where it has one and writes to a file or directory.
    out: Option<std::path::PathBuf>,
    dry_run: bool,
}

impl ResolvedFlags {
    fn of(command: &clap::Command, matches: &clap::ArgMatches) -> Self {
        let Some((name, sub_matches)) = matches.subcommand() else {
            return Self::default();
        };
        let Some(subcommand) = command.find_subcommand(name) else {
            return Self::default();
        };
        let directory = std::env::current_dir().unwrap_or_default();
        let mut toml = format!(
            "# bestofn {} {name}: the settings of this run, relative paths from {} \
             (rerun there: bestofn {name} --config THIS_FILE)\n[{name}]\n",
            env!("CARGO_PKG_VERSION"),
            directory.display()
        );
        // Global flags (`--max-line-bytes`) are the process's, not the command's.
        for arg in subcommand.get_arguments().filter(|a| !a.is_global_set()) {
            let Some(flag) = arg.get_long().filter(|f| !NOT_SETTINGS.contains(f)) else {
                continue;
            };
            if let Some(line) = setting_line(arg, flag, sub_matches) {
                toml.push_str(&line);
            }
        }
        let raw = |id: &str| {
            sub_matches
                .try_get_raw(id)
                .ok()
                .flatten()
                .and_then(|mut values| values.next())
                .map(std::path::PathBuf::from)
        };
        ResolvedFlags {
            command: name.to_owned(),
            toml,
            out: raw("out").filter(|p| !crate::io::is_stdio(p)),
            dry_run: sub_matches.try_get_one::<bool>("dry_run").ok().flatten() == Some(&true),
        }
    }

    /// Writes the settings beside the command's output (`OUT.settings.toml`, or
    /// `OUT/settings.toml` for a report directory), once the command has succeeded; a failure
    /// is a warning, the output being complete.
    pub fn write_beside_output(&self) {
        let Some(out) = self.out.as_deref().filter(|_| !self.dry_run) else {
            return;
        };
        // `/dev/stdout` is a regular file when the shell redirects it: devices' and the process's
        // own paths get nothing beside them, whatever they lead to.
        let directory = out.parent().and_then(|p| std::fs::canonicalize(p).ok());
        let special =
            |path: &std::path::Path| path.starts_with("/dev") || path.starts_with("/proc");
        if special(out) || directory.as_deref().is_some_and(special) {
            return;
        }
        let path = if out.is_dir() {
            out.join("settings.toml")
        } else if out.is_file() {
            let mut name = out.as_os_str().to_owned();
            name.push(".settings.toml");
            std::path::PathBuf::from(name)
        } else {
            return; // a device (/dev/null), a pipe, or an output the command did not write
        };
        if let Err(error) = crate::io::write_atomic(&path, self.toml.as_bytes()) {
            tracing::warn!(command = %self.command, "the run's settings were not written: {error}");
        }
    }
}

/// `flag = value  # where it came from`, for a flag that has a value.
fn setting_line(arg: &clap::Arg, flag: &str, matches: &clap::ArgMatches) -> Option<String> {
    let id = arg.get_id().as_str();
    let source = match matches.value_source(id)? {
        clap::parser::ValueSource::DefaultValue => "default",
        clap::parser::ValueSource::EnvVariable => "environment",
        clap::parser::ValueSource::CommandLine => "given",
        _ => "given",
    };
    let takes_value = arg.get_num_args().is_none_or(|n| n.takes_values());
    let value = if !takes_value || matches!(arg.get_action(), clap::ArgAction::SetTrue) {
        match matches.try_get_one::<bool>(id).ok().flatten() {
            Some(true) => toml::Value::Boolean(true),
            _ => return None,
        }
    } else {
        let values: Vec<toml::Value> = matches
            .try_get_raw(id)
            .ok()
            .flatten()?
            .map(|v| toml::Value::String(crate::io::secrets::redact_url(&v.to_string_lossy())))
            .collect();
        let many = matches!(arg.get_action(), clap::ArgAction::Append)
            || arg.get_value_delimiter().is_some()
            || values.len() > 1;
        match (many, values.len()) {
            (true, _) => toml::Value::Array(values),
            (false, 1) => values.into_iter().next()?,
            _ => return None,
        }
    };
    Some(format!("{flag} = {value}  # {source}\n"))
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
