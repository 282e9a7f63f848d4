//! A batch's shared text: sequence numbers and event ids as ranges of one allocation.

use std::fmt;
use std::sync::Arc;

use super::Entry;

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
    pub(super) fn add(&mut self, text: &str) -> SharedStr {
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
pub struct SequenceNumber(pub(super) SharedStr);

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

#[cfg(test)]
mod tests {
    use super::super::{parse_batch, Entry};
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
