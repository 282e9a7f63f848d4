//! The Postgres store's `data` column (the mirror's plain JSON) back to DynamoDB JSON for the
//! decoder: strings → `S`, numbers → `N` with their exact digits, booleans, null, arrays → `L`,
//! objects → `M`. Binary attributes are base64 strings in the column; the decoder turns them
//! back into bytes where the model asks for bytes.

use serde_json::value::RawValue;

/// Converts one JSON object (an item's attributes) to DynamoDB JSON.
pub(crate) fn plain_to_dynamodb(text: &str) -> Result<String, serde_json::Error> {
    let mut out = String::with_capacity(text.len() * 2);
    let raw: &RawValue = serde_json::from_str(text)?;
    let fields: Vec<(String, &RawValue)> = object(raw.get())?;
    write_fields(&mut out, &fields)?;
    Ok(out)
}

fn object(text: &str) -> Result<Vec<(String, &RawValue)>, serde_json::Error> {
    // A map keeps duplicate-free keys; order does not matter to the decoder.
    let m: std::collections::BTreeMap<String, &RawValue> = serde_json::from_str(text)?;
    Ok(m.into_iter().collect())
}

fn write_fields(out: &mut String, fields: &[(String, &RawValue)]) -> Result<(), serde_json::Error> {
    out.push('{');
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(k)?);
        out.push(':');
        write_value(out, v)?;
    }
    out.push('}');
    Ok(())
}

fn write_value(out: &mut String, v: &RawValue) -> Result<(), serde_json::Error> {
    let text = v.get();
    match text.as_bytes().first() {
        Some(b'{') => {
            out.push_str("{\"M\":");
            write_fields(out, &object(text)?)?;
            out.push('}');
        }
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_str(text)?;
            out.push_str("{\"L\":[");
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, x)?;
            }
            out.push_str("]}");
        }
        Some(b'"') => {
            out.push_str("{\"S\":");
            out.push_str(text);
            out.push('}');
        }
        Some(b't') | Some(b'f') => {
            out.push_str("{\"BOOL\":");
            out.push_str(text);
            out.push('}');
        }
        Some(b'n') => out.push_str("{\"NULL\":true}"),
        _ => {
            // A number: its text as written, which jsonb keeps exactly.
            out.push_str("{\"N\":\"");
            out.push_str(text);
            out.push_str("\"}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_json_type_maps_to_its_dynamodb_type() {
        let out = plain_to_dynamodb(
            r#"{"a":"x\"y","n":12345678901234567890.123456789,"b":true,"z":null,"l":[1,"s"],"m":{"k":[]}}"#,
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["a"]["S"], "x\"y");
        assert_eq!(v["n"]["N"], "12345678901234567890.123456789");
        assert_eq!(v["b"]["BOOL"], true);
        assert_eq!(v["z"]["NULL"], true);
        assert_eq!(v["l"]["L"][0]["N"], "1");
        assert_eq!(v["l"]["L"][1]["S"], "s");
        assert_eq!(v["m"]["M"]["k"]["L"], serde_json::json!([]));
    }

    #[test]
    fn not_an_object_is_an_error() {
        assert!(plain_to_dynamodb("[1]").is_err());
        assert!(plain_to_dynamodb("{").is_err());
    }
}
