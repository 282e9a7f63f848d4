//! Realistic DynamoDB Streams batches over the example models, deterministic for a seed: all
//! five models, INSERT / MODIFY / REMOVE (some by TTL), images of every attribute type.

use dynastream::Model;
use serde_json::{json, Value};

use crate::{Board, OrderLine, Story, Task, UserProfile};

/// A small deterministic generator (no dependency, same output everywhere).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn word(&mut self) -> String {
        const WORDS: [&str; 16] = [
            "river", "stone", "lamp", "orbit", "maple", "quartz", "ember", "harbor", "violet",
            "signal", "cedar", "north", "pixel", "tundra", "willow", "zephyr",
        ];
        WORDS[self.below(16) as usize].to_string()
    }
    fn words(&mut self, n: usize) -> String {
        (0..n).map(|_| self.word()).collect::<Vec<_>>().join(" ")
    }
}

fn s(v: impl Into<String>) -> Value {
    json!({ "S": v.into() })
}
fn n(v: impl ToString) -> Value {
    json!({ "N": v.to_string() })
}

/// Attributes every item carries besides its model's fields, covering every type; the models
/// ignore them, as real items carry attributes a given consumer does not read.
fn extras(r: &mut Lcg, i: usize) -> Vec<(&'static str, Value)> {
    vec![
        (
            "meta",
            json!({ "M": { "source": s("api"), "attempt": n(r.below(5)), "trace": { "L": [ { "BOOL": true }, { "NULL": true }, n("3.25") ] } } }),
        ),
        ("blob", json!({ "B": BLOBS[i % 3] })),
        ("sizes", json!({ "NS": ["1", "2.5", "-3", "1E+2"] })),
        ("hashes", json!({ "BS": ["AQ==", "AgM="] })),
        (
            "labels",
            json!({ "SS": [r.word(), format!("{}-{}", r.word(), i)] }),
        ),
        ("archived", json!({ "BOOL": i.is_multiple_of(7) })),
        ("note", json!({ "NULL": true })),
        (
            "updated_at",
            s(format!("2026-11-{:02}T10:{:02}:00Z", 1 + i % 28, i % 60)),
        ),
        ("version", n(1 + r.below(40))),
    ]
}

const BLOBS: [&str; 3] = ["AAEC", "3q2+7w==", "aGVsbG8gd29ybGQ="];

fn image(
    keys: &[(&str, Value)],
    fields: Vec<(&str, Value)>,
    schema_version: &str,
    r: &mut Lcg,
    i: usize,
) -> Value {
    let mut m = serde_json::Map::new();
    for (k, v) in keys.iter().cloned().chain(fields).chain(extras(r, i)) {
        m.insert(k.to_string(), v);
    }
    m.insert("schema_version".into(), s(schema_version));
    Value::Object(m)
}

/// Attribute name / value pairs.
type Attrs = Vec<(&'static str, Value)>;

/// One item of model `i % 5`: its keys, a fresh image of its fields, its schema version.
fn item(r: &mut Lcg, i: usize, id: usize) -> (Attrs, Attrs, &'static str) {
    let owner = format!("user-{}", id % 13);
    match i % 5 {
        0 => {
            let task_id = format!("t{id}");
            let keys = vec![
                ("PK", s(format!("#TASK#{owner}"))),
                ("SK", s(format!("#TASK#{task_id}"))),
            ];
            let status = if r.below(2) == 0 { "OPEN" } else { "CLOSED" };
            let fields = vec![
                ("owner", s(&owner)),
                ("task_id", s(task_id)),
                ("title", s(r.words(4))),
                ("status", s(status)),
            ];
            (keys, fields, Task::SCHEMA_VERSION)
        }
        1 => {
            let board_id = format!("b{}", id % 17);
            let keys = vec![
                ("PK", s(format!("#BOARD#{owner}"))),
                ("SK", s(format!("#BOARD#{board_id}"))),
            ];
            let fields = vec![
                ("owner", s(&owner)),
                ("board_id", s(board_id)),
                ("name", s(r.words(2))),
                ("task_count", n(r.below(50))),
            ];
            (keys, fields, Board::SCHEMA_VERSION)
        }
        2 => {
            let story_id = format!("{}", 1000 + id);
            let keys = vec![
                ("PK", s(format!("USER#{owner}#STORY#{story_id}"))),
                ("SK", s(format!("STORY#{story_id}"))),
            ];
            let words = 20 + r.below(30) as usize;
            let fields = vec![
                ("owner", s(&owner)),
                ("story_id", s(story_id)),
                ("title", s(r.words(5))),
                ("content", s(r.words(words))),
                (
                    "tags",
                    json!({ "SS": [r.word(), format!("tag{}", id % 9)] }),
                ),
                ("word_count", n(words)),
            ];
            (keys, fields, Story::SCHEMA_VERSION)
        }
        3 => {
            let keys = vec![("PK", s(format!("USER#{owner}"))), ("SK", s("PROFILE"))];
            let mut fields = vec![
                ("owner", s(&owner)),
                ("display_name", s(r.words(2))),
                ("email", s(format!("{owner}@example.com"))),
            ];
            if r.below(3) > 0 {
                fields.push(("age", n(18 + r.below(60))));
            }
            (keys, fields, UserProfile::SCHEMA_VERSION)
        }
        _ => {
            let order_id = format!("o-{}", id % 23);
            let line = 1 + (id % 40);
            let keys = vec![
                ("PK", s(format!("ORDER#{order_id}"))),
                ("SK", s(format!("LINE#{line:04}"))),
            ];
            let price = format!("{}.{:02}", r.below(200), r.below(100));
            let fields = vec![
                ("order_id", s(order_id)),
                ("line", n(line)),
                ("sku", s(format!("SKU-{}", r.below(900) + 100))),
                ("qty", n(1 + r.below(9))),
                ("unit_price", n(price)),
            ];
            (keys, fields, OrderLine::SCHEMA_VERSION)
        }
    }
}

/// A batch of `records` stream records as Lambda delivers them (NEW_AND_OLD_IMAGES): all five
/// models in turn, kinds INSERT / MODIFY / REMOVE in turn, every tenth REMOVE by TTL.
pub fn mixed_batch(records: usize, seed: u64) -> Value {
    let mut r = Lcg(seed);
    let mut out = Vec::with_capacity(records);
    for i in 0..records {
        let id = i / 3;
        let (keys, fields, sv) = item(&mut r, i, id);
        let kind = ["INSERT", "MODIFY", "REMOVE"][(i / 5) % 3];
        let mut ddb = serde_json::Map::new();
        ddb.insert(
            "ApproximateCreationDateTime".into(),
            json!(1_763_000_000.0 + i as f64 + 0.125),
        );
        ddb.insert(
            "Keys".into(),
            Value::Object(
                keys.iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
            ),
        );
        if kind != "REMOVE" {
            ddb.insert(
                "NewImage".into(),
                image(&keys, fields.clone(), sv, &mut r, i),
            );
        }
        if kind != "INSERT" {
            let (_, old_fields, _) = item(&mut r, i, id);
            ddb.insert("OldImage".into(), image(&keys, old_fields, sv, &mut r, i));
        }
        ddb.insert(
            "SequenceNumber".into(),
            json!(format!("{}", 4_000_000_000_000_000_000u64 + i as u64 * 100)),
        );
        ddb.insert("SizeBytes".into(), json!(300 + r.below(900)));
        ddb.insert("StreamViewType".into(), json!("NEW_AND_OLD_IMAGES"));
        let mut rec = json!({
            "eventID": format!("{:032x}", (i as u128 + 1) * 0x9e3779b97f4a7c15),
            "eventName": kind,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "eu-west-1",
            "dynamodb": Value::Object(ddb),
            "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/app/stream/2026-11-01T00:00:00.000",
        });
        if kind == "REMOVE" && i.is_multiple_of(10) {
            rec["userIdentity"] =
                json!({ "type": "Service", "principalId": "dynamodb.amazonaws.com" });
        }
        out.push(rec);
    }
    json!({ "Records": out })
}
