//! The tables of qcdesk's DICOM Conformance Statement (PS3.2), built from the constants the
//! code negotiates with: the SOP classes each AE offers or proposes, the transfer syntaxes,
//! the implementation identity and the limits. `qcdesk conformance` prints them; the blocks
//! of `docs/conformance.md` between `<!-- BEGIN GENERATED id -->` markers are these tables, and
//! a test fails when the two disagree.

use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use serde::Serialize;

use crate::dicom::ts_name;
use crate::dicom::uids::sop_class_name as sop_name;
use crate::net::storage_classes::STORAGE_SOP_CLASSES;
use crate::net::{MWL_FIND, STORAGE_COMMITMENT, STUDY_ROOT_FIND, UNCOMPRESSED, VERIFICATION};

/// One table of the statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    /// Its marker in the document.
    pub id: &'static str,
    pub title: &'static str,
    pub header: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

/// Every transfer syntax the receiver accepts: those dicom-rs can parse (the rule of its
/// association acceptor), sorted by UID.
pub fn accepted_transfer_syntaxes() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = TransferSyntaxRegistry
        .iter()
        .filter(|t| !t.is_unsupported())
        .map(|t| t.uid())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn yes(b: bool) -> String {
    if b { "Yes" } else { "No" }.to_string()
}

fn list(uids: &[&str], name: fn(&str) -> String) -> String {
    uids.iter()
        .map(|u| format!("{} ({u})", name(u)))
        .collect::<Vec<_>>()
        .join("<br>")
}

/// Every table, in the order of the document.
pub fn tables() -> Vec<Table> {
    let uncompressed = list(&UNCOMPRESSED, ts_name);
    let storage_count = STORAGE_SOP_CLASSES.len();
    let services = Table {
        id: "network-services",
        title: "Network services",
        header: vec![
            "SOP Class",
            "UID",
            "User of Service (SCU)",
            "Provider of Service (SCP)",
        ],
        rows: vec![
            vec![
                sop_name(VERIFICATION),
                VERIFICATION.into(),
                yes(true),
                yes(true),
            ],
            vec![
                format!("Storage SOP Classes ({storage_count}, table storage-sop-classes)"),
                "see table".into(),
                yes(true),
                yes(true),
            ],
            vec![
                sop_name(STORAGE_COMMITMENT),
                STORAGE_COMMITMENT.into(),
                yes(true),
                yes(false),
            ],
            vec![sop_name(MWL_FIND), MWL_FIND.into(), yes(true), yes(false)],
            vec![
                sop_name(STUDY_ROOT_FIND),
                STUDY_ROOT_FIND.into(),
                yes(true),
                yes(false),
            ],
        ],
    };
    let receiver = crate::receive::ReceiverConfig::default();
    let identity = Table {
        id: "implementation",
        title: "Implementation identity and limits",
        header: vec!["Item", "Value"],
        rows: vec![
            vec![
                "Implementation Class UID (associations)".into(),
                dicom_ul::IMPLEMENTATION_CLASS_UID.into(),
            ],
            vec![
                "Implementation Version Name (associations)".into(),
                dicom_ul::IMPLEMENTATION_VERSION_NAME.into(),
            ],
            vec![
                "Implementation Class UID (files qcdesk writes)".into(),
                crate::dicom::write::IMPLEMENTATION_CLASS_UID.into(),
            ],
            vec![
                "Implementation Version Name (files qcdesk writes)".into(),
                crate::dicom::write::IMPLEMENTATION_VERSION.into(),
            ],
            vec![
                "Application Context Name".into(),
                "1.2.840.10008.3.1.1.1".into(),
            ],
            vec![
                "Maximum PDU received, receiver (bytes)".into(),
                crate::net::RECEIVER_MAX_PDU.to_string(),
            ],
            vec![
                "Maximum PDU received, requester (bytes)".into(),
                crate::net::REQUESTER_MAX_PDU.to_string(),
            ],
            vec![
                "Simultaneous connections accepted (default, `max_associations`)".into(),
                receiver.max_associations.to_string(),
            ],
            vec![
                "Simultaneous connections per calling host / associations per AE title and host (default, `max_per_address`, `max_per_ae`)".into(),
                format!("{} / {}", receiver.max_per_address, receiver.max_per_ae),
            ],
            vec![
                "Handshake deadline, receiver (default seconds, `handshake_seconds`)".into(),
                receiver.handshake_seconds.to_string(),
            ],
            vec![
                "Idle association timeout, receiver (default seconds, `timeout_seconds`)".into(),
                receiver.timeout_seconds.to_string(),
            ],
            vec![
                "Slowest transfer within a message, receiver (default bytes/s, `min_bytes_per_second`)".into(),
                receiver.min_bytes_per_second.to_string(),
            ],
            vec![
                "Largest command set; largest non-C-STORE data set (bytes)".into(),
                format!(
                    "{} ; {}",
                    crate::net::MAX_COMMAND,
                    crate::net::MAX_DATA_IN_MEMORY
                ),
            ],
            vec![
                "Deepest sequence nesting read".into(),
                crate::dicom::object::MAX_DEPTH.to_string(),
            ],
            vec![
                "Connect / read timeout, requester (default seconds)".into(),
                format!(
                    "{} / {}",
                    crate::net::Timeouts::default().connect.as_secs(),
                    crate::net::Timeouts::default().io.as_secs()
                ),
            ],
        ],
    };
    let mut accepted = vec![
        vec![
            sop_name(VERIFICATION),
            VERIFICATION.into(),
            "every one in table transfer-syntaxes".into(),
            "SCP".into(),
            "None".into(),
        ],
        vec![
            format!(
                "each of the {storage_count} Storage SOP Classes of table storage-sop-classes, and any other (private) SOP class proposed"
            ),
            "see table".into(),
            "every one in table transfer-syntaxes; the first proposed is accepted".into(),
            "SCP".into(),
            "None".into(),
        ],
    ];
    for uid in crate::receive::OFFERED {
        accepted.push(vec![
            sop_name(uid),
            uid.to_string(),
            "every one in table transfer-syntaxes".into(),
            "SCU (role selection accepted: the archive reports on associations it opens)".into(),
            "None".into(),
        ]);
    }
    let scp = Table {
        id: "accepted-contexts",
        title: "Presentation contexts accepted by the receiver (`qcdesk listen`, the desk)",
        header: vec![
            "Abstract Syntax",
            "UID",
            "Transfer Syntaxes",
            "Role",
            "Extended Negotiation",
        ],
        rows: accepted,
    };
    let scu = Table {
        id: "proposed-contexts",
        title: "Presentation contexts proposed by qcdesk as a requester",
        header: vec![
            "Activity",
            "Abstract Syntax",
            "Transfer Syntaxes",
            "Role",
            "Extended Negotiation",
        ],
        rows: vec![
            vec![
                "Verify a node (`qcdesk echo`)".into(),
                list(&[VERIFICATION], sop_name),
                uncompressed.clone(),
                "SCU".into(),
                "None".into(),
            ],
            vec![
                "Send a study (`qcdesk send`, the desk)".into(),
                "the Storage SOP Class of each instance sent, one context per class and transfer syntax (127 per association; more kinds go over further associations)".into(),
                format!("the instance's own transfer syntax, then {uncompressed}"),
                "SCU".into(),
                "None".into(),
            ],
            vec![
                "Proof of arrival by Storage Commitment".into(),
                list(&[STORAGE_COMMITMENT], sop_name),
                uncompressed.clone(),
                "SCU and SCP (role selection proposed)".into(),
                "None".into(),
            ],
            vec![
                "Proof of arrival by query".into(),
                list(&[STUDY_ROOT_FIND], sop_name),
                uncompressed.clone(),
                "SCU".into(),
                "None".into(),
            ],
            vec![
                "Refresh the worklist cache (`qcdesk worklist sync`)".into(),
                list(&[MWL_FIND], sop_name),
                uncompressed,
                "SCU".into(),
                "None".into(),
            ],
        ],
    };
    let syntaxes = Table {
        id: "transfer-syntaxes",
        title: "Transfer syntaxes the receiver accepts",
        header: vec!["Transfer Syntax", "UID"],
        rows: accepted_transfer_syntaxes()
            .into_iter()
            .map(|u| vec![ts_name(u), u.to_string()])
            .collect(),
    };
    let classes = Table {
        id: "storage-sop-classes",
        title: "Storage SOP Classes (sent and received)",
        header: vec!["SOP Class", "UID"],
        rows: STORAGE_SOP_CLASSES
            .iter()
            .map(|u| vec![sop_name(u), u.to_string()])
            .collect(),
    };
    vec![services, identity, scp, scu, syntaxes, classes]
}

/// A table as Markdown, between its markers.
pub fn markdown(t: &Table) -> String {
    let cell = |s: &str| s.replace('|', "\\|");
    let mut out = format!(
        "<!-- BEGIN GENERATED {} (qcdesk conformance) -->\n| {} |\n|{}\n",
        t.id,
        t.header.join(" | "),
        " --- |".repeat(t.header.len())
    );
    for r in &t.rows {
        let cells: Vec<String> = r.iter().map(|c| cell(c)).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out.push_str(&format!("<!-- END GENERATED {} -->\n", t.id));
    out
}

/// The generated block `id` of a document, markers included.
pub fn block<'a>(doc: &'a str, id: &str) -> Option<&'a str> {
    let begin = doc.find(&format!("<!-- BEGIN GENERATED {id} "))?;
    let end_marker = format!("<!-- END GENERATED {id} -->\n");
    let end = doc[begin..].find(&end_marker)? + begin + end_marker.len();
    Some(&doc[begin..end])
}

/// The ids of the document's generated blocks that differ from the code's tables (or are
/// missing).
pub fn differences(doc: &str) -> Vec<&'static str> {
    tables()
        .iter()
        .filter(|t| block(doc, t.id) != Some(markdown(t).as_str()))
        .map(|t| t.id)
        .collect()
}

/// The document with every generated block replaced by the code's tables; `Err` names a
/// block whose markers are missing.
pub fn update(doc: &str) -> Result<String, String> {
    let mut out = doc.to_string();
    for t in tables() {
        let Some(old) = block(&out, t.id) else {
            return Err(format!(
                "no block `<!-- BEGIN GENERATED {} ... -->` ... `<!-- END GENERATED {} -->` in the document",
                t.id, t.id
            ));
        };
        out = out.replacen(old, &markdown(&t), 1);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_storage_class_is_a_storage_class_of_the_standard() {
        for uid in STORAGE_SOP_CLASSES {
            let name = sop_name(uid);
            assert!(name.contains("Storage"), "{uid}: {name}");
        }
        let ts = accepted_transfer_syntaxes();
        for must in [
            "1.2.840.10008.1.2",
            "1.2.840.10008.1.2.1",
            "1.2.840.10008.1.2.4.70",
        ] {
            assert!(ts.contains(&must), "{must}");
        }
    }

    #[test]
    fn a_document_is_updated_and_then_agrees() {
        let mut doc = String::from("# Statement\n\n");
        for t in tables() {
            doc.push_str(&format!(
                "<!-- BEGIN GENERATED {} (qcdesk conformance) -->\nold\n<!-- END GENERATED {} -->\n\ntext\n",
                t.id, t.id
            ));
        }
        assert_eq!(differences(&doc).len(), tables().len());
        let new = update(&doc).unwrap();
        assert!(differences(&new).is_empty());
        assert!(new.contains("text\n"));
        assert!(update("nothing").is_err());
    }
}
