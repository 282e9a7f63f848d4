//! Backfill on moto's DynamoDB and Postgres: every item of a table copied into the mirror by a
//! parallel scan, resumable after a stop, never over a row the stream wrote.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use dynastream::postgres::{BackfillOptions, BackfillProgress, Mirror, MirrorConfig};
use dynastream::store::{
    BoxFuture, RawItem, ScanPage, ScanRequest, Store as _, StoreError, TableInfo, TableScan,
};
use dynastream::Router;
use dynastream_example_models::{Story, UserProfile};
use serde_json::json;
use support::pg::{self, event, record};

fn mirror(schema: &str) -> (Router<()>, Arc<Mirror>) {
    let config = MirrorConfig::new(&pg::database_url())
        .unwrap()
        .schema(schema)
        .unwrap()
        .table("items")
        .unwrap();
    let mirror = Arc::new(Mirror::new(config));
    let router = Router::builder(())
        .model::<UserProfile>()
        .model::<Story>()
        .hook(Arc::clone(&mirror))
        .build()
        .unwrap();
    (router, mirror)
}

fn profile(i: usize) -> UserProfile {
    UserProfile {
        owner: format!("u{i:05}"),
        display_name: format!("User {i}"),
        email: format!("u{i}@example.com"),
        age: i.is_multiple_of(3).then_some(i as i64 % 90),
    }
}

/// A source that fails every scan page after `pages` of them: a backfill killed midway.
struct Failing<T> {
    inner: T,
    pages: AtomicUsize,
}

impl<T: TableScan> TableScan for Failing<T> {
    fn describe(&self) -> BoxFuture<'_, Result<TableInfo, StoreError>> {
        self.inner.describe()
    }
    fn scan_page(&self, request: ScanRequest) -> BoxFuture<'_, Result<ScanPage, StoreError>> {
        if self.pages.fetch_sub(1, Ordering::SeqCst) == 0 {
            self.pages.store(0, Ordering::SeqCst);
            return Box::pin(async {
                Err(StoreError::Backend {
                    operation: "Scan",
                    message: "the test stops the backfill here".into(),
                    source: None,
                })
            });
        }
        self.inner.scan_page(request)
    }
    fn read_item(
        &self,
        pk: String,
        sk: String,
    ) -> BoxFuture<'_, Result<Option<RawItem>, StoreError>> {
        self.inner.read_item(pk, sk)
    }
}

async fn count(schema: &str, sql: &str) -> i64 {
    pg::client()
        .await
        .query_one(&sql.replace("{s}", schema), &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_copies_every_item_resumes_after_a_stop_and_never_overwrites_the_stream() {
    let store = support::dynamo::fresh_store("backfill", &[]).await;
    let n = 3000;
    let profiles: Vec<UserProfile> = (0..n).map(profile).collect();
    store.batch_save(&profiles).await.unwrap();
    let info = store.describe().await.unwrap();
    let stream_arn = info
        .latest_stream_arn
        .clone()
        .expect("the test table has a stream");
    let schema = pg::fresh_schema("backfill").await;
    let (router, mirror) = mirror(&schema);

    // The stream's consumer runs first: it has changed u00001 and deleted u00002 (the table
    // still holds them as the batch_save wrote them: the scan reads older states).
    let mut modify = record(
        "MODIFY",
        "900",
        ("USER#u00001", "PROFILE"),
        Some(
            json!({"owner": {"S": "u00001"}, "display_name": {"S": "Renamed"}, "email": {"S": "x"}}),
        ),
        None,
    );
    modify["eventSourceARN"] = json!(stream_arn);
    let mut remove = record("REMOVE", "901", ("USER#u00002", "PROFILE"), None, None);
    remove["eventSourceARN"] = json!(stream_arn);
    let report = router
        .handle_event(&event(&[modify, remove]), Default::default())
        .await
        .unwrap();
    assert!(!report.has_failures(), "{report:?}");

    // Killed after 5 pages of 100.
    let options = BackfillOptions::new().segments(4).page_size(100);
    let failing = Failing {
        inner: &store,
        pages: AtomicUsize::new(5),
    };
    let err = mirror
        .backfill(&failing, &options, &|_| {})
        .await
        .expect_err("the source fails");
    assert!(
        err.to_string().contains("the test stops the backfill here"),
        "{err}"
    );
    let partial = count(&schema, "SELECT count(*) FROM {s}.items").await;
    assert!(partial > 0 && partial < n as i64, "{partial}");

    // Another segment count is refused while the first backfill is unfinished.
    let other = mirror
        .backfill(&store, &BackfillOptions::new().segments(3), &|_| {})
        .await
        .expect_err("segment count differs");
    assert!(other.to_string().contains("--segments 4"), "{other}");

    // Resumed: every item, each page of each segment once more at most.
    let seen = std::sync::Mutex::new(Vec::<BackfillProgress>::new());
    let summary = mirror
        .backfill(&store, &options, &|p| seen.lock().unwrap().push(p))
        .await
        .unwrap();
    assert!(summary.resumed);
    assert_eq!(summary.items, n as u64, "{summary:?}");
    assert!(summary.items_this_run < n as u64, "{summary:?}");
    assert!(summary.refused.is_empty());
    let label = stream_arn.rsplit("/stream/").next().unwrap();
    assert_eq!(summary.stream_label, label);
    let progress = seen.into_inner().unwrap();
    assert_eq!(progress.last().unwrap().segments_done, 4);
    assert!(progress.windows(2).all(|w| w[0].items <= w[1].items));

    // Every item, with its entity and view; the stream's rows kept.
    assert_eq!(
        count(&schema, "SELECT count(*) FROM {s}.items").await,
        n as i64
    );
    assert_eq!(
        count(&schema, "SELECT count(*) FROM {s}.user_profile").await,
        n as i64 - 1
    );
    let c = pg::client().await;
    let renamed: String = c
        .query_one(
            &format!("SELECT display_name FROM {schema}.user_profile WHERE owner = 'u00001'"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        renamed, "Renamed",
        "a stream row is never overwritten by the backfill"
    );
    let tomb: bool = c
        .query_one(
            &format!("SELECT deleted FROM {schema}.items WHERE pk = 'USER#u00002'"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(tomb, "a tombstone stays a tombstone");
    let row = c
        .query_one(
            &format!("SELECT display_name, age, schema_version, stream, seq::text FROM {schema}.user_profile WHERE owner = 'u00003'"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "User 3");
    assert_eq!(row.get::<_, Option<i64>>(1), Some(3));
    assert_eq!(
        row.get::<_, Option<String>>(2).as_deref(),
        Some(<UserProfile as dynastream::model::Model>::SCHEMA_VERSION)
    );
    assert_eq!(row.get::<_, String>(3), label);
    assert_eq!(row.get::<_, String>(4), "0");

    // A later stream record of a backfilled item wins.
    let mut later = record(
        "MODIFY",
        "1",
        ("USER#u00003", "PROFILE"),
        Some(
            json!({"owner": {"S": "u00003"}, "display_name": {"S": "Streamed"}, "email": {"S": "x"}}),
        ),
        None,
    );
    later["eventSourceARN"] = json!(stream_arn);
    router
        .handle_event(&event(&[later]), Default::default())
        .await
        .unwrap();
    let name: String = c
        .query_one(
            &format!("SELECT display_name FROM {schema}.user_profile WHERE owner = 'u00003'"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(name, "Streamed");

    // Run again: nothing to do, unless asked to start over.
    let again = mirror.backfill(&store, &options, &|_| {}).await.unwrap();
    assert!(again.already_done);
    let restarted = mirror
        .backfill(&store, &options.clone().restart(true), &|_| {})
        .await
        .unwrap();
    assert_eq!((restarted.items, restarted.resumed), (n as u64, false));
    // The restart rewrote backfilled rows only: the stream's three stay.
    assert_eq!(restarted.rows_written, n as u64 - 3);
    assert_eq!(
        c.query_one(
            &format!("SELECT display_name FROM {schema}.user_profile WHERE owner = 'u00003'"),
            &[]
        )
        .await
        .unwrap()
        .get::<_, String>(0),
        "Streamed"
    );
}

#[tokio::test]
async fn a_backfill_refuses_a_table_with_other_keys_or_another_tables_mirror() {
    let store = support::dynamo::fresh_store_keyed("backfill_keys", ("id", "sort"), &[]).await;
    let schema = pg::fresh_schema("backfill_keys").await;
    let (_router, mirror) = mirror(&schema);
    let err = mirror
        .backfill(&store, &BackfillOptions::new(), &|_| {})
        .await
        .expect_err("keys differ");
    assert!(
        err.to_string().contains("\"id\" / \"sort\"") && err.to_string().contains("--pk-attr"),
        "{err}"
    );
    let other = support::dynamo::fresh_store("backfill_other", &[]).await;
    let first = support::dynamo::fresh_store("backfill_first", &[]).await;
    mirror
        .backfill(&first, &BackfillOptions::new(), &|_| {})
        .await
        .unwrap();
    let err = mirror
        .backfill(&other, &BackfillOptions::new(), &|_| {})
        .await
        .expect_err("another table");
    assert!(
        err.to_string().contains("table/t_backfill_first")
            && err.to_string().contains("--mirror-table"),
        "{err}"
    );
}

#[tokio::test]
async fn a_backfill_from_an_export_folder_needs_no_table_and_verifies_equal() {
    let dir = std::env::temp_dir().join(format!("dynastream-test-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let n = 1500;
    let items: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"PK":{{"S":"USER#u{i:05}"}},"SK":{{"S":"PROFILE"}},"owner":{{"S":"u{i:05}"}},"display_name":{{"S":"User {i}"}},"email":{{"S":"e@x"}},"age":{{"N":"{}"}}}}"#,
                i % 90
            )
        })
        .collect();
    support::export::write_export(
        &dir,
        "arn:aws:dynamodb:us-east-1:123456789012:table/exported",
        &items,
        4,
    );
    let export = dynastream::store::ExportFolder::open(&dir, "PK", "SK").unwrap();
    let schema = pg::fresh_schema("backfill_export").await;
    let (_router, mirror) = mirror(&schema);
    let options = BackfillOptions::new()
        .segments(3)
        .page_size(200)
        .stream_arn(Some(
            "arn:aws:dynamodb:us-east-1:123456789012:table/exported/stream/2026-12-01T00:00:00.000"
                .into(),
        ));
    let summary = mirror.backfill(&export, &options, &|_| {}).await.unwrap();
    assert_eq!((summary.items, summary.rows_written), (n as u64, n as u64));
    assert_eq!(summary.stream_label, "2026-12-01T00:00:00.000");
    assert_eq!(
        count(
            &schema,
            "SELECT count(*) FROM {s}.user_profile WHERE age = 7"
        )
        .await,
        17
    );
    let report = mirror
        .verify(
            &export,
            &dynastream::postgres::VerifyOptions::new().segments(2),
            &|_| {},
            &|_| {},
        )
        .await
        .unwrap();
    assert!(report.equal() && report.items == n as u64, "{report:?}");
    // Another export of the table: the saved cursors are the first export's, so the backfill
    // refuses rather than skip lines of the new one; with restart it reads it all.
    let root = dir.join("AWSDynamoDB").join("01764000000000-a1b2c3d4");
    let summary_path = root.join("manifest-summary.json");
    let text = std::fs::read_to_string(&summary_path)
        .unwrap()
        .replace("a1b2c3d4\"", "e5f6\"");
    std::fs::write(&summary_path, text).unwrap();
    let second = dynastream::store::ExportFolder::open(&dir, "PK", "SK").unwrap();
    let err = mirror
        .backfill(&second, &options, &|_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cursors do not apply") && err.contains("--restart"),
        "{err}"
    );
    let again = mirror
        .backfill(&second, &options.clone().restart(true), &|_| {})
        .await
        .unwrap();
    assert_eq!(again.items, n as u64);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_export_in_s3_is_fetched_resumably_and_backfilled() {
    use aws_sdk_s3::primitives::ByteStream;
    let dir = std::env::temp_dir().join(format!("dynastream-test-s3export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let items: Vec<String> = (0..300)
        .map(|i| format!(r#"{{"PK":{{"S":"USER#s{i:04}"}},"SK":{{"S":"PROFILE"}},"owner":{{"S":"s{i:04}"}},"display_name":{{"S":"S {i}"}},"email":{{"S":"e@x"}}}}"#))
        .collect();
    let local = support::export::write_export(
        &dir.join("src"),
        "arn:aws:dynamodb:us-east-1:123456789012:table/s3exported",
        &items,
        3,
    );
    // Uploaded as the export wrote it: s3://bucket/exports/AWSDynamoDB/<id>/...
    let s3 = support::dynamo::s3_client();
    let bucket = "dynastream-test-exports";
    let _ = s3.create_bucket().bucket(bucket).send().await;
    let id = local.file_name().unwrap().to_string_lossy().to_string();
    let mut files = vec![
        local.join("manifest-summary.json"),
        local.join("manifest-files.json"),
    ];
    for f in std::fs::read_dir(local.join("data")).unwrap() {
        files.push(f.unwrap().path());
    }
    for f in &files {
        let rel = f
            .strip_prefix(&local)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        s3.put_object()
            .bucket(bucket)
            .key(format!("exports/AWSDynamoDB/{id}/{rel}"))
            .body(ByteStream::from(std::fs::read(f).unwrap()))
            .send()
            .await
            .unwrap();
    }
    let url = dynastream::dynamodb::S3ExportUrl::parse(&format!(
        "s3://{bucket}/exports/AWSDynamoDB/{id}"
    ))
    .unwrap();
    let fetched = dir.join("fetched");
    let calls = std::sync::Mutex::new(Vec::new());
    dynastream::dynamodb::fetch_export(&s3, &url, &fetched, &|done, total| {
        calls.lock().unwrap().push((done, total))
    })
    .await
    .unwrap();
    assert_eq!(calls.into_inner().unwrap().last(), Some(&(3, 3)));
    // Fetched again: the files already there are kept (same size), nothing breaks.
    let data = fetched.join("data");
    let first = std::fs::read_dir(&data)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let modified = std::fs::metadata(&first).unwrap().modified().unwrap();
    dynastream::dynamodb::fetch_export(&s3, &url, &fetched, &|_, _| {})
        .await
        .unwrap();
    assert_eq!(
        std::fs::metadata(&first).unwrap().modified().unwrap(),
        modified
    );
    let export = dynastream::store::ExportFolder::open(&fetched, "PK", "SK").unwrap();
    let schema = pg::fresh_schema("backfill_s3").await;
    let (_router, mirror) = mirror(&schema);
    let summary = mirror
        .backfill(&export, &BackfillOptions::new(), &|_| {})
        .await
        .unwrap();
    assert_eq!(summary.items, 300);
    assert_eq!(
        count(&schema, "SELECT count(*) FROM {s}.user_profile").await,
        300
    );
    // Not an export's folder: says so.
    let wrong =
        dynastream::dynamodb::S3ExportUrl::parse(&format!("s3://{bucket}/exports")).unwrap();
    let err = dynastream::dynamodb::fetch_export(&s3, &wrong, &dir.join("wrong"), &|_, _| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("manifest-summary.json") && err.contains("AWSDynamoDB/<ExportId>"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
