//! Collecting models, handlers, hooks and settings; checking them once.

use std::any::TypeId;
use std::sync::Arc;

use crate::error::RegistryError;
use crate::event::ChangeKind;
use crate::handler::{Fallback, Handler};
use crate::hook::BatchHook;
use crate::model::Model;
use crate::registry::Registry;

use super::route::{slot, DynFallback, DynHandler, Erased, ModelRoute, Route};
use super::{Concurrency, Policies, Router};

/// Collects models, handlers and settings; [`RouterBuilder::build`] checks them once.
pub struct RouterBuilder<S> {
    pub(super) state: Arc<S>,
    pub(super) routes: Vec<(TypeId, Box<dyn Route<S>>)>,
    pub(super) fallback: Option<Box<dyn DynFallback<S>>>,
    pub(super) policies: Policies,
    pub(super) concurrency: Concurrency,
    pub(super) hooks: Vec<Box<dyn BatchHook>>,
    pub(super) errors: Vec<RegistryError>,
    pub(super) metrics: Option<crate::metrics::Metrics>,
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

    /// Writes each batch's metrics to standard output in CloudWatch's Embedded Metric Format
    /// when the batch is done (see [`crate::metrics`] for the names, units and dimensions).
    /// [`build`](Self::build) installs the process's EMF recorder; it fails with
    /// [`RegistryError::Metrics`] when another recorder is installed.
    pub fn metrics(mut self, metrics: crate::metrics::Metrics) -> Self {
        self.metrics = Some(metrics);
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
                source: e.into(),
            })?;
        }
        let metrics = match &self.metrics {
            Some(m) => {
                Some(crate::metrics::install(m).map_err(|e| RegistryError::Metrics(Arc::new(e)))?)
            }
            None => None,
        };
        Ok(Router {
            metrics,
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
