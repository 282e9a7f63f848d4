//! The model-typed part of routing, erased so one router holds many models: handlers behind
//! trait objects, and per model the route that matches keys, decodes images and prepares the
//! handler's call.

use std::any::Any;
use std::sync::Arc;

use tracing::Instrument as _;

use crate::change::{Change, Context, Op};
use crate::decode::{decode_image, decode_model_prefix};
use crate::error::{BoxError, ImageSide, RecordError, RecordErrorKind};
use crate::event::{ChangeKind, ImageStore, Record};
use crate::handler::{Fallback, Handler, Unmatched};
use crate::model::{Model, ModelKey};
use crate::registry::ModelSpec;
use crate::report::{Outcome, RecordReport};

use super::policy::{apply, Policies};

/// A boxed handler future.
use crate::BoxFuture;

pub(super) trait DynHandler<M: Model, S>: Send + Sync {
    fn call(
        &self,
        change: Change<M>,
        ctx: Context<S>,
        span: tracing::Span,
    ) -> BoxFuture<'_, Result<(), BoxError>>;
}

pub(super) struct Erased<H>(pub(super) H);

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

pub(super) trait DynFallback<S>: Send + Sync {
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
pub(super) struct Prepared<'r> {
    pub(super) report: RecordReport,
    pub(super) run: Option<BoxFuture<'r, Result<(), BoxError>>>,
}

/// The model-typed part of routing, erased so the router can hold many models.
pub(super) trait Route<S>: Send + Sync + Any {
    fn spec(&self) -> ModelSpec;
    fn entity(&self) -> &'static str;
    /// True when (`pk`, `sk`) is a key of this model.
    fn matches(&self, pk: &str, sk: &str) -> bool;
    /// Whether a handler takes INSERT, MODIFY, REMOVE.
    fn handled_kinds(&self) -> [bool; 3];
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

pub(super) struct ModelRoute<M: Model, S> {
    /// Handlers for INSERT, MODIFY, REMOVE.
    pub(super) handlers: [Option<Arc<dyn DynHandler<M, S>>>; 3],
}

pub(super) fn slot(kind: ChangeKind) -> usize {
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
    ) -> Result<Option<(M, crate::decode::StoredVersion)>, RecordError> {
        if let Some(slot) = rec.predecoded.take(side) {
            if let Some(done) = store.take::<(M, crate::decode::StoredVersion)>(model, slot) {
                return Ok(Some(done));
            }
        }
        let raw = match side {
            ImageSide::New => rec.new_image,
            ImageSide::Old => rec.old_image,
        };
        let Some(raw) = raw else { return Ok(None) };
        decode_image::<M>(raw, crate::decode::Hidden::of::<M>())
            .map(Some)
            .map_err(|e| {
                RecordError::new(
                    rec.meta.sequence_number.to_string(),
                    RecordErrorKind::Decode {
                        model: M::ENTITY,
                        side,
                        field: e.field,
                        message: e.message,
                    },
                )
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

    fn handled_kinds(&self) -> [bool; 3] {
        [0, 1, 2].map(|i| self.handlers[i].is_some())
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
        let key = M::Key::from_keys(rec.keys.s(M::PK_ATTR)?, rec.keys.sort_key(M::SK_ATTR)?)?;
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
        match super::guard::catch(call) {
            Ok(run) => Some(Prepared {
                report,
                run: Some(run),
            }),
            Err(panic) => {
                let e = RecordError::new(
                    report.sequence_number.to_string(),
                    RecordErrorKind::Panic {
                        model: M::ENTITY,
                        kind: rec.kind,
                        message: panic,
                    },
                );
                report.outcome = apply(policies.panic, e);
                Some(Prepared { report, run: None })
            }
        }
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
