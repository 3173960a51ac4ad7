//! The calculator of GSM8K's `<<expression=result>>` annotations: numbers as written, tokens, and
//! a bounded recursive-descent evaluator over tokens whose numbers are given apart (so that the
//! data-flow program can replace each one).

/// A number as an annotation or a question writes it (`1,000`, `$2`, `18.`).
pub(super) fn parse_number(text: &str) -> Option<f64> {
    let cleaned: String = text
        .trim()
        .trim_end_matches('.')
        .chars()
        .filter(|c| !matches!(c, ',' | '$' | ' '))
        .collect();
    cleaned.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Equal up to float noise: results stated in a solution are rounded.
pub(super) fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

/// A token of an annotation expression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Token {
    Number(f64),
    Op(char),
    Open,
    Close,
}

pub(super) fn tokenize(expression: &str) -> Option<Vec<Token>> {
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

pub(super) fn evaluate(tokens: &[Token], values: &[f64]) -> Option<f64> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
