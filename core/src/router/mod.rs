//! The router: per-model handlers, the fallback, failure policies and Lambda's batch rules.
//!
//! ```
//! # extern crate dynastream_core as dynastream;
//! use dynastream::{Change, ChangeKind, Context, Model, Router};
//! use serde::Deserialize;
//!
//! #[derive(Debug, Deserialize, Model)]
//! #[dynastream(pk = "#TASK#{owner}", sk = "#TASK#{task_id}")]
//! struct Task { owner: String, task_id: String, title: String }
//!
//! async fn on_task(change: Change<Task>, _ctx: Context<()>) -> Result<(), std::io::Error> {
//!     println!("{} {:?}", change.kind(), change.new_image().map(|t| &t.title));
//!     Ok(())
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let router = Router::builder(()).on::<Task, _>(on_task).build().unwrap();
//! let event = br##"{"Records":[{"eventID":"1","eventName":"INSERT","dynamodb":{
//!     "Keys":{"PK":{"S":"#TASK#ann"},"SK":{"S":"#TASK#7"}},
//!     "NewImage":{"PK":{"S":"#TASK#ann"},"SK":{"S":"#TASK#7"},"owner":{"S":"ann"},"task_id":{"S":"7"},"title":{"S":"Write docs"}},
//!     "SequenceNumber":"100","SizeBytes":90,"StreamViewType":"NEW_AND_OLD_IMAGES"}}]}"##;
//! let report = router.handle_event(event, Default::default()).await.unwrap();
//! assert!(report.response().batch_item_failures.is_empty());
//! # });
//! ```

mod builder;
mod guard;
mod order;
mod policy;
mod route;
mod run;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::change::Context;
use crate::error::{EventError, ImageSide, RecordError, RecordErrorKind, RegistryError};
use crate::event::{
    parse_batch_with, ChangeKind, Entry, ImageHook, ImageStore, Keys, KinesisEvent, Record,
};
use crate::handler::Unmatched;
use crate::hook::BatchHook;
use crate::registry::Registry;
use crate::report::{BatchReport, Outcome, RecordReport, Tally};

pub use builder::RouterBuilder;
use policy::apply;
pub use policy::{Action, Concurrency, Policies};
use route::{DynFallback, Prepared, Route};

/// Routes each record of a DynamoDB Streams batch to its model's handler and reports the
/// outcome the way Lambda's partial batch response expects.
pub struct Router<S> {
    state: Arc<S>,
    registry: Registry,
    routes: Vec<Box<dyn Route<S>>>,
    fallback: Option<Box<dyn DynFallback<S>>>,
    policies: Policies,
    concurrency: Concurrency,
    hooks: Vec<Box<dyn BatchHook>>,
    /// Decode images during the envelope pass (off only in tests, to compare with the lazy
    /// path).
    predecode: bool,
    /// The EMF recorder to flush after each batch.
    metrics: Option<&'static metrics_cloudwatch_embedded::Collector>,
}

/// The envelope pass asks the router which model a record's keys belong to and decodes the
/// images its handlers will want right there, so each image is read once.
impl<S: Send + Sync + 'static> ImageHook for Router<S> {
    fn model(&self, keys: &Keys<'_>) -> Option<usize> {
        self.model_for(keys)
    }

    fn decode(
        &self,
        model: usize,
        kind: Option<ChangeKind>,
        side: ImageSide,
        json: &str,
        store: &mut ImageStore,
    ) -> Option<(usize, usize)> {
        let route = self.routes.get(model)?;
        // A panicking `Deserialize` leaves the image to the lazy path, which reports the
        // panic against its record.
        guard::catch(|| route.predecode(model, kind, side, json, store))
            .ok()
            .flatten()
    }
}

impl<S: Send + Sync + 'static> Router<S> {
    /// Starts a router whose handlers share `state`.
    pub fn builder(state: S) -> RouterBuilder<S> {
        RouterBuilder {
            state: Arc::new(state),
            routes: Vec::new(),
            fallback: None,
            policies: Policies::default(),
            concurrency: Concurrency::Sequential,
            hooks: Vec::new(),
            errors: Vec::new(),
            metrics: None,
        }
    }

    /// The shared state handlers see through [`Context::state`].
    pub fn state(&self) -> &S {
        &self.state
    }

    /// The registered models.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The event source mapping's `FilterCriteria` for this router: one filter per model with
    /// a handler (see [`crate::filter`]), so Lambda drops the records no handler wants before
    /// it bills an invocation. Refused when every record must reach the function: a fallback
    /// handler, or a batch hook (the mirror holds every item).
    pub fn filter_criteria(
        &self,
    ) -> Result<crate::filter::FilterCriteria, crate::filter::FilterRefusal> {
        use crate::filter::{filter_criteria, FilterRefusal, Handled};
        if self.fallback.is_some() {
            return Err(FilterRefusal::Fallback);
        }
        if let Some(hook) = self.hooks.first() {
            return Err(FilterRefusal::Hook(hook.name()));
        }
        let handled: Vec<Handled> = self
            .routes
            .iter()
            .zip(self.registry.specs())
            .map(|(route, spec)| Handled {
                spec: spec.clone(),
                kinds: route.handled_kinds(),
            })
            .collect();
        filter_criteria(&handled)
    }

    /// Starts every hook ([`BatchHook::start`]: a mirror connects and creates its table), so
    /// a misconfiguration fails at start-up rather than on the first batch. Optional: hooks
    /// start themselves on first use.
    pub async fn start(&self) -> Result<(), RegistryError> {
        for hook in &self.hooks {
            hook.start().await.map_err(|e| RegistryError::Hook {
                hook: hook.name(),
                source: e.into(),
            })?;
        }
        Ok(())
    }

    /// Processes one event (the JSON Lambda delivers). An error means the event as a whole
    /// could not be read; otherwise every record has an outcome and
    /// [`BatchReport::response`] is what to return to Lambda.
    pub async fn handle_event(
        &self,
        json: &[u8],
        lambda: lambda_runtime::Context,
    ) -> Result<BatchReport, EventError> {
        let started = Instant::now();
        let hook = self.predecode.then_some(self as &dyn ImageHook);
        let mut store = ImageStore::default();
        // A Kinesis event's changes borrow from their decoded `data`, held here.
        let kinesis;
        let is_kinesis = KinesisEvent::is_kinesis(json);
        let read = if is_kinesis {
            match KinesisEvent::decode(json) {
                Ok(k) => {
                    kinesis = k;
                    Ok(kinesis.entries_with(hook, &mut store))
                }
                Err(e) => Err(e),
            }
        } else {
            parse_batch_with(json, hook, &mut store)
        };
        let mut entries = match read {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(error = %e, "invocation failed: unreadable event");
                crate::metrics::record_unreadable();
                self.flush_metrics();
                return Err(e);
            }
        };
        // Kinesis: each item's changes in time order, each duplicate once.
        let plan = if is_kinesis {
            order::Plan::of(&entries)
        } else {
            None
        };
        let mut duplicates = Vec::new();
        let delivered = entries.len();
        if let Some(plan) = &plan {
            let mut slots: Vec<Option<Entry<'_>>> = entries.into_iter().map(Some).collect();
            for &(dup, _) in &plan.duplicates {
                if let Some(e) = slots.get_mut(dup).and_then(Option::take) {
                    duplicates.push(e);
                }
            }
            entries = plan
                .run
                .iter()
                .filter_map(|&i| slots.get_mut(i).and_then(Option::take))
                .collect();
        }
        let created = created_range(&entries);
        let (arn, region) = entries
            .iter()
            .find_map(|e| match e {
                Entry::Record(r) => Some((
                    r.event_source_arn.as_deref().map(str::to_string),
                    r.aws_region.as_deref().map(str::to_string),
                )),
                Entry::Broken(_) => None,
            })
            .unwrap_or_default();
        let ctx = Context::new(Arc::clone(&self.state), lambda, arn, region);
        let refused = match self.run_hooks(&entries).await {
            Ok(refused) => refused,
            Err((hook, e)) => {
                tracing::error!(hook, error = %e, "batch hook failed; the whole batch is reported failed");
                let mut report = self.all_failed(&entries, hook, &e);
                if let Some(plan) = &plan {
                    // In delivery order, so Lambda delivers again from the first record it
                    // sent, not from the first one the reordering ran.
                    report = self.in_delivery_order(report, plan, &duplicates, delivered);
                }
                self.batch_done(&report, started, Duration::ZERO, created);
                return Ok(report);
            }
        };
        let handlers = Instant::now();
        let mut report = match self.concurrency {
            Concurrency::Sequential => {
                self.run_sequential(entries, &mut store, &ctx, refused)
                    .await
            }
            Concurrency::PerKey { max } => {
                self.run_per_key(entries, &mut store, &ctx, max, refused)
                    .await
            }
        };
        if let Some(plan) = &plan {
            report = self.in_delivery_order(report, plan, &duplicates, delivered);
        }
        self.batch_done(&report, started, handlers.elapsed(), created);
        Ok(report)
    }

    /// The report of a reordered Kinesis batch put back in delivery order, a duplicate
    /// acknowledged when the change it copies was, and not when that one was not.
    fn in_delivery_order(
        &self,
        report: BatchReport,
        plan: &order::Plan,
        duplicates: &[Entry<'_>],
        delivered: usize,
    ) -> BatchReport {
        let mut slots: Vec<Option<RecordReport>> = (0..delivered).map(|_| None).collect();
        for (r, &i) in report.records.into_iter().zip(&plan.run) {
            if let Some(slot) = slots.get_mut(i) {
                *slot = Some(r);
            }
        }
        for (&(dup, original), entry) in plan.duplicates.iter().zip(duplicates) {
            let mut r = self.deferred(entry);
            if let Some(Some(o)) = slots.get(original) {
                r.model = o.model;
                if matches!(o.outcome, Outcome::Ok | Outcome::Skipped(_)) {
                    r.outcome = Outcome::Skipped(format!(
                        "duplicate of record {}: the same change, run once",
                        o.sequence_number
                    ));
                }
            }
            if let Some(slot) = slots.get_mut(dup) {
                *slot = Some(r);
            }
        }
        BatchReport {
            records: slots.into_iter().flatten().collect(),
        }
    }

    /// The batch's summary log line and metrics, from one count of its records.
    fn batch_done(
        &self,
        report: &BatchReport,
        started: Instant,
        handlers: Duration,
        created: Option<(SystemTime, SystemTime)>,
    ) {
        let tally = Tally::of(report);
        log_summary(report, &tally, started);
        crate::metrics::record_batch(
            &tally,
            &crate::metrics::BatchTimes {
                total: started.elapsed(),
                handlers,
                created,
            },
        );
        self.flush_metrics();
    }

    fn flush_metrics(&self) {
        if let Some(collector) = self.metrics {
            crate::metrics::flush(collector);
        }
    }

    /// Matches the record to a model and decodes what its handler needs.
    fn prepare<'r>(
        &'r self,
        entry: &mut Entry<'_>,
        store: &mut ImageStore,
        ctx: &Context<S>,
    ) -> Prepared<'r> {
        let rec = match entry {
            Entry::Broken(b) => {
                let e = RecordError::new(
                    b.sequence_number.clone(),
                    RecordErrorKind::Envelope {
                        message: b.message.clone(),
                    },
                );
                let report = RecordReport {
                    sequence_number: b.sequence_number.as_str().into(),
                    model: None,
                    kind: b.kind,
                    outcome: apply(self.policies.undecodable, e),
                };
                return Prepared { report, run: None };
            }
            Entry::Record(r) => r,
        };
        let span = tracing::info_span!("record", seq = %rec.meta.sequence_number, event = rec.kind.as_str(), model = tracing::field::Empty);
        let _enter = span.enter();
        let routed = guard::catch(|| self.route(rec, store, ctx));
        let prepared = match routed {
            Ok(Some(p)) => p,
            Ok(None) => self.unmatched(rec, ctx),
            Err(panic) => {
                let e = RecordError::new(
                    rec.meta.sequence_number.to_string(),
                    RecordErrorKind::Panic {
                        model: "decode",
                        kind: rec.kind,
                        message: panic,
                    },
                );
                let report = RecordReport {
                    sequence_number: rec.meta.sequence_number.clone(),
                    model: None,
                    kind: Some(rec.kind),
                    outcome: apply(self.policies.panic, e),
                };
                Prepared { report, run: None }
            }
        };
        if let Some(m) = prepared.report.model {
            span.record("model", m);
        }
        drop(_enter);
        prepared
    }

    /// The model (index) whose patterns and key types accept the record's keys.
    fn model_of(&self, rec: &Record<'_>) -> Option<usize> {
        match rec.predecoded.model {
            Some(looked_up) => looked_up,
            None => self.model_for(&rec.keys),
        }
    }

    /// The model (index) whose patterns and key types accept `keys`.
    fn model_for(&self, keys: &Keys<'_>) -> Option<usize> {
        let mut found = None;
        for (pk_attr, sk_attr) in self.registry.key_attributes() {
            let (Some(pk), Some(sk)) = (keys.s(pk_attr), keys.sort_key(sk_attr)) else {
                continue;
            };
            self.registry.candidates(pk_attr, sk_attr, pk, sk, |m| {
                if found.is_none() && self.routes[m].matches(pk, sk) {
                    found = Some(m);
                }
            });
            if found.is_some() {
                break;
            }
        }
        found
    }

    fn route<'r>(
        &'r self,
        rec: &mut Record<'_>,
        store: &mut ImageStore,
        ctx: &Context<S>,
    ) -> Option<Prepared<'r>> {
        let model = self.model_of(rec)?;
        self.routes[model].prepare(rec, ctx, &self.policies, model, store)
    }

    fn unmatched<'r>(&'r self, rec: &Record<'_>, ctx: &Context<S>) -> Prepared<'r> {
        let seq = rec.meta.sequence_number.clone();
        let mut report = RecordReport {
            sequence_number: seq.clone(),
            model: None,
            kind: Some(rec.kind),
            outcome: Outcome::Ok,
        };
        if let Some(fallback) = &self.fallback {
            // The images were read as JSON by the envelope pass, so this cannot fail; if it
            // did, the record would be undecodable.
            let raw = |image: Option<&str>| {
                image
                    .map(|json| serde_json::value::RawValue::from_string(json.to_owned()))
                    .transpose()
            };
            let (new_image, old_image) = match (raw(rec.new_image), raw(rec.old_image)) {
                (Ok(new), Ok(old)) => (new, old),
                (Err(e), _) | (_, Err(e)) => {
                    let e = RecordError::new(
                        seq.to_string(),
                        RecordErrorKind::Envelope {
                            message: format!("image is not JSON: {e}"),
                        },
                    );
                    report.outcome = apply(self.policies.undecodable, e);
                    return Prepared { report, run: None };
                }
            };
            let record = Unmatched {
                kind: rec.kind,
                keys: rec.keys.clone().into_owned(),
                new_image,
                old_image,
                meta: rec.meta.clone(),
            };
            return Prepared {
                report,
                run: Some(fallback.call(record, ctx.clone(), tracing::Span::current())),
            };
        }
        let e = RecordError::new(
            seq.to_string(),
            RecordErrorKind::Unmatched {
                keys: rec.keys.to_string(),
            },
        );
        report.outcome = match self.policies.unmatched {
            Action::Fail => Outcome::Failed(e),
            Action::Skip => {
                tracing::debug!(keys = %rec.keys, "no model matches; acknowledged");
                Outcome::Skipped(e.to_string())
            }
        };
        Prepared { report, run: None }
    }

    fn deferred(&self, entry: &Entry<'_>) -> RecordReport {
        match entry {
            Entry::Broken(b) => RecordReport {
                sequence_number: b.sequence_number.as_str().into(),
                model: None,
                kind: b.kind,
                outcome: Outcome::Deferred,
            },
            Entry::Record(r) => {
                let model = self.model_of(r).map(|i| self.routes[i].entity());
                RecordReport {
                    sequence_number: r.meta.sequence_number.clone(),
                    model,
                    kind: Some(r.kind),
                    outcome: Outcome::Deferred,
                }
            }
        }
    }
}

/// The oldest and newest `ApproximateCreationDateTime` of the batch's readable records.
fn created_range(entries: &[Entry<'_>]) -> Option<(SystemTime, SystemTime)> {
    let mut range: Option<(SystemTime, SystemTime)> = None;
    for e in entries {
        let Entry::Record(r) = e else { continue };
        let Some(t) = r.meta.approximate_creation_time.as_ref() else {
            continue;
        };
        let t = t.to_system_time();
        range = Some(match range {
            None => (t, t),
            Some((lo, hi)) => (lo.min(t), hi.max(t)),
        });
    }
    range
}

/// One line per batch: counts per model and kind, failures, duration.
fn log_summary(report: &BatchReport, tally: &Tally, started: Instant) {
    if !tracing::enabled!(tracing::Level::INFO) {
        return;
    }
    let mut counts: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for &((model, kind, _), n) in &tally.counts {
        *counts.entry((model, kind)).or_default() += n;
    }
    let counts: Vec<String> = counts
        .into_iter()
        .map(|((m, k), n)| format!("{m}/{k}={n}"))
        .collect();
    tracing::info!(
        records = report.records.len(),
        failed = tally.with_outcome("failed"),
        skipped = tally.with_outcome("skipped"),
        deferred = tally.with_outcome("deferred"),
        counts = %counts.join(" "),
        reported = report.first_unacknowledged().map(|r| r.sequence_number.as_str()).unwrap_or(""),
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        "batch processed"
    );
}
