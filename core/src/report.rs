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

    /// The first record in delivery order that is not acknowledged: failed, or deferred
    /// behind a failure. On DynamoDB Streams it is the first failure; in a Kinesis batch whose
    /// changes ran in another order (docs/semantics.md, "Kinesis Data Streams for DynamoDB") a
    /// change that did not run may have been delivered before the one that failed, and Lambda
    /// must deliver again from there.
    pub fn first_unacknowledged(&self) -> Option<&RecordReport> {
        self.has_failures()
            .then(|| {
                self.records
                    .iter()
                    .find(|r| matches!(r.outcome, Outcome::Failed(_) | Outcome::Deferred))
            })
            .flatten()
    }

    /// The response for Lambda: the first unacknowledged record, whose sequence number
    /// Lambda restarts the shard at.
    pub fn response(&self) -> BatchResponse {
        BatchResponse {
            batch_item_failures: self
                .first_unacknowledged()
                .map(|r| ItemFailure {
                    item_identifier: r.sequence_number.to_string(),
                })
                .into_iter()
                .collect(),
        }
    }
}

/// A batch's records counted by (model, change kind, outcome), and its failures by reason:
/// what the summary log line and the metrics are made of, counted once per batch.
pub(crate) struct Tally {
    /// ((model or `-`, kind or `-`, outcome label), records), in first-seen order.
    pub(crate) counts: Vec<((&'static str, &'static str, &'static str), u64)>,
    /// (reason, failed records): [`crate::metrics::reason`] of each failure.
    pub(crate) reasons: Vec<(&'static str, u64)>,
}

impl Tally {
    pub(crate) fn of(report: &BatchReport) -> Self {
        /// Model names, kinds, labels and reasons are `&'static str`s, usually the same
        /// literal: one pointer comparison decides most, the text only when they differ.
        fn same(a: &'static str, b: &'static str) -> bool {
            std::ptr::eq(a, b) || a == b
        }
        type Key = (&'static str, &'static str, &'static str);
        fn same_key(a: &Key, b: &Key) -> bool {
            same(a.0, b.0) && same(a.1, b.1) && same(a.2, b.2)
        }
        fn add<K: Copy>(list: &mut Vec<(K, u64)>, key: K, eq: impl Fn(&K, &K) -> bool) {
            // A batch has a handful of distinct keys: a scan beats a map.
            match list.iter_mut().find(|(k, _)| eq(k, &key)) {
                Some((_, n)) => *n += 1,
                None => list.push((key, 1)),
            }
        }
        let mut t = Tally {
            counts: Vec::new(),
            reasons: Vec::new(),
        };
        for r in &report.records {
            let key = (
                r.model.unwrap_or("-"),
                r.kind.map_or("-", ChangeKind::as_str),
                r.outcome.label(),
            );
            match t.counts.last_mut() {
                // Runs of one model and kind are common: no scan for them.
                Some((k, n)) if same_key(k, &key) => *n += 1,
                _ => add(&mut t.counts, key, same_key),
            }
            if let Outcome::Failed(e) = &r.outcome {
                add(&mut t.reasons, crate::metrics::reason(&e.kind), |a, b| {
                    same(a, b)
                });
            }
        }
        t
    }

    /// Records with `outcome` (a label: `ok`, `skipped`, `failed`, `deferred`).
    pub(crate) fn with_outcome(&self, outcome: &str) -> u64 {
        self.counts
            .iter()
            .filter(|((_, _, o), _)| *o == outcome)
            .map(|(_, n)| n)
            .sum()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::RecordErrorKind;

    fn line(model: Option<&'static str>, kind: ChangeKind, outcome: Outcome) -> RecordReport {
        RecordReport {
            sequence_number: "1".into(),
            model,
            kind: Some(kind),
            outcome,
        }
    }

    #[test]
    fn a_tally_counts_each_model_kind_and_outcome_once_and_failures_by_reason() {
        let failed = || {
            Outcome::Failed(RecordError::new(
                "1",
                RecordErrorKind::Envelope {
                    message: "x".into(),
                },
            ))
        };
        let report = BatchReport {
            records: vec![
                line(Some("Task"), ChangeKind::Insert, Outcome::Ok),
                line(Some("Task"), ChangeKind::Insert, Outcome::Ok),
                line(Some("Board"), ChangeKind::Insert, Outcome::Ok),
                line(Some("Task"), ChangeKind::Insert, Outcome::Ok),
                line(None, ChangeKind::Modify, failed()),
                line(Some("Task"), ChangeKind::Remove, Outcome::Deferred),
            ],
        };
        let t = Tally::of(&report);
        assert_eq!(
            t.counts,
            [
                (("Task", "INSERT", "ok"), 3),
                (("Board", "INSERT", "ok"), 1),
                (("-", "MODIFY", "failed"), 1),
                (("Task", "REMOVE", "deferred"), 1)
            ]
        );
        assert_eq!(t.reasons, [("envelope", 1)]);
        assert_eq!((t.with_outcome("ok"), t.with_outcome("failed")), (4, 1));
    }

    #[test]
    fn a_tally_counts_names_alike_in_text_as_one_wherever_they_are_stored() {
        // The same model name as another `&'static str` (two crates' literals, say): the
        // pointers differ, the text decides.
        let elsewhere: &'static str = String::from("Task").leak();
        assert!(!std::ptr::eq(elsewhere, "Task"));
        let report = BatchReport {
            records: vec![
                line(Some("Task"), ChangeKind::Insert, Outcome::Ok),
                line(Some("Board"), ChangeKind::Insert, Outcome::Ok),
                line(Some(elsewhere), ChangeKind::Insert, Outcome::Ok),
                line(Some(elsewhere), ChangeKind::Insert, Outcome::Ok),
            ],
        };
        assert_eq!(
            Tally::of(&report).counts,
            [
                (("Task", "INSERT", "ok"), 3),
                (("Board", "INSERT", "ok"), 1)
            ]
        );
    }
}
