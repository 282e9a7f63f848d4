//! The decoding benchmark's body, shared by `benches/decode.rs` (the system allocator) and
//! `benches/decode_mimalloc.rs` (mimalloc, as the example Lambda ships).
//!
//! It decodes a 1000-record mixed batch (all five example models, INSERT/MODIFY/REMOVE, images
//! with attributes of every type), three ways in one run:
//!
//! - `a_scan_floor`: `serde_json::from_slice::<IgnoredAny>`, the cost of reading the bytes;
//! - `b_hand_written`: aws_lambda_events' `Event` plus `serde_dynamo::from_item` of every image
//!   into the same structs, routed by key prefix — what users write by hand today;
//! - `c_dynastream`: the router decoding every record, all images, into typed changes delivered
//!   to no-op handlers.
//!
//! The same three on a second batch, `nested` (`support/nested.rs`: images three levels deep,
//! lists of maps, floats, BOOL lists, string sets, optional fields): the first batch flatters
//! the decoder (flatter images, mostly integers). Plus registry lookup with 1 model and with
//! 200 (in the system-allocator run only: it does not allocate). Ratios are printed at the end,
//! for each batch.

use std::time::Duration;

use crate::support::{self, mean_ns, out_dir};
use aws_lambda_events::event::dynamodb::Event;
use criterion::Criterion;
use dynastream::key::Pattern;
use dynastream::registry::{ModelSpec, Registry};
use dynastream_example_models::{Board, OrderLine, Story, Task, UserProfile};
use std::hint::black_box;

/// What a user writes today: match the key prefix by hand, decode each image with serde_dynamo.
fn hand_written(bytes: &[u8]) -> usize {
    fn images<T: serde::de::DeserializeOwned>(
        r: aws_lambda_events::event::dynamodb::EventRecord,
    ) -> usize {
        let mut n = 0;
        if !r.change.new_image.is_empty() {
            let v: T = serde_dynamo::from_item(r.change.new_image).expect("fits");
            black_box(&v);
            n += 1;
        }
        if !r.change.old_image.is_empty() {
            let v: T = serde_dynamo::from_item(r.change.old_image).expect("fits");
            black_box(&v);
            n += 1;
        }
        n
    }
    let event: Event = serde_json::from_slice(bytes).expect("event");
    let mut decoded = 0;
    for r in event.records {
        let pk = match r.change.keys.get("PK") {
            Some(serde_dynamo::AttributeValue::S(s)) => s.clone(),
            _ => continue,
        };
        let sk = match r.change.keys.get("SK") {
            Some(serde_dynamo::AttributeValue::S(s)) => s.clone(),
            _ => continue,
        };
        decoded += if pk.starts_with("#TASK#") {
            images::<Task>(r)
        } else if pk.starts_with("#BOARD#") {
            images::<Board>(r)
        } else if pk.starts_with("ORDER#") {
            images::<OrderLine>(r)
        } else if pk.starts_with("USER#") && sk == "PROFILE" {
            images::<UserProfile>(r)
        } else if pk.starts_with("USER#") && sk.starts_with("STORY#") {
            images::<Story>(r)
        } else {
            0
        };
    }
    decoded
}

/// Models `first..first + count`, each `TENANT#{t}#KIND<i>#{id}` / `V<i>#{version:06}`.
fn registry(first: usize, count: usize) -> Registry {
    let specs = (first..first + count)
        .map(|i| {
            ModelSpec::new(
                &format!("M{i}"),
                "PK",
                "SK",
                Pattern::parse(&format!("TENANT#{{t}}#KIND{i}#{{id}}")).expect("pattern"),
                Pattern::parse(&format!("V{i}#{{version:06}}")).expect("pattern"),
            )
        })
        .collect();
    Registry::new(specs).expect("disjoint models")
}

/// One batch the benchmark decodes three ways.
struct Batch {
    /// Its criterion group's stem and its name in the summary.
    name: &'static str,
    bytes: Vec<u8>,
    router: dynastream::Router<()>,
    hand_written: fn(&[u8]) -> usize,
}

/// Runs the benchmark. `allocator` names the global allocator the bench binary was built
/// with; it labels the output, and every allocator but the first (`system`) writes its results
/// under its own criterion group and skips the allocation-free lookup bench.
pub fn main(allocator: &str) {
    let group_of = |name: &str| {
        if allocator == "system" {
            name.to_string()
        } else {
            format!("{name}_{allocator}")
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let batches = [
        Batch {
            name: "batch_1000",
            bytes: support::batch(),
            router: support::router(),
            hand_written,
        },
        Batch {
            name: "nested_1000",
            bytes: crate::nested::batch(1000, 7),
            router: crate::nested::router(),
            hand_written: crate::nested::hand_written,
        },
    ];
    println!("allocator: {allocator}");
    for b in &batches {
        // Sanity: all three read the same batch, and (b) and (c) decode every image.
        let report = rt
            .block_on(b.router.handle_event(&b.bytes, Default::default()))
            .expect("event");
        let failed: Vec<String> = report
            .records
            .iter()
            .filter(|r| r.outcome.label() != "ok")
            .map(|r| format!("{:?}", r.outcome))
            .take(3)
            .collect();
        assert!(
            failed.is_empty(),
            "{}: every record routed: {failed:?}",
            b.name
        );
        let images = (b.hand_written)(&b.bytes);
        println!(
            "{}: {} records, {} bytes, {} images",
            b.name,
            report.records.len(),
            b.bytes.len(),
            images
        );
    }

    let mut c = Criterion::default()
        .output_directory(&out_dir())
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    for batch in &batches {
        let bytes = &batch.bytes;
        let router = &batch.router;
        let mut g = c.benchmark_group(group_of(batch.name));
        g.throughput(criterion::Throughput::Bytes(bytes.len() as u64));
        g.bench_function("a_scan_floor", |b| {
            b.iter(|| {
                serde_json::from_slice::<serde::de::IgnoredAny>(black_box(bytes)).expect("json")
            })
        });
        g.bench_function("b_hand_written", |b| {
            b.iter(|| (batch.hand_written)(black_box(bytes)))
        });
        g.bench_function("c_dynastream", |b| {
            b.iter(|| {
                rt.block_on(router.handle_event(black_box(bytes), Default::default()))
                    .expect("event")
            })
        });
        g.finish();
    }
    if allocator == "system" {
        // The same model (M199) and key, alone and as the last of 200 registered models.
        let one = registry(199, 1);
        let many = registry(0, 200);
        let pk1 = "TENANT#acme#KIND199#item-1".to_string();
        let sk1 = "V199#000042".to_string();
        let (pk200, sk200) = (pk1.clone(), sk1.clone());
        assert_eq!(one.find("PK", "SK", &pk1, &sk1), Some(0));
        assert_eq!(many.find("PK", "SK", &pk200, &sk200), Some(199));
        let mut g = c.benchmark_group("lookup");
        g.bench_function("models_1", |b| {
            b.iter(|| one.find("PK", "SK", black_box(&pk1), black_box(&sk1)))
        });
        g.bench_function("models_200", |b| {
            b.iter(|| many.find("PK", "SK", black_box(&pk200), black_box(&sk200)))
        });
        g.finish();
    }
    c.final_summary();

    for batch in &batches {
        interleaved(&rt, batch, allocator);
        summary(batch, &group_of(batch.name), allocator);
    }
    kinesis_beside_streams(&rt, &batches[0], allocator);
    if let (true, Some(l1), Some(l200)) = (
        allocator == "system",
        mean_ns("lookup", "models_1"),
        mean_ns("lookup", "models_200"),
    ) {
        println!(
            "lookup: 1 model {:.1} ns, 200 models {:.1} ns, ratio {:.2}",
            l1,
            l200,
            l200 / l1
        );
    }
}

/// Interleaved rounds: (a), (b), (c) timed back to back, ratios taken per round, medians
/// reported. On a noisy machine this is steadier than comparing separate criterion runs.
/// Each round runs (c) once untimed after (b), so (c) is timed on the allocator state its own
/// previous batch left, as a Lambda's batch follows the previous batch, not (b)'s garbage.
fn interleaved(rt: &tokio::runtime::Runtime, batch: &Batch, allocator: &str) {
    let (bytes, router) = (&batch.bytes, &batch.router);
    let rounds = 41;
    let time = |f: &mut dyn FnMut()| {
        let start = std::time::Instant::now();
        for _ in 0..5 {
            f();
        }
        start.elapsed().as_secs_f64() / 5.0
    };
    let (mut bc, mut ca) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let ta = time(&mut || {
            black_box(
                serde_json::from_slice::<serde::de::IgnoredAny>(black_box(bytes)).expect("json"),
            );
        });
        let tb = time(&mut || {
            black_box((batch.hand_written)(black_box(bytes)));
        });
        black_box(
            rt.block_on(router.handle_event(black_box(bytes), Default::default()))
                .expect("event"),
        );
        let tc = time(&mut || {
            black_box(
                rt.block_on(router.handle_event(black_box(bytes), Default::default()))
                    .expect("event"),
            );
        });
        bc.push(tb / tc);
        ca.push(tc / ta);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "\n== {}: interleaved, {rounds} rounds, median of per-round ratios ({allocator} allocator) ==",
        batch.name
    );
    println!(
        "(b)/(c) = {:.2}x faster than hand-written (goal >= 5x)",
        median(&mut bc)
    );
    println!(
        "(c)/(a) = {:.2}x the scan floor (goal <= 1.5x with mimalloc)",
        median(&mut ca)
    );
}

/// (k) the same 1000 changes as a Kinesis event, timed back to back with (c) on the DynamoDB
/// Streams event, by the same router: the cost of the second transport (base64, the Kinesis
/// envelope, the per-item order). Goal: within 1.5x of the Streams path.
fn kinesis_beside_streams(rt: &tokio::runtime::Runtime, batch: &Batch, allocator: &str) {
    let kinesis = support::kinesis_event(&batch.bytes);
    let (bytes, router) = (&batch.bytes, &batch.router);
    let report = rt
        .block_on(router.handle_event(&kinesis, Default::default()))
        .expect("Kinesis event");
    assert!(
        report.records.iter().all(|r| r.outcome.label() == "ok"),
        "every Kinesis record routed"
    );
    let time = |f: &mut dyn FnMut()| {
        let start = std::time::Instant::now();
        for _ in 0..5 {
            f();
        }
        start.elapsed().as_secs_f64() / 5.0
    };
    let rounds = 41;
    let (mut kc, mut tcs, mut tks) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let tc = time(&mut || {
            black_box(
                rt.block_on(router.handle_event(black_box(bytes), Default::default()))
                    .expect("event"),
            );
        });
        let tk = time(&mut || {
            black_box(
                rt.block_on(router.handle_event(black_box(&kinesis), Default::default()))
                    .expect("event"),
            );
        });
        kc.push(tk / tc);
        tcs.push(tc);
        tks.push(tk);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "\n== {} as a Kinesis event ({} bytes): interleaved, {rounds} rounds ({allocator} allocator) ==",
        batch.name,
        kinesis.len()
    );
    println!(
        "(c) DynamoDB Streams {:>9.3} ms, (k) Kinesis {:>9.3} ms (medians)",
        median(&mut tcs) * 1e3,
        median(&mut tks) * 1e3
    );
    println!(
        "(k)/(c) = {:.2}x the DynamoDB Streams path (goal <= 1.5x)",
        median(&mut kc)
    );
}

/// The criterion means of one batch, and their ratios.
fn summary(batch: &Batch, group: &str, allocator: &str) {
    let (a, b, cc) = (
        mean_ns(group, "a_scan_floor"),
        mean_ns(group, "b_hand_written"),
        mean_ns(group, "c_dynastream"),
    );
    let (Some(a), Some(b), Some(cc)) = (a, b, cc) else {
        return;
    };
    let len = batch.bytes.len();
    let mbps = |ns: f64| len as f64 / ns * 1e9 / 1e6;
    println!(
        "\n== {}: 1000 records, {len} bytes ({allocator} allocator) ==",
        batch.name
    );
    println!(
        "(a) scan floor       {:>9.3} ms  {:>7.1} MB/s",
        a / 1e6,
        mbps(a)
    );
    println!(
        "(b) hand-written     {:>9.3} ms  {:>7.1} MB/s",
        b / 1e6,
        mbps(b)
    );
    println!(
        "(c) dynastream       {:>9.3} ms  {:>7.1} MB/s",
        cc / 1e6,
        mbps(cc)
    );
    println!(
        "(b)/(c) = {:.2}x faster than hand-written (goal >= 5x)",
        b / cc
    );
    println!(
        "(c)/(a) = {:.2}x the scan floor (goal <= 1.5x with mimalloc)",
        cc / a
    );
}
