//! The mirror's JSON writer: valid jsonb or a refusal, equal to a slow reference conversion.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(image) = std::str::from_utf8(data) else { return };
    if let Err(e) = dynastream_postgres::__fuzz::mirror_json(image) {
        panic!("{e}");
    }
});
