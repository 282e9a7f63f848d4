//! What happened to each record of a batch, and the partial-batch response Lambda reads.

use serde::Serialize;

use crate::error::RecordError;
use crate::event::{ChangeKind, SequenceNumber};

/// The outcome of one record.
#[derive(Debug)]
pub enum Outcome {
    /// Handled (or nothing to do) and acknowledged.
    Ok,
    /// Acknowledged without a handler running: no model matched, no handler for the kind, or a
    /// skip policy applied. The reason says which.
    Skipped(String),
    /// Not acknowledged: Lambda will deliver it again.
    Failed(RecordError),
    /// Not attempted because an earlier record failed; Lambda delivers it again after that one.
    Deferred,
}

impl Outcome {
    /// `ok`, `skipped`, `failed` or `deferred`.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Skipped(_) => "skipped",
            Outcome::Failed(_) => "failed",
            Outcome::Deferred => "deferred",
        }
    }
}

/// One record's line in a [`BatchReport`].
#[derive(Debug)]
pub struct RecordReport {
    /// The record's sequence number (shared with the record's [`crate::RecordMeta`]).
    pub sequence_number: SequenceNumber,
    /// The model its keys matched, if any.
    pub model: Option<&'static str>,
    /// The change kind, if the envelope was readable.
    pub kind: Option<ChangeKind>,
    /// What happened.
    pub outcome: Outcome,
}

/// Every record's outcome, in batch order.
#[derive(Debug, Default)]
pub struct BatchReport {
    /// One entry per record, in the order Lambda sent them.
    pub records: Vec<RecordReport>,
}

impl BatchReport {
    /// The first failed record in batch order (Lambda resumes from the lowest failed sequence
    /// number, so reporting it is reporting all that must be redone).
    pub fn first_failure(&self) -> Option<&RecordReport> {
        self.records
            .iter()
            .find(|r| matches!(r.outcome, Outcome::Failed(_)))
    }

    /// True when some record failed.
    pub fn has_failures(&self) -> bool {
        self.first_failure().is_some()
    }

    /// The response for Lambda.
    pub fn response(&self) -> BatchResponse {
        BatchResponse {
            batch_item_failures: self
                .first_failure()
                .map(|r| ItemFailure {
                    item_identifier: r.sequence_number.to_string(),
                })
                .into_iter()
                .collect(),
        }
    }
}

/// Lambda's partial batch response (`ReportBatchItemFailures`): an empty list acknowledges the
/// whole batch.
///
/// ```
/// # extern crate dynastream_core as dynastream;
/// let r = dynastream::report::BatchResponse::default();
/// assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"batchItemFailures":[]}"#);
/// ```
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct BatchResponse {
    /// The failed records.
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
}

/// One failed record in a [`BatchResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ItemFailure {
    /// The record's sequence number.
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}
