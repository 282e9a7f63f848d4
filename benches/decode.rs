//! Decoding a 1000-record mixed batch three ways in one run, with the system allocator
//! (glibc's malloc on Linux): (a) the scan floor, (b) hand-written aws_lambda_events +
//! serde_dynamo, (c) dynastream. The body, and what each part measures, is in
//! `support/decode.rs`; `decode_mimalloc.rs` runs the same with mimalloc.

mod support;

#[path = "support/decode.rs"]
mod decode;

#[path = "support/nested.rs"]
mod nested;

fn main() {
    decode::main("system");
}
