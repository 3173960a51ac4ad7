//! A reference solution as a program over X: its annotations in order, each number of an
//! expression traced to an earlier step's result, the substituted question number (X), or a
//! constant; and the numbers a question writes, which X may replace.

use super::calculator::{close, evaluate, parse_number, tokenize, Token};

/// One calculator annotation: the expression and the result the solution states.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub expression: String,
    pub result: f64,
}

/// The annotations of a reference solution; `None` when one cannot be read.
pub fn annotations(solution: &str) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    let mut rest = solution;
    while let Some(start) = rest.find("<<") {
        let end = rest[start..].find(">>")? + start;
        let inner = &rest[start + 2..end];
        let (expression, result) = inner.rsplit_once('=')?;
        steps.push(Step {
            expression: expression.trim().to_owned(),
            result: parse_number(result)?,
        });
        rest = &rest[end + 2..];
    }
    Some(steps)
}

/// Where a number of an expression comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Source {
    /// The result of an earlier step (by index).
    Step(usize),
    /// The substituted question number.
    X,
    Constant(f64),
}

/// A reference solution turned into a program over X.
#[derive(Debug, Clone)]
pub struct Program {
    steps: Vec<(Vec<Token>, Vec<Source>)>,
    /// The results the solution states, per step.
    stated: Vec<f64>,
    /// The step whose stated result is the gold answer.
    answer_step: usize,
    /// The substituted number's original value.
    original_x: f64,
}

impl Program {
    /// Compiles the annotations of `solution`, with `substituted` (a question number) as X.
    /// `None` when the annotations are incomplete: an expression that cannot be read, or no step
    /// whose stated result is the gold answer.
    pub fn compile(solution: &str, gold: f64, substituted: Option<f64>) -> Option<Self> {
        let steps = annotations(solution)?;
        let mut compiled = Vec::with_capacity(steps.len());
        for (index, step) in steps.iter().enumerate() {
            let tokens = tokenize(&step.expression)?;
            let sources: Vec<Source> = tokens
                .iter()
                .filter_map(|t| match t {
                    Token::Number(value) => Some(*value),
                    _ => None,
                })
                .map(|value| {
                    match steps[..index]
                        .iter()
                        .rposition(|earlier| close(earlier.result, value))
                    {
                        Some(earlier) => Source::Step(earlier),
                        None if substituted.is_some_and(|s| close(s, value)) => Source::X,
                        None => Source::Constant(value),
                    }
                })
                .collect();
            compiled.push((tokens, sources));
        }
        let answer_step = steps.iter().rposition(|s| close(s.result, gold))?;
        Some(Program {
            steps: compiled,
            stated: steps.iter().map(|s| s.result).collect(),
            answer_step,
            original_x: substituted.unwrap_or(0.0),
        })
    }

    /// Whether re-executing with X at its original value gives every stated result.
    pub fn reproduces_every_step(&self) -> bool {
        self.run_all(self.original_x).is_some_and(|values| {
            values
                .iter()
                .zip(&self.stated)
                .all(|(value, stated)| close(*value, *stated))
        })
    }

    /// The answer re-executed with no substitution.
    pub fn original_answer(&self) -> Option<f64> {
        self.answer(self.original_x)
    }

    fn run_all(&self, x: f64) -> Option<Vec<f64>> {
        let mut results: Vec<f64> = Vec::with_capacity(self.steps.len());
        for (tokens, sources) in &self.steps {
            let values: Vec<f64> = sources
                .iter()
                .map(|source| match *source {
                    Source::Step(index) => results[index],
                    Source::X => x,
                    Source::Constant(value) => value,
                })
                .collect();
            results.push(evaluate(tokens, &values)?);
        }
        Some(results)
    }

    /// The answer with X = `x`.
    pub fn answer(&self, x: f64) -> Option<f64> {
        self.run_all(x)?.get(self.answer_step).copied()
    }

    /// Whether X feeds any step.
    pub fn uses_x(&self) -> bool {
        self.steps
            .iter()
            .any(|(_, sources)| sources.contains(&Source::X))
    }
}

/// A number written in a question: its byte span and value.
#[derive(Debug, Clone, PartialEq)]
pub struct QuestionNumber {
    pub start: usize,
    pub end: usize,
    pub value: f64,
}

/// The numbers written with digits in `text` (`1,000`, `3.5`, `$2`: the span is the digits).
pub fn question_numbers(text: &str) -> Vec<QuestionNumber> {
    let bytes = text.as_bytes();
    let mut numbers = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit()
            || (i > 0 && (bytes[i - 1].is_ascii_alphabetic() || bytes[i - 1] == b'.'))
        {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len()
            && (bytes[i].is_ascii_digit()
                || ((bytes[i] == b',' || bytes[i] == b'.')
                    && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)))
        {
            i += 1;
        }
        let followed_by_letter = bytes.get(i).is_some_and(u8::is_ascii_alphabetic);
        if let (Some(value), false) = (parse_number(&text[start..i]), followed_by_letter) {
            numbers.push(QuestionNumber {
                start,
                end: i,
                value,
            });
        }
    }
    numbers
}

#[cfg(test)]
mod tests {
    use super::*;

    const EGGS_S: &str = "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\nShe makes 9 * 2 = $<<9*2=18>>18 every day at the farmer’s market.\n#### 18";

    #[test]
    fn re_execution_follows_the_data_flow() {
        let program = Program::compile(EGGS_S, 18.0, Some(16.0)).unwrap();
        assert!(program.uses_x());
        assert_eq!(program.answer(16.0), Some(18.0));
        // 20 eggs: (20 - 3 - 4) * 2 = 26.
        assert_eq!(program.answer(20.0), Some(26.0));
        // Substituting the price 2: 9 * X.
        let price = Program::compile(EGGS_S, 18.0, Some(2.0)).unwrap();
        assert_eq!(price.answer(5.0), Some(45.0));
        // Without substitution the gold comes back.
        assert_eq!(
            Program::compile(EGGS_S, 18.0, None)
                .unwrap()
                .original_answer(),
            Some(18.0)
        );
    }

    #[test]
    fn incomplete_annotations_are_rejected() {
        // A wrong stated result: complete, but re-execution does not reproduce it.
        let wrong = Program::compile("<<2+2=5>>5\n#### 5", 5.0, None).unwrap();
        assert!(!wrong.reproduces_every_step());
        assert_eq!(wrong.original_answer(), Some(4.0));
        // No step gives the gold answer.
        assert!(Program::compile("<<2+2=4>>4\n#### 8", 8.0, None).is_none());
        // Unreadable expression.
        assert!(Program::compile("<<two+2=4>>4\n#### 4", 4.0, None).is_none());
        assert_eq!(
            annotations("a <<(1+2)*3=9>> b <<9/3=3>>").unwrap(),
            vec![
                Step {
                    expression: "(1+2)*3".into(),
                    result: 9.0
                },
                Step {
                    expression: "9/3".into(),
                    result: 3.0
                }
            ]
        );
    }

    #[test]
    fn question_numbers_and_spans() {
        let numbers = question_numbers("She pays $1,200 for 3.5 kg, 2nd time 4 apples.");
        let values: Vec<f64> = numbers.iter().map(|n| n.value).collect();
        assert_eq!(
            values,
            vec![1200.0, 3.5, 4.0],
            "2nd is an ordinal, not a quantity"
        );
        assert_eq!(
            &"She pays $1,200 for"[numbers[0].start..numbers[0].end],
            "1,200"
        );
    }
}
