//! `#[derive(Model)]`: key patterns as part of a serde type. See the `dynastream` crate.
//!
//! Like serde_derive, in four steps: `parse` reads the attributes and fields as written,
//! `check` applies every rule and builds the `model`, `emit` writes the code. Errors of
//! the first two steps are collected (`ctxt`) and all reported at once, each at its span.

#![forbid(unsafe_code)]

mod check;
mod ctxt;
mod emit;
mod fields;
mod model;
mod parse;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Derives `dynastream::Model` and generates the typed key struct `<Name>Key`.
///
/// Attributes (on the struct): `#[dynastream(pk = "...", sk = "...")]`, and optionally
/// `entity = "..."`, `pk_attr = "..."`, `sk_attr = "..."`, `schema_version_attr = "..."`,
/// `key = "KeyTypeName"`. Without
/// `sk` the table has a partition key only: `Model::SK_ATTR` is `""` and the key's sort key
/// is the empty string.
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

fn expand(input: &DeriveInput) -> syn::Result<proc_macro2::TokenStream> {
    let mut errors = ctxt::Errors::default();
    let model = parse::input(input, &mut errors).and_then(|i| check::model(i, &mut errors));
    errors.finish()?;
    match model {
        Some(m) => Ok(emit::model(&m)),
        None => Err(syn::Error::new_spanned(
            &input.ident,
            "#[derive(Model)] failed",
        )),
    }
}
