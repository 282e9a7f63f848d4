extern crate dynastream_core as dynastream;

use dynastream::Model;

// Five mistakes: each is reported, at its own span, in one compile.
#[derive(Debug, serde::Deserialize, Model)]
#[dynastream(
    pk = "A#{nope}",
    sk = "B#{id}{id}",
    colour = "red",
    pk_attr = "K",
    sk_attr = "K",
    gsi(pk = "G#{id}", sk = "A")
)]
struct Thing {
    id: String,
}

fn main() {}
