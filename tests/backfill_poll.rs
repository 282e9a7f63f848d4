//! The handoff on moto's DynamoDB and Postgres, end to end: the poller mirrors the table's
//! stream while a backfill scans the table and the application keeps writing; once the poller
//! has caught up, verify says the mirror equals the table.

mod support;

use std::sync::Arc;
use std::time::Duration;

use dynastream::dynamodb::AwsStream;
use dynastream::poll::{Checkpoints, PollConfig, Poller, RetryPolicy};
use dynastream::postgres::{BackfillOptions, Mirror, MirrorConfig, VerifyOptions};
use dynastream::store::{Store as _, TableScan as _};
use dynastream::Router;
use dynastream_example_models::{UserProfile, UserProfileKey};
use support::{dynamo, pg};

fn profile(i: usize, name: &str) -> UserProfile {
    UserProfile {
        owner: format!("p{i:04}"),
        display_name: name.to_string(),
        email: format!("p{i}@example.com"),
        age: Some(i as i64),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_while_the_poller_runs_and_the_table_changes_ends_equal() {
    let store = dynamo::fresh_store("backfill_poll", &[]).await;
    let before: Vec<UserProfile> = (0..600).map(|i| profile(i, "before")).collect();
    store.batch_save(&before).await.unwrap();
    let schema = pg::fresh_schema("backfill_poll").await;
    let config = MirrorConfig::new(&pg::database_url())
        .unwrap()
        .schema(&schema)
        .unwrap()
        .table("items")
        .unwrap();
    let mirror = Arc::new(Mirror::new(config));
    let router = Router::builder(())
        .model::<UserProfile>()
        .hook(Arc::clone(&mirror))
        .build()
        .unwrap();
    router.start().await.unwrap();
    let arn = store.describe().await.unwrap().latest_stream_arn.unwrap();
    let streams = aws_sdk_dynamodbstreams::Config::builder()
        .behavior_version(aws_sdk_dynamodbstreams::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodbstreams::config::Region::new("us-east-1"))
        .endpoint_url(dynamo::endpoint())
        .credentials_provider(aws_sdk_dynamodbstreams::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .build();
    let stream = AwsStream::new(aws_sdk_dynamodbstreams::Client::from_conf(streams), arn);
    let poller = Poller::new(router, stream, Checkpoints::memory()).config(
        PollConfig::default()
            .batch_size(50)
            .batching_window(Duration::ZERO)
            .poll_interval(Duration::from_millis(20))
            .retry(RetryPolicy::default().max_retry_attempts(Some(2))),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();

    // The poller, the backfill and the application's writes, all on this task.
    let options = BackfillOptions::new().segments(3).page_size(40);
    let work = async {
        let backfill = mirror.backfill(&store, &options, &|_| {});
        let writes = async {
            for i in (0..600).step_by(7) {
                store.save(&profile(i, "during")).await.unwrap();
            }
            for i in (3..600).step_by(11) {
                store
                    .delete::<UserProfile>(&UserProfileKey {
                        owner: format!("p{i:04}"),
                    })
                    .await
                    .unwrap();
            }
            for i in 600..650 {
                store.save(&profile(i, "new")).await.unwrap();
            }
        };
        let (summary, ()) = tokio::join!(backfill, writes);
        let summary = summary.unwrap();
        assert!(summary.refused.is_empty());
        // Then the poller catches up: verify until equal (each pass a full comparison).
        let mut last = None;
        for _ in 0..100 {
            let report = mirror
                .verify(&store, &VerifyOptions::new().segments(2), &|_| {}, &|_| {})
                .await
                .unwrap();
            if report.equal() {
                last = Some(report);
                break;
            }
            last = Some(report);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let _ = stop.send(());
        last.unwrap()
    };
    let run = poller.run(async {
        let _ = stopped.await;
    });
    let (report, stats) = tokio::join!(work, run);
    let stats = stats.unwrap();
    assert!(report.equal(), "{report:?}");
    assert_eq!(report.items, 600 - 55 + 50, "{report:?}");
    assert_eq!(stats.given_up, 0);
}
