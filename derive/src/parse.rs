//! Parse: the struct's `#[dynastream(...)]` attributes and its fields, as written. Unknown or
//! repeated attributes are recorded and parsing goes on, so every mistake is reported at once.

use syn::meta::ParseNestedMeta;
use syn::{Data, DeriveInput, Fields, Ident, LitStr, Type, Visibility};

use crate::ctxt::Errors;
use crate::fields::{self, FieldAttrs};

/// The container attributes, as written.
#[derive(Default)]
pub struct Attrs {
    pub pk: Option<LitStr>,
    pub sk: Option<LitStr>,
    pub entity: Option<LitStr>,
    pub pk_attr: Option<LitStr>,
    pub sk_attr: Option<LitStr>,
    pub schema_version_attr: Option<LitStr>,
    pub key: Option<LitStr>,
    pub gsis: Vec<Gsi>,
}

/// `gsi(name = "GSI1", pk = "...", sk = "...", pk_attr = "...", sk_attr = "...")`, as written.
pub struct Gsi {
    /// The `gsi` path, for errors about the whole index.
    pub at: syn::Path,
    pub name: Option<LitStr>,
    pub pk: Option<LitStr>,
    pub sk: Option<LitStr>,
    pub pk_attr: Option<LitStr>,
    pub sk_attr: Option<LitStr>,
}

/// One named field.
pub struct Field {
    pub ident: Ident,
    /// The name without `r#`.
    pub name: String,
    pub ty: Type,
    pub attrs: FieldAttrs,
}

/// The input as written.
pub struct Input<'a> {
    pub name: &'a Ident,
    pub vis: &'a Visibility,
    pub attrs: Attrs,
    pub fields: Vec<Field>,
    /// `#[serde(rename_all = "...")]` and where it is.
    pub rename_all: Option<(String, proc_macro2::Span)>,
}

/// Reads the input; `None` only when it is not a non-generic struct with named fields.
pub fn input<'a>(input: &'a DeriveInput, errors: &mut Errors) -> Option<Input<'a>> {
    let name = &input.ident;
    if !input.generics.params.is_empty() {
        errors.spanned(
            &input.generics,
            "#[derive(Model)] does not support generic types",
        );
    }
    let named = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(n) => Some(&n.named),
            _ => None,
        },
        _ => None,
    };
    let Some(named) = named else {
        errors.spanned(name, "#[derive(Model)] needs a struct with named fields");
        return None;
    };
    let attrs = attrs(input, errors);
    let rename_all = errors.ok(fields::rename_all(&input.attrs)).flatten();
    let fields = named
        .iter()
        .filter_map(|f| {
            let ident = f.ident.clone()?;
            let text = ident.to_string();
            let name = text.strip_prefix("r#").unwrap_or(&text).to_string();
            // A field whose attributes are wrong still counts as a field (its error is
            // recorded), so patterns naming it do not report it unknown too.
            let attrs = errors.ok(fields::field_attrs(&f.attrs)).unwrap_or_default();
            Some(Field {
                ident,
                name,
                ty: f.ty.clone(),
                attrs,
            })
        })
        .collect();
    Some(Input {
        name,
        vis: &input.vis,
        attrs,
        fields,
        rename_all,
    })
}

/// Sets `slot` from `name = "..."`, recording a repeat.
fn set(slot: &mut Option<LitStr>, meta: &ParseNestedMeta, what: &str) -> syn::Result<()> {
    let value = meta.value()?.parse::<LitStr>()?;
    if slot.is_some() {
        return Err(meta.error(format!("duplicate {what} attribute")));
    }
    *slot = Some(value);
    Ok(())
}

/// Skips what follows an unknown name (`= value` or `(...)`), so parsing can go on.
fn skip(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        meta.parse_nested_meta(|m| skip(&m))?;
    }
    Ok(())
}

fn attrs(input: &DeriveInput, errors: &mut Errors) -> Attrs {
    let mut a = Attrs::default();
    for attr in input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("dynastream"))
    {
        let mut found = Vec::new();
        let parsed = attr.parse_nested_meta(|meta| {
            let p = &meta.path;
            let slot = if p.is_ident("pk") {
                &mut a.pk
            } else if p.is_ident("sk") {
                &mut a.sk
            } else if p.is_ident("entity") {
                &mut a.entity
            } else if p.is_ident("pk_attr") {
                &mut a.pk_attr
            } else if p.is_ident("sk_attr") {
                &mut a.sk_attr
            } else if p.is_ident("schema_version_attr") {
                &mut a.schema_version_attr
            } else if p.is_ident("key") {
                &mut a.key
            } else if p.is_ident("gsi") {
                a.gsis.push(gsi(&meta, &mut found)?);
                return Ok(());
            } else {
                found.push(meta.error(
                    "unknown dynastream attribute; expected pk, sk, entity, pk_attr, sk_attr, schema_version_attr, key or gsi",
                ));
                return skip(&meta);
            };
            if let Err(e) = set(slot, &meta, "dynastream") {
                found.push(e);
            }
            Ok(())
        });
        for e in found {
            errors.push(e);
        }
        errors.ok(parsed);
    }
    a
}

fn gsi(meta: &ParseNestedMeta, found: &mut Vec<syn::Error>) -> syn::Result<Gsi> {
    let mut g = Gsi {
        at: meta.path.clone(),
        name: None,
        pk: None,
        sk: None,
        pk_attr: None,
        sk_attr: None,
    };
    meta.parse_nested_meta(|m| {
        let p = &m.path;
        let slot = if p.is_ident("name") {
            &mut g.name
        } else if p.is_ident("pk") {
            &mut g.pk
        } else if p.is_ident("sk") {
            &mut g.sk
        } else if p.is_ident("pk_attr") {
            &mut g.pk_attr
        } else if p.is_ident("sk_attr") {
            &mut g.sk_attr
        } else {
            found.push(m.error("unknown gsi attribute; expected name, pk, sk, pk_attr or sk_attr"));
            return skip(&m);
        };
        if let Err(e) = set(slot, &m, "gsi") {
            found.push(e);
        }
        Ok(())
    })?;
    Ok(g)
}
