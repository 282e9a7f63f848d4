//! The DynamoDB Streams event as Lambda delivers it, read lazily: the envelope and `Keys` of
//! every record, with `NewImage` / `OldImage` kept as unparsed JSON until a handler needs them.
//! (The router's own pass goes one step further: an image whose record's keys are already
//! known is decoded into its model as the pass reaches it, so it is read once; see `scan`.)
//!
//! Accepts what AWS sends, what `sam local generate-event dynamodb` writes, and moto's
//! `GetRecords` output with `eventSourceARN` added.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::decode::attr::{CowStr, Tag};
use crate::error::EventError;

mod scan;

pub(crate) use scan::{ImageHook, ImageStore, Predecoded};

/// INSERT, MODIFY or REMOVE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChangeKind {
    /// A new item (`INSERT`).
    Insert,
    /// An existing item changed (`MODIFY`).
    Modify,
    /// An item was deleted, by a client or by TTL (`REMOVE`).
    Remove,
}

impl ChangeKind {
    /// The stream's name for the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Insert => "INSERT",
            ChangeKind::Modify => "MODIFY",
            ChangeKind::Remove => "REMOVE",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "INSERT" => Some(ChangeKind::Insert),
            "MODIFY" => Some(ChangeKind::Modify),
            "REMOVE" => Some(ChangeKind::Remove),
            _ => None,
        }
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which images the stream carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StreamViewType {
    /// Only the key attributes.
    KeysOnly,
    /// The item after the change.
    NewImage,
    /// The item before the change.
    OldImage,
    /// Both.
    NewAndOldImages,
    /// A value this version does not know.
    Other(String),
}

impl StreamViewType {
    fn parse(s: &str) -> Self {
        match s {
            "KEYS_ONLY" => StreamViewType::KeysOnly,
            "NEW_IMAGE" => StreamViewType::NewImage,
            "OLD_IMAGE" => StreamViewType::OldImage,
            "NEW_AND_OLD_IMAGES" => StreamViewType::NewAndOldImages,
            other => StreamViewType::Other(other.to_string()),
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
        let d = crate::decode::number::split(text)?;
        if d.negative {
            return None;
        }
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

/// A key attribute's value as the stream sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyValue<'a> {
    /// A string key.
    S(Cow<'a, str>),
    /// A number key (its decimal text).
    N(Cow<'a, str>),
    /// A binary key (its base64 text).
    B(Cow<'a, str>),
}

impl KeyValue<'_> {
    /// The string value, if this is an `S` key.
    pub fn as_s(&self) -> Option<&str> {
        match self {
            KeyValue::S(s) => Some(s),
            _ => None,
        }
    }

    /// An owned copy.
    pub fn into_owned(self) -> KeyValue<'static> {
        match self {
            KeyValue::S(s) => KeyValue::S(Cow::Owned(s.into_owned())),
            KeyValue::N(s) => KeyValue::N(Cow::Owned(s.into_owned())),
            KeyValue::B(s) => KeyValue::B(Cow::Owned(s.into_owned())),
        }
    }
}

impl fmt::Display for KeyValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyValue::S(s) => write!(f, "{s:?}"),
            KeyValue::N(s) => write!(f, "N:{s}"),
            KeyValue::B(s) => write!(f, "B:{s}"),
        }
    }
}

/// A key attribute: its name and value.
pub type KeyAttribute<'a> = (Cow<'a, str>, KeyValue<'a>);

/// A record's `Keys`: attribute name → value, in the order sent.
///
/// A table's key has one or two attributes, held inline; more (which DynamoDB never sends)
/// go to the heap. Build one with [`Keys::push`] or `collect()`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keys<'a> {
    head: [Option<KeyAttribute<'a>>; 2],
    rest: Vec<KeyAttribute<'a>>,
}

impl<'a> Keys<'a> {
    /// Adds an attribute after the others.
    pub fn push(&mut self, name: Cow<'a, str>, value: KeyValue<'a>) {
        match self.head.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) => *slot = Some((name, value)),
            None => self.rest.push((name, value)),
        }
    }

    /// The attributes in the order sent.
    pub fn iter(&self) -> impl Iterator<Item = &KeyAttribute<'a>> + '_ {
        self.head.iter().flatten().chain(&self.rest)
    }

    /// How many attributes there are.
    pub fn len(&self) -> usize {
        self.head.iter().flatten().count() + self.rest.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.head[0].is_none()
    }

    /// The value of key attribute `name`.
    pub fn get(&self, name: &str) -> Option<&KeyValue<'a>> {
        self.iter()
            .find(|(n, _)| crate::bytes::same(n.as_bytes(), name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// The string value of key attribute `name`.
    pub fn s(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(KeyValue::as_s)
    }

    /// An owned copy.
    pub fn into_owned(self) -> Keys<'static> {
        self.head
            .into_iter()
            .flatten()
            .chain(self.rest)
            .map(|(n, v)| (Cow::Owned(n.into_owned()), v.into_owned()))
            .collect()
    }
}

impl<'a> FromIterator<KeyAttribute<'a>> for Keys<'a> {
    fn from_iter<I: IntoIterator<Item = KeyAttribute<'a>>>(iter: I) -> Self {
        let mut keys = Keys::default();
        for (name, value) in iter {
            keys.push(name, value);
        }
        keys
    }
}

impl fmt::Display for Keys<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (n, v)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{n}={v}")?;
        }
        Ok(())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Keys<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Keys<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of key attributes")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys<'de>, A::Error> {
                let mut out = Keys::default();
                while let Some(CowStr(name)) = map.next_key::<CowStr<'de>>()? {
                    let value: KeyAttr<'de> = map.next_value()?;
                    out.push(name, value.0);
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

struct KeyAttr<'a>(KeyValue<'a>);

impl<'de> Deserialize<'de> for KeyAttr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyAttr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key attribute value ({\"S\": ...}, {\"N\": ...} or {\"B\": ...})")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<KeyAttr<'de>, A::Error> {
                let Some(tag) = map.next_key::<Tag>()? else {
                    return Err(de::Error::custom("key attribute has no type tag"));
                };
                let make: fn(Cow<'de, str>) -> KeyValue<'de> = match tag {
                    Tag::S => KeyValue::S,
                    Tag::N => KeyValue::N,
                    Tag::B => KeyValue::B,
                    other => {
                        return Err(de::Error::custom(format_args!(
                            "key attribute of type {other:?}; keys are S, N or B"
                        )))
                    }
                };
                let v = make(map.next_value::<CowStr<'de>>()?.0);
                if map.next_key::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom(
                        "key attribute has more than one type tag",
                    ));
                }
                Ok(KeyAttr(v))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Deserialize)]
struct UserIdentity<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(rename = "principalId", borrow, default)]
    principal_id: Option<Cow<'a, str>>,
}

/// An image's JSON text, as read from the event (serde_json checked it is JSON).
struct Image<'a>(&'a str);

impl<'de: 'a, 'a> Deserialize<'de> for Image<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <&'de RawValue>::deserialize(d).map(|raw| Image(raw.get()))
    }
}

#[derive(Deserialize)]
struct StreamRecord<'a> {
    #[serde(rename = "ApproximateCreationDateTime", borrow, default)]
    approximate_creation_date_time: Option<&'a RawValue>,
    #[serde(rename = "Keys", borrow, default)]
    keys: Keys<'a>,
    #[serde(rename = "NewImage", borrow, default)]
    new_image: Option<Image<'a>>,
    #[serde(rename = "OldImage", borrow, default)]
    old_image: Option<Image<'a>>,
    #[serde(rename = "SequenceNumber", borrow)]
    sequence_number: Cow<'a, str>,
    #[serde(rename = "SizeBytes", default)]
    size_bytes: Option<u64>,
    #[serde(rename = "StreamViewType", borrow, default)]
    stream_view_type: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct WireRecord<'a> {
    #[serde(rename = "eventID", borrow, default)]
    event_id: Option<Cow<'a, str>>,
    #[serde(rename = "eventName", borrow, default)]
    event_name: Option<Cow<'a, str>>,
    #[serde(rename = "eventSourceARN", borrow, default)]
    event_source_arn: Option<Cow<'a, str>>,
    #[serde(rename = "awsRegion", borrow, default)]
    aws_region: Option<Cow<'a, str>>,
    #[serde(rename = "userIdentity", borrow, default)]
    user_identity: Option<UserIdentity<'a>>,
    #[serde(borrow)]
    dynamodb: StreamRecord<'a>,
}

#[derive(Deserialize)]
struct WireEvent<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<WireRecord<'a>>,
}

#[derive(Deserialize)]
struct LooseEvent<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct SequenceOnly {
    dynamodb: SequenceOnlyInner,
}

#[derive(Deserialize)]
struct SequenceOnlyInner {
    #[serde(rename = "SequenceNumber")]
    sequence_number: String,
}

/// The traits of a type that reads as a `str` (by its `as_str`): deref, borrow, comparison
/// with text, formatting like a `str` (`Debug` quoted, so values print as `String`s did) and
/// serializing as a string.
macro_rules! reads_as_str {
    ($t:ty) => {
        impl std::ops::Deref for $t {
            type Target = str;

            fn deref(&self) -> &str {
                self.as_str()
            }
        }

        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl std::borrow::Borrow<str> for $t {
            fn borrow(&self) -> &str {
                self.as_str()
            }
        }

        impl From<$t> for String {
            fn from(s: $t) -> Self {
                s.as_str().to_string()
            }
        }

        impl PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl PartialEq<String> for $t {
            fn eq(&self, other: &String) -> bool {
                self.as_str() == other.as_str()
            }
        }

        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.as_str(), f)
            }
        }

        /// Honors width, alignment and precision, as a `str` does (`{:<28}`).
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

reads_as_str!(SharedStr);
reads_as_str!(SequenceNumber);

/// Text from a batch's envelope that records and reports share: the text of all of a batch's
/// sequence numbers and event ids is one allocation, and each value is a range of it, so
/// reading a batch does not allocate per value and cloning is a reference-count increment.
/// Reads as a `str`; compares, orders and hashes as its text.
///
/// ```
/// # extern crate dynastream_core as dynastream;
/// use dynastream::event::SharedStr;
///
/// let id = SharedStr::from("c81e728d9d4c2f636f067f89cc14862c");
/// assert_eq!(id, "c81e728d9d4c2f636f067f89cc14862c");
/// assert_eq!(id.clone().len(), 32);
/// assert_eq!(id.to_string(), id.as_str());
/// ```
#[derive(Clone)]
pub struct SharedStr {
    text: Arc<str>,
    /// The value's range of `text`; `end == WHOLE` means all of it (a value too long for a
    /// `u32` range, made on its own).
    start: u32,
    end: u32,
}

const WHOLE: u32 = u32::MAX;

impl SharedStr {
    /// The text.
    pub fn as_str(&self) -> &str {
        if self.end == WHOLE {
            &self.text
        } else {
            // Ranges are made by `BatchText`, on character boundaries of the text it made.
            self.text
                .get(self.start as usize..self.end as usize)
                .unwrap_or_default()
        }
    }
}

impl From<&str> for SharedStr {
    fn from(text: &str) -> Self {
        SharedStr::whole(Arc::from(text))
    }
}

impl From<String> for SharedStr {
    fn from(text: String) -> Self {
        SharedStr::whole(Arc::from(text))
    }
}

impl SharedStr {
    fn whole(text: Arc<str>) -> Self {
        let end = u32::try_from(text.len()).ok().filter(|&n| n != WHOLE);
        SharedStr {
            text,
            start: 0,
            end: end.unwrap_or(WHOLE),
        }
    }
}

impl PartialEq for SharedStr {
    fn eq(&self, other: &SharedStr) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for SharedStr {}

impl PartialOrd for SharedStr {
    fn partial_cmp(&self, other: &SharedStr) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SharedStr {
    fn cmp(&self, other: &SharedStr) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

/// As its text, so that it agrees with [`Borrow<str>`](std::borrow::Borrow).
impl std::hash::Hash for SharedStr {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

/// Collects a batch's shared text while its records are read; [`BatchText::finish`] then
/// makes it one allocation and points every record's values at it. Until then the records'
/// values are ranges of a text that does not exist yet, so nothing may read them: only
/// [`parse_batch_with`] (and tests) hold a `BatchText`.
pub(crate) struct BatchText {
    buf: String,
    /// An empty text the pending values point at until `finish`.
    pending: Arc<str>,
}

impl BatchText {
    pub(crate) fn new() -> Self {
        BatchText {
            buf: String::new(),
            pending: Arc::from(""),
        }
    }

    /// A value to be made shared by `finish`.
    fn add(&mut self, text: &str) -> SharedStr {
        let start = u32::try_from(self.buf.len()).ok();
        let end = u32::try_from(self.buf.len() + text.len()).ok();
        match (start, end) {
            (Some(start), Some(end)) if end != WHOLE => {
                self.buf.push_str(text);
                SharedStr {
                    text: Arc::clone(&self.pending),
                    start,
                    end,
                }
            }
            // Past 4 GiB of text (Lambda's payload limit is 6 MB): a value of its own.
            _ => SharedStr::from(text),
        }
    }

    /// Makes the collected text one shared allocation and points the entries' values at it.
    pub(crate) fn finish(self, entries: &mut [Entry<'_>]) {
        if self.buf.is_empty() {
            return;
        }
        let text: Arc<str> = Arc::from(self.buf);
        let point = |s: &mut SharedStr| {
            if Arc::ptr_eq(&s.text, &self.pending) {
                s.text = Arc::clone(&text);
            }
        };
        for e in entries {
            if let Entry::Record(r) = e {
                point(&mut r.meta.sequence_number.0);
                if let Some(id) = &mut r.meta.event_id {
                    point(id);
                }
            }
        }
    }
}

/// A record's `dynamodb.SequenceNumber`: the identifier Lambda's batch response names a failed
/// record by. The record's metadata (handed to the handler) and its line in the batch report
/// share one copy of the text (with the rest of the batch's, see [`SharedStr`]); cloning is a
/// reference-count increment. Reads as a `str`.
///
/// ```
/// # extern crate dynastream_core as dynastream;
/// use dynastream::SequenceNumber;
///
/// let seq = SequenceNumber::from("4420000000000000001");
/// let report_copy = seq.clone();
/// assert_eq!(report_copy, "4420000000000000001");
/// assert!(seq.starts_with("442"));
/// assert_eq!(seq.to_string(), "4420000000000000001");
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SequenceNumber(SharedStr);

impl SequenceNumber {
    /// The text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl From<&str> for SequenceNumber {
    fn from(text: &str) -> Self {
        SequenceNumber(SharedStr::from(text))
    }
}

impl From<String> for SequenceNumber {
    fn from(text: String) -> Self {
        SequenceNumber(SharedStr::from(text))
    }
}

/// Everything about a record except its images, owned; handed to handlers with the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMeta {
    /// `eventID`.
    pub event_id: Option<SharedStr>,
    /// `dynamodb.SequenceNumber`: the identifier Lambda's batch response uses.
    pub sequence_number: SequenceNumber,
    /// `dynamodb.ApproximateCreationDateTime`, exact; `None` when absent.
    pub approximate_creation_time: Option<Timestamp>,
    /// `dynamodb.SizeBytes`.
    pub size_bytes: Option<u64>,
    /// `dynamodb.StreamViewType`.
    pub stream_view_type: Option<StreamViewType>,
    /// True for a REMOVE made by DynamoDB's TTL process (`userIdentity` is the
    /// `dynamodb.amazonaws.com` service).
    pub ttl_expired: bool,
}

impl RecordMeta {
    /// Moves the metadata out, leaving empty values, except the sequence number, which is
    /// shared (no allocation either way).
    pub(crate) fn take(&mut self) -> RecordMeta {
        RecordMeta {
            event_id: self.event_id.take(),
            sequence_number: self.sequence_number.clone(),
            approximate_creation_time: self.approximate_creation_time.take(),
            size_bytes: self.size_bytes.take(),
            stream_view_type: self.stream_view_type.take(),
            ttl_expired: std::mem::take(&mut self.ttl_expired),
        }
    }
}

/// One record of a batch, envelope read, images still raw JSON.
#[derive(Debug)]
pub struct Record<'a> {
    /// The change kind.
    pub kind: ChangeKind,
    /// The key attributes.
    pub keys: Keys<'a>,
    /// `NewImage` as DynamoDB JSON text, if the record carries one.
    pub new_image: Option<&'a str>,
    /// `OldImage` as DynamoDB JSON text, if the record carries one.
    pub old_image: Option<&'a str>,
    /// The rest of the envelope.
    pub meta: RecordMeta,
    /// `eventSourceARN`.
    pub event_source_arn: Option<Cow<'a, str>>,
    /// `awsRegion`.
    pub aws_region: Option<Cow<'a, str>>,
    /// The model and images the envelope pass already decoded (the router's fast path).
    pub(crate) predecoded: Predecoded,
}

/// A record whose envelope could not be read, but whose sequence number could: it fails on
/// its own without failing the batch.
#[derive(Debug, Clone)]
pub struct BrokenRecord {
    /// The sequence number.
    pub sequence_number: String,
    /// What is wrong with the envelope.
    pub message: String,
}

/// A record of a batch: readable, or broken on its own.
///
/// A batch's entries live in one `Vec`, so a record is held inline rather than boxed: the
/// larger variant costs some bytes per broken record, boxing would cost an allocation per
/// readable one.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Entry<'a> {
    /// A readable record.
    Record(Record<'a>),
    /// A record with an unreadable envelope.
    Broken(BrokenRecord),
}

impl Entry<'_> {
    /// The record's sequence number.
    pub fn sequence_number(&self) -> &str {
        match self {
            Entry::Record(r) => &r.meta.sequence_number,
            Entry::Broken(b) => &b.sequence_number,
        }
    }
}

impl<'a> WireRecord<'a> {
    fn into_record(
        self,
        predecoded: Predecoded,
        texts: &mut BatchText,
    ) -> Result<Record<'a>, BrokenRecord> {
        let seq = self.dynamodb.sequence_number;
        let broken = |message: String| BrokenRecord {
            sequence_number: seq.to_string(),
            message,
        };
        if seq.is_empty() {
            return Err(broken("empty dynamodb.SequenceNumber".into()));
        }
        let kind = match self.event_name.as_deref() {
            Some(n) => ChangeKind::parse(n).ok_or_else(|| {
                broken(format!(
                    "unknown eventName {n:?} (expected INSERT, MODIFY or REMOVE)"
                ))
            })?,
            None => return Err(broken("missing eventName".into())),
        };
        let approximate_creation_time = match self.dynamodb.approximate_creation_date_time {
            None => None,
            Some(raw) if raw.get() == "null" => None,
            Some(raw) => Some(
                Timestamp::from_epoch_seconds_text(raw.get()).ok_or_else(|| {
                    broken(format!(
                        "ApproximateCreationDateTime {} is not epoch seconds",
                        raw.get()
                    ))
                })?,
            ),
        };
        let ttl_expired = kind == ChangeKind::Remove
            && self.user_identity.as_ref().is_some_and(|u| {
                u.kind.as_deref() == Some("Service")
                    && u.principal_id.as_deref() == Some("dynamodb.amazonaws.com")
            });
        let null = |v: Option<Image<'a>>| v.map(|i| i.0).filter(|json| *json != "null");
        Ok(Record {
            kind,
            keys: self.dynamodb.keys,
            new_image: null(self.dynamodb.new_image),
            old_image: null(self.dynamodb.old_image),
            meta: RecordMeta {
                event_id: self.event_id.map(|id| texts.add(&id)),
                sequence_number: SequenceNumber(texts.add(&seq)),
                approximate_creation_time,
                size_bytes: self.dynamodb.size_bytes,
                stream_view_type: self
                    .dynamodb
                    .stream_view_type
                    .as_deref()
                    .map(StreamViewType::parse),
                ttl_expired,
            },
            event_source_arn: self.event_source_arn,
            aws_region: self.aws_region,
            predecoded,
        })
    }
}

fn entry<'a>(wire: WireRecord<'a>, predecoded: Predecoded, texts: &mut BatchText) -> Entry<'a> {
    match wire.into_record(predecoded, texts) {
        Ok(r) => Entry::Record(r),
        Err(b) => Entry::Broken(b),
    }
}

/// Reads a batch: every record's envelope and keys, images left unparsed.
///
/// One malformed record becomes an [`Entry::Broken`]; only an event that is not a JSON object
/// with a `Records` array, or a record whose sequence number cannot be read (so Lambda could not
/// be told which record failed), is an [`EventError`].
pub fn parse_batch(json: &[u8]) -> Result<Vec<Entry<'_>>, EventError> {
    parse_batch_with(json, None, &mut ImageStore::default())
}

/// [`parse_batch`], decoding images in the same pass where `hook` (the router) can, into
/// `store`.
pub(crate) fn parse_batch_with<'a>(
    json: &'a [u8],
    hook: Option<&dyn ImageHook>,
    store: &mut ImageStore,
) -> Result<Vec<Entry<'a>>, EventError> {
    let mut texts = BatchText::new();
    let mut entries = read_batch(json, hook, store, &mut texts)?;
    texts.finish(&mut entries);
    Ok(entries)
}

/// [`parse_batch_with`] before the batch's shared text is made (`texts` collects it).
fn read_batch<'a>(
    json: &'a [u8],
    hook: Option<&dyn ImageHook>,
    store: &mut ImageStore,
    texts: &mut BatchText,
) -> Result<Vec<Entry<'a>>, EventError> {
    // UTF-8 is checked once for the whole event, with SIMD; parsing from a str then borrows
    // every raw image without checking it again. Only a failure is checked again, by the
    // standard library, for its message (where the bad byte is).
    let json = match simdutf8::basic::from_utf8(json) {
        Ok(json) => json,
        Err(_) => {
            let message = match std::str::from_utf8(json) {
                Err(e) => format!("not UTF-8: {e}"),
                Ok(_) => "not UTF-8".to_string(),
            };
            return Err(EventError::Unreadable { message });
        }
    };
    // Fast path: the whole batch in one hand-written pass, images decoded on the way.
    if let Some(entries) = scan::scan(json, hook, store, texts) {
        return Ok(entries);
    }
    // The whole batch through serde.
    if let Ok(ev) = serde_json::from_str::<WireEvent<'_>>(json) {
        return Ok(ev
            .records
            .into_iter()
            .map(|w| entry(w, Predecoded::default(), texts))
            .collect());
    }
    // Slow path: isolate the bad records.
    let loose: LooseEvent<'_> = serde_json::from_str(json).map_err(|e| EventError::Unreadable {
        message: e.to_string(),
    })?;
    let mut out = Vec::with_capacity(loose.records.len());
    for (index, raw) in loose.records.into_iter().enumerate() {
        match serde_json::from_str::<WireRecord<'_>>(raw.get()) {
            Ok(w) => out.push(entry(w, Predecoded::default(), texts)),
            Err(e) => match serde_json::from_str::<SequenceOnly>(raw.get()) {
                Ok(s) if !s.dynamodb.sequence_number.is_empty() => {
                    out.push(Entry::Broken(BrokenRecord {
                        sequence_number: s.dynamodb.sequence_number,
                        message: e.to_string(),
                    }))
                }
                _ => {
                    return Err(EventError::NoSequenceNumber {
                        index,
                        message: e.to_string(),
                    })
                }
            },
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_exact() {
        let t = |s: &str| {
            Timestamp::from_epoch_seconds_text(s).map(|t| (t.unix_seconds(), t.subsec_nanos()))
        };
        assert_eq!(t("1479499740"), Some((1479499740, 0)));
        assert_eq!(t("1700000000.907"), Some((1700000000, 907_000_000)));
        assert_eq!(t("1.700000000907E9"), Some((1700000000, 907_000_000)));
        assert_eq!(t("1.7E9"), Some((1700000000, 0)));
        assert_eq!(
            t("1700000000.123456789123"),
            Some((1700000000, 123_456_789))
        );
        assert_eq!(t("0.5"), Some((0, 500_000_000)));
        assert_eq!(t("-1"), None);
        assert_eq!(t("5E-10"), Some((0, 0)));
        assert_eq!(t("25E-10"), Some((0, 2)));
        assert_eq!(t("1e-9999999999999"), Some((0, 0)));
        assert_eq!(t("1e19"), None);
        assert_eq!(t("999999999999999999"), Some((999_999_999_999_999_999, 0)));
        assert_eq!(t("\"x\""), None);
        let ts = Timestamp::from_epoch_seconds_text("1479499740.907").unwrap();
        assert_eq!(ts.to_string(), "2016-11-18T20:09:00.907Z");
        assert_eq!(
            Timestamp::new(0, 0).unwrap().to_string(),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            Timestamp::new(951_782_400, 0).unwrap().to_string(),
            "2000-02-29T00:00:00Z"
        );
    }

    proptest::proptest! {
        /// The plain form's shortcut agrees with the exponent arithmetic: the same number
        /// written with an exponent takes the general path.
        #[test]
        fn plain_timestamps_read_as_with_an_exponent(int in "[1-9][0-9]{0,19}|0", frac in proptest::option::of("[0-9]{1,12}")) {
            let plain = match &frac { Some(f) => format!("{int}.{f}"), None => int.clone() };
            let digits = format!("{int}{}0", frac.as_deref().unwrap_or(""));
            let shifted = format!("{digits}e-{}", frac.as_deref().map_or(0, str::len) + 1);
            proptest::prop_assert_eq!(
                Timestamp::from_epoch_seconds_text(&plain),
                Timestamp::from_epoch_seconds_text(&shifted),
                "{} vs {}", plain, shifted
            );
        }
    }

    fn rec(body: &str) -> String {
        format!(r#"{{"Records":[{body}]}}"#)
    }

    #[test]
    fn keys_keep_their_order_past_the_inline_two() {
        let attr = |n: &'static str, v: &'static str| (Cow::Borrowed(n), KeyValue::S(v.into()));
        let mut keys = Keys::default();
        assert!(keys.is_empty());
        keys.push("PK".into(), KeyValue::S("a".into()));
        keys.push("SK".into(), KeyValue::N("1".into()));
        keys.push("GSI1PK".into(), KeyValue::S("c".into()));
        assert!(!keys.is_empty());
        assert_eq!(keys.len(), 3);
        let names: Vec<&str> = keys.iter().map(|(n, _)| n.as_ref()).collect();
        assert_eq!(names, ["PK", "SK", "GSI1PK"]);
        assert_eq!(keys.s("GSI1PK"), Some("c"));
        assert_eq!(keys.s("SK"), None, "an N key has no string value");
        assert_eq!(keys.get("SK"), Some(&KeyValue::N("1".into())));
        assert_eq!(keys.to_string(), r#"PK="a", SK=N:1, GSI1PK="c""#);
        let owned = keys.clone().into_owned();
        assert_eq!(owned, keys);
        let collected: Keys<'_> = [attr("PK", "a"), attr("SK", "b"), attr("X", "c")]
            .into_iter()
            .collect();
        assert_eq!(collected.iter().count(), 3);
        assert_eq!(collected.s("X"), Some("c"));
    }

    #[test]
    fn reads_envelope_and_keys_lazily() {
        let ev = rec(
            r#"{"eventID":"1","eventName":"REMOVE","userIdentity":{"type":"Service","principalId":"dynamodb.amazonaws.com"},
               "dynamodb":{"ApproximateCreationDateTime":1700000000.5,"Keys":{"PK":{"S":"a\"b"},"SK":{"N":"1"}},
               "OldImage":{"x":{"S":"y"}},"SequenceNumber":"100","SizeBytes":12,"StreamViewType":"NEW_AND_OLD_IMAGES"}}"#,
        );
        let entries = parse_batch(ev.as_bytes()).unwrap();
        let Entry::Record(r) = &entries[0] else {
            panic!("broken")
        };
        assert_eq!(r.kind, ChangeKind::Remove);
        assert!(r.meta.ttl_expired);
        assert_eq!(r.keys.s("PK"), Some("a\"b"));
        assert_eq!(r.keys.get("SK"), Some(&KeyValue::N("1".into())));
        assert!(r.new_image.is_none());
        assert_eq!(r.old_image, Some(r#"{"x":{"S":"y"}}"#));
        assert_eq!(
            r.meta.approximate_creation_time.unwrap().subsec_nanos(),
            500_000_000
        );
        assert_eq!(
            r.meta.stream_view_type,
            Some(StreamViewType::NewAndOldImages)
        );
    }

    #[test]
    fn missing_time_is_none_and_client_remove_is_not_ttl() {
        let ev = rec(
            r#"{"eventName":"REMOVE","userIdentity":null,"dynamodb":{"Keys":{},"SequenceNumber":"1"}}"#,
        );
        let Entry::Record(r) = &parse_batch(ev.as_bytes()).unwrap()[0] else {
            panic!()
        };
        assert_eq!(r.meta.approximate_creation_time, None);
        assert!(!r.meta.ttl_expired);
    }

    #[test]
    fn one_bad_record_does_not_fail_the_batch() {
        let ev = rec(
            r#"{"eventName":"INSERT","dynamodb":{"Keys":{"PK":{"S":"a"}},"SequenceNumber":"1"}},
               {"eventName":"INSERT","dynamodb":{"Keys":{"PK":{"BOOL":true}},"SequenceNumber":"2"}},
               {"eventName":"UPSERT","dynamodb":{"Keys":{},"SequenceNumber":"3"}}"#,
        );
        let entries = parse_batch(ev.as_bytes()).unwrap();
        assert!(matches!(entries[0], Entry::Record(_)));
        assert!(
            matches!(&entries[1], Entry::Broken(b) if b.sequence_number == "2" && b.message.contains("keys are S, N or B"))
        );
        assert!(matches!(&entries[2], Entry::Broken(b) if b.message.contains("UPSERT")));
    }

    #[test]
    fn unreadable_envelopes_are_event_errors() {
        assert!(matches!(
            parse_batch(b"not json"),
            Err(EventError::Unreadable { .. })
        ));
        assert!(matches!(
            parse_batch(b"{\"records\":[]}"),
            Err(EventError::Unreadable { .. })
        ));
        let no_seq = rec(r#"{"eventName":"INSERT","dynamodb":{"Keys":{}}}"#);
        assert!(matches!(
            parse_batch(no_seq.as_bytes()),
            Err(EventError::NoSequenceNumber { index: 0, .. })
        ));
        assert!(parse_batch(b"{\"Records\":[]}").unwrap().is_empty());
    }

    #[test]
    fn an_event_that_is_not_utf8_names_the_bad_byte() {
        // Multi-byte text reads (the scan's SIMD check accepts it); a lone continuation byte,
        // a truncated sequence or an overlong encoding is an invocation error saying where.
        let ok = rec(
            r#"{"eventName":"INSERT","dynamodb":{"Keys":{"PK":{"S":"é→𝄞"}},"SequenceNumber":"1"}}"#,
        );
        let entries = parse_batch(ok.as_bytes()).unwrap();
        assert!(matches!(&entries[0], Entry::Record(r) if r.keys.s("PK") == Some("é→𝄞")));
        for bad in [&b"\x80"[..], b"\xe2\x86", b"\xc0\xaf"] {
            let mut ev = ok.clone().into_bytes();
            let at = ok.find('é').unwrap();
            ev.splice(at..at + 2, bad.iter().copied());
            match parse_batch(&ev) {
                Err(EventError::Unreadable { message }) => assert!(
                    message.starts_with("not UTF-8") && message.contains(&format!("index {at}")),
                    "{message}"
                ),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}

#[cfg(test)]
mod shared_text_tests {
    use super::*;

    fn record(seq: &str, id: &str) -> String {
        format!(
            r#"{{"eventID":"{id}","eventName":"INSERT","dynamodb":{{"Keys":{{"PK":{{"S":"a"}}}},"SequenceNumber":"{seq}"}}}}"#
        )
    }

    fn texts(entries: &[Entry<'_>]) -> Vec<(String, Option<String>)> {
        entries
            .iter()
            .map(|e| match e {
                Entry::Record(r) => (
                    r.meta.sequence_number.to_string(),
                    r.meta.event_id.as_deref().map(str::to_string),
                ),
                Entry::Broken(b) => (b.sequence_number.clone(), None),
            })
            .collect()
    }

    #[test]
    fn sequence_numbers_and_event_ids_read_back_from_one_shared_text() {
        let records = [record("111", "e-1"), record("2222", "é-2"), record("3", "")];
        let fast = format!(r#"{{"Records":[{}]}}"#, records.join(","));
        // A record whose Keys are not an object: the scan gives up at it, after the records
        // before it added their text, and so does serde for the whole batch; the records are
        // then read one by one, the bad one broken on its own.
        let broken = r#"{"eventName":"INSERT","dynamodb":{"Keys":5,"SequenceNumber":"9"}}"#;
        let slow = format!(r#"{{"Records":[{},{broken}]}}"#, records.join(","));
        let mut want = vec![
            ("111".to_string(), Some("e-1".to_string())),
            ("2222".to_string(), Some("é-2".to_string())),
            ("3".to_string(), Some(String::new())),
        ];
        for json in [&fast, &slow] {
            let entries = parse_batch(json.as_bytes()).expect("readable");
            if json == &slow {
                want.push(("9".to_string(), None));
                assert!(matches!(entries[3], Entry::Broken(_)));
            }
            assert_eq!(texts(&entries), want, "{json}");
            let all: Vec<&SharedStr> = entries
                .iter()
                .filter_map(|e| match e {
                    Entry::Record(r) => Some(&r.meta.sequence_number.0),
                    Entry::Broken(_) => None,
                })
                .collect();
            assert!(
                all.iter().all(|s| Arc::ptr_eq(&s.text, &all[0].text)),
                "one text"
            );
        }
    }

    #[test]
    fn shared_text_compares_and_hashes_as_its_text() {
        use std::collections::HashSet;
        let mut t = BatchText::new();
        let a = t.add("xyz");
        let b = t.add("abc");
        let mut entries = Vec::new();
        t.finish(&mut entries);
        // Pending values (not pointed at a text by `finish`) are never read outside the
        // module; made on their own, values compare by text.
        let (x, y) = (SharedStr::from("xyz"), SharedStr::from("abc"));
        assert_eq!((a.start, a.end, b.start, b.end), (0, 3, 3, 6));
        assert!(y < x);
        let set: HashSet<SharedStr> = [x.clone(), SharedStr::from(String::from("xyz"))].into();
        assert_eq!(set.len(), 1);
        assert!(set.contains("xyz"), "Borrow<str> agrees with Hash");
        assert_eq!(String::from(x), "xyz");
    }

    #[test]
    fn shared_text_formats_like_a_str() {
        // The replay's columns pad sequence numbers (`{:<28}`).
        let seq = SequenceNumber::from("12");
        assert_eq!(
            format!("[{seq:<5}][{seq:>4}][{seq:.1}][{seq:?}]"),
            "[12   ][  12][1][\"12\"]"
        );
        let id = SharedStr::from("ab");
        assert_eq!(format!("[{id:^4}]"), "[ ab ]");
    }
}
