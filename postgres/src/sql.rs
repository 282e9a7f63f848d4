//! The SQL the mirror runs: the table, the batch upsert and the per-model views. Identifiers
//! are validated and quoted; row values only ever travel as parameters.

use dynastream_core::model::{FieldSpec, SqlType};
use dynastream_core::registry::ModelSpec;

/// Bumped when the view text this module generates changes, so existing views are replaced.
const VIEW_GENERATION: &str = "v1";

/// Checks a schema, table or view name: a letter or `_`, then letters, digits or `_`, at most
/// 63 bytes (Postgres' limit).
pub(crate) fn check_ident(what: &str, name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 63;
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} {name:?} is not a plain SQL identifier (a letter or _, then letters, digits or _, at most 63 bytes)"
        ))
    }
}

/// `"name"`, with embedded quotes doubled.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'`, with embedded quotes doubled (for DDL text, where parameters are not allowed).
pub(crate) fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `"schema"."name"`.
pub(crate) fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

/// The statements that create the table and its index; safe to run again.
pub(crate) fn create_table(schema: &str, table: &str) -> String {
    let t = qualified(schema, table);
    let index = quote_ident(&format!("{table}_entity_idx"));
    format!(
        "CREATE SCHEMA IF NOT EXISTS {schema_q};
CREATE TABLE IF NOT EXISTS {t} (
    pk text COLLATE \"C\" NOT NULL,
    sk text COLLATE \"C\" NOT NULL,
    entity text,
    schema_version text,
    data jsonb,
    seq numeric NOT NULL,
    event_time timestamptz,
    deleted boolean NOT NULL DEFAULT false,
    mirrored_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pk, sk)
);
CREATE INDEX IF NOT EXISTS {index} ON {t} (entity, pk, sk) WHERE NOT deleted;",
        schema_q = quote_ident(schema)
    )
}

/// The batch upsert: one statement, rows as arrays. A row replaces the stored one only when
/// its sequence number is higher, so replays and reordering converge.
pub(crate) fn upsert(schema: &str, table: &str) -> String {
    format!(
        "INSERT INTO {t} AS cur (pk, sk, entity, schema_version, data, seq, event_time, deleted, mirrored_at)
SELECT u.pk, u.sk, u.entity, u.sv, u.data::jsonb, u.seq::numeric, u.et::timestamptz, u.deleted, now()
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bool[])
    AS u(pk, sk, entity, sv, data, seq, et, deleted)
ON CONFLICT (pk, sk) DO UPDATE SET
    entity = EXCLUDED.entity, schema_version = EXCLUDED.schema_version, data = EXCLUDED.data,
    seq = EXCLUDED.seq, event_time = EXCLUDED.event_time, deleted = EXCLUDED.deleted,
    mirrored_at = EXCLUDED.mirrored_at
WHERE cur.seq < EXCLUDED.seq",
        t = qualified(schema, table)
    )
}

/// `UserProfile` → `user_profile`.
pub(crate) fn snake(entity: &str) -> String {
    let mut out = String::with_capacity(entity.len() + 4);
    let chars: Vec<char> = entity.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if i > 0 && (prev_lower || (next_lower && chars[i - 1].is_uppercase())) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else {
            out.push('_');
        }
    }
    out
}

fn scalar_expr(sql: SqlType, text: &str) -> String {
    match sql {
        SqlType::Text | SqlType::Jsonb => text.to_string(),
        SqlType::BigInt => format!("({text})::numeric::bigint"),
        other => format!("({text})::{}", other.as_sql()),
    }
}

/// The JSON type a field of this SQL type must have for the cast to apply; other values read
/// as NULL rather than failing the whole query.
fn json_type(sql: SqlType) -> Option<&'static str> {
    match sql {
        SqlType::BigInt | SqlType::Numeric | SqlType::Double => Some("number"),
        SqlType::Boolean => Some("boolean"),
        SqlType::Timestamptz => Some("string"),
        _ => None,
    }
}

/// The view column expression for one field.
fn column(field: &FieldSpec) -> String {
    let json = format!("t.data->{}", quote_literal(field.name));
    let text = format!("t.data->>{}", quote_literal(field.name));
    let expr = match field.sql_type {
        SqlType::Jsonb => json.clone(),
        SqlType::Text => text,
        sql if sql.element().is_some() => {
            let elem = sql.element().unwrap_or(SqlType::Text);
            let cast = scalar_expr(elem, "e.v");
            format!(
                "CASE WHEN jsonb_typeof({json}) = 'array' THEN ARRAY(SELECT {cast} FROM jsonb_array_elements_text({json}) WITH ORDINALITY AS e(v, n) ORDER BY e.n) END"
            )
        }
        sql => {
            let cast = scalar_expr(sql, &text);
            match json_type(sql) {
                Some(jt) => format!("CASE WHEN jsonb_typeof({json}) = '{jt}' THEN {cast} END"),
                None => cast,
            }
        }
    };
    format!("{expr} AS {}", quote_ident(field.name))
}

/// The name of a model's view.
pub(crate) fn view_name(prefix: &str, spec: &ModelSpec) -> String {
    format!("{prefix}{}", snake(spec.entity()))
}

/// The comment that marks a view as generated for this model version.
pub(crate) fn view_comment(spec: &ModelSpec, table: &str) -> String {
    format!(
        "dynastream {VIEW_GENERATION} view of {} in {table} schema_version={}",
        spec.entity(),
        spec.schema_version()
    )
}

/// `CREATE VIEW` for one model: live rows of the entity, one typed column per field, then the
/// key and bookkeeping columns whose names no field uses.
pub(crate) fn create_view(schema: &str, table: &str, view: &str, spec: &ModelSpec) -> String {
    let mut cols: Vec<String> = spec.fields().iter().map(column).collect();
    for (name, expr) in [
        ("pk", "t.pk"),
        ("sk", "t.sk"),
        ("schema_version", "t.schema_version"),
        ("seq", "t.seq"),
        ("event_time", "t.event_time"),
    ] {
        if !spec.fields().iter().any(|f| f.name == name) {
            cols.push(format!("{expr} AS {name}"));
        }
    }
    format!(
        "CREATE VIEW {v} AS SELECT {cols} FROM {t} AS t WHERE t.entity = {entity} AND NOT t.deleted",
        v = qualified(schema, view),
        cols = cols.join(", "),
        t = qualified(schema, table),
        entity = quote_literal(spec.entity()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert!(check_ident("table", "dynastream_items").is_ok());
        assert!(check_ident("table", "_x1").is_ok());
        for bad in ["", "1x", "a-b", "a b", "a\"b", "é", &"x".repeat(64)] {
            assert!(check_ident("table", bad).is_err(), "{bad}");
        }
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
    }

    #[test]
    fn snake_names() {
        for (e, s) in [
            ("Story", "story"),
            ("UserProfile", "user_profile"),
            ("OrderLine", "order_line"),
            ("HTTPLog", "http_log"),
            ("V2Item", "v2_item"),
            ("already_snake", "already_snake"),
        ] {
            assert_eq!(snake(e), s);
        }
    }
}
