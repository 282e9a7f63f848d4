//! The SQL the mirror runs: the table, the batch upsert and the per-model views. Identifiers
//! are validated and quoted; row values only ever travel as parameters.

use dynastream_core::model::{FieldSpec, SqlType};
use dynastream_core::registry::ModelSpec;

/// Bumped when the view text this module generates changes, so existing views are replaced.
const VIEW_GENERATION: &str = "v3";

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
    stream text COLLATE \"C\" NOT NULL DEFAULT '',
    PRIMARY KEY (pk, sk)
);
ALTER TABLE {t} ADD COLUMN IF NOT EXISTS stream text COLLATE \"C\" NOT NULL DEFAULT '';
COMMENT ON COLUMN {t}.stream IS 'dynastream: the label of the stream the row came from (its creation time, from the stream ARN); rows are ordered by (stream, seq)';
CREATE TABLE IF NOT EXISTS {sources} (
    mirror_table text PRIMARY KEY,
    source_table text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE {sources} IS 'dynastream: the DynamoDB table (its ARN up to table/NAME) each mirror table holds';
CREATE INDEX IF NOT EXISTS {index} ON {t} (entity, pk, sk) WHERE NOT deleted;
CREATE OR REPLACE FUNCTION {function}(t text) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT CASE
    WHEN t ~ '^[0-9]{{4}}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)([.][0-9]+)?([Zz]|[+-](0[0-9]|1[0-5])(:?[0-5][0-9])?)$'
        AND left(t, 4) <> '0000'
    THEN CASE
        WHEN substr(t, 9, 2)::int <= extract(day FROM date_trunc('month', (left(t, 7) || '-01')::date) + interval '1 month - 1 day')
        THEN t::timestamptz
    END
END
$$;
COMMENT ON FUNCTION {function}(text) IS 'dynastream: an RFC 3339 timestamp as timestamptz, NULL when it is not a real one (never an error: the views never fail)';",
        schema_q = quote_ident(schema),
        function = timestamptz_fn(schema),
        sources = sources_table(schema),
    )
}

/// The table that records which DynamoDB table each mirror table in `schema` holds:
/// `"schema".dynastream_sources`.
pub(crate) fn sources_table(schema: &str) -> String {
    qualified(schema, "dynastream_sources")
}

/// Records `$2` as the DynamoDB table mirror table `$1` holds, unless it already holds one,
/// and returns the one it holds (one statement, safe for racing writers).
pub(crate) fn claim_source(schema: &str) -> String {
    format!(
        "INSERT INTO {t} AS cur (mirror_table, source_table) VALUES ($1, $2)
ON CONFLICT (mirror_table) DO UPDATE SET mirror_table = cur.mirror_table
RETURNING source_table",
        t = sources_table(schema)
    )
}

/// The function the views read timestamps with: `"schema".dynastream_timestamptz`. Plain SQL
/// that checks before it casts (the pattern — real months, days, hours, offsets up to ±15:59,
/// which is Postgres' limit — then the day against the month's length), so it never raises
/// and needs no exception block, whose subtransaction Postgres before 17 refuses in a parallel
/// query.
fn timestamptz_fn(schema: &str) -> String {
    qualified(schema, "dynastream_timestamptz")
}

/// The batch upsert: one statement, rows as arrays. A row replaces the stored one only when
/// its position — stream label, then sequence number — is later, so replays and reordering
/// converge and a newer stream's records win over an older stream's.
pub(crate) fn upsert(schema: &str, table: &str) -> String {
    format!(
        "INSERT INTO {t} AS cur (pk, sk, entity, schema_version, data, seq, event_time, deleted, mirrored_at, stream)
SELECT u.pk, u.sk, u.entity, u.sv, u.data::jsonb, u.seq::numeric, u.et::timestamptz, u.deleted, now(), u.stream
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bool[], $9::text[])
    AS u(pk, sk, entity, sv, data, seq, et, deleted, stream)
ON CONFLICT (pk, sk) DO UPDATE SET
    entity = EXCLUDED.entity, schema_version = EXCLUDED.schema_version, data = EXCLUDED.data,
    seq = EXCLUDED.seq, event_time = EXCLUDED.event_time, deleted = EXCLUDED.deleted,
    mirrored_at = EXCLUDED.mirrored_at, stream = EXCLUDED.stream
WHERE (cur.stream, cur.seq) < (EXCLUDED.stream, EXCLUDED.seq)",
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

/// `j` (a jsonb value) as a `sql` scalar; only evaluated where [`fits`] is true.
fn cast(schema: &str, sql: SqlType, j: &str) -> String {
    match sql {
        SqlType::Jsonb => j.to_string(),
        SqlType::Text => format!("({j} #>> '{{}}')"),
        SqlType::BigInt => format!("({j})::numeric::bigint"),
        SqlType::Numeric => format!("({j})::numeric"),
        SqlType::Double => format!("({j})::numeric::double precision"),
        SqlType::Boolean => format!("({j})::boolean"),
        SqlType::Timestamptz => format!("{}({j} #>> '{{}}')", timestamptz_fn(schema)),
        array => {
            let elem = array.element().unwrap_or(SqlType::Jsonb);
            format!(
                "ARRAY(SELECT {} FROM jsonb_array_elements({j}) WITH ORDINALITY AS e(v, n) ORDER BY e.n)",
                cast(schema, elem, "e.v")
            )
        }
    }
}

/// The range of the integer Rust type a field holds (through `Option`, `Box`, sequences and
/// sets, so an array's elements), lowest and highest: what the model's decoder accepts (it never
/// rounds or truncates). `None` for other types. `usize` and `isize` as on 64-bit targets.
fn int_range(rust_type: &str) -> Option<(i128, u128)> {
    let mut t: String = rust_type.chars().filter(|c| !c.is_whitespace()).collect();
    while let Some(open) = t.find('<') {
        let head = t[..open].rsplit("::").next().unwrap_or("");
        if !matches!(
            head,
            "Option" | "Box" | "Vec" | "VecDeque" | "BTreeSet" | "HashSet"
        ) || !t.ends_with('>')
        {
            return None;
        }
        t = t[open + 1..t.len() - 1].to_string();
    }
    Some(match t.rsplit("::").next().unwrap_or("") {
        "u8" => (0, u8::MAX.into()),
        "u16" => (0, u16::MAX.into()),
        "u32" => (0, u32::MAX.into()),
        "u64" | "usize" => (0, u64::MAX.into()),
        "u128" => (0, u128::MAX),
        "i8" => (i8::MIN.into(), i8::MAX as u128),
        "i16" => (i16::MIN.into(), i16::MAX as u128),
        "i32" => (i32::MIN.into(), i32::MAX as u128),
        "i64" | "isize" => (i64::MIN.into(), i64::MAX as u128),
        "i128" => (i128::MIN, i128::MAX as u128),
        _ => return None,
    })
}

/// True when jsonb value `j` is present, not JSON null, and its column type holds it exactly —
/// within `range` too, the field's Rust integer range, when it has one; false otherwise (never
/// an error, never NULL). `None` for jsonb, which holds anything.
///
/// Checks come before any cast, inside `CASE` (Postgres evaluates `CASE` branches in order; it
/// does not promise an order for `AND`): the JSON type, then for `bigint` an integral value in
/// range, for `double precision` a magnitude a double holds (an underflow to 0 or an overflow
/// is an error in Postgres), for `timestamptz` an RFC 3339 text that converts, for arrays every
/// element.
fn fits(schema: &str, sql: SqlType, range: Option<(i128, u128)>, j: &str) -> Option<String> {
    let typed = |json_type: &str, check: &str| {
        format!("CASE WHEN jsonb_typeof({j}) = '{json_type}' THEN {check} ELSE false END")
    };
    let integral = |(lo, hi): (i128, u128)| {
        format!("({j})::numeric = trunc(({j})::numeric) AND ({j})::numeric BETWEEN {lo} AND {hi}")
    };
    Some(match sql {
        SqlType::Jsonb => return None,
        SqlType::Text => typed("string", "true"),
        SqlType::Numeric => typed("number", &range.map_or_else(|| "true".into(), integral)),
        SqlType::Boolean => typed("boolean", "true"),
        // The column's own range, narrowed to the Rust type's (a `u64` field set to bigint
        // still cannot show 2^63 there).
        SqlType::BigInt => {
            let (lo, hi) = range.unwrap_or((i64::MIN.into(), i64::MAX as u128));
            let column = (lo.max(i64::MIN.into()), hi.min(i64::MAX as u128));
            typed("number", &integral(column))
        }
        SqlType::Double => typed(
            "number",
            &format!(
                "abs(({j})::numeric) <= 1.7976931348623157e308 AND (({j})::numeric = 0 OR abs(({j})::numeric) >= 4.9406564584124654e-324)"
            ),
        ),
        SqlType::Timestamptz => typed(
            "string",
            &format!("{}({j} #>> '{{}}') IS NOT NULL", timestamptz_fn(schema)),
        ),
        array => {
            let elem = array.element().unwrap_or(SqlType::Jsonb);
            let each = fits(schema, elem, range, "e.v").unwrap_or_else(|| "true".into());
            typed(
                "array",
                &format!("NOT EXISTS (SELECT 1 FROM jsonb_array_elements({j}) AS e(v) WHERE NOT ({each}))"),
            )
        }
    })
}

/// The view column expression for one field: its value when its type holds it, else NULL.
fn column(schema: &str, field: &FieldSpec) -> String {
    let j = format!("t.data->{}", quote_literal(field.name));
    let expr = match fits(schema, field.sql_type, int_range(field.rust_type), &j) {
        None => j,
        Some(ok) => format!(
            "CASE WHEN {ok} THEN {} END",
            cast(schema, field.sql_type, &j)
        ),
    };
    format!("{expr} AS {}", quote_ident(field.name))
}

/// The `values_fit` column: false when some field's value is present (not JSON null) but its
/// column reads NULL because the column type cannot hold it.
fn values_fit(schema: &str, fields: &[FieldSpec]) -> String {
    let checks: Vec<String> = fields
        .iter()
        .filter_map(|f| {
            let j = format!("t.data->{}", quote_literal(f.name));
            fits(schema, f.sql_type, int_range(f.rust_type), &j)
                .map(|ok| format!("({j} IS NULL OR jsonb_typeof({j}) = 'null' OR {ok})"))
        })
        .collect();
    if checks.is_empty() {
        "true".into()
    } else {
        checks.join(" AND ")
    }
}

/// The name of a model's view.
pub(crate) fn view_name(prefix: &str, spec: &ModelSpec) -> String {
    format!("{prefix}{}", snake(spec.entity()))
}

/// The mirror table a view comment of this project names (any generation), if it is one.
pub(crate) fn view_table(comment: &str) -> Option<&str> {
    let rest = comment.strip_prefix("dynastream ")?;
    let (_, rest) = rest.split_once(" view of ")?;
    let (_, rest) = rest.split_once(" in ")?;
    Some(rest.split_once(" schema_version=").map_or(rest, |(t, _)| t))
}

/// The comment that marks a view as generated for this model version.
pub(crate) fn view_comment(spec: &ModelSpec, table: &str) -> String {
    format!(
        "dynastream {VIEW_GENERATION} view of {} in {table} schema_version={}",
        spec.entity(),
        spec.schema_version()
    )
}

/// `CREATE VIEW` for one model: live rows of the entity, one typed column per field (NULL where
/// the value does not fit: never an error, never rounded), then `values_fit` and the key and
/// bookkeeping columns whose names no field uses.
pub(crate) fn create_view(schema: &str, table: &str, view: &str, spec: &ModelSpec) -> String {
    let mut cols: Vec<String> = spec.fields().iter().map(|f| column(schema, f)).collect();
    let fit = values_fit(schema, spec.fields());
    for (name, expr) in [
        ("values_fit", fit.as_str()),
        ("pk", "t.pk"),
        ("sk", "t.sk"),
        ("schema_version", "t.schema_version"),
        ("seq", "t.seq"),
        ("stream", "t.stream"),
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

    #[test]
    fn integer_ranges_come_from_the_rust_type_through_options_and_sequences() {
        assert_eq!(int_range("u32"), Some((0, 4_294_967_295)));
        assert_eq!(int_range("Option<u8>"), Some((0, 255)));
        assert_eq!(int_range("Vec < i16 >"), Some((-32768, 32767)));
        assert_eq!(
            int_range("std::collections::BTreeSet<u64>"),
            Some((0, u64::MAX.into()))
        );
        assert_eq!(
            int_range("Option<Vec<i64>>"),
            Some((i64::MIN.into(), i64::MAX as u128))
        );
        for other in [
            "String",
            "f64",
            "Decimal",
            "HashMap<String, u32>",
            "Option<String>",
            "u32x",
        ] {
            assert_eq!(int_range(other), None, "{other}");
        }
        // A u64 field shown as bigint: the column's range bounds it, a u8's its own.
        let u64_bigint = fits("s", SqlType::BigInt, int_range("u64"), "j").unwrap();
        assert!(
            u64_bigint.contains("BETWEEN 0 AND 9223372036854775807"),
            "{u64_bigint}"
        );
        let u8_bigint = fits("s", SqlType::BigInt, int_range("u8"), "j").unwrap();
        assert!(u8_bigint.contains("BETWEEN 0 AND 255"), "{u8_bigint}");
        let u64_numeric = fits("s", SqlType::Numeric, int_range("u64"), "j").unwrap();
        assert!(
            u64_numeric.contains("BETWEEN 0 AND 18446744073709551615"),
            "{u64_numeric}"
        );
        assert!(!fits("s", SqlType::Numeric, None, "j")
            .unwrap()
            .contains("BETWEEN"));
    }

    #[test]
    fn a_view_comment_names_its_table() {
        let spec = dynastream_core::registry::ModelSpec::new(
            "Story",
            "PK",
            "SK",
            dynastream_core::key::Pattern::parse("S#{id}").unwrap(),
            dynastream_core::key::Pattern::parse("S").unwrap(),
        );
        let c = view_comment(&spec, "app.items");
        assert_eq!(view_table(&c), Some("app.items"));
        assert_eq!(
            view_table("dynastream v2 view of Story in public.x schema_version=1"),
            Some("public.x")
        );
        assert_eq!(view_table("a view someone wrote"), None);
    }
}
