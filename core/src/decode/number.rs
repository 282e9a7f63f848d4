//! Exact DynamoDB numbers. An `N` is decimal text of up to 38 significant digits; integer
//! targets get it only when it is an integer that fits, never rounded or truncated.

use std::borrow::Cow;
use std::marker::PhantomData;
use std::str::FromStr;

use serde::de::{self, Deserializer, Unexpected, Visitor};

use super::want::Want;
use crate::bytes::between;

/// A decimal number split into sign, digits and a power-of-ten exponent:
/// value = sign * digits * 10^exp, `digits` without leading zeros.
pub struct Decimal<'a> {
    /// A minus sign.
    pub negative: bool,
    /// The digits before the point.
    pub int: &'a str,
    /// The digits after the point.
    pub frac: &'a str,
    /// The power of ten written after `e`.
    pub exp: i64,
}

/// The largest exponent magnitude number text may have (`1e1000000`); beyond it, not a number.
pub const MAX_EXPONENT_TEXT: i64 = 1_000_000;

/// Splits a decimal number's text; `None` when it is not one (including an exponent beyond
/// ±1,000,000, `MAX_EXPONENT_TEXT`).
pub fn split(text: &str) -> Option<Decimal<'_>> {
    // One pass over the bytes: sign, digits with at most one point, then an optional exponent.
    let bytes = text.as_bytes();
    let (negative, start) = match bytes.first()? {
        b'-' => (true, 1),
        b'+' => (false, 1),
        _ => (false, 0),
    };
    let mut point = None;
    let mut end = bytes.len();
    for (i, &b) in bytes.iter().enumerate().skip(start) {
        match b {
            b'0'..=b'9' => {}
            b'.' if point.is_none() => point = Some(i),
            b'e' | b'E' => {
                end = i;
                break;
            }
            _ => return None,
        }
    }
    let exp = match text.get(end + 1..) {
        Some(e) => {
            // One optional sign, then digits (`i64::from_str` alone would also take the sign
            // after a `+`: `1E++5` and `1E+-5`, found by fuzzing the mirror's writer).
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            i64::from_str(e.strip_prefix('+').unwrap_or(e)).ok()?
        }
        None => 0,
    };
    // No system this project talks to holds an exponent near i64's ends (DynamoDB: -130..125,
    // Postgres numeric: under 131072 digits), and every reader may add digit counts to it.
    if !(-MAX_EXPONENT_TEXT..=MAX_EXPONENT_TEXT).contains(&exp) {
        return None;
    }
    let (int, frac) = match point {
        Some(p) => (between(text, start, p)?, between(text, p + 1, end)?),
        None => (between(text, start, end)?, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    Some(Decimal {
        negative,
        int,
        frac,
        exp,
    })
}

impl Decimal<'_> {
    /// The digit at `i` of the digits (integer part then fraction), 0 outside them.
    pub fn digit(&self, i: i64) -> u8 {
        let (int, frac) = (self.int.as_bytes(), self.frac.as_bytes());
        let Ok(i) = usize::try_from(i) else { return 0 };
        let b = match int.get(i) {
            Some(&b) => b,
            None => match i.checked_sub(int.len()).and_then(|j| frac.get(j)) {
                Some(&b) => b,
                None => return 0,
            },
        };
        b - b'0'
    }
}

/// Why a number cannot be the requested integer.
enum IntError {
    NotANumber,
    Fraction,
    Range,
}

/// The canonical integer text of `text` (`"1E+2"` → `"100"`, `"5.0"` → `"5"`), or why not.
fn integer_text(text: &str) -> Result<Cow<'_, str>, IntError> {
    let plain = text.strip_prefix('-').unwrap_or(text);
    if !plain.is_empty() && plain.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Cow::Borrowed(text));
    }
    let d = split(text).ok_or(IntError::NotANumber)?;
    if d.int.bytes().chain(d.frac.bytes()).all(|b| b == b'0') {
        return Ok(Cow::Borrowed("0"));
    }
    // All digits, and where the decimal point falls among them.
    let digits: String = d.int.chars().chain(d.frac.chars()).collect();
    let point = d.int.len() as i64 + d.exp;
    let (whole, fraction) = if point <= 0 {
        ("", digits.as_str())
    } else if point as usize >= digits.len() {
        (digits.as_str(), "")
    } else {
        digits.split_at(point as usize)
    };
    if fraction.bytes().any(|b| b != b'0') {
        return Err(IntError::Fraction);
    }
    let zeros = if point > 0 && point as usize > digits.len() {
        point as usize - digits.len()
    } else {
        0
    };
    if zeros > 40 {
        return Err(IntError::Range);
    }
    let whole = whole.trim_start_matches('0');
    if whole.is_empty() {
        return Ok(Cow::Borrowed("0"));
    }
    let mut s = String::with_capacity(whole.len() + zeros + 1);
    if d.negative {
        s.push('-');
    }
    s.push_str(whole);
    s.extend(std::iter::repeat_n('0', zeros));
    Ok(Cow::Owned(s))
}

/// The value of `text` when it is plain decimal digits with at most an optional `-`, and at
/// most 18 of them (below 10^18, so no overflow in `i64`), read in one pass; `None` for any
/// other text ("-0" included: an unsigned target refuses it), which takes the general path.
#[inline]
fn small_int(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let (negative, digits) = match bytes.split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, bytes),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut n: i64 = 0;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + i64::from(d);
    }
    match (negative, n) {
        (true, 0) => None,
        (true, n) => Some(-n),
        (false, n) => Some(n),
    }
}

pub(crate) fn int<T: FromStr + TryFrom<i64>, E: de::Error>(text: &str, ty: &str) -> Result<T, E> {
    // Most numbers are short plain integers: read once, no second scan by `from_str`.
    if let Some(n) = small_int(text) {
        return T::try_from(n)
            .map_err(|_| E::custom(format_args!("number {text} is out of range for {ty}")));
    }
    match integer_text(text) {
        Ok(t) => T::from_str(&t)
            .map_err(|_| E::custom(format_args!("number {text} is out of range for {ty}"))),
        Err(IntError::Fraction) => Err(E::custom(format_args!(
            "number {text} is not an integer (expected {ty})"
        ))),
        Err(IntError::Range) => Err(E::custom(format_args!(
            "number {text} is out of range for {ty}"
        ))),
        Err(IntError::NotANumber) => Err(E::custom(format_args!("{text:?} is not a number"))),
    }
}

pub(crate) fn float<T: FromStr + Into<f64> + Copy, E: de::Error>(text: &str) -> Result<T, E> {
    // Rust's parser alone, when what it accepts is what `split` accepts: it also takes `inf`,
    // `nan` and `infinity` (refused by the first byte's check) and exponents beyond
    // `MAX_EXPONENT_TEXT` (refused by `split`); within 64 bytes such an exponent gives 0 or
    // an infinity, which take the general path. So a finite non-zero value from text that
    // starts as a number is exactly the general path's value, without its extra scan.
    let bytes = text.as_bytes();
    let first = match bytes {
        [b'-' | b'+', b, ..] | [b, ..] => *b,
        [] => 0,
    };
    if bytes.len() <= 64 && (first.is_ascii_digit() || first == b'.') {
        if let Ok(t) = T::from_str(text) {
            let v: f64 = t.into();
            if v.is_finite() && v != 0.0 {
                return Ok(t);
            }
        }
    }
    if split(text).is_none() {
        return Err(E::custom(format_args!("{text:?} is not a number")));
    }
    T::from_str(text).map_err(|_| E::custom(format_args!("{text:?} is not a number")))
}

/// `rust_decimal::Decimal` holds a 96-bit integer scaled by at most 28 decimal places, and its
/// serde visitor rounds a longer fraction silently (and refuses a larger integer with a bare
/// "invalid value"). When `v` is that visitor (recognised by the text its `expecting` writes)
/// and `text` does not fit, this is the error naming the problem, so a decode never rounds.
fn would_round<'de, E: de::Error, V: Visitor<'de>>(text: &str, v: &V) -> Option<E> {
    struct Expecting<'v, V>(&'v V);
    impl<'de, V: Visitor<'de>> std::fmt::Display for Expecting<'_, V> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            self.0.expecting(f)
        }
    }
    let d = split(text)?;
    if rust_decimal_holds(&d) {
        return None;
    }
    let expecting = Expecting(v).to_string();
    if !expecting.contains("a Decimal type representing a fixed-point number") {
        return None;
    }
    Some(E::custom(format_args!(
        "number {text} does not fit rust_decimal::Decimal exactly (at most 28 digits after the point, 79228162514264337593543950335 in all): it would be rounded; dynastream::Number holds every DynamoDB number"
    )))
}

/// Whether `rust_decimal::Decimal` holds `d` exactly: mantissa below 2^96, scale at most 28.
fn rust_decimal_holds(d: &Decimal<'_>) -> bool {
    // The usual case without allocating: at most 28 digits and 28 places.
    let int = d.int.trim_start_matches('0');
    let scale = d.frac.len() as i64 - d.exp;
    let significant = if int.is_empty() {
        d.frac.trim_start_matches('0').len()
    } else {
        int.len() + d.frac.len()
    };
    if significant <= 28 && (0..=28).contains(&scale) {
        return true;
    }
    let digits: String = d.int.chars().chain(d.frac.chars()).collect();
    let mut scale = d.frac.len() as i64 - d.exp;
    let mut mantissa = digits.trim_start_matches('0').to_string();
    // Trailing zeros of the fraction are not needed.
    while scale > 0 && mantissa.ends_with('0') {
        mantissa.pop();
        scale -= 1;
    }
    if mantissa.is_empty() {
        return true;
    }
    if scale < 0 {
        if -scale > 30 {
            return false;
        }
        mantissa.extend(std::iter::repeat_n('0', (-scale) as usize));
        scale = 0;
    }
    const MAX: &str = "79228162514264337593543950335";
    scale <= 28
        && (mantissa.len() < MAX.len() || (mantissa.len() == MAX.len() && mantissa.as_str() <= MAX))
}

/// Whether `text` is `-`? then digits with at most one point among them, at least one digit:
/// a number by [`split`]'s rule too, told in one pass with no branch per byte. The numbers of
/// attributes a model does not declare are checked this way first (most are such plain
/// decimals); any other text is left to `split`.
#[inline]
fn plain_decimal(text: &str) -> bool {
    let bytes = text.as_bytes();
    let body = bytes.strip_prefix(b"-").unwrap_or(bytes);
    let (mut points, mut other) = (0usize, false);
    for &b in body {
        points += usize::from(b == b'.');
        other |= !(b.is_ascii_digit() || b == b'.');
    }
    !other && points <= 1 && body.len() > points
}

/// Checks that `text` is a decimal number.
pub(crate) fn validate<E: de::Error>(text: &str) -> Result<(), E> {
    if plain_decimal(text) {
        return Ok(());
    }
    match split(text) {
        Some(_) => Ok(()),
        None => Err(E::custom(format_args!("{text:?} is not a number"))),
    }
}

/// Deserializes the text of one DynamoDB number.
pub(crate) struct NumberDe<'t, E> {
    text: &'t str,
    _e: PhantomData<E>,
}

impl<'t, E> NumberDe<'t, E> {
    pub(crate) fn new(text: &'t str) -> Self {
        NumberDe {
            text,
            _e: PhantomData,
        }
    }
}

impl<'de, E: de::Error> NumberDe<'_, E> {
    fn dispatch<V: Visitor<'de>>(self, want: Want, v: V) -> Result<V::Value, E> {
        let t = self.text;
        match want {
            Want::I8 => v.visit_i8(int(t, "i8")?),
            Want::I16 => v.visit_i16(int(t, "i16")?),
            Want::I32 => v.visit_i32(int(t, "i32")?),
            Want::I64 => v.visit_i64(int(t, "i64")?),
            Want::I128 => v.visit_i128(int(t, "i128")?),
            Want::U8 => v.visit_u8(int(t, "u8")?),
            Want::U16 => v.visit_u16(int(t, "u16")?),
            Want::U32 => v.visit_u32(int(t, "u32")?),
            Want::U64 => v.visit_u64(int(t, "u64")?),
            Want::U128 => v.visit_u128(int(t, "u128")?),
            Want::F32 => v.visit_f32(float(t)?),
            Want::F64 => v.visit_f64(float(t)?),
            // Untyped targets (serde_json::Value, untagged enums, decimal types): integers as
            // integers, everything else as its exact decimal text.
            Want::Any => {
                validate::<E>(t)?;
                if let Ok(i) = i64::from_str(t) {
                    v.visit_i64(i)
                } else if let Ok(u) = u64::from_str(t) {
                    v.visit_u64(u)
                } else {
                    if let Some(e) = would_round::<E, V>(t, &v) {
                        return Err(e);
                    }
                    v.visit_str(t)
                }
            }
            Want::Option => v.visit_some(self),
            Want::NewtypeStruct(_) => v.visit_newtype_struct(self),
            Want::IgnoredAny => {
                validate::<E>(t)?;
                v.visit_unit()
            }
            _ => Err(E::invalid_type(Unexpected::Other("number"), &v)),
        }
    }
}

impl<'de, E: de::Error> Deserializer<'de> for NumberDe<'_, E> {
    type Error = E;
    dispatch_methods!();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn it(t: &str) -> Result<String, &'static str> {
        integer_text(t)
            .map(|c| c.into_owned())
            .map_err(|e| match e {
                IntError::NotANumber => "nan",
                IntError::Fraction => "fraction",
                IntError::Range => "range",
            })
    }

    #[test]
    fn integer_text_is_exact() {
        assert_eq!(it("42").unwrap(), "42");
        assert_eq!(it("-42").unwrap(), "-42");
        assert_eq!(it("1E+2").unwrap(), "100");
        assert_eq!(it("1.5E1").unwrap(), "15");
        assert_eq!(it("5.000").unwrap(), "5");
        assert_eq!(it("-0.0").unwrap(), "0");
        assert_eq!(it("0E-5").unwrap(), "0");
        assert_eq!(it("1.5"), Err("fraction"));
        assert_eq!(it("15E-1"), Err("fraction"));
        assert_eq!(it("1E+100"), Err("range"));
        assert_eq!(it("abc"), Err("nan"));
        assert_eq!(it(""), Err("nan"));
        assert_eq!(it("1e"), Err("nan"));
        assert_eq!(it("1.2.3"), Err("nan"));
        assert_eq!(it("1e5e3"), Err("nan"));
        assert_eq!(it("1E++5"), Err("nan"));
        assert_eq!(it("1E+-5"), Err("nan"));
        assert_eq!(it("1E-+5"), Err("nan"));
        assert_eq!(it("1E+"), Err("nan"));
        assert_eq!(it("1E+05").unwrap(), "100000");
        // Found in review: exponents near i64's ends overflowed the readers' arithmetic.
        assert_eq!(it("1e-9223372036854775808"), Err("nan"));
        assert_eq!(it("1e9223372036854775807"), Err("nan"));
        assert_eq!(it("1e1000001"), Err("nan"));
        assert_eq!(it("0e1000000"), Ok("0".into()));
        assert_eq!(it("."), Err("nan"));
        assert_eq!(it("+7"), Ok("7".into()));
    }

    #[test]
    fn rust_decimal_limits() {
        for (t, fits) in [
            ("1.5", true),
            ("79228162514264337593543950335", true),
            ("79228162514264337593543950336", false),
            ("0.1234567890123456789012345678", true),
            ("0.12345678901234567890123456789", false),
            ("1.50000000000000000000000000000000", true),
            ("1E+28", true),
            ("1E+29", false),
            ("12345678901234567890.123456789012345678", false),
            ("0", true),
        ] {
            assert_eq!(rust_decimal_holds(&split(t).unwrap()), fits, "{t}");
        }
    }

    #[test]
    fn ints_refuse_fractions_and_overflow() {
        type E = serde::de::value::Error;
        assert_eq!(int::<u8, E>("255", "u8").unwrap(), 255);
        assert!(int::<u8, E>("256", "u8")
            .unwrap_err()
            .to_string()
            .contains("out of range for u8"));
        assert!(int::<u32, E>("-1", "u32").is_err());
        assert!(int::<i64, E>("3.5", "i64")
            .unwrap_err()
            .to_string()
            .contains("not an integer"));
        let big = "99999999999999999999999999999999999999";
        assert_eq!(int::<i128, E>(big, "i128").unwrap().to_string(), big);
        assert!(int::<i64, E>(big, "i64").is_err());
    }

    /// The general path the fast ones stand in for: `integer_text` then `from_str`; `split`
    /// then `from_str`.
    fn int_general<T: FromStr>(text: &str) -> Option<T> {
        integer_text(text).ok().and_then(|t| T::from_str(&t).ok())
    }
    fn float_general<T: FromStr>(text: &str) -> Option<T> {
        split(text).and_then(|_| T::from_str(text).ok())
    }

    /// Every fast path gives what the general path gives, value or refusal: numbers near the
    /// edges (signs, zeros, 18 and 19 digits, exponents at and past the limit, `inf`/`nan`).
    fn same_as_general(t: &str) {
        type E = serde::de::value::Error;
        assert_eq!(
            int::<i64, E>(t, "i64").ok(),
            int_general::<i64>(t),
            "i64 {t:?}"
        );
        assert_eq!(
            int::<u32, E>(t, "u32").ok(),
            int_general::<u32>(t),
            "u32 {t:?}"
        );
        assert_eq!(
            int::<u64, E>(t, "u64").ok(),
            int_general::<u64>(t),
            "u64 {t:?}"
        );
        assert_eq!(int::<i8, E>(t, "i8").ok(), int_general::<i8>(t), "i8 {t:?}");
        let bits = |v: Option<f64>| v.map(f64::to_bits);
        assert_eq!(
            bits(float::<f64, E>(t).ok()),
            bits(float_general(t)),
            "f64 {t:?}"
        );
        let bits32 = |v: Option<f32>| v.map(f32::to_bits);
        assert_eq!(
            bits32(float::<f32, E>(t).ok()),
            bits32(float_general(t)),
            "f32 {t:?}"
        );
    }

    /// The one-pass integer reader takes the plain forms and leaves every other to the
    /// general path (the agreement tests below pass either way; this one does not).
    #[test]
    fn plain_integers_take_the_one_pass_reader() {
        assert_eq!(small_int("7"), Some(7));
        assert_eq!(small_int("-7"), Some(-7));
        assert_eq!(small_int("007"), Some(7));
        assert_eq!(
            small_int("999999999999999999"),
            Some(999_999_999_999_999_999)
        );
        for general in ["-0", "+7", "1.0", "1e3", "", "-", "1000000000000000000"] {
            assert_eq!(small_int(general), None, "{general:?}");
        }
    }

    #[test]
    fn fast_paths_agree_with_the_general_path() {
        for t in [
            "0",
            "-0",
            "00",
            "-00",
            "7",
            "-7",
            "+7",
            "007",
            "-007",
            "255",
            "256",
            "-128",
            "-129",
            "4294967295",
            "4294967296",
            "999999999999999999",
            "-999999999999999999",
            "1000000000000000000",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "18446744073709551615",
            "18446744073709551616",
            "",
            "-",
            "+",
            "1.5",
            "-1.5",
            ".5",
            "5.",
            "-.5",
            "+.5",
            ".",
            "1e5",
            "1E+5",
            "1e-5",
            "1e1000000",
            "1e1000001",
            "1e-1000001",
            "0e1000001",
            "1e",
            "1e+",
            "inf",
            "-inf",
            "+inf",
            "nan",
            "NaN",
            "infinity",
            "-Infinity",
            "1.7976931348623157e308",
            "1.8e308",
            "1e-330",
            "4.9e-324",
            "3.4028235e38",
            "3.5e38",
            "1e-46",
            "1002.0060180541625",
            "-0.0",
            "0.0",
            "1_000",
            " 1",
            "1 ",
            "0x10",
            "1.2.3",
            "--1",
            "1e5e3",
            "١",
        ] {
            same_as_general(t);
        }
    }

    /// The plain-decimal check accepts only what `split` accepts, and takes the usual forms.
    #[test]
    fn plain_decimals_are_numbers() {
        for t in ["0", "12", "-3", "2.5", "-0.125", "1.", ".5", "-.5", "007"] {
            assert!(plain_decimal(t), "{t:?}");
            assert!(split(t).is_some(), "{t:?}");
        }
        for t in [
            "", "-", ".", "-.", "1.2.3", "--1", "+1", "1e5", "1E+2", " 1", "1 ", "١",
        ] {
            assert!(!plain_decimal(t), "{t:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn plain_decimal_implies_split(t in "[-+.eE0-9 ]{0,12}") {
            if plain_decimal(&t) {
                proptest::prop_assert!(split(&t).is_some(), "{:?}", t);
            }
        }

        #[test]
        fn fast_paths_agree_on_number_like_text(t in "[-+]?[0-9]{0,20}(\\.[0-9]{0,20})?([eE][-+]?[0-9]{0,8})?") {
            same_as_general(&t);
        }

        #[test]
        fn fast_paths_agree_on_floats(v in proptest::num::f64::ANY) {
            same_as_general(&v.to_string());
            same_as_general(&format!("{v:e}"));
        }
    }
}
