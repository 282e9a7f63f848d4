//! Errors found while reading and checking the input, kept so that every one is reported at
//! once (as serde_derive's `Ctxt` does), each with the span of what it is about.

use std::fmt::Display;

use quote::ToTokens;

/// The errors found so far.
#[derive(Default)]
pub struct Errors(Vec<syn::Error>);

impl Errors {
    /// Records an error at `tokens`.
    pub fn spanned(&mut self, tokens: impl ToTokens, message: impl Display) {
        self.0.push(syn::Error::new_spanned(tokens, message));
    }

    /// Records an error already made.
    pub fn push(&mut self, e: syn::Error) {
        self.0.push(e);
    }

    /// Keeps the value, or records its error.
    pub fn ok<T>(&mut self, r: syn::Result<T>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    /// `Err` with every recorded error combined, when there is one.
    pub fn finish(self) -> syn::Result<()> {
        let mut all = self.0.into_iter();
        let Some(mut first) = all.next() else {
            return Ok(());
        };
        for e in all {
            first.combine(e);
        }
        Err(first)
    }
}
