//! The decoding benchmark of `decode.rs` with mimalloc as the global allocator, as the example
//! Lambda (`handler/`) ships. All three parts run under it, so the ratios compare like with
//! like; `cargo bench --bench decode` gives the same figures with the system allocator.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod support;

#[path = "support/decode.rs"]
mod decode;

#[path = "support/nested.rs"]
mod nested;

fn main() {
    decode::main("mimalloc");
}
