//! `#[derive(Model)]`: key patterns as part of a serde type. See the `dynastream` crate.

use std::collections::BTreeMap;

mod fields;

use dynastream_pattern::Part;
use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use sha2::{Digest, Sha256};
use syn::{parse_macro_input, Data, DeriveInput, Fields, Ident, LitStr, Type};

/// Derives `dynastream::Model` and generates the typed key struct `<Name>Key`.
///
/// Attributes (on the struct): `#[dynastream(pk = "...", sk = "...")]`, and optionally
/// `entity = "..."`, `pk_attr = "..."`, `sk_attr = "..."`, `key = "KeyTypeName"`.
///
/// On a field, `#[dynastream(sql = "text")]` sets the type of its column in the Postgres
/// mirror's view (default: from the Rust type; jsonb when there is no obvious one).
#[proc_macro_derive(Model, attributes(dynastream))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

struct Attrs {
    pk: Option<LitStr>,
    sk: Option<LitStr>,
    entity: Option<LitStr>,
    pk_attr: Option<LitStr>,
    sk_attr: Option<LitStr>,
    key: Option<LitStr>,
    gsis: Vec<Gsi>,
}

/// `gsi(name = "GSI1", pk = "...", sk = "...", pk_attr = "...", sk_attr = "...")`
struct Gsi {
    name: LitStr,
    pk: LitStr,
    sk: LitStr,
    pk_attr: Option<LitStr>,
    sk_attr: Option<LitStr>,
}

fn parse_gsi(meta: &syn::meta::ParseNestedMeta) -> syn::Result<Gsi> {
    let (mut name, mut pk, mut sk, mut pk_attr, mut sk_attr) = (None, None, None, None, None);
    meta.parse_nested_meta(|m| {
        let slot = if m.path.is_ident("name") {
            &mut name
        } else if m.path.is_ident("pk") {
            &mut pk
        } else if m.path.is_ident("sk") {
            &mut sk
        } else if m.path.is_ident("pk_attr") {
            &mut pk_attr
        } else if m.path.is_ident("sk_attr") {
            &mut sk_attr
        } else {
            return Err(m.error("unknown gsi attribute; expected name, pk, sk, pk_attr or sk_attr"));
        };
        if slot.is_some() {
            return Err(m.error("duplicate gsi attribute"));
        }
        *slot = Some(m.value()?.parse::<LitStr>()?);
        Ok(())
    })?;
    let need = |v: Option<LitStr>, what: &str| {
        v.ok_or_else(|| meta.error(format!("gsi(...) needs {what} = \"...\"")))
    };
    Ok(Gsi {
        name: need(name, "name")?,
        pk: need(pk, "pk")?,
        sk: need(sk, "sk")?,
        pk_attr,
        sk_attr,
    })
}

fn parse_attrs(input: &DeriveInput) -> syn::Result<Attrs> {
    let mut a = Attrs {
        pk: None,
        sk: None,
        entity: None,
        pk_attr: None,
        sk_attr: None,
        key: None,
        gsis: Vec::new(),
    };
    for attr in input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("dynastream"))
    {
        attr.parse_nested_meta(|meta| {
            let slot = if meta.path.is_ident("pk") {
                &mut a.pk
            } else if meta.path.is_ident("sk") {
                &mut a.sk
            } else if meta.path.is_ident("entity") {
                &mut a.entity
            } else if meta.path.is_ident("pk_attr") {
                &mut a.pk_attr
            } else if meta.path.is_ident("sk_attr") {
                &mut a.sk_attr
            } else if meta.path.is_ident("key") {
                &mut a.key
            } else if meta.path.is_ident("gsi") {
                a.gsis.push(parse_gsi(&meta)?);
                return Ok(());
            } else {
                return Err(meta.error("unknown dynastream attribute; expected pk, sk, entity, pk_attr, sk_attr, key or gsi"));
            };
            if slot.is_some() {
                return Err(meta.error("duplicate dynastream attribute"));
            }
            *slot = Some(meta.value()?.parse::<LitStr>()?);
            Ok(())
        })?;
    }
    Ok(a)
}

/// One placeholder occurrence in a pattern, resolved against the struct's fields.
struct Slot {
    field: Ident,
    ty: Type,
    width: Option<usize>,
}

struct Resolved {
    text: String,
    segments: Vec<TokenStream2>,
    slots: Vec<Slot>,
}

fn resolve(lit: &LitStr, fields: &BTreeMap<String, (Ident, Type)>) -> syn::Result<Resolved> {
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
    Ok(Resolved {
        text,
        segments,
        slots,
    })
}

fn type_text(ty: &Type) -> String {
    quote!(#ty)
        .to_string()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let name = &input.ident;
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "#[derive(Model)] does not support generic types",
        ));
    }
    let named = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(n) => &n.named,
            _ => {
                return Err(syn::Error::new_spanned(
                    name,
                    "#[derive(Model)] needs a struct with named fields",
                ))
            }
        },
        _ => {
            return Err(syn::Error::new_spanned(
                name,
                "#[derive(Model)] needs a struct with named fields",
            ))
        }
    };
    let attrs = parse_attrs(input)?;
    let missing = |what: &str| {
        syn::Error::new_spanned(
            name,
            format!("#[derive(Model)] needs #[dynastream({what} = \"...\")]"),
        )
    };
    let pk_lit = attrs.pk.clone().ok_or_else(|| missing("pk"))?;
    let sk_lit = attrs.sk.clone().ok_or_else(|| missing("sk"))?;

    let rename_all = fields::rename_all(&input.attrs)?;
    let mut field_specs = Vec::new();
    let mut fields = BTreeMap::new();
    let mut canonical = String::from("dynastream-schema-v1\n");
    canonical.push_str(&format!("pk={}\nsk={}\n", pk_lit.value(), sk_lit.value()));
    for g in &attrs.gsis {
        canonical.push_str(&format!(
            "gsi={}:{}:{}:{}:{}\n",
            g.name.value(),
            g.pk_attr.as_ref().map(LitStr::value).unwrap_or_default(),
            g.sk_attr.as_ref().map(LitStr::value).unwrap_or_default(),
            g.pk.value(),
            g.sk.value()
        ));
    }
    for f in named {
        let Some(ident) = f.ident.clone() else {
            continue;
        };
        let ident_text = ident.to_string();
        let ident_text = ident_text
            .strip_prefix("r#")
            .unwrap_or(&ident_text)
            .to_string();
        canonical.push_str(&format!("field={}:{}\n", ident_text, type_text(&f.ty)));
        let fa = fields::field_attrs(&f.attrs)?;
        if !fa.no_attribute {
            let attr_name = match (&fa.rename, &rename_all) {
                (Some(r), _) => r.clone(),
                (None, Some((rule, span))) => fields::apply_rename_all(rule, &ident_text)
                    .ok_or_else(|| {
                        syn::Error::new(*span, format!("unknown serde rename_all rule {rule:?}"))
                    })?,
                (None, None) => ident_text.clone(),
            };
            let sql = fa.sql.as_ref().map_or_else(
                || fields::default_sql(&f.ty).to_string(),
                |(s, _)| s.clone(),
            );
            let sql = fields::sql_tokens(&sql);
            let rust_type = type_text(&f.ty);
            field_specs.push(quote!(::dynastream::model::FieldSpec {
                name: #attr_name,
                rust_type: #rust_type,
                sql_type: #sql,
            }));
        }
        fields.insert(ident_text, (ident, f.ty.clone()));
    }
    let pk = resolve(&pk_lit, &fields)?;
    let sk = resolve(&sk_lit, &fields)?;
    let mut gsis = Vec::new();
    for g in &attrs.gsis {
        let name_text = g.name.value();
        if name_text.is_empty() {
            return Err(syn::Error::new(g.name.span(), "gsi name must not be empty"));
        }
        if gsis
            .iter()
            .any(|(n, ..): &(String, _, _, _, _)| *n == name_text)
        {
            return Err(syn::Error::new(
                g.name.span(),
                format!("duplicate gsi {name_text:?}"),
            ));
        }
        let pk_attr = g
            .pk_attr
            .as_ref()
            .map_or_else(|| format!("{name_text}PK"), LitStr::value);
        let sk_attr = g
            .sk_attr
            .as_ref()
            .map_or_else(|| format!("{name_text}SK"), LitStr::value);
        if pk_attr.is_empty() || sk_attr.is_empty() || pk_attr == sk_attr {
            return Err(syn::Error::new(
                g.name.span(),
                "gsi key attribute names must be non-empty and different",
            ));
        }
        gsis.push((
            name_text,
            pk_attr,
            sk_attr,
            resolve(&g.pk, &fields)?,
            resolve(&g.sk, &fields)?,
        ));
    }
    let digest = Sha256::digest(canonical.as_bytes());
    let schema_version: String = digest.iter().map(|b| format!("{b:02x}")).collect();

    let entity = attrs
        .entity
        .as_ref()
        .map(LitStr::value)
        .unwrap_or_else(|| name.to_string());
    let pk_attr = attrs
        .pk_attr
        .as_ref()
        .map(LitStr::value)
        .unwrap_or_else(|| "PK".into());
    let sk_attr = attrs
        .sk_attr
        .as_ref()
        .map(LitStr::value)
        .unwrap_or_else(|| "SK".into());
    for (lit, v) in [(&attrs.pk_attr, &pk_attr), (&attrs.sk_attr, &sk_attr)] {
        if v.is_empty() {
            return Err(syn::Error::new(
                lit.as_ref().map_or(Span::call_site(), LitStr::span),
                "key attribute name must not be empty",
            ));
        }
    }
    if pk_attr == sk_attr {
        return Err(syn::Error::new_spanned(
            name,
            format!("pk_attr and sk_attr are both {pk_attr:?}"),
        ));
    }
    let key_name = match &attrs.key {
        Some(l) => syn::parse_str::<Ident>(&l.value())
            .map_err(|_| syn::Error::new(l.span(), "`key` must be a type name"))?,
        None => format_ident!("{}Key", name),
    };
    let vis = &input.vis;

    // Key fields: unique, in order of first appearance (PK then SK).
    let mut key_fields: Vec<(Ident, Type)> = Vec::new();
    for s in pk.slots.iter().chain(&sk.slots) {
        if !key_fields.iter().any(|(i, _)| *i == s.field) {
            key_fields.push((s.field.clone(), s.ty.clone()));
        }
    }
    let key_decls = key_fields.iter().map(|(i, t)| quote!(pub #i: #t));
    let key_clones = key_fields
        .iter()
        .map(|(i, _)| quote!(#i: ::core::clone::Clone::clone(&self.#i)));
    let key_idents: Vec<&Ident> = key_fields.iter().map(|(i, _)| i).collect();

    // Parsing: the first occurrence of a field binds it; a later one must agree. Key fields
    // parse canonically, so with the same width equal values have equal text and the captured
    // texts are compared without parsing again.
    // `check_stmts` is the same walk for `matches`: it only asks whether each first occurrence
    // parses (no value is built), and parses both sides only where a field appears with two
    // different widths.
    let mut bound: Vec<(Ident, TokenStream2, usize, Option<usize>)> = Vec::new();
    let mut parse_stmts = Vec::new();
    let mut check_stmts = Vec::new();
    let parse_of = |ty: &Type, width: Option<usize>, text: TokenStream2| match width {
        Some(_) => quote!(<#ty as ::dynastream::key::PaddedKeyField>::parse_padded(#text)),
        None => quote!(<#ty as ::dynastream::key::KeyField>::parse_key(#text)),
    };
    for (caps, slots) in [(quote!(__pk), &pk.slots), (quote!(__sk), &sk.slots)] {
        for (k, s) in slots.iter().enumerate() {
            let ty = &s.ty;
            let field = &s.field;
            let parse = parse_of(ty, s.width, quote!(#caps[#k]));
            match bound.iter().find(|b| b.0 == *field) {
                Some((_, first_caps, first_k, width)) if *width == s.width => {
                    let differ = quote!(#first_caps[#first_k] != #caps[#k]);
                    parse_stmts.push(quote!(if #differ { return ::core::option::Option::None; }));
                    check_stmts.push(quote!(if #differ { return false; }));
                }
                Some((_, first_caps, first_k, width)) => {
                    parse_stmts.push(
                        quote!(if #parse? != #field { return ::core::option::Option::None; }),
                    );
                    let first = parse_of(ty, *width, quote!(#first_caps[#first_k]));
                    check_stmts.push(quote!(match (#first, #parse) {
                        (::core::option::Option::Some(__a), ::core::option::Option::Some(__b)) if __a == __b => {}
                        _ => return false,
                    }));
                }
                None => {
                    bound.push((field.clone(), caps.clone(), k, s.width));
                    parse_stmts.push(quote!(let #field: #ty = #parse?;));
                    check_stmts.push(match s.width {
                        Some(_) => quote!(if !<#ty as ::dynastream::key::PaddedKeyField>::accepts_padded(#caps[#k]) { return false; }),
                        None => quote!(if !<#ty as ::dynastream::key::KeyField>::accepts_key(#caps[#k]) { return false; }),
                    });
                }
            }
        }
    }

    let render_fn = |r: &Resolved, pattern: TokenStream2| {
        let n = r.slots.len();
        let text = &r.text;
        let vals = r.slots.iter().map(|s| {
            let ty = &s.ty;
            let field = &s.field;
            let fname = field.to_string();
            match s.width {
                Some(w) => quote!(match <#ty as ::dynastream::key::PaddedKeyField>::padded_text(&self.#field, #w) {
                    ::core::option::Option::Some(t) => ::std::borrow::Cow::<str>::Owned(t),
                    ::core::option::Option::None => return ::core::result::Result::Err(::dynastream::key::RenderError::TooWide {
                        pattern: ::std::string::String::from(#text),
                        field: ::std::string::String::from(#fname),
                        value: ::std::string::ToString::to_string(&self.#field),
                        width: #w,
                    }),
                }),
                None => quote!(<#ty as ::dynastream::key::KeyField>::key_text(&self.#field)),
            }
        });
        let idx = 0..n;
        quote! {
            let __vals: [::std::borrow::Cow<'_, str>; #n] = [#(#vals),*];
            let __refs: [&str; #n] = [#(&*__vals[#idx]),*];
            #pattern.render(&__refs)
        }
    };
    let render_pk = render_fn(&pk, quote!(<#name as ::dynastream::Model>::pk_pattern()));
    let render_sk = render_fn(&sk, quote!(<#name as ::dynastream::Model>::sk_pattern()));

    // Indexes: their specs, and rendering an item's index keys.
    let index_specs = gsis.iter().map(|(n, pa, sa, p, k)| {
        let (pt, ps, pn) = (&p.text, &p.segments, p.slots.len());
        let (kt, ks, kn) = (&k.text, &k.segments, k.slots.len());
        quote!(::dynastream::model::IndexSpec {
            name: #n,
            pk_attr: #pa,
            sk_attr: #sa,
            pk: ::dynastream::key::Pattern::from_static(#pt, &[#(#ps),*], #pn),
            sk: ::dynastream::key::Pattern::from_static(#kt, &[#(#ks),*], #kn),
        })
    });
    let n_indexes = gsis.len();
    let index_arms = gsis.iter().enumerate().map(|(i, (_, _, _, p, k))| {
        let rp = render_fn(p, quote!(<#name as ::dynastream::Model>::indexes()[#i].pk));
        let rk = render_fn(k, quote!(<#name as ::dynastream::Model>::indexes()[#i].sk));
        quote!(#i => ::core::option::Option::Some((|| {
            let __p = { #rp }?;
            let __s = { #rk }?;
            ::core::result::Result::Ok((__p, __s))
        })()))
    });

    // The prefix type: every field any pattern uses, optional.
    let prefix_name = format_ident!("{}Prefix", key_name);
    let mut prefix_fields: Vec<(Ident, Type)> = Vec::new();
    for s in pk
        .slots
        .iter()
        .chain(&sk.slots)
        .chain(gsis.iter().flat_map(|g| g.3.slots.iter().chain(&g.4.slots)))
    {
        if !prefix_fields.iter().any(|(i, _)| *i == s.field) {
            prefix_fields.push((s.field.clone(), s.ty.clone()));
        }
    }
    let prefix_decls = prefix_fields
        .iter()
        .map(|(i, t)| quote!(pub #i: ::core::option::Option<#t>));
    let partial_fn = |r: &Resolved, pattern: TokenStream2, full: bool| {
        let n = r.slots.len();
        let text = &r.text;
        let vals = r.slots.iter().map(|s| {
            let ty = &s.ty;
            let field = &s.field;
            let fname = field.to_string();
            let render = match s.width {
                Some(w) => quote!(match <#ty as ::dynastream::key::PaddedKeyField>::padded_text(__v, #w) {
                    ::core::option::Option::Some(t) => ::std::borrow::Cow::<str>::Owned(t),
                    ::core::option::Option::None => return ::core::result::Result::Err(::dynastream::key::KeyError::Render(::dynastream::key::RenderError::TooWide {
                        pattern: ::std::string::String::from(#text),
                        field: ::std::string::String::from(#fname),
                        value: ::std::string::ToString::to_string(__v),
                        width: #w,
                    })),
                }),
                None => quote!(<#ty as ::dynastream::key::KeyField>::key_text(__v)),
            };
            quote!(match &self.#field {
                ::core::option::Option::Some(__v) => ::core::option::Option::Some(#render),
                ::core::option::Option::None => ::core::option::Option::None,
            })
        });
        let idx = 0..n;
        quote! {{
            let __vals: [::core::option::Option<::std::borrow::Cow<'_, str>>; #n] = [#(#vals),*];
            let __refs: [::core::option::Option<&str>; #n] = [#(__vals[#idx].as_deref()),*];
            #pattern.render_partial(&__refs, #full)
        }}
    };
    let prefix_pk = partial_fn(
        &pk,
        quote!(<#name as ::dynastream::Model>::pk_pattern()),
        true,
    );
    let prefix_sk = partial_fn(
        &sk,
        quote!(<#name as ::dynastream::Model>::sk_pattern()),
        false,
    );
    let prefix_index_pk = gsis.iter().enumerate().map(|(i, g)| {
        let body = partial_fn(
            &g.3,
            quote!(<#name as ::dynastream::Model>::indexes()[#i].pk),
            true,
        );
        quote!(::core::option::Option::Some(#i) => #body,)
    });
    let prefix_index_sk = gsis.iter().enumerate().map(|(i, g)| {
        let body = partial_fn(
            &g.4,
            quote!(<#name as ::dynastream::Model>::indexes()[#i].sk),
            false,
        );
        quote!(::core::option::Option::Some(#i) => #body,)
    });
    let prefix_doc = format!(
        "A partly filled key of [`{name}`] for queries: set the partition-key fields and a leading run of sort-key fields."
    );
    let (pk_text, pk_segs, pk_n) = (&pk.text, &pk.segments, pk.slots.len());
    let (sk_text, sk_segs, sk_n) = (&sk.text, &sk.segments, sk.slots.len());
    let doc = format!(
        "The typed key of [`{name}`]: `{pk_attr}` = `{pk_text}`, `{sk_attr}` = `{sk_text}`."
    );

    Ok(quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #vis struct #key_name { #(#key_decls),* }

        impl ::dynastream::ModelKey for #key_name {
            fn from_keys(__pk_key: &str, __sk_key: &str) -> ::core::option::Option<Self> {
                let mut __pk: [&str; #pk_n] = [""; #pk_n];
                if !<#name as ::dynastream::Model>::pk_pattern().captures(__pk_key, &mut __pk) {
                    return ::core::option::Option::None;
                }
                let mut __sk: [&str; #sk_n] = [""; #sk_n];
                if !<#name as ::dynastream::Model>::sk_pattern().captures(__sk_key, &mut __sk) {
                    return ::core::option::Option::None;
                }
                #(#parse_stmts)*
                ::core::option::Option::Some(Self { #(#key_idents),* })
            }
            fn matches(__pk_key: &str, __sk_key: &str) -> bool {
                let mut __pk: [&str; #pk_n] = [""; #pk_n];
                if !<#name as ::dynastream::Model>::pk_pattern().captures(__pk_key, &mut __pk) {
                    return false;
                }
                let mut __sk: [&str; #sk_n] = [""; #sk_n];
                if !<#name as ::dynastream::Model>::sk_pattern().captures(__sk_key, &mut __sk) {
                    return false;
                }
                #(#check_stmts)*
                true
            }
            fn pk(&self) -> ::core::result::Result<::std::string::String, ::dynastream::key::RenderError> {
                #render_pk
            }
            fn sk(&self) -> ::core::result::Result<::std::string::String, ::dynastream::key::RenderError> {
                #render_sk
            }
        }

        #[doc = #prefix_doc]
        #[derive(Debug, Clone, Default, PartialEq)]
        #vis struct #prefix_name { #(#prefix_decls),* }

        impl ::dynastream::model::KeyPrefix for #prefix_name {
            type Model = #name;
            fn pk(&self, __index: ::core::option::Option<usize>) -> ::core::result::Result<::std::string::String, ::dynastream::key::KeyError> {
                match __index {
                    ::core::option::Option::None => #prefix_pk,
                    #(#prefix_index_pk)*
                    ::core::option::Option::Some(__i) => ::core::result::Result::Err(::dynastream::key::KeyError::UnknownIndex { entity: #entity, index: __i }),
                }
            }
            fn sk_prefix(&self, __index: ::core::option::Option<usize>) -> ::core::result::Result<::std::string::String, ::dynastream::key::KeyError> {
                match __index {
                    ::core::option::Option::None => #prefix_sk,
                    #(#prefix_index_sk)*
                    ::core::option::Option::Some(__i) => ::core::result::Result::Err(::dynastream::key::KeyError::UnknownIndex { entity: #entity, index: __i }),
                }
            }
        }

        impl ::dynastream::Model for #name {
            type Key = #key_name;
            type Prefix = #prefix_name;
            fn indexes() -> &'static [::dynastream::model::IndexSpec] {
                static I: [::dynastream::model::IndexSpec; #n_indexes] = [#(#index_specs),*];
                &I
            }
            fn index_key(&self, __index: usize) -> ::core::option::Option<::core::result::Result<(::std::string::String, ::std::string::String), ::dynastream::key::RenderError>> {
                match __index {
                    #(#index_arms,)*
                    _ => ::core::option::Option::None,
                }
            }
            const ENTITY: &'static str = #entity;
            const PK_ATTR: &'static str = #pk_attr;
            const SK_ATTR: &'static str = #sk_attr;
            const SCHEMA_VERSION: &'static str = #schema_version;
            const FIELDS: &'static [::dynastream::model::FieldSpec] = &[#(#field_specs),*];
            fn pk_pattern() -> &'static ::dynastream::key::Pattern {
                static P: ::dynastream::key::Pattern = ::dynastream::key::Pattern::from_static(#pk_text, &[#(#pk_segs),*], #pk_n);
                &P
            }
            fn sk_pattern() -> &'static ::dynastream::key::Pattern {
                static P: ::dynastream::key::Pattern = ::dynastream::key::Pattern::from_static(#sk_text, &[#(#sk_segs),*], #sk_n);
                &P
            }
            fn key(&self) -> #key_name {
                #key_name { #(#key_clones),* }
            }
        }
    })
}
