extern crate dynastream_core as dynastream;

use dynastream::Model;

#[derive(serde::Deserialize, Debug, Model)]
#[dynastream(pk = "USER#{}", sk = "S")]
struct Bad {
    owner: String,
    id: u32,
}

fn main() {}
