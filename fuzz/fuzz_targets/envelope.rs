//! Stream events: the fast scan and the serde paths read every input the same way.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = dynastream_core::__fuzz::envelope(data) {
        panic!("{e}");
    }
});
