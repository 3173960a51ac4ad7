//! Numbers for answer comparison: exact rationals (integers, decimals, fractions, of any size)
//! and the decimals a float prints, which alone are compared within a tolerance.

use std::fmt;

use num_bigint::BigInt;
use num_rational::{BigRational, Ratio};
use num_traits::{CheckedAdd, CheckedDiv, CheckedMul, Signed, ToPrimitive, Zero};

/// Relative difference under which an inexact number equals another.
pub(super) const RELATIVE_TOLERANCE: f64 = 1e-9;
/// Significant digits from which a decimal with a fractional part reads as a float printed in
/// full (15.000000000000002, 0.30000000000000004): the one kind of written number that carries
/// float noise, so the one compared within [`RELATIVE_TOLERANCE`].
const FLOAT_PRINT_DIGITS: usize = 15;
/// Digits past which a numeral is not read as a number (parsing it would cost more than it
/// tells: no answer has them).
pub(super) const MAX_DIGITS: usize = 4096;

/// A number parsed from an answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Number {
    /// Integers, decimals and fractions of them: compared exactly.
    Exact(Rational),
    /// A decimal as a float prints it: compared within a relative [`RELATIVE_TOLERANCE`].
    Approx(f64),
}

/// An exact fraction, reduced, with a positive denominator: in `i128` while it fits (the
/// common case, no allocation), as a big fraction beyond. One value has one representation,
/// so the derived equality is value equality.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rational(Repr);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Repr {
    Small(Ratio<i128>),
    Big(BigRational),
}

impl Rational {
    pub fn new(num: i128, den: i128) -> Option<Self> {
        (den != 0).then(|| Rational(Repr::Small(Ratio::new(num, den))))
    }

    pub fn integer(n: i128) -> Self {
        Rational(Repr::Small(Ratio::from_integer(n)))
    }

    fn from_big(value: BigRational) -> Self {
        let small = value
            .numer()
            .to_i128()
            .zip(value.denom().to_i128())
            .map(|(num, den)| Ratio::new_raw(num, den));
        Rational(small.map_or(Repr::Big(value), Repr::Small))
    }

    fn big(&self) -> BigRational {
        match &self.0 {
            Repr::Small(r) => BigRational::new_raw((*r.numer()).into(), (*r.denom()).into()),
            Repr::Big(r) => r.clone(),
        }
    }

    /// Applies `small` in `i128` when it does not overflow, else `big`.
    fn combine(
        &self,
        other: &Rational,
        small: fn(&Ratio<i128>, &Ratio<i128>) -> Option<Ratio<i128>>,
        big: fn(BigRational, BigRational) -> BigRational,
    ) -> Rational {
        if let (Repr::Small(a), Repr::Small(b)) = (&self.0, &other.0) {
            if let Some(r) = small(a, b) {
                return Rational(Repr::Small(r));
            }
        }
        Rational::from_big(big(self.big(), other.big()))
    }

    pub fn add(&self, other: &Rational) -> Rational {
        self.combine(other, |a, b| a.checked_add(b), |a, b| a + b)
    }

    pub fn mul(&self, other: &Rational) -> Rational {
        self.combine(other, |a, b| a.checked_mul(b), |a, b| a * b)
    }

    /// `None` for a zero divisor.
    pub fn checked_div(&self, other: &Rational) -> Option<Rational> {
        (!other.is_zero()).then(|| self.combine(other, |a, b| a.checked_div(b), |a, b| a / b))
    }

    pub fn neg(&self) -> Rational {
        match &self.0 {
            Repr::Small(r) if *r.numer() != i128::MIN => Rational(Repr::Small(-r)),
            _ => Rational::from_big(-self.big()),
        }
    }

    /// `self^power`, `None` for 0 to a power ≤ 0 or a result past `max_bits`.
    pub fn pow(&self, power: i32, max_bits: u64) -> Option<Rational> {
        let base = self.big();
        let bits = base.numer().bits().max(base.denom().bits());
        if bits.saturating_mul(u64::from(power.unsigned_abs())) > max_bits
            || (base.is_zero() && power <= 0)
        {
            return None;
        }
        let magnitude = power.unsigned_abs();
        let raised = BigRational::new_raw(base.numer().pow(magnitude), base.denom().pow(magnitude));
        Some(Rational::from_big(if power < 0 {
            raised.recip()
        } else {
            raised
        }))
    }

    /// Bits of the larger of numerator and denominator.
    pub fn bits(&self) -> u64 {
        match &self.0 {
            Repr::Small(r) => u64::from(
                128 - r
                    .numer()
                    .unsigned_abs()
                    .max(r.denom().unsigned_abs())
                    .leading_zeros(),
            ),
            Repr::Big(r) => r.numer().bits().max(r.denom().bits()),
        }
    }

    pub fn is_zero(&self) -> bool {
        match &self.0 {
            Repr::Small(r) => r.is_zero(),
            Repr::Big(r) => r.is_zero(),
        }
    }

    /// The value when it is an integer that fits `i128`.
    pub fn to_integer(&self) -> Option<i128> {
        match &self.0 {
            Repr::Small(r) if r.is_integer() => Some(*r.numer()),
            _ => None,
        }
    }

    pub fn to_f64(&self) -> f64 {
        match &self.0 {
            Repr::Small(r) => *r.numer() as f64 / *r.denom() as f64,
            Repr::Big(r) => big_to_f64(r),
        }
    }

    pub fn is_positive_integer(&self) -> bool {
        match &self.0 {
            Repr::Small(r) => r.is_integer() && r.is_positive(),
            Repr::Big(r) => r.is_integer() && r.is_positive(),
        }
    }
}

/// The nearest float of a big fraction (infinite past f64's range, 0 below it).
fn big_to_f64(value: &BigRational) -> f64 {
    value.to_f64().unwrap_or_else(|| {
        // num's conversion gives up on huge parts: go through their magnitudes.
        let (num, den) = (value.numer(), value.denom());
        let shift = num.bits().max(den.bits()).saturating_sub(1000);
        let scaled = |n: &BigInt| (n >> shift).to_f64().unwrap_or(f64::NAN);
        scaled(num) / scaled(den)
    })
}

impl fmt::Display for Rational {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (num, den) = match &self.0 {
            Repr::Small(r) => (r.numer().to_string(), r.denom().to_string()),
            Repr::Big(r) => (r.numer().to_string(), r.denom().to_string()),
        };
        if den == "1" {
            f.write_str(&num)
        } else {
            write!(f, "{num}/{den}")
        }
    }
}

impl Number {
    pub fn to_f64(&self) -> f64 {
        match self {
            Number::Exact(r) => r.to_f64(),
            Number::Approx(x) => *x,
        }
    }

    /// Two exact numbers are equal only when they are the same number (4294967296 is not
    /// 4294967295, 10^-9 is not 0). A float's printout is equal to what is within a relative
    /// 1e-9 of it: wide enough for float artifacts, far too narrow for a rounded answer (0.333
    /// vs 1/3); zero is equal only to zero.
    pub fn equals(&self, other: &Number) -> bool {
        if let (Number::Exact(a), Number::Exact(b)) = (self, other) {
            return a == b;
        }
        within_tolerance(self.to_f64(), other.to_f64())
    }

    fn divide(&self, other: &Number) -> Option<Number> {
        match (self, other) {
            (Number::Exact(a), Number::Exact(b)) => a.checked_div(b).map(Number::Exact),
            (a, b) if b.to_f64() != 0.0 => Some(Number::Approx(a.to_f64() / b.to_f64())),
            _ => None,
        }
    }

    fn negate(self) -> Number {
        match self {
            Number::Exact(r) => Number::Exact(r.neg()),
            Number::Approx(x) => Number::Approx(-x),
        }
    }

    /// A canonical spelling, used as a voting key: the reduced fraction; a float's printout
    /// within the tolerance of an integer is that integer (15.000000000000002 votes with 15).
    pub fn canonical(&self) -> String {
        match self {
            Number::Exact(r) => r.to_string(),
            Number::Approx(x) => {
                let nearest = x.round();
                if within_tolerance(*x, nearest) && nearest.abs() < 9.0e15 {
                    format!("{}", nearest as i64)
                } else {
                    format!("{x:e}")
                }
            }
        }
    }
}

/// Equal, or within a relative [`RELATIVE_TOLERANCE`] of the larger magnitude.
pub(super) fn within_tolerance(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= RELATIVE_TOLERANCE * a.abs().max(b.abs())
}

/// Parses an unsigned decimal: `12`, `12.50`, `.5`. No signs, exponents or separators.
pub fn parse_decimal(s: &str) -> Option<Number> {
    let (int_part, frac_part) = s.split_once('.').unwrap_or((s, ""));
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty())
        || !all_digits(int_part)
        || !all_digits(frac_part)
        || s.len() > MAX_DIGITS
    {
        return None;
    }
    let frac_trimmed = frac_part.trim_end_matches('0');
    let digits = || int_part.bytes().chain(frac_trimmed.bytes());
    let significant_digits = digits().skip_while(|&b| b == b'0').count();
    if !frac_trimmed.is_empty() && significant_digits >= FLOAT_PRINT_DIGITS {
        return s
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .map(Number::Approx);
    }
    let scale = u32::try_from(frac_trimmed.len()).ok()?;
    let small = digits().try_fold(0i128, |n, b| {
        n.checked_mul(10)?.checked_add(i128::from(b - b'0'))
    });
    let value = match (small, 10i128.checked_pow(scale)) {
        (Some(num), Some(den)) => Rational::new(num, den)?,
        _ => {
            let num: BigInt = digits().map(char::from).collect::<String>().parse().ok()?;
            Rational::from_big(BigRational::new(num, BigInt::from(10u8).pow(scale)))
        }
    };
    Some(Number::Exact(value))
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
        signed_decimal(numerator)?.divide(&signed_decimal(denominator)?)?
    } else if let Some((numerator, denominator)) = body.split_once('/') {
        parse_decimal(numerator)?.divide(&parse_decimal(denominator)?)?
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
        assert!(n("15.000000000000002").equals(&n("15")));
        assert!(n("0.30000000000000004").equals(&n("0.3")));
        assert!(!n("0.333").equals(&n("1/3")));
        assert!(!n("0.3333333").equals(&n("1/3")));
        assert!(!n("1000001").equals(&n("1000000")));
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
    fn exact_numbers_of_any_size_are_equal_only_when_the_same() {
        let n = |s: &str| parse_number(s).unwrap();
        let big = "1".repeat(60);
        assert!(matches!(n(&big), Number::Exact(_)));
        assert!(n(&big).equals(&n(&format!("{big}.0"))));
        assert!(!n(&big).equals(&n(&format!("{}2", "1".repeat(59)))));
        assert!(!n("4294967296").equals(&n("4294967295")));
        let e30 = format!("1{}", "0".repeat(30));
        assert!(!n(&e30).equals(&n(&format!("1{}1", "0".repeat(29)))));
        assert_eq!(n(&big).canonical(), big);
    }

    #[test]
    fn tiny_numbers_keep_their_scale_and_zero_is_only_zero() {
        let n = |s: &str| parse_number(s).unwrap();
        assert!(!n("0.000000001").equals(&n("0")));
        assert!(!n("0.00000000000000000001").equals(&n("0.00000000000000000003")));
        assert!(n("0.000").equals(&n("0")));
        // A float's printout of a tiny value is near that value, not near zero.
        assert!(n("0.000000000000000012345678901234567")
            .equals(&n("0.0000000000000000123456789012345671")));
        assert!(!n("0.000000000000000012345678901234567").equals(&n("0")));
    }

    #[test]
    fn numerals_past_the_digit_limit_are_not_numbers() {
        assert!(parse_number(&"9".repeat(MAX_DIGITS + 1)).is_none());
        assert!(parse_number(&"9".repeat(MAX_DIGITS)).is_some());
    }
}
