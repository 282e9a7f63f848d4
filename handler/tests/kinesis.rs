//! Kinesis Data Streams for DynamoDB locally, on moto's Kinesis (DYNAMODB_ENDPOINT, started by
//! scripts/test) and Postgres: `poll --kinesis-stream` delivers the stream's change records
//! with Lambda's rules into the example app and the mirror, `record --kinesis-stream` writes
//! them as the Kinesis event Lambda would deliver, and `replay` reads that file back. (moto
//! has no Kinesis streaming destination for tables: the test writes the change records into
//! the stream, as DynamoDB would, taken from `events/kinesis.json`.)

use base64::Engine as _;

mod support;
use support::{database_url, endpoint, handler, runtime, text};

fn kinesis() -> aws_sdk_kinesis::Client {
    let config = aws_sdk_kinesis::Config::builder()
        .behavior_version(aws_sdk_kinesis::config::BehaviorVersion::latest())
        .region(aws_sdk_kinesis::config::Region::new("us-east-1"))
        .endpoint_url(endpoint())
        .credentials_provider(aws_sdk_kinesis::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .build();
    aws_sdk_kinesis::Client::from_conf(config)
}

/// The change records of `events/kinesis.json`, in its order: a Story's MODIFY, a Task's
/// INSERT, the Story's INSERT (made before the MODIFY), the MODIFY again.
fn changes() -> Vec<(String, Vec<u8>)> {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/kinesis.json");
    let event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    event["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let data = base64::engine::general_purpose::STANDARD
                .decode(r["kinesis"]["data"].as_str().unwrap())
                .unwrap();
            (
                r["kinesis"]["partitionKey"].as_str().unwrap().to_string(),
                data,
            )
        })
        .collect()
}

/// Record lines (`  SEQ MODEL KIND OUTCOME...`) of a run: (model, kind, outcome's first word).
fn record_lines(stdout: &str) -> Vec<(String, String, String)> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (
                w[1].to_string(),
                w[2].to_string(),
                w[3].trim_end_matches(':').to_string(),
            )
        })
        .collect()
}

#[test]
fn poll_and_record_a_kinesis_stream_then_replay_it() {
    let stream = "t_cli_kinesis";
    let e = endpoint();
    let dir = std::env::temp_dir().join(format!("dynastream-kinesis-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let schema = "t_cli_kinesis";
    runtime().block_on(async {
        let k = kinesis();
        let _ = k.delete_stream().stream_name(stream).send().await;
        k.create_stream()
            .stream_name(stream)
            .shard_count(1)
            .send()
            .await
            .expect("CreateStream on moto");
        for (key, data) in changes() {
            k.put_record()
                .stream_name(stream)
                .partition_key(key)
                .data(aws_sdk_kinesis::primitives::Blob::new(data))
                .send()
                .await
                .expect("PutRecord");
        }
        let (c, conn) = tokio_postgres::connect(&database_url(), tokio_postgres::NoTls)
            .await
            .expect("Postgres at DATABASE_URL or 127.0.0.1:5432");
        tokio::spawn(conn);
        c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .await
            .unwrap();
    });
    let checkpoint = dir.join("checkpoints.json").display().to_string();
    let failed = dir.join("failed.jsonl").display().to_string();
    let url = database_url();
    let mirror_table = format!("{schema}.items");
    let o = handler(&[
        "poll",
        "--kinesis-stream",
        stream,
        "--endpoint-url",
        &e,
        "--until-idle",
        "--checkpoint",
        &checkpoint,
        "--on-failure",
        &failed,
        "--mirror",
        &url,
        "--mirror-table",
        &mirror_table,
    ]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "{}", text(&o));
    assert!(out.contains(&format!("Kinesis stream {stream}")), "{out}");
    let lines = record_lines(&out);
    assert_eq!(
        lines,
        [
            ("Story".into(), "MODIFY".into(), "ok".into()),
            ("Task".into(), "INSERT".into(), "ok".into()),
            ("Story".into(), "INSERT".into(), "ok".into()),
            ("Story".into(), "MODIFY".into(), "skipped".into()),
        ],
        "{out}"
    );
    assert!(out.contains("duplicate of record"), "{out}");
    // The mirror holds the Story as its MODIFY left it, at the Kinesis position, claimed for
    // the table the change records name.
    let rows = runtime().block_on(async {
        let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let rows = c
            .query(
                &format!("SELECT pk, data->>'title', stream FROM {mirror_table} ORDER BY pk"),
                &[],
            )
            .await
            .unwrap();
        let held: String = c
            .query_one(
                &format!("SELECT source_table FROM {schema}.dynastream_sources"),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            held,
            "arn:aws:dynamodb:us-east-1:123456789012:table/dynastream-example"
        );
        rows.iter()
            .map(|r| {
                (
                    r.get::<_, String>(0),
                    r.get::<_, Option<String>>(1),
                    r.get::<_, String>(2),
                )
            })
            .collect::<Vec<_>>()
    });
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1].0, "USER#ann#STORY#7");
    assert_eq!(
        rows[1].1.as_deref(),
        Some("Stream processing, typed (2nd ed.)")
    );
    assert!(rows.iter().all(|r| r.2 == "kinesis"), "{rows:?}");

    // Polled again: nothing new past the checkpoint.
    let o = handler(&[
        "poll",
        "--kinesis-stream",
        stream,
        "--endpoint-url",
        &e,
        "--until-idle",
        "--checkpoint",
        &checkpoint,
        "--on-failure",
        &failed,
    ]);
    let again = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "{}", text(&o));
    assert!(record_lines(&again).is_empty(), "{again}");

    // Recorded: a Kinesis event file, which replays as the stream was polled.
    let recorded = dir.join("kinesis-event.json").display().to_string();
    let o = handler(&[
        "record",
        "--kinesis-stream",
        stream,
        "--endpoint-url",
        &e,
        "--out",
        &recorded,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("wrote 4 record(s)"),
        "{}",
        text(&o)
    );
    let event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&recorded).unwrap()).unwrap();
    assert_eq!(event["Records"][0]["eventSource"], "aws:kinesis");
    assert!(event["Records"][0]["eventSourceARN"]
        .as_str()
        .unwrap()
        .ends_with(&format!(":stream/{stream}")));
    let o = handler(&["replay", &recorded]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(record_lines(&String::from_utf8_lossy(&o.stdout)), lines);
    let _ = std::fs::remove_dir_all(&dir);
}
