//! `redrive`: failure records from an on-failure destination delivered again through the app's
//! router (and mirror), with Lambda's batch rules. See `dynastream::poll::redrive`.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use dynastream_core::BoxError;
use dynastream_poll::redrive::{deliver, fetch, FailureRecord};
use dynastream_poll::{RetryPolicy, SourceError, StreamRecord};

use super::cli::{Global, RedriveArgs};
use super::commands::stream::write_event_file;
use super::commands::{build, Built, StoreUse};
use super::{doing, BuildFn};
use crate::dynamodb::redrive::{failure_object, failure_object_keys, FailureQueue, QueuedFailure};
use crate::dynamodb::AwsStream;

/// What was done with one failure record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Done {
    /// Every record acknowledged (a queue message is deleted).
    Redriven,
    /// Listed (`--dry-run`) or written out (`--out`).
    Listed,
    /// Not all acknowledged, or records lost, or unreadable: kept.
    Kept,
}

/// The run: what it delivers through, and its tallies.
struct Run<'a, S> {
    args: &'a RedriveArgs,
    g: &'a Global,
    built: Option<Built<S>>,
    retry: RetryPolicy,
    streams: HashMap<String, AwsStream>,
    /// Records for `--out`.
    collected: Vec<StreamRecord>,
    redriven: u64,
    kept: u64,
    records_delivered: u64,
    records_lost: u64,
    service_errors: u64,
    listed: u64,
    records_listed: u64,
}

pub(crate) async fn redrive<S: Send + Sync + 'static>(
    f: &BuildFn<S>,
    g: &Global,
    a: RedriveArgs,
) -> Result<ExitCode, BoxError> {
    let delivering = !a.dry_run && a.out.is_none();
    let built = if delivering {
        let built = build(f, g, None, StoreUse::Default).await?;
        built.router.start().await?;
        #[cfg(feature = "postgres")]
        if let Some(m) = &built.mirror {
            println!("mirroring into {}", m.config().qualified_table());
        }
        Some(built)
    } else {
        None
    };
    let mut run = Run {
        args: &a,
        g,
        built,
        retry: RetryPolicy::default()
            .max_retry_attempts(Some(a.max_retries))
            .retry_delay(Duration::from_millis(500)),
        streams: HashMap::new(),
        collected: Vec::new(),
        redriven: 0,
        kept: 0,
        records_delivered: 0,
        records_lost: 0,
        service_errors: 0,
        listed: 0,
        records_listed: 0,
    };
    let limit = a.max_messages.unwrap_or(u64::MAX);
    let source = a.source.as_str();
    if source.starts_with("https://") || source.starts_with("http://") {
        let queue = FailureQueue::connect(source, g.endpoint_url.as_deref()).await;
        run.queue(&queue, limit).await?;
    } else if let Some(rest) = source.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err("redrive s3://BUCKET/PREFIX needs a bucket".into());
        }
        let client = crate::dynamodb::s3_client(g.endpoint_url.as_deref()).await;
        let keys = failure_object_keys(&client, bucket, prefix)
            .await
            .map_err(doing("listing the S3 on-failure destination"))?;
        if keys.is_empty() {
            println!("no objects under {source}");
        }
        for key in keys.into_iter().take(clamp(limit)) {
            let name = format!("s3://{bucket}/{key}");
            match failure_object(&client, bucket, &key).await {
                Ok(body) => {
                    run.item(&name, &String::from_utf8_lossy(&body)).await;
                }
                Err(e) => {
                    println!("{name}: {e}");
                    run.service_errors += 1;
                }
            }
        }
    } else {
        let path = Path::new(source);
        let items = read_local(path).map_err(doing(format!("reading {source}")))?;
        if items.is_empty() {
            println!("{source} holds no failure records");
        }
        for (name, body) in items.into_iter().take(clamp(limit)) {
            run.item(&name, &body).await;
        }
    }
    if let Some(out) = a.out.as_ref().filter(|_| run.collected.is_empty()) {
        println!("no records to write: {} not written", out.display());
    } else if let Some(out) = &a.out {
        write_event_file(out, &run.collected)?;
        println!(
            "wrote {} record(s) to {}; deliver them with: replay {}",
            run.collected.len(),
            out.display(),
            out.display()
        );
    }
    let lost = if run.records_lost > 0 {
        format!(
            "; at least {} record(s) not found in the stream",
            run.records_lost
        )
    } else {
        String::new()
    };
    if delivering {
        println!(
            "redrive: {} failure record(s) redriven ({} records delivered), {} kept{lost}",
            run.redriven, run.records_delivered, run.kept
        );
    } else {
        println!(
            "redrive{}: {} failure record(s) read, {} record(s) listed, {} unreadable or gone{lost}; nothing delivered or deleted",
            if a.dry_run { " --dry-run" } else { "" },
            run.listed,
            run.records_listed,
            run.kept
        );
    }
    Ok(if run.service_errors > 0 {
        ExitCode::from(2)
    } else if run.kept > 0 || run.records_lost > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn clamp(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// A file's failure records (one JSON document, or one per line), or a folder's files' (each
/// an S3 object saved, or a file of lines), in name order.
fn read_local(path: &Path) -> std::io::Result<Vec<(String, String)>> {
    if path.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(path)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        let mut out = Vec::new();
        for f in files {
            out.extend(read_file(&f)?);
        }
        return Ok(out);
    }
    read_file(path)
}

fn read_file(path: &Path) -> std::io::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let name = path.display().to_string();
    // One document (an S3 object, a saved message), else JSON lines.
    if serde_json::from_str::<&serde_json::value::RawValue>(text).is_ok() {
        return Ok(vec![(name, text.to_string())]);
    }
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (format!("{name}:{}", i + 1), l.to_string()))
        .collect())
}

/// `KEY=value, ...` of a record's `Keys`, and its `eventName`, for listings.
fn describe(r: &StreamRecord) -> String {
    let v: serde_json::Value = serde_json::from_str(r.json.get()).unwrap_or_default();
    let kind = v["eventName"].as_str().unwrap_or("?");
    let keys = v["dynamodb"]["Keys"]
        .as_object()
        .map(|k| {
            let mut parts: Vec<String> = k
                .iter()
                .map(|(name, typed)| {
                    let value = typed
                        .as_object()
                        .and_then(|o| o.values().next())
                        .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                        .unwrap_or_default();
                    format!("{name}={value}")
                })
                .collect();
            parts.sort();
            parts.join(", ")
        })
        .unwrap_or_default();
    format!("  {:<28} {kind:<7} {keys}", r.sequence_number)
}

impl<S: Send + Sync + 'static> Run<'_, S> {
    async fn queue(&mut self, queue: &FailureQueue, limit: u64) -> Result<(), BoxError> {
        // Message ids taken, and the latest receipt handle of each kept one (a message seen
        // again after its visibility timeout has a new handle; only that one releases it).
        let mut seen = std::collections::HashSet::new();
        let mut kept: HashMap<String, QueuedFailure> = HashMap::new();
        let mut taken = 0u64;
        let result = async {
            while taken < limit {
                let want = i32::try_from((limit - taken).min(10)).unwrap_or(10);
                let messages = queue
                    .receive(want, self.args.visibility_timeout, 1)
                    .await
                    .map_err(doing("reading the on-failure queue"))?;
                let mut new = 0;
                for m in messages {
                    if !seen.insert(m.message_id.clone()) {
                        // Back after its visibility timeout: keep the newer handle.
                        if let Some(k) = kept.get_mut(&m.message_id) {
                            *k = m;
                        }
                        continue;
                    }
                    new += 1;
                    taken += 1;
                    let name = format!("message {}", m.message_id);
                    match self.item(&name, &m.body).await {
                        Done::Redriven => {
                            if let Err(e) = queue.delete(&m).await {
                                println!("{name}: redriven, but {e}");
                                self.service_errors += 1;
                            } else {
                                println!("{name}: deleted from the queue");
                            }
                        }
                        Done::Listed | Done::Kept => {
                            kept.insert(m.message_id.clone(), m);
                        }
                    }
                }
                // Nothing new (an empty queue, or only kept messages coming back): done.
                if new == 0 {
                    break;
                }
            }
            if taken == 0 {
                println!("{} holds no messages", queue.url());
            }
            Ok::<(), BoxError>(())
        }
        .await;
        // Kept messages go back on the queue now, not after their visibility timeout.
        for m in kept.values() {
            if let Err(e) = queue.release(m).await {
                println!("message {}: kept, but {e}", m.message_id);
            }
        }
        result
    }

    /// One failure record: read, fetched, listed or delivered.
    async fn item(&mut self, name: &str, body: &str) -> Done {
        let record = match FailureRecord::parse(body) {
            Ok(r) => r,
            Err(e) => {
                println!("{name}: {e}; kept");
                self.kept += 1;
                return Done::Kept;
            }
        };
        let info = &record.batch;
        let condition = record.condition.as_deref().unwrap_or("-");
        let (records, lost) = match record.records {
            Some(r) => (r, 0),
            None => {
                let stream = match self.streams.get(&info.stream_arn) {
                    Some(s) => s.clone(),
                    None => {
                        let s =
                            AwsStream::from_arn(&info.stream_arn, self.g.endpoint_url.as_deref())
                                .await;
                        self.streams.insert(info.stream_arn.clone(), s.clone());
                        s
                    }
                };
                match fetch(&stream, info).await {
                    Ok(fetched) => {
                        let first = info
                            .approximate_arrival_of_first_record
                            .as_deref()
                            .unwrap_or("at an unknown time");
                        if fetched.start_trimmed {
                            println!(
                                "{name}: the start of {info} was trimmed from the stream (DynamoDB keeps records 24 hours; the first arrived {first}): the records before {} are lost",
                                fetched.records.first().map_or("its end", |r| r.sequence_number.as_str()),
                            );
                        }
                        if fetched.end_not_reached {
                            println!(
                                "{name}: the stream gave no record up to {} within {} s of reading: the records after {} were not found",
                                info.end_sequence_number,
                                dynastream_poll::redrive::EMPTY_READ_LIMIT.as_secs(),
                                fetched.records.last().map_or(info.start_sequence_number.as_str(), |r| r.sequence_number.as_str()),
                            );
                        }
                        if fetched.missing > 0 {
                            println!(
                                "{name}: {} of the {} record(s) of {info} are not in the stream: lost",
                                fetched.missing, info.batch_size,
                            );
                        }
                        let extra = fetched.extra(info.batch_size);
                        if extra > 0 {
                            println!(
                                "{name}: the range holds {} record(s), the batch held {}: records the batch did not hold (a filtered or parallel batch) are delivered too, as on a retry",
                                fetched.records.len(),
                                info.batch_size
                            );
                        }
                        let lost = if fetched.lost_some() {
                            fetched.missing.max(1)
                        } else {
                            0
                        };
                        (fetched.records, lost)
                    }
                    Err(e @ SourceError::NotFound { .. }) => {
                        println!(
                            "{name}: the stream or its shard no longer exists ({e}): all {} record(s) of {info} are lost; the first arrived {}; kept",
                            info.batch_size,
                            info.approximate_arrival_of_first_record.as_deref().unwrap_or("at an unknown time"),
                        );
                        self.records_lost += info.batch_size;
                        self.kept += 1;
                        return Done::Kept;
                    }
                    Err(e) => {
                        println!("{name}: cannot read {info}: {e}; kept");
                        self.service_errors += 1;
                        self.kept += 1;
                        return Done::Kept;
                    }
                }
            }
        };
        self.records_lost += lost;
        if self.args.dry_run || self.args.out.is_some() {
            println!(
                "{name}: {} {} record(s) of {info} (gave up: {condition})",
                if self.args.dry_run {
                    "would deliver"
                } else {
                    "writing"
                },
                records.len()
            );
            self.listed += 1;
            self.records_listed += records.len() as u64;
            if self.args.dry_run {
                for r in &records {
                    println!("{}", describe(r));
                }
            } else {
                self.collected.extend(records);
            }
            return Done::Listed;
        }
        let Some(built) = &self.built else {
            return Done::Kept;
        };
        let n = records.len();
        let delivered = deliver(&built.router, records, &self.retry).await;
        self.records_delivered += delivered.acknowledged as u64;
        if !delivered.all_acknowledged() {
            println!(
                "{name}: {} of {n} record(s) of {info} acknowledged; failed after {} retries: {}; kept",
                delivered.acknowledged,
                self.args.max_retries,
                delivered.reason.as_deref().unwrap_or("not acknowledged"),
            );
            self.kept += 1;
            return Done::Kept;
        }
        if lost > 0 {
            println!("{name}: the {n} record(s) found in the stream were redriven; kept: records of it were not found (above)");
            self.kept += 1;
            return Done::Kept;
        }
        println!("{name}: {n} record(s) of {info} redriven");
        self.redriven += 1;
        Done::Redriven
    }
}
