//! The built-in demo: a synthetic department (patients, four modalities, a RIS worklist) whose
//! studies carry planted exceptions of every kind, written as real DICOM files into an inbox
//! folder and imported through the normal import path.
//!
//! The demo is fenced: it builds only in a folder that is new or empty, which it marks as its
//! own first thing; it reuses or rebuilds only a folder bearing that mark, and refuses any
//! other with nothing changed. A real workspace can never receive synthetic patients.

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
// 5: the built-in RIS's orders kept in the workspace.
const DEMO_VERSION: u32 = 5;

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
    #[error(
        "{path} is not a demo workspace: it holds other files ({example}). `qcdesk demo` builds \
         only in a new or empty folder and changed nothing here; give another --workspace"
    )]
    NotADemoWorkspace { path: String, example: String },
}

/// The file a demo workspace bears from its first moment: only such a folder is ever
/// cleared or reused by the demo.
pub const FENCE_FILE: &str = "qcdesk-demo-workspace";

fn report_path(root: &Path) -> PathBuf {
    root.join("demo.json")
}

/// What the demo may do with a folder.
enum Fence {
    /// New or empty: the demo may claim it.
    Free,
    /// Marked as the demo's own.
    Demo,
    /// Holds something else (the first entry found, for the message).
    Foreign(String),
}

fn fence(root: &Path) -> Result<Fence, DemoError> {
    if root.join(FENCE_FILE).is_file() {
        return Ok(Fence::Demo);
    }
    match std::fs::read_dir(root) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Fence::Free),
        Err(cause) => Err(DemoError::Io {
            path: root.display().to_string(),
            cause,
        }),
        // An older qcdesk wrote demo.json without a fence, into real workspaces too: such a
        // folder cannot be told from a real one, so it is never cleared.
        Ok(_) if report_path(root).is_file() => Ok(Fence::Foreign(
            "demo.json of an older qcdesk, which planted demos into any folder; delete the \
             folder yourself if it holds nothing but that demo"
                .into(),
        )),
        Ok(mut entries) => Ok(match entries.next() {
            None => Fence::Free,
            Some(e) => Fence::Foreign(
                e.map(|e| e.file_name().to_string_lossy().to_string())
                    .unwrap_or_else(|e| e.to_string()),
            ),
        }),
    }
}

/// The demo's RIS node (and the source name of its orders in the cache).
pub const DEMO_RIS: &str = "demo-ris";

/// The node of the demo's built-in RIS.
pub fn demo_ris_node() -> crate::model::DicomNode {
    crate::model::DicomNode {
        name: DEMO_RIS.into(),
        ae_title: "DEMO_RIS".into(),
        host: "127.0.0.1".into(),
        port: 0,
        role: crate::model::NodeRole::Ris,
        embedded: crate::embedded::ris::EMBEDDED.into(),
        ..Default::default()
    }
}

/// The demo's archive node.
pub const DEMO_ARCHIVE: &str = "demo-archive";

/// The node of the demo's built-in archive.
pub fn demo_archive_node() -> crate::model::DicomNode {
    crate::model::DicomNode {
        name: DEMO_ARCHIVE.into(),
        ae_title: "DEMO_PACS".into(),
        host: "127.0.0.1".into(),
        port: 0,
        role: crate::model::NodeRole::Archive,
        embedded: crate::embedded::archive::EMBEDDED.into(),
        ..Default::default()
    }
}

/// Creates the demo in the workspace at `root`, or reuses it when it is there already.
/// Refuses, changing nothing, a folder that holds anything but a demo.
pub fn build_demo(root: &Path, ctx: &JobCtx) -> Result<DemoReport, DemoError> {
    match fence(root)? {
        Fence::Foreign(example) => {
            return Err(DemoError::NotADemoWorkspace {
                path: root.display().to_string(),
                example,
            });
        }
        Fence::Demo => {
            if let Some(existing) = read_marker(root)
                && existing.version == DEMO_VERSION
            {
                Store::open(root)?; // migrate if needed, and fail early if unusable
                return Ok(DemoReport {
                    reused: true,
                    ..existing
                });
            }
            // A demo from another qcdesk version (or one whose build was interrupted): its
            // files would collide with the new ones (same UIDs, other bytes). It is synthetic
            // and fenced, so it is rebuilt from scratch.
            clear_demo(root)?;
        }
        Fence::Free => {
            let io = |cause| DemoError::Io {
                path: root.display().to_string(),
                cause,
            };
            crate::fsutil::create_private_dir(root).map_err(io)?;
            std::fs::write(
                root.join(FENCE_FILE),
                "This folder is a qcdesk demo workspace: synthetic data only.\n\
                 `qcdesk demo` may delete and rebuild everything in it.\n",
            )
            .map_err(io)?;
        }
    }
    let mut store = Store::open(root)?;
    ctx.progress(0, None, "writing the demo department");
    let today = demo_today(time::OffsetDateTime::now_utc());
    let inbox = root.join("demo-inbox");
    let generated = instance::write_department(&inbox, &store.workspace().tmp_dir(), today)?;
    // The department's RIS is built in: a node served by qcdesk itself, which the cache was
    // synced from once when the demo was made.
    store.put_node(&demo_ris_node())?;
    // And its archive: corrected studies are sent to an SCP inside qcdesk (demo-archive/).
    store.put_node(&demo_archive_node())?;
    // The orders the built-in RIS serves (the cache's, and one it lacks).
    let served = serde_json::to_string(&ris_orders(today)).map_err(|e| DemoError::Io {
        path: root.display().to_string(),
        cause: std::io::Error::other(e),
    })?;
    store.set_setting(crate::embedded::ris::ORDERS_SETTING, &served)?;
    let (synced_at, _) = crate::fsutil::now();
    store.replace_worklist(DEMO_RIS, &generated.orders)?;
    store.record_sync(&crate::store::SyncRecord {
        source: DEMO_RIS.into(),
        started_at: synced_at.clone(),
        finished_at: synced_at,
        ok: true,
        received: generated.orders.len(),
        new: generated.orders.len(),
        changed: 0,
        vanished: 0,
        error: String::new(),
    })?;
    let import = import_paths(root, std::slice::from_ref(&inbox), ctx)?;
    // The department's studies arrived over the past days, some minutes after acquisition.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for (i, (planned, study)) in STUDIES.iter().zip(&generated.studies).enumerate() {
        let acquired = instance::acquired_at(today, planned);
        let arrival = (acquired + 300 + 97 * i as i64 % 1800).min(now - 60 - i as i64);
        store.set_first_seen(&study.study_instance_uid, arrival)?;
        if planned.plant == Plant::SplitStudy {
            // The split-off scout arrived with the rest.
            store.set_first_seen(
                &uid_from(&format!("study/{}/split", planned.label)),
                arrival,
            )?;
        }
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
    let marker = report_path(root);
    crate::fsutil::write_atomic(&store.workspace().tmp_dir(), &marker, &json).map_err(|cause| {
        DemoError::Io {
            path: marker.display().to_string(),
            cause,
        }
    })?;
    Ok(report)
}

/// Removes what a demo build put in `root` (only called when the fence file marks it a demo;
/// the fence file stays).
fn clear_demo(root: &Path) -> Result<(), DemoError> {
    if !root.join(FENCE_FILE).is_file() {
        return Err(DemoError::NotADemoWorkspace {
            path: root.display().to_string(),
            example: "no demo mark".into(),
        });
    }
    let io = |p: &Path| {
        let path = p.display().to_string();
        move |cause| DemoError::Io { path, cause }
    };
    for dir in ["store", "tmp", "demo-inbox", "demo-archive"] {
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
    if !root.join(FENCE_FILE).is_file() {
        return None;
    }
    let bytes = std::fs::read(report_path(root)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Orders of the RIS for the demo department: one per planned study (except the planted
/// "no order"), plus orders scheduled for later.
pub(crate) fn orders(today: time::Date) -> Vec<WorklistItem> {
    department_orders(today, false)
}

/// What the demo's RIS lists: the cache's orders, plus the order of the "no order" study,
/// which the RIS registered after the scan (an emergency): a sync brings it, and the study
/// turns from unmatched to matched.
pub fn ris_orders(today: time::Date) -> Vec<WorklistItem> {
    department_orders(today, true)
}

fn department_orders(today: time::Date, late: bool) -> Vec<WorklistItem> {
    let mut out = Vec::new();
    for (i, s) in STUDIES.iter().enumerate() {
        if s.plant == Plant::NoOrder && !late {
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
            o.modality = "CT".into();
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

/// The site's code of a procedure: the initials of its words (`CT Thorax with contrast` →
/// `CTTWC`).
fn procedure_code(procedure: &str) -> String {
    procedure
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .flat_map(char::to_uppercase)
        .collect()
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
        issuer_of_accession: String::new(),
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
        source: DEMO_RIS.into(),
        referring_physician: "Brandt^Helga^^Dr.".into(),
        step_description: procedure.into(),
        procedure_code: format!("{}^99RGH^{procedure}", procedure_code(procedure)),
        protocol_code: format!(
            "{}-STD^99RGH^{} standard protocol",
            modality.code(),
            modality.code()
        ),
        ..Default::default()
    }
}
