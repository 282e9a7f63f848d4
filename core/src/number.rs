//! [`Number`]: every DynamoDB number, exactly.
//!
//! DynamoDB numbers carry up to 38 significant digits, with magnitudes from 1E-130 to
//! 9.9999999999999999999999999999999999999E+125 (the DynamoDB Developer Guide, "Data types").
//! No primitive holds all of them: `f64` rounds after about 16 digits, `i64`/`u64` hold 19 or
//! 20, `rust_decimal::Decimal` 28 (and rounds a longer fraction). A `Number` holds any of them
//! as its decimal digits and converts to the usual types only when they hold the value exactly.
//!
//! ```
//! # extern crate dynastream_core as dynastream;
//! use dynastream::Number;
//!
//! let price: Number = "12345678901234567890.123456789012345678".parse().unwrap();
//! assert_eq!(price.to_string(), "12345678901234567890.123456789012345678");
//! assert!(i64::try_from(&price).is_err()); // a fraction
//! let qty = Number::from(3u32);
//! assert_eq!(u32::try_from(&qty).unwrap(), 3);
//! assert_eq!(price.checked_mul(&qty).unwrap().to_string(), "37037036703703703670.370370367037037034");
//! // Beyond 38 significant digits: not a DynamoDB number.
//! assert!("1234567890123456789012345678901234567891".parse::<Number>().is_err());
//! ```
//!
//! In a model, a `Number` field is a `numeric` column in the mirror's views and an `N`
//! attribute in the store.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use crate::decode::number::split;

/// The most significant digits a DynamoDB number has.
pub const MAX_DIGITS: usize = 38;
/// The smallest decimal exponent of a nonzero DynamoDB number (1E-130).
pub const MIN_EXPONENT: i64 = -130;
/// The largest decimal exponent of a DynamoDB number (9.99...E+125).
pub const MAX_EXPONENT: i64 = 125;

/// The name under which a [`Number`] serializes as a newtype, so the store writes it as `N`
/// wherever it appears (a field, a list element, a map value).
pub(crate) const NEWTYPE: &str = "$dynastream::Number";

/// A DynamoDB number, exact: its significant digits (at most 38, so they fit a `u128`) and a
/// power of ten. `Copy`, no allocation. Equality, order and hashing are by value (`1.50`
/// equals `1.5`; `-0` is `0`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Number {
    negative: bool,
    /// The significant digits as an integer without trailing zeros; 0 for zero.
    mantissa: u128,
    /// The value is `mantissa × 10^exp`; 0 for zero.
    exp: i32,
}

/// Why text is not a DynamoDB number, or a number does not fit a type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NumberError {
    /// Not decimal number text.
    #[error("{0:?} is not a number")]
    NotANumber(String),
    /// More significant digits, or a magnitude, than DynamoDB holds.
    #[error("{text} is not a DynamoDB number: {why} (at most 38 significant digits, magnitude 1E-130 to 9.99E+125)")]
    OutOfRange {
        /// The number.
        text: String,
        /// What is exceeded.
        why: &'static str,
    },
    /// The number has a fraction, or is outside the target type's range.
    #[error("number {text} does not fit {target} exactly")]
    DoesNotFit {
        /// The number.
        text: String,
        /// The Rust type asked for.
        target: &'static str,
    },
}

/// `10^n` for `n` in 0..=38.
fn pow10(n: u32) -> Option<u128> {
    10u128.checked_pow(n)
}

/// How many decimal digits `m` has (0 for 0).
fn digit_count(m: u128) -> u32 {
    if m == 0 {
        0
    } else {
        m.ilog10() + 1
    }
}

impl Number {
    /// Zero.
    pub const ZERO: Number = Number {
        negative: false,
        mantissa: 0,
        exp: 0,
    };

    /// A normalized `mantissa` (no trailing zeros, `digits` long, not zero) × 10^`exp`, checked
    /// against DynamoDB's limits.
    fn checked(
        negative: bool,
        mantissa: u128,
        digits: u32,
        exp: i64,
    ) -> Result<Number, &'static str> {
        if digits as usize > MAX_DIGITS {
            return Err("more than 38 significant digits");
        }
        if exp < MIN_EXPONENT {
            return Err("smaller than 1E-130");
        }
        if exp + i64::from(digits) - 1 > MAX_EXPONENT {
            return Err("larger than 9.99E+125");
        }
        Ok(Number {
            negative,
            mantissa,
            exp: exp as i32,
        })
    }

    /// `mantissa × 10^exp`, normalized (trailing zeros into the exponent), checked against
    /// DynamoDB's limits.
    fn normalized(negative: bool, mut mantissa: u128, exp: i64) -> Result<Number, &'static str> {
        if mantissa == 0 {
            return Ok(Number::ZERO);
        }
        let mut exp = exp;
        while mantissa.is_multiple_of(10) {
            mantissa /= 10;
            exp += 1;
        }
        Number::checked(negative, mantissa, digit_count(mantissa), exp)
    }

    /// The significant digits (`"15"` for `1.50`; empty for zero).
    pub fn digits(&self) -> String {
        if self.mantissa == 0 {
            String::new()
        } else {
            self.mantissa.to_string()
        }
    }

    /// The power of ten the digits are scaled by (`-1` for `1.50`).
    pub fn exponent(&self) -> i64 {
        i64::from(self.exp)
    }

    /// Less than zero.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// Zero.
    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// An integer (no fraction).
    pub fn is_integer(&self) -> bool {
        self.exp >= 0 || self.mantissa == 0
    }

    /// `self + other`, or `None` when the result is not a DynamoDB number (more than 38
    /// significant digits, out of range).
    pub fn checked_add(&self, other: &Number) -> Option<Number> {
        if self.is_zero() {
            return Some(*other);
        }
        if other.is_zero() {
            return Some(*self);
        }
        let exp = self.exp.min(other.exp);
        // Aligned to the smaller exponent; a value that no longer fits 128 bits is too far
        // from the other to add within 38 digits.
        let scaled =
            |n: &Number| pow10((n.exp - exp) as u32).and_then(|p| n.mantissa.checked_mul(p));
        let (a, b) = (scaled(self)?, scaled(other)?);
        let (negative, magnitude) = if self.negative == other.negative {
            (self.negative, a.checked_add(b)?)
        } else if a >= b {
            (self.negative, a - b)
        } else {
            (other.negative, b - a)
        };
        Number::normalized(negative, magnitude, i64::from(exp)).ok()
    }

    /// `-self`.
    pub fn neg(&self) -> Number {
        Number {
            negative: !self.is_zero() && !self.negative,
            ..*self
        }
    }

    /// `self - other`, or `None` when the result is not a DynamoDB number.
    pub fn checked_sub(&self, other: &Number) -> Option<Number> {
        self.checked_add(&other.neg())
    }

    /// `self × other`, or `None` when the result is not a DynamoDB number (the product of two
    /// 38-digit numbers has up to 76 digits: it is refused, never rounded).
    pub fn checked_mul(&self, other: &Number) -> Option<Number> {
        if self.is_zero() || other.is_zero() {
            return Some(Number::ZERO);
        }
        let negative = self.negative != other.negative;
        let exp = i64::from(self.exp) + i64::from(other.exp);
        match self.mantissa.checked_mul(other.mantissa) {
            Some(m) => Number::normalized(negative, m, exp).ok(),
            // Over 128 bits: more than 38 digits unless trailing zeros bring it back
            // (5^54 × 2^54 = 10^54), which the digit-by-digit product finds.
            None => {
                let product = mul_digits(&self.mantissa.to_string(), &other.mantissa.to_string());
                let significant = product.trim_end_matches('0');
                let zeros = (product.len() - significant.len()) as i64;
                let m: u128 = significant.parse().ok()?;
                Number::normalized(negative, m, exp + zeros).ok()
            }
        }
    }

    /// The value as an integer, when it is one and fits 128 bits (any integer DynamoDB holds
    /// below 10^38 does).
    fn to_i128(self) -> Option<i128> {
        if self.exp < 0 && self.mantissa != 0 {
            return None;
        }
        let m = self.mantissa.checked_mul(pow10(self.exp.max(0) as u32)?)?;
        let v = i128::try_from(m).ok()?;
        Some(if self.negative { -v } else { v })
    }

    fn to_u128(self) -> Option<u128> {
        if self.negative && self.mantissa != 0 {
            return None;
        }
        if self.exp < 0 && self.mantissa != 0 {
            return None;
        }
        self.mantissa.checked_mul(pow10(self.exp.max(0) as u32)?)
    }

    /// The nearest `f64` (a double holds about 16 significant digits: this may round).
    pub fn to_f64_lossy(&self) -> f64 {
        self.to_string().parse().unwrap_or(f64::NAN)
    }
}

/// Multiplies two digit strings (schoolbook; at most 38 × 38 digits). Only for products beyond
/// 128 bits.
fn mul_digits(a: &str, b: &str) -> String {
    let (a, b): (Vec<u32>, Vec<u32>) = (
        a.bytes().rev().map(|c| u32::from(c - b'0')).collect(),
        b.bytes().rev().map(|c| u32::from(c - b'0')).collect(),
    );
    let mut out = vec![0u32; a.len() + b.len() + 1];
    for (i, x) in a.iter().enumerate() {
        let mut carry = 0;
        for (j, y) in b.iter().enumerate() {
            let t = out[i + j] + x * y + carry;
            out[i + j] = t % 10;
            carry = t / 10;
        }
        let mut k = i + b.len();
        while carry > 0 {
            let t = out[k] + carry;
            out[k] = t % 10;
            carry = t / 10;
            k += 1;
        }
    }
    let s: String = out
        .iter()
        .rev()
        .map(|d| char::from(b'0' + *d as u8))
        .collect();
    s.trim_start_matches('0').to_string()
}

impl FromStr for Number {
    type Err = NumberError;

    /// DynamoDB's number text: an optional sign, digits with an optional point, an optional
    /// exponent (`-1.5E+3`, `.5`, `007`).
    fn from_str(text: &str) -> Result<Number, NumberError> {
        let d = split(text).ok_or_else(|| NumberError::NotANumber(text.to_string()))?;
        let out_of_range = |why| NumberError::OutOfRange {
            text: text.to_string(),
            why,
        };
        // The significant digits: leading zeros dropped, trailing zeros into the exponent.
        // Up to 19 digits in a u64 (the usual case: prices, counts, times), then a u128;
        // no division anywhere (u128 division is a library call).
        let mut small: u64 = 0;
        let mut mantissa: u128 = 0;
        let mut pending_zeros: u32 = 0;
        let mut significant: u32 = 0;
        for b in d.int.bytes().chain(d.frac.bytes()) {
            let digit = b - b'0';
            if digit == 0 {
                if significant > 0 {
                    pending_zeros += 1;
                }
                continue;
            }
            let grown = significant + pending_zeros + 1;
            if grown as usize > MAX_DIGITS {
                return Err(out_of_range("more than 38 significant digits"));
            }
            if grown <= 19 {
                // grown <= 19, so 10^(pending + 1) <= 10^19 fits a u64.
                small = small * 10u64.pow(pending_zeros + 1) + u64::from(digit);
            } else {
                if significant <= 19 {
                    mantissa = u128::from(small);
                }
                // grown <= 38, so the product stays below 10^38.
                mantissa = mantissa * 10u128.pow(pending_zeros + 1) + u128::from(digit);
            }
            significant = grown;
            pending_zeros = 0;
        }
        if significant <= 19 {
            mantissa = u128::from(small);
        }
        if significant == 0 {
            return Ok(Number::ZERO);
        }
        // The last significant digit is not zero: already normalized.
        let exp = d.exp - d.frac.len() as i64 + i64::from(pending_zeros);
        Number::checked(d.negative, mantissa, significant, exp).map_err(out_of_range)
    }
}

impl fmt::Display for Number {
    /// Plain decimal text when the number has at most 40 digits around the point, else
    /// `d.dddE±n`; either is DynamoDB number text and parses back to an equal `Number`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        if self.negative {
            f.write_str("-")?;
        }
        let digits = self.mantissa.to_string();
        let exp = i64::from(self.exp);
        let n = digits.len() as i64;
        let point = n + exp; // digits before the point
        if exp >= 0 && point <= 40 {
            f.write_str(&digits)?;
            (0..exp).try_for_each(|_| f.write_str("0"))
        } else if point > 0 && exp < 0 {
            let (int, frac) = digits.split_at(point as usize);
            write!(f, "{int}.{frac}")
        } else if point <= 0 && point > -40 {
            f.write_str("0.")?;
            (0..-point).try_for_each(|_| f.write_str("0"))?;
            f.write_str(&digits)
        } else {
            let (first, rest) = digits.split_at(1);
            let e = point - 1;
            if rest.is_empty() {
                write!(f, "{first}E{e:+}")
            } else {
                write!(f, "{first}.{rest}E{e:+}")
            }
        }
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Number({self})")
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Number) -> Ordering {
        let sign = |n: &Number| match (n.is_zero(), n.negative) {
            (true, _) => 0,
            (false, true) => -1,
            (false, false) => 1,
        };
        match sign(self).cmp(&sign(other)) {
            Ordering::Equal if sign(self) == 0 => Ordering::Equal,
            Ordering::Equal => {
                let magnitude = magnitude_cmp(self, other);
                if self.negative {
                    magnitude.reverse()
                } else {
                    magnitude
                }
            }
            o => o,
        }
    }
}

fn magnitude_cmp(a: &Number, b: &Number) -> Ordering {
    let top = |n: &Number| i64::from(digit_count(n.mantissa)) + i64::from(n.exp);
    top(a).cmp(&top(b)).then_with(|| {
        // Same leading position: both have at most 38 digits, so aligning the one with the
        // larger exponent to the other's keeps it below 10^38.
        let exp = a.exp.min(b.exp);
        let scaled = |n: &Number| {
            pow10((n.exp - exp) as u32)
                .and_then(|p| n.mantissa.checked_mul(p))
                .unwrap_or(u128::MAX)
        };
        scaled(a).cmp(&scaled(b))
    })
}

macro_rules! ints {
    ($($t:ty),*) => {$(
        impl TryFrom<&Number> for $t {
            type Error = NumberError;
            /// Exactly, or [`NumberError::DoesNotFit`] (a fraction, out of range).
            fn try_from(n: &Number) -> Result<$t, NumberError> {
                n.to_i128()
                    .and_then(|v| <$t>::try_from(v).ok())
                    .ok_or_else(|| NumberError::DoesNotFit { text: n.to_string(), target: stringify!($t) })
            }
        }
        impl TryFrom<Number> for $t {
            type Error = NumberError;
            fn try_from(n: Number) -> Result<$t, NumberError> {
                <$t>::try_from(&n)
            }
        }
    )*};
}
ints!(i8, i16, i32, i64, i128, u8, u16, u32, u64, usize, isize);

impl TryFrom<&Number> for u128 {
    type Error = NumberError;
    /// Exactly, or [`NumberError::DoesNotFit`].
    fn try_from(n: &Number) -> Result<u128, NumberError> {
        n.to_u128().ok_or_else(|| NumberError::DoesNotFit {
            text: n.to_string(),
            target: "u128",
        })
    }
}

macro_rules! from_ints {
    ($($t:ty),*) => {$(
        impl From<$t> for Number {
            fn from(v: $t) -> Number {
                // Every value of these types has at most 20 digits: a DynamoDB number.
                let negative = v < 0 as $t;
                let magnitude = (v as i128).unsigned_abs();
                Number::normalized(negative, magnitude, 0).unwrap_or_default()
            }
        }
    )*};
}
from_ints!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl TryFrom<i128> for Number {
    type Error = NumberError;
    /// Refuses values beyond 38 significant digits.
    fn try_from(v: i128) -> Result<Number, NumberError> {
        Number::normalized(v < 0, v.unsigned_abs(), 0).map_err(|why| NumberError::OutOfRange {
            text: v.to_string(),
            why,
        })
    }
}

impl TryFrom<u128> for Number {
    type Error = NumberError;
    /// Refuses values beyond 38 significant digits.
    fn try_from(v: u128) -> Result<Number, NumberError> {
        Number::normalized(false, v, 0).map_err(|why| NumberError::OutOfRange {
            text: v.to_string(),
            why,
        })
    }
}

impl TryFrom<&Number> for f64 {
    type Error = NumberError;
    /// Only when the double is exactly the number (`0.1` is not: use
    /// [`Number::to_f64_lossy`] to accept the nearest).
    fn try_from(n: &Number) -> Result<f64, NumberError> {
        let v = n.to_f64_lossy();
        let back: Option<Number> = if v.is_finite() {
            format_exact(v).parse().ok()
        } else {
            None
        };
        match back {
            Some(b) if &b == n => Ok(v),
            _ => Err(NumberError::DoesNotFit {
                text: n.to_string(),
                target: "f64",
            }),
        }
    }
}

/// The exact decimal value of a double (every finite double is a finite decimal).
fn format_exact(v: f64) -> String {
    // `{:.1100}` prints enough digits for any double exactly.
    let s = format!("{v:.1100}");
    let s = s.trim_end_matches('0');
    s.trim_end_matches('.').to_string()
}

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // A newtype around the text: serde_json writes the text (a string, no digit lost); the
        // store recognises the name and writes an `N`.
        s.serialize_newtype_struct(NEWTYPE, &self.to_string())
    }
}

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Number, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a DynamoDB number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
                Ok(Number::from(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number, E> {
                Ok(Number::from(v))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<Number, E> {
                Number::try_from(v).map_err(E::custom)
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Number, E> {
                Number::try_from(v).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Number, E> {
                // From a source that has only doubles (serde_json without arbitrary
                // precision): the double's shortest text.
                if !v.is_finite() {
                    return Err(E::custom(format_args!("{v} is not a number")));
                }
                format!("{v:e}").parse().map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Number, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_newtype_struct<D2: Deserializer<'de>>(
                self,
                d: D2,
            ) -> Result<Number, D2::Error> {
                d.deserialize_any(self)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn n(t: &str) -> Number {
        t.parse().unwrap()
    }

    #[test]
    fn holds_every_dynamodb_number_exactly() {
        for (text, shown) in [
            ("0", "0"),
            ("-0.00", "0"),
            ("1.50", "1.5"),
            ("+007", "7"),
            (".5", "0.5"),
            ("1E+2", "100"),
            (
                "12345678901234567890123456789012345678",
                "12345678901234567890123456789012345678",
            ),
            (
                "0.12345678901234567890123456789012345678",
                "0.12345678901234567890123456789012345678",
            ),
            (
                "9.9999999999999999999999999999999999999E+125",
                "9.9999999999999999999999999999999999999E+125",
            ),
            ("1E-130", "1E-130"),
            ("-1.5e-3", "-0.0015"),
        ] {
            assert_eq!(n(text).to_string(), shown, "{text}");
            assert_eq!(n(shown), n(text), "{text} round trip");
        }
        assert_eq!(n("1.50"), n("1.5"));
        assert!(n("-2") < n("1") && n("0.1") < n("0.11") && n("-0.1") > n("-0.11"));
        assert!(n("1E+100") > n("99999"));
    }

    #[test]
    fn refuses_what_dynamodb_refuses() {
        for bad in [
            "1E+126",
            "1E-131",
            "123456789012345678901234567890123456789",
            "abc",
            "",
            "1e",
        ] {
            assert!(bad.parse::<Number>().is_err(), "{bad}");
        }
        // Trailing zeros are not significant digits.
        assert!("1000000000000000000000000000000000000000"
            .parse::<Number>()
            .is_ok());
    }

    #[test]
    fn conversions_are_checked() {
        assert_eq!(i64::try_from(&n("-9223372036854775808")).unwrap(), i64::MIN);
        assert!(i64::try_from(&n("9223372036854775808")).is_err());
        assert!(u8::try_from(&n("2.5")).is_err());
        assert_eq!(u8::try_from(&n("2.50E+1")).unwrap(), 25);
        assert_eq!(f64::try_from(&n("0.5")).unwrap(), 0.5);
        assert!(f64::try_from(&n("0.1")).is_err(), "0.1 is not a double");
        assert_eq!(n("0.1").to_f64_lossy(), 0.1);
        assert_eq!(
            u128::try_from(&n("99999999999999999999999999999999999999")).unwrap(),
            99999999999999999999999999999999999999
        );
    }

    #[test]
    fn arithmetic_is_exact_or_refused() {
        assert_eq!(n("0.1").checked_add(&n("0.2")).unwrap(), n("0.3"));
        assert_eq!(n("1").checked_sub(&n("1.5")).unwrap(), n("-0.5"));
        assert_eq!(n("-3").checked_mul(&n("0.25")).unwrap(), n("-0.75"));
        let big = n("12345678901234567890123456789012345678");
        assert_eq!(big.checked_mul(&big), None, "76 digits");
        assert_eq!(
            n("9.9999999999999999999999999999999999999E+125").checked_add(&n("1E+125")),
            None
        );
        assert_eq!(n("1E+100").checked_add(&n("1E-100")), None, "too far apart");
        // Beyond 128 bits, yet one significant digit: 5^54 × 2^54 = 10^54.
        let (five, two) = (
            Number::try_from(5u128.pow(54)).unwrap(),
            Number::try_from(2u128.pow(54)).unwrap(),
        );
        assert_eq!(five.checked_mul(&two).unwrap(), n("1E+54"));
        assert_eq!(n("000123000.000"), n("1.23E+5"));
        assert_eq!(n("000123000.000").digits(), "123");
        assert_eq!(n("000123000.000").exponent(), 3);
        assert!(Number::try_from(u128::MAX).is_err(), "39 digits");
        // Long runs of inner zeros across the u64/u128 boundary.
        for text in [
            "10000000000000000000000000000000000001",
            "1000000000000000000001",
            "12345678901234567890000000000000000001",
            "0.00000000000000000000000000000000000001",
        ] {
            assert_eq!(n(text).to_string(), text, "{text}");
        }
    }

    proptest! {
        #[test]
        fn text_round_trips(neg in any::<bool>(), digits in "[1-9][0-9]{0,37}", exp in -140i64..130) {
            let text = format!("{}{digits}E{exp}", if neg { "-" } else { "" });
            match text.parse::<Number>() {
                Ok(v) => {
                    prop_assert_eq!(v.to_string().parse::<Number>().unwrap(), v);
                    // Agrees with the integer types where they hold the value.
                    if let Ok(i) = i128::try_from(&v) {
                        prop_assert_eq!(Number::try_from(i).unwrap(), v);
                    }
                }
                Err(_) => {
                    let top = digits.trim_end_matches('0').len() as i64 + exp + (digits.len() - digits.trim_end_matches('0').len()) as i64 - 1;
                    let low = exp + (digits.len() - digits.trim_end_matches('0').len()) as i64;
                    prop_assert!(top > MAX_EXPONENT || low < MIN_EXPONENT, "{}", text);
                }
            }
        }

        #[test]
        fn addition_agrees_with_i128(a in -10i128.pow(30)..10i128.pow(30), b in -10i128.pow(30)..10i128.pow(30)) {
            let sum = Number::try_from(a).unwrap().checked_add(&Number::try_from(b).unwrap()).unwrap();
            prop_assert_eq!(sum, Number::try_from(a + b).unwrap());
            let product = Number::try_from(a % 10i128.pow(18)).unwrap().checked_mul(&Number::try_from(b % 10i128.pow(18)).unwrap()).unwrap();
            prop_assert_eq!(product, Number::try_from((a % 10i128.pow(18)) * (b % 10i128.pow(18))).unwrap());
        }
    }
}
