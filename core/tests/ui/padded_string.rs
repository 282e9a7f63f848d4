extern crate dynastream_core as dynastream;

use dynastream::Model;

#[derive(serde::Deserialize, Debug, Model)]
#[dynastream(pk = "A#{owner}", sk = "L#{name:04}")]
struct Bad {
    owner: String,
    name: String,
}

fn main() {}
