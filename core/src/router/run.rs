//! Running a batch: the hooks first, then the records one at a time or per key, each
//! handler's future under the one panic guard ([`Router::finish`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::StreamExt as _;

use crate::change::Context;
use crate::error::{RecordError, RecordErrorKind};
use crate::event::{ChangeKind, Entry, ImageStore};
use crate::hook::Batch;
use crate::report::{BatchReport, Outcome, RecordReport};

use super::policy::apply;
use super::route::Prepared;
use super::Router;

/// The records hooks refused, in batch order: each gets the `undecodable` policy instead of
/// its handler.
pub(super) type Refused = std::collections::VecDeque<(usize, RecordError)>;

/// The refusal for record `i`, if it is the next one.
pub(super) fn refusal_for(refused: &mut Refused, i: usize) -> Option<RecordError> {
    match refused.front() {
        Some((at, _)) if *at == i => refused.pop_front().map(|(_, e)| e),
        _ => None,
    }
}

impl<S: Send + Sync + 'static> Router<S> {
    /// Runs the hooks over the batch. `Err` when one failed as a whole (nothing of the batch
    /// may be acknowledged); otherwise the records they refused, in batch order (one per
    /// record: the first hook's reason).
    pub(super) async fn run_hooks(
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
                    RecordError::new(
                        entry.sequence_number().to_string(),
                        RecordErrorKind::Hook {
                            hook: hook.name(),
                            source: r.error,
                        },
                    ),
                ));
            }
        }
        // Stable: for a record two hooks refused, the first hook's reason is kept.
        refused.sort_by_key(|(i, _)| *i);
        refused.dedup_by_key(|(i, _)| *i);
        Ok(refused.into())
    }

    /// Every record failed because a hook failed as a whole.
    pub(super) fn all_failed(
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
                    r.outcome = Outcome::Failed(RecordError::new(
                        r.sequence_number.to_string(),
                        RecordErrorKind::Hook {
                            hook,
                            source: message.clone().into(),
                        },
                    ));
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

    pub(super) async fn run_sequential(
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

    /// Records of different items concurrently, at most `max` items at a time, each item's
    /// records in batch order. A record is prepared (matched, its images taken from the store
    /// into its change, its handler's future made) only when its item's turn comes, so at most
    /// `max` changes are alive at once, as in the sequential mode one is; preparing every record
    /// first held the whole batch's changes and handler futures at the same time.
    pub(super) async fn run_per_key(
        &self,
        mut entries: Vec<Entry<'_>>,
        store: &mut ImageStore,
        ctx: &Context<S>,
        max: usize,
        refused: Refused,
    ) -> BatchReport {
        let n = entries.len();
        let min_failed = AtomicUsize::new(usize::MAX);
        // Records the hooks refused are settled now: one that fails holds back every record
        // after it, in every group.
        let mut settled: HashMap<usize, Prepared<'_>> = HashMap::new();
        for (i, e) in refused {
            let Some(entry) = entries.get(i) else {
                continue;
            };
            let p = self.refused(entry, e);
            if matches!(p.report.outcome, Outcome::Failed(_)) {
                min_failed.fetch_min(i, Ordering::SeqCst);
            }
            settled.insert(i, p);
        }
        // Group the records by item (their keys), in batch order.
        let mut groups: Vec<Vec<(usize, &mut Entry<'_>, Option<Prepared<'_>>)>> = Vec::new();
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
            groups[g].push((i, entry, settled.remove(&i)));
        }
        drop(by_key);
        // The groups share the batch's decoded images; a record takes its own, under the lock
        // for the moment it is prepared (never across an await).
        let store = std::sync::Mutex::new(store);
        let (store, min_failed) = (&store, &min_failed);
        // The groups' futures are made first: a stream over a mapping closure would make the
        // batch's future unprovably `Send` (a compiler limit with higher-ranked closures),
        // which Lambda's concurrent runtime requires.
        let runs: Vec<_> = groups
            .into_iter()
            .map(|group| self.run_group(group, store, min_failed, ctx))
            .collect();
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

    /// One item's records in batch order, until one fails (the rest are deferred), or until
    /// an earlier record of the batch failed.
    async fn run_group<'r>(
        &'r self,
        group: Vec<(usize, &mut Entry<'_>, Option<Prepared<'r>>)>,
        store: &std::sync::Mutex<&mut ImageStore>,
        min_failed: &AtomicUsize,
        ctx: &Context<S>,
    ) -> Vec<(usize, RecordReport)> {
        let mut out = Vec::with_capacity(group.len());
        let mut stop = false;
        for (i, entry, settled) in group {
            if stop || i > min_failed.load(Ordering::SeqCst) {
                out.push((i, self.deferred(entry)));
                continue;
            }
            let prepared = match settled {
                Some(p) => p,
                None => {
                    let mut images = match store.lock() {
                        Ok(guard) => guard,
                        // A panic while preparing is caught inside `prepare`; a poisoned
                        // lock still guards a store whose slots are whole.
                        Err(poisoned) => poisoned.into_inner(),
                    };
                    self.prepare(entry, &mut images, ctx)
                }
            };
            let report = self.finish(prepared).await;
            if matches!(report.outcome, Outcome::Failed(_)) {
                min_failed.fetch_min(i, Ordering::SeqCst);
                stop = true;
            }
            out.push((i, report));
        }
        out
    }

    /// Runs the handler, if any, catching errors and panics.
    async fn finish(&self, p: Prepared<'_>) -> RecordReport {
        let Prepared { mut report, run } = p;
        let Some(fut) = run else { return report };
        let model = report.model.unwrap_or("fallback");
        let kind = report.kind.unwrap_or(ChangeKind::Insert);
        // The sequence number is copied into an error only when there is one.
        let sequence_number = report.sequence_number.as_str();
        let outcome = match super::guard::catch_async(fut).await {
            Ok(Ok(())) => Outcome::Ok,
            Ok(Err(source)) => apply(
                self.policies.handler_error,
                RecordError::new(
                    sequence_number.to_owned(),
                    RecordErrorKind::Handler {
                        model,
                        kind,
                        source,
                    },
                ),
            ),
            Err(panic) => apply(
                self.policies.panic,
                RecordError::new(
                    sequence_number.to_owned(),
                    RecordErrorKind::Panic {
                        model,
                        kind,
                        message: panic,
                    },
                ),
            ),
        };
        report.outcome = outcome;
        if let Outcome::Failed(e) = &report.outcome {
            tracing::error!(error = %e, "record failed");
        }
        report
    }
}
