//! The embedded archive: a loopback SCP inside qcdesk, started for each use of a node whose
//! `embedded` is [`EMBEDDED`]. It stores what it receives in the workspace's `demo-archive/`
//! folder (a file per SOP Instance UID, replaced on a resend), answers Storage Commitment on
//! the same association for the instances it holds, and Study Root C-FIND at study, series and
//! image level: the demo's archive, so "Send" works out of the box.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use crate::dicom::dump::Node;
use crate::net::commitment::CommitResult;
use crate::net::scp::{Answer, AssociationInfo, Handler, ScpConfig, Server, StoreRequest};
use crate::net::{STORAGE_COMMITMENT, STUDY_ROOT_FIND};

/// `embedded` value of a node served by this archive.
pub const EMBEDDED: &str = "demo-archive";

/// What the archive knows of one instance.
#[derive(Debug, Clone)]
struct Held {
    sop_class: String,
    study_uid: String,
    series_uid: String,
    patient_id: String,
    patient_name: String,
    accession: String,
}

struct Archive {
    folder: PathBuf,
    held: Mutex<HashMap<String, Held>>,
}

fn held_of(bytes: &[u8]) -> Option<(String, Held)> {
    let outcome =
        crate::dicom::read_header(&mut std::io::Cursor::new(bytes), bytes.len() as u64).ok()?;
    let h = outcome.header;
    (!h.sop_instance_uid.is_empty()).then(|| {
        (
            h.sop_instance_uid.clone(),
            Held {
                sop_class: h.sop_class_uid,
                study_uid: h.study_uid,
                series_uid: h.series_uid,
                patient_id: h.patient_id,
                patient_name: h.patient_name,
                accession: h.accession,
            },
        )
    })
}

impl Archive {
    fn open(folder: PathBuf) -> std::io::Result<Archive> {
        std::fs::create_dir_all(&folder)?;
        let mut held = HashMap::new();
        for entry in std::fs::read_dir(&folder)?.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "dcm")
                && let Ok(bytes) = std::fs::read(&path)
                && let Some((uid, h)) = held_of(&bytes)
            {
                held.insert(uid, h);
            }
        }
        Ok(Archive {
            folder,
            held: Mutex::new(held),
        })
    }
}

fn value(query: &[Node], tag: Tag) -> Option<&str> {
    query.iter().find(|n| n.tag == tag).map(|n| n.value.trim())
}

fn put(obj: &mut InMemDicomObject, tag: Tag, vr: VR, v: &str) {
    obj.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
}

impl Handler for Archive {
    fn sop_classes(&self) -> Vec<String> {
        vec![STORAGE_COMMITMENT.into(), STUDY_ROOT_FIND.into()]
    }

    fn accepts_storage(&self) -> bool {
        true
    }

    fn store(&self, _info: &AssociationInfo, rq: StoreRequest) -> Answer {
        let bytes = &rq.file;
        let Some((uid, held)) = held_of(bytes) else {
            return Answer::status(0xA900, "unreadable data set");
        };
        let safe: String = uid
            .chars()
            .map(|c| {
                if c.is_ascii_digit() || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let dest = self.folder.join(format!("{safe}.dcm"));
        if let Err(e) = crate::dicom::write::write_file(&self.folder, &dest, bytes) {
            return Answer::status(0xA700, format!("cannot write: {e}"));
        }
        if let Ok(mut h) = self.held.lock() {
            h.insert(uid, held);
        }
        Answer::success()
    }

    fn commit(&self, _info: &AssociationInfo, request: &CommitResult) -> Option<CommitResult> {
        let held = self.held.lock().ok()?;
        let mut result = CommitResult {
            transaction_uid: request.transaction_uid.clone(),
            ..Default::default()
        };
        for (class, uid) in &request.committed {
            match held.get(uid) {
                Some(h) if &h.sop_class == class => {
                    result.committed.push((class.clone(), uid.clone()))
                }
                Some(_) => result.failed.push((class.clone(), uid.clone(), 0x0119)),
                None => result.failed.push((class.clone(), uid.clone(), 0x0112)),
            }
        }
        Some(result)
    }

    fn find(
        &self,
        _info: &AssociationInfo,
        sop_class: &str,
        query: &[Node],
    ) -> (Vec<InMemDicomObject>, u16) {
        if sop_class != STUDY_ROOT_FIND {
            return (Vec::new(), 0x0122);
        }
        let Ok(held) = self.held.lock() else {
            return (Vec::new(), 0xC001);
        };
        let level = value(query, tags::QUERY_RETRIEVE_LEVEL).unwrap_or("STUDY");
        let study = value(query, tags::STUDY_INSTANCE_UID).unwrap_or("");
        let series = value(query, tags::SERIES_INSTANCE_UID).unwrap_or("");
        let in_scope: Vec<(&String, &Held)> = held
            .iter()
            .filter(|(_, h)| study.is_empty() || h.study_uid == study)
            .filter(|(_, h)| level != "IMAGE" || series.is_empty() || h.series_uid == series)
            .collect();
        let mut out = Vec::new();
        match level {
            "STUDY" => {
                let mut studies: HashMap<&str, (&Held, usize)> = HashMap::new();
                for (_, h) in &in_scope {
                    studies.entry(h.study_uid.as_str()).or_insert((h, 0)).1 += 1;
                }
                for (uid, (h, n)) in studies {
                    let mut o = InMemDicomObject::new_empty();
                    put(&mut o, tags::QUERY_RETRIEVE_LEVEL, VR::CS, "STUDY");
                    put(&mut o, tags::STUDY_INSTANCE_UID, VR::UI, uid);
                    put(&mut o, tags::PATIENT_ID, VR::LO, &h.patient_id);
                    put(&mut o, tags::PATIENT_NAME, VR::PN, &h.patient_name);
                    put(&mut o, tags::ACCESSION_NUMBER, VR::SH, &h.accession);
                    put(
                        &mut o,
                        tags::NUMBER_OF_STUDY_RELATED_INSTANCES,
                        VR::IS,
                        &n.to_string(),
                    );
                    out.push(o);
                }
            }
            "SERIES" => {
                let mut seen: Vec<&str> = Vec::new();
                for (_, h) in &in_scope {
                    if !seen.contains(&h.series_uid.as_str()) {
                        seen.push(&h.series_uid);
                        let mut o = InMemDicomObject::new_empty();
                        put(&mut o, tags::QUERY_RETRIEVE_LEVEL, VR::CS, "SERIES");
                        put(&mut o, tags::STUDY_INSTANCE_UID, VR::UI, &h.study_uid);
                        put(&mut o, tags::SERIES_INSTANCE_UID, VR::UI, &h.series_uid);
                        out.push(o);
                    }
                }
            }
            "IMAGE" => {
                for (uid, h) in &in_scope {
                    let mut o = InMemDicomObject::new_empty();
                    put(&mut o, tags::QUERY_RETRIEVE_LEVEL, VR::CS, "IMAGE");
                    put(&mut o, tags::STUDY_INSTANCE_UID, VR::UI, &h.study_uid);
                    put(&mut o, tags::SERIES_INSTANCE_UID, VR::UI, &h.series_uid);
                    put(&mut o, tags::SOP_INSTANCE_UID, VR::UI, uid);
                    put(&mut o, tags::SOP_CLASS_UID, VR::UI, &h.sop_class);
                    out.push(o);
                }
            }
            _ => return (Vec::new(), 0xA900),
        }
        (out, 0)
    }
}

/// The demo archive's folder in a workspace.
pub fn folder(root: &Path) -> PathBuf {
    root.join("demo-archive")
}

/// Starts the demo archive on a loopback port for the workspace at `root`.
pub fn start(root: &Path, ae_title: &str) -> std::io::Result<Server> {
    let archive = Archive::open(folder(root))?;
    Server::serve(ScpConfig::new(ae_title, "127.0.0.1:0"), Arc::new(archive))
}
