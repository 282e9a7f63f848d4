//! The poller against an in-memory stream: shard splits, expired iterators, trimmed
//! checkpoints, batch sizes, failures and stopping. (End-to-end runs on moto are in
//! tests/poll.rs.)

use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use serde::Deserialize;

use super::*;
use dynastream_core::{Change, Context, Model};

#[derive(Debug, Deserialize, Model)]
#[dynastream(pk = "ITEM#{id}", sk = "ITEM")]
struct Item {
    id: String,
    #[serde(default)]
    poison: bool,
}

/// What the handler saw: sequence numbers in delivery order.
#[derive(Default)]
struct Seen(StdMutex<Vec<String>>);

async fn on_item(change: Change<Item>, ctx: Context<Seen>) -> Result<(), std::io::Error> {
    if change.new_image().is_some_and(|i| i.poison) {
        return Err(std::io::Error::other(format!("poison {}", change.key.id)));
    }
    if let Ok(mut seen) = ctx.state().0.lock() {
        seen.push(change.meta.sequence_number.to_string());
    }
    Ok(())
}

fn router() -> Router<Seen> {
    match Router::builder(Seen::default())
        .on::<Item, _>(on_item)
        .build()
    {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    }
}

fn record(seq: u64, id: &str, poison: bool) -> StreamRecord {
    let json = format!(
        r#"{{"eventID":"{seq}","eventName":"INSERT","dynamodb":{{"ApproximateCreationDateTime":1700000000.5,"Keys":{{"PK":{{"S":"ITEM#{id}"}},"SK":{{"S":"ITEM"}}}},"NewImage":{{"PK":{{"S":"ITEM#{id}"}},"SK":{{"S":"ITEM"}},"id":{{"S":"{id}"}},"poison":{{"BOOL":{poison}}}}},"SequenceNumber":"{seq:010}","SizeBytes":50,"StreamViewType":"NEW_AND_OLD_IMAGES"}},"eventSourceARN":"arn:fake"}}"#
    );
    StreamRecord::from_lambda_json(serde_json::value::RawValue::from_string(json).unwrap()).unwrap()
}

#[derive(Default)]
struct FakeShard {
    parent: Option<String>,
    records: Vec<StreamRecord>,
    closed: bool,
    /// Records before this index were trimmed.
    trimmed_before: usize,
}

/// An in-memory stream. Iterators are "shard|index".
#[derive(Default)]
struct Fake {
    shards: StdMutex<Vec<(String, FakeShard)>>,
    /// Reads that answer ExpiredIterator before succeeding.
    expire_next_reads: StdMutex<usize>,
    reads: StdMutex<Vec<(String, usize)>>,
}

impl Fake {
    fn add_shard(&self, id: &str, parent: Option<&str>, records: Vec<StreamRecord>, closed: bool) {
        self.shards.lock().unwrap().push((
            id.to_string(),
            FakeShard {
                parent: parent.map(str::to_string),
                records,
                closed,
                trimmed_before: 0,
            },
        ));
    }
}

impl StreamSource for Arc<Fake> {
    fn stream_arn(&self) -> &str {
        "arn:fake"
    }

    async fn shards(&self) -> Result<Vec<ShardInfo>, SourceError> {
        Ok(self
            .shards
            .lock()
            .unwrap()
            .iter()
            .map(|(id, s)| ShardInfo {
                id: id.clone(),
                parent: s.parent.clone(),
            })
            .collect())
    }

    async fn iterator(&self, shard: &str, at: &Position) -> Result<String, SourceError> {
        let shards = self.shards.lock().unwrap();
        let s = &shards.iter().find(|(id, _)| id == shard).unwrap().1;
        let index = match at {
            Position::TrimHorizon => s.trimmed_before,
            Position::Latest => s.records.len(),
            Position::After(seq) => {
                let i = s
                    .records
                    .iter()
                    .position(|r| &r.sequence_number == seq)
                    .map_or(0, |i| i + 1);
                if i <= s.trimmed_before {
                    return Err(SourceError::Trimmed);
                }
                i
            }
            Position::At(seq) => {
                let Some(i) = s.records.iter().position(|r| &r.sequence_number == seq) else {
                    return Err(SourceError::Trimmed);
                };
                if i < s.trimmed_before {
                    return Err(SourceError::Trimmed);
                }
                i
            }
        };
        Ok(format!("{shard}|{index}"))
    }

    async fn read(&self, iterator: &str, limit: usize) -> Result<Page, SourceError> {
        {
            let mut expire = self.expire_next_reads.lock().unwrap();
            if *expire > 0 {
                *expire -= 1;
                return Err(SourceError::ExpiredIterator);
            }
        }
        let (shard, index) = iterator.split_once('|').unwrap();
        let index: usize = index.parse().unwrap();
        self.reads.lock().unwrap().push((shard.to_string(), limit));
        let shards = self.shards.lock().unwrap();
        let s = &shards.iter().find(|(id, _)| id == shard).unwrap().1;
        let end = (index + limit).min(s.records.len());
        let records = s.records[index..end].to_vec();
        let next = if s.closed && end == s.records.len() {
            None
        } else {
            Some(format!("{shard}|{end}"))
        };
        Ok(Page { records, next })
    }
}

fn config() -> PollConfig {
    PollConfig {
        batch_size: 4,
        batching_window: Duration::ZERO,
        poll_interval: Duration::from_millis(1),
        stop_when_idle: true,
        retry: RetryPolicy {
            max_retry_attempts: Some(1),
            bisect_on_error: true,
            retry_delay: Duration::ZERO,
            max_retry_delay: Duration::ZERO,
        },
        ..PollConfig::default()
    }
}

fn seqs(range: std::ops::Range<u64>) -> Vec<String> {
    range.map(|s| format!("{s:010}")).collect()
}

fn seen(p: &Poller<Seen, Arc<Fake>>) -> Vec<String> {
    p.router().state().0.lock().unwrap().clone()
}

fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn a_parent_shard_is_fully_delivered_before_its_children() {
    let fake = Arc::new(Fake::default());
    // Listed children first, as DescribeStream may.
    fake.add_shard(
        "child-b",
        Some("parent"),
        (20..23).map(|s| record(s, "b", false)).collect(),
        false,
    );
    fake.add_shard(
        "child-a",
        Some("parent"),
        (10..13).map(|s| record(s, "a", false)).collect(),
        false,
    );
    fake.add_shard(
        "parent",
        None,
        (0..6).map(|s| record(s, "p", false)).collect(),
        true,
    );
    let p = Poller::new(router(), Arc::clone(&fake), Checkpoints::memory()).config(config());
    let stats = block_on(p.run(std::future::pending())).unwrap();
    let order = seen(&p);
    let mut expected = seqs(0..6);
    assert_eq!(
        order[..6],
        expected[..],
        "the parent's records first, in order"
    );
    expected.extend(seqs(10..13));
    expected.extend(seqs(20..23));
    let mut all = order.clone();
    all.sort();
    assert_eq!(all, expected, "every record once");
    assert_eq!(stats.records, 12);
    assert!(stats.shards["parent"].finished);
    assert!(!stats.shards["child-a"].finished);
    assert_eq!(
        stats.shards["child-a"].lag,
        Some(Duration::ZERO),
        "caught up"
    );
    // Batches never exceed the batch size.
    assert!(fake
        .reads
        .lock()
        .unwrap()
        .iter()
        .all(|(_, limit)| *limit <= 4));
}

#[test]
fn checkpoints_resume_after_the_last_acknowledged_record() {
    let fake = Arc::new(Fake::default());
    fake.add_shard(
        "s",
        None,
        (0..5).map(|s| record(s, "x", false)).collect(),
        false,
    );
    let dir = std::env::temp_dir().join(format!("dynastream-poll-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("ckpt.json");
    let first = Poller::new(
        router(),
        Arc::clone(&fake),
        Checkpoints::file(&path).unwrap(),
    )
    .config(config());
    block_on(first.run(std::future::pending())).unwrap();
    assert_eq!(seen(&first), seqs(0..5));
    // More records arrive; a new poller (a restart) sees only those.
    fake.shards.lock().unwrap()[0]
        .1
        .records
        .extend((5..8).map(|s| record(s, "x", false)));
    let second = Poller::new(
        router(),
        Arc::clone(&fake),
        Checkpoints::file(&path).unwrap(),
    )
    .config(config());
    block_on(second.run(std::future::pending())).unwrap();
    assert_eq!(seen(&second), seqs(5..8));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_trimmed_checkpoint_restarts_at_the_oldest_record_and_says_so() {
    let fake = Arc::new(Fake::default());
    fake.add_shard(
        "s",
        None,
        (0..6).map(|s| record(s, "x", false)).collect(),
        false,
    );
    fake.shards.lock().unwrap()[0].1.trimmed_before = 3;
    let mut checkpoints = Checkpoints::memory();
    block_on(checkpoints.save(
        "arn:fake",
        "s",
        &ShardCheckpoint {
            sequence_number: Some(format!("{:010}", 1)),
            finished: false,
        },
    ))
    .unwrap();
    let trimmed = Arc::new(StdMutex::new(Vec::new()));
    let t = Arc::clone(&trimmed);
    let p = Poller::new(router(), Arc::clone(&fake), checkpoints)
        .config(config())
        .on_event(move |e| {
            if let PollEvent::CheckpointTrimmed { after, .. } = e {
                t.lock().unwrap().push(after.to_string());
            }
        });
    block_on(p.run(std::future::pending())).unwrap();
    assert_eq!(*trimmed.lock().unwrap(), vec![format!("{:010}", 1)]);
    assert_eq!(seen(&p), seqs(3..6));
}

#[test]
fn an_expired_iterator_is_replaced_without_losing_or_repeating_records() {
    let fake = Arc::new(Fake::default());
    fake.add_shard(
        "s",
        None,
        (0..10).map(|s| record(s, "x", false)).collect(),
        false,
    );
    *fake.expire_next_reads.lock().unwrap() = 2;
    let p = Poller::new(router(), Arc::clone(&fake), Checkpoints::memory()).config(config());
    block_on(p.run(std::future::pending())).unwrap();
    assert_eq!(seen(&p), seqs(0..10));
}

#[test]
fn a_poison_record_is_bisected_out_and_written_with_its_reason() {
    let fake = Arc::new(Fake::default());
    let records = (0..8)
        .map(|s| record(s, &format!("i{s}"), s == 5))
        .collect();
    fake.add_shard("s", None, records, false);
    let dir = std::env::temp_dir().join(format!("dynastream-onfail-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("failed.jsonl");
    let events = Arc::new(StdMutex::new(Vec::new()));
    let ev = Arc::clone(&events);
    let p = Poller::new(router(), Arc::clone(&fake), Checkpoints::memory())
        .config(PollConfig {
            batch_size: 8,
            on_failure: Some(path.clone()),
            ..config()
        })
        .on_event(move |e| {
            let label = match e {
                PollEvent::Bisected { left, right, .. } => format!("bisect {left}+{right}"),
                PollEvent::Retrying { records, .. } => format!("retry {records}"),
                PollEvent::GaveUp { records, .. } => format!("gave up {}", records.len()),
                _ => return,
            };
            ev.lock().unwrap().push(label);
        });
    let stats = block_on(p.run(std::future::pending())).unwrap();
    let mut expected = seqs(0..8);
    expected.remove(5);
    assert_eq!(seen(&p), expected, "every other record, in order");
    assert_eq!(stats.given_up, 1);
    assert_eq!(stats.records, 7);
    // 8 fails at 5: records 0-4 acked, [5,6,7] split 1+2, [5] retried once, given up.
    assert_eq!(
        *events.lock().unwrap(),
        ["bisect 1+2", "retry 1", "gave up 1"]
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert!(
        line["reason"].as_str().unwrap().contains("poison i5"),
        "{line}"
    );
    // Lambda's invocation record (DDBStreamBatchInfo), which redrive reads.
    let info = &line["DDBStreamBatchInfo"];
    assert_eq!(info["startSequenceNumber"], format!("{:010}", 5));
    assert_eq!(info["endSequenceNumber"], format!("{:010}", 5));
    assert_eq!(info["batchSize"], 1);
    assert_eq!(
        line["requestContext"]["condition"],
        "RetryAttemptsExhausted"
    );
    assert_eq!(line["Records"].as_array().unwrap().len(), 1);
    assert_eq!(line["requestContext"]["approximateInvokeCount"], 3);
    let parsed = crate::redrive::FailureRecord::parse(text.lines().next().unwrap()).unwrap();
    assert_eq!(parsed.records.map(|r| r.len()), Some(1));
    // The line is itself an event the router can read.
    let report = block_on(
        router().handle_event(text.lines().next().unwrap().as_bytes(), Default::default()),
    )
    .unwrap();
    assert_eq!(report.records.len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn stopping_between_retries_leaves_the_failed_records_unacknowledged() {
    let fake = Arc::new(Fake::default());
    fake.add_shard(
        "s",
        None,
        vec![record(0, "a", false), record(1, "b", true)],
        false,
    );
    let p = Poller::new(router(), Arc::clone(&fake), Checkpoints::memory()).config(PollConfig {
        retry: RetryPolicy {
            max_retry_attempts: None,
            bisect_on_error: false,
            retry_delay: Duration::from_secs(3600),
            max_retry_delay: Duration::from_secs(3600),
        },
        ..config()
    });
    let stats =
        block_on(async { p.run(tokio::time::sleep(Duration::from_millis(200))).await }).unwrap();
    assert_eq!(stats.records, 1);
    assert_eq!(
        stats.shards["s"].last_sequence_number,
        Some(format!("{:010}", 0))
    );
    // The saved checkpoint agrees.
    let saved = block_on(async { p.checkpoints.lock().await.load("arn:fake").await }).unwrap();
    assert_eq!(saved["s"].sequence_number, Some(format!("{:010}", 0)));
}

#[test]
fn capture_reads_every_shard_parent_first() {
    let fake = Arc::new(Fake::default());
    fake.add_shard(
        "child",
        Some("parent"),
        (10..12).map(|s| record(s, "c", false)).collect(),
        false,
    );
    fake.add_shard(
        "parent",
        None,
        (0..3).map(|s| record(s, "p", false)).collect(),
        true,
    );
    let all = block_on(capture(&fake, &Position::TrimHorizon, None)).unwrap();
    let got: Vec<String> = all.into_iter().map(|r| r.sequence_number).collect();
    let mut expected = seqs(0..3);
    expected.extend(seqs(10..12));
    assert_eq!(got, expected);
    let two = block_on(capture(&fake, &Position::TrimHorizon, Some(2))).unwrap();
    assert_eq!(two.len(), 2);
}

#[test]
fn batches_are_cut_at_the_payload_limit_and_the_rest_opens_the_next_batch() {
    let records: Vec<StreamRecord> = (0..5).map(|s| record(s, "x", false)).collect();
    let one = event_json(&records[..1]).len();
    let two = event_json(&records[..2]).len();
    assert_eq!(payload_cut(&records, two), 2);
    assert_eq!(payload_cut(&records, two - 1), 1);
    assert_eq!(payload_cut(&records, one - 1), 1, "one record always goes");
    assert_eq!(payload_cut(&records, usize::MAX), 5);

    // Against the real limit: records of ~1 MB each go at most 6 to a batch, none lost.
    let big = "y".repeat(1_000_000);
    let fake = Arc::new(Fake::default());
    let records = (0..14)
        .map(|s| {
            let json = format!(
                r#"{{"eventID":"{s}","eventName":"INSERT","dynamodb":{{"Keys":{{"PK":{{"S":"ITEM#b{s}"}},"SK":{{"S":"ITEM"}}}},"NewImage":{{"PK":{{"S":"ITEM#b{s}"}},"SK":{{"S":"ITEM"}},"id":{{"S":"b{s}"}},"pad":{{"S":"{big}"}}}},"SequenceNumber":"{s:010}","StreamViewType":"NEW_AND_OLD_IMAGES"}}}}"#
            );
            StreamRecord::from_lambda_json(serde_json::value::RawValue::from_string(json).unwrap())
                .unwrap()
        })
        .collect();
    fake.add_shard("s", None, records, true);
    let sizes = Arc::new(StdMutex::new(Vec::new()));
    let sz = Arc::clone(&sizes);
    let p = Poller::new(router(), Arc::clone(&fake), Checkpoints::memory())
        .config(PollConfig {
            batch_size: 100,
            ..config()
        })
        .on_event(move |e| {
            if let PollEvent::Invoked { records, .. } = e {
                sz.lock().unwrap().push(records.len());
            }
        });
    let stats = block_on(p.run(std::future::pending())).unwrap();
    assert_eq!(*sizes.lock().unwrap(), [6, 6, 2]);
    assert_eq!(seen(&p), seqs(0..14));
    assert!(
        stats.shards["s"].finished,
        "finished only once the leftover is through"
    );
}

#[test]
fn latest_applies_to_every_shard_listed_at_start_and_a_later_split_starts_at_its_beginning() {
    let fake = Arc::new(Fake::default());
    fake.add_shard(
        "parent",
        None,
        (0..3).map(|s| record(s, "p", false)).collect(),
        true,
    );
    fake.add_shard(
        "child",
        Some("parent"),
        (10..12).map(|s| record(s, "c", false)).collect(),
        false,
    );
    let done = Arc::new(tokio::sync::Notify::new());
    let (f, d) = (Arc::clone(&fake), Arc::clone(&done));
    let idles = StdMutex::new(0);
    let p = Poller::new(router(), Arc::clone(&fake), Checkpoints::memory())
        .config(PollConfig {
            starting_position: Position::Latest,
            shard_refresh: Duration::ZERO,
            stop_when_idle: false,
            ..config()
        })
        .on_event(move |e| {
            if !matches!(e, PollEvent::Idle { .. }) {
                return;
            }
            let mut n = idles.lock().unwrap();
            *n += 1;
            if *n == 1 {
                // Caught up with nothing old delivered. Now a new record on the child, which
                // then closes, and a shard split off it while running.
                let mut shards = f.shards.lock().unwrap();
                shards[1].1.records.push(record(12, "c", false));
                shards[1].1.closed = true;
                drop(shards);
                f.add_shard(
                    "grandchild",
                    Some("child"),
                    vec![record(20, "g", false)],
                    false,
                );
            } else {
                d.notify_one();
            }
        });
    block_on(async { p.run(done.notified()).await.unwrap() });
    let mut expected = seqs(12..13);
    expected.extend(seqs(20..21));
    assert_eq!(seen(&p), expected);
}

#[test]
fn a_shard_waiting_for_a_retry_does_not_hold_up_the_other_shards() {
    let fake = Arc::new(Fake::default());
    fake.add_shard("stuck", None, vec![record(0, "poison", true)], false);
    fake.add_shard(
        "busy",
        None,
        (10..22).map(|s| record(s, "b", false)).collect(),
        false,
    );
    let done = Arc::new(tokio::sync::Notify::new());
    let d = Arc::clone(&done);
    let p = Poller::new(router(), Arc::clone(&fake), Checkpoints::memory())
        .config(PollConfig {
            stop_when_idle: false,
            retry: RetryPolicy {
                max_retry_attempts: None,
                bisect_on_error: false,
                retry_delay: Duration::from_secs(3600),
                max_retry_delay: Duration::from_secs(3600),
            },
            ..config()
        })
        .on_event(move |e| {
            if let PollEvent::Idle { .. } | PollEvent::Progress { .. } = e {
                d.notify_one();
            }
        });
    block_on(async {
        // Stops at the first progress line after `busy` is through, or after 5 s.
        let stop = async {
            loop {
                done.notified().await;
                if seen(&p).len() == 12 {
                    break;
                }
            }
        };
        let stop = async {
            tokio::select! {
                () = stop => {}
                () = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
        };
        p.run(stop).await.unwrap()
    });
    // Three batches of `busy` (batch size 4) while `stuck` waits an hour for its retry.
    assert_eq!(seen(&p), seqs(10..22));
}

fn record_created(seq: u64, id: &str, created: SystemTime) -> StreamRecord {
    let secs = created
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let json = format!(
        r#"{{"eventID":"{seq}","eventName":"INSERT","dynamodb":{{"ApproximateCreationDateTime":{secs},"Keys":{{"PK":{{"S":"ITEM#{id}"}},"SK":{{"S":"ITEM"}}}},"NewImage":{{"PK":{{"S":"ITEM#{id}"}},"SK":{{"S":"ITEM"}},"id":{{"S":"{id}"}},"poison":{{"BOOL":{}}}}},"SequenceNumber":"{seq:010}","SizeBytes":50,"StreamViewType":"NEW_AND_OLD_IMAGES"}},"eventSourceARN":"arn:fake"}}"#,
        id.starts_with("poison")
    );
    StreamRecord::from_lambda_json(serde_json::value::RawValue::from_string(json).unwrap()).unwrap()
}

#[test]
fn records_older_than_the_maximum_age_are_given_up_unprocessed_with_lambdas_condition() {
    let fake = Arc::new(Fake::default());
    let old = SystemTime::now() - Duration::from_secs(7200);
    let now = SystemTime::now();
    let mut records: Vec<StreamRecord> = (0..3)
        .map(|s| record_created(s, &format!("o{s}"), old))
        .collect();
    records.extend((3..6).map(|s| record_created(s, &format!("n{s}"), now)));
    fake.add_shard("s", None, records, false);
    let dir = std::env::temp_dir().join(format!("dynastream-age-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("failed.jsonl");
    let p = Poller::new(router(), Arc::clone(&fake), Checkpoints::memory()).config(
        config()
            .batch_size(10)
            .max_record_age(Some(Duration::from_secs(3600)))
            .on_failure(Some(path.clone())),
    );
    let stats = block_on(p.run(std::future::pending())).unwrap();
    assert_eq!(
        seen(&p),
        seqs(3..6),
        "only the records younger than an hour are handled"
    );
    assert_eq!((stats.expired, stats.given_up, stats.records), (3, 3, 3));
    assert_eq!(
        (stats.polled, stats.on_failure_delivered, stats.dropped),
        (6, 3, 0)
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(line["requestContext"]["condition"], "RecordAgeExceeded");
    assert_eq!(line["requestContext"]["approximateInvokeCount"], 0);
    assert_eq!(line["DDBStreamBatchInfo"]["batchSize"], 3);
    assert_eq!(
        line["DDBStreamBatchInfo"]["startSequenceNumber"],
        format!("{:010}", 0)
    );
    assert_eq!(
        stats.shards["s"].last_sequence_number.as_deref(),
        Some(format!("{:010}", 5).as_str())
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// What the parallel batches' handler saw, and how many ran at once.
#[derive(Default)]
struct Parallel {
    seen: StdMutex<Vec<(String, String)>>,
    running: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
}

async fn on_parallel(change: Change<Item>, ctx: Context<Parallel>) -> Result<(), std::io::Error> {
    use std::sync::atomic::Ordering::SeqCst;
    let p = ctx.state();
    let now = p.running.fetch_add(1, SeqCst) + 1;
    p.most.fetch_max(now, SeqCst);
    tokio::time::sleep(Duration::from_millis(5)).await;
    p.running.fetch_sub(1, SeqCst);
    if change.key.id.starts_with("poison") {
        return Err(std::io::Error::other("poison"));
    }
    p.seen.lock().unwrap().push((
        change.key.id.clone(),
        change.meta.sequence_number.to_string(),
    ));
    Ok(())
}

#[test]
fn parallel_batches_run_at_once_and_keep_each_items_records_in_order() {
    let fake = Arc::new(Fake::default());
    let now = SystemTime::now();
    // 8 items, 4 changes each, interleaved in the shard; one poison record.
    let mut records = Vec::new();
    for round in 0..4u64 {
        for item in 0..8u64 {
            let seq = round * 8 + item;
            let id = if seq == 13 {
                "poison".to_string()
            } else {
                format!("i{item}")
            };
            records.push(record_created(seq, &id, now));
        }
    }
    fake.add_shard("s", None, records, false);
    let router = Router::builder(Parallel::default())
        .on::<Item, _>(on_parallel)
        .build()
        .unwrap();
    let p = Poller::new(router, Arc::clone(&fake), Checkpoints::memory())
        .config(config().batch_size(4).parallelization_factor(4));
    let stats = block_on(p.run(std::future::pending())).unwrap();
    let state = p.router().state();
    let seen = state.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 31, "every record but the poison one");
    assert_eq!(stats.given_up, 1);
    assert_eq!(stats.dropped, 1, "no on-failure file: dropped");
    for item in 0..8 {
        let id = format!("i{item}");
        let order: Vec<&String> = seen
            .iter()
            .filter(|(i, _)| *i == id)
            .map(|(_, s)| s)
            .collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted, "{id}'s changes in stream order");
    }
    let most = state.most.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        most > 1 && most <= 4,
        "at most 4 batches at once, more than one: {most}"
    );
    assert_eq!(
        stats.shards["s"].last_sequence_number.as_deref(),
        Some(format!("{:010}", 31).as_str()),
        "the checkpoint is past every record"
    );
    assert!(stats.failed_invoke_events >= 1);
}

#[test]
fn with_one_batch_per_shard_records_run_one_batch_at_a_time() {
    let fake = Arc::new(Fake::default());
    let now = SystemTime::now();
    let records = (0..16)
        .map(|s| record_created(s, &format!("i{}", s % 8), now))
        .collect();
    fake.add_shard("s", None, records, false);
    let router = Router::builder(Parallel::default())
        .on::<Item, _>(on_parallel)
        .build()
        .unwrap();
    let p = Poller::new(router, Arc::clone(&fake), Checkpoints::memory())
        .config(config().batch_size(4));
    block_on(p.run(std::future::pending())).unwrap();
    let most = p
        .router()
        .state()
        .most
        .load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(most, 1);
}

fn batch_info(start: u64, end: u64, size: u64) -> redrive::BatchInfo {
    serde_json::from_value(serde_json::json!({
        "shardId": "s",
        "startSequenceNumber": format!("{start:010}"),
        "endSequenceNumber": format!("{end:010}"),
        "batchSize": size,
        "streamArn": "arn:fake",
    }))
    .unwrap()
}

#[test]
fn redrive_fetches_the_named_range_and_says_what_is_missing() {
    let fake = Arc::new(Fake::default());
    let records = (0..10)
        .map(|s| record(s, &format!("i{s}"), false))
        .collect();
    fake.add_shard("s", None, records, true);
    let seq_of = |f: &redrive::Fetched| -> Vec<String> {
        f.records
            .iter()
            .map(|r| r.sequence_number.clone())
            .collect()
    };
    // The whole range is there.
    let f = block_on(redrive::fetch(&fake, &batch_info(3, 6, 4))).unwrap();
    assert_eq!(seq_of(&f), seqs(3..7));
    assert!(!f.lost_some() && f.extra(4) == 0);
    // A parallel or filtered batch: the range holds more than the batch did.
    let f = block_on(redrive::fetch(&fake, &batch_info(3, 6, 2))).unwrap();
    assert_eq!((f.records.len(), f.extra(2), f.lost_some()), (4, 2, false));
    // The range runs past the shard's end: what is there, and the missing count.
    let f = block_on(redrive::fetch(&fake, &batch_info(8, 12, 5))).unwrap();
    assert_eq!(seq_of(&f), seqs(8..10));
    assert_eq!(f.missing, 3);
    assert!(!f.end_not_reached, "a closed shard read to its end");
    // The start was trimmed: read from the oldest record left, and say so.
    fake.shards.lock().unwrap()[0].1.trimmed_before = 5;
    let f = block_on(redrive::fetch(&fake, &batch_info(3, 6, 4))).unwrap();
    assert_eq!(seq_of(&f), seqs(5..7));
    assert!(f.start_trimmed && f.lost_some());
    assert_eq!(f.missing, 2);
}

#[test]
fn redrive_delivery_stops_at_records_given_up_and_leaves_the_rest() {
    let records: Vec<StreamRecord> = (0..5)
        .map(|s| record(s, &format!("i{s}"), s == 2))
        .collect();
    let router = router();
    let retry = RetryPolicy {
        max_retry_attempts: Some(1),
        bisect_on_error: false,
        retry_delay: Duration::ZERO,
        max_retry_delay: Duration::ZERO,
    };
    let d = block_on(redrive::deliver(&router, records, &retry));
    assert_eq!(d.acknowledged, 2);
    let left: Vec<&str> = d
        .not_acknowledged
        .iter()
        .map(|r| r.sequence_number.as_str())
        .collect();
    assert_eq!(left, seqs(2..5));
    assert!(d.reason.unwrap().contains("poison i2"));
    assert_eq!(d.invocations, 2, "the batch, then its one retry");
    assert_eq!(router.state().0.lock().unwrap().clone(), seqs(0..2));
    assert!(!d.not_acknowledged.is_empty());
}

#[test]
fn parallel_batches_give_up_old_records_and_the_checkpoint_passes_them() {
    let fake = Arc::new(Fake::default());
    let old = SystemTime::now() - Duration::from_secs(7200);
    let now = SystemTime::now();
    let records = (0..12)
        .map(|s| record_created(s, &format!("i{}", s % 6), if s < 6 { old } else { now }))
        .collect();
    fake.add_shard("s", None, records, false);
    let p = Poller::new(router(), Arc::clone(&fake), Checkpoints::memory()).config(
        config()
            .batch_size(10)
            .parallelization_factor(3)
            .max_record_age(Some(Duration::from_secs(3600))),
    );
    let stats = block_on(p.run(std::future::pending())).unwrap();
    let mut handled = seen(&p);
    handled.sort();
    assert_eq!(handled, seqs(6..12));
    assert_eq!((stats.expired, stats.dropped, stats.records), (6, 6, 6));
    assert_eq!(
        stats.shards["s"].last_sequence_number.as_deref(),
        Some(format!("{:010}", 11).as_str())
    );
}
