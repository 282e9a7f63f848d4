extern crate dynastream_core as dynastream;

use dynastream::Model;

// A model without `sk` has a table with a partition key only: naming its sort key attribute
// is a mistake.
#[derive(Debug, serde::Deserialize, Model)]
#[dynastream(pk = "SESSION#{id}", sk_attr = "SK")]
struct Session {
    id: String,
}

fn main() {}
