//! The local stream runner: reads a table's DynamoDB stream the way Lambda's event source
//! mapping does and runs a [`Router`] over it, so the same handlers (and mirror) react to real
//! writes on a local server or in AWS.
//!
//! - Shards are discovered with `DescribeStream` (again every [`PollConfig::shard_refresh`] and
//!   whenever a shard closes); a child shard starts only once its parent is fully acknowledged.
//!   Ready shards are read concurrently, one batch per shard at a time; a batch waiting for
//!   its retry delay waits alone (the other shards go on).
//! - A batch is up to [`PollConfig::batch_size`] records, gathered for at most
//!   [`PollConfig::batching_window`] and cut before Lambda's 6 MB payload limit; it is delivered as the event Lambda would deliver
//!   (`eventSourceARN` included) through [`Router::handle_event`].
//! - The batch response is honoured as Lambda does (see [`RetryPolicy`]): records before the
//!   lowest failed sequence number are acknowledged, the rest retried (with bisection), and
//!   after the last retry written to the on-failure file with the reason.
//! - Each shard's last acknowledged sequence number is saved in [`Checkpoints`] after every
//!   invocation, so a restart resumes right after it. Stopping (the shutdown future resolving)
//!   lets the invocation in flight finish, then returns; nothing unacknowledged is checkpointed.
//!
//! ```no_run
//! # extern crate dynastream_core as dynastream;
//! use dynastream_poll::{Checkpoints, PollConfig, Poller, StreamSource};
//! # async fn example(router: dynastream::Router<()>, stream: impl StreamSource) -> Result<(), dynastream_poll::PollError> {
//! // `stream`: a StreamSource, e.g. dynastream-dynamodb's AwsStream::connect("app", None).await?
//! let poller = Poller::new(router, stream, Checkpoints::file(".dynastream/app.checkpoints.json")?)
//!     .config(PollConfig::default().stop_when_idle(true));
//! // Runs until every shard is caught up; pass a Ctrl-C future to stop on a signal instead.
//! let stats = poller.run(std::future::pending()).await?;
//! println!("{} records", stats.records);
//! # Ok(()) }
//! ```

#![warn(missing_docs)]
#![forbid(unsafe_code)]

// The derive's generated code names `::dynastream`; the tests' models need it.
#[cfg(test)]
extern crate dynastream_core as dynastream;

mod checkpoint;
mod config;
mod delivery;
mod event;
mod record;
pub mod redrive;
mod source;

use std::collections::HashSet;
use std::future::Future;
use std::io::Write as _;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{watch, Mutex};

pub use checkpoint::{
    CheckpointStore, Checkpoints, FileCheckpoints, MemoryCheckpoints, ShardCheckpoint,
};
pub use config::{PollConfig, PollError};
pub use delivery::RetryPolicy;
use event::log_event;
pub use event::{PollEvent, PollStats, ShardStats};
pub use record::{event_json, event_json_pretty, StreamRecord};
use source::parents_first;
pub use source::{Page, Position, ShardInfo, SourceError, StreamSource};

use delivery::{Delivery, Verdict};
use dynastream_core::event::Timestamp;
use dynastream_core::report::{BatchReport, Outcome};
use dynastream_core::Router;

type Observer = Box<dyn Fn(&PollEvent<'_>) + Send + Sync>;

/// A shard being read.
struct Shard {
    id: String,
    parent: Option<String>,
    /// Where the next iterator starts: the checkpoint, then after each record read.
    position: Position,
    iterator: Option<String>,
    /// `GetRecords` returned no next iterator: once the records read are through, the shard is
    /// finished.
    exhausted: bool,
    /// Records read but cut off the last batch by the payload limit.
    leftover: Vec<StreamRecord>,
    /// A batch waiting for its next retry, and when that is due. Other shards go on meanwhile.
    retrying: Option<(Delivery<StreamRecord>, Instant)>,
    stats: ShardStats,
    started: bool,
}

/// Reads a stream and runs a router over it. See the [module docs](self).
pub struct Poller<S, Src> {
    router: Router<S>,
    source: Src,
    config: PollConfig,
    checkpoints: Mutex<Checkpoints>,
    observer: Option<Observer>,
}

impl<S, Src> std::fmt::Debug for Poller<S, Src> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S: Send + Sync + 'static, Src: StreamSource> Poller<S, Src> {
    /// A poller with the default [`PollConfig`].
    pub fn new(router: Router<S>, source: Src, checkpoints: Checkpoints) -> Self {
        Poller {
            router,
            source,
            config: PollConfig::default(),
            checkpoints: Mutex::new(checkpoints),
            observer: None,
        }
    }

    /// Sets how it reads and retries.
    pub fn config(mut self, config: PollConfig) -> Self {
        self.config = config;
        self
    }

    /// Calls `f` with every [`PollEvent`] (progress output). Without it, events are logged
    /// with `tracing`.
    pub fn on_event(mut self, f: impl Fn(&PollEvent<'_>) + Send + Sync + 'static) -> Self {
        self.observer = Some(Box::new(f));
        self
    }

    /// The router.
    pub fn router(&self) -> &Router<S> {
        &self.router
    }

    /// The router back (with its state), once the poller is done.
    pub fn into_router(self) -> Router<S> {
        self.router
    }

    /// Reads until `shutdown` resolves (or, with [`PollConfig::stop_when_idle`], until every
    /// shard is caught up). On shutdown the invocation in flight finishes first; every
    /// acknowledgement is already checkpointed.
    pub async fn run(
        &self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<PollStats, PollError> {
        let (tx, rx) = watch::channel(false);
        let main = self.run_rounds(rx);
        tokio::pin!(main);
        let signal = async move {
            shutdown.await;
            let _ = tx.send(true);
            // Keeps the sender alive while the rounds wind down; never completes.
            std::future::pending::<std::convert::Infallible>().await
        };
        tokio::select! {
            result = &mut main => result,
            never = signal => match never {},
        }
    }

    fn emit(&self, event: PollEvent<'_>) {
        match &self.observer {
            Some(f) => f(&event),
            None => log_event(&event),
        }
    }

    async fn run_rounds(&self, stop: watch::Receiver<bool>) -> Result<PollStats, PollError> {
        let arn = self.source.stream_arn().to_string();
        let mut shards: Vec<Shard> = Vec::new();
        let mut refreshed: Option<Instant> = None;
        let mut was_idle = false;
        loop {
            if *stop.borrow() {
                break;
            }
            if refreshed.is_none_or(|t| t.elapsed() >= self.config.shard_refresh) {
                match self.refresh(&arn, &mut shards).await {
                    Ok(()) => refreshed = Some(Instant::now()),
                    Err(PollError::Source(e)) if !matches!(e, SourceError::NotFound { .. }) => {
                        self.emit(PollEvent::ReadError {
                            shard_id: None,
                            error: &e,
                        });
                        pause(stop.clone(), self.config.poll_interval).await;
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
            let finished: HashSet<String> = shards
                .iter()
                .filter(|s| s.stats.finished)
                .map(|s| s.id.clone())
                .collect();
            let listed: HashSet<String> = shards.iter().map(|s| s.id.clone()).collect();
            let ready = |s: &Shard| {
                !s.stats.finished
                    && s.parent
                        .as_ref()
                        .is_none_or(|p| finished.contains(p) || !listed.contains(p))
            };
            let steps = shards
                .iter_mut()
                .filter(|s| ready(s))
                .map(|s| self.step(&arn, s, stop.clone()));
            let results = futures_util::future::join_all(steps).await;
            let (mut read, mut errors, mut closed) = (0usize, 0usize, false);
            let mut next_retry: Option<Instant> = None;
            for r in results {
                let r = r?;
                read += r.read;
                errors += usize::from(r.error);
                closed |= r.finished;
                if let Some(due) = r.retry_due {
                    next_retry = Some(next_retry.map_or(due, |n| n.min(due)));
                }
            }
            if closed {
                refreshed = None;
            }
            let stats = totals(&shards);
            if read > 0 {
                was_idle = false;
                self.emit(PollEvent::Progress { stats: &stats });
                continue;
            }
            if let Some(due) = next_retry {
                // Not idle while a batch waits for its retry; sleep until it is due at most.
                let wait = due.saturating_duration_since(Instant::now());
                pause(stop.clone(), wait.min(self.config.poll_interval)).await;
                continue;
            }
            if errors == 0 && !closed {
                if !was_idle {
                    self.emit(PollEvent::Idle { stats: &stats });
                }
                was_idle = true;
                if self.config.stop_when_idle {
                    break;
                }
            }
            if !closed {
                pause(stop.clone(), self.config.poll_interval).await;
            }
        }
        Ok(totals(&shards))
    }

    /// Reads the shard list and adds shards not seen before, at their checkpoints.
    async fn refresh(&self, arn: &str, shards: &mut Vec<Shard>) -> Result<(), PollError> {
        let listed = parents_first(&self.source.shards().await?);
        if listed.iter().all(|l| shards.iter().any(|s| s.id == l.id)) {
            return Ok(());
        }
        let saved = self.checkpoints.lock().await.load(arn).await?;
        let first_listing = shards.is_empty();
        for info in listed {
            if shards.iter().any(|s| s.id == info.id) {
                continue;
            }
            let checkpoint = saved.get(&info.id).cloned().unwrap_or_default();
            let position = match &checkpoint.sequence_number {
                Some(seq) => Position::After(seq.clone()),
                // A shard that appears while running (a split) starts at its beginning:
                // its records are newer than everything read so far.
                None if !first_listing => Position::TrimHorizon,
                None => self.config.starting_position.clone(),
            };
            shards.push(Shard {
                id: info.id,
                parent: info.parent,
                position,
                iterator: None,
                exhausted: false,
                leftover: Vec::new(),
                retrying: None,
                stats: ShardStats {
                    last_sequence_number: checkpoint.sequence_number,
                    finished: checkpoint.finished,
                    ..ShardStats::default()
                },
                started: false,
            });
        }
        Ok(())
    }

    /// One batch of one shard: read it, deliver it, checkpoint it.
    async fn step(
        &self,
        arn: &str,
        shard: &mut Shard,
        stop: watch::Receiver<bool>,
    ) -> Result<StepResult, PollError> {
        if !shard.started {
            shard.started = true;
            self.emit(PollEvent::ShardStarted {
                shard_id: &shard.id,
                position: &shard.position,
            });
        }
        if let Some((_, due)) = &shard.retrying {
            if Instant::now() < *due {
                return Ok(StepResult {
                    read: 0,
                    error: false,
                    finished: false,
                    retry_due: Some(*due),
                });
            }
        }
        if let Some((delivery, _)) = shard.retrying.take() {
            return match self.deliver(arn, shard, delivery, stop).await? {
                Delivered::Waiting(due) => Ok(StepResult {
                    read: 0,
                    error: false,
                    finished: false,
                    retry_due: Some(due),
                }),
                // Acknowledged records count as progress, like a fresh batch.
                Delivered::Done | Delivered::Stopped => Ok(StepResult {
                    read: 1,
                    error: false,
                    finished: false,
                    retry_due: None,
                }),
            };
        }
        let batch = match self.read_batch(shard, stop.clone()).await {
            Ok(b) => b,
            Err(e @ SourceError::NotFound { .. }) => return Err(e.into()),
            Err(e) => {
                self.emit(PollEvent::ReadError {
                    shard_id: Some(&shard.id),
                    error: &e,
                });
                return Ok(StepResult {
                    read: 0,
                    error: true,
                    finished: false,
                    retry_due: None,
                });
            }
        };
        let read = batch.len();
        if read == 0 && !shard.exhausted && shard.leftover.is_empty() {
            shard.stats.lag = Some(Duration::ZERO);
        }
        if read > 0 && self.config.parallelization_factor > 1 {
            if let Delivered::Stopped = self.deliver_parallel(arn, shard, batch, stop).await? {
                return Ok(StepResult {
                    read,
                    error: false,
                    finished: false,
                    retry_due: None,
                });
            }
        } else if read > 0 {
            match self.deliver(arn, shard, Delivery::new(batch), stop).await? {
                Delivered::Done => {}
                Delivered::Stopped => {
                    return Ok(StepResult {
                        read,
                        error: false,
                        finished: false,
                        retry_due: None,
                    })
                }
                Delivered::Waiting(due) => {
                    return Ok(StepResult {
                        read,
                        error: false,
                        finished: false,
                        retry_due: Some(due),
                    })
                }
            }
        }
        let mut finished = false;
        if shard.exhausted && shard.leftover.is_empty() {
            shard.stats.finished = true;
            finished = true;
            self.save(arn, shard).await?;
            self.emit(PollEvent::ShardFinished {
                shard_id: &shard.id,
            });
        }
        Ok(StepResult {
            read,
            error: false,
            finished,
            retry_due: None,
        })
    }

    /// The next batch: records left over from the last one, then what the stream gives within
    /// the batching window, cut at the batch size and at Lambda's 6 MB payload limit (what is
    /// cut off opens the next batch).
    async fn read_batch(
        &self,
        shard: &mut Shard,
        stop: watch::Receiver<bool>,
    ) -> Result<Vec<StreamRecord>, SourceError> {
        let mut batch = std::mem::take(&mut shard.leftover);
        if batch.len() < self.read_size() && !shard.exhausted {
            if let Err(e) = self.fill(shard, &mut batch, stop).await {
                // What was read is delivered; the error comes back on the next read.
                if batch.is_empty() {
                    return Err(e);
                }
            }
        }
        if self.config.parallelization_factor <= 1 {
            shard.leftover = batch.split_off(payload_cut(&batch, MAX_PAYLOAD_BYTES));
        }
        Ok(batch)
    }

    async fn fill(
        &self,
        shard: &mut Shard,
        batch: &mut Vec<StreamRecord>,
        stop: watch::Receiver<bool>,
    ) -> Result<(), SourceError> {
        let deadline = Instant::now() + self.config.batching_window;
        let want = self.read_size();
        let mut expired = 0;
        loop {
            let iterator = match shard.iterator.take() {
                Some(it) => it,
                None => self.fresh_iterator(shard).await?,
            };
            let page = match self.source.read(&iterator, want - batch.len()).await {
                Ok(p) => p,
                Err(SourceError::ExpiredIterator) if expired < 3 => {
                    expired += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if let Some(last) = page.records.last() {
                shard.position = Position::After(last.sequence_number.clone());
            }
            shard.stats.polled += page.records.len() as u64;
            let empty = page.records.is_empty();
            batch.extend(page.records);
            match page.next {
                Some(next) => shard.iterator = Some(next),
                None => {
                    shard.exhausted = true;
                    return Ok(());
                }
            }
            let now = Instant::now();
            if batch.len() >= want || now >= deadline || *stop.borrow() {
                return Ok(());
            }
            if empty {
                pause(
                    stop.clone(),
                    (deadline - now).min(self.config.poll_interval),
                )
                .await;
            }
        }
    }

    async fn fresh_iterator(&self, shard: &mut Shard) -> Result<String, SourceError> {
        match self.source.iterator(&shard.id, &shard.position).await {
            Err(SourceError::Trimmed) => {
                if let Position::After(seq) = &shard.position {
                    self.emit(PollEvent::CheckpointTrimmed {
                        shard_id: &shard.id,
                        after: seq,
                    });
                }
                shard.position = Position::TrimHorizon;
                self.source.iterator(&shard.id, &shard.position).await
            }
            other => other,
        }
    }

    /// Delivers a batch through retries and bisection, until it is through, stopped (the rest
    /// is not acknowledged and is read again on the next start) or waiting for a retry (kept
    /// in the shard; other shards go on meanwhile).
    async fn deliver(
        &self,
        arn: &str,
        shard: &mut Shard,
        mut delivery: Delivery<StreamRecord>,
        stop: watch::Receiver<bool>,
    ) -> Result<Delivered, PollError> {
        loop {
            let (expired, invocations) = self.expire(&mut delivery);
            if !expired.is_empty() {
                let reason = self.age_reason();
                self.skip_past(
                    arn,
                    shard,
                    &expired,
                    RECORD_AGE_EXCEEDED,
                    invocations,
                    &reason,
                )
                .await?;
                shard.stats.expired += expired.len() as u64;
                continue;
            }
            let Some((unit, failures)) = delivery.current() else {
                break;
            };
            if *stop.borrow() {
                return Ok(Delivered::Stopped);
            }
            shard.stats.invocations += 1;
            let verdict = self.invoke(&shard.id, unit, failures + 1).await;
            let reason = match &verdict {
                Verdict::FailedAt { reason, .. } => {
                    shard.stats.failed_invocations += 1;
                    shard.stats.failed_invoke_events += unit.len() as u64;
                    reason.clone()
                }
                Verdict::Done => String::new(),
            };
            let step = delivery.apply(verdict, &self.config.retry);
            if let Some(last) = step.acked.last() {
                shard.stats.records += step.acked.len() as u64;
                self.acknowledged(arn, shard, &last.sequence_number, last.created)
                    .await?;
            }
            if let Some(gave_up) = step.gave_up {
                self.skip_past(
                    arn,
                    shard,
                    &gave_up.records,
                    RETRY_ATTEMPTS_EXHAUSTED,
                    gave_up.invocations,
                    &gave_up.reason,
                )
                .await?;
            }
            if let Some((left, right)) = step.bisected {
                self.emit(PollEvent::Bisected {
                    shard_id: &shard.id,
                    left,
                    right,
                });
            }
            if let (Some(delay), Some((records, retry))) = (step.retry_after, delivery.current()) {
                self.emit(PollEvent::Retrying {
                    shard_id: &shard.id,
                    records: records.len(),
                    retry,
                    delay,
                    reason: &reason,
                });
                if !delay.is_zero() {
                    let due = Instant::now() + delay;
                    shard.retrying = Some((delivery, due));
                    return Ok(Delivered::Waiting(due));
                }
            }
        }
        Ok(Delivered::Done)
    }

    /// Records given up on: written to the on-failure file (Lambda's failure record, with
    /// `condition`) or dropped, and counted. The caller moves the checkpoint.
    async fn give_up(
        &self,
        arn: &str,
        shard: &mut Shard,
        records: &[StreamRecord],
        condition: &str,
        invocations: u32,
        reason: &str,
    ) -> Result<(), PollError> {
        if records.is_empty() {
            return Ok(());
        }
        if let Some(path) = &self.config.on_failure {
            let line =
                redrive::failure_record(arn, &shard.id, records, condition, invocations, reason);
            append_line(path, &line.to_string()).map_err(|source| PollError::OnFailure {
                path: path.clone(),
                source,
            })?;
            shard.stats.on_failure_delivered += records.len() as u64;
        } else {
            shard.stats.dropped += records.len() as u64;
        }
        self.emit(PollEvent::GaveUp {
            shard_id: &shard.id,
            records,
            reason,
            written_to: self.config.on_failure.as_deref(),
        });
        shard.stats.given_up += records.len() as u64;
        Ok(())
    }

    /// [`give_up`](Self::give_up) on `records`, then the checkpoint moves past them (the
    /// one-batch path: a shard's records are through strictly in order).
    async fn skip_past(
        &self,
        arn: &str,
        shard: &mut Shard,
        records: &[StreamRecord],
        condition: &str,
        invocations: u32,
        reason: &str,
    ) -> Result<(), PollError> {
        self.give_up(arn, shard, records, condition, invocations, reason)
            .await?;
        if let Some(last) = records.last() {
            shard.stats.last_sequence_number = Some(last.sequence_number.clone());
            self.save(arn, shard).await?;
        }
        Ok(())
    }

    /// Records a shard reads at a time: a batch for each of the parallel batches.
    fn read_size(&self) -> usize {
        self.config.batch_size.max(1) * self.config.parallelization_factor.clamp(1, 10)
    }

    /// The leading records of the next unit older than [`PollConfig::max_record_age`].
    fn expire(&self, delivery: &mut Delivery<StreamRecord>) -> (Vec<StreamRecord>, u32) {
        let Some(max) = self.config.max_record_age else {
            return (Vec::new(), 0);
        };
        let now = SystemTime::now();
        delivery.expire_front(|r| {
            r.created.is_some_and(|t| {
                now.duration_since(t.to_system_time())
                    .is_ok_and(|age| age > max)
            })
        })
    }

    fn age_reason(&self) -> String {
        format!(
            "older than the maximum record age ({} s) when it would have been invoked",
            self.config.max_record_age.map_or(0, |d| d.as_secs())
        )
    }

    /// One invocation of the router over `unit`, and the verdict Lambda would draw.
    async fn invoke(&self, shard_id: &str, unit: &[StreamRecord], attempt: u32) -> Verdict {
        let result = invoke(&self.router, unit).await;
        match &result {
            Ok(report) => self.emit(PollEvent::Invoked {
                shard_id,
                records: unit,
                report,
                attempt,
            }),
            Err(e) => self.emit(PollEvent::InvocationError {
                shard_id,
                error: &e.to_string(),
            }),
        }
        verdict_of(unit, &result)
    }

    /// `ParallelizationFactor` above 1: the batch split by item into that many batches,
    /// delivered at once (each item's records in order within its batch, each batch cut at
    /// the batch size and the payload limit, retried and bisected on its own, its retry
    /// delays waited out in place: unlike the one-batch path, the round waits for them). The
    /// checkpoint moves past the records every batch is through with (acknowledged or given
    /// up on); on a stop, to just before the first record not through.
    async fn deliver_parallel(
        &self,
        arn: &str,
        shard: &mut Shard,
        batch: Vec<StreamRecord>,
        stop: watch::Receiver<bool>,
    ) -> Result<Delivered, PollError> {
        let n = self.config.parallelization_factor.clamp(1, 10);
        let total = batch.len();
        // Each parallel batch: its records, and where each stands in the shard's batch.
        let mut groups: Vec<(Vec<usize>, Vec<StreamRecord>)> =
            (0..n).map(|_| (Vec::new(), Vec::new())).collect();
        let mut marks = Vec::with_capacity(total);
        for (i, r) in batch.into_iter().enumerate() {
            marks.push((r.sequence_number.clone(), r.created));
            let g = &mut groups[item_slot(&r, n)];
            g.0.push(i);
            g.1.push(r);
        }
        groups.retain(|(at, _)| !at.is_empty());
        let runs = groups.iter_mut().map(|(_, records)| {
            self.run_parallel_batch(&shard.id, std::mem::take(records), stop.clone())
        });
        let results = futures_util::future::join_all(runs).await;
        let mut through = vec![false; total];
        for ((at, _), r) in groups.iter().zip(results) {
            shard.stats.invocations += u64::from(r.invocations);
            shard.stats.failed_invocations += u64::from(r.failed_invocations);
            shard.stats.failed_invoke_events += r.failed_invoke_events;
            shard.stats.records += r.acked;
            // A batch is through with its records strictly in order: a prefix of them.
            for &i in &at[..r.through] {
                through[i] = true;
            }
            for g in r.gave_up {
                self.give_up(
                    arn,
                    shard,
                    &g.records,
                    g.condition,
                    g.invocations,
                    &g.reason,
                )
                .await?;
                if g.condition == RECORD_AGE_EXCEEDED {
                    shard.stats.expired += g.records.len() as u64;
                }
            }
        }
        let done = through.iter().take_while(|t| **t).count();
        if let Some((seq, created)) = done.checked_sub(1).map(|i| &marks[i]) {
            self.acknowledged(arn, shard, seq, *created).await?;
        }
        Ok(if done < total {
            Delivered::Stopped
        } else {
            Delivered::Done
        })
    }

    /// One of the parallel batches: its records in order, in invocations of at most the batch
    /// size (and the payload limit), until through or stopped.
    async fn run_parallel_batch(
        &self,
        shard_id: &str,
        mut records: Vec<StreamRecord>,
        stop: watch::Receiver<bool>,
    ) -> ParallelOutcome {
        let mut out = ParallelOutcome::default();
        while !records.is_empty() {
            let size = records.len().min(self.config.batch_size.max(1));
            let rest = records.split_off(payload_cut(&records[..size], MAX_PAYLOAD_BYTES));
            let mut delivery = Delivery::new(std::mem::replace(&mut records, rest));
            loop {
                let (expired, invocations) = self.expire(&mut delivery);
                if !expired.is_empty() {
                    out.through += expired.len();
                    out.gave_up.push(ParallelGaveUp {
                        records: expired,
                        reason: self.age_reason(),
                        condition: RECORD_AGE_EXCEEDED,
                        invocations,
                    });
                    continue;
                }
                let Some((unit, failures)) = delivery.current() else {
                    break;
                };
                if *stop.borrow() {
                    return out;
                }
                out.invocations += 1;
                let verdict = self.invoke(shard_id, unit, failures + 1).await;
                let reason = match &verdict {
                    Verdict::FailedAt { reason, .. } => {
                        out.failed_invocations += 1;
                        out.failed_invoke_events += unit.len() as u64;
                        reason.clone()
                    }
                    Verdict::Done => String::new(),
                };
                let step = delivery.apply(verdict, &self.config.retry);
                out.acked += step.acked.len() as u64;
                out.through += step.acked.len();
                if let Some(g) = step.gave_up {
                    out.through += g.records.len();
                    out.gave_up.push(ParallelGaveUp {
                        records: g.records,
                        reason: g.reason,
                        condition: RETRY_ATTEMPTS_EXHAUSTED,
                        invocations: g.invocations,
                    });
                }
                if let Some((left, right)) = step.bisected {
                    self.emit(PollEvent::Bisected {
                        shard_id,
                        left,
                        right,
                    });
                }
                if let (Some(delay), Some((next, retry))) = (step.retry_after, delivery.current()) {
                    self.emit(PollEvent::Retrying {
                        shard_id,
                        records: next.len(),
                        retry,
                        delay,
                        reason: &reason,
                    });
                    pause(stop.clone(), delay).await;
                }
            }
        }
        out
    }

    /// The shard is through with every record up to `sequence_number`: the checkpoint moves
    /// there, and the lag is that record's age (`created`).
    async fn acknowledged(
        &self,
        arn: &str,
        shard: &mut Shard,
        sequence_number: &str,
        created: Option<Timestamp>,
    ) -> Result<(), PollError> {
        shard.stats.last_sequence_number = Some(sequence_number.to_string());
        shard.stats.lag = created.map(|t| {
            SystemTime::now()
                .duration_since(t.to_system_time())
                .unwrap_or_default()
        });
        self.save(arn, shard).await
    }

    async fn save(&self, arn: &str, shard: &Shard) -> Result<(), PollError> {
        self.checkpoints
            .lock()
            .await
            .save(
                arn,
                &shard.id,
                &ShardCheckpoint {
                    sequence_number: shard.stats.last_sequence_number.clone(),
                    finished: shard.stats.finished,
                },
            )
            .await
    }
}

/// Lambda's `condition` for records given up on after their retries.
const RETRY_ATTEMPTS_EXHAUSTED: &str = "RetryAttemptsExhausted";
/// Lambda's `condition` for records older than `MaximumRecordAgeInSeconds`.
const RECORD_AGE_EXCEEDED: &str = "RecordAgeExceeded";

/// What one of the parallel batches did.
#[derive(Default)]
struct ParallelOutcome {
    /// Records acknowledged.
    acked: u64,
    /// How many of the batch's records, from its start, are through (acknowledged or given
    /// up on).
    through: usize,
    gave_up: Vec<ParallelGaveUp>,
    invocations: u32,
    failed_invocations: u32,
    failed_invoke_events: u64,
}

struct ParallelGaveUp {
    records: Vec<StreamRecord>,
    reason: String,
    condition: &'static str,
    invocations: u32,
}

/// Which of `n` parallel batches a record goes to: by its item's keys (`dynamodb.Keys`, in
/// name order), so one item's records always share a batch. A record whose keys cannot be
/// read goes to the first.
fn item_slot(r: &StreamRecord, n: usize) -> usize {
    use std::hash::{Hash as _, Hasher as _};
    #[derive(serde::Deserialize)]
    struct Dynamodb<'a> {
        #[serde(rename = "Keys", borrow)]
        keys: std::collections::BTreeMap<&'a str, &'a serde_json::value::RawValue>,
    }
    #[derive(serde::Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        dynamodb: Dynamodb<'a>,
    }
    let Ok(e) = serde_json::from_str::<Envelope<'_>>(r.json.get()) else {
        return 0;
    };
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for (name, value) in e.dynamodb.keys {
        name.hash(&mut h);
        value.get().hash(&mut h);
    }
    (h.finish() % n as u64) as usize
}

/// Lambda's limit on an invocation's payload: a batch is cut before it would pass it.
const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// How many of `records` fit in one event of at most `limit` bytes (at least one: a single
/// record is never held back).
fn payload_cut(records: &[StreamRecord], limit: usize) -> usize {
    let mut size = "{\"Records\":[]}".len();
    for (i, r) in records.iter().enumerate() {
        size += r.json.get().len() + usize::from(i > 0);
        if size > limit && i > 0 {
            return i;
        }
    }
    records.len()
}

struct StepResult {
    read: usize,
    error: bool,
    finished: bool,
    /// The shard's batch waits for a retry due then.
    retry_due: Option<Instant>,
}

enum Delivered {
    Done,
    Stopped,
    Waiting(Instant),
}

/// `unit` delivered to `router` as the event Lambda would send.
async fn invoke<S: Send + Sync + 'static>(
    router: &Router<S>,
    unit: &[StreamRecord],
) -> Result<BatchReport, dynastream_core::EventError> {
    let event = event_json(unit);
    router
        .handle_event(event.as_bytes(), lambda_runtime::Context::default())
        .await
}

/// The verdict Lambda would draw from an invocation: an unreadable event fails all of it.
fn verdict_of(
    unit: &[StreamRecord],
    result: &Result<BatchReport, dynastream_core::EventError>,
) -> Verdict {
    match result {
        Ok(report) => verdict(unit, report),
        Err(e) => Verdict::FailedAt {
            index: 0,
            reason: format!("invocation error: {e}"),
        },
    }
}

/// The verdict Lambda would draw from the batch response: the lowest failed sequence number
/// of the batch; an identifier that names no record of the batch fails all of it.
fn verdict(unit: &[StreamRecord], report: &BatchReport) -> Verdict {
    let response = report.response();
    let mut lowest: Option<usize> = None;
    for failure in &response.batch_item_failures {
        let Some(i) = unit
            .iter()
            .position(|r| r.sequence_number == failure.item_identifier)
        else {
            return Verdict::FailedAt {
                index: 0,
                reason: format!(
                    "the batch response names {:?}, which is not a record of the batch",
                    failure.item_identifier
                ),
            };
        };
        lowest = Some(lowest.map_or(i, |l| l.min(i)));
    }
    let Some(index) = lowest else {
        return Verdict::Done;
    };
    let seq = &unit[index].sequence_number;
    let reason = report
        .records
        .iter()
        .find(|r| &r.sequence_number == seq)
        .map(|r| match &r.outcome {
            Outcome::Failed(e) => e.to_string(),
            other => format!("reported failed ({})", other.label()),
        })
        .unwrap_or_else(|| "reported failed".to_string());
    Verdict::FailedAt { index, reason }
}

fn totals(shards: &[Shard]) -> PollStats {
    let mut t = PollStats::default();
    for s in shards {
        t.records += s.stats.records;
        t.given_up += s.stats.given_up;
        t.invocations += s.stats.invocations;
        t.failed_invocations += s.stats.failed_invocations;
        t.polled += s.stats.polled;
        t.failed_invoke_events += s.stats.failed_invoke_events;
        t.dropped += s.stats.dropped;
        t.on_failure_delivered += s.stats.on_failure_delivered;
        t.expired += s.stats.expired;
        t.shards.insert(s.id.clone(), s.stats.clone());
    }
    t
}

fn append_line(path: &std::path::Path, line: &str) -> Result<(), std::io::Error> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(format!("{line}\n").as_bytes())
        .and_then(|()| f.sync_data())
}

/// Sleeps for `d` or until stopped.
async fn pause(mut stop: watch::Receiver<bool>, d: Duration) {
    tokio::select! {
        () = tokio::time::sleep(d) => {}
        _ = stop.wait_for(|s| *s) => {}
    }
}

#[doc(hidden)] // the app's `record` command; not part of the poller's API
/// Every record the stream holds now, shards in parent-first order, each from `from` until a
/// read comes back empty (for the app's `record` command). `limit` stops after that many records.
pub async fn capture<Src: StreamSource>(
    source: &Src,
    from: &Position,
    limit: Option<usize>,
) -> Result<Vec<StreamRecord>, PollError> {
    let mut out = Vec::new();
    for shard in parents_first(&source.shards().await?) {
        let mut iterator = source.iterator(&shard.id, from).await?;
        loop {
            let room = limit.map_or(1000, |l| l.saturating_sub(out.len()).min(1000));
            if room == 0 {
                return Ok(out);
            }
            let page = source.read(&iterator, room).await?;
            let empty = page.records.is_empty();
            out.extend(page.records);
            match page.next {
                Some(next) if !empty => iterator = next,
                _ => break,
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
