//! The fast path of [`super::parse_batch`]: one hand-written pass over the event's outer
//! structure (the `Records` array, each record, its `dynamodb` object) that decodes an image
//! straight into its model while reading it, when the record's keys are already known.
//!
//! Everything below those three levels (`Keys`, `userIdentity`, numbers, the images themselves)
//! is read by serde_json from where the scan stands, so JSON semantics are serde_json's. The
//! scan gives up (`None`) on anything it does not expect — a duplicate field, a wrong type, a
//! missing sequence number, trailing text — and the serde path reads the batch instead, with
//! its messages and its per-record isolation. Whatever the scan accepts, it reads exactly as
//! the serde path would; a test holds it to that.

use std::any::Any;
use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::ImageSide;
use super::{
    entry, BatchText, ChangeKind, Entry, Image, KeyValue, Keys, RawJson, SizeBytes, StreamRecord,
    UserIdentity, WireRecord,
};
use crate::decode::attr::CowStr;

/// The images the envelope pass decoded, held for one batch: a typed column per model, so a
/// decoded image is written into its column rather than boxed on its own. Filled by the
/// [`ImageHook`] during the scan; a record's [`Predecoded`] names its images' slots, and the
/// router takes each one out once.
#[derive(Default)]
pub(crate) struct ImageStore {
    /// Indexed by model; each is a [`Column`] of that model's decoded type.
    columns: Vec<Option<Box<dyn Any + Send>>>,
}

/// One model's decoded images, in chunks of [`CHUNK`] slots that never move once filled: a
/// growing `Vec` would copy every image decoded so far each time it doubled.
struct Column<T> {
    chunks: Vec<Vec<Option<T>>>,
}

/// Slots per chunk of a [`Column`]: a few kilobytes for the example models, so a small batch
/// stays small and a large one allocates a chunk per 32 images.
const CHUNK: usize = 32;

impl<T> Column<T> {
    fn push(&mut self, value: T) -> usize {
        let full = self.chunks.last().is_none_or(|c| c.len() == CHUNK);
        if full {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        let n = self.chunks.len() - 1;
        let last = &mut self.chunks[n];
        last.push(Some(value));
        n * CHUNK + last.len() - 1
    }

    fn take(&mut self, slot: usize) -> Option<T> {
        self.chunks
            .get_mut(slot / CHUNK)?
            .get_mut(slot % CHUNK)?
            .take()
    }
}

impl ImageStore {
    /// Stores `value` in `model`'s column; returns its slot.
    pub(crate) fn put<T: Send + 'static>(&mut self, model: usize, value: T) -> Option<usize> {
        if self.columns.len() <= model {
            self.columns.resize_with(model + 1, || None);
        }
        let column =
            self.columns[model].get_or_insert_with(|| Box::new(Column::<T> { chunks: Vec::new() }));
        Some(column.downcast_mut::<Column<T>>()?.push(value))
    }

    /// Takes the value in `model`'s column at `slot`; `None` when it is not there (already
    /// taken, or of another type).
    pub(crate) fn take<T: Send + 'static>(&mut self, model: usize, slot: usize) -> Option<T> {
        self.columns
            .get_mut(model)?
            .as_mut()?
            .downcast_mut::<Column<T>>()?
            .take(slot)
    }
}

/// What the scan learned about a record beyond its envelope: its model, and the slots in the
/// batch's [`ImageStore`] of images already decoded into it.
#[derive(Debug, Default)]
pub(crate) struct Predecoded {
    /// The model (registry index) the keys belong to, when the scan looked it up: `Some(None)`
    /// when it looked and no model matches, `None` when it did not look.
    pub(crate) model: Option<Option<usize>>,
    pub(crate) new: Option<usize>,
    pub(crate) old: Option<usize>,
}

impl Predecoded {
    /// Takes the store slot of `side`'s decoded image, if the scan decoded it.
    pub(crate) fn take(&mut self, side: ImageSide) -> Option<usize> {
        match side {
            ImageSide::New => self.new.take(),
            ImageSide::Old => self.old.take(),
        }
    }
}

/// Decodes images while the envelope is read. Implemented by the router.
pub(crate) trait ImageHook {
    /// The model whose patterns and key types accept `keys`.
    fn model(&self, keys: &Keys<'_>) -> Option<usize>;
    /// Decodes the image at the start of `json` into `model`, if a handler will want it (`kind`
    /// is `None` when `eventName` comes later in the record), and puts the value in `store`.
    /// Returns its slot there and the length of the image's JSON; `None` leaves the image to be
    /// decoded when it is needed, which is also where a bad image is reported.
    fn decode(
        &self,
        model: usize,
        kind: Option<ChangeKind>,
        side: ImageSide,
        json: &str,
        store: &mut ImageStore,
    ) -> Option<(usize, usize)>;
}

/// The most records Lambda delivers in one batch (`BatchSize` ≤ 10,000, DynamoDB Streams and
/// Kinesis alike).
const MAX_BATCH: usize = 10_000;

/// Reads a whole event; `None` when the serde path must read it instead.
pub(crate) fn scan<'a>(
    json: &'a str,
    hook: Option<&dyn ImageHook>,
    store: &mut ImageStore,
    texts: &mut BatchText,
) -> Option<Vec<Entry<'a>>> {
    scan_with(json, hook, store, |wire, pre| entry(wire, pre, texts))
}

/// [`scan`], turning each record into `T` as it is read.
pub(crate) fn scan_with<'a, T>(
    json: &'a str,
    hook: Option<&dyn ImageHook>,
    store: &mut ImageStore,
    mut each: impl FnMut(WireRecord<'a>, Predecoded) -> T,
) -> Option<Vec<T>> {
    event_records(json, store, |s, out| {
        let (wire, pre) = s.record(hook)?;
        // A DynamoDB Streams record without a sequence number: the serde path says the event
        // cannot be answered.
        wire.dynamodb.sequence_number.as_ref()?;
        out.push(each(wire, pre));
        Some(())
    })
}

/// A whole event, `{"Records": [...]}` with any other member skipped, each record read by
/// `record` into the vector it is given (pushed there, not returned: a record is a few hundred
/// bytes, and returning it would copy it once more); `None` when anything is unexpected (`Records` twice, text after the event, a
/// record `record` refuses), for the serde path to read and name.
fn event_records<'a, T>(
    json: &'a str,
    store: &mut ImageStore,
    mut record: impl FnMut(&mut Scan<'a, '_>, &mut Vec<T>) -> Option<()>,
) -> Option<Vec<T>> {
    let mut s = Scan {
        src: json,
        pos: 0,
        store,
        last: Repeats::default(),
    };
    let mut records = None;
    s.object(|s, key| {
        if key != "Records" {
            return s.skip();
        }
        if records.is_some() {
            return None; // duplicate field
        }
        let mut out = Vec::new();
        s.expect(b'[')?;
        if s.peek()? == b']' {
            s.pos += 1;
        } else {
            loop {
                let start = s.pos;
                record(s, &mut out)?;
                if out.len() == 1 {
                    // Records of a batch are alike in size: room for the rest, judged by the
                    // first, saves growing (and copying) the entries step by step. Lambda
                    // delivers at most 10,000 records, which bounds a short first record's
                    // guess.
                    let first = (s.pos - start).max(1);
                    out.reserve(((s.src.len() - s.pos) / first + 1).min(MAX_BATCH));
                }
                match s.peek()? {
                    b',' => s.pos += 1,
                    b']' => {
                        s.pos += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        records = Some(out);
        Some(())
    })?;
    // Only whitespace may follow, as serde_json requires.
    if s.peek().is_some() {
        return None;
    }
    records
}

/// One record on its own (a Kinesis record's decoded `data`): the same reading as a record
/// of an event's `Records`; `None` when the serde path must read it.
pub(super) fn scan_record<'a>(
    json: &'a str,
    hook: Option<&dyn ImageHook>,
    store: &mut ImageStore,
) -> Option<(WireRecord<'a>, Predecoded)> {
    let mut s = Scan {
        src: json,
        pos: 0,
        store,
        last: Repeats::default(),
    };
    let read = s.record(hook)?;
    if s.peek().is_some() {
        return None;
    }
    Some(read)
}

/// The Kinesis envelope of every record of a Kinesis event, in one pass; `None` when the serde
/// path must read it (anything unexpected, a member given twice, a record without
/// `kinesis.sequenceNumber`), which also names what is wrong.
pub(super) fn scan_kinesis(json: &str) -> Option<Vec<super::kinesis::KinesisWire<'_>>> {
    event_records(json, &mut ImageStore::default(), |s, out| {
        out.push(s.kinesis_record()?);
        Some(())
    })
}

/// Whether the first record of the event `json` (or its first part) is a Kinesis record: it
/// has a `kinesis` member, or `eventSource` `"aws:kinesis"`. `None` when `json` ends before
/// that is known (the first record goes on past it), or when the text does not read that far.
pub(super) fn first_record_is_kinesis(json: &str) -> Option<bool> {
    let mut store = ImageStore::default();
    let mut s = Scan {
        src: json,
        pos: 0,
        store: &mut store,
        last: Repeats::default(),
    };
    let mut answer = None;
    // Each closure returns `None` to stop the reading once the answer is known.
    let _ = s.object(|s, key| {
        if key != "Records" {
            return s.skip();
        }
        s.expect(b'[')?;
        if s.peek()? == b']' {
            answer = Some(false);
            return None;
        }
        let read = s.object(|s, name| match &*name {
            "kinesis" => {
                answer = Some(true);
                None
            }
            "eventSource" => {
                answer = match s.opt_string()?.as_deref() {
                    Some("aws:kinesis") => Some(true),
                    Some("aws:dynamodb") => Some(false),
                    _ => return Some(()),
                };
                None
            }
            _ => s.skip(),
        });
        if read.is_some() {
            answer = Some(false);
        }
        None
    });
    answer
}

/// The end of the JSON number token at `start` (RFC 8259 section 6: `-`? then `0` or digits
/// not starting with `0`, then `.` and digits, then `e` or `E`, a sign and digits, the last
/// two optional), or `None` when no number token starts there.
fn json_number_end(bytes: &[u8], start: usize) -> Option<usize> {
    let digits = |mut i: usize| {
        let from = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        (i > from).then_some(i)
    };
    let mut i = start + usize::from(bytes.get(start) == Some(&b'-'));
    i = match bytes.get(i)? {
        b'0' => i + 1,
        b'1'..=b'9' => digits(i)?,
        _ => return None,
    };
    if bytes.get(i) == Some(&b'.') {
        i = digits(i + 1)?;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        i = digits(i)?;
    }
    Some(i)
}

struct Scan<'a, 's> {
    src: &'a str,
    pos: usize,
    /// Where the hook puts decoded images.
    store: &'s mut ImageStore,
    /// The last record's text of the values that are usually alike in every record of a
    /// batch, for [`Scan::repeated_string`].
    last: Repeats<'a>,
}

/// Values usually the same in every record of a batch, as the last record that had them in
/// plain form (no escapes) wrote them; empty until then.
#[derive(Default)]
struct Repeats<'a> {
    /// `eventSourceARN`: the stream's (DynamoDB Streams) or the Kinesis stream's ARN.
    arn: &'a str,
    /// `awsRegion`.
    region: &'a str,
    /// `dynamodb.StreamViewType`.
    view: &'a str,
}

impl<'a> Scan<'a, '_> {
    /// The next non-whitespace byte, not consumed.
    fn peek(&mut self) -> Option<u8> {
        let bytes = self.src.as_bytes();
        while let Some(&b) = bytes.get(self.pos) {
            if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(b);
            }
            self.pos += 1;
        }
        None
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    /// A string, borrowed when it has no escapes; anything unusual goes to serde_json.
    /// Inlined, as the reader's: most envelope strings are short and plain.
    #[inline]
    fn string(&mut self) -> Option<Cow<'a, str>> {
        // Most start right here and end within sixteen bytes.
        let bytes = self.src.as_bytes();
        let start = self.pos + 1;
        if bytes.get(self.pos) == Some(&b'"') {
            if let Some(end) = bytes
                .get(start..start + 16)
                .and_then(crate::decode::first_special16)
            {
                let end = start + end;
                if bytes.get(end) == Some(&b'"') {
                    self.pos = end + 1;
                    return crate::bytes::between(self.src, start, end).map(Cow::Borrowed);
                }
            }
        }
        self.long_string()
    }

    /// [`Scan::string`] for any string.
    #[inline(never)]
    fn long_string(&mut self) -> Option<Cow<'a, str>> {
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.pos + 1;
        let end = crate::decode::plain_run(self.src.as_bytes(), start);
        if self.src.as_bytes().get(end) == Some(&b'"') {
            self.pos = end + 1;
            return crate::bytes::between(self.src, start, end).map(Cow::Borrowed);
        }
        // Escapes (or control characters, which JSON forbids): serde_json decides.
        self.unusual_string()
    }

    #[cold]
    #[inline(never)]
    fn unusual_string(&mut self) -> Option<Cow<'a, str>> {
        self.value::<CowStr<'a>>().map(|c| c.0)
    }

    /// A long string, usually without escapes (a Kinesis record's base64 `data`), or `null`:
    /// the closing quote found with memchr; with a backslash first, read as any string.
    /// Control characters are left for whoever reads the text (base64 refuses them, and the
    /// Kinesis reader then says the event is not JSON, as serde would).
    fn plain_long_string(&mut self) -> Option<Option<Cow<'a, str>>> {
        if self.peek()? != b'"' {
            return self.opt_string();
        }
        let start = self.pos + 1;
        let bytes = self.src.as_bytes().get(start..)?;
        match memchr::memchr2(b'"', b'\\', bytes) {
            Some(i) if bytes[i] == b'"' => {
                self.pos = start + i + 1;
                crate::bytes::between(self.src, start, start + i).map(|s| Some(Cow::Borrowed(s)))
            }
            _ => self.string().map(Some),
        }
    }

    /// [`Scan::opt_string`] for a value usually the same in every record of a batch (the
    /// stream's ARN, its region, the stream view type), most of them longer than
    /// [`Scan::string`]'s first sixteen bytes: when the text after the opening quote is `last`
    /// and a closing quote, that is the string (`last` came from a plain string, so it holds
    /// no quote, backslash or control character, and one comparison replaces the search for
    /// the closing quote); else it is read as any string and, when plain, kept as `last`.
    #[inline]
    fn repeated_string(
        &mut self,
        last: for<'r> fn(&'r mut Repeats<'a>) -> &'r mut &'a str,
    ) -> Option<Option<Cow<'a, str>>> {
        let bytes = self.src.as_bytes();
        let start = self.pos + 1;
        let known = *last(&mut self.last);
        let end = start + known.len();
        if !known.is_empty()
            && bytes.get(self.pos) == Some(&b'"')
            && bytes.get(start..end) == Some(known.as_bytes())
            && bytes.get(end) == Some(&b'"')
        {
            self.pos = end + 1;
            return crate::bytes::between(self.src, start, end).map(|s| Some(Cow::Borrowed(s)));
        }
        let value = self.opt_string()?;
        if let Some(Cow::Borrowed(text)) = value {
            *last(&mut self.last) = text;
        }
        Some(value)
    }

    /// A string or `null`.
    fn opt_string(&mut self) -> Option<Option<Cow<'a, str>>> {
        if self.peek()? == b'"' {
            self.string().map(Some)
        } else {
            self.value::<Option<CowStr<'a>>>().map(|o| o.map(|c| c.0))
        }
    }

    /// Any value, read by serde_json from where the scan stands.
    fn value<T: Deserialize<'a>>(&mut self) -> Option<T> {
        let rest = self.src.get(self.pos..)?;
        let mut values = serde_json::Deserializer::from_str(rest).into_iter::<T>();
        let v = values.next()?.ok()?;
        self.pos += values.byte_offset();
        Some(v)
    }

    /// A time's JSON number as its text (`ApproximateCreationDateTime`, a Kinesis arrival
    /// time): a number token followed by the end of its value read here, anything else
    /// (`null`, a string, what JSON refuses) by serde_json, which also names what is wrong.
    fn number_text(&mut self) -> Option<Option<RawJson<'a>>> {
        self.peek()?;
        let bytes = self.src.as_bytes();
        let start = self.pos;
        if let Some(end) = json_number_end(bytes, start) {
            if matches!(
                bytes.get(end),
                Some(b',' | b'}' | b' ' | b'\n' | b'\r' | b'\t')
            ) {
                self.pos = end;
                return crate::bytes::between(self.src, start, end).map(|t| Some(RawJson(t)));
            }
        }
        self.value()
    }

    /// `SizeBytes`: plain digits (what AWS sends) read here, any other value by serde_json.
    fn size_bytes(&mut self) -> Option<SizeBytes> {
        self.peek()?;
        let bytes = self.src.as_bytes();
        let start = self.pos;
        let end = start
            + bytes[start..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
        // The whole number token (it neither goes on nor has a leading zero, which JSON
        // refuses); `SizeBytes::read` takes any digits.
        let plain = end > start
            && matches!(
                bytes.get(end),
                Some(b',' | b'}' | b' ' | b'\n' | b'\r' | b'\t')
            )
            && (bytes[start] != b'0' || end - start == 1);
        if plain {
            self.pos = end;
            return crate::bytes::between(self.src, start, end).map(SizeBytes::read);
        }
        self.value()
    }

    /// A value nobody reads, checked as serde_json checks what it ignores (which lets an
    /// unpaired surrogate escape through: nothing reads the text).
    fn skip(&mut self) -> Option<()> {
        if self.peek()? == b'"' {
            let start = self.pos + 1;
            let end = crate::decode::plain_run(self.src.as_bytes(), start);
            if self.src.as_bytes().get(end) == Some(&b'"') {
                self.pos = end + 1;
                return Some(());
            }
        }
        self.value::<IgnoredAny>().map(drop)
    }

    /// `{"name": value, ...}`, calling `field` to read each value.
    fn object(
        &mut self,
        mut field: impl FnMut(&mut Self, Cow<'a, str>) -> Option<()>,
    ) -> Option<()> {
        self.expect(b'{')?;
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(());
        }
        loop {
            let name = self.string()?;
            self.expect(b':')?;
            field(self, name)?;
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// One record of a Kinesis event: its `kinesis` object, `eventSourceARN`, `awsRegion`.
    fn kinesis_record(&mut self) -> Option<super::kinesis::KinesisWire<'a>> {
        let mut w = super::kinesis::KinesisWire::default();
        let mut seen = 0u8;
        self.object(|s, name| {
            let bit = match &*name {
                "kinesis" => 1,
                "eventSourceARN" => 2,
                "awsRegion" => 4,
                _ => return s.skip(),
            };
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            match bit {
                1 => {
                    let mut inner = 0u8;
                    s.object(|s, name| {
                        let bit = match &*name {
                            "sequenceNumber" => 1,
                            "data" => 2,
                            "partitionKey" => 4,
                            "approximateArrivalTimestamp" => 8,
                            _ => return s.skip(),
                        };
                        if inner & bit != 0 {
                            return None;
                        }
                        inner |= bit;
                        match bit {
                            1 => w.sequence_number = Some(s.string()?),
                            2 => w.data = s.plain_long_string()?,
                            4 => w.partition_key = s.opt_string()?,
                            _ => w.arrival = s.number_text()?,
                        }
                        Some(())
                    })
                }
                2 => {
                    w.event_source_arn = s.repeated_string(|r| &mut r.arn)?;
                    Some(())
                }
                _ => {
                    w.aws_region = s.repeated_string(|r| &mut r.region)?;
                    Some(())
                }
            }
        })?;
        w.sequence_number.as_ref()?;
        Some(w)
    }

    fn record(&mut self, hook: Option<&dyn ImageHook>) -> Option<(WireRecord<'a>, Predecoded)> {
        let (mut event_id, mut event_name, mut arn, mut region) = (None, None, None, None);
        let mut table_name = None;
        let mut user_identity = None;
        let mut dynamodb = None;
        let mut pre = Predecoded::default();
        let mut seen = 0u8;
        self.object(|s, name| {
            let bit = match &*name {
                "eventID" => 1,
                "eventName" => 2,
                "eventSourceARN" => 4,
                "awsRegion" => 8,
                "userIdentity" => 16,
                "dynamodb" => 32,
                "tableName" => 64,
                _ => return s.skip(),
            };
            if seen & bit != 0 {
                return None; // duplicate field
            }
            seen |= bit;
            match bit {
                1 => event_id = s.opt_string()?,
                2 => event_name = s.opt_string()?,
                4 => arn = s.repeated_string(|r| &mut r.arn)?,
                8 => region = s.repeated_string(|r| &mut r.region)?,
                16 => user_identity = s.value::<Option<UserIdentity<'a>>>()?,
                64 => table_name = s.opt_string()?,
                _ => {
                    let kind = event_name.as_deref().and_then(ChangeKind::parse);
                    dynamodb = Some(s.dynamodb(hook, kind, &mut pre)?);
                }
            }
            Some(())
        })?;
        let dynamodb: StreamRecord<'a> = dynamodb?;
        if let (Some(hook), None) = (hook, pre.model) {
            pre.model = Some(hook.model(&dynamodb.keys));
        }
        let record = WireRecord {
            event_id,
            event_name,
            event_source_arn: arn,
            aws_region: region,
            user_identity,
            table_name,
            dynamodb,
        };
        Some((record, pre))
    }

    fn dynamodb(
        &mut self,
        hook: Option<&dyn ImageHook>,
        kind: Option<ChangeKind>,
        pre: &mut Predecoded,
    ) -> Option<StreamRecord<'a>> {
        let mut time = None;
        let mut precision = None;
        let mut keys = None;
        let (mut new_image, mut old_image) = (None, None);
        let (mut seq, mut size, mut view) = (None, SizeBytes::default(), None);
        let mut seen = 0u8;
        self.object(|s, name| {
            let bit = match &*name {
                "ApproximateCreationDateTime" => 1,
                "Keys" => 2,
                "NewImage" => 4,
                "OldImage" => 8,
                "SequenceNumber" => 16,
                "SizeBytes" => 32,
                "StreamViewType" => 64,
                "ApproximateCreationDateTimePrecision" => 128,
                _ => return s.skip(),
            };
            if seen & bit != 0 {
                return None; // duplicate field
            }
            seen |= bit;
            match bit {
                1 => time = s.number_text()?,
                2 => keys = Some(s.keys()?),
                4 | 8 => {
                    let side = if bit == 4 {
                        ImageSide::New
                    } else {
                        ImageSide::Old
                    };
                    let image = s.image(hook, keys.as_ref(), kind, side, pre)?;
                    *if bit == 4 {
                        &mut new_image
                    } else {
                        &mut old_image
                    } = image;
                }
                16 => seq = Some(s.string()?),
                32 => size = s.size_bytes()?,
                64 => view = s.repeated_string(|r| &mut r.view)?,
                _ => precision = s.opt_string()?,
            }
            Some(())
        })?;
        Some(StreamRecord {
            approximate_creation_date_time: time,
            approximate_creation_date_time_precision: precision,
            keys: keys.unwrap_or_default(),
            new_image,
            old_image,
            sequence_number: seq,
            size_bytes: size,
            stream_view_type: view,
        })
    }

    /// `Keys`: each attribute as `{"S"|"N"|"B": "text"}` is read here; anything else (another
    /// tag, two tags, a value that is not a string) is read again by serde_json from the start,
    /// which also makes the record's error message.
    fn keys(&mut self) -> Option<Keys<'a>> {
        let start = self.pos;
        let mut out = Keys::default();
        let plain = self.object(|s, name| {
            s.expect(b'{')?;
            let make: fn(Cow<'a, str>) -> KeyValue<'a> = match &*s.string()? {
                "S" => KeyValue::S,
                "N" => KeyValue::N,
                "B" => KeyValue::B,
                _ => return None,
            };
            s.expect(b':')?;
            if s.peek()? != b'"' {
                return None;
            }
            let value = s.string()?;
            s.expect(b'}')?;
            // A key attribute given twice: serde_json's reading refuses it. A table's key has
            // one or two attributes; more (a hand-made event) are left to serde_json's reading,
            // which tracks names in a set rather than comparing each with every other.
            if out.len() >= 4 || (!out.is_empty() && out.get(&name).is_some()) {
                return None;
            }
            out.push(name, make(value));
            Some(())
        });
        if plain.is_some() {
            return Some(out);
        }
        self.pos = start;
        self.value::<Keys<'a>>()
    }

    /// An image: decoded in place when the keys are known and the hook wants it, else kept
    /// as raw JSON.
    fn image(
        &mut self,
        hook: Option<&dyn ImageHook>,
        keys: Option<&Keys<'a>>,
        kind: Option<ChangeKind>,
        side: ImageSide,
        pre: &mut Predecoded,
    ) -> Option<Option<Image<'a>>> {
        if let (Some(hook), Some(keys), Some(b'{')) = (hook, keys, self.peek()) {
            if pre.model.is_none() {
                pre.model = Some(hook.model(keys));
            }
            let rest = self.src.get(self.pos..)?;
            if let Some((value, len)) = pre
                .model
                .flatten()
                .and_then(|m| hook.decode(m, kind, side, rest, self.store))
            {
                let json = rest.get(..len)?;
                self.pos += len;
                match side {
                    ImageSide::New => pre.new = Some(value),
                    ImageSide::Old => pre.old = Some(value),
                }
                return Some(Some(Image(json)));
            }
        }
        // Not decoded here (no handler wants it, no model matched, or its decoding is left
        // for later): the image's text is kept, checked to be JSON. The image reader's skip
        // reads images as they are in practice; whatever it gives up on, serde_json reads.
        self.peek()?;
        let rest = self.src.get(self.pos..)?;
        if let Some(len) = crate::decode::object_len(rest) {
            self.pos += len;
            return rest.get(..len).map(|json| Some(Image(json)));
        }
        self.value::<Option<Image<'a>>>()
    }
}

#[cfg(test)]
mod tests;
