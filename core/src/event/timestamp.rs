//! `ApproximateCreationDateTime`, exact.

use std::fmt;

/// The last second of the year 9999 (`9999-12-31T23:59:59Z`), as epoch seconds: the latest
/// `ApproximateCreationDateTime` taken (a later one is a time in a finer unit read as seconds).
pub const LATEST_SECS: i64 = 253_402_300_799;

/// The unit of an epoch time: what `ApproximateCreationDateTimePrecision` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimePrecision {
    /// Seconds (DynamoDB Streams; no precision given).
    Second,
    /// Milliseconds (`MILLISECOND`).
    Millisecond,
    /// Microseconds (`MICROSECOND`).
    Microsecond,
}

impl TimePrecision {
    /// Decimal digits below a second.
    fn digits(self) -> i64 {
        match self {
            TimePrecision::Second => 0,
            TimePrecision::Millisecond => 3,
            TimePrecision::Microsecond => 6,
        }
    }

    fn name(self) -> &'static str {
        match self {
            TimePrecision::Second => "seconds",
            TimePrecision::Millisecond => "milliseconds",
            TimePrecision::Microsecond => "microseconds",
        }
    }
}

/// `ApproximateCreationDateTime`, exact to the nanosecond (the stream sends epoch seconds,
/// with a fraction on some sources).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    secs: i64,
    nanos: u32,
}

impl Timestamp {
    /// From epoch seconds and nanoseconds (`nanos < 1_000_000_000`).
    pub fn new(secs: i64, nanos: u32) -> Option<Self> {
        (nanos < 1_000_000_000).then_some(Timestamp { secs, nanos })
    }

    /// Parses epoch seconds written as a JSON number (`1479499740`, `1700000000.907`,
    /// `1.700000000907E9`) without going through floating point. Digits past nanoseconds are
    /// truncated.
    pub fn from_epoch_seconds_text(text: &str) -> Option<Self> {
        Self::from_epoch_text(text, TimePrecision::Second)
    }

    /// Parses an epoch time in `unit` written as a JSON number (`1763200000123` milliseconds),
    /// exactly: the decimal point is moved, never a float divided. Digits past nanoseconds are
    /// truncated; `None` for a negative value or whole seconds beyond `i64`.
    pub fn from_epoch_text(text: &str, unit: TimePrecision) -> Option<Self> {
        Self::plain_epoch_text(text, unit).or_else(|| Self::any_epoch_text(text, unit))
    }

    /// [`Timestamp::from_epoch_text`] for the forms AWS sends (`1763000000.125` seconds on
    /// DynamoDB Streams, `1763000000125000` microseconds on Kinesis), read in one pass: plain
    /// digits with at most one point, at most 18 of them before it and 9 after, and when the
    /// unit is not seconds no point. `None` for any other text, which
    /// [`Timestamp::any_epoch_text`] then reads; where this gives a time, that one gives the
    /// same (a property test holds the two together).
    #[inline]
    fn plain_epoch_text(text: &str, unit: TimePrecision) -> Option<Self> {
        let bytes = text.as_bytes();
        let (int, frac) = match bytes.iter().position(|&b| b == b'.') {
            Some(p) => (&bytes[..p], &bytes[p + 1..]),
            None => (bytes, &[][..]),
        };
        let shift = unit.digits() as usize;
        if int.is_empty()
            || int.len() > 18
            || frac.len() > 9
            || (shift > 0 && (int.len() <= shift || text.len() != int.len()))
        {
            return None;
        }
        // At most 18 digits: below 10^18, no overflow.
        let digits = |run: &[u8]| {
            run.iter().try_fold(0u64, |acc, &b| {
                let d = b.wrapping_sub(b'0');
                (d <= 9).then(|| acc * 10 + u64::from(d))
            })
        };
        let (value, nanos) = (digits(int)?, digits(frac)?);
        // Seconds: the fraction's digits, scaled to nine. Milliseconds or microseconds: the
        // integer's last three or six digits are the fraction of a second.
        let scale = 10u64.pow((9 - frac.len().max(shift)) as u32);
        let (secs, nanos) = match shift {
            0 => (value, nanos * scale),
            _ => {
                let per_second = 10u64.pow(shift as u32);
                (value / per_second, (value % per_second) * scale)
            }
        };
        Some(Timestamp {
            secs: i64::try_from(secs).ok()?,
            nanos: u32::try_from(nanos).ok()?,
        })
    }

    /// [`Timestamp::from_epoch_text`] for any JSON number (`1.700000000907E9`, `-0`, `.5`).
    fn any_epoch_text(text: &str, unit: TimePrecision) -> Option<Self> {
        let mut d = crate::decode::number::split(text)?;
        if d.negative {
            return None;
        }
        d.exp = d.exp.checked_sub(unit.digits())?;
        if d.exp == 0 {
            // The common form (`1700000000.907`): the point is where it is written.
            if d.int.len() > 18 {
                return None;
            }
            let digits = |acc: u64, b: &u8| acc * 10 + u64::from(b - b'0');
            let secs = d.int.as_bytes().iter().fold(0, digits);
            let frac = d.frac.as_bytes();
            let shown = frac.get(..9).unwrap_or(frac);
            let nanos = shown.iter().fold(0, digits) * 10u64.pow(9 - shown.len() as u32);
            return Some(Timestamp {
                secs: i64::try_from(secs).ok()?,
                nanos: u32::try_from(nanos).ok()?,
            });
        }
        // Where the decimal point falls among the digits; whole seconds must fit in i64.
        let point = (d.int.len() as i64).checked_add(d.exp)?;
        if point > 18 {
            return None;
        }
        let secs = (0..point).fold(0i64, |acc, i| acc * 10 + i64::from(d.digit(i)));
        let nanos = (point..point + 9).fold(0u32, |acc, i| acc * 10 + u32::from(d.digit(i)));
        Some(Timestamp { secs, nanos })
    }

    /// Reads `ApproximateCreationDateTime` as the record carries it, with the record's
    /// `ApproximateCreationDateTimePrecision` (`MILLISECOND`, `MICROSECOND`; absent: seconds, as
    /// DynamoDB Streams sends it, while Kinesis-delivered records say their unit).
    ///
    /// Never a silently wrong time (docs/semantics.md, "Decoding"): the error names the field
    /// and why when the value is not a non-negative number, when the precision is one AWS does
    /// not define, or when the time falls after the year 9999 — which is what a millisecond
    /// value read as seconds does (`1763200000123` s is in the year 57843).
    ///
    /// ```
    /// # extern crate dynastream_core as dynastream;
    /// use dynastream::Timestamp;
    /// let t = Timestamp::from_creation_date_time("1763200000123", Some("MILLISECOND")).unwrap();
    /// assert_eq!(t.to_string(), "2025-11-15T09:46:40.123Z");
    /// let e = Timestamp::from_creation_date_time("1763200000123", None).unwrap_err();
    /// assert!(e.to_string().contains("ApproximateCreationDateTimePrecision"), "{e}");
    /// ```
    pub fn from_creation_date_time(
        text: &str,
        precision: Option<&str>,
    ) -> Result<Self, TimestampError> {
        let unit = match precision {
            None => TimePrecision::Second,
            Some("MILLISECOND") => TimePrecision::Millisecond,
            Some("MICROSECOND") => TimePrecision::Microsecond,
            Some(other) => {
                return Err(TimestampError::UnknownPrecision {
                    precision: other.to_string(),
                })
            }
        };
        let t = Self::from_epoch_text(text, unit).ok_or_else(|| TimestampError::NotATime {
            text: text.to_string(),
            unit,
        })?;
        if t.secs > LATEST_SECS {
            return Err(TimestampError::AfterYear9999 {
                text: text.to_string(),
                unit,
                precision_given: precision.is_some(),
            });
        }
        Ok(t)
    }

    /// Seconds since the Unix epoch.
    pub fn unix_seconds(&self) -> i64 {
        self.secs
    }

    /// The sub-second part in nanoseconds.
    pub fn subsec_nanos(&self) -> u32 {
        self.nanos
    }

    /// Epoch seconds as a JSON number with only the significant fraction digits, exact: the
    /// inverse of [`Timestamp::from_epoch_seconds_text`] (`1479499740`, `5.000000001`).
    pub fn epoch_seconds_text(&self) -> String {
        if self.nanos == 0 {
            return self.secs.to_string();
        }
        let frac = format!("{:09}", self.nanos);
        format!("{}.{}", self.secs, frac.trim_end_matches('0'))
    }

    /// As a `SystemTime`.
    pub fn to_system_time(&self) -> std::time::SystemTime {
        let d = std::time::Duration::new(self.secs.unsigned_abs(), self.nanos);
        if self.secs >= 0 {
            std::time::UNIX_EPOCH + d
        } else {
            std::time::UNIX_EPOCH - std::time::Duration::from_secs(self.secs.unsigned_abs())
                + std::time::Duration::from_nanos(self.nanos.into())
        }
    }
}

/// RFC 3339 in UTC with only the significant fraction digits: `2016-11-18T20:09:00.907Z`.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.secs.div_euclid(86_400);
        let rem = self.secs.rem_euclid(86_400);
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )?;
        if self.nanos > 0 {
            let frac = format!("{:09}", self.nanos);
            write!(f, ".{}", frac.trim_end_matches('0'))?;
        }
        f.write_str("Z")
    }
}

/// Why an `ApproximateCreationDateTime` cannot be the time it claims to be
/// ([`Timestamp::from_creation_date_time`]); the record fails alone, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// `ApproximateCreationDateTimePrecision` is not one AWS defines.
    #[error(
        "ApproximateCreationDateTimePrecision {precision:?} is not MILLISECOND or MICROSECOND"
    )]
    UnknownPrecision {
        /// The precision given.
        precision: String,
    },
    /// The value is not a non-negative number.
    #[error("ApproximateCreationDateTime {text} is not a non-negative epoch time in {}", unit.name())]
    NotATime {
        /// The value as sent.
        text: String,
        /// The unit it was read in.
        unit: TimePrecision,
    },
    /// The value read in its unit falls after the year 9999: what a millisecond value read
    /// as seconds gives (the year 57843).
    #[error("ApproximateCreationDateTime {text} is after the year 9999 read as epoch {}{}", unit.name(), if *precision_given { "" } else { ": a time in milliseconds or microseconds needs ApproximateCreationDateTimePrecision" })]
    AfterYear9999 {
        /// The value as sent.
        text: String,
        /// The unit it was read in.
        unit: TimePrecision,
        /// Whether `ApproximateCreationDateTimePrecision` was given.
        precision_given: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const UNITS: [TimePrecision; 3] = [
        TimePrecision::Second,
        TimePrecision::Millisecond,
        TimePrecision::Microsecond,
    ];

    #[test]
    fn the_forms_aws_sends_take_the_one_pass_reading() {
        let cases = [
            (
                "1763000000.125",
                TimePrecision::Second,
                1_763_000_000,
                125_000_000,
            ),
            ("1479499740", TimePrecision::Second, 1_479_499_740, 0),
            (
                "1700000000.907000001",
                TimePrecision::Second,
                1_700_000_000,
                907_000_001,
            ),
            (
                "1763000000125",
                TimePrecision::Millisecond,
                1_763_000_000,
                125_000_000,
            ),
            (
                "1763000000125007",
                TimePrecision::Microsecond,
                1_763_000_000,
                125_007_000,
            ),
        ];
        for (text, unit, secs, nanos) in cases {
            let want = Timestamp::new(secs, nanos);
            assert_eq!(Timestamp::plain_epoch_text(text, unit), want, "{text}");
            assert_eq!(Timestamp::any_epoch_text(text, unit), want, "{text}");
            assert_eq!(Timestamp::from_epoch_text(text, unit), want, "{text}");
        }
        // Other forms are left to the general reading, which still reads them.
        for (text, unit) in [
            ("1.7E9", TimePrecision::Second),
            (".5", TimePrecision::Second),
            ("1763000000.1250000001", TimePrecision::Second),
            ("1763000000.5", TimePrecision::Millisecond),
            ("125", TimePrecision::Millisecond),
        ] {
            assert_eq!(Timestamp::plain_epoch_text(text, unit), None, "{text}");
            assert!(Timestamp::from_epoch_text(text, unit).is_some(), "{text}");
        }
    }

    #[test]
    fn one_pass_and_general_readings_agree_at_the_edges() {
        let texts = [
            "",
            ".",
            "0",
            "00",
            "0.",
            "1.",
            "-1",
            "+1",
            "1..2",
            "1.2.3",
            "999999999999999999",
            "9999999999999999999",
            "999999999999999999.999999999",
            "9223372036854775807",
            "18446744073709551616",
            "1e3",
            "12a",
            "1 ",
            " 1",
            "١٢",
        ];
        for text in texts {
            for unit in UNITS {
                if let Some(t) = Timestamp::plain_epoch_text(text, unit) {
                    assert_eq!(
                        Some(t),
                        Timestamp::any_epoch_text(text, unit),
                        "{text:?} {unit:?}"
                    );
                }
            }
        }
    }

    proptest! {
        /// The one-pass reading gives a time only where the general one gives the same.
        #[test]
        fn one_pass_reading_agrees_with_the_general_one(
            text in "[0-9.+eE-]{0,30}",
            unit in 0usize..3,
        ) {
            let unit = UNITS[unit];
            if let Some(t) = Timestamp::plain_epoch_text(&text, unit) {
                prop_assert_eq!(Some(t), Timestamp::any_epoch_text(&text, unit));
            }
        }

        /// Times as AWS writes them: the one-pass reading takes every one of up to 18 integer
        /// digits, and gives what the general one gives.
        #[test]
        fn aws_forms_agree(secs in 0u64..=999_999_999_999, frac in "[0-9]{0,9}", unit in 0usize..3) {
            let unit = UNITS[unit];
            let text = match unit {
                TimePrecision::Second if !frac.is_empty() => format!("{secs}.{frac}"),
                _ => format!("{secs}{frac}"),
            };
            let fast = Timestamp::plain_epoch_text(&text, unit);
            if fast.is_some() {
                prop_assert_eq!(fast, Timestamp::any_epoch_text(&text, unit));
            }
            let int_len = text.find('.').unwrap_or(text.len());
            if int_len <= 18 && (unit == TimePrecision::Second || int_len > unit.digits() as usize) {
                prop_assert!(fast.is_some(), "{} {:?}", text, unit);
            }
        }
    }
}
