//! Fuzz target: see `qcdesk::fuzzing::decode`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    qcdesk::fuzzing::decode(data);
});
