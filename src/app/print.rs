//! What the commands print: one line per record (sequence number, model, kind, outcome) and
//! one line per poller event.

use dynastream_core::report::{BatchReport, Outcome};
#[cfg(feature = "poll")]
use dynastream_poll::{PollEvent, Position};
#[cfg(feature = "poll")]
use std::time::Duration;

/// Prints one line per record of `report` to stdout: `  <sequence number> <model> <kind>
/// <outcome>`, columns padded (28, 12 and 6 characters), the reason after a failure or skip.
pub fn print_records(report: &BatchReport) {
    for r in &report.records {
        let kind = r.kind.map_or("-", |k| k.as_str());
        let model = r.model.unwrap_or("-");
        match &r.outcome {
            Outcome::Ok | Outcome::Deferred => println!(
                "  {:<28} {:<12} {:<6} {}",
                r.sequence_number,
                model,
                kind,
                r.outcome.label()
            ),
            Outcome::Skipped(why) => println!(
                "  {:<28} {:<12} {:<6} skipped: {why}",
                r.sequence_number, model, kind
            ),
            Outcome::Failed(e) => println!(
                "  {:<28} {:<12} {:<6} failed: {e}",
                r.sequence_number, model, kind
            ),
        }
    }
}

#[cfg(feature = "poll")]
fn lag_text(lag: Option<Duration>) -> String {
    lag.map_or("-".into(), |d| format!("{:.1}s", d.as_secs_f64()))
}

#[cfg(feature = "poll")]
pub(crate) fn print_event(e: &PollEvent<'_>, quiet: bool, until_idle: bool) {
    match e {
        PollEvent::ShardStarted { shard_id, position } => {
            let from = match position {
                Position::TrimHorizon => "the oldest record".to_string(),
                Position::Latest => "new records only".to_string(),
                Position::After(seq) => format!("after {seq} (checkpoint)"),
                Position::At(seq) => format!("at {seq}"),
            };
            println!("shard {shard_id}: reading from {from}");
        }
        PollEvent::Invoked {
            shard_id,
            records,
            report,
            attempt,
        } => {
            if !quiet {
                let retry = if *attempt > 1 {
                    format!(", retry {}", attempt - 1)
                } else {
                    String::new()
                };
                println!("shard {shard_id}: batch of {}{retry}", records.len());
                print_records(report);
            }
        }
        PollEvent::InvocationError { shard_id, error } => {
            println!("shard {shard_id}: invocation error: {error}")
        }
        PollEvent::Bisected {
            shard_id,
            left,
            right,
        } => println!("shard {shard_id}: failed records split into {left} + {right}"),
        PollEvent::Retrying {
            shard_id,
            records,
            retry,
            delay,
            reason,
        } => println!(
            "shard {shard_id}: retry {retry} of {records} record(s) in {:.1}s ({reason})",
            delay.as_secs_f64()
        ),
        PollEvent::GaveUp {
            shard_id,
            records,
            reason,
            written_to,
        } => println!(
            "shard {shard_id}: gave up on {} record(s) ({reason}); {}",
            records.len(),
            match written_to {
                Some(p) => format!("written to {}", p.display()),
                None => "dropped".into(),
            }
        ),
        PollEvent::ShardFinished { shard_id } => {
            println!("shard {shard_id}: closed and fully read")
        }
        PollEvent::ReadError { shard_id, error } => println!(
            "{}: read failed, trying again: {error}",
            shard_id.map_or("shard list".to_string(), |s| format!("shard {s}"))
        ),
        PollEvent::CheckpointTrimmed { shard_id, after } => println!(
            "shard {shard_id}: checkpoint {after} was trimmed from the stream; \
             reading from the oldest record (records in between were never delivered: \
             a mirror may have drifted from the table; run `verify` (with --repair) once \
             this poll has caught up)"
        ),
        PollEvent::Progress { stats } => {
            let lags: Vec<String> = stats
                .shards
                .iter()
                .filter(|(_, s)| !s.finished)
                .map(|(id, s)| format!("{id} lag {}", lag_text(s.lag)))
                .collect();
            let iterator_age = stats
                .shards
                .values()
                .filter(|s| !s.finished)
                .filter_map(|s| s.lag)
                .max()
                .map_or("-".to_string(), |d| format!("{} ms", d.as_millis()));
            println!(
                "progress: {} records handled, {} given up, {} failed invocations; {} \
                 (PolledEventCount {}, FailedInvokeEventCount {}, DroppedEventCount {}, \
                 OnFailureDestinationDeliveredEventCount {}, IteratorAge {iterator_age})",
                stats.records,
                stats.given_up,
                stats.failed_invocations,
                lags.join(", "),
                stats.polled,
                stats.failed_invoke_events,
                stats.dropped,
                stats.on_failure_delivered,
            );
        }
        PollEvent::Idle { stats } => println!(
            "caught up: {} records handled, {} given up{}{}",
            stats.records,
            stats.given_up,
            if stats.expired > 0 {
                format!(" ({} older than --max-record-age)", stats.expired)
            } else {
                String::new()
            },
            if until_idle {
                ""
            } else {
                "; waiting for new records"
            }
        ),
    }
}
