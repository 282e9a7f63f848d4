//! `handler redrive` through the real binary, on moto's server (DYNAMODB_ENDPOINT: DynamoDB,
//! DynamoDB Streams, SQS and S3) and Postgres: failure records in the exact shape Lambda sends
//! an on-failure destination, redriven through the router and the mirror.

use std::path::PathBuf;

use aws_sdk_dynamodb::types::AttributeValue as Av;

mod support;
use support::{create_table, database_url, endpoint, handler, runtime, text};

async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint())
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .load()
        .await
}

async fn sql(query: &str) -> Vec<Vec<Option<String>>> {
    let (c, conn) = tokio_postgres::connect(&database_url(), tokio_postgres::NoTls)
        .await
        .expect("Postgres at DATABASE_URL or 127.0.0.1:5432");
    tokio::spawn(conn);
    let mut rows = Vec::new();
    for m in c.simple_query(query).await.unwrap() {
        if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
            rows.push((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect());
        }
    }
    rows
}

/// A table made by `handler create-table`, with tasks written to it (status per task).
async fn table_with_tasks(table: &str, tasks: &[(&str, &str)]) -> aws_config::SdkConfig {
    let config = sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let _ = dynamodb.delete_table().table_name(table).send().await;
    create_table(table);
    for (id, status) in tasks {
        dynamodb
            .put_item()
            .table_name(table)
            .item("PK", Av::S("#TASK#rae".into()))
            .item("SK", Av::S(format!("#TASK#{id}")))
            .item("owner", Av::S("rae".into()))
            .item("task_id", Av::S((*id).into()))
            .item("title", Av::S(format!("task {id}")))
            .item("status", Av::S((*status).into()))
            .send()
            .await
            .unwrap();
    }
    config
}

/// The stream's ARN, its shard and the sequence numbers of its records, read as Lambda's
/// event source mapping would have.
async fn stream_records(
    config: &aws_config::SdkConfig,
    table: &str,
) -> (String, String, Vec<String>) {
    let dynamodb = aws_sdk_dynamodb::Client::new(config);
    let arn = dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .table()
        .and_then(|t| t.latest_stream_arn())
        .unwrap()
        .to_string();
    let streams = aws_sdk_dynamodbstreams::Client::new(config);
    let d = streams
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .unwrap();
    let shard = d.stream_description().unwrap().shards()[0]
        .shard_id()
        .unwrap()
        .to_string();
    let it = streams
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(&shard)
        .shard_iterator_type(aws_sdk_dynamodbstreams::types::ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    let records = streams
        .get_records()
        .shard_iterator(it.shard_iterator().unwrap())
        .send()
        .await
        .unwrap();
    let seqs = records
        .records()
        .iter()
        .map(|r| r.dynamodb().unwrap().sequence_number().unwrap().to_string())
        .collect();
    (arn, shard, seqs)
}

/// The invocation record Lambda sends an SQS or SNS destination for a DynamoDB stream batch
/// (services-dynamodb-errors.html): metadata only.
fn lambda_failure_record(arn: &str, shard: &str, first: &str, last: &str, n: usize) -> String {
    serde_json::json!({
        "requestContext": {
            "requestId": "316aa6d0-8154-4d6c-9af7-85d5f4a6bc81",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:stream-handler",
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 6
        },
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled"
        },
        "version": "1.0",
        "timestamp": "2026-12-03T09:13:49.717Z",
        "DDBStreamBatchInfo": {
            "shardId": shard,
            "startSequenceNumber": first,
            "endSequenceNumber": last,
            "approximateArrivalOfFirstRecord": "2026-12-03T09:13:19Z",
            "approximateArrivalOfLastRecord": "2026-12-03T09:13:19Z",
            "batchSize": n,
            "streamArn": arn
        }
    })
    .to_string()
}

async fn queue(config: &aws_config::SdkConfig, name: &str) -> (aws_sdk_sqs::Client, String) {
    let sqs = aws_sdk_sqs::Client::new(config);
    if let Ok(q) = sqs.get_queue_url().queue_name(name).send().await {
        if let Some(url) = q.queue_url() {
            let _ = sqs.delete_queue().queue_url(url).send().await;
        }
    }
    let url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    (sqs, url)
}

/// Messages on the queue now (visible and in flight).
async fn on_queue(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let out = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    out.messages()
        .iter()
        .map(|m| m.body().unwrap_or_default().to_string())
        .collect()
}

fn mirror_args(schema: &str) -> Vec<String> {
    vec![
        "--mirror".into(),
        database_url(),
        "--mirror-table".into(),
        format!("{schema}.items"),
    ]
}

/// Lambda gave up on a batch (the mirror's database was down, say): its failure record is on
/// the queue. A dry run lists the records and keeps the message; redrive delivers them through
/// the router and the mirror, and deletes the message. A message naming a record the handler
/// still cannot take is kept, and so is one whose stream is gone (reported as lost).
#[test]
fn a_queue_message_in_lambdas_shape_is_redriven_mirrored_and_deleted() {
    runtime().block_on(async {
        let table = "t_redrive_queue";
        let schema = "t_redrive_queue";
        sql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await;
        let config =
            table_with_tasks(table, &[("a", "OPEN"), ("b", "CLOSED"), ("c", "SOMETIMES")]).await;
        let (arn, shard, seqs) = stream_records(&config, table).await;
        assert_eq!(seqs.len(), 3);
        let (sqs, url) = queue(&config, "t-redrive-failures").await;
        // The first two records: what the handler takes now.
        let good = lambda_failure_record(&arn, &shard, &seqs[0], &seqs[1], 2);
        sqs.send_message()
            .queue_url(&url)
            .message_body(&good)
            .send()
            .await
            .unwrap();
        let e = endpoint();

        let o = handler(&["redrive", &url, "--dry-run", "--endpoint-url", &e]);
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert!(out.contains("would deliver 2 record(s)"), "{out}");
        assert!(
            out.contains("SK=#TASK#a") && out.contains("SK=#TASK#b"),
            "{out}"
        );
        assert!(!out.contains("#TASK#c"), "{out}");
        assert_eq!(
            on_queue(&sqs, &url).await.len(),
            1,
            "a dry run keeps the message"
        );

        let mut args: Vec<String> = vec![
            "redrive".into(),
            url.clone(),
            "--endpoint-url".into(),
            e.clone(),
        ];
        args.extend(mirror_args(schema));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = handler(&args);
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert!(out.contains("2 record(s) of shard"), "{out}");
        assert!(out.contains("deleted from the queue"), "{out}");
        assert!(
            on_queue(&sqs, &url).await.is_empty(),
            "the message is deleted"
        );
        let rows = sql(&format!(
            "SELECT task_id, status FROM {schema}.task ORDER BY task_id"
        ))
        .await;
        assert_eq!(
            rows,
            vec![
                vec![Some("a".into()), Some("OPEN".into())],
                vec![Some("b".into()), Some("CLOSED".into())]
            ]
        );

        // The third record still cannot be decoded: not acknowledged, the message is kept.
        let bad = lambda_failure_record(&arn, &shard, &seqs[2], &seqs[2], 1);
        sqs.send_message()
            .queue_url(&url)
            .message_body(&bad)
            .send()
            .await
            .unwrap();
        // A stream that no longer exists: its records are lost, the message is kept.
        let gone_arn = arn.replace(table, "t_redrive_deleted_table");
        let gone = lambda_failure_record(&gone_arn, &shard, &seqs[0], &seqs[1], 2);
        sqs.send_message()
            .queue_url(&url)
            .message_body(&gone)
            .send()
            .await
            .unwrap();
        let o = handler(&[
            "redrive",
            &url,
            "--endpoint-url",
            &e,
            "--max-retries",
            "0",
            "--store",
            "none",
        ]);
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(out.contains("0 of 1 record(s)"), "{out}");
        assert!(
            out.contains("status"),
            "the decode error names the field: {out}"
        );
        assert!(
            out.contains("no longer exists") && out.contains("all 2 record(s)"),
            "{out}"
        );
        assert!(out.contains("2 kept"), "{out}");
        assert_eq!(
            on_queue(&sqs, &url).await.len(),
            2,
            "both messages are kept"
        );
    });
}

/// An S3 on-failure destination's object carries the whole batch (`payload`): redriven without
/// the stream (here it never existed), from S3 and from a folder holding a copy.
#[test]
fn an_s3_failure_object_is_redriven_without_the_stream() {
    runtime().block_on(async {
        let schema = "t_redrive_s3";
        sql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await;
        let config = sdk_config().await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(true)
                .build(),
        );
        let bucket = "t-redrive-failures";
        let _ = s3.create_bucket().bucket(bucket).send().await;
        let event = std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events/insert.json"),
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&event).unwrap();
        let records = v["Records"].as_array().unwrap();
        let seq = |i: usize| {
            records[i]["dynamodb"]["SequenceNumber"]
                .as_str()
                .unwrap()
                .to_string()
        };
        let mut object: serde_json::Value = serde_json::from_str(&lambda_failure_record(
            "arn:aws:dynamodb:us-east-1:123456789012:table/gone/stream/2026-01-01T00:00:00.000",
            "shardId-00000001",
            &seq(0),
            &seq(records.len() - 1),
            records.len(),
        ))
        .unwrap();
        // The whole invocation record: the event as JSON text.
        object["payload"] = serde_json::Value::String(event.clone());
        let key = "aws/lambda/stream-handler/2026/12/03/failure-1.json";
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .body(object.to_string().into_bytes().into())
            .send()
            .await
            .unwrap();
        let e = endpoint();
        let source = format!("s3://{bucket}/aws/lambda/");
        let mut args: Vec<String> = vec!["redrive".into(), source, "--endpoint-url".into(), e];
        args.extend(mirror_args(schema));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = handler(&args);
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert!(
            out.contains(&format!("s3://{bucket}/{key}: {} record(s)", records.len())),
            "{out}"
        );
        let n = sql(&format!("SELECT count(*)::text FROM {schema}.items")).await;
        assert_eq!(n[0][0].as_deref(), Some(records.len().to_string().as_str()));

        // The same object in a folder; --out writes its records as an event file to replay.
        let dir = std::env::temp_dir().join(format!("dynastream-redrive-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("failure-1.json"), object.to_string()).unwrap();
        let out_file = dir.join("redrive.json");
        let o = handler(&[
            "redrive",
            dir.to_str().unwrap(),
            "--out",
            out_file.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let replay = handler(&["replay", out_file.to_str().unwrap()]);
        let replayed = String::from_utf8_lossy(&replay.stdout).to_string();
        assert!(
            replayed.contains(&format!("{} record", records.len())),
            "{replayed}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    });
}
