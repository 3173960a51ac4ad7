//! Complex answers: an expression whose only symbol is `i` (`(1+i)^2`, `\frac{3-4i}{5}`) is a
//! complex number, compared by its value with `i² = -1` (`(1+i)^2` is `2i`).

use super::expr::{Constant, Expr};
use super::number::within_tolerance;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Complex {
    re: f64,
    im: f64,
}

impl Complex {
    fn real(re: f64) -> Self {
        Complex { re, im: 0.0 }
    }

    fn add(self, o: Complex) -> Self {
        Complex {
            re: self.re + o.re,
            im: self.im + o.im,
        }
    }

    fn mul(self, o: Complex) -> Self {
        Complex {
            re: self.re * o.re - self.im * o.im,
            im: self.re * o.im + self.im * o.re,
        }
    }

    fn div(self, o: Complex) -> Option<Self> {
        let norm = o.re * o.re + o.im * o.im;
        (norm != 0.0).then(|| Complex {
            re: (self.re * o.re + self.im * o.im) / norm,
            im: (self.im * o.re - self.re * o.im) / norm,
        })
    }

    /// `self^n` for a whole `n` (negative: the reciprocal's power), by repeated squaring.
    fn powi(self, n: i64) -> Option<Self> {
        if n.unsigned_abs() > 4096 {
            return None;
        }
        let (mut base, mut power, mut result) = (self, n.unsigned_abs(), Complex::real(1.0));
        while power > 0 {
            if power & 1 == 1 {
                result = result.mul(base);
            }
            base = base.mul(base);
            power >>= 1;
        }
        if n < 0 {
            Complex::real(1.0).div(result)
        } else {
            Some(result)
        }
    }
}

/// Whether `e` uses no symbol but `i` (noting in `uses_i` whether it uses that one).
fn only_i(e: &Expr, uses_i: &mut bool) -> bool {
    match e {
        Expr::Symbol(name) if &**name == "i" => {
            *uses_i = true;
            true
        }
        Expr::Symbol(_) | Expr::Apply(..) | Expr::Root(..) | Expr::Factorial(_) => false,
        Expr::Matrix { .. } | Expr::Opaque { .. } => false,
        Expr::Number(_) | Expr::Constant(_) => true,
        Expr::Sum(items) | Expr::Product(items) => items.iter().all(|item| only_i(item, uses_i)),
        Expr::Negate(inner) => only_i(inner, uses_i),
        Expr::Quotient(a, b) | Expr::Power(a, b) => only_i(a, uses_i) && only_i(b, uses_i),
    }
}

fn value(e: &Expr) -> Option<Complex> {
    match e {
        Expr::Number(literal) => Some(Complex::real(literal.value)),
        Expr::Symbol(_) => Some(Complex { re: 0.0, im: 1.0 }),
        Expr::Constant(Constant::Pi) => Some(Complex::real(std::f64::consts::PI)),
        Expr::Constant(Constant::E) => Some(Complex::real(std::f64::consts::E)),
        Expr::Constant(Constant::Infinity) => None,
        Expr::Sum(items) => items
            .iter()
            .try_fold(Complex::real(0.0), |sum, t| Some(sum.add(value(t)?))),
        Expr::Product(items) => items
            .iter()
            .try_fold(Complex::real(1.0), |p, f| Some(p.mul(value(f)?))),
        Expr::Negate(inner) => value(inner).map(|v| Complex {
            re: -v.re,
            im: -v.im,
        }),
        Expr::Quotient(a, b) => value(a)?.div(value(b)?),
        Expr::Power(base, exponent) => {
            let exponent = value(exponent)?;
            let whole = exponent.im == 0.0 && exponent.re.fract() == 0.0;
            whole
                .then(|| value(base)?.powi(exponent.re as i64))
                .flatten()
        }
        _ => None,
    }
}

/// Whether two expressions, at least one of them using the symbol `i` and neither using another
/// symbol, have the same complex value; `None` when they are not both such numbers.
pub fn same_value(a: &Expr, b: &Expr) -> Option<bool> {
    let mut uses_i = [false, false];
    let plain = only_i(a, &mut uses_i[0]) && only_i(b, &mut uses_i[1]);
    if !plain || !(uses_i[0] || uses_i[1]) {
        return None;
    }
    let (x, y) = (value(a)?, value(b)?);
    let finite = |c: Complex| c.re.is_finite() && c.im.is_finite();
    if !finite(x) || !finite(y) {
        return None;
    }
    // Each part within the tolerance of the larger magnitude (a part that is float noise
    // beside the other is zero).
    let scale = x.re.abs().max(x.im.abs()).max(y.re.abs()).max(y.im.abs());
    let close = |p: f64, q: f64| within_tolerance(p, q) || (p - q).abs() <= 1e-12 * scale;
    Some(close(x.re, y.re) && close(x.im, y.im))
}

#[cfg(test)]
mod tests {
    use crate::{normalize, Gold};

    #[test]
    fn complex_numbers_compare_by_value() {
        let same = |gold: &str, answer: &str| Gold::new(gold).matches(&normalize(answer));
        for (gold, answer) in [
            ("2i", "(1+i)^2"),
            ("-1", "i^2"),
            ("\\frac{3}{5}-\\frac{4}{5}i", "\\frac{3-4i}{5}"),
            ("1+i", "\\frac{2}{1-i}"),
            ("-4", "(1+i)^4"),
        ] {
            assert!(same(gold, answer), "{gold} vs {answer}");
        }
        for (gold, answer) in [("2i", "2"), ("1+i", "1-i"), ("2i", "(1+i)^3"), ("i", "x")] {
            assert!(!same(gold, answer), "{gold} vs {answer}");
        }
    }
}
