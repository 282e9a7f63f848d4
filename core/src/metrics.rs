//! Metrics in CloudWatch's Embedded Metric Format (EMF): JSON lines on standard output that
//! CloudWatch Logs turns into metrics, with no agent and no API call
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>).
//!
//! The router records every batch through the [`metrics`](https://docs.rs/metrics) facade; a
//! router built with [`RouterBuilder::metrics`](crate::RouterBuilder::metrics) installs the
//! process's EMF recorder (the `metrics_cloudwatch_embedded` crate) and writes the batch's
//! documents to standard output when the batch is done. The app entry point turns it on when
//! `POWERTOOLS_METRICS_NAMESPACE` is set ([`Metrics::from_env`]), as Powertools for Lambda does,
//! under Lambda, in `replay` and in `poll`. Without it nothing is written; a recorder of the
//! app's own (Prometheus, say) receives the same metrics.
//!
//! Per batch, with the dimension `service` (`POWERTOOLS_SERVICE_NAME`, else
//! `service_undefined`) on every document:
//!
//! | metric | unit | more dimensions | what |
//! |---|---|---|---|
//! | [`RECORDS`] | Count | `model`, `kind`, `outcome` | records by the model their keys matched (`-`: none), change kind (`INSERT`/`MODIFY`/`REMOVE`, `-` unreadable) and outcome (`ok`, `skipped`, `failed`, `deferred`) |
//! | [`FAILED_RECORDS`] | Count | `reason` | failed records by [`RecordErrorKind`] (`envelope`, `unmatched`, `decode`, `handler`, `panic`, or the refusing hook's name, `mirror`) |
//! | [`FAILED_RECORDS`] | Count | | all failed records (what an alarm watches) |
//! | [`BATCH_DURATION`] | Milliseconds | | the whole batch: reading, hooks, handlers |
//! | [`HANDLER_DURATION`] | Milliseconds | | the handlers' part of it |
//! | [`OLDEST_RECORD_AGE`], [`NEWEST_RECORD_AGE`] | Milliseconds | | now − `ApproximateCreationDateTime` of the batch's oldest and newest record when the batch is done: the end-to-end lag (Lambda's `IteratorAge` is the newest's) |
//! | [`UNREADABLE_EVENTS`] | Count | | events that failed the invocation as a whole |
//! | [`MIRROR_WRITE_DURATION`], [`MIRROR_ROWS`] | Milliseconds, Count | | the Postgres mirror's write of the batch (dynastream-postgres) |
//!
//! Bounded: a batch writes one document per (model, kind, outcome) that occurs, one per failure
//! reason that occurs and one with the batch's figures (the failure total among them): at most
//! (models + 1) × 4 × 4 + (5 + hooks) + 1 documents, and a CloudWatch metric per combination,
//! never one per key or record. The recorder is the process's: when invocations run at once
//! (Lambda Managed Instances), a flush writes what every batch recorded since the last one, so
//! a document may sum several batches; totals are exact.
//!
//! ```no_run
//! # extern crate dynastream_core as dynastream;
//! use dynastream::metrics::Metrics;
//! let router = dynastream::Router::builder(())
//!     .metrics(Metrics::new("Orders").service("order-stream"))
//!     .build()
//!     .unwrap();
//! ```

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use metrics_cloudwatch_embedded::Collector;

use crate::error::RecordErrorKind;
use crate::report::Tally;

/// `Records`: records by `model`, `kind` and `outcome` (Count).
pub const RECORDS: &str = "Records";
/// `FailedRecords`: failed records by `reason` (Count).
pub const FAILED_RECORDS: &str = "FailedRecords";
/// `BatchDuration` (Milliseconds).
pub const BATCH_DURATION: &str = "BatchDuration";
/// `HandlerDuration` (Milliseconds).
pub const HANDLER_DURATION: &str = "HandlerDuration";
/// `OldestRecordAge` (Milliseconds).
pub const OLDEST_RECORD_AGE: &str = "OldestRecordAge";
/// `NewestRecordAge` (Milliseconds).
pub const NEWEST_RECORD_AGE: &str = "NewestRecordAge";
/// `UnreadableEvents` (Count).
pub const UNREADABLE_EVENTS: &str = "UnreadableEvents";
/// `MirrorWriteDuration` (Milliseconds), written by the Postgres mirror.
pub const MIRROR_WRITE_DURATION: &str = "MirrorWriteDuration";
/// `MirrorRows` (Count), written by the Postgres mirror.
pub const MIRROR_ROWS: &str = "MirrorRows";

/// The environment variable with the namespace (Powertools' name).
pub const NAMESPACE_ENV: &str = "POWERTOOLS_METRICS_NAMESPACE";
/// The environment variable with the `service` dimension's value (Powertools' name).
pub const SERVICE_ENV: &str = "POWERTOOLS_SERVICE_NAME";
/// The `service` value when none is set (Powertools' default).
pub const DEFAULT_SERVICE: &str = "service_undefined";

/// Where a router's metrics go: a CloudWatch namespace and the `service` dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metrics {
    namespace: String,
    service: String,
}

impl Metrics {
    /// Metrics in `namespace`, service [`DEFAULT_SERVICE`].
    pub fn new(namespace: impl Into<String>) -> Self {
        Metrics {
            namespace: namespace.into(),
            service: DEFAULT_SERVICE.to_string(),
        }
    }

    /// Sets the `service` dimension.
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.service = service.into();
        self
    }

    /// From `POWERTOOLS_METRICS_NAMESPACE` and `POWERTOOLS_SERVICE_NAME`; `None` when the
    /// namespace is unset or empty (metrics off).
    pub fn from_env() -> Option<Self> {
        let namespace = std::env::var(NAMESPACE_ENV)
            .ok()
            .filter(|n| !n.is_empty())?;
        let m = Metrics::new(namespace);
        Some(
            match std::env::var(SERVICE_ENV).ok().filter(|s| !s.is_empty()) {
                Some(s) => m.service(s),
                None => m,
            },
        )
    }

    /// The CloudWatch namespace.
    pub fn namespace_name(&self) -> &str {
        &self.namespace
    }

    /// The `service` dimension's value.
    pub fn service_name(&self) -> &str {
        &self.service
    }
}

/// The EMF recorder could not be installed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// The process has EMF metrics already, to another namespace or service: a process
    /// has one recorder.
    #[error("EMF metrics are already on in this process for namespace {installed_namespace:?}, service {installed_service:?}; a process has one recorder, so {namespace:?}/{service:?} cannot be added")]
    Different {
        /// The installed namespace.
        installed_namespace: String,
        /// The installed service.
        installed_service: String,
        /// The namespace asked for.
        namespace: String,
        /// The service asked for.
        service: String,
    },
    /// Another `metrics` recorder is installed (the app's own).
    #[error("cannot install the EMF metrics recorder: {0} (a process has one metrics recorder; the app's own receives dynastream's metrics)")]
    Install(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The recorder this process installed, and for what.
static INSTALLED: Mutex<Option<(Metrics, &'static Collector)>> = Mutex::new(None);

/// Installs the process's EMF recorder for `m` (once; again for the same `m` it returns the
/// same recorder).
pub(crate) fn install(m: &Metrics) -> Result<&'static Collector, MetricsError> {
    let mut installed = INSTALLED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((have, collector)) = installed.as_ref() {
        if have == m {
            return Ok(collector);
        }
        return Err(MetricsError::Different {
            installed_namespace: have.namespace.clone(),
            installed_service: have.service.clone(),
            namespace: m.namespace.clone(),
            service: m.service.clone(),
        });
    }
    let collector = metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(m.namespace.clone())
        .with_dimension("service", m.service.clone())
        .init()
        .map_err(MetricsError::Install)?;
    describe();
    *installed = Some((m.clone(), collector));
    Ok(collector)
}

/// Gives every metric its unit (the recorder writes units from these).
fn describe() {
    use metrics::Unit;
    for name in [RECORDS, FAILED_RECORDS, UNREADABLE_EVENTS, MIRROR_ROWS] {
        metrics::describe_counter!(name, Unit::Count, "");
    }
    for name in [
        BATCH_DURATION,
        HANDLER_DURATION,
        OLDEST_RECORD_AGE,
        NEWEST_RECORD_AGE,
        MIRROR_WRITE_DURATION,
    ] {
        metrics::describe_histogram!(name, Unit::Milliseconds, "");
    }
}

/// Writes what the recorder holds (the batch's documents, and any other code's metrics since
/// the last flush) to standard output, one JSON line each.
pub(crate) fn flush(collector: &Collector) {
    let out = std::io::stdout();
    let mut lock = out.lock();
    if let Err(e) = collector.flush(&mut lock) {
        tracing::warn!(error = %e, "cannot write the EMF metrics to standard output");
    }
}

/// A batch's timings, for [`record_batch`].
pub(crate) struct BatchTimes {
    pub(crate) total: Duration,
    pub(crate) handlers: Duration,
    /// The batch's oldest and newest `ApproximateCreationDateTime`.
    pub(crate) created: Option<(SystemTime, SystemTime)>,
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Records one batch's metrics through the facade.
pub(crate) fn record_batch(tally: &Tally, times: &BatchTimes) {
    for &((model, kind, outcome), n) in &tally.counts {
        metrics::counter!(RECORDS, "model" => model, "kind" => kind, "outcome" => outcome)
            .increment(n);
    }
    for &(reason, n) in &tally.reasons {
        metrics::counter!(FAILED_RECORDS, "reason" => reason).increment(n);
    }
    // Also by `service` alone: what an alarm on every failure watches.
    let failed: u64 = tally.reasons.iter().map(|(_, n)| n).sum();
    if failed > 0 {
        metrics::counter!(FAILED_RECORDS).increment(failed);
    }
    metrics::histogram!(BATCH_DURATION).record(millis(times.total));
    metrics::histogram!(HANDLER_DURATION).record(millis(times.handlers));
    if let Some((oldest, newest)) = times.created {
        let now = SystemTime::now();
        let age = |t: SystemTime| millis(now.duration_since(t).unwrap_or_default());
        metrics::histogram!(OLDEST_RECORD_AGE).record(age(oldest));
        metrics::histogram!(NEWEST_RECORD_AGE).record(age(newest));
    }
}

/// Records the Postgres mirror's write of one batch: [`MIRROR_WRITE_DURATION`] and
/// [`MIRROR_ROWS`] (the rows written; refused rows included, as they were sent). Called by
/// dynastream-postgres's mirror; a hook of an app's own may report its writes the same way.
pub fn record_mirror_write(elapsed: Duration, rows: u64) {
    metrics::histogram!(MIRROR_WRITE_DURATION).record(millis(elapsed));
    metrics::counter!(MIRROR_ROWS).increment(rows);
}

/// An event that failed the invocation.
pub(crate) fn record_unreadable() {
    metrics::counter!(UNREADABLE_EVENTS).increment(1);
}

/// The `reason` dimension of a failed record.
pub(crate) fn reason(kind: &RecordErrorKind) -> &'static str {
    match kind {
        RecordErrorKind::Envelope { .. } => "envelope",
        RecordErrorKind::Unmatched { .. } => "unmatched",
        RecordErrorKind::Decode { .. } => "decode",
        RecordErrorKind::Handler { .. } => "handler",
        RecordErrorKind::Panic { .. } => "panic",
        RecordErrorKind::Hook { hook, .. } => hook,
    }
}
