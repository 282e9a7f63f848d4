//! Mirroring a 1000-record batch into Postgres, beside a COPY of the same rows into the same
//! table on the same server, in one run.
//!
//! - (m) mirror: `Router::handle_event` with the mirror on and the example models registered
//!   without handlers (parse, match, convert the images to JSON, one upsert statement), into
//!   the emptied table;
//! - (u) mirror over existing rows: the same batch with higher sequence numbers, so every row is
//!   updated;
//! - (k) COPY: the rows (m) wrote, as CSV already built, `COPY ... FROM STDIN` into the emptied
//!   table.
//!
//! Needs Postgres (DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test); uses the schema
//! `bench_mirror`.

#[path = "support/mod.rs"]
mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion};
use dynastream::postgres::MirrorConfig;
use futures_util::SinkExt as _;
use futures_util::StreamExt as _;
use support::{mean_ns, out_dir};
use tokio_postgres::{Client, NoTls};

const SCHEMA: &str = "bench_mirror";

fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// The batch with every sequence number raised by `offset`.
fn shifted(batch: &serde_json::Value, offset: u128) -> Vec<u8> {
    let mut b = batch.clone();
    for r in b["Records"].as_array_mut().expect("records") {
        let seq: u128 = r["dynamodb"]["SequenceNumber"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("numeric sequence number");
        r["dynamodb"]["SequenceNumber"] = (seq + offset).to_string().into();
    }
    serde_json::to_vec(&b).expect("json")
}

const COLUMNS: &str = "pk, sk, entity, schema_version, data, seq, event_time, deleted";

async fn copy_in(client: &Client, csv: &bytes::Bytes) {
    let sink = client
        .copy_in(&format!(
            "COPY {SCHEMA}.items ({COLUMNS}) FROM STDIN (FORMAT csv)"
        ))
        .await
        .expect("copy in");
    futures_util::pin_mut!(sink);
    sink.send(csv.clone()).await.expect("copy data");
    sink.finish().await.expect("copy finish");
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let url = database_url();
    let client = rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&url, NoTls)
            .await
            .unwrap_or_else(|e| panic!("the mirror benchmark needs Postgres at {url}: {e}"));
        tokio::spawn(conn);
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            .await
            .expect("reset schema");
        client
    });
    let config = MirrorConfig::new(&url)
        .expect("url")
        .table(&format!("{SCHEMA}.items"))
        .expect("table");
    let mirror = std::sync::Arc::new(dynastream::postgres::Mirror::new(config));
    let router = support::models_only(std::sync::Arc::clone(&mirror));
    rt.block_on(router.start()).expect("connect");

    let value: serde_json::Value = serde_json::from_slice(&support::batch()).expect("batch json");
    let bytes = shifted(&value, 0);
    let truncate = || {
        rt.block_on(client.batch_execute(&format!("TRUNCATE {SCHEMA}.items")))
            .expect("truncate")
    };

    // One mirrored batch, then the rows it wrote as CSV for COPY.
    truncate();
    let writes = mirror.writes();
    let report = rt
        .block_on(router.handle_event(&bytes, Default::default()))
        .expect("event");
    assert!(!report.has_failures(), "the batch mirrors cleanly");
    let statements = mirror.writes() - writes;
    let csv: bytes::Bytes = rt.block_on(async {
        let stream = client
            .copy_out(&format!(
                "COPY (SELECT {COLUMNS} FROM {SCHEMA}.items) TO STDOUT (FORMAT csv)"
            ))
            .await
            .expect("copy out");
        let chunks: Vec<bytes::Bytes> = stream.map(|c| c.expect("chunk")).collect().await;
        chunks.concat().into()
    });
    let rows: i64 = rt
        .block_on(client.query_one(&format!("SELECT count(*) FROM {SCHEMA}.items"), &[]))
        .expect("count")
        .get(0);
    println!(
        "batch: {} records, {} bytes -> {rows} rows ({} KB as CSV), {statements} statement(s) per batch",
        report.records.len(),
        bytes.len(),
        csv.len() / 1024
    );

    let mut c = Criterion::default()
        .output_directory(&out_dir())
        .measurement_time(Duration::from_secs(8))
        .sample_size(30)
        .configure_from_args();
    let mut offset: u128 = 0;
    {
        let mut g = c.benchmark_group("mirror_1000");
        g.throughput(criterion::Throughput::Elements(rows as u64));
        g.bench_function("m_mirror_insert", |b| {
            b.iter_batched(
                truncate,
                |()| {
                    rt.block_on(router.handle_event(black_box(&bytes), Default::default()))
                        .expect("event")
                },
                BatchSize::PerIteration,
            )
        });
        g.bench_function("u_mirror_update", |b| {
            b.iter_batched(
                || {
                    offset += 1_000_000_000;
                    shifted(&value, offset)
                },
                |ev| {
                    rt.block_on(router.handle_event(black_box(&ev), Default::default()))
                        .expect("event")
                },
                BatchSize::PerIteration,
            )
        });
        g.bench_function("k_copy", |b| {
            b.iter_batched(
                truncate,
                |()| rt.block_on(copy_in(&client, black_box(&csv))),
                BatchSize::PerIteration,
            )
        });
        g.finish();
    }
    c.final_summary();

    // Interleaved rounds: (m) and (k) back to back, ratio per round, median reported.
    let rounds = 21;
    let mut ratios = Vec::new();
    for _ in 0..rounds {
        truncate();
        let t = Instant::now();
        let r = rt
            .block_on(router.handle_event(&bytes, Default::default()))
            .expect("event");
        let tm = t.elapsed().as_secs_f64();
        assert!(!r.has_failures());
        truncate();
        let t = Instant::now();
        rt.block_on(copy_in(&client, &csv));
        let tk = t.elapsed().as_secs_f64();
        ratios.push(tk / tm);
    }
    ratios.sort_by(f64::total_cmp);
    println!("\n== interleaved, {rounds} rounds, median of per-round ratios ==");
    println!(
        "mirror rows/s = {:.0}% of COPY rows/s (target >= 50%)",
        ratios[rounds / 2] * 100.0
    );

    if let (Some(m), Some(u), Some(k)) = (
        mean_ns("mirror_1000", "m_mirror_insert"),
        mean_ns("mirror_1000", "u_mirror_update"),
        mean_ns("mirror_1000", "k_copy"),
    ) {
        let per_s = |ns: f64| rows as f64 / ns * 1e9;
        println!("\n== {rows} rows per batch (criterion means) ==");
        println!(
            "(m) mirror, new rows      {:>8.2} ms  {:>9.0} rows/s",
            m / 1e6,
            per_s(m)
        );
        println!(
            "(u) mirror, updated rows  {:>8.2} ms  {:>9.0} rows/s",
            u / 1e6,
            per_s(u)
        );
        println!(
            "(k) COPY, new rows        {:>8.2} ms  {:>9.0} rows/s",
            k / 1e6,
            per_s(k)
        );
        println!("(m)/(k) = {:.0}% of COPY (target >= 50%)", k / m * 100.0);
        println!("(u)/(k) = {:.0}% of COPY", k / u * 100.0);
        println!("statements per batch: {statements} (one round trip on a warm connection; see tests/mirror.rs)");
    }
}
