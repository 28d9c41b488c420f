//! Correcting a study: the dry run (every tag change, per study, before anything is written)
//! and the correction itself (every instance rewritten, read back and checked, recorded as new
//! versions with one audit entry). The caller shows the preview; applying it is refused if the
//! study changed since.

use std::collections::BTreeMap;
use std::io::Cursor;

use serde::Serialize;

use super::correction::{Correction, Origin, Value};
use super::rewrite::{self, Change, RewriteError, Stamp};
use crate::dicom::header::field_for_tag;
use crate::store::{CorrectionBase, CorrectionRecord, Destination, NewVersion, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum FixError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}; the study was not changed")]
    Rewrite(#[from] RewriteError),
    #[error("{0}")]
    Nothing(String),
    #[error("cannot store a corrected copy: {0}; the study was not changed")]
    Io(#[from] std::io::Error),
}

/// One attribute a correction changes in a study.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StudyChange {
    pub tag: String,
    pub keyword: String,
    /// The value most instances hold now.
    pub old: String,
    pub new: String,
    /// Instances whose value changes.
    pub instances: u64,
    /// Other values some instances hold now.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_old: Vec<String>,
}

/// The dry run of a correction.
#[derive(Debug, Clone)]
pub struct Preview {
    pub base: CorrectionBase,
    /// Where the instances go (a move or merge), or `None` (they stay).
    pub destination: Option<Destination>,
    pub changes: Vec<StudyChange>,
    /// Instances the correction rewrites (of `base.instances.len()`).
    pub instances: u64,
}

/// What a correction did.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    pub correction: i64,
    pub changes: Vec<StudyChange>,
    /// Instances moved to a new version.
    pub instances: u64,
}

/// Who corrects, and why.
#[derive(Debug, Clone, Default)]
pub struct Who {
    pub os_user: String,
    pub operator: String,
    pub reason: String,
}

fn label(b: &crate::store::BaseInstance) -> String {
    if b.original_path.is_empty() {
        format!("instance {}", b.sop_uid)
    } else {
        b.original_path.clone()
    }
}

/// Gathers per-instance changes into per-study ones, in tag order.
fn gather(per_instance: &[Vec<Change>]) -> Vec<StudyChange> {
    let mut by_tag: BTreeMap<String, (String, String, BTreeMap<String, u64>)> = BTreeMap::new();
    for ch in per_instance.iter().flatten() {
        let e = by_tag
            .entry(ch.tag.clone())
            .or_insert_with(|| (ch.keyword.clone(), ch.new.clone(), BTreeMap::new()));
        *e.2.entry(ch.old.clone()).or_default() += 1;
    }
    by_tag
        .into_iter()
        .map(|(tag, (keyword, new, olds))| {
            let mut olds: Vec<(String, u64)> = olds.into_iter().collect();
            olds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let instances = olds.iter().map(|(_, n)| n).sum();
            let mut values = olds.into_iter().map(|(v, _)| v);
            StudyChange {
                tag,
                keyword,
                old: values.next().unwrap_or_default(),
                new,
                instances,
                other_old: values.collect(),
            }
        })
        .collect()
}

/// The changes `c` would make to study `study_id`, read from its current versions.
pub fn preview(store: &Store, study_id: i64, c: &Correction) -> Result<Preview, FixError> {
    preview_base(store, store.correction_base(study_id)?, c, None)
}

/// The changes `c` would make to the instances of `base`, which then go to `destination`.
pub fn preview_base(
    store: &Store,
    base: CorrectionBase,
    c: &Correction,
    destination: Option<Destination>,
) -> Result<Preview, FixError> {
    let blobs = store.blobs();
    let mut per_instance = Vec::with_capacity(base.instances.len());
    for b in &base.instances {
        per_instance.push(rewrite::preview_file(
            &blobs.path(&b.blob_hash),
            &label(b),
            c,
        )?);
    }
    let instances = per_instance.iter().filter(|c| !c.is_empty()).count() as u64;
    Ok(Preview {
        changes: gather(&per_instance),
        base,
        destination,
        instances,
    })
}

/// Applies `c` to the study previewed: each instance that changes is rewritten, read back and
/// checked (the values set are there, the SOP Instance UID unchanged), staged, and all are
/// recorded as new versions at once. `progress(done, total)` is called per instance.
pub fn apply(
    store: &mut Store,
    preview: &Preview,
    c: &Correction,
    who: &Who,
    mut progress: impl FnMut(u64, u64),
) -> Result<Applied, FixError> {
    if preview.instances == 0 {
        return Err(FixError::Nothing(format!(
            "study {} already holds these values; nothing was changed",
            preview.base.study_id
        )));
    }
    let blobs = store.blobs();
    let stamp = Stamp::correct_now();
    let total = preview.base.instances.len() as u64;
    let mut versions = Vec::new();
    let mut per_instance = Vec::new();
    for (i, b) in preview.base.instances.iter().enumerate() {
        let name = label(b);
        let Some(rw) = rewrite::rewrite_file(&blobs.path(&b.blob_hash), &name, c, &stamp)? else {
            progress(i as u64 + 1, total);
            continue;
        };
        let read = check_written(&rw.bytes, &name, &b.sop_uid, c)?;
        let staged = blobs.stage(&rw.bytes, read.dataset_offset, &read.header.transfer_syntax)?;
        versions.push(NewVersion {
            instance_id: b.instance_id,
            staged,
            read,
        });
        per_instance.push(rw.changes);
        progress(i as u64 + 1, total);
    }
    let changes = gather(&per_instance);
    let action = match &c.origin {
        Origin::Order { .. } => "order",
        Origin::Manual => "edit",
        Origin::Move { .. } => "move",
        Origin::Merge { .. } => "merge",
    };
    let origin = serde_json::to_value(&c.origin).unwrap_or_default();
    let record = CorrectionRecord {
        action,
        os_user: who.os_user.clone(),
        operator: who.operator.clone(),
        reason: who.reason.clone(),
        origin,
        changes: serde_json::to_value(&changes).unwrap_or_default(),
    };
    let correction = store.commit_correction(
        &preview.base,
        &versions,
        &record,
        preview.destination.as_ref(),
    )?;
    Ok(Applied {
        correction,
        instances: versions.len() as u64,
        changes,
    })
}

/// Reads a rewritten file back as the importer would and checks it says what was written.
fn check_written(
    bytes: &[u8],
    name: &str,
    sop_uid: &str,
    c: &Correction,
) -> Result<crate::dicom::ReadOutcome, FixError> {
    let bad = |message: String| {
        FixError::Rewrite(RewriteError::Verify {
            file: name.to_string(),
            message,
        })
    };
    let read = crate::dicom::read_header(&mut Cursor::new(bytes), bytes.len() as u64)
        .map_err(|e| bad(e.to_string()))?;
    if let Some(e) = read.errors().next() {
        return Err(bad(e.message.clone()));
    }
    if read.header.sop_instance_uid != sop_uid {
        return Err(bad(format!(
            "SOP Instance UID reads '{}'",
            read.header.sop_instance_uid
        )));
    }
    let values = read.header.values();
    for e in &c.sets {
        let (Value::Text(want), Some(i)) = (&e.value, field_for_tag(e.tag)) else {
            continue;
        };
        let got = values.get(i).copied().unwrap_or_default();
        if got != want {
            return Err(bad(format!(
                "({:04X},{:04X}) reads '{got}', not '{want}'",
                e.tag.0, e.tag.1
            )));
        }
    }
    Ok(read)
}
