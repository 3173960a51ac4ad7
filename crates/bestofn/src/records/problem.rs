//! Problem records: the accepted layouts (generic, GSM8K's and MATH's own), the files they come
//! in (JSONL, a JSON array, CSV; io::table) and the user's names for their fields.

use std::collections::HashMap;
use std::path::Path;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use super::Origin;
use crate::error::{Error, Result};
use crate::grade::{self, AnswerStyle};
use crate::io::{read_table, take_path, JsonLine, TableFormat};

/// A problem with its gold answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub id: String,
    pub question: String,
    /// Gold final answer ("18", "\\frac{1}{2}"), when known.
    pub answer: Option<String>,
    /// Reference solution text, when known.
    pub solution: Option<String>,
    /// How answers to this problem are extracted from free text.
    pub style: AnswerStyle,
    pub extra: Map<String, Value>,
}

#[cfg(test)]
impl Problem {
    /// A GSM8K-style problem `id` with the question "q" and no gold answer, for unit tests.
    pub(crate) fn bare(id: &str) -> Self {
        Problem {
            id: id.into(),
            question: "q".into(),
            answer: None,
            solution: None,
            style: AnswerStyle::Gsm8k,
            extra: Map::new(),
        }
    }
}

impl Problem {
    /// Parses one problem record in any of the accepted layouts:
    /// - generic `{"id", "question", "answer", "solution", "style"?}`;
    /// - GSM8K native `{"question", "answer": "...#### 18"}`: gold after `####`, id = record index;
    /// - MATH native `{"problem", "solution", "answer"?}`: gold from the last `\boxed{}` when absent.
    fn from_object(mut object: Map<String, Value>, index: usize, origin: &Origin) -> Result<Self> {
        let style_field = origin.take_string(&mut object, "style")?;
        let explicit_style = style_field
            .as_deref()
            .map(|s| {
                s.parse::<AnswerStyle>()
                    .map_err(|e| origin.error("style", e))
            })
            .transpose()?;
        let mut id = origin.take_id(&mut object, "id")?;

        let (question, answer, solution, native_style) =
            if object.contains_key("problem") && !object.contains_key("question") {
                // MATH native.
                let question = origin.require_string(&mut object, "problem")?;
                let solution = origin.take_string(&mut object, "solution")?;
                let mut answer = origin.take_answer(&mut object, "answer")?;
                if answer.is_none() {
                    answer = solution
                        .as_deref()
                        .and_then(grade::last_boxed)
                        .map(str::to_owned);
                }
                if id.is_none() {
                    id = origin.take_id(&mut object, "unique_id")?;
                }
                (question, answer, solution, Some(AnswerStyle::Math))
            } else {
                let question = origin.require_string(&mut object, "question")?;
                let answer_field = origin.take_answer(&mut object, "answer")?;
                let solution = origin.take_string(&mut object, "solution")?;
                match answer_field {
                    // GSM8K native: the reference solution with its final `#### N` line.
                    Some(full) if solution.is_none() && full.contains("####") => {
                        let gold = grade::gsm8k_gold(&full).ok_or_else(|| {
                            origin.error("answer", "has `####` but no final answer after it")
                        })?;
                        (question, Some(gold), Some(full), Some(AnswerStyle::Gsm8k))
                    }
                    answer => (question, answer, solution, None),
                }
            };
        // An empty gold answer is no gold answer: grading against it would mark everything wrong.
        let answer = answer.filter(|a| !a.trim().is_empty());
        let style = explicit_style
            .or(native_style)
            .unwrap_or_else(|| AnswerStyle::infer(answer.as_deref(), solution.as_deref()));
        Ok(Problem {
            id: id.unwrap_or_else(|| index.to_string()),
            question,
            answer,
            solution,
            style,
            extra: object,
        })
    }
}

impl Serialize for Problem {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(5 + self.extra.len()))?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("question", &self.question)?;
        map.serialize_entry("answer", &self.answer)?;
        map.serialize_entry("solution", &self.solution)?;
        map.serialize_entry("style", &self.style)?;
        for (key, value) in &self.extra {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// The help heading of the problems file's flags (scoped to them: the command's own flags keep theirs).
const PROBLEMS_FILE: &str = "Problems file";

/// How a problems file is laid out: its format, and the user's names for the fields bestofn
/// reads (a dotted name reaches into nested objects: `reward_model.ground_truth`).
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct ProblemLayout {
    /// Format of the problems file (auto: by its name; .json, .csv, .tsv, else JSONL; Parquet by
    /// its first bytes).
    #[arg(long, value_enum, default_value_t, value_name = "FORMAT", help_heading = PROBLEMS_FILE)]
    pub problems_format: TableFormat,
    /// The field holding each problem's question (default: question, or problem as MATH has it).
    #[arg(long, value_name = "FIELD", help_heading = PROBLEMS_FILE)]
    pub question_field: Option<String>,
    /// The field holding the gold answer (default: answer; null marks a problem without one).
    #[arg(long, value_name = "FIELD", visible_alias = "answer-field", help_heading = PROBLEMS_FILE)]
    pub gold_field: Option<String>,
    /// The field holding each problem's id (default: id, else the record's position from 0).
    #[arg(long, value_name = "FIELD", help_heading = PROBLEMS_FILE)]
    pub id_field: Option<String>,
}

impl ProblemLayout {
    /// Moves the fields the user named to the names bestofn reads. A record that has both is
    /// refused: one of the two values would be lost.
    fn rename(&self, object: &mut Map<String, Value>, origin: &Origin) -> Result<()> {
        for (canonical, flag, source) in [
            ("question", "--question-field", &self.question_field),
            ("answer", "--gold-field", &self.gold_field),
            ("id", "--id-field", &self.id_field),
        ] {
            let Some(source) = source.as_deref().filter(|s| *s != canonical) else {
                continue;
            };
            let value = take_path(object, source).ok_or_else(|| {
                origin.error(
                    source,
                    format!("missing (named by {flag}; null is allowed)"),
                )
            })?;
            if object.contains_key(canonical) {
                return Err(origin.error(
                    canonical,
                    format!(
                        "is in the record beside `{source}` (named by {flag}): one would be \
                         lost; rename one of them, or leave out {flag} to read `{canonical}`"
                    ),
                ));
            }
            object.insert(canonical.to_owned(), value);
        }
        Ok(())
    }
}

/// [`ProblemLayout`] for the commands that read samples too (`label`, `solve`): there
/// `--answer-field` names the samples' extracted answer, so the gold's field is `--gold-field`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProblemLayoutBesideSamples(pub ProblemLayout);

impl clap::FromArgMatches for ProblemLayoutBesideSamples {
    fn from_arg_matches(matches: &clap::ArgMatches) -> std::result::Result<Self, clap::Error> {
        ProblemLayout::from_arg_matches(matches).map(Self)
    }

    fn update_from_arg_matches(
        &mut self,
        matches: &clap::ArgMatches,
    ) -> std::result::Result<(), clap::Error> {
        self.0.update_from_arg_matches(matches)
    }
}

impl clap::Args for ProblemLayoutBesideSamples {
    fn augment_args(command: clap::Command) -> clap::Command {
        ProblemLayout::augment_args(command).mut_arg("gold_field", |arg| arg.visible_alias(None))
    }

    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        Self::augment_args(command)
    }
}

/// Reads a problems file laid out as `layout` says; ids must be unique.
pub fn read_problems(path: &Path, layout: &ProblemLayout) -> Result<Vec<Problem>> {
    let lines = read_table(path, layout.problems_format, "--problems-format")?;
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(lines.len());
    let mut problems = Vec::with_capacity(lines.len());
    for (index, JsonLine { line, object }) in lines.into_iter().enumerate() {
        let origin = Origin { path, line };
        let mut object = object;
        layout.rename(&mut object, &origin)?;
        let problem =
            Problem::from_object(object, index, &origin).map_err(|e| layout.in_users_names(e))?;
        if let Some(first) = seen.insert(problem.id.clone(), line) {
            return Err(layout.in_users_names(origin.error(
                "id",
                format!(
                    "duplicate problem id {:?} (first on line {first})",
                    problem.id
                ),
            )));
        }
        problems.push(problem);
    }
    Ok(problems)
}

impl ProblemLayout {
    /// An error about a field the user named under another name, with that name.
    fn in_users_names(&self, error: Error) -> Error {
        match error {
            Error::Input {
                path,
                line,
                field: Some(field),
                message,
            } => {
                let named = match field.as_str() {
                    "question" => self.question_field.clone(),
                    "answer" => self.gold_field.clone(),
                    "id" => self.id_field.clone(),
                    _ => None,
                };
                Error::Input {
                    path,
                    line,
                    field: Some(named.unwrap_or(field)),
                    message,
                }
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_gold_answer_is_no_gold_answer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.jsonl");
        std::fs::write(
            &path,
            "{\"id\": \"a\", \"question\": \"q\", \"answer\": \" \"}\n{\"id\": \"b\", \"question\": \"q\", \"answer\": \"3\"}\n",
        )
        .unwrap();
        let problems = read_problems(&path, &ProblemLayout::default()).unwrap();
        assert_eq!(problems[0].answer, None);
        assert_eq!(problems[1].answer.as_deref(), Some("3"));
    }

    fn layout(question: Option<&str>, answer: Option<&str>, id: Option<&str>) -> ProblemLayout {
        ProblemLayout {
            question_field: question.map(str::to_owned),
            gold_field: answer.map(str::to_owned),
            id_field: id.map(str::to_owned),
            ..ProblemLayout::default()
        }
    }

    fn read(name: &str, content: &str, layout: &ProblemLayout) -> Result<Vec<Problem>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        read_problems(&path, layout)
    }

    #[test]
    fn named_fields_are_read_in_any_format_and_nested_ones_by_dotted_names() {
        let verl = r#"[{"prompt": "What is 2+3?", "reward_model": {"ground_truth": 5, "style": "rule"}, "extra_info": {"index": 7}}]"#;
        let problems = read(
            "v.json",
            verl,
            &layout(
                Some("prompt"),
                Some("reward_model.ground_truth"),
                Some("extra_info.index"),
            ),
        )
        .unwrap();
        assert_eq!(problems[0].id, "7");
        assert_eq!(problems[0].question, "What is 2+3?");
        assert_eq!(problems[0].answer.as_deref(), Some("5"));
        // What was not named stays with the record.
        assert_eq!(
            problems[0].extra["reward_model"],
            serde_json::json!({"style": "rule"})
        );
        let csv = "qid,input,target\nh1,\"Add 2, 3\",5\nh2,q,\n";
        let problems = read(
            "h.csv",
            csv,
            &layout(Some("input"), Some("target"), Some("qid")),
        )
        .unwrap();
        assert_eq!(
            problems
                .iter()
                .map(|p| (p.id.as_str(), p.answer.as_deref()))
                .collect::<Vec<_>>(),
            vec![("h1", Some("5")), ("h2", None)]
        );
        assert_eq!(problems[0].question, "Add 2, 3");
    }

    #[test]
    fn a_named_field_missing_or_beside_its_own_name_is_refused() {
        let error = read(
            "p.jsonl",
            "{\"q\": \"a\"}\n{\"x\": 1}\n",
            &layout(Some("q"), None, None),
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("p.jsonl:2: field `q`: missing (named by --question-field"),
            "{error}"
        );
        let error = read(
            "p.jsonl",
            "{\"question\": \"a\", \"prompt\": \"b\"}\n",
            &layout(Some("prompt"), None, None),
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("field `question`: is in the record beside `prompt`"),
            "{error}"
        );
    }

    proptest::proptest! {
        /// The same problems under the user's names read the same from JSONL, a pretty JSON
        /// array and CSV: whatever the texts hold (commas, quotes, newlines, brackets, unicode).
        #[test]
        fn every_format_gives_the_same_problems(
            rows in proptest::collection::vec(
                ("[a-z0-9]{1,8}", "[ -~\n\u{e9}\u{4e2d}]{1,40}", "[0-9]{1,4}|\\\\frac\\{[0-9]\\}\\{[0-9]\\}"),
                1..8,
            )
        ) {
            let mut rows = rows;
            rows.sort_by(|a, b| a.0.cmp(&b.0));
            rows.dedup_by(|a, b| a.0 == b.0);
            rows.retain(|(_, question, _)| !question.trim().is_empty());
            proptest::prop_assume!(!rows.is_empty());
            let objects: Vec<Value> = rows
                .iter()
                .map(|(id, question, gold)| serde_json::json!({"qid": id, "prompt": question, "target": gold}))
                .collect();
            let jsonl: String = objects.iter().map(|o| format!("{o}\n")).collect();
            let array = serde_json::to_string_pretty(&objects).unwrap();
            let mut csv = csv::Writer::from_writer(Vec::new());
            csv.write_record(["qid", "prompt", "target"]).unwrap();
            for (id, question, gold) in &rows {
                csv.write_record([id, question, gold]).unwrap();
            }
            let csv = String::from_utf8(csv.into_inner().unwrap()).unwrap();
            let layout = layout(Some("prompt"), Some("target"), Some("qid"));
            let from_jsonl = read("p.jsonl", &jsonl, &layout).unwrap();
            proptest::prop_assert_eq!(&read("p.json", &array, &layout).unwrap(), &from_jsonl);
            proptest::prop_assert_eq!(&read("p.csv", &csv, &layout).unwrap(), &from_jsonl);
            for (problem, (id, question, gold)) in from_jsonl.iter().zip(&rows) {
                proptest::prop_assert_eq!(&problem.id, id);
                proptest::prop_assert_eq!(&problem.question, question);
                proptest::prop_assert_eq!(problem.answer.as_deref(), Some(gold.as_str()));
            }
        }
    }
}
