//! Fuzz target: see `qcdesk::fuzzing::file`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    qcdesk::fuzzing::file(data);
});
