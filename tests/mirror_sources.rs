//! The mirror keeps streams and tables apart: rows are ordered by stream (its label, the
//! stream's creation time) before sequence number, one mirror table holds one DynamoDB table,
//! and the views' `values_fit` follows the model's own Rust types.

mod support;

use dynastream::dynamodb_json::{decode_model, Binary};
use dynastream::postgres::{Mirror, MirrorConfig};
use dynastream::{Outcome, RecordError, RecordErrorKind, Router};
use dynastream_example_models::{OrderLine, UserProfile};
use serde_json::{json, Value};
use support::pg::{self, event, record};

fn router(schema: &str) -> Router<()> {
    let config = MirrorConfig::new(&pg::database_url())
        .unwrap()
        .schema(schema)
        .unwrap()
        .table("items")
        .unwrap();
    Router::builder(())
        .model::<UserProfile>()
        .model::<OrderLine>()
        .hook(Mirror::new(config))
        .build()
        .unwrap()
}

const APP_2024: &str =
    "arn:aws:dynamodb:us-east-1:123456789012:table/app/stream/2024-01-01T00:00:00.000";
const APP_2025: &str =
    "arn:aws:dynamodb:us-east-1:123456789012:table/app/stream/2025-06-01T10:00:00.000";
const STAGING: &str =
    "arn:aws:dynamodb:us-east-1:123456789012:table/staging/stream/2024-01-01T00:00:00.000";

fn profile(arn: &str, kind: &str, seq: &str, owner: &str, name: &str) -> Value {
    let image = json!({"owner": {"S": owner}, "display_name": {"S": name}, "email": {"S": "e@x"}});
    let new = (kind != "REMOVE").then(|| image.clone());
    let old = (kind != "INSERT").then_some(image);
    let mut r = record(kind, seq, (&format!("USER#{owner}"), "PROFILE"), new, old);
    r["eventSourceARN"] = json!(arn);
    r
}

async fn outcomes(router: &Router<()>, records: &[Value]) -> Vec<String> {
    let report = router
        .handle_event(&event(records), Default::default())
        .await
        .expect("readable event");
    report
        .records
        .iter()
        .map(|r| match &r.outcome {
            Outcome::Failed(RecordError {
                kind: RecordErrorKind::Hook { source, .. },
                ..
            }) => format!("failed: {source}"),
            other => other.label().to_string(),
        })
        .collect()
}

/// (owner, display_name, stream, seq, deleted) of every row.
async fn rows(schema: &str) -> Vec<(String, Option<String>, String, String, bool)> {
    pg::client()
        .await
        .query(
            &format!("SELECT pk, data->>'display_name', stream, seq::text, deleted FROM {schema}.items ORDER BY pk"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect()
}

#[tokio::test]
async fn a_recreated_tables_records_replace_the_old_tables_rows() {
    let schema = pg::fresh_schema("recreated").await;
    let router = router(&schema);
    // The old table: ann renamed at sequence number 300, bob deleted at 400.
    let old = [
        profile(APP_2024, "INSERT", "100", "ann", "Ann"),
        profile(APP_2024, "MODIFY", "300", "ann", "Ann (old table)"),
        profile(APP_2024, "INSERT", "200", "bob", "Bob"),
        profile(APP_2024, "REMOVE", "400", "bob", "Bob"),
    ];
    assert!(outcomes(&router, &old).await.iter().all(|o| o == "skipped"));
    // Deleted and created again: its new stream starts over at low sequence numbers.
    let new = [
        profile(APP_2025, "INSERT", "1", "ann", "Ann (new table)"),
        profile(APP_2025, "INSERT", "2", "bob", "Bob again"),
    ];
    assert!(outcomes(&router, &new).await.iter().all(|o| o == "skipped"));
    let label = "2025-06-01T10:00:00.000".to_string();
    assert_eq!(
        rows(&schema).await,
        vec![
            (
                "USER#ann".into(),
                Some("Ann (new table)".into()),
                label.clone(),
                "1".into(),
                false
            ),
            (
                "USER#bob".into(),
                Some("Bob again".into()),
                label.clone(),
                "2".into(),
                false
            ),
        ]
    );
    // The old stream's records, delivered again (a poller still reading it), change nothing.
    assert!(outcomes(&router, &old).await.iter().all(|o| o == "skipped"));
    assert_eq!(rows(&schema).await[0].1.as_deref(), Some("Ann (new table)"));
    assert_eq!(rows(&schema).await[1].1.as_deref(), Some("Bob again"));
}

#[tokio::test]
async fn another_tables_records_are_refused_alone_and_never_touch_its_items() {
    let schema = pg::fresh_schema("two_tables").await;
    let router = router(&schema);
    let got = outcomes(
        &router,
        &[
            profile(APP_2024, "INSERT", "500", "ann", "Ann"),
            profile(STAGING, "MODIFY", "900", "ann", "Staging Ann"),
        ],
    )
    .await;
    assert_eq!(got[0], "skipped");
    assert!(
        got[1].contains("record of table arn:aws:dynamodb:us-east-1:123456789012:table/staging")
            && got[1].contains(&format!("mirror table {schema}.items holds arn:aws:dynamodb:us-east-1:123456789012:table/app"))
            && got[1].contains("--mirror-table"),
        "{}",
        got[1]
    );
    // A later batch, a new router (a cold start): the table the mirror holds is remembered.
    let router = crate::router(&schema);
    let got = outcomes(
        &router,
        &[
            profile(STAGING, "REMOVE", "901", "ann", "Staging Ann"),
            profile(STAGING, "INSERT", "902", "cat", "Staging Cat"),
        ],
    )
    .await;
    assert!(got[0].starts_with("failed: record of table"), "{got:?}");
    assert!(
        ["deferred".to_string(), got[0].clone()].contains(&got[1]),
        "{got:?}"
    );
    assert_eq!(
        rows(&schema).await,
        vec![(
            "USER#ann".into(),
            Some("Ann".into()),
            "2024-01-01T00:00:00.000".into(),
            "500".into(),
            false
        )]
    );
    let held: String = pg::client()
        .await
        .query_one(
            &format!(
                "SELECT source_table FROM {schema}.dynastream_sources WHERE mirror_table = $1"
            ),
            &[&format!("{schema}.items")],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(held, "arn:aws:dynamodb:us-east-1:123456789012:table/app");
}

#[tokio::test]
async fn an_arn_of_no_stream_is_refused_and_no_arn_is_earlier_than_every_stream() {
    let schema = pg::fresh_schema("odd_arns").await;
    let router = router(&schema);
    let mut no_arn = profile(APP_2024, "INSERT", "999", "ann", "Hand-written");
    no_arn.as_object_mut().unwrap().remove("eventSourceARN");
    let got = outcomes(
        &router,
        &[
            profile(
                "arn:aws:kinesis:us-east-1:123456789012:stream/app",
                "INSERT",
                "1",
                "bob",
                "B",
            ),
            no_arn.clone(),
            profile("eventsource_arn", "INSERT", "7", "cat", "Sample"),
        ],
    )
    .await;
    assert!(got[0].contains("is not a DynamoDB stream ARN"), "{got:?}");
    // Deferred behind the failure for their handlers, but mirrored, at stream label "": no
    // ARN, and a sample's placeholder that is no ARN at all, name no stream.
    assert_eq!(
        rows(&schema).await,
        vec![
            (
                "USER#ann".into(),
                Some("Hand-written".into()),
                "".into(),
                "999".into(),
                false
            ),
            (
                "USER#cat".into(),
                Some("Sample".into()),
                "".into(),
                "7".into(),
                false
            ),
        ]
    );
    // Any stream's record is later than one without a stream.
    let got = outcomes(
        &router,
        &[profile(APP_2024, "MODIFY", "5", "ann", "Streamed")],
    )
    .await;
    assert_eq!(got, ["skipped"]);
    assert_eq!(rows(&schema).await[0].1.as_deref(), Some("Streamed"));
    let got = outcomes(&router, &[no_arn]).await;
    assert_eq!(got, ["skipped"]);
    assert_eq!(rows(&schema).await[0].1.as_deref(), Some("Streamed"));
}

#[tokio::test]
async fn a_mirror_table_from_before_stream_labels_is_upgraded_in_place() {
    let schema = pg::fresh_schema("upgrade").await;
    let c = pg::client().await;
    // The layout before this version: no stream column.
    c.batch_execute(&format!(
        "CREATE SCHEMA {schema};
         CREATE TABLE {schema}.items (pk text COLLATE \"C\" NOT NULL, sk text COLLATE \"C\" NOT NULL,
            entity text, schema_version text, data jsonb, seq numeric NOT NULL, event_time timestamptz,
            deleted boolean NOT NULL DEFAULT false, mirrored_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (pk, sk));
         INSERT INTO {schema}.items (pk, sk, entity, data, seq) VALUES ('USER#ann', 'PROFILE', 'UserProfile', '{{\"display_name\": \"Before\"}}', 7)"
    ))
    .await
    .unwrap();
    let router = router(&schema);
    assert_eq!(
        outcomes(&router, &[profile(APP_2024, "MODIFY", "6", "ann", "Older")]).await,
        ["skipped"]
    );
    assert_eq!(
        rows(&schema).await[0].1.as_deref(),
        Some("Older"),
        "a labelled stream is later than the unlabelled rows of before"
    );
}

#[tokio::test]
async fn values_fit_follows_the_models_rust_types() {
    let schema = pg::fresh_schema("rust_ranges").await;
    let router = router(&schema);
    let image = |n: u32, qty: &str| {
        json!({"order_id": {"S": "o-1"}, "line": {"N": n.to_string()}, "sku": {"S": "pen"},
               "qty": {"N": qty}, "unit_price": {"N": "1.5"}})
    };
    let line = |seq: &str, n: u32, qty: &str| {
        let mut r = record(
            "INSERT",
            seq,
            ("ORDER#o-1", &format!("LINE#{n:04}")),
            Some(image(n, qty)),
            None,
        );
        r["eventSourceARN"] = json!(APP_2024);
        r
    };
    let got = outcomes(
        &router,
        &[
            line("1", 1, "-1"),
            line("2", 2, "4294967296"),
            line("3", 3, "4294967295"),
            line("4", 4, "0"),
            line("5", 5, "7.0"),
        ],
    )
    .await;
    // The mirror holds every item as DynamoDB does (no handler here) ...
    assert!(got.iter().all(|o| o == "skipped"), "{got:?}");
    // ... the model refuses -1 and 2^32 for its u32 ...
    for (n, qty, decodes) in [
        (1, "-1", false),
        (2, "4294967296", false),
        (3, "4294967295", true),
        (5, "7.0", true),
    ] {
        let decoded = decode_model::<OrderLine>(&image(n, qty).to_string(), Binary::Tagged);
        assert_eq!(decoded.is_ok(), decodes, "qty {qty}: {decoded:?}");
    }
    let view: Vec<(i64, Option<i64>, bool)> = pg::client()
        .await
        .query(
            &format!("SELECT line, qty, values_fit FROM {schema}.order_line ORDER BY line"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get::<_, i64>(0), r.get(1), r.get(2)))
        .collect();
    // ... and the view says so: qty NULL, values_fit false exactly for those.
    assert_eq!(
        view,
        vec![
            (1, None, false),
            (2, None, false),
            (3, Some(4294967295), true),
            (4, Some(0), true),
            (5, Some(7), true)
        ]
    );
}

#[tokio::test]
async fn a_second_mirror_table_in_the_schema_does_not_take_the_first_ones_views() {
    let schema = pg::fresh_schema("two_mirrors").await;
    router(&schema).start().await.unwrap();
    let second = |prefix: Option<&str>| {
        let mut config = MirrorConfig::new(&pg::database_url())
            .unwrap()
            .schema(&schema)
            .unwrap()
            .table("other")
            .unwrap();
        if let Some(p) = prefix {
            config = config.view_prefix(p).unwrap();
        }
        Router::builder(())
            .model::<UserProfile>()
            .model::<OrderLine>()
            .hook(Mirror::new(config))
            .build()
            .unwrap()
    };
    let err = second(None).start().await.unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "shows mirror table {schema}.items, not {schema}.other"
        )) && err.contains("--mirror-view-prefix"),
        "{err}"
    );
    // The first mirror table's view still reads its own table.
    let definition: String = pg::client()
        .await
        .query_one(
            "SELECT pg_get_viewdef(to_regclass($1))",
            &[&format!("{schema}.user_profile")],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        definition.contains(&format!("{schema}.items")),
        "{definition}"
    );
    // With a prefix of its own, the second one starts, beside it.
    second(Some("other_")).start().await.unwrap();
}
