//! Equivalence of expressions by the identity test: two expressions are equal when they evaluate
//! to the same value at every one of [`POINTS`] fixed pseudo-random points where both are defined
//! (each symbol's value drawn from a hash of its name and the point, so both sides see the same
//! values), and relations by proportional normal forms.

use super::expr::{Constant, Expr, Function};
// Relative difference under which two values are the same: the one plain numbers use.
use super::number::{within_tolerance, Rational};

/// Points at which expressions with free symbols are compared.
pub const POINTS: u32 = 16;
/// Points where both sides must be defined before they count as equal.
const MIN_DEFINED_POINTS: u32 = 3;
/// What floating point leaves of a cancelled identity (`\sin\pi` is 1.2e-16): a value this
/// close to zero equals zero (and only zero: elsewhere the tolerance is relative).
const ABSOLUTE_TOLERANCE: f64 = 1e-14;
/// The most bits an exact value may grow to (`2^{10^9}` is evaluated in floats, not exactly).
const MAX_EXACT_BITS: u64 = 1 << 16;

/// A value at one point: a number or a matrix. NaN stands for "undefined here".
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar(f64),
    Matrix { columns: usize, cells: Vec<f64> },
}

const UNDEFINED: Value = Value::Scalar(f64::NAN);

/// A result that overflowed from finite operands is undefined, not infinite: only `\infty`
/// itself is infinite.
fn guarded(result: f64, operands: &[f64]) -> f64 {
    if result.is_infinite() && operands.iter().all(|x| x.is_finite()) {
        f64::NAN
    } else {
        result
    }
}

/// The value of symbol `name` at point `point`: in ±[0.5, 3.0], the sign and magnitude drawn
/// from a hash of the name and the point, so both sides of a comparison see the same values.
fn symbol_value(name: &str, point: u32) -> f64 {
    let mut h =
        crate::hash::stable_hash(name) ^ (u64::from(point) + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    // SplitMix64's finalizer spreads the bits.
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    let unit = (h >> 11) as f64 / (1u64 << 53) as f64;
    let magnitude = 0.5 + 2.5 * unit;
    if h & 1 == 0 {
        magnitude
    } else {
        -magnitude
    }
}

impl Expr {
    /// The value at point `point` (see [`symbol_value`]).
    pub fn eval(&self, point: u32) -> Value {
        match self {
            Expr::Number(x) => Value::Scalar(x.value),
            Expr::Symbol(name) => Value::Scalar(symbol_value(name, point)),
            Expr::Constant(Constant::Pi) => Value::Scalar(std::f64::consts::PI),
            Expr::Constant(Constant::E) => Value::Scalar(std::f64::consts::E),
            Expr::Constant(Constant::Infinity) => Value::Scalar(f64::INFINITY),
            Expr::Sum(terms) => terms
                .iter()
                .map(|t| t.eval(point))
                .reduce(add)
                .unwrap_or(UNDEFINED),
            Expr::Product(factors) => factors
                .iter()
                .map(|f| f.eval(point))
                .reduce(multiply)
                .unwrap_or(UNDEFINED),
            Expr::Negate(e) => map_cells(e.eval(point), |x| -x),
            Expr::Quotient(a, b) => match (a.eval(point), b.eval(point)) {
                (a, Value::Scalar(d)) if d != 0.0 => map_cells(a, |x| guarded(x / d, &[x, d])),
                _ => UNDEFINED,
            },
            Expr::Power(base, exponent) => match (base.eval(point), exponent.eval(point)) {
                (Value::Scalar(b), Value::Scalar(e)) => Value::Scalar(power(b, e)),
                _ => UNDEFINED,
            },
            Expr::Root(index, radicand) => match (index.eval(point), radicand.eval(point)) {
                (Value::Scalar(n), Value::Scalar(x)) => Value::Scalar(root(n, x)),
                _ => UNDEFINED,
            },
            Expr::Apply(function, argument) => match argument.eval(point) {
                Value::Scalar(x) => Value::Scalar(apply(*function, x)),
                Value::Matrix { .. } => UNDEFINED,
            },
            Expr::Factorial(e) => match e.eval(point) {
                Value::Scalar(n) => Value::Scalar(factorial(n)),
                Value::Matrix { .. } => UNDEFINED,
            },
            Expr::Matrix { columns, cells } => {
                let mut values = Vec::with_capacity(cells.len());
                for cell in cells {
                    match cell.eval(point) {
                        Value::Scalar(x) => values.push(x),
                        Value::Matrix { .. } => return UNDEFINED,
                    }
                }
                Value::Matrix {
                    columns: *columns,
                    cells: values,
                }
            }
            Expr::Opaque { tag, body } => {
                // An injective stand-in for the operator: same tag and body, same value.
                let scale = 1.0 + (tag % 1_000) as f64 / 1_000.0;
                let shift = (tag >> 10) % 1_000;
                map_cells(body.eval(point), |x| x * scale + shift as f64)
            }
        }
    }
}

fn map_cells(value: Value, f: impl Fn(f64) -> f64) -> Value {
    match value {
        Value::Scalar(x) => Value::Scalar(f(x)),
        Value::Matrix { columns, cells } => Value::Matrix {
            columns,
            cells: cells.into_iter().map(f).collect(),
        },
    }
}

fn add(a: Value, b: Value) -> Value {
    match (a, b) {
        (Value::Scalar(x), Value::Scalar(y)) => Value::Scalar(guarded(x + y, &[x, y])),
        (
            Value::Matrix { columns, cells },
            Value::Matrix {
                columns: other_columns,
                cells: other,
            },
        ) if columns == other_columns && cells.len() == other.len() => Value::Matrix {
            columns,
            cells: cells.iter().zip(&other).map(|(x, y)| x + y).collect(),
        },
        _ => UNDEFINED,
    }
}

fn multiply(a: Value, b: Value) -> Value {
    match (a, b) {
        (Value::Scalar(x), Value::Scalar(y)) => Value::Scalar(guarded(x * y, &[x, y])),
        (Value::Scalar(k), m @ Value::Matrix { .. })
        | (m @ Value::Matrix { .. }, Value::Scalar(k)) => map_cells(m, |x| k * x),
        (
            Value::Matrix { columns, cells },
            Value::Matrix {
                columns: right_columns,
                cells: right,
            },
        ) => {
            let rows = cells.len() / columns;
            let right_rows = right.len() / right_columns;
            if columns != right_rows {
                return UNDEFINED;
            }
            let mut product = vec![0.0; rows * right_columns];
            for i in 0..rows {
                for j in 0..right_columns {
                    product[i * right_columns + j] = (0..columns)
                        .map(|k| cells[i * columns + k] * right[k * right_columns + j])
                        .sum();
                }
            }
            Value::Matrix {
                columns: right_columns,
                cells: product,
            }
        }
    }
}

fn power(base: f64, exponent: f64) -> f64 {
    if base == 0.0 && exponent <= 0.0 {
        return f64::NAN;
    }
    if base < 0.0 && exponent.fract() != 0.0 {
        return guarded(odd_root_power(base, exponent), &[base, exponent]);
    }
    guarded(base.powf(exponent), &[base, exponent])
}

/// A negative base to a fraction p/q with q odd is real, as the q-th root is
/// (`x^{2/3}` = `\sqrt[3]{x}^2`); with q even, or no small q, it is undefined.
fn odd_root_power(base: f64, exponent: f64) -> f64 {
    for q in [3.0, 5.0, 7.0, 9.0] {
        let p = (exponent * q).round();
        if (exponent * q - p).abs() <= 1e-9 {
            let magnitude = (-base).powf(exponent);
            return if p % 2.0 == 0.0 {
                magnitude
            } else {
                -magnitude
            };
        }
    }
    f64::NAN
}

/// The real `n`-th root: odd roots of negative numbers are negative.
fn root(n: f64, x: f64) -> f64 {
    if n == 2.0 {
        return x.sqrt();
    }
    if n.fract() != 0.0 || n < 1.0 {
        return power(x, 1.0 / n);
    }
    if x < 0.0 && n % 2.0 == 1.0 {
        -(-x).powf(1.0 / n)
    } else {
        x.powf(1.0 / n)
    }
}

fn apply(function: Function, x: f64) -> f64 {
    let value = match function {
        Function::Sin => x.sin(),
        Function::Cos => x.cos(),
        Function::Tan => x.tan(),
        Function::Sec => 1.0 / x.cos(),
        Function::Csc => 1.0 / x.sin(),
        Function::Cot => 1.0 / x.tan(),
        Function::Asin => x.asin(),
        Function::Acos => x.acos(),
        Function::Atan => x.atan(),
        Function::Sinh => x.sinh(),
        Function::Cosh => x.cosh(),
        Function::Tanh => x.tanh(),
        Function::Ln if x > 0.0 => x.ln(),
        Function::Ln => f64::NAN,
        Function::Exp => x.exp(),
        Function::Abs => x.abs(),
    };
    guarded(value, &[x])
}

/// `n!` for whole numbers up to 170 (beyond, f64 overflows).
fn factorial(n: f64) -> f64 {
    if n.fract() != 0.0 || !(0.0..=170.0).contains(&n) {
        return f64::NAN;
    }
    (1..=n as u32).map(f64::from).product()
}

/// How two values compare at one point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Agreement {
    Same,
    Different,
    /// Either side is undefined there (a pole, a root of a negative, an overflow).
    Undefined,
}

/// Defined on one side only is a difference (`|x|` is not `x\sqrt{x}/\sqrt{x}`, which is
/// undefined for negative x); undefined on both is no evidence either way.
fn close(a: f64, b: f64) -> Agreement {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => return Agreement::Undefined,
        (true, false) | (false, true) => return Agreement::Different,
        (false, false) => {}
    }
    if a.is_infinite() || b.is_infinite() {
        // The tolerance scales with the magnitude: against an infinity it would admit anything.
        return if a == b {
            Agreement::Same
        } else {
            Agreement::Different
        };
    }
    let near_zero = |x: f64, other: f64| other == 0.0 && x.abs() <= ABSOLUTE_TOLERANCE;
    if within_tolerance(a, b) || near_zero(a, b) || near_zero(b, a) {
        Agreement::Same
    } else {
        Agreement::Different
    }
}

fn agree(a: &Value, b: &Value) -> Agreement {
    match (a, b) {
        (Value::Scalar(x), Value::Scalar(y)) => close(*x, *y),
        (
            Value::Matrix { columns, cells },
            Value::Matrix {
                columns: other_columns,
                cells: other,
            },
        ) => {
            if columns != other_columns || cells.len() != other.len() {
                return Agreement::Different;
            }
            let mut result = Agreement::Same;
            for (x, y) in cells.iter().zip(other) {
                match close(*x, *y) {
                    Agreement::Different => return Agreement::Different,
                    Agreement::Undefined => result = Agreement::Undefined,
                    Agreement::Same => {}
                }
            }
            result
        }
        _ => Agreement::Different,
    }
}

/// Whether two expressions are the same function of their symbols: equal at every point where
/// both are defined, with at least [`MIN_DEFINED_POINTS`] such points (one for constants).
pub fn equivalent(a: &Expr, b: &Expr) -> bool {
    // Complex numbers (`i` the only symbol) compare by value with i² = -1.
    if let Some(same) = super::complex::same_value(a, b) {
        return same;
    }
    let constant = !a.has_symbols() && !b.has_symbols();
    if constant {
        // Exact values compare exactly: 2^{32} is not 4294967295, 10^{-20} is not 3·10^{-20}.
        if let (Some(x), Some(y)) = (exact(a), exact(b)) {
            return x == y;
        }
    }
    let points = if constant { 1 } else { POINTS };
    let needed = if constant { 1 } else { MIN_DEFINED_POINTS };
    let mut defined = 0;
    for point in 0..points {
        match agree(&a.eval(point), &b.eval(point)) {
            Agreement::Same => defined += 1,
            Agreement::Different => return false,
            Agreement::Undefined => {}
        }
    }
    defined >= needed
}

/// The exact value of a constant expression: exact literals under sums, products, negation,
/// quotients, integer powers and factorials. `None` where a part is not rational (π, a root, a
/// function), is undefined, or would grow past [`MAX_EXACT_BITS`].
fn exact(e: &Expr) -> Option<Rational> {
    let bounded = |value: Rational| (value.bits() <= MAX_EXACT_BITS).then_some(value);
    match e {
        Expr::Number(literal) => literal.exact.clone(),
        Expr::Sum(terms) => terms
            .iter()
            .try_fold(Rational::integer(0), |sum, t| bounded(sum.add(&exact(t)?))),
        Expr::Product(factors) => factors.iter().try_fold(Rational::integer(1), |product, f| {
            bounded(product.mul(&exact(f)?))
        }),
        Expr::Negate(inner) => exact(inner).map(|x| x.neg()),
        Expr::Quotient(a, b) => bounded(exact(a)?.checked_div(&exact(b)?)?),
        Expr::Power(base, exponent) => {
            let power = i32::try_from(exact(exponent)?.to_integer()?).ok()?;
            exact(base)?.pow(power, MAX_EXACT_BITS)
        }
        Expr::Factorial(n) => {
            let n = u32::try_from(exact(n)?.to_integer()?)
                .ok()
                .filter(|n| *n <= 170)?;
            Some((2..=n).fold(Rational::integer(1), |f, k| {
                f.mul(&Rational::integer(k.into()))
            }))
        }
        _ => None,
    }
}

/// Whether `a = c·b` for one constant `c` (positive when `positive`) at every point where both
/// are defined and not both zero: the test for relations in normal form `a op 0`.
pub fn proportional(a: &Expr, b: &Expr, positive: bool) -> bool {
    let mut ratio: Option<f64> = None;
    let mut defined = 0;
    for point in 0..POINTS {
        let (Value::Scalar(x), Value::Scalar(y)) = (a.eval(point), b.eval(point)) else {
            return false;
        };
        if x.is_nan() || y.is_nan() || x.is_infinite() || y.is_infinite() {
            continue;
        }
        let (x_zero, y_zero) = (
            x.abs() <= ABSOLUTE_TOLERANCE * 1e3,
            y.abs() <= ABSOLUTE_TOLERANCE * 1e3,
        );
        match (x_zero, y_zero) {
            (true, true) => continue,
            (true, false) | (false, true) => return false,
            (false, false) => {}
        }
        let r = x / y;
        if positive && r < 0.0 {
            return false;
        }
        match ratio {
            None => ratio = Some(r),
            Some(first) if close(first, r) != Agreement::Same => return false,
            Some(_) => {}
        }
        defined += 1;
    }
    defined >= MIN_DEFINED_POINTS
}
