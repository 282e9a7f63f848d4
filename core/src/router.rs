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

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use futures_util::{FutureExt as _, StreamExt as _};
use tracing::Instrument as _;

use crate::change::{Change, Context, Op};
use crate::decode::{decode_image, decode_model_prefix};
use crate::error::{BoxError, EventError, ImageSide, RecordError, RegistryError};
use crate::event::{parse_batch_with, ChangeKind, Entry, ImageHook, ImageStore, Keys, Record};
use crate::handler::{Fallback, Handler, Unmatched};
use crate::hook::{Batch, BatchHook};
use crate::model::{Model, ModelKey};
use crate::registry::{ModelSpec, Registry};
use crate::report::{BatchReport, Outcome, RecordReport};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What to do with a record in a given situation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Report the record as failed: Lambda delivers it (and everything after it) again.
    Fail,
    /// Acknowledge the record and log it (debug for unmatched records, error otherwise).
    Skip,
}

/// Failure policies. The defaults (DESIGN.md §5): unmatched records are skipped, everything
/// else fails the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policies {
    /// A record no model matches (and no fallback is registered). Default: [`Action::Skip`].
    pub unmatched: Action,
    /// A record whose envelope or image cannot be decoded into its model. Default: [`Action::Fail`].
    pub undecodable: Action,
    /// A handler returned an error. Default: [`Action::Fail`].
    pub handler_error: Action,
    /// A handler panicked. Default: [`Action::Fail`]. A panic never takes the batch down.
    pub panic: Action,
}

impl Default for Policies {
    fn default() -> Self {
        Policies {
            unmatched: Action::Skip,
            undecodable: Action::Fail,
            handler_error: Action::Fail,
            panic: Action::Fail,
        }
    }
}

/// How records of a batch are run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concurrency {
    /// One at a time in batch order, stopping at the first failure (the default): everything
    /// after a failure would be delivered again anyway.
    Sequential,
    /// Records of different items in parallel, at most `max` items at a time; each item's
    /// records in order, stopping at that item's first failure. The lowest failed sequence
    /// number is reported.
    PerKey {
        /// The most items in flight.
        max: usize,
    },
}

trait DynHandler<M: Model, S>: Send + Sync {
    fn call(
        &self,
        change: Change<M>,
        ctx: Context<S>,
        span: tracing::Span,
    ) -> BoxFuture<'_, Result<(), BoxError>>;
}

struct Erased<H>(H);

impl<M: Model, S: Send + Sync + 'static, H: Handler<M, S>> DynHandler<M, S> for Erased<H> {
    fn call(
        &self,
        change: Change<M>,
        ctx: Context<S>,
        span: tracing::Span,
    ) -> BoxFuture<'_, Result<(), BoxError>> {
        Box::pin(self.0.handle(change, ctx).instrument(span))
    }
}

trait DynFallback<S>: Send + Sync {
    fn call(
        &self,
        record: Unmatched,
        ctx: Context<S>,
        span: tracing::Span,
    ) -> BoxFuture<'_, Result<(), BoxError>>;
}

impl<S: Send + Sync + 'static, F: Fallback<S>> DynFallback<S> for Erased<F> {
    fn call(
        &self,
        record: Unmatched,
        ctx: Context<S>,
        span: tracing::Span,
    ) -> BoxFuture<'_, Result<(), BoxError>> {
        Box::pin(self.0.handle(record, ctx).instrument(span))
    }
}

/// A record on its way: routed (and decoded) but its handler not yet run.
struct Prepared<'r> {
    report: RecordReport,
    run: Option<BoxFuture<'r, Result<(), BoxError>>>,
}

/// The model-typed part of routing, erased so the router can hold many models.
trait Route<S>: Send + Sync + Any {
    fn spec(&self) -> ModelSpec;
    fn entity(&self) -> &'static str;
    /// True when (`pk`, `sk`) is a key of this model.
    fn matches(&self, pk: &str, sk: &str) -> bool;
    /// Decodes the image at the start of `json` into `store` (this route is model `model`)
    /// if a handler of `kind` (or, when the kind is not known yet, of any kind that carries
    /// this image) is registered. Returns the store slot and the image's length.
    fn predecode(
        &self,
        model: usize,
        kind: Option<ChangeKind>,
        side: ImageSide,
        json: &str,
        store: &mut ImageStore,
    ) -> Option<(usize, usize)>;
    /// `None` when the keys do not match this model (`model`, whose decoded images are in
    /// `store`).
    fn prepare<'r>(
        &'r self,
        rec: &mut Record<'_>,
        ctx: &Context<S>,
        policies: &Policies,
        model: usize,
        store: &mut ImageStore,
    ) -> Option<Prepared<'r>>;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

struct ModelRoute<M: Model, S> {
    /// Handlers for INSERT, MODIFY, REMOVE.
    handlers: [Option<Arc<dyn DynHandler<M, S>>>; 3],
}

fn slot(kind: ChangeKind) -> usize {
    match kind {
        ChangeKind::Insert => 0,
        ChangeKind::Modify => 1,
        ChangeKind::Remove => 2,
    }
}

impl<M: Model, S: Send + Sync + 'static> ModelRoute<M, S> {
    fn decode(
        rec: &mut Record<'_>,
        side: ImageSide,
        model: usize,
        store: &mut ImageStore,
    ) -> Result<Option<(M, Option<String>)>, RecordError> {
        if let Some(slot) = rec.predecoded.take(side) {
            if let Some(done) = store.take::<(M, Option<String>)>(model, slot) {
                return Ok(Some(done));
            }
        }
        let raw = match side {
            ImageSide::New => rec.new_image,
            ImageSide::Old => rec.old_image,
        };
        let Some(raw) = raw else { return Ok(None) };
        decode_image::<M>(raw, [M::PK_ATTR, M::SK_ATTR])
            .map(Some)
            .map_err(|e| RecordError::Decode {
                sequence_number: rec.meta.sequence_number.to_string(),
                model: M::ENTITY,
                side,
                field: e.field,
                message: e.message,
            })
    }
}

impl<M: Model, S: Send + Sync + 'static> Route<S> for ModelRoute<M, S> {
    fn spec(&self) -> ModelSpec {
        ModelSpec::of::<M>()
    }

    fn entity(&self) -> &'static str {
        M::ENTITY
    }

    fn matches(&self, pk: &str, sk: &str) -> bool {
        M::Key::matches(pk, sk)
    }

    fn predecode(
        &self,
        model: usize,
        kind: Option<ChangeKind>,
        side: ImageSide,
        json: &str,
        store: &mut ImageStore,
    ) -> Option<(usize, usize)> {
        let handled = |k: ChangeKind| self.handlers[slot(k)].is_some();
        let wanted = match (side, kind) {
            (ImageSide::New, Some(k)) => k != ChangeKind::Remove && handled(k),
            (ImageSide::Old, Some(k)) => k != ChangeKind::Insert && handled(k),
            (ImageSide::New, None) => handled(ChangeKind::Insert) || handled(ChangeKind::Modify),
            (ImageSide::Old, None) => handled(ChangeKind::Modify) || handled(ChangeKind::Remove),
        };
        if !wanted {
            return None;
        }
        let (value, len) = decode_model_prefix::<M>(json)?;
        Some((store.put(model, value)?, len))
    }

    fn prepare<'r>(
        &'r self,
        rec: &mut Record<'_>,
        ctx: &Context<S>,
        policies: &Policies,
        model: usize,
        store: &mut ImageStore,
    ) -> Option<Prepared<'r>> {
        let key = M::Key::from_keys(rec.keys.s(M::PK_ATTR)?, rec.keys.s(M::SK_ATTR)?)?;
        let mut report = RecordReport {
            sequence_number: rec.meta.sequence_number.clone(),
            model: Some(M::ENTITY),
            kind: Some(rec.kind),
            outcome: Outcome::Ok,
        };
        let Some(handler) = &self.handlers[slot(rec.kind)] else {
            tracing::debug!("no {} handler for {}; acknowledged", rec.kind, M::ENTITY);
            report.outcome = Outcome::Skipped(format!("no {} handler for {}", rec.kind, M::ENTITY));
            return Some(Prepared { report, run: None });
        };
        let images = (|| {
            let new = if rec.kind == ChangeKind::Remove {
                None
            } else {
                Self::decode(rec, ImageSide::New, model, store)?
            };
            let old = if rec.kind == ChangeKind::Insert {
                None
            } else {
                Self::decode(rec, ImageSide::Old, model, store)?
            };
            Ok::<_, RecordError>((new, old))
        })();
        let (new, old) = match images {
            Ok(v) => v,
            Err(e) => {
                report.outcome = apply(policies.undecodable, e);
                return Some(Prepared { report, run: None });
            }
        };
        // The stored version comes from the new image when there is one, else the old one.
        let (new, new_version) = new.unzip();
        let (old, old_version) = old.unzip();
        let stored_schema_version = if new.is_some() {
            new_version
        } else {
            old_version
        }
        .flatten();
        let op = match rec.kind {
            ChangeKind::Insert => Op::Insert { new },
            ChangeKind::Modify => Op::Modify { old, new },
            ChangeKind::Remove => Op::Remove { old },
        };
        // The record is routed once; its metadata moves into the change.
        let change = Change {
            key,
            op,
            meta: rec.meta.take(),
            stored_schema_version,
        };
        // A handler may run code (and panic) before it returns its future.
        let call = || handler.call(change, ctx.clone(), tracing::Span::current());
        match std::panic::catch_unwind(AssertUnwindSafe(call)) {
            Ok(run) => Some(Prepared {
                report,
                run: Some(run),
            }),
            Err(panic) => {
                let e = RecordError::Panic {
                    sequence_number: report.sequence_number.to_string(),
                    model: M::ENTITY,
                    kind: rec.kind,
                    message: panic_message(&*panic),
                };
                report.outcome = apply(policies.panic, e);
                Some(Prepared { report, run: None })
            }
        }
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// Applies a policy to a record error: the failure, or a logged skip.
fn apply(action: Action, e: RecordError) -> Outcome {
    match action {
        Action::Fail => Outcome::Failed(e),
        Action::Skip => {
            tracing::error!(error = %e, "record skipped by policy");
            Outcome::Skipped(e.to_string())
        }
    }
}

/// Collects models, handlers and settings; [`RouterBuilder::build`] checks them once.
pub struct RouterBuilder<S> {
    state: Arc<S>,
    routes: Vec<(TypeId, Box<dyn Route<S>>)>,
    fallback: Option<Box<dyn DynFallback<S>>>,
    policies: Policies,
    concurrency: Concurrency,
    hooks: Vec<Box<dyn BatchHook>>,
    errors: Vec<RegistryError>,
}

impl<S: Send + Sync + 'static> RouterBuilder<S> {
    fn route_mut<M: Model>(&mut self) -> &mut ModelRoute<M, S> {
        let id = TypeId::of::<M>();
        let at = match self.routes.iter().position(|(t, _)| *t == id) {
            Some(at) => at,
            None => {
                self.routes.push((
                    id,
                    Box::new(ModelRoute::<M, S> {
                        handlers: [None, None, None],
                    }),
                ));
                self.routes.len() - 1
            }
        };
        match self.routes[at]
            .1
            .as_any_mut()
            .downcast_mut::<ModelRoute<M, S>>()
        {
            Some(r) => r,
            None => unreachable!("routes are keyed by the model's TypeId"),
        }
    }

    fn add<M: Model>(&mut self, kinds: &[ChangeKind], handler: Arc<dyn DynHandler<M, S>>) {
        let mut dup = Vec::new();
        let route = self.route_mut::<M>();
        for &k in kinds {
            if route.handlers[slot(k)].is_some() {
                dup.push(RegistryError::DuplicateHandler {
                    model: M::ENTITY,
                    kind: k,
                });
            }
            route.handlers[slot(k)] = Some(Arc::clone(&handler));
        }
        self.errors.extend(dup);
    }

    /// Registers `handler` for every change (INSERT, MODIFY, REMOVE) of model `M`.
    pub fn on<M: Model, H: Handler<M, S>>(mut self, handler: H) -> Self {
        self.add::<M>(
            &[ChangeKind::Insert, ChangeKind::Modify, ChangeKind::Remove],
            Arc::new(Erased(handler)),
        );
        self
    }

    /// Registers `handler` for one change kind of model `M`; other kinds of `M` are
    /// acknowledged without a handler unless registered too.
    pub fn on_kind<M: Model, H: Handler<M, S>>(mut self, kind: ChangeKind, handler: H) -> Self {
        self.add::<M>(&[kind], Arc::new(Erased(handler)));
        self
    }

    /// Registers model `M` without a handler: its records are recognised (and not sent to the
    /// fallback) and acknowledged.
    pub fn model<M: Model>(mut self) -> Self {
        self.route_mut::<M>();
        self
    }

    /// The handler for records no model matches. Without one, the `unmatched` policy applies.
    pub fn fallback<F: Fallback<S>>(mut self, fallback: F) -> Self {
        self.fallback = Some(Box::new(Erased(fallback)));
        self
    }

    /// Replaces the failure policies.
    pub fn policies(mut self, policies: Policies) -> Self {
        self.policies = policies;
        self
    }

    /// Sets how records are run (default [`Concurrency::Sequential`]).
    pub fn concurrency(mut self, concurrency: Concurrency) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// Adds a hook that runs once per batch before the handlers and may refuse records (the
    /// Postgres mirror is one; see [`crate::hook`]). A record is acknowledged only when every
    /// hook let it through and its handler succeeded. Hooks run in the order they are added.
    pub fn hook(mut self, hook: impl BatchHook) -> Self {
        self.hooks.push(Box::new(hook));
        self
    }

    /// Checks the set-up: duplicate handlers, duplicate entity names, overlapping models.
    pub fn build(self) -> Result<Router<S>, RegistryError> {
        if let Some(e) = self.errors.into_iter().next() {
            return Err(e);
        }
        if self.concurrency == (Concurrency::PerKey { max: 0 }) {
            return Err(RegistryError::ZeroConcurrency);
        }
        let registry = Registry::new(self.routes.iter().map(|(_, r)| r.spec()).collect())?;
        for hook in &self.hooks {
            hook.prepare(&registry).map_err(|e| RegistryError::Hook {
                hook: hook.name(),
                message: e.to_string(),
            })?;
        }
        Ok(Router {
            hooks: self.hooks,
            state: self.state,
            registry,
            routes: self.routes.into_iter().map(|(_, r)| r).collect(),
            fallback: self.fallback,
            policies: self.policies,
            concurrency: self.concurrency,
            predecode: true,
        })
    }
}

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
        std::panic::catch_unwind(AssertUnwindSafe(|| {
            route.predecode(model, kind, side, json, store)
        }))
        .ok()
        .flatten()
    }
}

/// The records hooks refused, in batch order: each gets the `undecodable` policy instead of
/// its handler.
type Refused = std::collections::VecDeque<(usize, RecordError)>;

/// The refusal for record `i`, if it is the next one.
fn refusal_for(refused: &mut Refused, i: usize) -> Option<RecordError> {
    match refused.front() {
        Some((at, _)) if *at == i => refused.pop_front().map(|(_, e)| e),
        _ => None,
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

    /// Starts every hook ([`BatchHook::start`]: a mirror connects and creates its table), so
    /// a misconfiguration fails at start-up rather than on the first batch. Optional: hooks
    /// start themselves on first use.
    pub async fn start(&self) -> Result<(), RegistryError> {
        for hook in &self.hooks {
            hook.start().await.map_err(|e| RegistryError::Hook {
                hook: hook.name(),
                message: e.to_string(),
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
        let entries = match parse_batch_with(json, hook, &mut store) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(error = %e, "invocation failed: unreadable event");
                return Err(e);
            }
        };
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
                let report = self.all_failed(&entries, hook, &e);
                log_summary(&report, started);
                return Ok(report);
            }
        };
        let report = match self.concurrency {
            Concurrency::Sequential => {
                self.run_sequential(entries, &mut store, &ctx, refused)
                    .await
            }
            Concurrency::PerKey { max } => {
                self.run_per_key(entries, &mut store, &ctx, max, refused)
                    .await
            }
        };
        log_summary(&report, started);
        Ok(report)
    }

    /// Runs the hooks over the batch. `Err` when one failed as a whole (nothing of the batch
    /// may be acknowledged); otherwise the records they refused, in batch order (one per
    /// record: the first hook's reason).
    async fn run_hooks(
        &self,
        entries: &[Entry<'_>],
    ) -> Result<Refused, (&'static str, crate::error::BoxError)> {
        if self.hooks.is_empty() {
            return Ok(Refused::new());
        }
        let entities: Vec<Option<&'static str>> = entries
            .iter()
            .map(|e| match e {
                Entry::Record(rec) => self.model_of(rec).map(|m| self.routes[m].entity()),
                Entry::Broken(_) => None,
            })
            .collect();
        let mut refused: Vec<(usize, RecordError)> = Vec::new();
        for hook in &self.hooks {
            let batch = Batch::new(entries, &entities);
            let refusals = hook
                .before_handlers(batch)
                .await
                .map_err(|e| (hook.name(), e))?;
            for r in refusals {
                let Some(entry) = entries.get(r.index) else {
                    tracing::warn!(
                        hook = hook.name(),
                        index = r.index,
                        "hook refused a record the batch does not have"
                    );
                    continue;
                };
                refused.push((
                    r.index,
                    RecordError::Hook {
                        sequence_number: entry.sequence_number().to_string(),
                        hook: hook.name(),
                        source: r.error,
                    },
                ));
            }
        }
        // Stable: for a record two hooks refused, the first hook's reason is kept.
        refused.sort_by_key(|(i, _)| *i);
        refused.dedup_by_key(|(i, _)| *i);
        Ok(refused.into())
    }

    /// Every record failed because a hook failed as a whole.
    fn all_failed(
        &self,
        entries: &[Entry<'_>],
        hook: &'static str,
        e: &crate::error::BoxError,
    ) -> BatchReport {
        let message = e.to_string();
        BatchReport {
            records: entries
                .iter()
                .map(|entry| {
                    let mut r = self.deferred(entry);
                    r.outcome = Outcome::Failed(RecordError::Hook {
                        sequence_number: r.sequence_number.to_string(),
                        hook,
                        source: message.clone().into(),
                    });
                    r
                })
                .collect(),
        }
    }

    /// A record a hook refused: it fails, or is skipped, by the `undecodable` policy, without
    /// its handler.
    fn refused(&self, entry: &Entry<'_>, e: RecordError) -> Prepared<'static> {
        let mut report = self.deferred(entry);
        report.outcome = apply(self.policies.undecodable, e);
        Prepared { report, run: None }
    }

    async fn run_sequential(
        &self,
        mut entries: Vec<Entry<'_>>,
        store: &mut ImageStore,
        ctx: &Context<S>,
        mut refused: Refused,
    ) -> BatchReport {
        let mut records = Vec::with_capacity(entries.len());
        let mut failed = false;
        // Entries are worked on in place: a record is a few hundred bytes, and moving each out
        // of the vector would copy them all once more.
        for (i, entry) in entries.iter_mut().enumerate() {
            if failed {
                records.push(self.deferred(entry));
                continue;
            }
            let prepared = match refusal_for(&mut refused, i) {
                Some(e) => self.refused(entry, e),
                None => self.prepare(entry, store, ctx),
            };
            let report = self.finish(prepared).await;
            failed = matches!(report.outcome, Outcome::Failed(_));
            records.push(report);
        }
        BatchReport { records }
    }

    async fn run_per_key(
        &self,
        mut entries: Vec<Entry<'_>>,
        store: &mut ImageStore,
        ctx: &Context<S>,
        max: usize,
        mut refused: Refused,
    ) -> BatchReport {
        let n = entries.len();
        let min_failed = AtomicUsize::new(usize::MAX);
        let mut groups: Vec<Vec<(usize, Prepared<'_>)>> = Vec::new();
        let mut by_key: HashMap<String, usize> = HashMap::new();
        for (i, entry) in entries.iter_mut().enumerate() {
            let item = match &*entry {
                Entry::Record(r) => r.keys.to_string(),
                Entry::Broken(b) => format!("\u{0}broken:{}", b.sequence_number),
            };
            let g = *by_key.entry(item).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            let prepared = match refusal_for(&mut refused, i) {
                Some(e) => {
                    let p = self.refused(entry, e);
                    // Records after a refused one wait, in every group.
                    if matches!(p.report.outcome, Outcome::Failed(_)) {
                        min_failed.fetch_min(i, Ordering::SeqCst);
                    }
                    p
                }
                None => self.prepare(entry, store, ctx),
            };
            groups[g].push((i, prepared));
        }
        let min_failed = &min_failed;
        let runs = groups.into_iter().map(|group| async move {
            let mut out = Vec::with_capacity(group.len());
            let mut stop = false;
            for (i, p) in group {
                if stop || i > min_failed.load(Ordering::SeqCst) {
                    out.push((
                        i,
                        RecordReport {
                            outcome: Outcome::Deferred,
                            ..p.report
                        },
                    ));
                    continue;
                }
                let report = self.finish(p).await;
                if matches!(report.outcome, Outcome::Failed(_)) {
                    min_failed.fetch_min(i, Ordering::SeqCst);
                    stop = true;
                }
                out.push((i, report));
            }
            out
        });
        let done: Vec<Vec<(usize, RecordReport)>> = futures_util::stream::iter(runs)
            .buffer_unordered(max)
            .collect()
            .await;
        let mut slots: Vec<Option<RecordReport>> = (0..n).map(|_| None).collect();
        for (i, r) in done.into_iter().flatten() {
            slots[i] = Some(r);
        }
        BatchReport {
            records: slots.into_iter().flatten().collect(),
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
                let e = RecordError::Envelope {
                    sequence_number: b.sequence_number.clone(),
                    message: b.message.clone(),
                };
                let report = RecordReport {
                    sequence_number: b.sequence_number.as_str().into(),
                    model: None,
                    kind: None,
                    outcome: apply(self.policies.undecodable, e),
                };
                return Prepared { report, run: None };
            }
            Entry::Record(r) => r,
        };
        let span = tracing::info_span!("record", seq = %rec.meta.sequence_number, event = rec.kind.as_str(), model = tracing::field::Empty);
        let _enter = span.enter();
        let routed = std::panic::catch_unwind(AssertUnwindSafe(|| self.route(rec, store, ctx)));
        let prepared = match routed {
            Ok(Some(p)) => p,
            Ok(None) => self.unmatched(rec, ctx),
            Err(panic) => {
                let e = RecordError::Panic {
                    sequence_number: rec.meta.sequence_number.to_string(),
                    model: "decode",
                    kind: rec.kind,
                    message: panic_message(&*panic),
                };
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
            let (Some(pk), Some(sk)) = (keys.s(pk_attr), keys.s(sk_attr)) else {
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
                    let e = RecordError::Envelope {
                        sequence_number: seq.to_string(),
                        message: format!("image is not JSON: {e}"),
                    };
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
        let e = RecordError::Unmatched {
            sequence_number: seq.to_string(),
            keys: rec.keys.to_string(),
        };
        report.outcome = match self.policies.unmatched {
            Action::Fail => Outcome::Failed(e),
            Action::Skip => {
                tracing::debug!(keys = %rec.keys, "no model matches; acknowledged");
                Outcome::Skipped(e.to_string())
            }
        };
        Prepared { report, run: None }
    }

    /// Runs the handler, if any, catching errors and panics.
    async fn finish(&self, p: Prepared<'_>) -> RecordReport {
        let Prepared { mut report, run } = p;
        let Some(fut) = run else { return report };
        let model = report.model.unwrap_or("fallback");
        let kind = report.kind.unwrap_or(ChangeKind::Insert);
        // The sequence number is copied into an error only when there is one.
        let sequence_number = report.sequence_number.as_str();
        let outcome = match AssertUnwindSafe(fut).catch_unwind().await {
            Ok(Ok(())) => Outcome::Ok,
            Ok(Err(source)) => apply(
                self.policies.handler_error,
                RecordError::Handler {
                    sequence_number: sequence_number.to_owned(),
                    model,
                    kind,
                    source,
                },
            ),
            Err(panic) => apply(
                self.policies.panic,
                RecordError::Panic {
                    sequence_number: sequence_number.to_owned(),
                    model,
                    kind,
                    message: panic_message(&*panic),
                },
            ),
        };
        report.outcome = outcome;
        if let Outcome::Failed(e) = &report.outcome {
            tracing::error!(error = %e, "record failed");
        }
        report
    }

    fn deferred(&self, entry: &Entry<'_>) -> RecordReport {
        match entry {
            Entry::Broken(b) => RecordReport {
                sequence_number: b.sequence_number.as_str().into(),
                model: None,
                kind: None,
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

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// One line per batch: counts per model and kind, failures, duration.
fn log_summary(report: &BatchReport, started: Instant) {
    if !tracing::enabled!(tracing::Level::INFO) {
        return;
    }
    let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let (mut failed, mut skipped, mut deferred) = (0, 0, 0);
    for r in &report.records {
        *counts
            .entry((
                r.model.unwrap_or("-"),
                r.kind.map_or("-", ChangeKind::as_str),
            ))
            .or_default() += 1;
        match r.outcome {
            Outcome::Failed(_) => failed += 1,
            Outcome::Skipped(_) => skipped += 1,
            Outcome::Deferred => deferred += 1,
            Outcome::Ok => {}
        }
    }
    let counts: Vec<String> = counts
        .into_iter()
        .map(|((m, k), n)| format!("{m}/{k}={n}"))
        .collect();
    tracing::info!(
        records = report.records.len(),
        failed,
        skipped,
        deferred,
        counts = %counts.join(" "),
        reported = report.first_failure().map(|r| r.sequence_number.as_str()).unwrap_or(""),
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        "batch processed"
    );
}
