//! The typed answer tree: a normalized answer read as lists, sets, tuples, intervals, unions,
//! relations and expressions, and equivalence decided on that tree.
//!
//! Order rules: tuples and intervals keep their order and brackets; sets (`\{...\}`) and bare lists
//! (the solutions of an equation, `2, -3`) match element for element in any order, repeats
//! ignored; a bare list also matches a parenthesized tuple of the same elements in the same order
//! (`1, 3` written without its parentheses). Relations compare by normal form: `a op b` as
//! `a - b op 0` with `<`/`≤` turned into `>`/`≥`, equal when the two differences are proportional
//! (by a positive constant for inequalities). An equation `y = f` answers `f`.

use std::fmt;

use super::expr::{self, Expr, RelOp};
use super::identity;

/// The most elements matched without order (each pair is compared: quadratic).
const MAX_UNORDERED: usize = 64;
/// The deepest nesting of lists, sets and tuples read.
const MAX_DEPTH: usize = 8;

#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Expr(Expr),
    Relation {
        sides: Vec<Expr>,
        ops: Vec<RelOp>,
    },
    /// Tuples and intervals: `(1, 2)`, `[0, 1)`.
    Bracketed {
        open: char,
        close: char,
        items: Vec<Answer>,
    },
    Set(Vec<Answer>),
    List(Vec<Answer>),
    Union(Vec<Answer>),
    /// Anything else, compared as text.
    Text(String),
}

impl Answer {
    /// Reads a normalized answer. Never fails: what is not mathematics is [`Answer::Text`].
    pub fn parse(normalized: &str) -> Answer {
        parse_at(normalized, 0)
    }
}

fn parse_at(s: &str, depth: usize) -> Answer {
    if s.len() > expr::MAX_LEN || depth >= MAX_DEPTH {
        return Answer::Text(s.to_owned());
    }
    let items = |inner: &str, separator: &str| -> Vec<Answer> {
        split_top(inner, separator)
            .into_iter()
            .map(|item| parse_at(item, depth + 1))
            .collect()
    };
    let union = split_top(s, "\\cup");
    if union.len() > 1 {
        return Answer::Union(items(s, "\\cup"));
    }
    if let Some(inner) = s.strip_prefix("\\{").and_then(|r| r.strip_suffix("\\}")) {
        if super::brackets::balanced(inner) {
            return Answer::Set(items(inner, list_separator(inner)));
        }
    }
    if let Some((open, inner, close)) = super::enclosed(s) {
        let separator = list_separator(inner);
        if split_top(inner, separator).len() > 1 {
            return Answer::Bracketed {
                open,
                close,
                items: items(inner, separator),
            };
        }
    }
    let separator = list_separator(s);
    if split_top(s, separator).len() > 1 {
        return Answer::List(items(s, separator));
    }
    match expr::parse_relation(s) {
        Some((mut sides, ops)) if ops.is_empty() => Answer::Expr(sides.remove(0)),
        Some((sides, ops)) => Answer::Relation { sides, ops },
        None => Answer::Text(s.to_owned()),
    }
}

/// Commas separate elements; semicolons do where there is no comma (`(0;-2;6)`, `-12;-11`).
fn list_separator(s: &str) -> &'static str {
    if split_top(s, ",").len() > 1 {
        ","
    } else {
        ";"
    }
}

/// Splits at `separator` outside brackets.
fn split_top<'a>(s: &'a str, separator: &str) -> Vec<&'a str> {
    super::brackets::split_outside(s, &[separator])
}

/// Whether two answer trees state the same answer (the module's rules).
pub fn same(a: &Answer, b: &Answer) -> bool {
    use Answer::*;
    match (a, b) {
        (Expr(x), Expr(y)) => identity::equivalent(x, y),
        (Relation { sides, ops }, Relation { sides: s, ops: o }) => same_relation(sides, ops, s, o),
        (Relation { sides, ops }, Expr(value)) | (Expr(value), Relation { sides, ops }) => {
            defined_value(sides, ops).is_some_and(|v| identity::equivalent(v, value))
        }
        (
            Bracketed { open, close, items },
            Bracketed {
                open: o,
                close: c,
                items: other,
            },
        ) => open == o && close == c && same_in_order(items, other),
        (Set(x) | List(x), Set(y) | List(y)) | (Union(x), Union(y)) => same_in_any_order(x, y),
        (
            List(x),
            Bracketed {
                open: '(',
                close: ')',
                items,
            },
        )
        | (
            Bracketed {
                open: '(',
                close: ')',
                items,
            },
            List(x),
        ) => same_in_order(x, items),
        // A vector written as a one-column (or one-row) matrix is the tuple of its entries:
        // `\begin{pmatrix}1\\2\end{pmatrix}` is `(1, 2)` and `[1, 2]`.
        (Expr(expr::Expr::Matrix { columns, cells }), Bracketed { items, .. } | List(items))
        | (Bracketed { items, .. } | List(items), Expr(expr::Expr::Matrix { columns, cells }))
            if (*columns == 1 || *columns == cells.len()) && cells.len() == items.len() =>
        {
            cells
                .iter()
                .zip(items)
                .all(|(cell, item)| same(&Expr(cell.clone()), item))
        }
        (Text(x), Text(y)) => x == y,
        _ => false,
    }
}

fn same_in_order(a: &[Answer], b: &[Answer]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
}

/// Every element of each side matches one of the other's.
fn same_in_any_order(a: &[Answer], b: &[Answer]) -> bool {
    if a.len() > MAX_UNORDERED || b.len() > MAX_UNORDERED {
        return false;
    }
    let covered =
        |from: &[Answer], to: &[Answer]| from.iter().all(|x| to.iter().any(|y| same(x, y)));
    covered(a, b) && covered(b, a)
}

/// `y = f`, a symbol alone on the left of one `=`: the value `f`.
fn defined_value<'a>(sides: &'a [Expr], ops: &[RelOp]) -> Option<&'a Expr> {
    match (sides, ops) {
        ([Expr::Symbol(_), value], [RelOp::Eq]) => Some(value),
        _ => None,
    }
}

fn same_relation(a: &[Expr], a_ops: &[RelOp], b: &[Expr], b_ops: &[RelOp]) -> bool {
    match (a, a_ops, b, b_ops) {
        ([a_left, a_right], [a_op], [b_left, b_right], [b_op]) => {
            let (a_op, a_diff) = normal_form(a_left, *a_op, a_right);
            let (b_op, b_diff) = normal_form(b_left, *b_op, b_right);
            a_op == b_op
                && identity::proportional(&a_diff, &b_diff, !matches!(a_op, RelOp::Eq | RelOp::Neq))
        }
        _ => {
            // Chains: the same operators between equivalent sides, read either way round.
            let forward = a_ops == b_ops && a.len() == b.len();
            let backward = a_ops.len() == b_ops.len()
                && a_ops
                    .iter()
                    .rev()
                    .zip(b_ops)
                    .all(|(x, y)| x.flipped() == *y);
            let sides_match = |reversed: bool| {
                a.len() == b.len()
                    && (0..a.len()).all(|i| {
                        let j = if reversed { a.len() - 1 - i } else { i };
                        identity::equivalent(&a[j], &b[i])
                    })
            };
            (forward && sides_match(false)) || (backward && sides_match(true))
        }
    }
}

/// `left op right` as `difference op' 0` with `op'` one of `=`, `≠`, `>`, `≥`.
fn normal_form(left: &Expr, op: RelOp, right: &Expr) -> (RelOp, Expr) {
    let difference =
        |a: &Expr, b: &Expr| Expr::Sum(vec![a.clone(), Expr::Negate(Box::new(b.clone()))]);
    match op {
        RelOp::Lt | RelOp::Leq => (op.flipped(), difference(right, left)),
        _ => (op, difference(left, right)),
    }
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, items: &[Answer], separator: &str| {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(separator)?;
                }
                write!(f, "{item}")?;
            }
            Ok(())
        };
        match self {
            Answer::Expr(e) => write!(f, "{e}"),
            Answer::Relation { sides, ops } => {
                write!(f, "{}", sides[0])?;
                for (op, side) in ops.iter().zip(&sides[1..]) {
                    write!(f, " {op} {side}")?;
                }
                Ok(())
            }
            Answer::Bracketed { open, close, items } => {
                write!(f, "{open}")?;
                join(f, items, ", ")?;
                write!(f, "{close}")
            }
            Answer::Set(items) => {
                f.write_str("set{")?;
                join(f, items, ", ")?;
                f.write_str("}")
            }
            Answer::List(items) => {
                f.write_str("list[")?;
                join(f, items, ", ")?;
                f.write_str("]")
            }
            Answer::Union(items) => join(f, items, " ∪ "),
            Answer::Text(text) => write!(f, "text {text:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn equal(a: &str, b: &str) -> bool {
        same(&Answer::parse(a), &Answer::parse(b))
    }

    #[test]
    fn structures_match_by_their_rules() {
        for (a, b) in [
            (
                "(3,37,3,13),(3,17,3,7),(3,17,3,7)",
                "(3,17,3,7),(3,37,3,13)",
            ),
            ("(0;0;6),(4;-2;0)", "(4,-2,0),(0,0,6)"),
            ("-12;-11;-10", "\\{-10,-11,-12\\}"),
            ("1,3", "(1,3)"),
            ("-x>-1", "x<1"),
            ("-x\\geq-1", "x\\leq1"),
            ("-34x-45y+20z-100=0", "34x+45y-20z+100=0"),
            ("y=-\\frac{1}{2}x+\\frac{3}{4}", "2x+4y-3=0"),
            ("y=2x+1", "1+2x"),
            (
                "[-\\frac{3}{2},-1]\\cup[1,\\frac{3}{2}]",
                "[1,1.5]\\cup[-1.5,-1]",
            ),
            ("[0,\\infty)", "[0,\\infty)"),
            (
                "F_n=\\sum_{k=0}^{n-1}F_{n-k-1}F_k",
                "F_n=\\sum_{k=0}^{n-1}F_kF_{n-k-1}",
            ),
        ] {
            assert!(equal(a, b), "{a} should equal {b}");
        }
        for (a, b) in [
            ("(1,2)", "(2,1)"),
            ("[0,1)", "(0,1)"),
            ("[1,3]", "1,3"),
            ("(2,4)", "(2,\\infty)"),
            ("x<1", "x>1"),
            ("x<1", "x\\leq1"),
            ("2x<2", "-x<-1"),
            ("1,2", "1,2,3"),
            ("\\sum_{k=0}^{n}k", "\\sum_{k=1}^{n}k"),
        ] {
            assert!(!equal(a, b), "{a} should differ from {b}");
        }
    }

    #[test]
    fn display_shows_the_structure() {
        assert_eq!(Answer::parse("\\{1,x^2\\}").to_string(), "set{1, x^2}");
        assert_eq!(Answer::parse("(0,1]").to_string(), "(0, 1]");
        assert_eq!(Answer::parse("x\\leq3").to_string(), "x ≤ 3");
        assert_eq!(Answer::parse("Monday").to_string(), "text \"Monday\"");
    }
}
