//! Attribute values as DynamoDB holds them ([`Value`]), owned by the core so that a backend
//! (the DynamoDB SDK's `AttributeValue`, Postgres' JSON) converts at its own edge; an item's
//! size as DynamoDB counts it; and DynamoDB JSON text, the decoder's input.

use std::collections::HashMap;
use std::fmt::Write as _;

use base64::Engine as _;

/// One attribute value: the ten DynamoDB types. Numbers keep their exact text (DynamoDB
/// numbers carry up to 38 significant digits, more than any Rust primitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A string (`S`).
    S(String),
    /// A number (`N`), as its decimal text.
    N(String),
    /// Binary (`B`), as bytes (base64 only on the wire).
    B(Vec<u8>),
    /// A boolean (`BOOL`).
    Bool(bool),
    /// `NULL`.
    Null,
    /// A string set (`SS`); DynamoDB has no empty set.
    Ss(Vec<String>),
    /// A number set (`NS`).
    Ns(Vec<String>),
    /// A binary set (`BS`).
    Bs(Vec<Vec<u8>>),
    /// A list (`L`).
    L(Vec<Value>),
    /// A map (`M`).
    M(HashMap<String, Value>),
}

impl Value {
    /// The string, if this is an `S`.
    pub fn as_s(&self) -> Option<&str> {
        match self {
            Value::S(s) => Some(s),
            _ => None,
        }
    }

    /// The number's text, if this is an `N`.
    pub fn as_n(&self) -> Option<&str> {
        match self {
            Value::N(n) => Some(n),
            _ => None,
        }
    }

    /// The bytes, if this is a `B`.
    pub fn as_b(&self) -> Option<&Vec<u8>> {
        match self {
            Value::B(b) => Some(b),
            _ => None,
        }
    }
}

/// An item: attribute name → value.
pub type Item = HashMap<String, Value>;

/// The size DynamoDB counts against its 400 KB item limit: attribute names plus values
/// (strings and binary by length, numbers by about one byte per two digits, and a few bytes of
/// overhead for lists and maps).
pub fn item_size(attrs: &Item) -> usize {
    attrs.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn number_size(n: &str) -> usize {
    let digits = n.bytes().filter(u8::is_ascii_digit).count();
    digits.div_ceil(2) + 1
}

fn value_size(v: &Value) -> usize {
    match v {
        Value::S(s) => s.len(),
        Value::N(n) => number_size(n),
        Value::B(b) => b.len(),
        Value::Bool(_) | Value::Null => 1,
        Value::Ss(s) => s.iter().map(String::len).sum(),
        Value::Ns(n) => n.iter().map(|x| number_size(x)).sum(),
        Value::Bs(b) => b.iter().map(Vec::len).sum(),
        Value::L(l) => 3 + l.iter().map(|x| 1 + value_size(x)).sum::<usize>(),
        Value::M(m) => {
            3 + m
                .iter()
                .map(|(k, x)| 1 + k.len() + value_size(x))
                .sum::<usize>()
        }
    }
}

/// An item as DynamoDB JSON text (`{"name":{"S":"..."}}`, names in order), the decoder's input.
pub fn to_dynamodb_json(attrs: &Item) -> String {
    let mut out = String::with_capacity(256);
    write_map(&mut out, attrs);
    out
}

fn write_str(out: &mut String, s: &str) {
    // serde_json's escaping; writing a &str into a String cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

fn write_map(out: &mut String, m: &Item) {
    // In name order, so the same item always reads the same (recorded event files diff cleanly).
    let mut entries: Vec<(&String, &Value)> = m.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.push('{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, k);
        out.push(':');
        write_value(out, v);
    }
    out.push('}');
}

fn write_strs<'a>(out: &mut String, items: impl Iterator<Item = &'a str>) {
    out.push('[');
    for (i, s) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, s);
    }
    out.push(']');
}

fn write_value(out: &mut String, v: &Value) {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    match v {
        Value::S(s) => {
            out.push_str("{\"S\":");
            write_str(out, s);
        }
        Value::N(n) => {
            out.push_str("{\"N\":");
            write_str(out, n);
        }
        Value::B(b) => {
            let _ = write!(out, "{{\"B\":\"{}\"", b64(b));
        }
        Value::Bool(b) => {
            let _ = write!(out, "{{\"BOOL\":{b}");
        }
        Value::Null => out.push_str("{\"NULL\":true"),
        Value::Ss(s) => {
            out.push_str("{\"SS\":");
            write_strs(out, s.iter().map(String::as_str));
        }
        Value::Ns(n) => {
            out.push_str("{\"NS\":");
            write_strs(out, n.iter().map(String::as_str));
        }
        Value::Bs(bs) => {
            out.push_str("{\"BS\":[");
            for (i, b) in bs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "\"{}\"", b64(b));
            }
            out.push(']');
        }
        Value::L(l) => {
            out.push_str("{\"L\":[");
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, x);
            }
            out.push(']');
        }
        Value::M(m) => {
            out.push_str("{\"M\":");
            write_map(out, m);
        }
    }
    out.push('}');
}
