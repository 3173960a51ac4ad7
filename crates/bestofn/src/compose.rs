//! `compose`: Compositional GSM ("Not All LLM Reasoners Are Created Equal"). Two GSM8K problems
//! are chained: Q1's answer becomes X, and one number of Q2's question is replaced by X. Q2's new
//! gold answer is recomputed by re-executing the `<<expr=result>>` calculator annotations of its
//! reference solution with X in place of that number.
//!
//! Re-execution follows the data flow of the annotations: a number in an expression that equals
//! the result of an earlier step is that step's (recomputed) result; any other number is a
//! constant, except the substituted question number, which becomes X. Only numbers that cannot be
//! confused with a step result are substituted: they must appear once in the question, be
//! positive integers outside a written fraction, feed at least one step, and differ from every
//! step's result.
//!
//! A pair is kept when the new answer is a positive integer that differs from the old one. Pairs
//! are drawn from a seeded permutation, so the same seed gives the same set.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use serde_json::{json, Map, Value};

use crate::io::OutputSet;
use crate::records::Problem;

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

fn parse_number(text: &str) -> Option<f64> {
    let cleaned: String = text
        .trim()
        .trim_end_matches('.')
        .chars()
        .filter(|c| !matches!(c, ',' | '$' | ' '))
        .collect();
    cleaned.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

/// A token of an annotation expression.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Token {
    Number(f64),
    Op(char),
    Open,
    Close,
}

fn tokenize(expression: &str) -> Option<Vec<Token>> {
    let chars: Vec<char> = expression.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '$' | ',' => i += 1,
            '0'..='9' | '.' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_digit() || chars[i] == '.' || chars[i] == ',')
                {
                    i += 1;
                }
                let text: String = chars[start..i].iter().filter(|&&c| c != ',').collect();
                tokens.push(Token::Number(text.parse().ok()?));
            }
            '*' if chars.get(i + 1) == Some(&'*') => {
                tokens.push(Token::Op('^'));
                i += 2;
            }
            '+' | '-' | '*' | '/' | '^' | '%' => {
                tokens.push(Token::Op(c));
                i += 1;
            }
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            _ => return None,
        }
    }
    Some(tokens)
}

/// Recursive-descent evaluation of the tokens with numbers replaced by `values` (one per Number
/// token, in order).
struct Evaluator<'a> {
    tokens: &'a [Token],
    values: &'a [f64],
    position: usize,
    number: usize,
    /// Nesting so far: parentheses, unary minus and powers recurse.
    depth: usize,
}

/// Deeper expressions are refused: a calculator annotation never nests this far, and the bound
/// keeps the recursion far from the end of the stack.
const MAX_DEPTH: usize = 256;

impl Evaluator<'_> {
    /// Runs one nested step of the descent, or fails past [`MAX_DEPTH`].
    fn nested(&mut self, step: fn(&mut Self) -> Option<f64>) -> Option<f64> {
        if self.depth >= MAX_DEPTH {
            return None;
        }
        self.depth += 1;
        let value = step(self);
        self.depth -= 1;
        value
    }

    fn peek(&self) -> Option<Token> {
        self.tokens.get(self.position).copied()
    }

    fn expression(&mut self) -> Option<f64> {
        let mut value = self.term()?;
        while let Some(Token::Op(op @ ('+' | '-'))) = self.peek() {
            self.position += 1;
            let right = self.term()?;
            value = if op == '+' {
                value + right
            } else {
                value - right
            };
        }
        Some(value)
    }

    fn term(&mut self) -> Option<f64> {
        let mut value = self.power()?;
        while let Some(Token::Op(op @ ('*' | '/'))) = self.peek() {
            self.position += 1;
            let right = self.power()?;
            value = if op == '*' {
                value * right
            } else {
                value / right
            };
        }
        Some(value)
    }

    fn power(&mut self) -> Option<f64> {
        let base = self.unary()?;
        if let Some(Token::Op('^')) = self.peek() {
            self.position += 1;
            let exponent = self.nested(Self::power)?;
            return Some(base.powf(exponent));
        }
        Some(base)
    }

    fn unary(&mut self) -> Option<f64> {
        if let Some(Token::Op('-')) = self.peek() {
            self.position += 1;
            return Some(-self.nested(Self::unary)?);
        }
        let mut value = self.atom()?;
        // A trailing percent sign divides by 100.
        while let Some(Token::Op('%')) = self.peek() {
            self.position += 1;
            value /= 100.0;
        }
        Some(value)
    }

    fn atom(&mut self) -> Option<f64> {
        match self.peek()? {
            Token::Number(_) => {
                self.position += 1;
                let value = *self.values.get(self.number)?;
                self.number += 1;
                Some(value)
            }
            Token::Open => {
                self.position += 1;
                let value = self.nested(Self::expression)?;
                (self.peek()? == Token::Close).then_some(())?;
                self.position += 1;
                Some(value)
            }
            _ => None,
        }
    }
}

fn evaluate(tokens: &[Token], values: &[f64]) -> Option<f64> {
    let mut evaluator = Evaluator {
        tokens,
        values,
        position: 0,
        number: 0,
        depth: 0,
    };
    let value = evaluator.expression()?;
    (evaluator.position == tokens.len() && value.is_finite()).then_some(value)
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

/// A chained problem and the two standalone problems it is measured against.
#[derive(Debug, Clone)]
pub struct Composed {
    pub composed: Problem,
    /// Q2 with the substituted number replaced by X's value (the modified-Q2 set).
    pub modified_q2: Problem,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ComposeSummary {
    pub problems: usize,
    /// Problems whose annotations are complete: every expression can be read and a step states
    /// the gold answer.
    pub complete: usize,
    /// Of those, problems whose re-execution without substitution reproduces the gold answer.
    pub reproduced: usize,
    /// The complete problems whose re-execution does not give the gold answer.
    pub not_reproduced: Vec<String>,
    /// Problems with at least one number that can be substituted.
    pub substitutable: usize,
    pub pairs: usize,
    pub attempts: usize,
}

impl std::fmt::Display for ComposeSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let share = |part: usize, whole: usize| 100.0 * part as f64 / whole.max(1) as f64;
        write!(
            f,
            "{} problems: {} with complete annotations ({:.1}%); re-executing them without \
             substitution reproduces the gold answer for {} ({:.2}%); {} have a substitutable \
             number; {} pairs built in {} attempts",
            self.problems,
            self.complete,
            share(self.complete, self.problems),
            self.reproduced,
            share(self.reproduced, self.complete),
            self.substitutable,
            self.pairs,
            self.attempts
        )
    }
}

/// The prompt of the paper: Q1 defines X, Q2 uses it.
pub fn composed_prompt(q1: &str, q2_with_x: &str) -> String {
    format!(
        "Let X be the answer to the Q1:\n\nQ1: {}\n\nSolve it and use the value of X to solve Q2. \
         Explain your answer step by step.\n\nQ2: {}",
        q1.trim(),
        q2_with_x.trim()
    )
}

fn as_positive_integer(value: f64) -> Option<u64> {
    let rounded = value.round();
    (close(value, rounded) && (1.0..1e15).contains(&rounded)).then_some(rounded as u64)
}

/// One way to substitute a number of a problem.
struct Candidate {
    number: QuestionNumber,
    program: Program,
}

fn candidates(problem: &Problem, gold: f64) -> Vec<Candidate> {
    let Some(solution) = problem.solution.as_deref() else {
        return Vec::new();
    };
    let numbers = question_numbers(&problem.question);
    let Some(steps) = annotations(solution) else {
        return Vec::new();
    };
    // Part of a written fraction ("1/5 of her money"): X would make it a different kind of number.
    let in_fraction = |n: &QuestionNumber| {
        let bytes = problem.question.as_bytes();
        (n.start > 0 && bytes[n.start - 1] == b'/') || bytes.get(n.end) == Some(&b'/')
    };
    numbers
        .iter()
        .filter(|n| as_positive_integer(n.value).is_some() && !in_fraction(n))
        .filter(|n| numbers.iter().filter(|m| close(m.value, n.value)).count() == 1)
        .filter(|n| !steps.iter().any(|s| close(s.result, n.value)))
        .filter_map(|n| {
            let program = Program::compile(solution, gold, Some(n.value))?;
            (program.uses_x() && program.reproduces_every_step()).then(|| Candidate {
                number: n.clone(),
                program,
            })
        })
        .collect()
}

/// Builds up to `max_pairs` chained problems from `problems` (GSM8K with reference solutions).
pub fn compose(
    problems: &[Problem],
    max_pairs: usize,
    seed: u64,
) -> (Vec<Composed>, ComposeSummary) {
    let mut summary = ComposeSummary {
        problems: problems.len(),
        ..Default::default()
    };
    let golds: Vec<Option<f64>> = problems
        .iter()
        .map(|p| p.answer.as_deref().and_then(parse_number))
        .collect();
    for (problem, gold) in problems.iter().zip(&golds) {
        let (Some(solution), Some(gold)) = (problem.solution.as_deref(), gold) else {
            continue;
        };
        if let Some(program) = Program::compile(solution, *gold, None) {
            summary.complete += 1;
            if program.original_answer().is_some_and(|a| close(a, *gold)) {
                summary.reproduced += 1;
            } else {
                summary.not_reproduced.push(problem.id.clone());
            }
        }
    }
    let substitutions: Vec<Vec<Candidate>> = problems
        .iter()
        .zip(&golds)
        .map(|(p, g)| g.map_or_else(Vec::new, |g| candidates(p, g)))
        .collect();
    summary.substitutable = substitutions.iter().filter(|c| !c.is_empty()).count();

    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let mut firsts: Vec<usize> = (0..problems.len())
        .filter(|&i| golds[i].and_then(as_positive_integer).is_some())
        .collect();
    let mut seconds: Vec<usize> = (0..problems.len())
        .filter(|&i| !substitutions[i].is_empty())
        .collect();
    firsts.shuffle(&mut rng);
    seconds.shuffle(&mut rng);
    let mut used_second = vec![false; problems.len()];
    let mut composed = Vec::new();
    'first: for &q1 in &firsts {
        if composed.len() >= max_pairs {
            break;
        }
        let x = as_positive_integer(golds[q1].expect("filtered")).expect("filtered");
        for &q2 in &seconds {
            if q2 == q1 || used_second[q2] {
                continue;
            }
            summary.attempts += 1;
            let old = golds[q2].expect("substitutable problems have a gold answer");
            let mut options: Vec<&Candidate> = substitutions[q2].iter().collect();
            options.shuffle(&mut rng);
            for candidate in options {
                let Some(new) = candidate
                    .program
                    .answer(x as f64)
                    .and_then(as_positive_integer)
                else {
                    continue;
                };
                if close(new as f64, old) {
                    continue;
                }
                used_second[q2] = true;
                composed.push(build(problems, q1, q2, x, new, candidate, composed.len()));
                continue 'first;
            }
        }
    }
    summary.pairs = composed.len();
    (composed, summary)
}

fn build(
    problems: &[Problem],
    q1: usize,
    q2: usize,
    x: u64,
    new: u64,
    candidate: &Candidate,
    index: usize,
) -> Composed {
    let (first, second) = (&problems[q1], &problems[q2]);
    let span = candidate.number.start..candidate.number.end;
    let original_text = &second.question[span.clone()];
    let mut with_x = second.question.clone();
    with_x.replace_range(span.clone(), "X");
    let mut with_value = second.question.clone();
    with_value.replace_range(span, &x.to_string());
    let id = format!("compose-{index}");
    let mut extra = Map::new();
    extra.insert("q1_id".into(), json!(first.id));
    extra.insert("q2_id".into(), json!(second.id));
    extra.insert("x".into(), json!(x));
    extra.insert("substituted".into(), json!(original_text));
    extra.insert("q2_question_with_x".into(), json!(with_x));
    extra.insert("q2_original_answer".into(), json!(second.answer));
    let composed = Problem {
        id: id.clone(),
        question: composed_prompt(&first.question, &with_x),
        answer: Some(new.to_string()),
        solution: None,
        style: second.style,
        extra: extra.clone(),
    };
    let mut q2_extra = Map::new();
    q2_extra.insert("composed_id".into(), Value::String(id.clone()));
    q2_extra.insert("q2_id".into(), json!(second.id));
    let modified_q2 = Problem {
        id: format!("{id}-q2"),
        question: with_value,
        answer: Some(new.to_string()),
        solution: None,
        style: second.style,
        extra: q2_extra,
    };
    Composed {
        composed,
        modified_q2,
    }
}

/// Where [`write_sets`] put the three problem sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposedPaths {
    pub composed: PathBuf,
    /// NAME.q1.jsonl: the Q1 problems, as they were.
    pub q1: PathBuf,
    /// NAME.q2.jsonl: the modified Q2 problems.
    pub q2: PathBuf,
    /// NAME.summary.json.
    pub summary: PathBuf,
}

/// The four files of a composed set named `out`.
pub fn set_paths(out: &Path) -> ComposedPaths {
    let stem = out
        .file_stem()
        .map_or_else(|| "composed".into(), |s| s.to_string_lossy().into_owned());
    ComposedPaths {
        composed: out.to_owned(),
        q1: out.with_file_name(format!("{stem}.q1.jsonl")),
        q2: out.with_file_name(format!("{stem}.q2.jsonl")),
        summary: out.with_file_name(format!("{stem}.summary.json")),
    }
}

/// Writes the composed set to `out` and the Q1 set, the modified-Q2 set and the summary beside it.
pub fn write_sets(
    out: &Path,
    problems: &[Problem],
    composed: &[Composed],
    summary: &ComposeSummary,
) -> crate::Result<ComposedPaths> {
    let paths = set_paths(out);
    let by_id: HashMap<&str, &Problem> = problems.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut seen = std::collections::HashSet::new();
    let q1: Vec<&Problem> = composed
        .iter()
        .filter_map(|c| c.composed.extra.get("q1_id").and_then(Value::as_str))
        .filter(|id| seen.insert(*id))
        .filter_map(|id| by_id.get(id).copied())
        .collect();
    let main: Vec<&Problem> = composed.iter().map(|c| &c.composed).collect();
    let modified: Vec<&Problem> = composed.iter().map(|c| &c.modified_q2).collect();
    let json = crate::io::pretty_json(summary)?;
    // All four appear together or none does (a full disk must not leave a set without its pair).
    let mut set = OutputSet::default();
    set.add_jsonl(&paths.composed, &main)?;
    set.add_jsonl(&paths.q1, &q1)?;
    set.add_jsonl(&paths.q2, &modified)?;
    set.add_bytes(&paths.summary, &json)?;
    set.commit()?;
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grade::AnswerStyle;

    fn gsm(id: &str, question: &str, solution: &str, answer: &str) -> Problem {
        Problem {
            id: id.into(),
            question: question.into(),
            answer: Some(answer.into()),
            solution: Some(solution.into()),
            style: AnswerStyle::Gsm8k,
            extra: Map::new(),
        }
    }

    const EGGS_Q: &str = "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her friends every day with four. She sells the remainder at the farmers' market daily for $2 per fresh duck egg. How much in dollars does she make every day at the farmers' market?";
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
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        for depth in [70_000, MAX_DEPTH + 1] {
            let expression = format!("{}1{}", "(".repeat(depth), ")".repeat(depth));
            let tokens = tokenize(&expression).unwrap();
            let values = vec![1.0];
            assert_eq!(evaluate(&tokens, &values), None);
            let minus = format!("{}1", "-".repeat(depth));
            assert_eq!(evaluate(&tokenize(&minus).unwrap(), &values), None);
        }
        let shallow = format!("{}1{}", "(".repeat(10), ")".repeat(10));
        assert_eq!(evaluate(&tokenize(&shallow).unwrap(), &[1.0]), Some(1.0));
    }

    #[test]
    fn evaluates_precedence_powers_and_percent() {
        let run = |e: &str| {
            let tokens = tokenize(e).unwrap();
            let values: Vec<f64> = tokens
                .iter()
                .filter_map(|t| {
                    if let Token::Number(v) = t {
                        Some(*v)
                    } else {
                        None
                    }
                })
                .collect();
            evaluate(&tokens, &values)
        };
        assert_eq!(run("2+3*4"), Some(14.0));
        assert_eq!(run("(2+3)*4"), Some(20.0));
        assert_eq!(run("2**3**2"), Some(512.0));
        assert_eq!(run("-3+5"), Some(2.0));
        assert_eq!(run("50%*80"), Some(40.0));
        assert_eq!(run("1,000/4"), Some(250.0));
        assert_eq!(run("2+"), None);
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

    #[test]
    fn composes_pairs_reproducibly() {
        let problems = vec![
            gsm("eggs", EGGS_Q, EGGS_S, "18"),
            gsm(
                "pens",
                "Tom buys 3 packs of 12 pens. How many pens does he have?",
                "He has 3*12=<<3*12=36>>36 pens.\n#### 36",
                "36",
            ),
            gsm(
                "cake",
                "A cake costs $7. How much do 5 cakes cost?",
                "5*7=<<5*7=35>>35\n#### 35",
                "35",
            ),
        ];
        let (pairs, summary) = compose(&problems, 10, 1);
        assert_eq!(summary.complete, 3);
        assert_eq!(summary.reproduced, 3);
        assert_eq!(summary.substitutable, 3);
        assert!(!pairs.is_empty());
        for pair in &pairs {
            let c = &pair.composed;
            assert!(c
                .question
                .starts_with("Let X be the answer to the Q1:\n\nQ1: "));
            assert!(c
                .question
                .contains("Solve it and use the value of X to solve Q2."));
            let x = c.extra["x"].as_u64().unwrap();
            let q1 = problems.iter().find(|p| p.id == c.extra["q1_id"]).unwrap();
            assert_eq!(q1.answer.as_deref(), Some(x.to_string().as_str()));
            assert_ne!(
                c.answer,
                c.extra["q2_original_answer"].as_str().map(str::to_owned)
            );
            assert!(pair.modified_q2.question.contains(&x.to_string()));
            assert!(!pair.modified_q2.question.contains('X'));
        }
        let again = compose(&problems, 10, 1).0;
        assert_eq!(
            pairs
                .iter()
                .map(|p| p.composed.question.clone())
                .collect::<Vec<_>>(),
            again
                .iter()
                .map(|p| p.composed.question.clone())
                .collect::<Vec<_>>()
        );
    }
}
