//! Backfill and verify, measured in one run on the same Postgres:
//!
//! - (m) backfill from an in-memory table ([`MemoryTable`]: the scan server is not what is
//!   measured) into an empty mirror table: convert every item to the mirror's JSON, match its
//!   model, one upsert plus cursor per page;
//! - (e) the same items backfilled from an export folder (gzipped DYNAMODB_JSON files);
//! - (k) COPY of the rows (m) wrote, already as CSV, into the same emptied table;
//! - (v) verify of the mirror against the in-memory table (every item compared as jsonb);
//! - then, in a child process each so its peak memory is its own, a backfill from an export of
//!   1,000,000 items followed by a verify against it, and the same at a tenth of the size: the
//!   peak resident set must not grow with the table.
//!
//! `cargo bench --features full --bench backfill`; sizes from `BACKFILL_BENCH_ITEMS` (default
//! 200,000) and `BACKFILL_BENCH_BIG` (default 1,000,000). Needs Postgres (`DATABASE_URL`, else
//! `postgres://postgres@127.0.0.1:5432/test`); uses the schema `bench_backfill`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use dynastream::postgres::{BackfillOptions, Mirror, MirrorConfig, VerifyOptions};
use dynastream::store::{from_dynamodb_json, ExportFolder, Item, MemoryTable, TableInfo};
use dynastream::Router;
use dynastream_example_models::{Story, UserProfile};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio_postgres::{Client, NoTls};

const SCHEMA: &str = "bench_backfill";
const TABLE_ARN: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/bench";
const STREAM_ARN: &str =
    "arn:aws:dynamodb:us-east-1:123456789012:table/bench/stream/2026-12-01T00:00:00.000";
const COLUMNS: &str = "pk, sk, entity, schema_version, data, seq, event_time, deleted, stream";

fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// Item `i` as DynamoDB JSON: three in four a user profile, the rest stories with a tag set.
fn item(i: usize) -> String {
    if i % 4 == 3 {
        format!(
            r#"{{"PK":{{"S":"USER#u{u:07}#STORY#s{i}"}},"SK":{{"S":"STORY#s{i}"}},"owner":{{"S":"u{u:07}"}},"story_id":{{"S":"s{i}"}},"title":{{"S":"Story number {i}, a title of some length"}},"content":{{"S":"{body}"}},"tags":{{"SS":["t{a}","t{b}"]}},"word_count":{{"N":"{w}"}}}}"#,
            u = i / 4,
            body = "lorem ipsum dolor sit amet ".repeat(4),
            a = i % 17,
            b = i % 23 + 17,
            w = i % 5000
        )
    } else {
        format!(
            r#"{{"PK":{{"S":"USER#u{i:07}"}},"SK":{{"S":"PROFILE"}},"owner":{{"S":"u{i:07}"}},"display_name":{{"S":"User {i}"}},"email":{{"S":"u{i}@example.com"}},"age":{{"N":"{}"}}}}"#,
            i % 97
        )
    }
}

fn to_item(json: &str) -> Item {
    let v: serde_json::Value = serde_json::from_str(json).expect("item json");
    v.as_object()
        .expect("map")
        .iter()
        .map(|(k, a)| (k.clone(), from_dynamodb_json(a).expect("attribute")))
        .collect()
}

/// An export of items `0..n` in `files` gzipped data files under `dir`.
fn write_export(dir: &Path, n: usize, files: usize) -> PathBuf {
    let id = "01764000000000-bench";
    let root = dir.join("AWSDynamoDB").join(id);
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(root.join("data")).expect("export folder");
    let per = n.div_ceil(files).max(1);
    let mut manifest = String::new();
    for f in 0..files {
        let name = format!("{f:04}.json.gz");
        let out = std::fs::File::create(root.join("data").join(&name)).expect("data file");
        let mut gz = flate2::write::GzEncoder::new(
            std::io::BufWriter::new(out),
            flate2::Compression::fast(),
        );
        let range = (f * per)..((f + 1) * per).min(n);
        let count = range.len();
        for i in range {
            writeln!(gz, "{{\"Item\":{}}}", item(i)).expect("write");
        }
        gz.finish().expect("gzip");
        manifest.push_str(&format!(
            "{{\"itemCount\":{count},\"dataFileS3Key\":\"AWSDynamoDB/{id}/data/{name}\"}}\n"
        ));
    }
    std::fs::write(root.join("manifest-files.json"), manifest).expect("manifest");
    std::fs::write(
        root.join("manifest-summary.json"),
        serde_json::json!({"tableArn": TABLE_ARN, "itemCount": n, "outputFormat": "DYNAMODB_JSON",
            "exportTime": "2026-12-01T00:00:00Z", "manifestFilesS3Key": format!("AWSDynamoDB/{id}/manifest-files.json")})
        .to_string(),
    )
    .expect("summary");
    root
}

fn mirror(table: &str) -> (Router<()>, std::sync::Arc<Mirror>) {
    // Each mirror table its own views: one schema holds one set per prefix.
    let config = MirrorConfig::new(&database_url())
        .expect("url")
        .schema(SCHEMA)
        .expect("schema")
        .table(table)
        .expect("table")
        .view_prefix(&format!("{table}_"))
        .expect("view prefix");
    let mirror = std::sync::Arc::new(Mirror::new(config));
    let router = Router::builder(())
        .model::<UserProfile>()
        .model::<Story>()
        .hook(std::sync::Arc::clone(&mirror))
        .build()
        .expect("router");
    (router, mirror)
}

async fn client() -> Client {
    let (client, conn) = tokio_postgres::connect(&database_url(), NoTls)
        .await
        .expect("the benchmark needs Postgres at DATABASE_URL or 127.0.0.1:5432");
    tokio::spawn(conn);
    client
}

async fn empty(client: &Client, table: &str) {
    client
        .batch_execute(&format!("TRUNCATE {SCHEMA}.{table}"))
        .await
        .expect("truncate");
    // The backfill's saved state, once a backfill made its table.
    let _ = client
        .batch_execute(&format!(
            "DELETE FROM {SCHEMA}.dynastream_backfill WHERE mirror_table = '{SCHEMA}.{table}'"
        ))
        .await;
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn options() -> BackfillOptions {
    BackfillOptions::new()
        .segments(4)
        .page_size(1000)
        .stream_arn(Some(STREAM_ARN.into()))
}

/// The child: a backfill from the export at `dir` into a fresh table, then a verify against
/// it; prints one line of figures.
fn child(dir: &Path, table: &str) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let (_router, mirror) = mirror(table);
        mirror.connect().await.expect("connect");
        empty(&client().await, table).await;
        let export = ExportFolder::open(dir, "PK", "SK").expect("export");
        let t = Instant::now();
        let summary = mirror
            .backfill(&export, &options(), &|_| {})
            .await
            .expect("backfill");
        let backfill = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let report = mirror
            .verify(&export, &VerifyOptions::new().segments(4), &|_| {}, &|_| {})
            .await
            .expect("verify");
        let verify = t.elapsed().as_secs_f64();
        assert!(
            report.equal(),
            "the backfilled mirror verifies equal: {report:?}"
        );
        println!(
            "child items={} backfill_s={backfill:.2} verify_s={verify:.2} peak_rss_kib={}",
            summary.items,
            peak_rss_kib().unwrap_or(0)
        );
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(Path::new(&args[i + 1]), &args[i + 2]);
        return;
    }
    let n = env_count("BACKFILL_BENCH_ITEMS", 200_000);
    let big = env_count("BACKFILL_BENCH_BIG", 1_000_000);
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-backfill");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let c = rt.block_on(client());
    rt.block_on(c.batch_execute(&format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")))
        .expect("fresh schema");
    let (_router, m) = mirror("items");
    rt.block_on(m.connect()).expect("connect");

    println!("generating {n} items ...");
    let info = TableInfo {
        name: "bench".into(),
        arn: Some(TABLE_ARN.into()),
        latest_stream_arn: Some(STREAM_ARN.into()),
        ..TableInfo::default()
    };
    let mut table = MemoryTable::new("PK", "SK", info);
    for i in 0..n {
        table.put(to_item(&item(i))).expect("put");
    }
    let export = write_export(&work.join("small"), n, 16);
    let export = ExportFolder::open(&export, "PK", "SK").expect("export");

    // (m), then COPY of what it wrote, then (e), then (v): each once warm-up, then timed.
    let backfill = |source: &dyn dynastream::store::TableScan| {
        rt.block_on(async {
            empty(&c, "items").await;
            let t = Instant::now();
            let s = m
                .backfill(source, &options(), &|_| {})
                .await
                .expect("backfill");
            assert_eq!(s.items as usize, n);
            t.elapsed().as_secs_f64()
        })
    };
    let csv: bytes::Bytes = rt.block_on(async {
        empty(&c, "items").await;
        m.backfill(&table, &options(), &|_| {})
            .await
            .expect("backfill");
        let stream = c
            .copy_out(&format!(
                "COPY (SELECT {COLUMNS} FROM {SCHEMA}.items) TO STDOUT (FORMAT csv)"
            ))
            .await
            .expect("copy out");
        let chunks: Vec<bytes::Bytes> = stream.map(|c| c.expect("chunk")).collect().await;
        chunks.concat().into()
    });
    let copy = || {
        rt.block_on(async {
            empty(&c, "items").await;
            let t = Instant::now();
            let sink = c
                .copy_in(&format!(
                    "COPY {SCHEMA}.items ({COLUMNS}) FROM STDIN (FORMAT csv)"
                ))
                .await
                .expect("copy in");
            futures_util::pin_mut!(sink);
            sink.send(csv.clone()).await.expect("copy data");
            sink.finish().await.expect("copy finish");
            t.elapsed().as_secs_f64()
        })
    };
    let verify = || {
        rt.block_on(async {
            let t = Instant::now();
            let r = m
                .verify(&table, &VerifyOptions::new().segments(4), &|_| {}, &|_| {})
                .await
                .expect("verify");
            assert!(r.equal(), "{r:?}");
            t.elapsed().as_secs_f64()
        })
    };
    // Two interleaved rounds; the better of each.
    let (mut tm, mut te, mut tk, mut tv) = (f64::MAX, f64::MAX, f64::MAX, f64::MAX);
    for _ in 0..2 {
        tm = tm.min(backfill(&table));
        tk = tk.min(copy());
        te = te.min(backfill(&export));
        tv = tv.min(verify());
    }
    let rate = |t: f64| n as f64 / t;
    println!("{n} items, best of 2 interleaved rounds, 4 segments, pages of 1000:");
    println!(
        "(m) backfill from memory   {tm:>7.2} s  {:>9.0} rows/s",
        rate(tm)
    );
    println!(
        "(e) backfill from export   {te:>7.2} s  {:>9.0} rows/s",
        rate(te)
    );
    println!(
        "(k) COPY of the same rows  {tk:>7.2} s  {:>9.0} rows/s",
        rate(tk)
    );
    println!(
        "(v) verify against memory  {tv:>7.2} s  {:>9.0} items/s",
        rate(tv)
    );
    println!("(m)/(k) = {:.0}% of COPY (goal >= 60%)", tk / tm * 100.0);
    println!("(e)/(k) = {:.0}% of COPY (goal >= 60%)", tk / te * 100.0);
    drop(table);

    // Scale: backfill + verify from an export, each size in its own process.
    let exe = std::env::current_exe().expect("exe");
    for size in [big / 10, big] {
        println!("writing an export of {size} items ...");
        let dir = write_export(&work.join(format!("n{size}")), size, 64);
        let out = std::process::Command::new(&exe)
            .args([
                "--child",
                &dir.display().to_string(),
                &format!("items_{size}"),
            ])
            .output()
            .expect("child");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "child failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if let Some(line) = text.lines().find(|l| l.starts_with("child ")) {
            println!("{line}");
        }
        let _ = std::fs::remove_dir_all(work.join(format!("n{size}")));
    }
}
