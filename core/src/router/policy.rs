//! What the router does when a record cannot be handled (Lambda's stream rules: docs/semantics.md,
//! "Batch semantics"), and how a batch's records are run.

use crate::error::RecordError;
use crate::report::Outcome;

/// What to do with a record in a given situation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Report the record as failed: Lambda delivers it (and everything after it) again.
    Fail,
    /// Acknowledge the record and log it (debug for unmatched records, error otherwise).
    Skip,
}

/// Failure policies. The defaults (docs/semantics.md, "Batch semantics"): unmatched records
/// are skipped, everything else fails the record.
///
/// ```
/// # extern crate dynastream_core as dynastream;
/// use dynastream::{Action, Policies};
/// let p = Policies::default().undecodable(Action::Skip);
/// assert_eq!((p.undecodable, p.handler_error), (Action::Skip, Action::Fail));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
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

impl Policies {
    /// These policies, with `action` for a record no model matches.
    pub fn unmatched(mut self, action: Action) -> Self {
        self.unmatched = action;
        self
    }

    /// These policies, with `action` for a record that does not decode (or that a batch hook
    /// refused).
    pub fn undecodable(mut self, action: Action) -> Self {
        self.undecodable = action;
        self
    }

    /// These policies, with `action` for a handler's error.
    pub fn handler_error(mut self, action: Action) -> Self {
        self.handler_error = action;
        self
    }

    /// These policies, with `action` for a handler's panic.
    pub fn panic(mut self, action: Action) -> Self {
        self.panic = action;
        self
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
    /// number is reported; a record whose turn comes after a lower failure is known, in any
    /// item, is deferred (Lambda delivers it again anyway).
    PerKey {
        /// The most items in flight.
        max: usize,
    },
}

/// Applies a policy to a record error: the failure, or a logged skip.
pub(super) fn apply(action: Action, e: RecordError) -> Outcome {
    match action {
        Action::Fail => Outcome::Failed(e),
        Action::Skip => {
            tracing::error!(error = %e, "record skipped by policy");
            Outcome::Skipped(e.to_string())
        }
    }
}
