//! The order a Kinesis batch's changes run in: per item, by `ApproximateCreationDateTime`
//! with a tie-break every delivery agrees on, each exact duplicate once (docs/semantics.md,
//! "Kinesis Data Streams for DynamoDB").
//!
//! AWS: with Kinesis Data Streams for DynamoDB "the item-level change records might appear in
//! a different sequence than the item modifications occurred" and "duplicate item-level
//! notifications might occasionally appear" (DynamoDB Developer Guide, "Using Kinesis Data
//! Streams to capture changes to DynamoDB"). So an item's changes are given to its handler in
//! the order of their creation time, each at one of the places the item's records hold in
//! the batch (other items' records keep theirs), and a change sent twice in one batch runs
//! once.
//!
//! The batch response is still Lambda's: the report lists the records in delivery order,
//! and the first one not acknowledged there (failed, or deferred behind a failure) is the one
//! reported, so Lambda delivers again every change that did not run, wherever the reordering
//! had put it.

use std::collections::HashMap;

use xxhash_rust::xxh3::Xxh3DefaultBuilder;

use crate::event::{Entry, Keys, Timestamp};

/// The order of one change among its item's: creation time, then the change's digest.
pub(crate) type Rank = (Option<Timestamp>, u64);

/// One record of an item: its place in the batch, its rank, its `eventID`.
type Placed<'e> = (usize, Rank, Option<&'e str>);

/// How a Kinesis batch runs.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The records to run, as indexes into the delivered batch, in the order they run.
    pub(crate) run: Vec<usize>,
    /// (duplicate, the record it duplicates), both delivered indexes: the duplicate does not
    /// run and is acknowledged with its original.
    pub(crate) duplicates: Vec<(usize, usize)>,
}

impl Plan {
    /// The plan for `entries`; `None` when there is nothing to change (every item's changes
    /// are in order and none is sent twice), the common case, which costs no reordering.
    pub(crate) fn of(entries: &[Entry<'_>]) -> Option<Plan> {
        // Each item's records, in delivery order.
        // XXH3 rather than SipHash: the keys are the batch's own, and SipHash was the plan's
        // largest cost.
        let mut items: HashMap<&Keys<'_>, Vec<Placed<'_>>, Xxh3DefaultBuilder> = HashMap::default();
        let mut disordered = false;
        for (i, e) in entries.iter().enumerate() {
            let Entry::Record(r) = e else { continue };
            let Some(k) = &r.kinesis else { continue };
            let rank = (r.meta.approximate_creation_time, k.digest);
            let list = items.entry(&r.keys).or_default();
            if let Some((_, last, _)) = list.last() {
                disordered |= *last >= rank;
            }
            list.push((i, rank, r.meta.event_id.as_deref()));
        }
        if !disordered {
            return None;
        }
        // Slot `i` of the batch runs `apply[i]`.
        let mut apply: Vec<Option<usize>> = (0..entries.len()).map(Some).collect();
        let mut duplicates = Vec::new();
        for list in items.values() {
            let mut sorted = list.clone();
            // Stable: copies of one change keep their delivery order, the first runs.
            sorted.sort_by_key(|(_, rank, _)| *rank);
            let mut previous: Option<&Placed<'_>> = None;
            let mut runs = Vec::with_capacity(sorted.len());
            for rec in &sorted {
                match previous {
                    // The same change (same digest, time and event ID) sent again.
                    Some(p) if p.1 == rec.1 && p.2 == rec.2 => duplicates.push((rec.0, p.0)),
                    _ => {
                        runs.push(rec.0);
                        previous = Some(rec);
                    }
                }
            }
            // The item's changes take the item's places, earliest first; places left over
            // (one per duplicate) run nothing.
            let mut runs = runs.into_iter();
            for (slot, _, _) in list {
                apply[*slot] = runs.next();
            }
        }
        duplicates.sort_unstable();
        Some(Plan {
            run: apply.into_iter().flatten().collect(),
            duplicates,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(seq: &str, pk: &str, time: &str, id: &str) -> String {
        format!(
            r#"{{"eventID":"{id}","eventName":"MODIFY","tableName":"t","dynamodb":{{"ApproximateCreationDateTime":{time},"ApproximateCreationDateTimePrecision":"MICROSECOND","Keys":{{"PK":{{"S":"{pk}"}},"SK":{{"S":"x"}}}},"NewImage":{{"PK":{{"S":"{pk}"}},"SK":{{"S":"x"}},"v":{{"S":"{time}"}}}}}}}}#{seq}"#
        )
    }

    /// A Kinesis event of `changes` (each `change(...)`, its sequence number after `#`).
    fn event(changes: &[String]) -> String {
        use base64::Engine as _;
        let records: Vec<String> = changes
            .iter()
            .map(|c| {
                let (json, seq) = c.rsplit_once('#').unwrap();
                let data = base64::engine::general_purpose::STANDARD.encode(json);
                format!(r#"{{"kinesis":{{"sequenceNumber":"{seq}","data":"{data}"}},"eventSource":"aws:kinesis"}}"#)
            })
            .collect();
        format!(r#"{{"Records":[{}]}}"#, records.join(","))
    }

    fn plan(changes: &[String]) -> Option<Plan> {
        let ev = event(changes);
        let k = crate::event::KinesisEvent::decode(ev.as_bytes()).unwrap();
        let entries = k.entries().unwrap();
        Plan::of(&entries)
    }

    #[test]
    fn an_item_in_order_costs_nothing() {
        assert_eq!(
            plan(&[
                change("1", "a", "10", "e1"),
                change("2", "b", "5", "e2"),
                change("3", "a", "11", "e3")
            ]),
            None
        );
    }

    #[test]
    fn an_items_changes_run_by_time_in_the_items_places() {
        // a: 30 then 10 then 20 at places 0, 2, 3; b keeps place 1.
        let p = plan(&[
            change("1", "a", "30", "e1"),
            change("2", "b", "5", "e2"),
            change("3", "a", "10", "e3"),
            change("4", "a", "20", "e4"),
        ])
        .unwrap();
        assert_eq!(p.run, [2, 1, 3, 0]);
        assert!(p.duplicates.is_empty());
    }

    #[test]
    fn a_change_sent_twice_runs_once_in_its_first_place() {
        let p = plan(&[
            change("1", "a", "10", "e1"),
            change("2", "a", "20", "e2"),
            change("3", "a", "10", "e1"),
        ])
        .unwrap();
        assert_eq!(p.run, [0, 1]);
        assert_eq!(p.duplicates, [(2, 0)]);
        // Same time, another change (another event ID and image): both run, in digest order.
        // (No plan when their digests are already in order.)
        let p = plan(&[change("1", "a", "10", "e1"), change("2", "a", "10", "e9")]);
        assert!(
            p.as_ref()
                .is_none_or(|p| p.run.len() == 2 && p.duplicates.is_empty()),
            "{p:?}"
        );
        let q = plan(&[change("2", "a", "10", "e9"), change("1", "a", "10", "e1")]);
        assert!(
            p.is_some() || q.is_some(),
            "one of the two orders is out of digest order"
        );
        assert!(q.is_none_or(|q| q.run.len() == 2 && q.duplicates.is_empty()));
    }
}
