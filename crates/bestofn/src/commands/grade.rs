//! `bestofn grade`: why a response is graded as it is.

use std::io::Read;
use std::path::PathBuf;

use super::Outcome;
use crate::error::{Error, Result};
use crate::grade::{explain, pair_gold, AnswerStyle, Explanation, Gold};
use crate::records::{read_problems, read_samples, ProblemLayout};

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["gold", "problems"])))]
pub struct Args {
    /// The gold answer to grade against ("18", "\frac{1}{2}"), or a reference solution whose
    /// answer it ends with (`... #### 18`, a `\boxed{}`), read as the Python `grade` reads it.
    #[arg(long, requires = "response", conflicts_with_all = ["problems", "samples", "id"])]
    pub gold: Option<String>,
    /// The response to grade (- reads standard input).
    #[arg(long, requires = "gold")]
    pub response: Option<String>,
    /// Problems with gold answers, to explain the samples of one problem (with --samples, --id).
    #[arg(long, requires_all = ["samples", "id"])]
    pub problems: Option<PathBuf>,
    #[command(flatten)]
    pub layout: ProblemLayout,
    /// Samples file holding the problem's samples.
    #[arg(long, requires = "problems")]
    pub samples: Option<PathBuf>,
    /// The problem whose samples are explained.
    #[arg(long, requires = "problems")]
    pub id: Option<String>,
    /// Only this sample of the problem.
    #[arg(long, requires = "id")]
    pub sample_idx: Option<u32>,
    /// Answer style (gsm8k or math); default: the problem's own, or inferred from the gold answer.
    #[arg(long, value_parser = crate::io::args::answer_style())]
    pub style: Option<AnswerStyle>,
    /// One JSON object per explanation instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug)]
enum Source {
    Pair { gold: String, response: String },
    Files(SampleOfFiles),
}

/// One sample (or all of a problem's) named by files and an id.
#[derive(Debug)]
struct SampleOfFiles {
    problems: PathBuf,
    layout: ProblemLayout,
    samples: PathBuf,
    id: String,
    sample_idx: Option<u32>,
}

#[derive(Debug)]
pub struct Settings {
    source: Source,
    style: Option<AnswerStyle>,
    json: bool,
}

impl Args {
    pub fn resolve(self) -> Result<Settings> {
        let source = match (
            self.gold,
            self.response,
            self.problems,
            self.samples,
            self.id,
        ) {
            (Some(gold), ..) if gold.trim().is_empty() => {
                return Err(Error::Settings(
                    "--gold is empty: give the gold answer to grade against".into(),
                ))
            }
            (Some(gold), Some(response), None, None, None) => Source::Pair { gold, response },
            (None, None, Some(problems), Some(samples), Some(id)) => Source::Files(SampleOfFiles {
                problems,
                layout: self.layout,
                samples,
                id,
                sample_idx: self.sample_idx,
            }),
            _ => {
                return Err(Error::Settings(
                    "give --gold with --response, or --problems with --samples and --id".into(),
                ))
            }
        };
        Ok(Settings {
            source,
            style: self.style,
            json: self.json,
        })
    }
}

pub fn run(settings: &Settings) -> Result<Outcome> {
    let explanations = match &settings.source {
        Source::Pair { gold, response } => {
            let response = if response == "-" {
                read_stdin()?
            } else {
                response.clone()
            };
            let (gold, style) = pair_gold(gold, &response, settings.style);
            vec![(None, explain(&response, style, Some(&gold)))]
        }
        Source::Files(files) => explain_samples(files, settings.style)?,
    };
    let mut out = String::new();
    for (sample_idx, explanation) in &explanations {
        if settings.json {
            let mut value =
                serde_json::to_value(explanation).map_err(|e| Error::Report(e.to_string()))?;
            if let (Some(idx), Some(object)) = (sample_idx, value.as_object_mut()) {
                object.insert("sample_idx".into(), (*idx).into());
            }
            out.push_str(&value.to_string());
            out.push('\n');
        } else {
            if let Some(idx) = sample_idx {
                out.push_str(&format!("sample {idx}\n"));
            }
            out.push_str(&explanation.to_string());
        }
    }
    let correct = explanations
        .iter()
        .filter(|(_, e)| e.correct == Some(true))
        .count();
    Ok(Outcome {
        summary: format!("{correct} of {} graded correct", explanations.len()),
        stdout: Some(out),
    })
}

/// The response from standard input; not UTF-8 is malformed input, with the byte it fails at.
fn read_stdin() -> Result<String> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("reading the response from standard input", e))?;
    String::from_utf8(bytes).map_err(|e| {
        Error::Inconsistent(format!(
            "standard input: the response is not UTF-8 (byte {}); convert it first (iconv)",
            e.utf8_error().valid_up_to()
        ))
    })
}

fn explain_samples(
    files: &SampleOfFiles,
    style: Option<AnswerStyle>,
) -> Result<Vec<(Option<u32>, Explanation)>> {
    let SampleOfFiles {
        problems: problems_path,
        layout,
        samples: samples_path,
        id,
        sample_idx,
    } = files;
    let (id, sample_idx) = (id.as_str(), *sample_idx);
    let problems = read_problems(problems_path, layout)?;
    let problem = problems.iter().find(|p| p.id == id).ok_or_else(|| {
        Error::Inconsistent(format!(
            "{}: no problem has the id {id:?}",
            problems_path.display()
        ))
    })?;
    let gold = problem.answer.as_deref().map(Gold::new);
    let style = style.unwrap_or(problem.style);
    let explanations: Vec<(Option<u32>, Explanation)> = read_samples(samples_path)?
        .iter()
        .filter(|s| s.problem_id == id && sample_idx.is_none_or(|idx| s.sample_idx == idx))
        .map(|s| (Some(s.sample_idx), explain(&s.text, style, gold.as_ref())))
        .collect();
    if explanations.is_empty() {
        let which = sample_idx.map_or(String::new(), |idx| format!(" with sample_idx {idx}"));
        return Err(Error::Inconsistent(format!(
            "{}: no sample of problem {id:?}{which}",
            samples_path.display()
        )));
    }
    Ok(explanations)
}
