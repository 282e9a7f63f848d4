//! Every sample in events/ replayed through the real binary, with its expected outcome.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

struct Run {
    code: i32,
    lines: Vec<(String, String, String, String)>,
    response: serde_json::Value,
    stdout: String,
    stderr: String,
}

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

fn replay(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_handler"));
    cmd.arg("replay")
        .env_remove("AWS_LAMBDA_LOG_FORMAT")
        .env_remove("POWERTOOLS_METRICS_NAMESPACE")
        .env_remove("POWERTOOLS_SERVICE_NAME")
        .env("RUST_LOG", "info");
    for a in args {
        if a.ends_with(".json") {
            cmd.arg(events_dir().join(a));
        } else {
            cmd.arg(a);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run handler");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut lines = Vec::new();
    let mut response = serde_json::Value::Null;
    for l in stdout.lines() {
        if let Some(r) = l.strip_prefix("response: ") {
            response = serde_json::from_str(r).unwrap();
        } else if let Some(rest) = l.strip_prefix("  ") {
            let mut parts = rest.split_whitespace();
            let seq = parts.next().unwrap().to_string();
            let model = parts.next().unwrap().to_string();
            let kind = parts.next().unwrap().to_string();
            let outcome = parts.collect::<Vec<_>>().join(" ");
            lines.push((seq, model, kind, outcome));
        }
    }
    Run {
        code: out.status.code().unwrap_or(-1),
        lines,
        response,
        stdout,
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn failures(r: &Run) -> Vec<String> {
    r.response["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_string())
        .collect()
}

fn check(file: &str, expect: &[(&str, &str, &str, &str)], failed: &[&str], code: i32) -> Run {
    let r = replay(&[file], &[]);
    assert_eq!(
        r.code, code,
        "{file}: exit status\n{}\n{}",
        r.stdout, r.stderr
    );
    assert_eq!(r.lines.len(), expect.len(), "{file}:\n{}", r.stdout);
    for (got, want) in r.lines.iter().zip(expect) {
        assert_eq!(
            (got.0.as_str(), got.1.as_str(), got.2.as_str()),
            (want.0, want.1, want.2),
            "{file}:\n{}",
            r.stdout
        );
        assert!(
            got.3.starts_with(want.3),
            "{file}: {} outcome {:?} does not start with {:?}",
            got.0,
            got.3,
            want.3
        );
    }
    assert_eq!(failures(&r), failed, "{file}:\n{}", r.stdout);
    r
}

#[test]
fn insert() {
    let r = check(
        "insert.json",
        &[
            ("111000000000000000001", "Task", "INSERT", "ok"),
            ("111000000000000000002", "Story", "INSERT", "ok"),
        ],
        &[],
        0,
    );
    // The handler logs typed values.
    assert!(
        r.stderr.contains("task created")
            && r.stderr.contains("title=Ship the release")
            && r.stderr.contains("status=Open"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("word_count=1200") && r.stderr.contains(r#"tags={"dynamodb", "rust"}"#),
        "{}",
        r.stderr
    );
}

/// A Kinesis Data Streams for DynamoDB event: the Story's INSERT, delivered after its MODIFY,
/// runs first; the MODIFY sent twice runs once; the response names Kinesis sequence numbers.
#[test]
fn kinesis_sample_runs_each_items_changes_in_time_order_and_a_duplicate_once() {
    let seq = |n: &str| format!("496599123456789012345678901234567890123456789012345600{n}");
    let (s02, s18, s34, s50) = (seq("02"), seq("18"), seq("34"), seq("50"));
    let dup = format!("skipped: duplicate of record {s02}");
    let r = check(
        "kinesis.json",
        &[
            (&s02, "Story", "MODIFY", "ok"),
            (&s18, "Task", "INSERT", "ok"),
            (&s34, "Story", "INSERT", "ok"),
            (&s50, "Story", "MODIFY", &dup),
        ],
        &[],
        0,
    );
    let insert = r.stderr.find("story kind=INSERT").expect("the INSERT ran");
    let modify = r.stderr.find("story kind=MODIFY").expect("the MODIFY ran");
    assert!(insert < modify, "{}", r.stderr);
    assert_eq!(
        r.stderr.matches("story kind=MODIFY").count(),
        1,
        "{}",
        r.stderr
    );
}

#[test]
fn modify() {
    let r = check(
        "modify.json",
        &[
            ("111000000000000000010", "Story", "MODIFY", "ok"),
            ("111000000000000000011", "UserProfile", "MODIFY", "ok"),
        ],
        &[],
        0,
    );
    assert!(
        r.stderr.contains("profile saved")
            && r.stderr.contains(r#"display_name=Some("Bobby")"#)
            && r.stderr.contains("age=None"),
        "{}",
        r.stderr
    );
}

#[test]
fn remove() {
    let r = check(
        "remove.json",
        &[("111000000000000000020", "UserProfile", "REMOVE", "ok")],
        &[],
        0,
    );
    assert!(
        r.stderr.contains("profile deleted") && r.stderr.contains("owner=bob"),
        "{}",
        r.stderr
    );
}

#[test]
fn ttl_remove() {
    let r = check(
        "ttl-remove.json",
        &[("111000000000000000030", "Task", "REMOVE", "ok")],
        &[],
        0,
    );
    assert!(
        r.stderr.contains("task removed") && r.stderr.contains("ttl=true"),
        "{}",
        r.stderr
    );
}

#[test]
fn keys_only_view() {
    let r = check(
        "keys-only.json",
        &[
            ("111000000000000000040", "OrderLine", "INSERT", "ok"),
            ("111000000000000000041", "OrderLine", "REMOVE", "ok"),
            ("111000000000000000042", "Task", "MODIFY", "ok"),
        ],
        &[],
        0,
    );
    // No image: the handler sees the typed key, and says there is no image.
    assert!(
        r.stderr
            .contains("order line (no new image) kind=REMOVE order=o-1 line=3 ttl=false old=None"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("op=Modify { old: None, new: None }"),
        "{}",
        r.stderr
    );
}

#[test]
fn unmatched_keys_are_skipped() {
    check(
        "unmatched.json",
        &[
            ("111000000000000000050", "-", "INSERT", "skipped: record 111000000000000000050: no registered model matches keys PK=\"AUDIT#2026-11-21\""),
            ("111000000000000000051", "-", "INSERT", "skipped: record 111000000000000000051: no registered model matches keys PK=\"#task#ann\""),
            ("111000000000000000052", "-", "INSERT", "skipped: record 111000000000000000052: no registered model matches keys PK=N:7"),
        ],
        &[],
        0,
    );
}

#[test]
fn image_that_does_not_fit_fails_and_defers_the_rest() {
    check(
        "image-mismatch.json",
        &[
            ("111000000000000000060", "OrderLine", "INSERT", "ok"),
            ("111000000000000000061", "Task", "INSERT", "failed: record 111000000000000000061: NewImage does not fit model Task: field `status`: unknown variant `DONE`"),
            ("111000000000000000062", "Task", "INSERT", "deferred"),
        ],
        &["111000000000000000061"],
        1,
    );
}

#[test]
fn bad_number_names_record_model_and_field() {
    check(
        "bad-number.json",
        &[("111000000000000000070", "OrderLine", "INSERT", "failed: record 111000000000000000070: NewImage does not fit model OrderLine: field `qty`: number 2.5 is not an integer (expected u32)")],
        &["111000000000000000070"],
        1,
    );
}

#[test]
fn bad_base64_fails_only_its_record() {
    check(
        "bad-base64.json",
        &[
            ("111000000000000000080", "Task", "INSERT", "ok"),
            ("111000000000000000081", "UserProfile", "INSERT", "failed: record 111000000000000000081: NewImage does not fit model UserProfile: field `avatar`: invalid base64"),
        ],
        &["111000000000000000081"],
        1,
    );
}

#[test]
fn malformed_envelope_is_an_invocation_error() {
    let r = replay(&["malformed-envelope.json"], &[]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.lines.is_empty());
    assert!(r.stdout.contains("invocation error: unreadable DynamoDB Streams event (expected a JSON object with a \"Records\" array)"), "{}", r.stdout);
}

#[test]
fn moto_get_records_output_is_accepted() {
    let r = check(
        "moto-getrecords.json",
        &[
            ("1100000000017454423009", "Task", "INSERT", "ok"),
            ("1100000000017454423010", "Task", "MODIFY", "ok"),
            ("1100000000017454423011", "Task", "REMOVE", "ok"),
        ],
        &[],
        0,
    );
    assert!(
        r.stderr
            .contains("task status changed task_id=42 from=Open to=Closed"),
        "{}",
        r.stderr
    );
}

fn mixed_counts(r: &Run) -> BTreeMap<(String, String, String), usize> {
    let mut counts = BTreeMap::new();
    for (_, model, kind, outcome) in &r.lines {
        *counts
            .entry((model.clone(), kind.clone(), outcome.clone()))
            .or_default() += 1;
    }
    counts
}

#[test]
fn mixed_batch_over_all_models() {
    for args in [
        &["mixed-batch.json"][..],
        &["--concurrency", "8", "mixed-batch.json"][..],
    ] {
        let r = replay(args, &[]);
        assert_eq!(r.code, 0, "{}", r.stdout);
        assert_eq!(r.lines.len(), 120);
        let counts = mixed_counts(&r);
        assert_eq!(counts.len(), 15, "5 models x 3 kinds, all ok: {counts:?}");
        assert!(
            counts.iter().all(|((_, _, o), n)| o == "ok" && *n == 8),
            "{counts:?}"
        );
        assert!(failures(&r).is_empty());
        assert!(
            r.stderr.contains("batch processed records=120 failed=0"),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn several_files_and_exit_status() {
    let r = replay(&["insert.json", "bad-number.json", "remove.json"], &[]);
    assert_eq!(r.code, 1);
    assert_eq!(r.lines.len(), 4);
    let r = replay(&["insert.json", "malformed-envelope.json"], &[]);
    assert_eq!(r.code, 2);
    let r = replay(&[], &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("Usage: handler replay"), "{}", r.stderr);
}

#[test]
fn json_logs_when_lambda_asks() {
    let r = replay(&["insert.json"], &[("AWS_LAMBDA_LOG_FORMAT", "JSON")]);
    let first: serde_json::Value =
        serde_json::from_str(r.stderr.lines().next().unwrap()).expect("JSON log line");
    assert_eq!(first["span"]["model"], "Task");
    assert_eq!(first["span"]["seq"], "111000000000000000001");
    assert_eq!(first["fields"]["message"], "task created");
}

#[test]
fn sam_local_generated_event_is_accepted() {
    // Written by `sam local generate-event dynamodb update`: keys of no example model.
    let r = replay(&["sam-local-update.json"], &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.lines.len(), 3);
    assert!(
        r.lines
            .iter()
            .all(|l| l.1 == "-" && l.3.contains("no registered model matches keys Id=N:101")),
        "{}",
        r.stdout
    );
    assert_eq!(
        r.lines.iter().map(|l| l.2.as_str()).collect::<Vec<_>>(),
        ["INSERT", "MODIFY", "REMOVE"]
    );
}

fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

fn sql(statements: &str) -> Vec<Vec<Option<String>>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&database_url(), tokio_postgres::NoTls)
            .await
            .expect("tests need Postgres at DATABASE_URL or 127.0.0.1:5432");
        tokio::spawn(conn);
        let mut rows = Vec::new();
        for m in client.simple_query(statements).await.unwrap() {
            if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
                rows.push((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect());
            }
        }
        rows
    })
}

#[test]
fn replay_with_mirror_leaves_views_an_analyst_can_query() {
    let schema = "t_replay_mirror";
    sql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    let url = database_url();
    let table = format!("{schema}.items");
    let args = [
        "--mirror",
        url.as_str(),
        "--mirror-table",
        table.as_str(),
        "insert.json",
        "mixed-batch.json",
        "remove.json",
    ];
    let r = replay(&args, &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.starts_with(&format!("mirroring into {table} (views: {schema}.task, {schema}.board, {schema}.story, {schema}.user_profile, {schema}.order_line)")), "{}", r.stdout);
    let snapshot = format!(
        "SELECT pk, sk, entity, seq::text, deleted::text, data::text FROM {table} ORDER BY pk, sk"
    );
    let first = sql(&snapshot);
    assert!(first.len() > 100, "{}", first.len());

    let story = sql(&format!("SELECT title, array_to_string(tags, ','), word_count::text FROM {schema}.story WHERE owner = 'ann' AND story_id = '7'"));
    assert_eq!(
        story,
        vec![vec![
            Some("Stream processing, typed".into()),
            Some("rust,dynamodb".into()),
            Some("1200".into())
        ]]
    );
    let task = sql(&format!(
        "SELECT status FROM {schema}.task WHERE owner = 'ann' AND task_id = '42'"
    ));
    assert_eq!(task, vec![vec![Some("OPEN".into())]]);
    // Every model's view has live rows, and deleted items are not among them.
    for view in ["task", "board", "story", "user_profile", "order_line"] {
        let n = sql(&format!("SELECT count(*)::text FROM {schema}.{view}"));
        assert_ne!(n[0][0].as_deref(), Some("0"), "{view}");
    }
    let dead_in_views = sql(&format!("SELECT count(*)::text FROM {schema}.task t JOIN {table} i ON i.pk = t.pk AND i.sk = t.sk WHERE i.deleted"));
    assert_eq!(dead_in_views[0][0].as_deref(), Some("0"));

    // Replaying the same files again changes nothing.
    let again = replay(&args, &[]);
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert_eq!(sql(&snapshot), first);
}

#[test]
fn replay_with_an_unreachable_mirror_says_so_without_the_password() {
    let r = replay(
        &[
            "--mirror",
            "postgres://app:hunter2@127.0.0.1:1/db",
            "insert.json",
        ],
        &[],
    );
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(
        r.stderr.contains("cannot connect to 127.0.0.1:1/db as app"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("hunter2") && !r.stdout.contains("hunter2"));
    let r = replay(&["--mirror-table", "x", "insert.json"], &[]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("--mirror-table needs --mirror"),
        "{}",
        r.stderr
    );
}

#[test]
fn board_task_counts_follow_tasks_through_the_postgres_store() {
    let schema = "t_replay_store";
    sql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    let url = database_url();
    let table = format!("{schema}.items");
    // The mirror writes the batch's tasks, the store (same table) counts them.
    let args = [
        "--mirror",
        url.as_str(),
        "--mirror-table",
        table.as_str(),
        "--store",
        url.as_str(),
        "board-tasks.json",
    ];
    let r = replay(&args, &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.lines.len(), 6);
    let counts = || {
        sql(&format!(
            "SELECT board_id, task_count::text FROM {schema}.board"
        ))
    };
    assert_eq!(
        counts(),
        vec![vec![Some("home".into()), Some("2".into())]],
        "3 tasks inserted, 1 removed"
    );
    assert!(
        r.stderr.contains("board task_count updated"),
        "{}",
        r.stderr
    );
    // Delivered again (at least once): still 2, not 4.
    let again = replay(&args, &[]);
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert_eq!(counts(), vec![vec![Some("home".into()), Some("2".into())]]);
}

#[test]
fn store_option_errors_are_clear() {
    let r = replay(&["--store", "mysql://x", "insert.json"], &[]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("--store takes dynamodb://TABLE, a postgres:// URL or none"),
        "{}",
        r.stderr
    );
}

/// With a DynamoDB store (moto at DYNAMODB_ENDPOINT): the table holds a board and tasks, the
/// replayed batch says tasks changed, and the handler sets the board's count from the table.
#[test]
fn board_task_counts_through_the_dynamodb_store() {
    use dynastream::dynamodb::DynamoStore;
    use dynastream::store::Store;
    use dynastream_example_models::{Board, BoardKey, Task, TaskStatus};

    let endpoint = std::env::var("DYNAMODB_ENDPOINT")
        .expect("DYNAMODB_ENDPOINT: run scripts/test, which starts moto's server");
    let env = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ];
    let table = "t_replay_board_counts";
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .build();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), table);
    let _ = rt.block_on(store.client().delete_table().table_name(table).send());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .args([
            "create-table",
            "--table",
            table,
            "--endpoint-url",
            &endpoint,
        ])
        .envs(env)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    rt.block_on(async {
        store
            .save(&Board {
                owner: "bea".into(),
                board_id: "home".into(),
                name: "Home".into(),
                task_count: 0,
            })
            .await
            .unwrap();
        for id in ["t1", "t3"] {
            store
                .save(&Task {
                    owner: "bea".into(),
                    task_id: id.into(),
                    title: "x".into(),
                    status: TaskStatus::Open,
                })
                .await
                .unwrap();
        }
    });
    let store_arg = format!("dynamodb://{table}");
    let r = replay(
        &[
            "--store",
            &store_arg,
            "--endpoint-url",
            &endpoint,
            "board-tasks.json",
        ],
        &env,
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let board = rt
        .block_on(store.get::<Board>(&BoardKey {
            owner: "bea".into(),
            board_id: "home".into(),
        }))
        .unwrap()
        .unwrap();
    assert_eq!(board.task_count, 2);
}

/// The README's excerpt of the quickstart's output is what the quickstart prints, columns and
/// all: each line of it is a line of the replay, run from the repository root as a new user
/// runs it.
#[test]
fn readme_excerpt_is_what_replay_prints() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let excerpt: Vec<&str> = readme
        .split("```text\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the README has a text excerpt")
        .lines()
        .collect();
    let files: Vec<&str> = excerpt
        .iter()
        .filter_map(|l| l.strip_prefix("events/"))
        .filter_map(|l| l.split(':').next())
        .collect();
    assert_eq!(files.len(), 3, "{excerpt:?}");
    let out = Command::new(env!("CARGO_BIN_EXE_handler"))
        .current_dir(&root)
        .arg("replay")
        .args(files.iter().map(|f| format!("events/{f}")))
        .env_remove("AWS_LAMBDA_LOG_FORMAT")
        .output()
        .expect("run handler");
    let stdout = String::from_utf8(out.stdout).expect("UTF-8");
    for line in &excerpt {
        assert!(
            stdout.lines().any(|l| l == *line),
            "README line not printed:\n{line}\nreplay printed:\n{stdout}"
        );
    }
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn every_command_has_help_and_usage_errors_exit_2() {
    let mut commands = vec![
        &["--help"][..],
        &["replay", "--help"],
        &["create-table", "--help"],
        &["serve", "--help"],
        &["seed", "--help"],
    ];
    if cfg!(feature = "poll") {
        commands.extend([&["poll", "--help"][..], &["record", "--help"]]);
    }
    for cmd in commands {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
            .args(cmd)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{cmd:?}: {stdout}");
        assert!(stdout.contains("Usage: handler"), "{cmd:?}: {stdout}");
    }
    for bad in [&["replay", "--bogus"][..], &["replay"], &["nonsense"]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
            .args(bad)
            .env_remove("AWS_LAMBDA_RUNTIME_API")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
}

// ---- inputs we did not write -------------------------------------------------------------
//
// tests/fixtures/field-cases: events with shapes from public bug reports against other stream
// consumers; tests/fixtures/peer-fixtures: other projects' own DynamoDB-stream test fixtures
// (origins and licences in its SOURCES.md). Their READMEs say what each must give.

fn fixture(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
        .to_string_lossy()
        .into_owned()
}

fn fixture_files() -> Vec<String> {
    let mut out = Vec::new();
    for dir in [
        "field-cases",
        "one-reading",
        "peer-fixtures",
        "peer-fixtures/adapted",
        "peer-fixtures/derived",
    ] {
        let mut files: Vec<String> = std::fs::read_dir(fixture(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        files.sort();
        out.extend(files);
    }
    assert!(out.len() >= 40, "{}", out.len());
    out
}

fn mirror_args(schema: &str) -> (String, String) {
    sql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    (database_url(), format!("{schema}.items"))
}

#[test]
fn every_fixture_is_read_without_a_panic_with_and_without_the_mirror() {
    let (url, table) = mirror_args("t_fixtures_all");
    for file in fixture_files() {
        for mirrored in [false, true] {
            let mut args = vec![];
            if mirrored {
                args.extend(["--mirror", url.as_str(), "--mirror-table", table.as_str()]);
            }
            args.push(file.as_str());
            let r = replay(&args, &[]);
            assert!(
                [0, 1, 2].contains(&r.code)
                    && !r.stderr.contains("panicked")
                    && !r.stdout.contains("panic"),
                "{file} (mirror: {mirrored}): exit {}\n{}\n{}",
                r.code,
                r.stdout,
                r.stderr
            );
            // A data problem never fails the mirror's batch write as a whole.
            assert!(
                !r.stdout.contains("writing ") || !r.stdout.contains(" rows to "),
                "{file}: a whole-batch mirror failure\n{}",
                r.stdout
            );
        }
    }
}

fn run(args: &[&str]) -> Run {
    replay(args, &[])
}

fn outcome<'r>(r: &'r Run, seq: &str) -> &'r (String, String, String, String) {
    r.lines
        .iter()
        .find(|l| l.0 == seq)
        .unwrap_or_else(|| panic!("no line for {seq}:\n{}", r.stdout))
}

#[test]
fn field_case_millisecond_timestamp_fails_its_record_naming_the_field() {
    let (url, table) = mirror_args("t_fc03");
    let file = fixture("field-cases/03-millis-timestamp.json");
    let r = run(&["--mirror", &url, "--mirror-table", &table, &file]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_eq!(outcome(&r, "500000000000000000301").3, "ok");
    let bad = outcome(&r, "500000000000000000302");
    assert_eq!(bad.2, "INSERT", "the event name is shown when readable");
    assert!(
        bad.3
            .contains("ApproximateCreationDateTime 1763200000123 is after the year 9999")
            && bad.3.contains("ApproximateCreationDateTimePrecision"),
        "{}",
        bad.3
    );
    // Never a silently wrong time: the readable record's time is exact, the other is not written.
    let rows = sql(&format!(
        "SELECT seq::text, to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM {table} ORDER BY seq"
    ));
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][0].as_deref(), Some("500000000000000000301"));
    assert!(
        rows[0][1].as_deref().unwrap().starts_with("2025-"),
        "{rows:?}"
    );
}

#[test]
fn field_case_39_digit_number_fails_its_record_and_the_view_still_answers() {
    let (url, table) = mirror_args("t_fc05");
    let file = fixture("field-cases/05-39-digit-number.json");
    let r = run(&["--mirror", &url, "--mirror-table", &table, &file]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(outcome(&r, "500000000000000000502")
        .3
        .contains("field `word_count`: number 110111111111111110000000000000000000000 is out of range for i64"));
    // The mirror keeps every digit; the view reads NULL for it and says so.
    let sum = sql("SELECT sum(word_count)::text, count(*) FILTER (WHERE NOT values_fit)::text FROM t_fc05.story");
    assert_eq!(sum[0][1].as_deref(), Some("1"), "{sum:?}");
    let digits = sql(&format!(
        "SELECT data->>'word_count' FROM {table} WHERE seq = 500000000000000000502"
    ));
    assert_eq!(
        digits[0][0].as_deref(),
        Some("110111111111111110000000000000000000000")
    );
}

#[test]
fn field_case_nul_in_a_value_fails_only_its_record_in_the_mirror() {
    let file = fixture("field-cases/09-nul-in-value.json");
    // Without the mirror every record is handled: Rust strings hold U+0000.
    let r = run(&[&file]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let (url, table) = mirror_args("t_fc09");
    let r = run(&["--mirror", &url, "--mirror-table", &table, &file]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_eq!(outcome(&r, "500000000000000000901").3, "ok");
    let bad = &outcome(&r, "500000000000000000902").3;
    assert!(
        bad.contains("mirror: NewImage: attribute ") && bad.contains("holds U+0000"),
        "{bad}"
    );
    assert_eq!(outcome(&r, "500000000000000000903").3, "deferred");
    assert_eq!(failures(&r), ["500000000000000000902"]);
    let rows = sql(&format!("SELECT seq::text FROM {table} ORDER BY seq"));
    assert_eq!(
        rows,
        [
            vec![Some("500000000000000000901".to_string())],
            vec![Some("500000000000000000903".to_string())]
        ],
        "the other records are mirrored"
    );
}

#[test]
fn peer_fixture_null_padded_type_tags_name_the_attribute_and_the_place_in_the_file() {
    let r = run(&[&fixture(
        "peer-fixtures/aws-lambda-go@05b621c__events__testdata__dynamodb-event.json",
    )]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let first = &r.lines[0];
    assert_eq!(first.2, "INSERT");
    assert!(
        first.3.contains("dynamodb.Keys.val.B: invalid type: null, expected a string (line 17, column 21 of the event)"),
        "{}",
        first.3
    );
}

/// Powertools' own Kinesis Data Streams for DynamoDB sample: a Kinesis event, each change
/// base64 in `kinesis.data`, milliseconds without a precision. It replays into changes
/// answered by their Kinesis sequence numbers, and mirrors into rows at the Kinesis
/// position, claimed for the table its records name.
#[test]
fn peer_fixture_kinesis_event_replays_into_changes_and_the_mirror() {
    let f = fixture(
        "peer-fixtures/powertools-lambda-typescript__packages__parser__tests__events__kinesis__dynamodb-stream.json",
    );
    let r = run(&[&f]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let seqs = [
        "49657828409187701520019995242508390119953358325192589314",
        "49657828409187701520019995242509599045772972954367295490",
    ];
    for seq in seqs {
        let line = outcome(&r, seq);
        assert_eq!(line.2, "INSERT", "{}", r.stdout);
        // No example model has a key `id`: the change is skipped as unmatched.
        assert!(line.3.starts_with("skipped"), "{}", r.stdout);
    }
    let (url, table) = mirror_args("t_pf_kinesis");
    let r = run(&[
        "--mirror",
        &url,
        "--mirror-table",
        &table,
        "--pk-attr",
        "id",
        "--sk-attr",
        "",
        &f,
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let rows = sql(&format!(
        "SELECT pk, sk, data::text, stream, event_time::text, deleted::text FROM {table} ORDER BY pk"
    ));
    assert_eq!(
        rows,
        [
            [
                "record-1qit2y819gi",
                "",
                r#"{"data": "data-x6aq7ckdpgk"}"#,
                "kinesis",
                "2024-11-18 10:09:15.37+00",
                "false"
            ],
            [
                "record-fvxn3q4q5jw",
                "",
                r#"{"data": "data-4eompjs89n5"}"#,
                "kinesis",
                "2024-11-18 10:09:15.37+00",
                "false"
            ],
        ]
        .map(|row| row.map(|c| Some(c.to_string())).to_vec())
    );
    let held = sql("SELECT source_table FROM t_pf_kinesis.dynastream_sources");
    assert_eq!(
        held,
        [[Some("arn:aws:dynamodb:eu-west-1:1234567789012:table/PowertoolsEventsStack-DynamoDBTable59784FC0-8NKAMTERTAXY".to_string())]]
    );
}

#[test]
fn a_kinesis_change_record_outside_its_kinesis_record_is_named_as_such() {
    let r = run(&[&fixture(
        "peer-fixtures/derived/rust-record-with-optional-fields.wrapped.json",
    )]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(
        r.stdout.contains("not a DynamoDB Streams event")
            && r.stdout.contains("Kinesis Data Streams for DynamoDB")
            && r.stdout.contains("kinesis.data"),
        "{}",
        r.stdout
    );
    let r = run(&[&fixture(
        "peer-fixtures/aws-lambda-go__events__testdata__dynamodb-event-malformed.2.json",
    )]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stdout.contains("EOF while parsing"), "{}", r.stdout);
}

#[test]
fn peer_fixture_byte_order_mark_and_millisecond_time() {
    for (f, keys) in [
        (
            "peer-fixtures/aws-lambda-dotnet__Libraries__test__EventsTests.Shared__dynamodb-with-ms-event.json",
            ["--pk-attr", "key", "--sk-attr", "val"],
        ),
        (
            "peer-fixtures/adapted/A3c-dotnet-ms-event.as-Task.MICROSECONDS-probe.json",
            ["--pk-attr", "PK", "--sk-attr", "SK"],
        ),
    ] {
        let (url, table) = mirror_args("t_pf_ms");
        let file = fixture(f);
        let mut args = vec!["--mirror", &url, "--mirror-table", &table];
        args.extend(keys);
        args.push(&file);
        let r = run(&args);
        assert_eq!(r.code, 1, "{f}: {}", r.stdout);
        assert!(
            r.lines[0].3.contains("ApproximateCreationDateTime 148064202000")
                && r.lines[0].3.contains("after the year 9999"),
            "{f}: {}",
            r.stdout
        );
        assert_eq!(r.lines[1].3, "deferred");
        // The REMOVE's row (its time is fine) is written: no whole-batch failure.
        let n = sql(&format!("SELECT count(*)::text FROM {table} WHERE deleted"));
        assert_eq!(n[0][0].as_deref(), Some("1"), "{f}");
    }
}

#[test]
fn peer_fixtures_with_a_partition_key_only_are_mirrored() {
    // The hash key renamed PK, no sort key: taken as a partition-key-only table's.
    let (url, table) = mirror_args("t_pf_pkonly");
    let r = run(&[
        "--mirror",
        &url,
        "--mirror-table",
        &table,
        &fixture("peer-fixtures/derived/powertools-python-dynamoStreamEvent.pk-only.probe.json"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let rows = sql(&format!("SELECT pk, sk, seq::text FROM {table}"));
    assert_eq!(
        rows,
        [vec![
            Some("101".into()),
            Some(String::new()),
            Some("222".into())
        ]]
    );
    // The originals, with their own key attribute names given on the command line.
    for (f, pk_attr, want) in [
        (
            "peer-fixtures/powertools-lambda-python__tests__events__dynamoStreamEvent.json",
            "Id",
            "222",
        ),
        (
            "peer-fixtures/aws-sam-cli__samcli__lib__generated_sample_events__events__dynamodb__DynamoDBUpdate.filled.json",
            "Id",
            "4421584500000000017450439093",
        ),
        (
            "peer-fixtures/aws-lambda-go__events__testdata__dynamodb-time-window-event.json",
            "Id",
            "333",
        ),
    ] {
        let (url, table) = mirror_args("t_pf_pkonly2");
        let r = run(&[
            "--mirror",
            &url,
            "--mirror-table",
            &table,
            "--pk-attr",
            pk_attr,
            "--sk-attr",
            "",
            &fixture(f),
        ]);
        assert_eq!(r.code, 0, "{f}: {}\n{}", r.stdout, r.stderr);
        let rows = sql(&format!("SELECT pk, sk, seq::text FROM {table}"));
        assert_eq!(
            rows,
            [vec![Some("101".into()), Some(String::new()), Some(want.into())]],
            "{f}"
        );
    }
}

#[test]
fn peer_fixture_lower_case_key_attributes_are_configurable() {
    let (url, table) = mirror_args("t_pf_lower");
    let f = fixture("peer-fixtures/dynamodb-streams-test__README.md__NEW_AND_OLD_IMAGES.json");
    let r = replay(
        &["--mirror", &url, "--mirror-table", &table, &f],
        &[("DYNASTREAM_PK_ATTR", "pk"), ("DYNASTREAM_SK_ATTR", "sk")],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let rows = sql(&format!(
        "SELECT pk, sk, seq::text, deleted::text FROM {table}"
    ));
    assert_eq!(
        rows,
        [vec![
            Some("a".into()),
            Some("b".into()),
            Some("300000000027074223641".into()),
            Some("true".into())
        ]]
    );
}

#[test]
fn peer_fixture_repeated_and_out_of_order_sequence_numbers_the_highest_wins() {
    let f = fixture("peer-fixtures/derived/powertools-java-dynamo_event_big.pksk.json");
    let event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
    let newest = event["Records"]
        .as_array()
        .unwrap()
        .iter()
        .max_by(|a, b| {
            let (a, b) = (
                a["dynamodb"]["SequenceNumber"].as_str().unwrap(),
                b["dynamodb"]["SequenceNumber"].as_str().unwrap(),
            );
            a.len().cmp(&b.len()).then(a.cmp(b))
        })
        .unwrap();
    let (url, table) = mirror_args("t_pf_big");
    let r = run(&["--mirror", &url, "--mirror-table", &table, &f]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let rows = sql(&format!("SELECT seq::text, deleted::text FROM {table}"));
    assert_eq!(
        rows,
        [vec![
            Some(
                newest["dynamodb"]["SequenceNumber"]
                    .as_str()
                    .unwrap()
                    .to_string()
            ),
            Some((newest["eventName"] == "REMOVE").to_string())
        ]]
    );
}

#[test]
fn partition_key_only_sample_is_mirrored_with_an_empty_sort_key() {
    let r = check(
        "partition-key-only.json",
        &[
            ("111000000000000000120", "-", "INSERT", "skipped"),
            ("111000000000000000121", "-", "REMOVE", "skipped"),
        ],
        &[],
        0,
    );
    let _ = r;
    let (url, table) = mirror_args("t_pk_only_sample");
    let r = replay(
        &[
            "--mirror",
            &url,
            "--mirror-table",
            &table,
            "partition-key-only.json",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    let rows = sql(&format!("SELECT pk, sk, deleted::text FROM {table}"));
    assert_eq!(
        rows,
        [vec![
            Some("SESSION#8f2c".into()),
            Some(String::new()),
            Some("true".into())
        ]]
    );
}

#[test]
fn exact_prices_are_never_rounded_and_totals_never_panic() {
    let r = check(
        "exact-price.json",
        &[
            ("111000000000000000130", "OrderLine", "INSERT", "ok"),
            ("111000000000000000131", "OrderLine", "INSERT", "ok"),
        ],
        &[],
        0,
    );
    for want in [
        "unit_price=12345678901234567890.123456789012345678",
        "qty=3 unit_price=12345678901234567890.123456789012345678 line_total=37037036703703703670.370370367037037034",
        "qty=9 unit_price=12345678901234567890.123456789012345678 line_total=beyond 38 significant digits",
    ] {
        assert!(r.stderr.contains(want), "{want}\n{}", r.stderr);
    }
}

// ---- one reading of every record ---------------------------------------------------------
//
// tests/fixtures/one-reading: shapes after public bug reports (its README). Each gives one
// outcome in every mode: sequential or per key, with or without the mirror.

/// Each record's outcome class (`ok`, `failed`, `deferred`, `skipped`) by sequence number.
fn classes(r: &Run) -> Vec<(String, String)> {
    r.lines
        .iter()
        .map(|l| {
            let class = l.3.split([':', ' ']).next().unwrap_or("").to_string();
            (l.0.clone(), class)
        })
        .collect()
}

#[test]
fn one_reading_shapes_give_one_outcome_in_every_mode() {
    let base = 500_000_000_000_000_001_000u128;
    let seq = |n: u128| (base + n).to_string();
    // file, each record's class when run sequentially, what the failed records' reasons say
    // (without the mirror; with it, where it differs), exit status.
    type Case<'a> = (
        &'a str,
        Vec<(u128, &'a str)>,
        Vec<(u128, &'a str, &'a str)>,
        i32,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            "duplicate-event-name.json",
            vec![(1, "ok"), (2, "failed"), (3, "deferred")],
            vec![(2, "duplicate field `eventName`", "duplicate field `eventName`")],
            1,
        ),
        (
            "duplicate-sort-key.json",
            vec![(11, "ok"), (12, "failed"), (13, "deferred")],
            vec![(12, "dynamodb.Keys: key attribute \"SK\" is given twice", "dynamodb.Keys: key attribute \"SK\" is given twice")],
            1,
        ),
        (
            "duplicate-image-attribute.json",
            vec![(21, "failed"), (22, "deferred")],
            vec![(21, "attribute \"title\" is given twice", "mirror: NewImage: attribute \"title\" is given twice")],
            1,
        ),
        (
            "float-size-bytes.json",
            vec![(31, "ok"), (32, "ok"), (33, "ok"), (34, "ok")],
            vec![],
            0,
        ),
        (
            "numeric-schema-version.json",
            vec![(41, "ok"), (42, "ok"), (43, "ok")],
            vec![],
            0,
        ),
        (
            "lone-surrogate-envelope.json",
            vec![(51, "failed"), (52, "deferred")],
            vec![(51, "eventID: lone surrogate \\ud83d in a string", "eventID: lone surrogate \\ud83d in a string")],
            1,
        ),
        (
            "lone-surrogate-image.json",
            vec![(61, "failed")],
            vec![(61, "field `title`: lone surrogate \\ud83d in a string", "mirror: NewImage: attribute title: lone surrogate \\ud83d in a string")],
            1,
        ),
        (
            "insert-old-image-only.json",
            vec![(71, "failed")],
            vec![(71, "INSERT record has no NewImage, though its StreamViewType NEW_AND_OLD_IMAGES carries one", "INSERT record has no NewImage, though its StreamViewType NEW_AND_OLD_IMAGES carries one")],
            1,
        ),
    ];
    for (name, want, says, code) in cases {
        let file = fixture(&format!("one-reading/{name}"));
        let want: Vec<(String, String)> =
            want.iter().map(|(n, c)| (seq(*n), c.to_string())).collect();
        let schema = format!("t_one_{}", name.trim_end_matches(".json").replace('-', "_"));
        let (url, table) = mirror_args(&schema);
        let plain = run(&[&file]);
        let mirrored = run(&["--mirror", &url, "--mirror-table", &table, &file]);
        let per_key = run(&["--concurrency", "4", &file]);
        for (mode, r) in [
            ("plain", &plain),
            ("mirror", &mirrored),
            ("per key", &per_key),
        ] {
            assert_eq!(r.code, code, "{name} ({mode}):\n{}\n{}", r.stdout, r.stderr);
            assert!(
                !r.stderr.contains("panicked"),
                "{name} ({mode}): {}",
                r.stderr
            );
            if mode == "per key" {
                // Records of other items run on; the failed ones are the same.
                let failed = |rs: &[(String, String)]| {
                    rs.iter()
                        .filter(|(_, c)| c == "failed")
                        .map(|(s, _)| s.clone())
                        .collect::<Vec<_>>()
                };
                let mut expect = failed(&want);
                let mut got = failed(&classes(r));
                // A later item's own fault is found too when its record ran before the first
                // failure was known (timing): only there may one more record fail.
                if name == "duplicate-image-attribute.json" {
                    got.retain(|s| *s != seq(22));
                }
                expect.sort();
                got.sort();
                assert_eq!(got, expect, "{name} ({mode}):\n{}", r.stdout);
            } else {
                assert_eq!(classes(r), want, "{name} ({mode}):\n{}", r.stdout);
            }
            for (n, plain_says, mirror_says) in &says {
                let line = outcome(r, &seq(*n));
                let says = if mode == "mirror" {
                    mirror_says
                } else {
                    plain_says
                };
                assert!(line.3.contains(says), "{name} ({mode}): {}", line.3);
            }
            // The response names the first failure, whatever the mode.
            let first_failed = want
                .iter()
                .find(|(_, c)| c == "failed")
                .map(|(s, _)| s.clone());
            assert_eq!(
                failures(r).first().cloned(),
                first_failed,
                "{name} ({mode})"
            );
        }
        // The mirror writes what the handlers were given, and never a record that failed.
        let rows = sql(&format!("SELECT seq::text FROM {table} ORDER BY seq"));
        for (s, class) in &want {
            let written = rows.iter().any(|row| row[0].as_deref() == Some(s.as_str()));
            if class == "failed" {
                assert!(!written, "{name}: failed record {s} was mirrored");
            }
        }
    }
    // Another writer's numeric schema_version: the item is mirrored, its column NULL, the
    // handler warned that the stored version is not the model's.
    let rows = sql("SELECT schema_version, deleted::text FROM t_one_numeric_schema_version.items");
    assert_eq!(rows, [vec![None, Some("true".to_string())]]);
    let plain = run(&[&fixture("one-reading/numeric-schema-version.json")]);
    assert!(
        plain
            .stderr
            .contains("stored schema_version is not this model's"),
        "{}",
        plain.stderr
    );
    // The rows of a float SizeBytes are all written.
    let rows = sql("SELECT count(*)::text FROM t_one_float_size_bytes.items");
    assert_eq!(rows, [vec![Some("4".to_string())]]);
}

#[test]
fn filter_criteria_are_the_models_prefixes_and_are_refused_with_a_mirror() {
    let out = Command::new(env!("CARGO_BIN_EXE_handler"))
        .arg("filter-criteria")
        .output()
        .expect("run handler");
    assert_eq!(out.status.code(), Some(0));
    let criteria: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let patterns: Vec<serde_json::Value> = criteria["Filters"]
        .as_array()
        .expect("Filters")
        .iter()
        .map(|f| {
            serde_json::from_str(f["Pattern"].as_str().expect("Pattern")).expect("pattern JSON")
        })
        .collect();
    // One filter per example model (five: Lambda's default limit).
    assert_eq!(patterns.len(), 5, "{criteria}");
    assert!(patterns.contains(&serde_json::json!(
        {"dynamodb": {"Keys": {"PK": {"S": [{"prefix": "ORDER#"}]}, "SK": {"S": [{"prefix": "LINE#"}]}}}}
    )));
    // The template's parameters: the same patterns, one FilterPatternN=... word each.
    let out = Command::new(env!("CARGO_BIN_EXE_handler"))
        .args(["filter-criteria", "--format", "sam-parameters"])
        .output()
        .expect("run handler");
    let text = String::from_utf8(out.stdout).unwrap();
    let params: Vec<serde_json::Value> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let (name, value) = l.split_once('=').expect("Name=Value");
            assert_eq!(name, format!("FilterPattern{}", i + 1));
            assert!(!value.contains(char::is_whitespace));
            serde_json::from_str(value).expect("pattern JSON")
        })
        .collect();
    assert_eq!(params, patterns);
    let (url, table) = mirror_args("t_filter_criteria");
    let out = Command::new(env!("CARGO_BIN_EXE_handler"))
        .args([
            "filter-criteria",
            "--mirror",
            &url,
            "--mirror-table",
            &table,
        ])
        .output()
        .expect("run handler");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the mirror hook sees every record"), "{err}");
}

/// The EMF documents in `stdout`, each checked against the format's rules
/// (CloudWatch_Embedded_Metric_Format_Specification): `_aws.Timestamp` an integer of
/// milliseconds, `CloudWatchMetrics` directives with a `Namespace`, `Dimensions` sets of at most
/// 30 names each present as a string member, `Metrics` of at most 100 with a `Name`, a `Unit`
/// CloudWatch knows and a value (a number, or an array of at most 100 numbers) at the root.
fn emf_documents(stdout: &str) -> Vec<serde_json::Value> {
    const UNITS: &[&str] = &[
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    ];
    let mut docs = Vec::new();
    for line in stdout.lines().filter(|l| l.starts_with("{\"_aws\"")) {
        let doc: serde_json::Value = serde_json::from_str(line).expect("an EMF line is JSON");
        let aws = &doc["_aws"];
        let ts = aws["Timestamp"]
            .as_u64()
            .expect("_aws.Timestamp is an integer");
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        assert!(
            ts <= now_ms && now_ms - ts < 600_000,
            "Timestamp {ts} is not now (ms)"
        );
        let directives = aws["CloudWatchMetrics"]
            .as_array()
            .expect("CloudWatchMetrics");
        assert!(!directives.is_empty(), "{line}");
        for d in directives {
            assert_eq!(d["Namespace"], "TestStream", "{line}");
            for set in d["Dimensions"].as_array().expect("Dimensions") {
                let set = set.as_array().expect("a dimension set is an array");
                assert!(!set.is_empty() && set.len() <= 30, "{line}");
                for name in set {
                    let name = name.as_str().expect("a dimension name is a string");
                    assert!(
                        doc[name].is_string(),
                        "dimension {name} has no string value: {line}"
                    );
                }
            }
            let metrics = d["Metrics"].as_array().expect("Metrics");
            assert!(!metrics.is_empty() && metrics.len() <= 100, "{line}");
            for m in metrics {
                let name = m["Name"].as_str().expect("a metric has a Name");
                let unit = m["Unit"].as_str().expect("every metric has a Unit");
                assert!(UNITS.contains(&unit), "unit {unit}: {line}");
                match &doc[name] {
                    serde_json::Value::Number(_) => {}
                    serde_json::Value::Array(values) => {
                        assert!(!values.is_empty() && values.len() <= 100, "{line}");
                        assert!(values.iter().all(serde_json::Value::is_number), "{line}");
                    }
                    other => panic!("metric {name} has value {other}: {line}"),
                }
            }
        }
        docs.push(doc);
    }
    docs
}

/// The value of metric `name` in the documents whose dimensions are `dims`, summed.
fn emf_sum(docs: &[serde_json::Value], name: &str, dims: &[(&str, &str)]) -> f64 {
    docs.iter()
        .filter(|d| d.get(name).is_some())
        .filter(|d| dims.iter().all(|(k, v)| d[*k] == *v))
        .map(|d| match &d[name] {
            serde_json::Value::Array(a) => a.iter().filter_map(serde_json::Value::as_f64).sum(),
            v => v.as_f64().unwrap_or(0.0),
        })
        .sum()
}

#[test]
fn metrics_in_embedded_metric_format_when_powertools_namespace_is_set() {
    let env = [
        ("POWERTOOLS_METRICS_NAMESPACE", "TestStream"),
        ("POWERTOOLS_SERVICE_NAME", "replay-test"),
    ];
    let r = replay(
        &[
            "mixed-batch.json",
            "bad-number.json",
            "unmatched.json",
            "malformed-envelope.json",
        ],
        &env,
    );
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let docs = emf_documents(&r.stdout);
    assert!(docs.iter().all(|d| d["service"] == "replay-test"));
    // Every record of the mixed batch, by model, kind and outcome.
    for model in ["Task", "Board", "Story", "UserProfile", "OrderLine"] {
        for kind in ["INSERT", "MODIFY", "REMOVE"] {
            let dims = [("model", model), ("kind", kind), ("outcome", "ok")];
            assert_eq!(emf_sum(&docs, "Records", &dims), 8.0, "{model} {kind}");
        }
    }
    // bad-number.json: one record fails to decode, the records after it are deferred.
    assert_eq!(
        emf_sum(&docs, "FailedRecords", &[("reason", "decode")]),
        1.0
    );
    let failed = emf_sum(
        &docs,
        "Records",
        &[("model", "OrderLine"), ("outcome", "failed")],
    );
    assert_eq!(failed, 1.0, "{}", r.stdout);
    let records_seen: f64 = emf_sum(&docs, "Records", &[]);
    assert_eq!(
        records_seen as usize,
        r.lines.len(),
        "one count per record replayed"
    );
    // The malformed envelope fails its invocation.
    assert_eq!(emf_sum(&docs, "UnreadableEvents", &[]), 1.0);
    // One batch figure per readable event (3), each a duration or age in milliseconds.
    for name in [
        "BatchDuration",
        "HandlerDuration",
        "OldestRecordAge",
        "NewestRecordAge",
    ] {
        let batches: usize = docs
            .iter()
            .filter_map(|d| d.get(name)?.as_array().map(Vec::len))
            .sum();
        assert_eq!(batches, 3, "{name}");
        let unit = docs
            .iter()
            .flat_map(|d| {
                d["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                    .as_array()
                    .unwrap()
            })
            .find(|m| m["Name"] == name)
            .map(|m| m["Unit"].clone());
        assert_eq!(unit, Some("Milliseconds".into()), "{name}");
    }
    // The events were written in 2025: their records are months old when replayed.
    assert!(emf_sum(&docs, "OldestRecordAge", &[]) > 1e9);
    // Bounded: every document has one of three dimension sets, so no key, sequence number or
    // other per-record value ever becomes a dimension.
    for d in &docs {
        let dims: Vec<&str> = d["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        assert!(
            [
                vec!["service"],
                vec!["service", "reason"],
                vec!["service", "model", "kind", "outcome"]
            ]
            .contains(&dims),
            "{dims:?}"
        );
    }
    // And the failure total, by service alone, for the template's alarm.
    let totals: Vec<f64> = docs
        .iter()
        .filter(|d| d.get("FailedRecords").is_some() && d.get("reason").is_none())
        .filter_map(|d| d["FailedRecords"].as_f64())
        .collect();
    assert_eq!(totals, [1.0], "one failed record in all");

    // Off without the namespace.
    let off = replay(&["mixed-batch.json"], &[]);
    assert!(emf_documents(&off.stdout).is_empty());
}

#[test]
fn mirror_writes_are_metered() {
    let schema = "t_replay_metrics";
    sql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    let url = database_url();
    let table = format!("{schema}.items");
    let env = [("POWERTOOLS_METRICS_NAMESPACE", "TestStream")];
    let args = [
        "--mirror",
        url.as_str(),
        "--mirror-table",
        table.as_str(),
        "mixed-batch.json",
    ];
    let r = replay(&args, &env);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let docs = emf_documents(&r.stdout);
    assert!(docs.iter().all(|d| d["service"] == "service_undefined"));
    assert_eq!(emf_sum(&docs, "MirrorRows", &[]), 120.0);
    let writes = docs
        .iter()
        .filter_map(|d| d.get("MirrorWriteDuration")?.as_array().map(Vec::len))
        .sum::<usize>();
    assert_eq!(writes, 1);
}
