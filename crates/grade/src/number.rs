//! Exact numbers for answer comparison: integers, decimals and fractions as reduced rationals.

use std::fmt;

/// Relative difference under which two numbers are the same answer.
pub(super) const RELATIVE_TOLERANCE: f64 = 1e-9;

/// A number parsed from an answer: exact when it fits in `i128`, approximate otherwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Exact(Rational),
    Approx(f64),
}

/// A reduced fraction with a positive denominator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rational {
    num: i128,
    den: i128,
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    a = a.abs();
    b = b.abs();
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Rational {
    pub fn new(num: i128, den: i128) -> Option<Self> {
        if den == 0 {
            return None;
        }
        let g = gcd(num, den).max(1);
        let sign = if den < 0 { -1 } else { 1 };
        Some(Rational {
            num: num / g * sign,
            den: den / g * sign,
        })
    }

    fn checked_div(self, other: Rational) -> Option<Rational> {
        let num = self.num.checked_mul(other.den)?;
        let den = self.den.checked_mul(other.num)?;
        Rational::new(num, den)
    }

    fn to_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }

    pub fn is_positive_integer(self) -> bool {
        self.den == 1 && self.num > 0
    }
}

impl fmt::Display for Rational {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

impl Number {
    pub fn to_f64(self) -> f64 {
        match self {
            Number::Exact(r) => r.to_f64(),
            Number::Approx(x) => x,
        }
    }

    /// Equal exactly, or within a relative 1e-9: wide enough for the float artifacts of executed
    /// programs (15.000000000000002), far too narrow for a rounded answer (0.333 vs 1/3). Two
    /// exact integers have no float artifacts: they are equal only when they are the same
    /// integer (12345678901234567890 is not 12345678901234567891).
    pub fn equals(self, other: Number) -> bool {
        if let (Number::Exact(a), Number::Exact(b)) = (self, other) {
            if a == b || (a.den == 1 && b.den == 1) {
                return a == b;
            }
        }
        let (a, b) = (self.to_f64(), other.to_f64());
        (a - b).abs() <= RELATIVE_TOLERANCE * a.abs().max(b.abs()).max(1.0)
    }

    fn divide(self, other: Number) -> Option<Number> {
        match (self, other) {
            (Number::Exact(a), Number::Exact(b)) => match a.checked_div(b) {
                Some(r) => Some(Number::Exact(r)),
                None if b.num == 0 => None,
                None => Some(Number::Approx(a.to_f64() / b.to_f64())),
            },
            (a, b) if b.to_f64() != 0.0 => Some(Number::Approx(a.to_f64() / b.to_f64())),
            _ => None,
        }
    }

    fn negate(self) -> Number {
        match self {
            Number::Exact(r) => Number::Exact(Rational {
                num: -r.num,
                den: r.den,
            }),
            Number::Approx(x) => Number::Approx(-x),
        }
    }

    /// A canonical spelling, used as a voting key: the reduced fraction, except that a value
    /// within the tolerance of an integer is that integer (15.000000000000002 votes with 15).
    pub fn canonical(self) -> String {
        if let Number::Exact(r) = self {
            if r.den == 1 {
                return r.to_string();
            }
        }
        let x = self.to_f64();
        let nearest = x.round();
        if (x - nearest).abs() <= RELATIVE_TOLERANCE * x.abs().max(1.0) && nearest.abs() < 9.0e15 {
            return format!("{}", nearest as i64);
        }
        match self {
            Number::Exact(r) => r.to_string(),
            Number::Approx(x) => format!("{x:e}"),
        }
    }
}

/// Parses an unsigned decimal: `12`, `12.50`, `.5`. No signs, exponents or separators.
pub fn parse_decimal(s: &str) -> Option<Number> {
    let (int_part, frac_part) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let frac_trimmed = frac_part.trim_end_matches('0');
    let exact = (|| {
        let mut num: i128 = 0;
        for b in int_part.bytes().chain(frac_trimmed.bytes()) {
            num = num.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
        }
        let den = 10i128.checked_pow(u32::try_from(frac_trimmed.len()).ok()?)?;
        Rational::new(num, den)
    })();
    match exact {
        Some(r) => Some(Number::Exact(r)),
        None => s
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .map(Number::Approx),
    }
}

/// Parses a normalized answer as a number: an optionally signed decimal, `a/b`, or
/// `\frac{a}{b}` whose parts are decimals.
pub fn parse_number(s: &str) -> Option<Number> {
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let value = if let Some(rest) = body.strip_prefix("\\frac{") {
        let (numerator, rest) = rest.split_once("}{")?;
        let denominator = rest.strip_suffix('}')?;
        signed_decimal(numerator)?.divide(signed_decimal(denominator)?)?
    } else if let Some((numerator, denominator)) = body.split_once('/') {
        parse_decimal(numerator)?.divide(parse_decimal(denominator)?)?
    } else {
        parse_decimal(body)?
    };
    Some(if negative { value.negate() } else { value })
}

fn signed_decimal(s: &str) -> Option<Number> {
    match s.strip_prefix('-') {
        Some(rest) => parse_decimal(rest).map(Number::negate),
        None => parse_decimal(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(s: &str) -> String {
        parse_number(s).unwrap().canonical()
    }

    #[test]
    fn decimals_reduce_to_the_same_rational() {
        assert_eq!(exact("18"), "18");
        assert_eq!(exact("18.0"), "18");
        assert_eq!(exact("18.00"), "18");
        assert_eq!(exact(".5"), "1/2");
        assert_eq!(exact("\\frac{1}{2}"), "1/2");
        assert_eq!(exact("-\\frac{6}{4}"), "-3/2");
        assert_eq!(exact("\\frac{-3}{2}"), "-3/2");
        assert_eq!(exact("3/4"), "3/4");
        assert_eq!(exact("15.000000000000002"), "15");
        assert_eq!(exact("-2.9999999999999996"), "-3");
    }

    #[test]
    fn float_artifacts_equal_but_rounded_answers_do_not() {
        let n = |s: &str| parse_number(s).unwrap();
        assert!(n("15.000000000000002").equals(n("15")));
        assert!(n("0.30000000000000004").equals(n("0.3")));
        assert!(!n("0.333").equals(n("1/3")));
        assert!(!n("0.3333333").equals(n("1/3")));
        assert!(!n("1000001").equals(n("1000000")));
    }

    #[test]
    fn non_numbers_are_rejected() {
        for s in [
            "",
            ".",
            "1.2.3",
            "x",
            "\\frac{1}{0}",
            "1/0",
            "\\sqrt{2}",
            "1e5",
            "--1",
        ] {
            assert!(parse_number(s).is_none(), "{s}");
        }
    }

    #[test]
    fn huge_numbers_fall_back_to_floats() {
        let big = "1".repeat(60);
        let n = parse_number(&big).unwrap();
        assert!(matches!(n, Number::Approx(_)));
        assert!(n.equals(parse_number(&format!("{big}.0")).unwrap()));
    }
}
