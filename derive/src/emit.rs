//! Emit: the generated code for a checked [`Model`]: the typed key and its parsing, the
//! prefix type for queries, and the `Model` impl. Nothing here can fail.

use proc_macro2::TokenStream as TokenStream2;
use quote::{format_ident, quote};
use syn::{Ident, Type};

use crate::model::{Model, Pattern};

/// The tokens for `m`.
pub fn model(m: &Model<'_>) -> TokenStream2 {
    let (name, vis, key_name) = (m.name, m.vis, &m.key_name);
    let (entity, pk_attr, sk_attr) = (&m.entity, &m.pk_attr, &m.sk_attr);
    let schema_version_attr = &m.schema_version_attr;
    let schema_version = &m.schema_version;
    let field_specs = m.fields.iter().map(|f| {
        let (attr_name, rust_type, sql) = (&f.attr_name, &f.rust_type, &f.sql);
        quote!(::dynastream::model::FieldSpec {
            name: #attr_name,
            rust_type: #rust_type,
            sql_type: #sql,
        })
    });

    // Key fields: unique, in order of first appearance (PK then SK).
    let mut key_fields: Vec<(Ident, Type)> = Vec::new();
    for s in m.pk.slots.iter().chain(&m.sk.slots) {
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
    for (caps, slots) in [(quote!(__pk), &m.pk.slots), (quote!(__sk), &m.sk.slots)] {
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

    let render_fn = |r: &Pattern, pattern: TokenStream2| {
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
    let render_pk = render_fn(&m.pk, quote!(<#name as ::dynastream::Model>::pk_pattern()));
    let render_sk = render_fn(&m.sk, quote!(<#name as ::dynastream::Model>::sk_pattern()));

    // Indexes: their specs, and rendering an item's index keys.
    let index_specs = m.indexes.iter().map(|i| {
        let (n, pa, sa) = (&i.name, &i.pk_attr, &i.sk_attr);
        let (pt, ps, pn) = (&i.pk.text, &i.pk.segments, i.pk.slots.len());
        let (kt, ks, kn) = (&i.sk.text, &i.sk.segments, i.sk.slots.len());
        quote!(::dynastream::model::IndexSpec {
            name: #n,
            pk_attr: #pa,
            sk_attr: #sa,
            pk: ::dynastream::key::Pattern::from_static(#pt, &[#(#ps),*], #pn),
            sk: ::dynastream::key::Pattern::from_static(#kt, &[#(#ks),*], #kn),
        })
    });
    let n_indexes = m.indexes.len();
    let index_arms = m.indexes.iter().enumerate().map(|(i, index)| {
        let (p, k) = (&index.pk, &index.sk);
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
    for s in m.pk.slots.iter().chain(&m.sk.slots).chain(
        m.indexes
            .iter()
            .flat_map(|g| g.pk.slots.iter().chain(&g.sk.slots)),
    ) {
        if !prefix_fields.iter().any(|(i, _)| *i == s.field) {
            prefix_fields.push((s.field.clone(), s.ty.clone()));
        }
    }
    let prefix_decls = prefix_fields
        .iter()
        .map(|(i, t)| quote!(pub #i: ::core::option::Option<#t>));
    let partial_fn = |r: &Pattern, pattern: TokenStream2, full: bool| {
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
        &m.pk,
        quote!(<#name as ::dynastream::Model>::pk_pattern()),
        true,
    );
    let prefix_sk = partial_fn(
        &m.sk,
        quote!(<#name as ::dynastream::Model>::sk_pattern()),
        false,
    );
    let prefix_index_pk = m.indexes.iter().enumerate().map(|(i, g)| {
        let body = partial_fn(
            &g.pk,
            quote!(<#name as ::dynastream::Model>::indexes()[#i].pk),
            true,
        );
        quote!(::core::option::Option::Some(#i) => #body,)
    });
    let prefix_index_sk = m.indexes.iter().enumerate().map(|(i, g)| {
        let body = partial_fn(
            &g.sk,
            quote!(<#name as ::dynastream::Model>::indexes()[#i].sk),
            false,
        );
        quote!(::core::option::Option::Some(#i) => #body,)
    });
    let prefix_doc = format!(
        "A partly filled key of [`{name}`] for queries: set the partition-key fields and a leading run of sort-key fields."
    );
    let (pk_text, pk_segs, pk_n) = (&m.pk.text, &m.pk.segments, m.pk.slots.len());
    let (sk_text, sk_segs, sk_n) = (&m.sk.text, &m.sk.segments, m.sk.slots.len());
    let doc = if sk_attr.is_empty() {
        format!("The typed key of [`{name}`]: `{pk_attr}` = `{pk_text}` (no sort key).")
    } else {
        format!(
            "The typed key of [`{name}`]: `{pk_attr}` = `{pk_text}`, `{sk_attr}` = `{sk_text}`."
        )
    };

    quote! {
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
            const SCHEMA_VERSION_ATTR: &'static str = #schema_version_attr;
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
    }
}
