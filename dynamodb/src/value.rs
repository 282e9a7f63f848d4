//! The core's [`Value`] to the DynamoDB SDK's `AttributeValue` and back: the only place the
//! store's items meet the SDK's types.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue as Av;
use dynastream_store::{Item, Value};

/// A core value as the SDK's.
pub(crate) fn to_sdk(v: Value) -> Av {
    match v {
        Value::S(s) => Av::S(s),
        Value::N(n) => Av::N(n),
        Value::B(b) => Av::B(Blob::new(b)),
        Value::Bool(b) => Av::Bool(b),
        Value::Null => Av::Null(true),
        Value::Ss(s) => Av::Ss(s),
        Value::Ns(n) => Av::Ns(n),
        Value::Bs(b) => Av::Bs(b.into_iter().map(Blob::new).collect()),
        Value::L(l) => Av::L(l.into_iter().map(to_sdk).collect()),
        Value::M(m) => Av::M(to_sdk_item(m)),
    }
}

/// A core item as the SDK's.
pub(crate) fn to_sdk_item(item: Item) -> HashMap<String, Av> {
    item.into_iter().map(|(k, v)| (k, to_sdk(v))).collect()
}

/// The SDK's value as the core's. `Err` names a type this SDK version added that the core does
/// not know (the SDK's enum is non-exhaustive).
pub(crate) fn from_sdk(v: Av) -> Result<Value, String> {
    Ok(match v {
        Av::S(s) => Value::S(s),
        Av::N(n) => Value::N(n),
        Av::B(b) => Value::B(b.into_inner()),
        Av::Bool(b) => Value::Bool(b),
        Av::Null(_) => Value::Null,
        Av::Ss(s) => Value::Ss(s),
        Av::Ns(n) => Value::Ns(n),
        Av::Bs(b) => Value::Bs(b.into_iter().map(Blob::into_inner).collect()),
        Av::L(l) => Value::L(l.into_iter().map(from_sdk).collect::<Result<_, _>>()?),
        Av::M(m) => Value::M(from_sdk_item(m)?),
        other => {
            return Err(format!(
                "attribute type this version does not know: {other:?}"
            ))
        }
    })
}

/// An SDK item as the core's.
pub(crate) fn from_sdk_item(item: HashMap<String, Av>) -> Result<Item, String> {
    item.into_iter()
        .map(|(k, v)| Ok((k, from_sdk(v)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_survives_the_round_trip() {
        let item: Item = HashMap::from([
            ("s".into(), Value::S("x".into())),
            (
                "n".into(),
                Value::N("12345678901234567890123456789012345678".into()),
            ),
            ("b".into(), Value::B(vec![0, 255])),
            ("t".into(), Value::Bool(true)),
            ("z".into(), Value::Null),
            ("ss".into(), Value::Ss(vec!["a".into(), "b".into()])),
            ("ns".into(), Value::Ns(vec!["1".into(), "2.5".into()])),
            ("bs".into(), Value::Bs(vec![vec![1], vec![2]])),
            (
                "l".into(),
                Value::L(vec![Value::M(HashMap::from([(
                    "k".into(),
                    Value::S("v".into()),
                )]))]),
            ),
        ]);
        assert_eq!(from_sdk_item(to_sdk_item(item.clone())).unwrap(), item);
    }
}
