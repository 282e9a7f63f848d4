//! The store conformance suite: every case runs against DynamoDB (moto's server mode, at
//! `DYNAMODB_ENDPOINT`) and Postgres (`DATABASE_URL`, else 127.0.0.1:5432) with the same inputs
//! and the same expected results.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use dynastream::key::{KeyError, RenderError};
use dynastream::postgres::PgStore;
use dynastream::store::{Query, Store, StoreError, Transaction};
use dynastream::Model;
use futures_util::TryStreamExt as _;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

/// An employee, findable by team through GSI1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[dynastream(
    pk = "ORG#{org}",
    sk = "EMP#{name}",
    gsi(name = "GSI1", pk = "TEAM#{team}", sk = "EMP#{name}")
)]
struct Employee {
    org: String,
    name: String,
    team: String,
    level: u32,
}

/// Another model in the same partitions as `Employee`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[dynastream(pk = "ORG#{org}", sk = "NOTE#{id:04}")]
struct Note {
    org: String,
    id: u32,
    text: String,
}

/// Written under `Employee`'s keys with a `level` of the wrong type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[dynastream(pk = "ORG#{org}", sk = "EMP#{name}")]
struct BadEmployee {
    org: String,
    name: String,
    level: String,
}

/// Shares `Note`'s sort-key prefix (`NOTE#0002#BADGE#gold` begins with `NOTE#0002`), but is
/// not a `Note`: the padded number does not parse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[dynastream(pk = "ORG#{org}", sk = "NOTE#{id:04}#BADGE#{badge}")]
struct Badge {
    org: String,
    id: u32,
    badge: String,
}

/// A composite sort key, for prefixes built from a leading run of fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[dynastream(pk = "LOG#{stream}", sk = "DAY#{day}#AT#{seq:04}")]
struct Entry {
    stream: String,
    day: String,
    seq: u32,
}

/// A table with a partition key only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[dynastream(pk = "SESSION#{id}")]
struct Session {
    id: String,
    user: String,
    n: u32,
}

fn session(id: &str, n: u32) -> Session {
    Session {
        id: id.into(),
        user: "ann".into(),
        n,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Address {
    street: String,
    zip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Shape {
    Dot,
    Circle(u32),
    Rect { w: i64, h: i64 },
}

/// Every attribute type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[dynastream(pk = "ALL#{id}", sk = "ALL")]
struct AllTypes {
    id: String,
    s: String,
    empty_s: String,
    unicode: String,
    i: i64,
    big: u64,
    f: f64,
    price: Decimal,
    yes: bool,
    none: Option<i32>,
    some: Option<i32>,
    list: Vec<String>,
    mixed: Vec<Shape>,
    tags: BTreeSet<String>,
    scores: BTreeSet<i64>,
    #[serde(default)]
    empty_set: BTreeSet<String>,
    blob: ByteBuf,
    blobs: BTreeSet<ByteBuf>,
    bytes_as_list: Vec<u8>,
    address: Address,
    map: BTreeMap<String, i32>,
    shape: Shape,
    empty_list: Vec<i32>,
}

fn emp(org: &str, name: &str, team: &str) -> Employee {
    Employee {
        org: org.into(),
        name: name.into(),
        team: team.into(),
        level: name.len() as u32,
    }
}

fn org(org: &str) -> EmployeeKeyPrefix {
    EmployeeKeyPrefix {
        org: Some(org.into()),
        ..Default::default()
    }
}

async fn all<S: Store, M: Model>(store: &S, q: Query<M>) -> Vec<M> {
    store.query(q).try_collect().await.expect("query")
}

fn names(items: &[Employee]) -> Vec<&str> {
    items.iter().map(|e| e.name.as_str()).collect()
}

/// Names sorted by UTF-8 bytes, DynamoDB's order.
fn byte_sorted(mut v: Vec<&str>) -> Vec<&str> {
    v.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    v
}

// ---- the cases ---------------------------------------------------------------------------

async fn save_get_delete<S: Store>(store: S) {
    let e = emp("acme", "ann", "red");
    let key = EmployeeKey {
        org: "acme".into(),
        name: "ann".into(),
    };
    assert_eq!(
        store.get::<Employee>(&key).await.unwrap(),
        None,
        "missing item"
    );
    assert!(
        !store.delete::<Employee>(&key).await.unwrap(),
        "deleting a missing item"
    );
    store.save(&e).await.unwrap();
    assert_eq!(store.get::<Employee>(&key).await.unwrap(), Some(e.clone()));
    let mut e2 = e.clone();
    e2.level = 99;
    store.save(&e2).await.unwrap();
    assert_eq!(store.get::<Employee>(&key).await.unwrap(), Some(e2));
    assert!(store.delete::<Employee>(&key).await.unwrap());
    assert_eq!(store.get::<Employee>(&key).await.unwrap(), None);
}

async fn create_conflicts<S: Store>(store: S) {
    let e = emp("acme", "bo", "red");
    store.create(&e).await.unwrap();
    let err = store.create(&emp("acme", "bo", "blue")).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::AlreadyExists { entity: "Employee", pk, sk } if pk == "ORG#acme" && sk == "EMP#bo"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "Employee at ORG#acme / EMP#bo already exists"
    );
    let key = e.key();
    assert_eq!(
        store.get::<Employee>(&key).await.unwrap().unwrap().team,
        "red",
        "the first one stays"
    );
    store.delete::<Employee>(&key).await.unwrap();
    store.create(&emp("acme", "bo", "blue")).await.unwrap();
}

const ORDER_NAMES: &[&str] = &[
    "b", "B", "a", "Z", "aa", "a b", "ä", "é", "z", "~", "😀", "日本", "A", "0", "9", "-", "_", "ÿ",
];

async fn byte_order_and_unicode<S: Store>(store: S) {
    for n in ORDER_NAMES {
        store.save(&emp("組織", n, "t")).await.unwrap();
    }
    let expected = byte_sorted(ORDER_NAMES.to_vec());
    let got = all(&store, Query::new(org("組織"))).await;
    assert_eq!(names(&got), expected);
    let got = all(&store, Query::new(org("組織")).reverse()).await;
    let mut rev = expected.clone();
    rev.reverse();
    assert_eq!(names(&got), rev);
    let key = EmployeeKey {
        org: "組織".into(),
        name: "😀".into(),
    };
    assert_eq!(
        store.get::<Employee>(&key).await.unwrap().unwrap().name,
        "😀"
    );
}

async fn wildcard_characters_are_literal<S: Store>(store: S) {
    for day in ["d_1", "dx1", "d%1", "d%1x", "d_10"] {
        for seq in [1, 2] {
            store
                .save(&Entry {
                    stream: "s".into(),
                    day: day.into(),
                    seq,
                })
                .await
                .unwrap();
        }
    }
    let q = |day: &str| {
        Query::<Entry>::new(EntryKeyPrefix {
            stream: Some("s".into()),
            day: Some(day.into()),
            seq: None,
        })
    };
    let got: Vec<(String, u32)> = all(&store, q("d_1"))
        .await
        .into_iter()
        .map(|e| (e.day, e.seq))
        .collect();
    assert_eq!(
        got,
        vec![("d_1".to_string(), 1), ("d_1".to_string(), 2)],
        "`_` is not a wildcard, and the prefix ends at #AT#"
    );
    let got: Vec<(String, u32)> = all(&store, q("d%1"))
        .await
        .into_iter()
        .map(|e| (e.day, e.seq))
        .collect();
    assert_eq!(
        got,
        vec![("d%1".to_string(), 1), ("d%1".to_string(), 2)],
        "`%` is not a wildcard"
    );
    // The full key as a prefix.
    let one = all(
        &store,
        Query::<Entry>::new(EntryKeyPrefix {
            stream: Some("s".into()),
            day: Some("dx1".into()),
            seq: Some(2),
        }),
    )
    .await;
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].seq, 2);
}

async fn reverse_limit_and_pages<S: Store>(store: S) {
    let names: Vec<String> = (0..230).map(|i| format!("e{i:03}")).collect();
    let items: Vec<Employee> = names.iter().map(|n| emp("big", n, "t")).collect();
    store.batch_save(&items).await.unwrap();
    let got = all(&store, Query::new(org("big")).page_size(7)).await;
    assert_eq!(got.len(), 230, "every page is read");
    assert_eq!(got, items, "in key order across 33 pages");
    let got = all(
        &store,
        Query::new(org("big")).reverse().page_size(9).limit(20),
    )
    .await;
    let expected: Vec<&str> = names.iter().rev().take(20).map(String::as_str).collect();
    assert_eq!(self::names(&got), expected);
    let got = all(&store, Query::new(org("big")).limit(3)).await;
    assert_eq!(self::names(&got), ["e000", "e001", "e002"]);
    let got = all(
        &store,
        Query::new(EmployeeKeyPrefix {
            org: Some("big".into()),
            name: Some("e1".into()),
            ..Default::default()
        }),
    )
    .await;
    assert_eq!(got.len(), 100, "prefix e1 covers e100..e199");
}

async fn other_models_are_skipped<S: Store>(store: S) {
    store.save(&emp("mix", "cy", "t")).await.unwrap();
    store.save(&emp("mix", "dee", "t")).await.unwrap();
    for id in 1..=5 {
        store
            .save(&Note {
                org: "mix".into(),
                id,
                text: format!("note {id}"),
            })
            .await
            .unwrap();
    }
    for (id, badge) in [
        (2, "gold"),
        (2, "silver"),
        (4, "bronze"),
        (5, "a"),
        (5, "b"),
        (5, "c"),
    ] {
        store
            .save(&Badge {
                org: "mix".into(),
                id,
                badge: badge.into(),
            })
            .await
            .unwrap();
    }
    let got = all(&store, Query::new(org("mix"))).await;
    assert_eq!(names(&got), ["cy", "dee"]);
    // Badges share the notes' prefix `NOTE#`. Page size 2, so some pages hold only badges:
    // skipping must not end the query early, and the limit counts notes only.
    let note_q = |id: Option<u32>| {
        Query::<Note>::new(NoteKeyPrefix {
            org: Some("mix".into()),
            id,
        })
        .page_size(2)
    };
    let ids = |v: Vec<Note>| v.into_iter().map(|n| n.id).collect::<Vec<_>>();
    assert_eq!(ids(all(&store, note_q(None)).await), [1, 2, 3, 4, 5]);
    assert_eq!(
        ids(all(&store, note_q(None).reverse()).await),
        [5, 4, 3, 2, 1]
    );
    assert_eq!(
        ids(all(&store, note_q(None).reverse().limit(2)).await),
        [5, 4]
    );
    assert_eq!(
        ids(all(&store, note_q(Some(2))).await),
        [2],
        "NOTE#0002 also prefixes two badges"
    );
    let badges = all(
        &store,
        Query::<Badge>::new(BadgeKeyPrefix {
            org: Some("mix".into()),
            id: Some(5),
            badge: None,
        }),
    )
    .await;
    assert_eq!(
        badges.iter().map(|b| b.badge.as_str()).collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
}

async fn batch_save_over_25<S: Store>(store: S) {
    let mut items: Vec<Employee> = (0..60)
        .map(|i| emp("batch", &format!("b{i:02}"), "t"))
        .collect();
    // The same key twice: the last one is written.
    let mut dup = emp("batch", "b07", "t");
    dup.level = 1234;
    items.push(dup);
    store.batch_save(&items).await.unwrap();
    let got = all(&store, Query::new(org("batch"))).await;
    assert_eq!(got.len(), 60);
    assert_eq!(got[7].level, 1234);
}

async fn transactions_are_all_or_nothing<S: Store>(store: S) {
    store.save(&emp("tx", "exists", "t")).await.unwrap();
    store.save(&emp("tx", "doomed", "t")).await.unwrap();
    let mut tx = Transaction::new();
    tx.save(&emp("tx", "new1", "t"))
        .unwrap()
        .delete::<Employee>(&EmployeeKey {
            org: "tx".into(),
            name: "doomed".into(),
        })
        .unwrap()
        .create(&emp("tx", "exists", "other"))
        .unwrap();
    let err = store.transact(tx).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::TransactionConflict { index: 2, entity: "Employee", sk, .. } if sk == "EMP#exists"),
        "{err:?}"
    );
    let got = all(&store, Query::new(org("tx"))).await;
    assert_eq!(
        names(&got),
        ["doomed", "exists"],
        "nothing of the failed transaction is written"
    );
    assert_eq!(got[1].team, "t");

    let mut tx = Transaction::new();
    tx.create(&emp("tx", "new1", "t"))
        .unwrap()
        .delete::<Employee>(&EmployeeKey {
            org: "tx".into(),
            name: "doomed".into(),
        })
        .unwrap()
        .save(&Note {
            org: "tx".into(),
            id: 1,
            text: "n".into(),
        })
        .unwrap();
    store.transact(tx).await.unwrap();
    let got = all(&store, Query::new(org("tx"))).await;
    assert_eq!(names(&got), ["exists", "new1"]);
}

async fn gsi_queries<S: Store>(store: S) {
    let people = [
        ("a1", "zed", "red"),
        ("a1", "amy", "red"),
        ("a2", "bob", "red"),
        ("a2", "cat", "blue"),
        ("a3", "abe", "red"),
    ];
    for (o, n, t) in people {
        store.save(&emp(o, n, t)).await.unwrap();
    }
    let team = |t: &str| EmployeeKeyPrefix {
        team: Some(t.into()),
        ..Default::default()
    };
    let got = all(&store, Query::new(team("red")).index("GSI1").page_size(2)).await;
    assert_eq!(names(&got), ["abe", "amy", "bob", "zed"]);
    let got = all(
        &store,
        Query::new(team("red")).index("GSI1").reverse().limit(2),
    )
    .await;
    assert_eq!(names(&got), ["zed", "bob"]);
    let got = all(
        &store,
        Query::new(EmployeeKeyPrefix {
            team: Some("red".into()),
            name: Some("a".into()),
            ..Default::default()
        })
        .index("GSI1"),
    )
    .await;
    assert_eq!(names(&got), ["abe", "amy"]);
    let err = store
        .query(Query::new(team("red")).index("GSI9"))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownIndex { .. }), "{err:?}");
}

fn all_types(id: &str) -> AllTypes {
    AllTypes {
        id: id.into(),
        s: "plain \"quoted\" \\ text\nnewline".into(),
        empty_s: String::new(),
        unicode: "日本語 😀 ünïcödé".into(),
        i: -9_007_199_254_740_993,
        big: u64::MAX,
        f: 0.1,
        price: "12345678901234567890.123456789".parse().unwrap(),
        yes: true,
        none: None,
        some: Some(-7),
        list: vec!["x".into(), "".into(), "y".into()],
        mixed: vec![Shape::Dot, Shape::Circle(3), Shape::Rect { w: -1, h: 2 }],
        tags: ["b", "a", "c"].iter().map(|s| s.to_string()).collect(),
        scores: [3, -1, 1_000_000_000_000].into(),
        empty_set: BTreeSet::new(),
        blob: ByteBuf::from(vec![0u8, 1, 2, 255, 254]),
        blobs: [ByteBuf::from(vec![1u8]), ByteBuf::from(vec![2u8, 3])].into(),
        bytes_as_list: vec![7, 8, 9],
        address: Address {
            street: "Main".into(),
            zip: None,
        },
        map: [("one".to_string(), 1), ("minus".to_string(), -1)].into(),
        shape: Shape::Rect { w: 3, h: 4 },
        empty_list: vec![],
    }
}

async fn every_attribute_type_round_trips<S: Store>(store: S) {
    let item = all_types("1");
    store.save(&item).await.unwrap();
    let back = store
        .get::<AllTypes>(&AllTypesKey { id: "1".into() })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back, item);
    assert_eq!(
        back.price.to_string(),
        "12345678901234567890.123456789",
        "exact decimal"
    );
}

async fn errors_say_what_happened<S: Store>(store: S) {
    // A value containing its pattern's separator.
    let err = store
        .save(&Entry {
            stream: "s".into(),
            day: "x#AT#y".into(),
            seq: 1,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Key { entity: "Entry", source: KeyError::Render(RenderError::ContainsSeparator { field, .. }) } if field == "day"),
        "{err:?}"
    );
    // A missing partition key field.
    let err = store
        .query(Query::<Employee>::new(EmployeeKeyPrefix::default()))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Key { source: KeyError::Missing { field, .. }, .. } if field == "org"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "Employee: missing key field `org` for key pattern `ORG#{org}`"
    );
    // A gap in the sort-key prefix.
    let err = store
        .query(Query::<Entry>::new(EntryKeyPrefix {
            stream: Some("s".into()),
            day: None,
            seq: Some(3),
        }))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            StoreError::Key {
                source: KeyError::Gap { .. },
                ..
            }
        ),
        "{err:?}"
    );
    // Over 400 KB.
    let mut big = emp("big", "huge", "t");
    big.team = "x".repeat(410 * 1024);
    let err = store.save(&big).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::ItemTooLarge { size, .. } if *size > 400 * 1024),
        "{err:?}"
    );
    // An item under a model's key whose attributes do not fit the model.
    store
        .save(&BadEmployee {
            org: "bad".into(),
            name: "x".into(),
            level: "senior".into(),
        })
        .await
        .unwrap();
    let err = store
        .get::<Employee>(&EmployeeKey {
            org: "bad".into(),
            name: "x".into(),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Decode { entity: "Employee", source, .. } if source.field.as_deref() == Some("level")),
        "{err:?}"
    );
}

async fn table_missing<S: Store>(store: S) {
    let err = store.save(&emp("a", "b", "c")).await.unwrap_err();
    assert!(matches!(err, StoreError::TableMissing { .. }), "{err:?}");
    let err = store
        .get::<Employee>(&EmployeeKey {
            org: "a".into(),
            name: "b".into(),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::TableMissing { .. }), "{err:?}");
}

/// Every operation on a table with a partition key only (`create-table` without a sort key on
/// DynamoDB; the sort key `""` in Postgres).
async fn partition_key_only<S: Store>(store: S) {
    let key = SessionKey { id: "s1".into() };
    assert_eq!(store.get::<Session>(&key).await.unwrap(), None);
    store.save(&session("s1", 1)).await.unwrap();
    assert_eq!(
        store.get::<Session>(&key).await.unwrap(),
        Some(session("s1", 1))
    );
    let err = store.create(&session("s1", 2)).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::AlreadyExists { entity: "Session", pk, sk } if pk == "SESSION#s1" && sk.is_empty()),
        "{err:?}"
    );
    store.save(&session("s1", 3)).await.unwrap();
    assert_eq!(store.get::<Session>(&key).await.unwrap().unwrap().n, 3);
    let got = all(
        &store,
        Query::new(SessionKeyPrefix {
            id: Some("s1".into()),
        }),
    )
    .await;
    assert_eq!(got, [session("s1", 3)]);

    let many: Vec<Session> = (0..30).map(|i| session(&format!("b{i:02}"), i)).collect();
    store.batch_save(&many).await.unwrap();
    for i in [0u32, 17, 29] {
        let k = SessionKey {
            id: format!("b{i:02}"),
        };
        assert_eq!(store.get::<Session>(&k).await.unwrap().unwrap().n, i);
    }

    let mut tx = Transaction::new();
    tx.save(&session("t1", 1))
        .unwrap()
        .delete::<Session>(&key)
        .unwrap()
        .create(&session("b00", 9))
        .unwrap();
    assert!(matches!(
        store.transact(tx).await.unwrap_err(),
        StoreError::TransactionConflict { index: 2, .. }
    ));
    assert!(
        store.get::<Session>(&key).await.unwrap().is_some(),
        "all or nothing"
    );
    let mut tx = Transaction::new();
    tx.save(&session("t1", 1))
        .unwrap()
        .delete::<Session>(&key)
        .unwrap();
    store.transact(tx).await.unwrap();
    assert_eq!(store.get::<Session>(&key).await.unwrap(), None);
    assert_eq!(
        store
            .get::<Session>(&SessionKey { id: "t1".into() })
            .await
            .unwrap(),
        Some(session("t1", 1))
    );
    assert!(store
        .delete::<Session>(&SessionKey { id: "t1".into() })
        .await
        .unwrap());
}

#[tokio::test]
async fn partition_key_only_on_dynamodb() {
    partition_key_only(
        support::dynamo::fresh_store_keyed("partition_key_only", ("PK", ""), &[]).await,
    )
    .await;
}

#[tokio::test]
async fn partition_key_only_on_postgres() {
    partition_key_only(postgres("partition_key_only").await).await;
}

// ---- backends ----------------------------------------------------------------------------

async fn dynamo(name: &str) -> dynastream::dynamodb::DynamoStore {
    support::dynamo::fresh_store(
        name,
        &dynastream::dynamodb::index_attrs(Employee::indexes()),
    )
    .await
}

async fn postgres(name: &str) -> PgStore {
    let schema = support::pg::fresh_schema(&format!("store_{name}")).await;
    let config = dynastream::postgres::MirrorConfig::new(&support::pg::database_url())
        .unwrap()
        .schema(&schema)
        .unwrap()
        .table("items")
        .unwrap();
    let store = PgStore::connect(&config).await.expect("connect");
    store.create_table().await.expect("create table");
    store
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod on_dynamodb {
            $(#[tokio::test]
            async fn $case() {
                super::$case(super::dynamo(stringify!($case)).await).await;
            })*
        }
        mod on_postgres {
            $(#[tokio::test]
            async fn $case() {
                super::$case(super::postgres(stringify!($case)).await).await;
            })*
        }
    };
}

conformance!(
    save_get_delete,
    create_conflicts,
    byte_order_and_unicode,
    wildcard_characters_are_literal,
    reverse_limit_and_pages,
    other_models_are_skipped,
    batch_save_over_25,
    transactions_are_all_or_nothing,
    gsi_queries,
    every_attribute_type_round_trips,
    errors_say_what_happened,
);

#[tokio::test]
async fn table_missing_on_dynamodb() {
    table_missing(dynastream::dynamodb::DynamoStore::new(
        support::dynamo::client(),
        "no_such_table",
    ))
    .await;
}

#[tokio::test]
async fn table_missing_on_postgres() {
    let (client, conn) =
        tokio_postgres::connect(&support::pg::database_url(), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(conn);
    let config = dynastream::postgres::MirrorConfig::new(&support::pg::database_url())
        .unwrap()
        .table("no_such_schema_x.items")
        .unwrap();
    table_missing(PgStore::new(client, &config)).await;
}

/// A row the Postgres store writes follows the mirror's layout and JSON conventions: entity and
/// schema_version columns, exact numbers, sets as arrays, binary as base64, the keys only in
/// pk / sk, seq 0.
#[tokio::test]
async fn postgres_rows_match_the_mirror_layout() {
    let pg = postgres("layout").await;
    let item = all_types("L");
    pg.save(&item).await.unwrap();
    let client = support::pg::client().await;
    let row = client
        .query_one(
            "SELECT entity, schema_version, data->>'price', (data->'tags')::text, data->>'blob', data ? 'PK', seq::text, deleted FROM t_store_layout.items WHERE pk = 'ALL#L' AND sk = 'ALL'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Option<String>>(0).as_deref(), Some("AllTypes"));
    assert_eq!(
        row.get::<_, Option<String>>(1).as_deref(),
        Some(AllTypes::SCHEMA_VERSION)
    );
    assert_eq!(
        row.get::<_, Option<String>>(2).as_deref(),
        Some("12345678901234567890.123456789")
    );
    assert_eq!(row.get::<_, String>(3), r#"["a", "b", "c"]"#);
    assert_eq!(row.get::<_, String>(4), "AAEC//4=");
    assert!(
        !row.get::<_, bool>(5),
        "key attributes live in pk/sk, not data"
    );
    assert_eq!(row.get::<_, String>(6), "0");
    assert!(!row.get::<_, bool>(7));
}

/// After an operation's first use, the Postgres store sends it as one round trip: its
/// statements are prepared once per connection.
#[tokio::test]
async fn postgres_operations_are_one_round_trip_when_warm() {
    use std::sync::atomic::Ordering;
    let _ = postgres("round_trips").await; // creates the table
    let proxy = support::pg::Proxy::start().await;
    let config = dynastream::postgres::MirrorConfig::new(&support::pg::url_via(proxy.port))
        .unwrap()
        .schema("t_store_round_trips")
        .unwrap()
        .table("items")
        .unwrap();
    let store = PgStore::connect(&config).await.unwrap();
    let key = EmployeeKey {
        org: "rt".into(),
        name: "a".into(),
    };
    store.save(&emp("rt", "a", "t")).await.unwrap();
    store.get::<Employee>(&key).await.unwrap();
    for (what, turns) in [
        ("save", {
            let before = proxy.turns.load(Ordering::SeqCst);
            store.save(&emp("rt", "a", "u")).await.unwrap();
            proxy.turns.load(Ordering::SeqCst) - before
        }),
        ("get", {
            let before = proxy.turns.load(Ordering::SeqCst);
            assert_eq!(
                store.get::<Employee>(&key).await.unwrap().unwrap().team,
                "u"
            );
            proxy.turns.load(Ordering::SeqCst) - before
        }),
    ] {
        assert_eq!(turns, 1, "{what}");
    }
}
