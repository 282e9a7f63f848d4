//! Per-field facts for `Model::FIELDS`: the attribute name serde stores the field under and
//! the SQL type the mirror's view gives it.

use proc_macro2::TokenStream as TokenStream2;
use quote::quote;
use syn::punctuated::Punctuated;
use syn::{
    Attribute, Expr, ExprLit, GenericArgument, Lit, LitStr, Meta, PathArguments, Token, Type,
};

/// The SQL types a field may be given, by name, with the `SqlType` variant each becomes.
const SQL_TYPES: &[(&str, &str)] = &[
    ("text", "Text"),
    ("bigint", "BigInt"),
    ("numeric", "Numeric"),
    ("double precision", "Double"),
    ("boolean", "Boolean"),
    ("timestamptz", "Timestamptz"),
    ("jsonb", "Jsonb"),
    ("text[]", "TextArray"),
    ("bigint[]", "BigIntArray"),
    ("numeric[]", "NumericArray"),
    ("double precision[]", "DoubleArray"),
    ("boolean[]", "BooleanArray"),
];

/// What serde and `#[dynastream(...)]` say about one field.
#[derive(Default)]
pub struct FieldAttrs {
    /// `#[serde(rename = "...")]`.
    pub rename: Option<String>,
    /// `skip`, `skip_serializing`, `skip_deserializing` or `flatten`: no attribute of its own.
    pub no_attribute: bool,
    /// `#[dynastream(sql = "...")]`, validated.
    pub sql: Option<(String, LitStr)>,
}

fn meta_str(meta: &Meta) -> Option<String> {
    match meta {
        Meta::NameValue(nv) => match &nv.value {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    }
}

fn serde_metas(attrs: &[Attribute]) -> syn::Result<Vec<Meta>> {
    let mut out = Vec::new();
    for a in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        out.extend(a.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)?);
    }
    Ok(out)
}

/// The container's `#[serde(rename_all = "...")]`, if any.
pub fn rename_all(attrs: &[Attribute]) -> syn::Result<Option<(String, proc_macro2::Span)>> {
    for m in serde_metas(attrs)? {
        if m.path().is_ident("rename_all") {
            return match meta_str(&m) {
                Some(rule) => Ok(Some((rule, m.path().segments[0].ident.span()))),
                None => Err(syn::Error::new_spanned(
                    m,
                    "#[derive(Model)] understands rename_all = \"...\" only",
                )),
            };
        }
    }
    Ok(None)
}

/// Reads a field's serde and dynastream attributes.
pub fn field_attrs(attrs: &[Attribute]) -> syn::Result<FieldAttrs> {
    let mut out = FieldAttrs {
        rename: None,
        no_attribute: false,
        sql: None,
    };
    for m in serde_metas(attrs)? {
        let p = m.path();
        if p.is_ident("rename") {
            // `rename(serialize = "..", deserialize = "..")` names differ by direction; the
            // stored attribute is the serialized name.
            out.rename = match &m {
                Meta::List(l) => {
                    let inner =
                        l.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)?;
                    inner
                        .iter()
                        .find(|i| i.path().is_ident("serialize"))
                        .and_then(meta_str)
                }
                _ => meta_str(&m),
            };
        } else if p.is_ident("skip")
            || p.is_ident("skip_serializing")
            || p.is_ident("skip_deserializing")
            || p.is_ident("flatten")
        {
            out.no_attribute = true;
        }
    }
    for a in attrs.iter().filter(|a| a.path().is_ident("dynastream")) {
        a.parse_nested_meta(|meta| {
            if !meta.path.is_ident("sql") {
                return Err(
                    meta.error("unknown dynastream field attribute; expected sql = \"...\"")
                );
            }
            let lit: LitStr = meta.value()?.parse()?;
            let v = lit.value();
            if !SQL_TYPES.iter().any(|(n, _)| *n == v) {
                let known: Vec<&str> = SQL_TYPES.iter().map(|(n, _)| *n).collect();
                return Err(syn::Error::new(
                    lit.span(),
                    format!(
                        "unknown SQL type {v:?}; expected one of: {}",
                        known.join(", ")
                    ),
                ));
            }
            out.sql = Some((v, lit));
            Ok(())
        })?;
    }
    Ok(out)
}

/// Applies serde's `rename_all` rule to a field name written in snake_case.
pub fn apply_rename_all(rule: &str, field: &str) -> Option<String> {
    let words: Vec<&str> = field.split('_').filter(|w| !w.is_empty()).collect();
    let cap = |w: &str| {
        let mut c = w.chars();
        c.next()
            .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
            .unwrap_or_default()
    };
    Some(match rule {
        "lowercase" => field.to_lowercase(),
        "UPPERCASE" => field.to_uppercase(),
        "PascalCase" => words.iter().map(|w| cap(w)).collect(),
        "camelCase" => {
            let pascal: String = words.iter().map(|w| cap(w)).collect();
            let mut c = pascal.chars();
            c.next()
                .map(|f| f.to_lowercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        }
        "snake_case" => field.to_string(),
        "SCREAMING_SNAKE_CASE" => field.to_uppercase(),
        "kebab-case" => field.replace('_', "-"),
        "SCREAMING-KEBAB-CASE" => field.replace('_', "-").to_uppercase(),
        _ => return None,
    })
}

/// The last path segment of a type and its generic type arguments.
fn head(ty: &Type) -> Option<(String, Vec<&Type>)> {
    match ty {
        Type::Path(p) => {
            let seg = p.path.segments.last()?;
            let args = match &seg.arguments {
                PathArguments::AngleBracketed(a) => a
                    .args
                    .iter()
                    .filter_map(|g| match g {
                        GenericArgument::Type(t) => Some(t),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            Some((seg.ident.to_string(), args))
        }
        Type::Reference(r) => head(&r.elem),
        Type::Group(g) => head(&g.elem),
        Type::Paren(p) => head(&p.elem),
        _ => None,
    }
}

fn scalar_sql(ty: &Type) -> Option<&'static str> {
    let (name, args) = head(ty)?;
    Some(match name.as_str() {
        "String" | "str" | "char" => "text",
        "Cow" if args.first().is_some_and(|a| scalar_sql(a) == Some("text")) => "text",
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" => "bigint",
        "u64" | "i128" | "u128" | "usize" | "isize" | "Decimal" | "Number" => "numeric",
        "f32" | "f64" => "double precision",
        "bool" => "boolean",
        _ => return None,
    })
}

/// The SQL type the view gives a field of type `ty`: scalars by type, `Option<T>` as `T`,
/// sequences and sets of scalars as arrays, everything else as jsonb.
pub fn default_sql(ty: &Type) -> &'static str {
    if let Some(s) = scalar_sql(ty) {
        return s;
    }
    let Some((name, args)) = head(ty) else {
        return "jsonb";
    };
    match (name.as_str(), args.as_slice()) {
        ("Option" | "Box", [inner]) => default_sql(inner),
        ("Vec" | "VecDeque" | "BTreeSet" | "HashSet", [inner]) => match scalar_sql(inner) {
            Some("text") => "text[]",
            Some("bigint") => "bigint[]",
            Some("numeric") => "numeric[]",
            Some("double precision") => "double precision[]",
            Some("boolean") => "boolean[]",
            _ => "jsonb",
        },
        _ => "jsonb",
    }
}

/// `::dynastream::model::SqlType::<Variant>` for a validated SQL type name.
pub fn sql_tokens(sql: &str) -> TokenStream2 {
    let variant = SQL_TYPES
        .iter()
        .find(|(n, _)| *n == sql)
        .map_or("Jsonb", |(_, v)| v);
    let ident = syn::Ident::new(variant, proc_macro2::Span::call_site());
    quote!(::dynastream::model::SqlType::#ident)
}
