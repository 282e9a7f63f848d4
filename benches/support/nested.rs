//! The decoding benchmark's second batch: images shaped like the reference library's examples,
//! deeper and more numeric than the example app's. 1000 records over four models:
//!
//! - `NStory`: a `meta` map three levels deep (`meta.source.fetched`), `chapters` a list of maps
//!   each holding a list of maps, an f64 `rating`, an i64 `word_count`, a BOOL list, a string
//!   set, optional fields absent or present;
//! - `NProfile`: a nested `address` map (with a `geo` map of two f64), a string set of roles;
//! - `NComment`: flat, with an optional f64;
//! - `NOrderLine`: an f64 `price`, an i64 `qty` and a string map `attrs`.
//!
//! INSERT, MODIFY (both images) and REMOVE in turn, generated deterministically from a seed.

// The models' fields are decoded, not read: the benchmark measures decoding.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use dynastream::{Model, Router};

use crate::support::noop;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Deserialize)]
pub struct Source {
    pub name: String,
    pub url: String,
    pub fetched: i64,
}

#[derive(Debug, Deserialize)]
pub struct Scores {
    pub quality: f64,
    pub relevance: f64,
}

#[derive(Debug, Deserialize)]
pub struct Meta {
    pub lang: String,
    pub source: Source,
    pub scores: Scores,
}

#[derive(Debug, Deserialize)]
pub struct Section {
    pub heading: String,
    pub len: i64,
}

#[derive(Debug, Deserialize)]
pub struct Chapter {
    pub number: i64,
    pub title: String,
    pub words: i64,
    #[serde(default)]
    pub notes: Option<String>,
    pub sections: Vec<Section>,
}

#[derive(Debug, Deserialize, Model)]
#[dynastream(pk = "USER#{owner}#STORY#{story_id}", sk = "STORY#{story_id}")]
pub struct NStory {
    pub owner: String,
    pub story_id: String,
    pub title: String,
    pub rating: f64,
    pub word_count: i64,
    pub meta: Meta,
    pub chapters: Vec<Chapter>,
    pub flags: Vec<bool>,
    pub tags: BTreeSet<String>,
    #[serde(default)]
    pub subtitle: Option<String>,
    #[serde(default)]
    pub published: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct Geo {
    pub lat: f64,
    pub lon: f64,
}

#[derive(Debug, Deserialize)]
pub struct Address {
    pub street: String,
    pub city: String,
    pub geo: Geo,
}

#[derive(Debug, Deserialize, Model)]
#[dynastream(pk = "USER#{owner}", sk = "PROFILE")]
pub struct NProfile {
    pub owner: String,
    pub display_name: String,
    pub address: Address,
    pub roles: BTreeSet<String>,
    pub score: f64,
    #[serde(default)]
    pub age: Option<i64>,
}

#[derive(Debug, Deserialize, Model)]
#[dynastream(pk = "USER#{owner}#STORY#{story_id}", sk = "COMMENT#{comment_id}")]
pub struct NComment {
    pub owner: String,
    pub story_id: String,
    pub comment_id: String,
    pub author: String,
    pub body: String,
    pub likes: i64,
    pub edited: bool,
    #[serde(default)]
    pub rating: Option<f64>,
}

#[derive(Debug, Deserialize, Model)]
#[dynastream(pk = "ORDER#{order_id}", sk = "LINE#{line:04}")]
pub struct NOrderLine {
    pub order_id: String,
    pub line: u32,
    pub sku: String,
    pub qty: i64,
    pub price: f64,
    pub attrs: BTreeMap<String, String>,
    #[serde(default)]
    pub discount: Option<f64>,
}

/// A small deterministic generator (64-bit LCG), so every run decodes the same bytes.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn f64(&mut self) -> f64 {
        // A float with a fraction, as DynamoDB writes it (shortest round-trip text).
        (self.below(1_000_000) as f64) / 997.0
    }
    fn word(&mut self) -> String {
        const WORDS: [&str; 12] = [
            "stream", "table", "shard", "record", "image", "key", "batch", "mirror", "change",
            "model", "typed", "lambda",
        ];
        WORDS[self.below(WORDS.len() as u64) as usize].to_string()
    }
    fn text(&mut self, words: u64) -> String {
        (0..words)
            .map(|_| self.word())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn s(v: impl Into<String>) -> Value {
    json!({ "S": v.into() })
}
fn n(v: impl ToString) -> Value {
    json!({ "N": v.to_string() })
}
fn f(v: f64) -> Value {
    // Rust's shortest round-trip form, as DynamoDB returns what was written.
    json!({ "N": format!("{v}") })
}

/// (keys, attributes) of record `i`'s item, one of the four models in turn.
fn item(r: &mut Lcg, i: usize) -> (Vec<(&'static str, Value)>, serde_json::Map<String, Value>) {
    let owner = format!("user-{:04}", i / 8);
    let mut m = serde_json::Map::new();
    let keys;
    match i % 4 {
        0 => {
            let story = format!("s{}", i / 4);
            keys = vec![
                ("PK", s(format!("USER#{owner}#STORY#{story}"))),
                ("SK", s(format!("STORY#{story}"))),
            ];
            m.insert("owner".into(), s(owner.clone()));
            m.insert("story_id".into(), s(story));
            m.insert("title".into(), s(r.text(5)));
            m.insert("rating".into(), f(r.f64()));
            m.insert("word_count".into(), n(r.below(200_000)));
            m.insert(
                "meta".into(),
                json!({"M": {
                    "lang": s("en"),
                    "source": {"M": {
                        "name": s(r.word()),
                        "url": s(format!("https://example.org/{}/{}", r.word(), r.below(10_000))),
                        "fetched": n(1_763_000_000 + r.below(1_000_000)),
                    }},
                    "scores": {"M": {"quality": f(r.f64()), "relevance": f(r.f64())}},
                }}),
            );
            let chapters: Vec<Value> = (0..3 + r.below(3))
                .map(|c| {
                    let mut ch = serde_json::Map::new();
                    ch.insert("number".into(), n(c + 1));
                    ch.insert("title".into(), s(r.text(3)));
                    ch.insert("words".into(), n(r.below(20_000)));
                    if r.below(2) == 0 {
                        ch.insert("notes".into(), s(r.text(6)));
                    }
                    let sections: Vec<Value> = (0..2 + r.below(3))
                        .map(|_| json!({"M": {"heading": s(r.text(2)), "len": n(r.below(5_000))}}))
                        .collect();
                    ch.insert("sections".into(), json!({ "L": sections }));
                    json!({ "M": ch })
                })
                .collect();
            m.insert("chapters".into(), json!({ "L": chapters }));
            let flags: Vec<Value> = (0..4).map(|_| json!({"BOOL": r.below(2) == 0})).collect();
            m.insert("flags".into(), json!({ "L": flags }));
            let tags: BTreeSet<String> = (0..3).map(|_| r.word()).collect();
            m.insert("tags".into(), json!({ "SS": tags }));
            if r.below(2) == 0 {
                m.insert("subtitle".into(), s(r.text(4)));
            }
            if r.below(3) == 0 {
                m.insert("published".into(), n(1_760_000_000 + r.below(3_000_000)));
            }
        }
        1 => {
            keys = vec![("PK", s(format!("USER#{owner}"))), ("SK", s("PROFILE"))];
            m.insert("owner".into(), s(owner.clone()));
            m.insert("display_name".into(), s(r.text(2)));
            m.insert(
                "address".into(),
                json!({"M": {
                    "street": s(format!("{} {} street", r.below(200), r.word())),
                    "city": s(r.word()),
                    "geo": {"M": {"lat": f(r.f64() / 20.0), "lon": f(r.f64() / 10.0)}},
                }}),
            );
            let roles: BTreeSet<&str> = ["reader", "writer", "editor", "admin"]
                .into_iter()
                .filter(|_| r.below(2) == 0)
                .chain(["member"])
                .collect();
            m.insert("roles".into(), json!({ "SS": roles }));
            m.insert("score".into(), f(r.f64()));
            if r.below(2) == 0 {
                m.insert("age".into(), n(18 + r.below(60)));
            }
        }
        2 => {
            let story = format!("s{}", i / 4);
            let comment = format!("c{i:05}");
            keys = vec![
                ("PK", s(format!("USER#{owner}#STORY#{story}"))),
                ("SK", s(format!("COMMENT#{comment}"))),
            ];
            m.insert("owner".into(), s(owner.clone()));
            m.insert("story_id".into(), s(story));
            m.insert("comment_id".into(), s(comment));
            m.insert("author".into(), s(format!("user-{:04}", r.below(500))));
            m.insert("body".into(), s(r.text(12)));
            m.insert("likes".into(), n(r.below(1_000)));
            m.insert("edited".into(), json!({"BOOL": r.below(4) == 0}));
            if r.below(2) == 0 {
                m.insert("rating".into(), f(r.f64() / 200.0));
            }
        }
        _ => {
            let order = format!("o{}", i / 16);
            let line = (i / 4) % 10_000;
            keys = vec![
                ("PK", s(format!("ORDER#{order}"))),
                ("SK", s(format!("LINE#{line:04}"))),
            ];
            m.insert("order_id".into(), s(order));
            m.insert("line".into(), n(line));
            m.insert("sku".into(), s(format!("SKU-{}", r.below(100_000))));
            m.insert("qty".into(), n(1 + r.below(20)));
            m.insert("price".into(), f(r.f64() / 10.0));
            let attrs: serde_json::Map<String, Value> = ["color", "size", "fabric"]
                .into_iter()
                .map(|k| (k.to_string(), s(r.word())))
                .collect();
            m.insert("attrs".into(), json!({ "M": attrs }));
            if r.below(3) == 0 {
                m.insert("discount".into(), f(r.f64() / 1000.0));
            }
        }
    }
    for (k, v) in &keys {
        m.insert((*k).to_string(), v.clone());
    }
    (keys, m)
}

/// The second batch: `records` records, INSERT / MODIFY (both images) / REMOVE in turn.
pub fn batch(records: usize, seed: u64) -> Vec<u8> {
    let mut r = Lcg(seed);
    let mut out = Vec::with_capacity(records);
    for i in 0..records {
        let (keys, new) = item(&mut r, i);
        let kind = ["INSERT", "MODIFY", "REMOVE"][i % 3];
        let mut ddb = serde_json::Map::new();
        ddb.insert(
            "ApproximateCreationDateTime".into(),
            json!(1_763_000_000 + i as u64),
        );
        ddb.insert(
            "Keys".into(),
            Value::Object(
                keys.iter()
                    .map(|(k, v)| ((*k).to_string(), v.clone()))
                    .collect(),
            ),
        );
        if kind != "REMOVE" {
            ddb.insert("NewImage".into(), Value::Object(new));
        }
        if kind != "INSERT" {
            let (_, old) = item(&mut r, i);
            ddb.insert("OldImage".into(), Value::Object(old));
        }
        ddb.insert(
            "SequenceNumber".into(),
            json!(format!("{}", 9_000_000_000u64 + i as u64)),
        );
        ddb.insert("SizeBytes".into(), json!(500));
        ddb.insert("StreamViewType".into(), json!("NEW_AND_OLD_IMAGES"));
        out.push(json!({
            "eventID": format!("{i:032x}"),
            "eventName": kind,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "eu-west-1",
            "dynamodb": ddb,
            "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/app/stream/2026-11-01T00:00:00.000",
        }));
    }
    serde_json::to_vec(&json!({ "Records": out })).expect("a JSON value serializes")
}

/// A router with a no-op handler for each of the four models.
pub fn router() -> Router<()> {
    Router::builder(())
        .on::<NStory, _>(noop::<NStory>())
        .on::<NProfile, _>(noop::<NProfile>())
        .on::<NComment, _>(noop::<NComment>())
        .on::<NOrderLine, _>(noop::<NOrderLine>())
        .build()
        .expect("the nested models do not overlap")
}

/// What a user writes today for this batch: aws_lambda_events' event, the key prefix matched
/// by hand, each image decoded with serde_dynamo into the same structs.
pub fn hand_written(bytes: &[u8]) -> usize {
    use aws_lambda_events::event::dynamodb::{Event, EventRecord};
    fn images<T: serde::de::DeserializeOwned>(r: EventRecord) -> usize {
        let mut n = 0;
        if !r.change.new_image.is_empty() {
            let v: T = serde_dynamo::from_item(r.change.new_image).expect("fits");
            std::hint::black_box(&v);
            n += 1;
        }
        if !r.change.old_image.is_empty() {
            let v: T = serde_dynamo::from_item(r.change.old_image).expect("fits");
            std::hint::black_box(&v);
            n += 1;
        }
        n
    }
    let event: Event = serde_json::from_slice(bytes).expect("event");
    let mut decoded = 0;
    for r in event.records {
        let text = |name: &str| match r.change.keys.get(name) {
            Some(serde_dynamo::AttributeValue::S(s)) => Some(s.clone()),
            _ => None,
        };
        let (Some(pk), Some(sk)) = (text("PK"), text("SK")) else {
            continue;
        };
        decoded += if pk.starts_with("ORDER#") {
            images::<NOrderLine>(r)
        } else if sk == "PROFILE" {
            images::<NProfile>(r)
        } else if sk.starts_with("STORY#") {
            images::<NStory>(r)
        } else if sk.starts_with("COMMENT#") {
            images::<NComment>(r)
        } else {
            0
        };
    }
    decoded
}
