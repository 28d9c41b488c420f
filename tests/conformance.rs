//! The DICOM Conformance Statement and the code agree: the generated tables of
//! docs/conformance.md are what `qcdesk conformance` prints, and a running receiver accepts
//! every Storage SOP Class and every transfer syntax the statement lists (negotiated with
//! dicom-ul as the requester, a context per class or syntax). The service's settings file
//! (`listen --config`) sets the AE title the receiver answers to.

mod common;

use std::path::Path;

use common::peers::*;
use common::*;
use dicom_ul::ClientAssociationOptions;
use dicom_ul::pdu::PresentationContextResultReason;
use qcdesk::conformance;
use qcdesk::net::storage_classes::STORAGE_SOP_CLASSES;

#[test]
fn the_document_and_the_code_agree() {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/conformance.md");
    let ws = tempfile::tempdir().unwrap();
    let out = qcdesk(
        ws.path(),
        &["conformance", "--check", doc.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "docs/conformance.md disagrees with the code: {}",
        stderr(&out)
    );
    // Every storage class the receiver offers is in the statement.
    let text = std::fs::read_to_string(&doc).unwrap();
    for uid in STORAGE_SOP_CLASSES {
        assert!(text.contains(&format!("| {uid} |")), "{uid} not listed");
    }
    // A changed table is caught.
    let edited = text.replacen("| 1.2.840.10008.5.1.4.1.1.2 |", "| 1.2.3 |", 1);
    assert_eq!(conformance::differences(&edited), ["storage-sop-classes"]);
}

/// Which of `contexts` (abstract syntax, transfer syntax) the receiver at `port` accepts, by
/// proposing them (at most 127 per association).
fn accepted(port: u16, contexts: &[(String, String)]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for chunk in contexts.chunks(100) {
        let mut options = ClientAssociationOptions::new()
            .calling_ae_title("CONFORMANCE")
            .called_ae_title("QCDESK_SVC");
        for (a, t) in chunk {
            options = options.with_presentation_context(a.clone(), vec![t.clone()]);
        }
        let assoc = options
            .establish_with(&format!("127.0.0.1:{port}"))
            .expect("the receiver accepts the association");
        for pc in assoc.presentation_contexts() {
            if pc.reason == PresentationContextResultReason::Acceptance {
                let proposed = &chunk[(pc.id as usize - 1) / 2];
                out.push((
                    proposed.0.clone(),
                    pc.transfer_syntax.trim_end_matches('\0').to_string(),
                ));
            }
        }
        let _ = assoc.release();
    }
    out
}

#[test]
fn a_receiver_accepts_every_class_and_syntax_the_statement_lists() {
    let ws = tempfile::tempdir().unwrap();
    let port = free_port();
    // As the package's service runs it: AE title and port from its settings file.
    let settings = ws.path().join("qcdesk.toml");
    std::fs::write(
        &settings,
        format!("[listen]\nae_title = \"QCDESK_SVC\"\nport = {port}\n"),
    )
    .unwrap();
    let log = ws.path().join("stderr.log");
    let child = std::process::Command::new(bin())
        .arg("--workspace")
        .arg(ws.path().join("ws"))
        .args(["listen", "--config", settings.to_str().unwrap()])
        .env_remove("QCDESK_WORKSPACE")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut receiver = Proc {
        child: Some(child),
        name: "qcdesk listen --config".into(),
    };
    wait_port(port, "qcdesk listen --config");

    let implicit = "1.2.840.10008.1.2".to_string();
    let classes: Vec<(String, String)> = STORAGE_SOP_CLASSES
        .iter()
        .map(|c| (c.to_string(), implicit.clone()))
        .collect();
    let got = accepted(port, &classes);
    let missing: Vec<&String> = classes
        .iter()
        .filter(|c| !got.contains(c))
        .map(|c| &c.0)
        .collect();
    assert!(missing.is_empty(), "refused storage classes: {missing:?}");

    let ct = "1.2.840.10008.5.1.4.1.1.2".to_string();
    let syntaxes: Vec<(String, String)> = conformance::accepted_transfer_syntaxes()
        .into_iter()
        .map(|t| (ct.clone(), t.to_string()))
        .collect();
    let got = accepted(port, &syntaxes);
    for (_, ts) in &syntaxes {
        assert!(
            got.iter().any(|(_, t)| t == ts),
            "transfer syntax {ts} ({}) refused",
            qcdesk::dicom::ts_name(ts)
        );
    }

    // A refused association goes to the log (the service's journal) with the caller's address.
    let refused = ClientAssociationOptions::new()
        .calling_ae_title("CONFORMANCE")
        .called_ae_title("NOT_THE_RECEIVER")
        .with_abstract_syntax("1.2.840.10008.1.1")
        .establish_with(&format!("127.0.0.1:{port}"));
    assert!(refused.is_err());
    receiver.terminate();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("association from 127.0.0.1:") && text.contains("refused"),
        "{text}"
    );
}
