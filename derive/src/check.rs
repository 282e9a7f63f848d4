//! Check: every rule a model must follow, each broken one recorded with its span, then the
//! [`Model`] the emitter needs. Nothing is emitted when anything is wrong.

use std::collections::BTreeMap;

use dynastream_pattern::Part;
use proc_macro2::Span;
use quote::{format_ident, quote};
use sha2::{Digest, Sha256};
use syn::{Ident, LitStr, Type};

use crate::ctxt::Errors;
use crate::fields;
use crate::model::{FieldSpec, Index, Model, Pattern, Slot};
use crate::parse::Input;

/// The model, or `None` with the reasons in `errors`.
pub fn model<'a>(input: Input<'a>, errors: &mut Errors) -> Option<Model<'a>> {
    let name = input.name;
    let a = &input.attrs;
    let missing = |errors: &mut Errors, what: &str| {
        errors.spanned(
            name,
            format!("#[derive(Model)] needs #[dynastream({what} = \"...\")]"),
        )
    };
    if a.pk.is_none() {
        missing(errors, "pk");
    }
    if let (None, Some(l)) = (&a.sk, &a.sk_attr) {
        errors.push(syn::Error::new(
            l.span(),
            "sk_attr names the sort key attribute, but the model has no sk pattern (a table with a partition key only has no sort key attribute)",
        ));
    }

    let by_name: BTreeMap<String, (Ident, Type)> = input
        .fields
        .iter()
        .map(|f| (f.name.clone(), (f.ident.clone(), f.ty.clone())))
        .collect();
    let pattern = |errors: &mut Errors, lit: &Option<LitStr>| {
        lit.as_ref().and_then(|l| errors.ok(resolve(l, &by_name)))
    };
    let pk = pattern(errors, &a.pk);
    // No `sk`: the table has a partition key only. The sort key is then the empty pattern,
    // which matches only "" (DynamoDB key strings are never empty, so it stands for "none").
    let sk = match &a.sk {
        Some(_) => pattern(errors, &a.sk),
        None => Some(Pattern {
            text: String::new(),
            segments: Vec::new(),
            slots: Vec::new(),
        }),
    };

    let mut indexes = Vec::new();
    for g in &a.gsis {
        let need = |errors: &mut Errors, v: &Option<LitStr>, what: &str| {
            if v.is_none() {
                errors.spanned(&g.at, format!("gsi(...) needs {what} = \"...\""));
            }
        };
        need(errors, &g.name, "name");
        need(errors, &g.pk, "pk");
        need(errors, &g.sk, "sk");
        let (gpk, gsk) = (pattern(errors, &g.pk), pattern(errors, &g.sk));
        let Some(lit) = &g.name else { continue };
        let index_name = lit.value();
        if index_name.is_empty() {
            errors.push(syn::Error::new(lit.span(), "gsi name must not be empty"));
        }
        if indexes.iter().any(|i: &Index| i.name == index_name) {
            errors.push(syn::Error::new(
                lit.span(),
                format!("duplicate gsi {index_name:?}"),
            ));
        }
        let attr = |v: &Option<LitStr>, suffix: &str| {
            v.as_ref()
                .map_or_else(|| format!("{index_name}{suffix}"), LitStr::value)
        };
        let (pk_attr, sk_attr) = (attr(&g.pk_attr, "PK"), attr(&g.sk_attr, "SK"));
        if pk_attr.is_empty() || sk_attr.is_empty() || pk_attr == sk_attr {
            errors.push(syn::Error::new(
                lit.span(),
                "gsi key attribute names must be non-empty and different",
            ));
        }
        if let (Some(pk), Some(sk)) = (gpk, gsk) {
            indexes.push(Index {
                name: index_name,
                pk_attr,
                sk_attr,
                pk,
                sk,
            });
        }
    }

    let attr_name = |v: &Option<LitStr>, default: &str| {
        v.as_ref()
            .map_or_else(|| default.to_string(), LitStr::value)
    };
    let sk_default = if a.sk.is_some() { "SK" } else { "" };
    let (pk_attr, sk_attr) = (
        attr_name(&a.pk_attr, "PK"),
        attr_name(&a.sk_attr, sk_default),
    );
    for (lit, v) in [(&a.pk_attr, &pk_attr), (&a.sk_attr, &sk_attr)] {
        if v.is_empty() && (lit.is_some() || a.sk.is_some()) {
            errors.push(syn::Error::new(
                lit.as_ref().map_or(Span::call_site(), LitStr::span),
                "key attribute name must not be empty",
            ));
        }
    }
    let schema_version_attr = attr_name(&a.schema_version_attr, "schema_version");
    if let Some(l) = &a.schema_version_attr {
        if schema_version_attr.is_empty()
            || schema_version_attr == pk_attr
            || schema_version_attr == sk_attr
        {
            errors.push(syn::Error::new(
                l.span(),
                "schema_version_attr must be a non-empty attribute name other than the key attributes",
            ));
        }
    }
    if pk_attr == sk_attr {
        errors.spanned(name, format!("pk_attr and sk_attr are both {pk_attr:?}"));
    }
    let key_name = match &a.key {
        Some(l) => match syn::parse_str::<Ident>(&l.value()) {
            Ok(i) => Some(i),
            Err(_) => {
                errors.push(syn::Error::new(l.span(), "`key` must be a type name"));
                None
            }
        },
        None => Some(format_ident!("{}Key", name)),
    };

    let mut field_specs = Vec::new();
    for f in input.fields.iter().filter(|f| !f.attrs.no_attribute) {
        let attr_name = match (&f.attrs.rename, &input.rename_all) {
            (Some(r), _) => r.clone(),
            (None, Some((rule, span))) => match fields::apply_rename_all(rule, &f.name) {
                Some(n) => n,
                None => {
                    errors.push(syn::Error::new(
                        *span,
                        format!("unknown serde rename_all rule {rule:?}"),
                    ));
                    // Reported once, at the rule.
                    break;
                }
            },
            (None, None) => f.name.clone(),
        };
        let sql = f.attrs.sql.as_ref().map_or_else(
            || fields::default_sql(&f.ty).to_string(),
            |(s, _)| s.clone(),
        );
        field_specs.push(FieldSpec {
            attr_name,
            rust_type: type_text(&f.ty),
            sql: fields::sql_tokens(&sql),
        });
    }

    let (pk, sk, key_name) = (pk?, sk?, key_name?);
    Some(Model {
        name,
        vis: input.vis,
        entity: attr_name(&a.entity, &name.to_string()),
        schema_version: schema_version(&input),
        pk_attr,
        sk_attr,
        schema_version_attr,
        key_name,
        pk,
        sk,
        indexes,
        fields: field_specs,
    })
}

/// Lowercase hex SHA-256 over `dynastream-schema-v1`, the patterns (the indexes' too) and
/// every field's name and type as written, in declaration order.
fn schema_version(input: &Input<'_>) -> String {
    let a = &input.attrs;
    let text = |l: &Option<LitStr>| l.as_ref().map(LitStr::value).unwrap_or_default();
    let mut canonical = String::from("dynastream-schema-v1\n");
    canonical.push_str(&format!("pk={}\nsk={}\n", text(&a.pk), text(&a.sk)));
    for g in &a.gsis {
        canonical.push_str(&format!(
            "gsi={}:{}:{}:{}:{}\n",
            text(&g.name),
            text(&g.pk_attr),
            text(&g.sk_attr),
            text(&g.pk),
            text(&g.sk)
        ));
    }
    for f in &input.fields {
        canonical.push_str(&format!("field={}:{}\n", f.name, type_text(&f.ty)));
    }
    Sha256::digest(canonical.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The type as written, without whitespace.
fn type_text(ty: &Type) -> String {
    quote!(#ty)
        .to_string()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// A pattern resolved against the fields: the grammar (from `dynastream-pattern`, the same
/// parser the runtime uses) and every placeholder naming a field.
fn resolve(lit: &LitStr, fields: &BTreeMap<String, (Ident, Type)>) -> syn::Result<Pattern> {
    let text = lit.value();
    let parts = dynastream_pattern::parse(&text)
        .map_err(|e| syn::Error::new(lit.span(), format!("invalid key pattern {text:?}: {e}")))?;
    let mut segments = Vec::new();
    let mut slots = Vec::new();
    for part in parts {
        match part {
            Part::Literal(l) => segments.push(
                quote!(::dynastream::key::Segment::Literal(::std::borrow::Cow::Borrowed(#l))),
            ),
            Part::Field { name, width } => {
                let Some((ident, ty)) = fields.get(name) else {
                    let known: Vec<&str> = fields.keys().map(String::as_str).collect();
                    return Err(syn::Error::new(
                        lit.span(),
                        format!(
                            "key pattern {text:?} names unknown field `{name}` (fields: {})",
                            known.join(", ")
                        ),
                    ));
                };
                let width_ts = match width {
                    Some(w) => quote!(::core::option::Option::Some(#w)),
                    None => quote!(::core::option::Option::None),
                };
                segments.push(quote!(::dynastream::key::Segment::Field {
                    name: ::std::borrow::Cow::Borrowed(#name),
                    width: #width_ts,
                    class: <#ty as ::dynastream::key::KeyField>::CLASS,
                }));
                slots.push(Slot {
                    field: ident.clone(),
                    ty: ty.clone(),
                    width,
                });
            }
        }
    }
    Ok(Pattern {
        text,
        segments,
        slots,
    })
}
