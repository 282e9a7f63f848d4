//! The event source mapping's `FilterCriteria` for a router's models: Lambda drops the records
//! no handler wants before it bills an invocation.
//!
//! Each model with a handler gives one filter: its key attributes' leading literals as
//! `prefix` conditions on `dynamodb.Keys` (`"PK": {"S": [{"prefix": "USER#"}]}`) and, when its
//! handlers take only some change kinds, those `eventName`s. Lambda passes a record when any
//! filter matches it, and a filter matches when every condition does (Lambda's event filtering
//! rules, as AWS documents them for DynamoDB streams), so every record some handler would
//! match passes (property-tested below). A filter may pass more than the handler takes (a key
//! with the model's prefix but another shape): the router still skips those.
//!
//! ```
//! # extern crate dynastream_core as dynastream;
//! use dynastream::filter::{filter_criteria, Handled};
//! use dynastream::key::Pattern;
//! use dynastream::registry::ModelSpec;
//!
//! let story = ModelSpec::new("Story", "PK", "SK",
//!     Pattern::parse("USER#{owner}#STORY#{id}").unwrap(), Pattern::parse("STORY#{id}").unwrap());
//! let criteria = filter_criteria(&[Handled::all(story)]).unwrap();
//! assert_eq!(
//!     criteria.to_json(),
//!     r#"{"Filters":[{"Pattern":"{\"dynamodb\":{\"Keys\":{\"PK\":{\"S\":[{\"prefix\":\"USER#\"}]},\"SK\":{\"S\":[{\"prefix\":\"STORY#\"}]}}}}"}]}"#
//! );
//! ```

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use crate::event::ChangeKind;
use crate::registry::ModelSpec;

/// Lambda's default limit of filters per event source mapping.
pub const MAX_FILTERS: usize = 5;

/// Lambda's limit on one filter pattern's length, in characters.
pub const MAX_PATTERN_CHARS: usize = 4096;

/// A model and the change kinds its handlers take.
#[derive(Debug, Clone)]
pub struct Handled {
    /// The model.
    pub spec: ModelSpec,
    /// INSERT, MODIFY, REMOVE: whether a handler takes it.
    pub kinds: [bool; 3],
}

impl Handled {
    /// A model whose handlers take every change kind.
    pub fn all(spec: ModelSpec) -> Self {
        Handled {
            spec,
            kinds: [true; 3],
        }
    }
}

/// Why no filter can be given: every record must still reach the function.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterRefusal {
    /// A fallback handler takes the records no model matches.
    #[error("a fallback handler takes the records no model matches, so every record must reach the function")]
    Fallback,
    /// A batch hook (the Postgres mirror) sees every record.
    #[error("the {0} hook sees every record (the mirror must hold every item), so no filter may hide any")]
    Hook(&'static str),
    /// No model has a handler.
    #[error("no model has a handler: nothing to filter for")]
    NoHandlers,
    /// A model's keys start with placeholders on both keys: no prefix to filter on.
    #[error("model {0}'s partition key and sort key patterns both start with a placeholder: there is no prefix to filter on, so the filter would pass every record")]
    NoPrefix(String),
    /// More models than filters Lambda allows, and they cannot be merged.
    #[error("{0} models need {0} filters (Lambda allows {MAX_FILTERS}), and model {1} has no partition key prefix to merge them by")]
    TooMany(usize, String),
    /// A pattern longer than Lambda takes.
    #[error("the filter pattern is {0} characters, over Lambda's {MAX_PATTERN_CHARS}")]
    TooLong(usize),
}

/// The criteria: one JSON pattern per filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterCriteria {
    /// Each filter's pattern (JSON text), as `FilterCriteria.Filters[].Pattern` takes it.
    pub patterns: Vec<String>,
}

impl FilterCriteria {
    /// `{"Filters": [{"Pattern": "..."}]}`: the event source mapping's `FilterCriteria`, as
    /// `aws lambda update-event-source-mapping --filter-criteria` and CloudFormation's
    /// `AWS::Lambda::EventSourceMapping` take it.
    pub fn to_json(&self) -> String {
        json!({"Filters": self.patterns.iter().map(|p| json!({"Pattern": p})).collect::<Vec<_>>()})
            .to_string()
    }
}

const KINDS: [ChangeKind; 3] = [ChangeKind::Insert, ChangeKind::Modify, ChangeKind::Remove];

/// One filter's conditions: per key attribute the prefixes (any of), and the kinds (any of;
/// `None`: every kind).
#[derive(Debug, Clone, Default)]
struct Conditions {
    keys: Vec<(String, BTreeSet<String>)>,
    kinds: Option<BTreeSet<&'static str>>,
}

impl Conditions {
    fn of(h: &Handled) -> Result<Self, FilterRefusal> {
        let s = &h.spec;
        let mut keys = Vec::new();
        for (attr, lit) in [
            (s.pk_attr(), s.pk().leading_literal()),
            (s.sk_attr(), s.sk().leading_literal()),
        ] {
            if !attr.is_empty() && !lit.is_empty() {
                keys.push((attr.to_string(), BTreeSet::from([lit.to_string()])));
            }
        }
        let kinds = (!h.kinds.iter().all(|k| *k)).then(|| {
            KINDS
                .iter()
                .zip(h.kinds)
                .filter(|(_, on)| *on)
                .map(|(k, _)| k.as_str())
                .collect()
        });
        if keys.is_empty() {
            return Err(FilterRefusal::NoPrefix(s.entity().to_string()));
        }
        Ok(Conditions { keys, kinds })
    }

    fn pattern(&self) -> String {
        let mut keys = Map::new();
        for (attr, prefixes) in &self.keys {
            let any: Vec<Value> = prefixes.iter().map(|p| json!({"prefix": p})).collect();
            keys.insert(attr.clone(), json!({"S": any}));
        }
        let mut pattern = Map::new();
        pattern.insert("dynamodb".into(), json!({"Keys": keys}));
        if let Some(kinds) = &self.kinds {
            pattern.insert("eventName".into(), json!(kinds));
        }
        Value::Object(pattern).to_string()
    }
}

/// The criteria for `handled`, the models with handlers and their kinds. One filter per model;
/// over [`MAX_FILTERS`] models, one filter of every partition key prefix (and the kinds any
/// handler takes), which passes at least as much.
pub fn filter_criteria(handled: &[Handled]) -> Result<FilterCriteria, FilterRefusal> {
    let wanted: Vec<&Handled> = handled
        .iter()
        .filter(|h| h.kinds.iter().any(|k| *k))
        .collect();
    if wanted.is_empty() {
        return Err(FilterRefusal::NoHandlers);
    }
    let each: Vec<Conditions> = wanted
        .iter()
        .map(|h| Conditions::of(h))
        .collect::<Result<_, _>>()?;
    let filters = if each.len() <= MAX_FILTERS {
        each
    } else {
        let mut merged: Vec<(String, BTreeSet<String>)> = Vec::new();
        let mut kinds: Option<BTreeSet<&'static str>> = Some(BTreeSet::new());
        for (h, c) in wanted.iter().zip(&each) {
            let s = &h.spec;
            let lit = s.pk().leading_literal();
            if lit.is_empty() {
                return Err(FilterRefusal::TooMany(each.len(), s.entity().to_string()));
            }
            match merged.iter_mut().find(|(a, _)| a == s.pk_attr()) {
                Some((_, set)) => {
                    set.insert(lit.to_string());
                }
                None => merged.push((s.pk_attr().to_string(), BTreeSet::from([lit.to_string()]))),
            }
            kinds = match (kinds, &c.kinds) {
                (Some(mut all), Some(k)) => {
                    all.extend(k.iter().copied());
                    Some(all)
                }
                _ => None,
            };
        }
        // Partition key attributes differ between models: one filter each.
        merged
            .into_iter()
            .map(|(attr, set)| Conditions {
                keys: vec![(attr, set)],
                kinds: kinds.clone().filter(|k| k.len() < KINDS.len()),
            })
            .collect()
    };
    let patterns: Vec<String> = filters.iter().map(Conditions::pattern).collect();
    if let Some(long) = patterns
        .iter()
        .map(String::len)
        .find(|n| *n > MAX_PATTERN_CHARS)
    {
        return Err(FilterRefusal::TooLong(long));
    }
    Ok(FilterCriteria { patterns })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Pattern;
    use crate::registry::Registry;
    use proptest::prelude::*;

    /// Lambda's filter rules for the patterns this module writes: a record passes when some
    /// filter's every field matches; a field given as a list matches when one element does
    /// (a string equal, or `{"prefix": p}` a string starting with p).
    fn passes(criteria: &FilterCriteria, record: &Value) -> bool {
        fn field(pattern: &Value, value: Option<&Value>) -> bool {
            match pattern {
                Value::Object(fields) => fields
                    .iter()
                    .all(|(k, p)| field(p, value.and_then(|v| v.get(k)))),
                Value::Array(any) => any.iter().any(|p| match (p, value) {
                    (Value::Object(o), Some(Value::String(s))) => o
                        .get("prefix")
                        .and_then(Value::as_str)
                        .is_some_and(|pre| s.starts_with(pre)),
                    (p, Some(v)) => p == v,
                    _ => false,
                }),
                _ => false,
            }
        }
        criteria.patterns.iter().any(|p| {
            let pattern: Value = serde_json::from_str(p).unwrap();
            field(&pattern, Some(record))
        })
    }

    fn record(kind: ChangeKind, (pk_attr, pk): (&str, &str), (sk_attr, sk): (&str, &str)) -> Value {
        let mut keys = Map::new();
        keys.insert(pk_attr.into(), json!({"S": pk}));
        if !sk_attr.is_empty() {
            keys.insert(sk_attr.into(), json!({"S": sk}));
        }
        json!({"eventName": kind.as_str(), "dynamodb": {"Keys": keys}})
    }

    fn pattern_text() -> impl Strategy<Value = String> {
        // Literals sharing prefixes, placeholders anywhere (the leading one too).
        let piece = prop_oneof![
            Just("A#".to_string()),
            Just("AB#".to_string()),
            Just("B".to_string()),
            Just("{x}".to_string()),
            Just("#{y}".to_string()),
        ];
        proptest::collection::vec(piece, 1..4).prop_map(|p| p.concat())
    }

    fn key_text() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![Just("A"), Just("B"), Just("#"), Just("1"), Just("z")],
            1..8,
        )
        .prop_map(|p| p.concat())
    }

    proptest! {
        /// Every record a registered handler would match passes the filter.
        #[test]
        fn every_record_a_handler_takes_passes(
            models in proptest::collection::vec((pattern_text(), pattern_text(), any::<[bool; 3]>(), any::<bool>()), 1..9),
            keys in proptest::collection::vec((key_text(), key_text(), 0usize..3, any::<bool>()), 1..40),
        ) {
            // Distinct field names per pattern side, so every pattern parses.
            let specs: Vec<Handled> = models
                .iter()
                .enumerate()
                .filter_map(|(i, (pk, sk, kinds, other_attr))| {
                    let fix = |t: &str, side: &str| t.replace("{x}", &format!("{{x{side}{i}}}")).replace("{y}", &format!("{{y{side}{i}}}"));
                    let pk = Pattern::parse(&fix(pk, "p")).ok()?;
                    let sk = Pattern::parse(&fix(sk, "s")).ok()?;
                    let pk_attr = if *other_attr { "id" } else { "PK" };
                    Some(Handled { spec: ModelSpec::new(&format!("M{i}"), pk_attr, "SK", pk, sk), kinds: *kinds })
                })
                .collect();
            // Overlapping models are refused by the registry: keep the first of each overlap.
            let mut kept: Vec<Handled> = Vec::new();
            for h in specs {
                let mut trial: Vec<ModelSpec> = kept.iter().map(|k| k.spec.clone()).collect();
                trial.push(h.spec.clone());
                if Registry::new(trial).is_ok() {
                    kept.push(h);
                }
            }
            prop_assume!(!kept.is_empty());
            let registry = Registry::new(kept.iter().map(|h| h.spec.clone()).collect()).unwrap();
            let Ok(criteria) = filter_criteria(&kept) else {
                // Refused (no prefix, no handler, too many to merge): nothing is filtered.
                return Ok(());
            };
            prop_assert!(criteria.patterns.len() <= MAX_FILTERS);
            for (pk, sk, kind, other_attr) in &keys {
                let pk_attr = if *other_attr { "id" } else { "PK" };
                let kind = KINDS[*kind];
                let Some(m) = registry.find(pk_attr, "SK", pk, sk) else { continue };
                let h = kept.iter().find(|h| h.spec.entity() == registry.spec(m).entity()).unwrap();
                if !h.kinds[KINDS.iter().position(|k| *k == kind).unwrap()] {
                    continue;
                }
                let r = record(kind, (pk_attr, pk), ("SK", sk));
                prop_assert!(passes(&criteria, &r), "{} {:?} {:?} {} not passed by {:?}", h.spec.entity(), pk, sk, kind.as_str(), criteria.patterns);
            }
        }
    }

    #[test]
    fn kinds_narrow_the_filter_and_records_of_others_are_dropped() {
        let spec = ModelSpec::new(
            "Task",
            "PK",
            "SK",
            Pattern::parse("TASK#{id}").unwrap(),
            Pattern::parse("{n}").unwrap(),
        );
        let c = filter_criteria(&[Handled {
            spec,
            kinds: [true, false, true],
        }])
        .unwrap();
        assert_eq!(
            c.patterns,
            [
                r#"{"dynamodb":{"Keys":{"PK":{"S":[{"prefix":"TASK#"}]}}},"eventName":["INSERT","REMOVE"]}"#
            ]
        );
        assert!(passes(
            &c,
            &record(ChangeKind::Insert, ("PK", "TASK#1"), ("SK", "x"))
        ));
        assert!(!passes(
            &c,
            &record(ChangeKind::Modify, ("PK", "TASK#1"), ("SK", "x"))
        ));
        assert!(!passes(
            &c,
            &record(ChangeKind::Insert, ("PK", "USER#1"), ("SK", "x"))
        ));
    }

    #[test]
    fn more_models_than_filters_merge_by_partition_key_prefix() {
        let specs: Vec<Handled> = (0..7)
            .map(|i| {
                Handled::all(ModelSpec::new(
                    &format!("M{i}"),
                    "PK",
                    "SK",
                    Pattern::parse(&format!("M{i}#{{id}}")).unwrap(),
                    Pattern::parse("S").unwrap(),
                ))
            })
            .collect();
        let c = filter_criteria(&specs).unwrap();
        assert_eq!(c.patterns.len(), 1);
        assert!(c.patterns[0].contains(r#"{"prefix":"M6#"}"#));
        let open = ModelSpec::new(
            "Any",
            "PK",
            "SK",
            Pattern::parse("{a}").unwrap(),
            Pattern::parse("{b}").unwrap(),
        );
        assert_eq!(
            filter_criteria(&[Handled::all(open)]),
            Err(FilterRefusal::NoPrefix("Any".into()))
        );
    }
}
