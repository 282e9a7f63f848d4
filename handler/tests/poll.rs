//! `handler poll`, `handler record` and `handler seed` through the real binary, on moto's server
//! (DYNAMODB_ENDPOINT, started by scripts/test) and Postgres: the local flow of docs/poll.md.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::{create_table, database_url, endpoint, handler, runtime, text, ENV};

fn dynamodb() -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .endpoint_url(endpoint())
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// A new table (via `handler create-table`) and an empty scratch directory.
fn fresh(table: &str) -> PathBuf {
    let _ = runtime().block_on(dynamodb().delete_table().table_name(table).send());
    create_table(table);
    let dir = std::env::temp_dir().join(format!("dynastream-cli-{table}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

/// Record lines (`  SEQ MODEL KIND OUTCOME`) of a run.
fn record_lines(stdout: &str) -> Vec<Vec<String>> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

/// docs/poll.md's flow: create the table, write items, poll until caught up with the mirror on,
/// poll again (nothing new: resumes at the checkpoint), record the stream and replay it.
#[test]
fn seed_poll_mirror_restart_record_and_replay() {
    let table = "t_cli_poll";
    let dir = fresh(table);
    let schema = "t_cli_poll";
    runtime().block_on(async {
        let (c, conn) = tokio_postgres::connect(&database_url(), tokio_postgres::NoTls)
            .await
            .expect("Postgres at DATABASE_URL or 127.0.0.1:5432");
        tokio::spawn(conn);
        c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .await
            .unwrap();
    });
    let e = endpoint();
    let o = handler(&["seed", "--table", table, "--endpoint-url", &e]);
    assert!(o.status.success(), "{}", text(&o));

    let mirror_table = format!("{schema}.items");
    let checkpoint = path(&dir, "checkpoints.json");
    let failed = path(&dir, "failed.jsonl");
    let poll_args = [
        "poll",
        "--table",
        table,
        "--endpoint-url",
        &e,
        "--until-idle",
        "--batching-window",
        "0",
        "--mirror",
        &database_url(),
        "--mirror-table",
        &mirror_table,
        "--checkpoint",
        &checkpoint,
        "--on-failure",
        &failed,
    ];
    let o = handler(&poll_args);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "{}", text(&o));
    let kinds: Vec<String> = record_lines(&out)
        .iter()
        .map(|l| format!("{} {} {}", l[1], l[2], l[3]))
        .collect();
    // The seed's 8 writes, then the board's task_count update the task handler made.
    assert_eq!(
        kinds,
        [
            "Board INSERT ok",
            "Task INSERT ok",
            "Task INSERT ok",
            "UserProfile INSERT ok",
            "Story INSERT ok",
            "OrderLine INSERT ok",
            "Task MODIFY ok",
            "Task REMOVE ok",
            "Board MODIFY ok",
        ],
        "{}",
        text(&o)
    );
    assert!(out.contains("reading from the oldest record"), "{out}");
    assert!(
        out.contains("caught up: 9 records handled, 0 given up"),
        "{out}"
    );
    assert!(out.contains("progress: "), "{out}");
    assert!(!Path::new(&failed).exists(), "nothing given up");

    // The mirror holds the table's items: the board counts one task, t2 is a tombstone.
    let rows = runtime().block_on(async {
        let (c, conn) = tokio_postgres::connect(&database_url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        c.query(
            &format!(
                "SELECT pk || ' ' || sk, deleted, coalesce(data->>'task_count', '') \
                 FROM {mirror_table} ORDER BY pk, sk"
            ),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.get::<_, String>(0),
                r.get::<_, bool>(1),
                r.get::<_, String>(2),
            )
        })
        .collect::<Vec<_>>()
    });
    assert_eq!(rows.len(), 6, "{rows:?}");
    assert!(rows.contains(&("#BOARD#ann #BOARD#home".into(), false, "1".into())));
    assert!(rows.contains(&("#TASK#ann #TASK#t2".into(), true, String::new())));

    // Again: resumes after the checkpoint, nothing delivered twice.
    let o = handler(&poll_args);
    let again = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "{}", text(&o));
    assert!(again.contains("(checkpoint)"), "{again}");
    assert!(record_lines(&again).is_empty(), "{again}");
    assert!(again.contains("caught up: 0 records handled"), "{again}");

    // Record the stream into an event file and replay it: the same 9 records, all ok.
    let recorded = path(&dir, "events/captured.json");
    let o = handler(&[
        "record",
        "--table",
        table,
        "--endpoint-url",
        &e,
        "--out",
        &recorded,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("wrote 9 record(s)"));
    let event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&recorded).unwrap()).unwrap();
    assert!(event["Records"][0]["eventSourceARN"]
        .as_str()
        .unwrap()
        .contains(":table/t_cli_poll/stream/"));
    let o = handler(&["replay", &recorded]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        record_lines(&String::from_utf8_lossy(&o.stdout)).len(),
        9,
        "{}",
        text(&o)
    );
    let o = handler(&[
        "record",
        "--table",
        table,
        "--endpoint-url",
        &e,
        "--out",
        &recorded,
        "--last",
        "2",
    ]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("wrote 2 record(s)"),
        "{}",
        text(&o)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// An item that does not fit its model fails to decode on every attempt: the poller bisects,
/// gives up after the retries, writes it to the on-failure file (exit status 1), acknowledges
/// the rest; `handler replay` reads that file back (one event per line).
#[test]
fn an_undecodable_item_goes_to_the_on_failure_file_which_replays() {
    use aws_sdk_dynamodb::types::AttributeValue as Av;
    let table = "t_cli_poll_fail";
    let dir = fresh(table);
    let e = endpoint();
    runtime().block_on(async {
        let client = dynamodb();
        for (id, status) in [("a", "OPEN"), ("b", "SOMETIMES"), ("c", "CLOSED")] {
            client
                .put_item()
                .table_name(table)
                .item("PK", Av::S("#TASK#dan".into()))
                .item("SK", Av::S(format!("#TASK#{id}")))
                .item("owner", Av::S("dan".into()))
                .item("task_id", Av::S(id.into()))
                .item("title", Av::S("t".into()))
                .item("status", Av::S(status.into()))
                .send()
                .await
                .unwrap();
        }
    });
    let failed = path(&dir, "failed.jsonl");
    let o = handler(&[
        "poll",
        "--table",
        table,
        "--endpoint-url",
        &e,
        "--until-idle",
        "--batching-window",
        "0",
        "--store",
        "none",
        "--max-retries",
        "1",
        "--checkpoint",
        &path(&dir, "c.json"),
        "--on-failure",
        &failed,
    ]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(out.contains("failed records split into 1 + 1"), "{out}");
    assert!(out.contains("retry 1 of 1 record(s)"), "{out}");
    assert!(out.contains("gave up on 1 record(s)"), "{out}");
    assert!(
        out.contains("caught up: 2 records handled, 1 given up"),
        "{out}"
    );
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&failed)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(
        lines[0]["Records"][0]["dynamodb"]["Keys"]["SK"]["S"],
        "#TASK#b"
    );
    assert!(
        lines[0]["reason"].as_str().unwrap().contains("status"),
        "{}",
        lines[0]
    );
    let o = handler(&["replay", &failed]);
    let replayed = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(replayed.contains("failed.jsonl:1: 1 record"), "{replayed}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Ctrl-C (SIGINT) while waiting for records: the poller stops cleanly, says so, and exits 0
/// with its checkpoint written.
#[test]
fn ctrl_c_stops_cleanly_with_the_checkpoint_written() {
    let table = "t_cli_poll_sigint";
    let dir = fresh(table);
    let e = endpoint();
    let o = handler(&["seed", "--table", table, "--endpoint-url", &e]);
    assert!(o.status.success(), "{}", text(&o));
    let checkpoint = path(&dir, "c.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_handler"))
        .args([
            "poll",
            "--table",
            table,
            "--endpoint-url",
            &e,
            "--store",
            "none",
            "--quiet",
            "--checkpoint",
            &checkpoint,
            "--on-failure",
            &path(&dir, "f.jsonl"),
        ])
        .envs(ENV)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let started = Instant::now();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let idle = line.starts_with("caught up: 8 records");
        seen.push(line);
        if idle {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{seen:?}");
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let code = child.wait().unwrap();
    assert_eq!(code.code(), Some(0), "{seen:?} {rest:?}");
    assert!(
        rest.iter()
            .any(|l| l.starts_with("stopped: 8 records handled")),
        "{rest:?}"
    );
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&checkpoint).unwrap()).unwrap();
    let shards = saved["streams"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    assert!(shards
        .as_object()
        .unwrap()
        .values()
        .all(|s| s["sequenceNumber"].is_string()));
    let _ = std::fs::remove_dir_all(&dir);
}
