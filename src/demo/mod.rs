//! The built-in demo: a synthetic department (patients, four modalities, a RIS worklist) whose
//! studies carry planted exceptions of every kind, written as real DICOM files into an inbox
//! folder and imported through the normal import path.

pub mod department;
pub mod images;
mod instance;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::import::{ImportReport, import_paths};
use crate::jobs::JobCtx;
use crate::model::{StudyState, WorklistItem};
use crate::store::{Store, StoreError};
use department::{FUTURE_ORDERS, PATIENTS, Plant, STUDIES};
pub use instance::uid_from;

/// Bumped whenever the generated department changes, so old demo workspaces are rebuilt.
const DEMO_VERSION: u32 = 1;

/// One planted study: what it is, which file stands for it, what the desk must say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlantedStudy {
    pub label: String,
    pub study_instance_uid: String,
    pub accession: String,
    /// A file of the study (the planted one where the plant concerns one file).
    pub file: String,
    pub expected_state: StudyState,
    pub expected_code: Option<String>,
}

/// What `qcdesk demo` built.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DemoReport {
    pub version: u32,
    pub inbox: PathBuf,
    pub studies: Vec<PlantedStudy>,
    /// Files written by the generator that must be valid DICOM (not deliberately damaged).
    pub valid_files: Vec<String>,
    pub files_written: usize,
    pub worklist_items: usize,
    /// Filled when this run imported (not when it reused an existing demo workspace).
    #[serde(skip)]
    pub import: Option<ImportReport>,
    pub reused: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Write(#[from] crate::dicom::write::WriteError),
    #[error(transparent)]
    Import(#[from] crate::import::ImportError),
    #[error("cannot write {path}: {cause}")]
    Io { path: String, cause: std::io::Error },
}

fn marker_path(root: &Path) -> PathBuf {
    root.join("demo.json")
}

/// Creates the demo in the workspace at `root`, or reuses it when it is there already.
pub fn build_demo(root: &Path, ctx: &JobCtx) -> Result<DemoReport, DemoError> {
    if let Some(existing) = read_marker(root) {
        if existing.version == DEMO_VERSION {
            Store::open(root)?; // migrate if needed, and fail early if unusable
            return Ok(DemoReport {
                reused: true,
                ..existing
            });
        }
        // A demo from another qcdesk version: its files would collide with the new ones
        // (same UIDs, other bytes). It is synthetic, so it is rebuilt from scratch.
        clear_demo(root)?;
    }
    let mut store = Store::open(root)?;
    ctx.progress(0, None, "writing the demo department");
    let today = demo_today(time::OffsetDateTime::now_utc());
    let inbox = root.join("demo-inbox");
    let generated = instance::write_department(&inbox, &store.workspace().tmp_dir(), today)?;
    store.replace_worklist("demo", &generated.orders)?;
    let import = import_paths(root, std::slice::from_ref(&inbox), ctx)?;
    // The department's studies arrived over the past days, some minutes after acquisition.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for (i, (planned, study)) in STUDIES.iter().zip(&generated.studies).enumerate() {
        let acquired = instance::acquired_at(today, planned);
        let arrival = (acquired + 300 + 97 * i as i64 % 1800).min(now - 60 - i as i64);
        store.set_first_seen(&study.study_instance_uid, arrival)?;
    }
    let report = DemoReport {
        version: DEMO_VERSION,
        inbox,
        studies: generated.studies,
        valid_files: generated.valid_files,
        files_written: generated.files_written,
        worklist_items: generated.orders.len(),
        import: Some(import),
        reused: false,
    };
    let json = serde_json::to_vec_pretty(&report).unwrap_or_default();
    let marker = marker_path(root);
    crate::fsutil::write_atomic(&store.workspace().tmp_dir(), &marker, &json).map_err(|cause| {
        DemoError::Io {
            path: marker.display().to_string(),
            cause,
        }
    })?;
    Ok(report)
}

/// Removes what a demo build put in `root` (only called when `demo.json` marks it a demo).
fn clear_demo(root: &Path) -> Result<(), DemoError> {
    let io = |p: &Path| {
        let path = p.display().to_string();
        move |cause| DemoError::Io { path, cause }
    };
    for dir in ["store", "tmp", "demo-inbox"] {
        let p = root.join(dir);
        if p.exists() {
            make_writable(&p);
            std::fs::remove_dir_all(&p).map_err(io(&p))?;
        }
    }
    for file in [
        "qcdesk.sqlite",
        "qcdesk.sqlite-wal",
        "qcdesk.sqlite-shm",
        "demo.json",
    ] {
        let p = root.join(file);
        if p.exists() {
            std::fs::remove_file(&p).map_err(io(&p))?;
        }
    }
    Ok(())
}

/// Store blobs are read-only files; make them removable (needed on Windows, harmless elsewhere).
fn make_writable(dir: &Path) {
    for entry in walkdir::WalkDir::new(dir).into_iter().flatten() {
        if let Ok(meta) = entry.metadata() {
            let mut perms = meta.permissions();
            if perms.readonly() {
                #[allow(clippy::permissions_set_readonly_false)]
                perms.set_readonly(false);
                let _ = std::fs::set_permissions(entry.path(), perms);
            }
        }
    }
}

/// The day the demo department calls "today": the real date once the day's last planned
/// study (12:01 UTC) lies in the past, the day before otherwise, so no study arrives from the future.
fn demo_today(now: time::OffsetDateTime) -> time::Date {
    let last_planned = STUDIES
        .iter()
        .filter(|s| s.days_ago == 0)
        .map(|s| instance::acquired_at(now.date(), s))
        .max()
        .unwrap_or(0);
    if now.unix_timestamp() > last_planned + 30 * 60 {
        now.date()
    } else {
        now.date() - time::Duration::days(1)
    }
}

/// The report of the demo already built in `root`, if any.
pub fn read_marker(root: &Path) -> Option<DemoReport> {
    let bytes = std::fs::read(marker_path(root)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Orders of the RIS for the demo department: one per planned study (except the planted
/// "no order"), plus orders scheduled for later.
pub(crate) fn orders(today: time::Date) -> Vec<WorklistItem> {
    let mut out = Vec::new();
    for (i, s) in STUDIES.iter().enumerate() {
        if s.plant == Plant::NoOrder {
            continue;
        }
        let date = today - time::Duration::days(i64::from(s.days_ago));
        let mut o = order(
            i,
            s.patient,
            s.modality,
            s.procedure,
            date,
            s.time,
            &format!("study/{}", s.label),
        );
        if s.plant == Plant::WrongModality {
            o.modality = "DX".into();
        }
        out.push(o);
    }
    for (k, (patient, modality, procedure, days_ahead, time)) in FUTURE_ORDERS.iter().enumerate() {
        let n = STUDIES.len() + k;
        let date = today + time::Duration::days(i64::from(*days_ahead));
        out.push(order(
            n,
            *patient,
            *modality,
            procedure,
            date,
            time,
            &format!("future/{n}"),
        ));
    }
    out
}

/// The RIS order number `n` of the demo department.
fn order(
    n: usize,
    patient: usize,
    modality: department::Modality,
    procedure: &str,
    date: time::Date,
    time: &str,
    uid_name: &str,
) -> WorklistItem {
    let pt = &PATIENTS[patient];
    WorklistItem {
        accession: instance::accession(n),
        requested_procedure_id: format!("RP{}", 5000 + n),
        sps_id: format!("SPS{}", 5000 + n),
        patient_name: pt.name.into(),
        patient_id: pt.id.into(),
        issuer_of_patient_id: "RGH".into(),
        birth_date: pt.birth_date.into(),
        sex: pt.sex.into(),
        modality: modality.code().into(),
        station_ae: modality.station_ae().into(),
        scheduled_at: format!("{}{time}", instance::dicom_date(date)),
        procedure: procedure.into(),
        study_instance_uid: uid_from(uid_name),
        source: "demo".into(),
    }
}
