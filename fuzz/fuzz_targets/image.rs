//! Images: where the fast reader decodes one, the reference decoder gives the same value.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(json) = std::str::from_utf8(data) else { return };
    if let Err(e) = dynastream_core::__fuzz::image(json) {
        panic!("{e}");
    }
});
