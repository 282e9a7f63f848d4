//! Lambda's rules for a batch that fails, as a state machine the poller drives: resume from the
//! lowest failed record, retry with backoff up to a limit, bisect, then give up on the records
//! (they go to the on-failure file).
//!
//! The batch is a queue of *units*; the front unit is the one to invoke. After each invocation:
//! - records before the lowest failed one are acknowledged;
//! - the rest (starting with the failed record) is, when bisecting is on and it holds more than
//!   one record, split in two halves that are invoked in order (a split is not a retry: it
//!   does not count towards the retry limit, as with Lambda);
//! - otherwise it is retried after a delay, and once it has failed more than
//!   `max_retry_attempts` times, given up on as a whole.
//!
//! Records of a shard are therefore acknowledged or given up on strictly in order.

use std::collections::VecDeque;
use std::time::Duration;

/// How a failing batch is retried.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries of a failing batch before its records are given up on; `None` retries until
    /// it succeeds (Lambda's `-1`). Default 5, as in `infra/template.yaml`.
    pub max_retry_attempts: Option<u32>,
    /// Split a failing batch in two and retry the halves separately
    /// (`BisectBatchOnFunctionError`). Default on.
    pub bisect_on_error: bool,
    /// The delay before the first retry; it doubles with each retry of the same records, up to
    /// `max_retry_delay`. Default 1 s.
    pub retry_delay: Duration,
    /// The longest delay between retries. Default 30 s.
    pub max_retry_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retry_attempts: Some(5),
            bisect_on_error: true,
            retry_delay: Duration::from_secs(1),
            max_retry_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// This configuration with [`max_retry_attempts`](RetryPolicy::max_retry_attempts) set: retries of a failing batch (`None`: until the records expire).
    pub fn max_retry_attempts(mut self, max_retry_attempts: Option<u32>) -> Self {
        self.max_retry_attempts = max_retry_attempts;
        self
    }

    /// This configuration with [`bisect_on_error`](RetryPolicy::bisect_on_error) set: split a failing batch in two before retrying.
    pub fn bisect_on_error(mut self, bisect_on_error: bool) -> Self {
        self.bisect_on_error = bisect_on_error;
        self
    }

    /// This configuration with [`retry_delay`](RetryPolicy::retry_delay) set: the first wait before a retry.
    pub fn retry_delay(mut self, retry_delay: Duration) -> Self {
        self.retry_delay = retry_delay;
        self
    }

    /// This configuration with [`max_retry_delay`](RetryPolicy::max_retry_delay) set: the longest wait before a retry.
    pub fn max_retry_delay(mut self, max_retry_delay: Duration) -> Self {
        self.max_retry_delay = max_retry_delay;
        self
    }
}

impl RetryPolicy {
    fn delay(&self, failures: u32) -> Duration {
        let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(20));
        self.retry_delay
            .saturating_mul(factor)
            .min(self.max_retry_delay)
    }
}

/// What one invocation of a unit came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Every record acknowledged.
    Done,
    /// The record at `index` (the lowest failed) and everything after it must be redone.
    FailedAt { index: usize, reason: String },
}

/// What the poller must do after an invocation.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Step<R> {
    /// Records acknowledged by this invocation, in order.
    pub acked: Vec<R>,
    /// Records given up on, with the last failure's reason and how many times the last of
    /// these units was invoked.
    pub gave_up: Option<GaveUp<R>>,
    /// The failed records were split into halves of these sizes.
    pub bisected: Option<(usize, usize)>,
    /// Wait this long before the next invocation (a retry).
    pub retry_after: Option<Duration>,
}

/// Records given up on.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct GaveUp<R> {
    pub records: Vec<R>,
    pub reason: String,
    pub invocations: u32,
}

struct Unit<R> {
    records: Vec<R>,
    /// Failed invocations of exactly these records (retries count, splits do not).
    failures: u32,
    /// Every invocation these records were part of, for the on-failure file.
    invocations: u32,
}

/// One batch on its way through retries and bisection.
pub(crate) struct Delivery<R> {
    units: VecDeque<Unit<R>>,
}

impl<R> Delivery<R> {
    pub fn new(records: Vec<R>) -> Self {
        let mut units = VecDeque::new();
        if !records.is_empty() {
            units.push_back(Unit {
                records,
                failures: 0,
                invocations: 0,
            });
        }
        Delivery { units }
    }

    /// The records to invoke next, and how many times they failed before; `None` when the
    /// batch is through.
    pub fn current(&self) -> Option<(&[R], u32)> {
        self.units.front().map(|u| (&u.records[..], u.failures))
    }

    /// The records not yet through, in order (the batch abandoned).
    pub fn into_remaining(self) -> impl Iterator<Item = R> {
        self.units.into_iter().flat_map(|u| u.records)
    }

    /// Takes the leading records of the next unit that `expired` says are too old to invoke
    /// (`MaximumRecordAgeInSeconds`): they are given up on without an invocation.
    /// Also returns how many times those records were invoked before (for the on-failure
    /// record's `approximateInvokeCount`).
    pub fn expire_front(&mut self, expired: impl Fn(&R) -> bool) -> (Vec<R>, u32) {
        let Some(unit) = self.units.front_mut() else {
            return (Vec::new(), 0);
        };
        let n = unit.records.iter().take_while(|r| expired(r)).count();
        let taken: Vec<R> = unit.records.drain(..n).collect();
        let invocations = unit.invocations;
        if unit.records.is_empty() {
            self.units.pop_front();
        }
        (taken, invocations)
    }

    /// Applies the verdict of invoking [`Delivery::current`].
    pub fn apply(&mut self, verdict: Verdict, policy: &RetryPolicy) -> Step<R> {
        let mut step = Step {
            acked: Vec::new(),
            gave_up: None,
            bisected: None,
            retry_after: None,
        };
        let Some(mut unit) = self.units.pop_front() else {
            return step;
        };
        unit.invocations += 1;
        let (index, reason) = match verdict {
            Verdict::Done => {
                step.acked = unit.records;
                return step;
            }
            // An index past the end cannot name a record: the whole unit failed.
            Verdict::FailedAt { index, reason } if index < unit.records.len() => (index, reason),
            Verdict::FailedAt { reason, .. } => (0, reason),
        };
        let rest = unit.records.split_off(index);
        step.acked = unit.records;
        if policy.bisect_on_error && rest.len() > 1 {
            let mut left = rest;
            let right = left.split_off(left.len() / 2);
            step.bisected = Some((left.len(), right.len()));
            self.units.push_front(Unit {
                records: right,
                failures: unit.failures,
                invocations: unit.invocations,
            });
            self.units.push_front(Unit {
                records: left,
                failures: unit.failures,
                invocations: unit.invocations,
            });
            return step;
        }
        let failures = unit.failures + 1;
        if policy.max_retry_attempts.is_some_and(|max| failures > max) {
            step.gave_up = Some(GaveUp {
                records: rest,
                reason,
                invocations: unit.invocations,
            });
            return step;
        }
        step.retry_after = Some(policy.delay(failures));
        self.units.push_front(Unit {
            records: rest,
            failures,
            invocations: unit.invocations,
        });
        step
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max: Option<u32>, bisect: bool) -> RetryPolicy {
        RetryPolicy {
            max_retry_attempts: max,
            bisect_on_error: bisect,
            retry_delay: Duration::from_millis(100),
            max_retry_delay: Duration::from_millis(350),
        }
    }

    /// Runs a batch of 0..n through a "handler" that fails on every record in `poison`, in
    /// order (stops at the first failure, like the sequential router). Returns the acked
    /// records, the given-up groups and the number of invocations.
    fn run(n: u32, poison: &[u32], p: &RetryPolicy) -> (Vec<u32>, Vec<Vec<u32>>, usize) {
        let mut d = Delivery::new((0..n).collect());
        let (mut acked, mut gave_up, mut calls) = (Vec::new(), Vec::new(), 0);
        while let Some((unit, _)) = d.current() {
            calls += 1;
            assert!(calls < 10_000, "does not terminate");
            let verdict = match unit.iter().position(|r| poison.contains(r)) {
                Some(index) => Verdict::FailedAt {
                    index,
                    reason: format!("record {} failed", unit[index]),
                },
                None => Verdict::Done,
            };
            let step = d.apply(verdict, p);
            acked.extend(step.acked);
            if let Some(g) = step.gave_up {
                gave_up.push(g.records);
            }
        }
        (acked, gave_up, calls)
    }

    #[test]
    fn a_clean_batch_is_acknowledged_in_one_invocation() {
        assert_eq!(
            run(5, &[], &policy(Some(2), true)),
            ((0..5).collect(), vec![], 1)
        );
    }

    #[test]
    fn bisection_isolates_the_poison_record_and_nothing_else_is_lost() {
        let (acked, gave_up, _) = run(10, &[6], &policy(Some(2), true));
        assert_eq!(gave_up, vec![vec![6]]);
        let mut expected: Vec<u32> = (0..10).filter(|&r| r != 6).collect();
        expected.sort();
        assert_eq!(acked, expected, "in order, all but the poison record");
    }

    #[test]
    fn without_bisection_the_rest_of_the_batch_is_given_up_with_it() {
        let (acked, gave_up, calls) = run(10, &[6], &policy(Some(2), false));
        assert_eq!(acked, vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(gave_up, vec![vec![6, 7, 8, 9]]);
        assert_eq!(calls, 3, "the first invocation and two retries");
    }

    #[test]
    fn retries_are_counted_per_record_set_and_splits_are_not_retries() {
        // One record, failing: 1 invocation + 3 retries, then given up.
        let (_, gave_up, calls) = run(1, &[0], &policy(Some(3), true));
        assert_eq!((gave_up.len(), calls), (1, 4));
        // Zero retries still bisects down to the poison record.
        let (acked, gave_up, _) = run(8, &[3], &policy(Some(0), true));
        assert_eq!(gave_up, vec![vec![3]]);
        assert_eq!(acked, vec![0, 1, 2, 4, 5, 6, 7]);
    }

    #[test]
    fn several_poison_records_each_go_alone() {
        let (acked, gave_up, _) = run(16, &[2, 3, 11], &policy(Some(1), true));
        assert_eq!(gave_up, vec![vec![2], vec![3], vec![11]]);
        assert_eq!(acked.len(), 13);
        assert!(acked.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn retry_delays_double_up_to_the_cap() {
        let p = policy(None, false);
        let mut d = Delivery::new(vec![1]);
        let delays: Vec<_> = (0..4)
            .map(|_| {
                d.apply(
                    Verdict::FailedAt {
                        index: 0,
                        reason: "no".into(),
                    },
                    &p,
                )
                .retry_after
                .unwrap()
            })
            .collect();
        let ms: Vec<u128> = delays.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, vec![100, 200, 350, 350]);
        assert!(d.current().is_some(), "unlimited retries never give up");
    }

    #[test]
    fn expired_records_leave_the_front_of_the_next_unit_only() {
        let mut d = Delivery::new(vec![1, 2, 3, 10, 4]);
        assert_eq!(d.expire_front(|r| *r < 3), (vec![1, 2], 0));
        assert_eq!(d.current().map(|(u, _)| u.to_vec()), Some(vec![3, 10, 4]));
        // Invoked and failed once (no bisection): the count goes with the expired records.
        let _ = d.apply(
            Verdict::FailedAt {
                index: 0,
                reason: "x".into(),
            },
            &policy(Some(5), false),
        );
        assert_eq!(d.expire_front(|r| *r < 100), (vec![3, 10, 4], 1));
        assert!(d.current().is_none());
        assert!(d.expire_front(|_| true).0.is_empty());
    }

    #[test]
    fn an_index_past_the_end_fails_the_whole_unit() {
        let mut d = Delivery::new(vec![1, 2]);
        let step = d.apply(
            Verdict::FailedAt {
                index: 9,
                reason: "unknown record".into(),
            },
            &policy(Some(0), false),
        );
        assert!(step.acked.is_empty());
        assert_eq!(step.gave_up.unwrap().records, vec![1, 2]);
    }
}
