//! Every input the fuzzers (`scripts/fuzz`) ever found crashing a parser, kept under
//! `tests/data/fuzz/TARGET/` and replayed through the same entry points, with a few hostile
//! inputs of the same kind made here: each must now pass without a panic, an overflow or
//! running away.

mod common;

fn replay(target: &str, input: &[u8]) {
    match target {
        "file" => qcdesk::fuzzing::file(input),
        "dimse" => qcdesk::fuzzing::dimse(input),
        "commitment" => qcdesk::fuzzing::commitment(input),
        "decode" => qcdesk::fuzzing::decode(input),
        other => panic!("no fuzz target {other}"),
    }
}

#[test]
fn kept_crashers_no_longer_crash() {
    let root = common::data_dir().join("fuzz");
    let mut replayed = 0;
    for target in ["file", "dimse", "commitment", "decode"] {
        for f in common::files_under(&root.join(target)) {
            let input = std::fs::read(&f).unwrap();
            // On a small stack: a parser must not recurse on what it reads.
            let name = f.display().to_string();
            std::thread::Builder::new()
                .stack_size(512 << 10)
                .spawn(move || replay(target, &input))
                .unwrap()
                .join()
                .unwrap_or_else(|_| panic!("{name} crashes {target} again"));
            replayed += 1;
        }
    }
    eprintln!("{replayed} kept inputs replayed");
}

/// A Part 10 file (Explicit VR LE) around `data`.
fn part10(data: &[u8]) -> Vec<u8> {
    qcdesk::dicom::part10::wrap_part10(
        "1.2.840.10008.5.1.4.1.1.7",
        "1.2.3.4",
        "1.2.840.10008.1.2.1",
        "FUZZ",
        data,
    )
    .unwrap()
    .0
}

/// `depth` undefined-length sequences, one item each.
fn nested(depth: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for _ in 0..depth {
        v.extend_from_slice(&[
            0x40, 0x00, 0x30, 0xA7, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ]);
        v.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
    }
    v
}

#[test]
fn hostile_inputs_of_each_kind_pass_every_target_on_a_small_stack() {
    let deep = nested(50_000);
    let mut huge_length = vec![0x09, 0x00, 0x10, 0x10, b'O', b'B', 0, 0];
    huge_length.extend_from_slice(&u32::MAX.to_le_bytes());
    // A P-DATA PDU whose command never ends, and one announcing 4 GiB.
    let mut endless = Vec::new();
    for _ in 0..40 {
        endless.extend_from_slice(&[0x04, 0, 0, 0, 0x40, 0x06, 0, 0, 0x40, 0x02, 1, 0]);
        endless.extend(std::iter::repeat_n(0u8, 0x4000));
    }
    let absurd = [0x04, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 8, 1, 3];
    let inputs: Vec<Vec<u8>> = vec![
        deep.clone(),
        part10(&deep),
        huge_length.clone(),
        part10(&huge_length),
        endless,
        absurd.to_vec(),
        Vec::new(),
    ];
    for target in ["file", "dimse", "commitment", "decode"] {
        for input in &inputs {
            let input = input.clone();
            std::thread::Builder::new()
                .stack_size(512 << 10)
                .spawn(move || replay(target, &input))
                .unwrap()
                .join()
                .unwrap_or_else(|_| panic!("{target} panicked"));
        }
    }
}
