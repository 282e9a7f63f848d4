//! Verify on moto's DynamoDB and Postgres: the mirror compared with the table, each kind of
//! drift found, repaired by a compare-and-set that a concurrent stream write wins; and the same
//! against a Postgres store.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use dynastream::postgres::{
    BackfillOptions, Drift, DriftKind, Mirror, MirrorConfig, PgStore, VerifyOptions, VerifyReport,
};
use dynastream::store::{
    BoxFuture, RawItem, ScanPage, ScanRequest, Store as _, StoreError, TableInfo, TableScan,
};
use dynastream::Router;
use dynastream_example_models::UserProfile;
use support::pg;

fn config(schema: &str, table: &str) -> MirrorConfig {
    MirrorConfig::new(&pg::database_url())
        .unwrap()
        .schema(schema)
        .unwrap()
        .table(table)
        .unwrap()
}

fn mirror(schema: &str) -> Arc<Mirror> {
    let mirror = Arc::new(Mirror::new(config(schema, "items")));
    // Registered on a router: the mirror learns the models (entities, views).
    let _router = Router::builder(())
        .model::<UserProfile>()
        .hook(Arc::clone(&mirror))
        .build()
        .unwrap();
    mirror
}

fn profile(i: usize) -> UserProfile {
    UserProfile {
        owner: format!("u{i:04}"),
        display_name: format!("User {i}"),
        email: format!("u{i}@example.com"),
        age: Some(i as i64),
    }
}

async fn verify(
    mirror: &Mirror,
    source: &dyn TableScan,
    repair: bool,
) -> (VerifyReport, Vec<Drift>) {
    let seen = Mutex::new(Vec::new());
    let report = mirror
        .verify(
            source,
            &VerifyOptions::new()
                .segments(3)
                .page_size(50)
                .repair(repair),
            &|d| seen.lock().unwrap().push(d.clone()),
            &|_| {},
        )
        .await
        .unwrap();
    let mut drift = seen.into_inner().unwrap();
    drift.sort_by(|a, b| (&a.pk, &a.sk).cmp(&(&b.pk, &b.sk)));
    (report, drift)
}

fn kinds(drift: &[Drift]) -> Vec<(String, DriftKind)> {
    drift.iter().map(|d| (d.pk.clone(), d.kind)).collect()
}

/// A source that, on reading `key` again, lets a stream write land first (written the way the
/// mirror writes one: a later position, new data) — after verify read the key's row.
struct Racing<T> {
    inner: T,
    key: String,
    schema: String,
    fired: AtomicBool,
}

impl<T: TableScan> TableScan for Racing<T> {
    fn describe(&self) -> BoxFuture<'_, Result<TableInfo, StoreError>> {
        self.inner.describe()
    }
    fn scan_page(&self, request: ScanRequest) -> BoxFuture<'_, Result<ScanPage, StoreError>> {
        self.inner.scan_page(request)
    }
    fn read_item(
        &self,
        pk: String,
        sk: String,
    ) -> BoxFuture<'_, Result<Option<RawItem>, StoreError>> {
        Box::pin(async move {
            if pk == self.key && !self.fired.swap(true, Ordering::SeqCst) {
                pg::client()
                    .await
                    .execute(
                        &format!("UPDATE {}.items SET data = jsonb_set(data, '{{display_name}}', '\"From the stream\"'), stream = 'z', seq = 1 WHERE pk = $1", self.schema),
                        &[&pk],
                    )
                    .await
                    .unwrap();
            }
            self.inner.read_item(pk, sk).await
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_each_kind_of_drift_and_repair_fixes_it_while_the_stream_wins_races() {
    let store = support::dynamo::fresh_store("verify", &[]).await;
    let profiles: Vec<UserProfile> = (0..400).map(profile).collect();
    store.batch_save(&profiles).await.unwrap();
    let schema = pg::fresh_schema("verify").await;
    let mirror = mirror(&schema);
    mirror
        .backfill(&store, &BackfillOptions::new().segments(2), &|_| {})
        .await
        .unwrap();

    let (report, drift) = verify(&mirror, &store, false).await;
    assert!(drift.is_empty() && report.equal(), "{report:?}");
    assert_eq!(report.items, 400);
    let counts = report.entities[&Some("UserProfile".to_string())];
    assert_eq!((counts.table, counts.mirror), (400, 400));

    // Damage the mirror, one way per kind; and delete u0005 in the table with its tombstone
    // brought back to life in the mirror (resurrected: an extra row).
    let c = pg::client().await;
    store
        .delete::<UserProfile>(&dynastream_example_models::UserProfileKey {
            owner: "u0005".into(),
        })
        .await
        .unwrap();
    c.batch_execute(&format!(
        "DELETE FROM {schema}.items WHERE pk = 'USER#u0001';
         UPDATE {schema}.items SET deleted = true, data = NULL WHERE pk = 'USER#u0002';
         UPDATE {schema}.items SET data = jsonb_set(data, '{{age}}', '99') WHERE pk = 'USER#u0003';
         INSERT INTO {schema}.items (pk, sk, entity, data, seq) VALUES ('USER#ghost', 'PROFILE', 'UserProfile', '{{\"owner\": \"ghost\"}}', 5);"
    ))
    .await
    .unwrap();
    let (report, drift) = verify(&mirror, &store, false).await;
    assert_eq!(
        kinds(&drift),
        [
            ("USER#ghost".into(), DriftKind::Extra),
            ("USER#u0001".into(), DriftKind::Missing),
            ("USER#u0002".into(), DriftKind::Tombstoned),
            ("USER#u0003".into(), DriftKind::Stale),
            ("USER#u0005".into(), DriftKind::Extra),
        ]
    );
    assert!(!report.equal());
    assert_eq!(report.drifted(), 5);
    let stale = &drift[3];
    let json = |t: &Option<String>| {
        serde_json::from_str::<serde_json::Value>(t.as_deref().unwrap()).unwrap()
    };
    assert_eq!(
        (
            json(&stale.mirror)["age"].clone(),
            json(&stale.table)["age"].clone()
        ),
        (99.into(), 3.into())
    );
    // Live rows: 400, less the missing and the tombstoned, plus the ghost.
    let counts = report.entities[&Some("UserProfile".to_string())];
    assert_eq!((counts.table, counts.mirror), (399, 399));

    // Repair, with a stream write landing on u0003 while verify checks it: the item changed
    // during the check, so it is not drift and the repair leaves the stream's write alone.
    let racing = Racing {
        inner: &store,
        key: "USER#u0003".into(),
        schema: schema.clone(),
        fired: AtomicBool::new(false),
    };
    let (report, drift) = verify(&mirror, &racing, true).await;
    assert_eq!(report.drifted(), 4, "{drift:?}");
    assert_eq!(
        (
            report.repaired,
            report.lost_to_stream,
            report.changed_during_scan
        ),
        (4, 0, 1),
        "{drift:?}"
    );
    assert!(drift.iter().all(|d| d.pk != "USER#u0003"), "{drift:?}");
    let name: String = c
        .query_one(
            &format!("SELECT data->>'display_name' FROM {schema}.items WHERE pk = 'USER#u0003'"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        name, "From the stream",
        "the repair never overwrites a concurrent stream write"
    );

    // What is left is the racing item (the stream's write, as this test made it, differs from
    // the table); repaired on the next run, then equal.
    let (report, drift) = verify(&mirror, &store, true).await;
    assert_eq!(kinds(&drift), [("USER#u0003".into(), DriftKind::Stale)]);
    assert!(report.equal());
    let (report, drift) = verify(&mirror, &store, false).await;
    assert!(drift.is_empty() && report.equal(), "{drift:?}");
    // The extra rows are tombstones now, and the missing one is back.
    let live: i64 = c
        .query_one(
            &format!("SELECT count(*) FROM {schema}.items WHERE NOT deleted"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(live, 399);
}

#[tokio::test]
async fn verify_runs_against_a_postgres_store_the_same_way() {
    let schema = pg::fresh_schema("verify_pgstore").await;
    let store = PgStore::connect(&config(&schema, "app_items"))
        .await
        .unwrap();
    store.create_table().await.unwrap();
    let profiles: Vec<UserProfile> = (0..120).map(profile).collect();
    store.batch_save(&profiles).await.unwrap();
    let mirror = mirror(&schema);
    let summary = mirror
        .backfill(&store, &BackfillOptions::new(), &|_| {})
        .await
        .unwrap();
    assert_eq!(summary.items, 120);
    let (report, drift) = verify(&mirror, &store, false).await;
    assert!(drift.is_empty() && report.equal(), "{drift:?}");
    store
        .delete::<UserProfile>(&dynastream_example_models::UserProfileKey {
            owner: "u0007".into(),
        })
        .await
        .unwrap();
    store
        .save(&UserProfile {
            age: None,
            ..profile(8)
        })
        .await
        .unwrap();
    let (_, drift) = verify(&mirror, &store, true).await;
    assert_eq!(
        kinds(&drift),
        [
            ("USER#u0007".into(), DriftKind::Extra),
            ("USER#u0008".into(), DriftKind::Stale)
        ]
    );
    assert!(drift.iter().all(|d| d.repaired == Some(true)));
    let (report, _) = verify(&mirror, &store, false).await;
    assert!(report.equal());
}
