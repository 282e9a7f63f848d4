//! Key patterns: any text parses or is refused; a key that matches renders back to itself.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The input is "pattern\nkey".
    let (pattern, key) = text.split_once('\n').unwrap_or((text, ""));
    if let Err(e) = dynastream_core::__fuzz::pattern(pattern, key) {
        panic!("{e}");
    }
});
