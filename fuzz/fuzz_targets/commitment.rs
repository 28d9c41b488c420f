//! Fuzz target: see `qcdesk::fuzzing::commitment`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    qcdesk::fuzzing::commitment(data);
});
