//! Fuzz target: see `qcdesk::fuzzing::dimse`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    qcdesk::fuzzing::dimse(data);
});
