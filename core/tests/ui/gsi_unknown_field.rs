extern crate dynastream_core as dynastream;

use dynastream::Model;

#[derive(Debug, serde::Deserialize, Model)]
#[dynastream(pk = "A#{id}", sk = "A", gsi(name = "GSI1", pk = "T#{team}", sk = "A#{id}"))]
struct Thing {
    id: String,
}

#[derive(Debug, serde::Deserialize, Model)]
#[dynastream(pk = "A#{id}", sk = "A", gsi(name = "GSI1", sk = "A#{id}"))]
struct NoPk {
    id: String,
}

fn main() {}
