//! Mathematical expressions read from normalized answers (their equivalence is in
//! [`super::identity`]).
//!
//! The parser is a recursive descent over the normalized text (commands in one spelling, no
//! whitespace) with hard bounds on length, nodes and depth, so parsing is linear and evaluating an
//! expression walks at most [`MAX_NODES`] nodes.

use std::fmt;

use super::number::{self, Number, Rational};

/// The longest text read as an expression; longer answers are compared as text.
pub const MAX_LEN: usize = 4_096;
/// The most nodes in one expression.
const MAX_NODES: usize = 4_096;
/// The deepest nesting of brackets and operators.
const MAX_DEPTH: usize = 48;

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Number(Literal),
    Symbol(Box<str>),
    Constant(Constant),
    Sum(Vec<Expr>),
    Product(Vec<Expr>),
    Negate(Box<Expr>),
    Quotient(Box<Expr>, Box<Expr>),
    Power(Box<Expr>, Box<Expr>),
    /// The `index`-th root of the radicand: real for odd indices of negative radicands.
    Root(Box<Expr>, Box<Expr>),
    Apply(Function, Box<Expr>),
    Factorial(Box<Expr>),
    Matrix {
        columns: usize,
        cells: Vec<Expr>,
    },
    /// An operator that is not evaluated (a sum or product with symbolic bounds) applied to its
    /// body: equal only to the same operator, with the same bounds, on an equivalent body.
    Opaque {
        tag: u64,
        body: Box<Expr>,
    },
}

/// A number as written: its value, and its exact value unless it is a float's printout (see
/// [`number::parse_decimal`]) or too large to keep.
#[derive(Debug, Clone, PartialEq)]
pub struct Literal {
    pub value: f64,
    pub exact: Option<Rational>,
}

/// The largest power of ten a scientific exponent is kept exactly for.
const MAX_EXACT_EXPONENT: i32 = 400;

impl Literal {
    pub fn integer(n: u32) -> Literal {
        Literal {
            value: f64::from(n),
            exact: Some(Rational::integer(n.into())),
        }
    }

    /// `12`, `1.5`, `.5`, `2e5`, `1.5E-3`.
    fn parse(text: &str) -> Option<Literal> {
        let value: f64 = text.parse().ok().filter(|x: &f64| x.is_finite())?;
        let (mantissa, exponent) = match text.find(['e', 'E']) {
            Some(at) => (&text[..at], text[at + 1..].parse::<i32>().ok()),
            None => (text, Some(0)),
        };
        let exact = match (number::parse_decimal(mantissa), exponent) {
            (Some(Number::Exact(m)), Some(e)) if e.abs() <= MAX_EXACT_EXPONENT => {
                Some(m.mul(&Rational::integer(10).pow(e, u64::MAX)?))
            }
            _ => None,
        };
        Some(Literal { value, exact })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constant {
    Pi,
    E,
    Infinity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Sin,
    Cos,
    Tan,
    Sec,
    Csc,
    Cot,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
    Ln,
    Exp,
    Abs,
}

const FUNCTIONS: &[(&str, Function)] = &[
    ("arcsin", Function::Asin),
    ("arccos", Function::Acos),
    ("arctan", Function::Atan),
    ("sinh", Function::Sinh),
    ("cosh", Function::Cosh),
    ("tanh", Function::Tanh),
    ("sin", Function::Sin),
    ("cos", Function::Cos),
    ("tan", Function::Tan),
    ("sec", Function::Sec),
    ("csc", Function::Csc),
    ("cot", Function::Cot),
    ("ln", Function::Ln),
    // Natural, as in SymPy's LaTeX reader; `\log_b` has its base.
    ("log", Function::Ln),
    ("exp", Function::Exp),
];

/// Greek letters (and `\ell`), read as symbols.
const GREEK: &[&str] = &[
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "varepsilon",
    "zeta",
    "eta",
    "theta",
    "vartheta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "rho",
    "sigma",
    "tau",
    "upsilon",
    "phi",
    "varphi",
    "chi",
    "psi",
    "omega",
    "Gamma",
    "Delta",
    "Theta",
    "Lambda",
    "Xi",
    "Pi",
    "Sigma",
    "Phi",
    "Psi",
    "Omega",
    "ell",
];

/// Commands that end a factor rather than start one (operators, relations, delimiters).
const NOT_A_FACTOR: &[&str] = &[
    "cdot", "times", "div", "leq", "geq", "neq", "cup", "cap", "end", "pm", "mp", "to",
];

impl Expr {
    pub(super) fn has_symbols(&self) -> bool {
        match self {
            Expr::Symbol(_) => true,
            Expr::Number(_) | Expr::Constant(_) => false,
            Expr::Sum(items) | Expr::Product(items) => items.iter().any(Expr::has_symbols),
            Expr::Matrix { cells, .. } => cells.iter().any(Expr::has_symbols),
            Expr::Negate(e) | Expr::Apply(_, e) | Expr::Factorial(e) => e.has_symbols(),
            Expr::Opaque { body, .. } => body.has_symbols(),
            Expr::Quotient(a, b) | Expr::Power(a, b) | Expr::Root(a, b) => {
                a.has_symbols() || b.has_symbols()
            }
        }
    }
}

/// Relation operators, in one orientation each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelOp {
    Eq,
    Neq,
    Lt,
    Leq,
    Gt,
    Geq,
}

impl RelOp {
    /// The operator with its sides swapped: `a < b` is `b > a`.
    pub fn flipped(self) -> RelOp {
        match self {
            RelOp::Lt => RelOp::Gt,
            RelOp::Leq => RelOp::Geq,
            RelOp::Gt => RelOp::Lt,
            RelOp::Geq => RelOp::Leq,
            other => other,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            RelOp::Eq => "=",
            RelOp::Neq => "≠",
            RelOp::Lt => "<",
            RelOp::Leq => "≤",
            RelOp::Gt => ">",
            RelOp::Geq => "≥",
        }
    }
}

impl fmt::Display for RelOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// Parses `a op b op c ...`: the sides and the operators between them.
pub fn parse_relation(text: &str) -> Option<(Vec<Expr>, Vec<RelOp>)> {
    if text.is_empty() || text.len() > MAX_LEN {
        return None;
    }
    let mut parser = Parser {
        text,
        pos: 0,
        nodes: 0,
        depth: 0,
        in_abs: 0,
    };
    let mut sides = vec![parser.sum()?];
    let mut ops = Vec::new();
    while let Some(op) = parser.relation_op() {
        ops.push(op);
        sides.push(parser.sum()?);
    }
    (parser.pos == text.len()).then_some((sides, ops))
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    nodes: usize,
    depth: usize,
    /// Open `|...|` groups: inside one, `|` closes rather than opens.
    in_abs: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn eat(&mut self, token: &str) -> bool {
        let found = self.rest().starts_with(token);
        if found {
            self.pos += token.len();
        }
        found
    }

    fn expect(&mut self, token: &str) -> Option<()> {
        self.eat(token).then_some(())
    }

    /// Counts a node and a nesting level; `None` past the bounds.
    fn enter(&mut self) -> Option<()> {
        self.nodes += 1;
        self.depth += 1;
        (self.nodes <= MAX_NODES && self.depth <= MAX_DEPTH).then_some(())
    }

    fn leave<T>(&mut self, value: T) -> T {
        self.depth -= 1;
        value
    }

    /// The command at the cursor (without its backslash). Whitespace is gone from normalized text,
    /// so `\sinx` is `\sin x`: an unknown name is read as its longest known prefix.
    fn peek_command(&self) -> Option<&'a str> {
        let rest = self.rest().strip_prefix('\\')?;
        let letters = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let name = &rest[..letters];
        if name.is_empty() || is_known_command(name) {
            return (!name.is_empty()).then_some(name);
        }
        (1..letters)
            .rev()
            .map(|end| &name[..end])
            .find(|prefix| is_known_command(prefix))
    }

    fn relation_op(&mut self) -> Option<RelOp> {
        const OPS: [(&str, RelOp); 6] = [
            ("\\leq", RelOp::Leq),
            ("\\geq", RelOp::Geq),
            ("\\neq", RelOp::Neq),
            ("=", RelOp::Eq),
            ("<", RelOp::Lt),
            (">", RelOp::Gt),
        ];
        let (token, op) = OPS
            .iter()
            .find(|(token, _)| self.rest().starts_with(token))?;
        self.pos += token.len();
        Some(*op)
    }

    fn sum(&mut self) -> Option<Expr> {
        self.enter()?;
        let mut terms = Vec::new();
        let mut negative = self.eat("-");
        if !negative {
            self.eat("+");
        }
        loop {
            let term = self.term()?;
            terms.push(if negative {
                Expr::Negate(Box::new(term))
            } else {
                term
            });
            if self.eat("+") {
                negative = false;
            } else if self.eat("-") {
                negative = true;
            } else {
                break;
            }
        }
        self.leave(Some(one_or_many(terms, Expr::Sum)))
    }

    fn term(&mut self) -> Option<Expr> {
        self.enter()?;
        let mut factors = vec![self.power()?];
        loop {
            if self.eat("\\cdot") || self.eat("\\times") || self.eat("*") {
                factors.push(self.signed_power()?);
            } else if self.eat("/") || self.eat("\\div") {
                let divisor = self.signed_power()?;
                let dividend = factors.pop()?;
                factors.push(Expr::Quotient(Box::new(dividend), Box::new(divisor)));
            } else if self.starts_factor() {
                factors.push(self.power()?);
            } else {
                break;
            }
        }
        self.leave(Some(one_or_many(factors, Expr::Product)))
    }

    /// A factor after an explicit operator may carry a sign: `2 \cdot -3`.
    fn signed_power(&mut self) -> Option<Expr> {
        if self.eat("-") {
            return Some(Expr::Negate(Box::new(self.power()?)));
        }
        self.eat("+");
        self.power()
    }

    /// Whether the cursor starts a factor multiplied by juxtaposition (`2x`, `x(y+1)`).
    fn starts_factor(&self) -> bool {
        match self.peek() {
            Some(b) if b.is_ascii_alphanumeric() || b == b'(' || b == b'{' || b == b'.' => true,
            Some(b'|') => self.in_abs == 0,
            Some(b'\\') => self
                .peek_command()
                .is_some_and(|name| !NOT_A_FACTOR.contains(&name)),
            _ => false,
        }
    }

    fn power(&mut self) -> Option<Expr> {
        self.enter()?;
        let mut base = self.atom()?;
        while self.eat("!") {
            base = Expr::Factorial(Box::new(base));
        }
        if self.eat("^") {
            let exponent = self.exponent()?;
            base = Expr::Power(Box::new(base), Box::new(exponent));
        }
        self.leave(Some(base))
    }

    /// A superscript: a braced group, or one character or command (`x^23` is `x^2 \cdot 3`).
    fn exponent(&mut self) -> Option<Expr> {
        if self.eat("-") {
            return Some(Expr::Negate(Box::new(self.exponent()?)));
        }
        match self.peek()? {
            b'{' => self.braced(),
            b if b.is_ascii_digit() => {
                self.pos += 1;
                Some(Expr::Number(Literal::integer(u32::from(b - b'0'))))
            }
            _ => self.atom(),
        }
    }

    fn braced(&mut self) -> Option<Expr> {
        self.expect("{")?;
        let inner = self.sum()?;
        self.expect("}")?;
        Some(inner)
    }

    fn atom(&mut self) -> Option<Expr> {
        self.enter()?;
        let atom = match self.peek()? {
            b if b.is_ascii_digit() || b == b'.' => self.number(),
            b if b.is_ascii_alphabetic() => self.symbol(),
            b'(' => {
                self.pos += 1;
                let inner = self.sum()?;
                self.expect(")")?;
                Some(inner)
            }
            b'{' => self.braced(),
            b'|' if self.in_abs == 0 => {
                self.pos += 1;
                self.in_abs += 1;
                let inner = self.sum()?;
                self.in_abs -= 1;
                self.expect("|")?;
                Some(Expr::Apply(Function::Abs, Box::new(inner)))
            }
            b'\\' => self.command(),
            _ => None,
        };
        self.leave(atom)
    }

    fn number(&mut self) -> Option<Expr> {
        let rest = self.rest();
        let mut end = rest.bytes().take_while(u8::is_ascii_digit).count();
        if rest[end..].starts_with('.') {
            end += 1 + rest[end + 1..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
        }
        end += scientific_exponent(&rest[end..]);
        let literal = Literal::parse(&rest[..end])?;
        self.pos += end;
        let whole = rest[..end].bytes().all(|b| b.is_ascii_digit());
        let literal = Expr::Number(literal);
        match self.mixed_fraction().filter(|_| whole) {
            Some(fraction) => Some(Expr::Sum(vec![literal, fraction])),
            None => Some(literal),
        }
    }

    /// `3\frac{1}{8}` is the mixed number 3 + 1/8 (as MATH writes them), not 3 · 1/8: a whole
    /// number followed directly by a fraction of whole numbers.
    fn mixed_fraction(&mut self) -> Option<Expr> {
        let rest = self.rest().strip_prefix("\\frac{")?;
        let (numerator, rest) = rest.split_once("}{")?;
        let (denominator, _) = rest.split_once('}')?;
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(numerator) || !digits(denominator) {
            return None;
        }
        self.pos += "\\frac{}{}".len() + numerator.len() + denominator.len();
        let (numerator, denominator) = (Literal::parse(numerator)?, Literal::parse(denominator)?);
        Some(Expr::Quotient(
            Box::new(Expr::Number(numerator)),
            Box::new(Expr::Number(denominator)),
        ))
    }

    /// One letter (two letters in a row are a product), with its subscript and primes. A run of
    /// three or more letters is a word, not an expression.
    fn symbol(&mut self) -> Option<Expr> {
        let rest = self.rest();
        let run = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        if run >= 3 {
            return None;
        }
        let start = self.pos;
        self.pos += 1;
        let subscripted = self.subscript()?;
        while self.eat("'") {}
        let name = &self.text[start..self.pos];
        if name == "e" {
            return Some(Expr::Constant(Constant::E));
        }
        Some(Expr::Symbol(canonical_name(name, subscripted)))
    }

    /// Skips a subscript (`_1`, `_{12}`); whether there was one.
    fn subscript(&mut self) -> Option<bool> {
        self.skip_script("_")
    }

    /// Skips `marker` and the braced group or one character after it; whether there was one.
    fn skip_script(&mut self, marker: &str) -> Option<bool> {
        if !self.eat(marker) {
            return Some(false);
        }
        let length = if self.rest().starts_with('{') {
            super::normalize::matching_close(self.rest().as_bytes(), 0)? + 1
        } else {
            self.rest().chars().next()?.len_utf8()
        };
        self.pos += length;
        Some(true)
    }

    fn command(&mut self) -> Option<Expr> {
        let name = self.peek_command()?;
        self.pos += 1 + name.len();
        match name {
            "frac" => {
                let numerator = self.braced()?;
                let denominator = self.braced()?;
                Some(Expr::Quotient(Box::new(numerator), Box::new(denominator)))
            }
            "sqrt" => {
                let index = if self.eat("[") {
                    let index = self.sum()?;
                    self.expect("]")?;
                    index
                } else {
                    Expr::Number(Literal::integer(2))
                };
                let radicand = self.braced()?;
                Some(Expr::Root(Box::new(index), Box::new(radicand)))
            }
            "pi" => Some(Expr::Constant(Constant::Pi)),
            "infty" => Some(Expr::Constant(Constant::Infinity)),
            "begin" => self.matrix(),
            "sum" | "prod" => self.opaque_operator(name),
            _ if GREEK.contains(&name) => {
                let start = self.pos - name.len() - 1;
                let subscripted = self.subscript()?;
                Some(Expr::Symbol(canonical_name(
                    &self.text[start..self.pos],
                    subscripted,
                )))
            }
            _ => {
                let (_, function) = FUNCTIONS.iter().find(|(n, _)| *n == name)?;
                self.function(*function)
            }
        }
    }

    /// `\sin x`, `\sin^2(y)`, `\log_2 8`, `\sin^{-1}x`.
    fn function(&mut self, function: Function) -> Option<Expr> {
        let base = if function == Function::Ln && self.eat("_") {
            Some(self.exponent()?)
        } else {
            None
        };
        let mut function = function;
        let mut power = None;
        if self.eat("^") {
            let exponent = self.exponent()?;
            let inverse = match (function, &exponent) {
                (Function::Sin, Expr::Negate(one))
                    if **one == Expr::Number(Literal::integer(1)) =>
                {
                    Some(Function::Asin)
                }
                (Function::Cos, Expr::Negate(one))
                    if **one == Expr::Number(Literal::integer(1)) =>
                {
                    Some(Function::Acos)
                }
                (Function::Tan, Expr::Negate(one))
                    if **one == Expr::Number(Literal::integer(1)) =>
                {
                    Some(Function::Atan)
                }
                _ => None,
            };
            match inverse {
                Some(inverse) => function = inverse,
                None => power = Some(exponent),
            }
        }
        let argument = self.function_argument()?;
        let mut applied = Expr::Apply(function, Box::new(argument));
        if let Some(base) = base {
            let log_base = Expr::Apply(Function::Ln, Box::new(base));
            applied = Expr::Quotient(Box::new(applied), Box::new(log_base));
        }
        Some(match power {
            Some(power) => Expr::Power(Box::new(applied), Box::new(power)),
            None => applied,
        })
    }

    /// A function's argument: a bracketed group, or the factors written after it (`\sin 2x`).
    fn function_argument(&mut self) -> Option<Expr> {
        if self.peek() == Some(b'(') {
            return self.power();
        }
        let mut factors = vec![self.power()?];
        while self.starts_factor() && self.peek() != Some(b'\\') {
            factors.push(self.power()?);
        }
        Some(one_or_many(factors, Expr::Product))
    }

    /// `\sum_{k=0}^{n-1} body`: kept whole, tagged by the operator and its bounds as written.
    fn opaque_operator(&mut self, name: &str) -> Option<Expr> {
        let start = self.pos;
        self.skip_script("_")?;
        self.skip_script("^")?;
        let tag =
            crate::hash::stable_hash(name) ^ crate::hash::stable_hash(&self.text[start..self.pos]);
        let body = self.term()?;
        Some(Expr::Opaque {
            tag,
            body: Box::new(body),
        })
    }

    /// `\begin{pmatrix} a & b \\ c & d \end{pmatrix}` (any matrix environment, or `array` with
    /// its column specification).
    fn matrix(&mut self) -> Option<Expr> {
        self.expect("{")?;
        let close = self.rest().find('}')?;
        let environment = &self.rest()[..close];
        if !environment.ends_with("matrix") && environment != "array" {
            return None;
        }
        self.pos += close + 1;
        if environment == "array" && self.eat("{") {
            self.pos += self.rest().find('}')? + 1;
        }
        let mut rows: Vec<Vec<Expr>> = vec![Vec::new()];
        loop {
            if self.eat("\\end{") {
                self.pos += self.rest().find('}')? + 1;
                break;
            }
            rows.last_mut()?.push(self.sum()?);
            if self.eat("\\\\") {
                if !self.rest().starts_with("\\end{") {
                    rows.push(Vec::new());
                }
            } else if !self.eat("&") && !self.rest().starts_with("\\end{") {
                return None;
            }
        }
        let columns = rows.first()?.len();
        if columns == 0 || rows.iter().any(|row| row.len() != columns) {
            return None;
        }
        Some(Expr::Matrix {
            columns,
            cells: rows.into_iter().flatten().collect(),
        })
    }
}

/// The length of a scientific exponent at the start of `rest` (`e5`, `E-3` after a number's
/// digits), 0 when there is none: `2e^{x}` and `2e` are products with Euler's number.
fn scientific_exponent(rest: &str) -> usize {
    let bytes = rest.as_bytes();
    if !matches!(bytes.first(), Some(b'e' | b'E')) {
        return 0;
    }
    let sign = usize::from(matches!(bytes.get(1), Some(b'+' | b'-')));
    let digits = bytes[1 + sign..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let glued_letter = bytes
        .get(1 + sign + digits)
        .is_some_and(u8::is_ascii_alphabetic);
    if digits == 0 || glued_letter {
        0
    } else {
        1 + sign + digits
    }
}

/// The one item alone, or several combined by `combine` (a sum, a product).
fn one_or_many(mut items: Vec<Expr>, combine: fn(Vec<Expr>) -> Expr) -> Expr {
    match items.len() {
        1 => items.pop().expect("one item"),
        _ => combine(items),
    }
}

fn is_known_command(name: &str) -> bool {
    matches!(
        name,
        "frac" | "sqrt" | "pi" | "infty" | "begin" | "sum" | "prod"
    ) || GREEK.contains(&name)
        || NOT_A_FACTOR.contains(&name)
        || FUNCTIONS.iter().any(|(n, _)| *n == name)
}

/// `x_{1}` and `x_1` are one name.
fn canonical_name(name: &str, subscripted: bool) -> Box<str> {
    if subscripted {
        if let Some((head, sub)) = name.split_once("_{") {
            let inner = sub.strip_suffix('}').unwrap_or(sub);
            if inner.chars().count() == 1 {
                return format!("{head}_{inner}").into();
            }
        }
    }
    name.into()
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Number(x) => write!(f, "{}", x.value),
            Expr::Symbol(name) => f.write_str(name),
            Expr::Constant(Constant::Pi) => f.write_str("π"),
            Expr::Constant(Constant::E) => f.write_str("e"),
            Expr::Constant(Constant::Infinity) => f.write_str("∞"),
            Expr::Sum(terms) => {
                f.write_str("(")?;
                for (i, term) in terms.iter().enumerate() {
                    match (i, term) {
                        (0, _) => write!(f, "{term}")?,
                        (_, Expr::Negate(inner)) => write!(f, " - {inner}")?,
                        _ => write!(f, " + {term}")?,
                    }
                }
                f.write_str(")")
            }
            Expr::Product(factors) => {
                for (i, factor) in factors.iter().enumerate() {
                    if i > 0 {
                        f.write_str("·")?;
                    }
                    write!(f, "{factor}")?;
                }
                Ok(())
            }
            Expr::Negate(e) => write!(f, "-{e}"),
            Expr::Quotient(a, b) => write!(f, "{a}/{b}"),
            Expr::Power(a, b) => write!(f, "{a}^{b}"),
            Expr::Root(n, x) if **n == Expr::Number(Literal::integer(2)) => write!(f, "sqrt({x})"),
            Expr::Root(n, x) => write!(f, "root[{n}]({x})"),
            Expr::Apply(function, x) => {
                write!(f, "{}({x})", format!("{function:?}").to_lowercase())
            }
            Expr::Factorial(e) => write!(f, "{e}!"),
            Expr::Matrix { columns, cells } => {
                f.write_str("[")?;
                for (r, row) in cells.chunks(*columns).enumerate() {
                    if r > 0 {
                        f.write_str("; ")?;
                    }
                    for (c, cell) in row.iter().enumerate() {
                        if c > 0 {
                            f.write_str(", ")?;
                        }
                        write!(f, "{cell}")?;
                    }
                }
                f.write_str("]")
            }
            Expr::Opaque { tag, body } => write!(f, "op#{:x}({body})", tag & 0xffff),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::identity::{equivalent, proportional, Value};
    use super::*;

    impl Expr {
        /// A whole expression with no relation; `None` when it is not one.
        fn parse(text: &str) -> Option<Expr> {
            let (sides, ops) = parse_relation(text)?;
            match (sides.len(), ops.is_empty()) {
                (1, true) => sides.into_iter().next(),
                _ => None,
            }
        }
    }

    fn same(a: &str, b: &str) -> bool {
        let (a, b) = (Expr::parse(a), Expr::parse(b));
        equivalent(a.as_ref().unwrap(), b.as_ref().unwrap())
    }

    #[test]
    fn identities_hold() {
        for (a, b) in [
            ("\\frac{x}{7}+\\frac{2}{7}", "\\frac{x+2}{7}"),
            ("\\sec^2(y)", "\\tan^2(y)+1"),
            ("\\sqrt{17}", "4.123105625617661"),
            ("\\frac{10\\sqrt{10.5}}{27}", "\\frac{5\\sqrt{42}}{27}"),
            ("2\\sqrt{33}+15", "15+2\\sqrt{33}"),
            ("9+1", "10"),
            ("\\frac{1}{3x^{2/3}}", "\\frac{1}{3\\sqrt[3]{x}^2}"),
            ("-2(x-1)^2+5", "-2x^{2}+4x+3"),
            ("\\sinx\\cdot2", "2\\sin(x)"),
            ("\\log_{2}8", "3"),
            ("5!", "120"),
            ("|-3|", "3"),
            ("e^{\\ln2}", "2"),
            ("\\sin^{-1}(1)", "\\frac{\\pi}{2}"),
            (
                "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}+\\begin{pmatrix}5&6\\\\7&8\\end{pmatrix}",
                "\\begin{pmatrix}6&8\\\\10&12\\end{pmatrix}",
            ),
            (
                "\\begin{pmatrix}0&1\\\\1&0\\end{pmatrix}\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",
                "\\begin{pmatrix}3&4\\\\1&2\\end{pmatrix}",
            ),
            ("x_{1}+y", "y+x_1"),
            // Scientific notation, in either spelling.
            ("1.5e3", "1500"),
            ("2.5E-2", "\\frac{1}{40}"),
            ("1.5\\times10^{3}", "1500"),
            ("2e^{x}", "2\\cdote^{x}"),
            // Mixed numbers.
            ("3\\frac{1}{8}", "\\frac{25}{8}"),
            ("2\\frac{\\pi}{3}", "\\frac{2\\pi}{3}"),
        ] {
            assert!(same(a, b), "{a} should equal {b}");
        }
    }

    #[test]
    fn non_identities_fail() {
        for (a, b) in [
            ("x", "y"),
            ("x^2", "2x"),
            ("\\frac{1}{3}", "0.333"),
            ("\\sqrt{2}", "1.414"),
            ("2^{100}", "2^{99}"),
            ("\\sin(x)", "\\cos(x)"),
            (
                "\\begin{pmatrix}1&2\\end{pmatrix}",
                "\\begin{pmatrix}1\\\\2\\end{pmatrix}",
            ),
            ("\\sqrt{x}^2", "-x"),
            ("2e", "2"),
            ("3e2", "3e"),
            ("4", "\\infty"),
            ("3\\frac{1}{8}", "\\frac{3}{8}"),
            ("1\\frac{12}{13}", "\\frac{12}{13}"),
            ("-\\infty", "\\infty"),
        ] {
            assert!(!same(a, b), "{a} should differ from {b}");
        }
    }

    #[test]
    fn words_and_unknown_commands_are_not_expressions() {
        for text in [
            "Monday",
            "xyz",
            "\\foo{1}",
            "(1,2)",
            "1+",
            "((x)",
            "\\frac{1}",
            "",
        ] {
            assert!(Expr::parse(text).is_none(), "{text}");
        }
    }

    #[test]
    fn relations_are_proportional_normal_forms() {
        let diff = |text: &str| {
            let (sides, _) = parse_relation(text).unwrap();
            Expr::Sum(vec![
                sides[0].clone(),
                Expr::Negate(Box::new(sides[1].clone())),
            ])
        };
        assert!(proportional(
            &diff("2x+4y-3=0"),
            &diff("y=-\\frac{1}{2}x+\\frac{3}{4}"),
            false
        ));
        assert!(proportional(
            &diff("x^2/16+y^2/12=1/4"),
            &diff("x^2/4+y^2/3=1"),
            true
        ));
        assert!(!proportional(&diff("x=1"), &diff("x=2"), false));
    }

    #[test]
    fn bounds_hold_on_adversarial_input() {
        let deep = "(".repeat(10_000) + "x" + &")".repeat(10_000);
        assert!(Expr::parse(&deep).is_none());
        // 1,501 terms are more nodes than an answer may have.
        let wide = "x+".repeat(1_500) + "x";
        assert!(Expr::parse(&wide).is_none());
        assert!(Expr::parse(&"x+".repeat(100)[..199]).is_some());
        let huge = "9".repeat(100_000);
        assert!(Expr::parse(&huge).is_none());
        let overflow = Expr::parse("10^{10^{10}}").unwrap();
        assert!(matches!(overflow.eval(0), Value::Scalar(x) if x.is_nan()));
    }
}
