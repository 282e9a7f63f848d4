//! A record's `Keys`: its key attributes as the stream sends them.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use crate::decode::attr::{CowStr, Names, Tag};

/// A key attribute's value as the stream sends it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
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

    /// The string sort key under attribute `sk_attr`. An empty `sk_attr` stands for a table
    /// with a partition key only: then the sort key is `""` when the record's keys are one
    /// attribute (a stream record's `Keys` holds exactly the table's key attributes), and
    /// `None` when they are more (a table with a sort key).
    ///
    /// ```
    /// # extern crate dynastream_core as dynastream;
    /// use dynastream::event::{KeyValue, Keys};
    /// let mut keys = Keys::default();
    /// keys.push("PK".into(), KeyValue::S("SESSION#1".into()));
    /// assert_eq!(keys.sort_key(""), Some(""));
    /// assert_eq!(keys.sort_key("SK"), None);
    /// keys.push("SK".into(), KeyValue::S("A".into()));
    /// assert_eq!(keys.sort_key("SK"), Some("A"));
    /// assert_eq!(keys.sort_key(""), None);
    /// ```
    pub fn sort_key(&self, sk_attr: &str) -> Option<&str> {
        if sk_attr.is_empty() {
            return (self.head[1].is_none()).then_some("");
        }
        self.s(sk_attr)
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
                let mut names = Names::new();
                while let Some(CowStr(name)) = map.next_key::<CowStr<'de>>()? {
                    let value: KeyAttr<'de> = map.next_value()?;
                    // One value per attribute: a first-wins or last-wins reading would let the
                    // mirror's row and the handler's key disagree.
                    if !names.insert(&name) {
                        return Err(de::Error::custom(format_args!(
                            "key attribute {name:?} is given twice"
                        )));
                    }
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
