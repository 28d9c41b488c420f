//! The database schema and its migrations, versioned with `PRAGMA user_version`.
//! Each migration runs once, in its own transaction; a database newer than this build is refused.

use rusqlite::Connection;

use super::StoreError;

/// Migrations in order; index + 1 is the schema version after applying it.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: store, studies, worklist
    r#"
CREATE TABLE blobs (
    hash TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    transfer_syntax TEXT NOT NULL DEFAULT '',
    media_sop_class_uid TEXT NOT NULL DEFAULT '',
    source_ae TEXT NOT NULL DEFAULT '',
    implementation_version TEXT NOT NULL DEFAULT '',
    specific_character_set TEXT NOT NULL DEFAULT '',
    sop_class_uid TEXT NOT NULL DEFAULT '',
    sop_instance_uid TEXT NOT NULL DEFAULT '',
    study_date TEXT NOT NULL DEFAULT '',
    series_date TEXT NOT NULL DEFAULT '',
    content_date TEXT NOT NULL DEFAULT '',
    study_time TEXT NOT NULL DEFAULT '',
    accession TEXT NOT NULL DEFAULT '',
    modality TEXT NOT NULL DEFAULT '',
    manufacturer TEXT NOT NULL DEFAULT '',
    institution TEXT NOT NULL DEFAULT '',
    referring_physician TEXT NOT NULL DEFAULT '',
    station_name TEXT NOT NULL DEFAULT '',
    study_description TEXT NOT NULL DEFAULT '',
    series_description TEXT NOT NULL DEFAULT '',
    model_name TEXT NOT NULL DEFAULT '',
    patient_name TEXT NOT NULL DEFAULT '',
    patient_id TEXT NOT NULL DEFAULT '',
    issuer_of_patient_id TEXT NOT NULL DEFAULT '',
    birth_date TEXT NOT NULL DEFAULT '',
    sex TEXT NOT NULL DEFAULT '',
    software_versions TEXT NOT NULL DEFAULT '',
    study_uid TEXT NOT NULL DEFAULT '',
    series_uid TEXT NOT NULL DEFAULT '',
    study_id TEXT NOT NULL DEFAULT '',
    series_number TEXT NOT NULL DEFAULT '',
    instance_number TEXT NOT NULL DEFAULT '',
    rows TEXT NOT NULL DEFAULT '',
    columns TEXT NOT NULL DEFAULT '',
    frames TEXT NOT NULL DEFAULT '',
    has_pixel_data INTEGER NOT NULL DEFAULT 0,
    truncated INTEGER NOT NULL DEFAULT 0,
    read_errors TEXT NOT NULL DEFAULT '[]',
    read_warnings TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE studies (
    id INTEGER PRIMARY KEY,
    study_key TEXT NOT NULL UNIQUE,
    study_uid TEXT,
    state TEXT NOT NULL DEFAULT 'unmatched',
    patient_name TEXT NOT NULL DEFAULT '',
    patient_id TEXT NOT NULL DEFAULT '',
    issuer_of_patient_id TEXT NOT NULL DEFAULT '',
    birth_date TEXT NOT NULL DEFAULT '',
    sex TEXT NOT NULL DEFAULT '',
    accession TEXT NOT NULL DEFAULT '',
    modality TEXT NOT NULL DEFAULT '',
    study_date TEXT NOT NULL DEFAULT '',
    study_time TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    referring_physician TEXT NOT NULL DEFAULT '',
    institution TEXT NOT NULL DEFAULT '',
    station_name TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    n_series INTEGER NOT NULL DEFAULT 0,
    n_instances INTEGER NOT NULL DEFAULT 0,
    n_files INTEGER NOT NULL DEFAULT 0,
    first_seen TEXT NOT NULL,
    first_seen_unix INTEGER NOT NULL,
    last_change TEXT NOT NULL
);
CREATE INDEX studies_state ON studies(state);
CREATE INDEX studies_accession ON studies(accession);

CREATE TABLE series (
    id INTEGER PRIMARY KEY,
    study_id INTEGER NOT NULL REFERENCES studies(id),
    series_key TEXT NOT NULL,
    series_uid TEXT,
    UNIQUE (study_id, series_key)
);

CREATE TABLE instances (
    id INTEGER PRIMARY KEY,
    series_id INTEGER NOT NULL REFERENCES series(id),
    sop_key TEXT NOT NULL UNIQUE,
    sop_uid TEXT,
    current_version INTEGER
);
CREATE INDEX instances_series ON instances(series_id);

-- Every version of an instance; the original has no parent. Corrections add versions.
CREATE TABLE versions (
    id INTEGER PRIMARY KEY,
    instance_id INTEGER NOT NULL REFERENCES instances(id),
    blob_hash TEXT NOT NULL REFERENCES blobs(hash),
    parent_version INTEGER REFERENCES versions(id),
    created_at TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX versions_instance ON versions(instance_id);

-- Every file ever received, including those that conflicted with an instance already held.
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    blob_hash TEXT NOT NULL UNIQUE REFERENCES blobs(hash),
    original_path TEXT NOT NULL,
    source TEXT NOT NULL,
    received_at TEXT NOT NULL,
    instance_id INTEGER NOT NULL REFERENCES instances(id),
    role TEXT NOT NULL CHECK (role IN ('original', 'conflict'))
);
CREATE INDEX files_instance ON files(instance_id);

CREATE TABLE findings (
    id INTEGER PRIMARY KEY,
    study_id INTEGER NOT NULL REFERENCES studies(id),
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    file TEXT
);
CREATE INDEX findings_study ON findings(study_id);

-- Files that could not be taken in at all (unreadable, vanished during import).
CREATE TABLE rejects (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL,
    reason TEXT NOT NULL,
    at TEXT NOT NULL
);

CREATE TABLE worklist (
    id INTEGER PRIMARY KEY,
    accession TEXT NOT NULL DEFAULT '',
    requested_procedure_id TEXT NOT NULL DEFAULT '',
    sps_id TEXT NOT NULL DEFAULT '',
    patient_name TEXT NOT NULL DEFAULT '',
    patient_id TEXT NOT NULL DEFAULT '',
    issuer_of_patient_id TEXT NOT NULL DEFAULT '',
    birth_date TEXT NOT NULL DEFAULT '',
    sex TEXT NOT NULL DEFAULT '',
    modality TEXT NOT NULL DEFAULT '',
    station_ae TEXT NOT NULL DEFAULT '',
    scheduled_at TEXT NOT NULL DEFAULT '',
    procedure TEXT NOT NULL DEFAULT '',
    study_uid TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL,
    last_seen TEXT NOT NULL
);
CREATE INDEX worklist_accession ON worklist(accession);
"#,
    // 2: lookups by Study UID (show, demo arrivals) and worklist replacement by source
    r#"
CREATE INDEX studies_uid ON studies(study_uid);
CREATE INDEX worklist_source ON worklist(source);
"#,
    // 3: identity by data set, a receipt per arrival, typed read faults, instances per study
    // (one SOP Instance UID may sit in two studies), one reject row per path, peer findings.
    // The data set hashes of existing blobs and the re-judging of old conflicts are done by
    // `upgrade_v3` right after this script, in the same transaction.
    r#"
ALTER TABLE blobs ADD COLUMN dataset_hash TEXT;
ALTER TABLE blobs ADD COLUMN dataset_offset INTEGER NOT NULL DEFAULT 0;
ALTER TABLE blobs ADD COLUMN media_sop_instance_uid TEXT NOT NULL DEFAULT '';
ALTER TABLE blobs ADD COLUMN implementation_class_uid TEXT NOT NULL DEFAULT '';
ALTER TABLE blobs ADD COLUMN issuer_of_accession TEXT NOT NULL DEFAULT '';
CREATE INDEX blobs_dataset ON blobs(dataset_hash);
UPDATE blobs SET read_errors = (
    SELECT json_group_array(json_object(
        'kind', CASE WHEN blobs.truncated AND e.value LIKE '%truncated%' THEN 'truncated' ELSE 'unreadable' END,
        'message', e.value))
    FROM json_each(blobs.read_errors) e)
WHERE read_errors != '[]';
UPDATE blobs SET read_warnings = (
    SELECT json_group_array(json_object('kind', 'note', 'message', w.value))
    FROM json_each(blobs.read_warnings) w)
WHERE read_warnings != '[]';

CREATE TABLE instances_v3 (
    id INTEGER PRIMARY KEY,
    series_id INTEGER NOT NULL REFERENCES series(id),
    study_id INTEGER NOT NULL REFERENCES studies(id),
    sop_key TEXT NOT NULL,
    sop_uid TEXT,
    current_version INTEGER,
    UNIQUE (study_id, sop_key)
);
INSERT INTO instances_v3 (id, series_id, study_id, sop_key, sop_uid, current_version)
    SELECT i.id, i.series_id, s.study_id, i.sop_key, i.sop_uid, i.current_version
    FROM instances i JOIN series s ON s.id = i.series_id;
DROP TABLE instances;
ALTER TABLE instances_v3 RENAME TO instances;
CREATE INDEX instances_series ON instances(series_id);
CREATE INDEX instances_sop ON instances(sop_key);

-- Every distinct file received for an instance; `role` says how it relates to the original.
CREATE TABLE files_v3 (
    id INTEGER PRIMARY KEY,
    blob_hash TEXT NOT NULL UNIQUE REFERENCES blobs(hash),
    original_path TEXT NOT NULL,
    source TEXT NOT NULL,
    received_at TEXT NOT NULL,
    instance_id INTEGER NOT NULL REFERENCES instances(id),
    role TEXT NOT NULL CHECK (role IN ('original', 'duplicate', 'variant', 'conflict')),
    differences TEXT NOT NULL DEFAULT '[]',
    note TEXT NOT NULL DEFAULT ''
);
INSERT INTO files_v3 (id, blob_hash, original_path, source, received_at, instance_id, role)
    SELECT id, blob_hash, original_path, source, received_at, instance_id, role FROM files;
DROP TABLE files;
ALTER TABLE files_v3 RENAME TO files;
CREATE INDEX files_instance ON files(instance_id);

-- Every arrival of a file, byte-identical repeats included. Network columns are filled by
-- the receiver.
CREATE TABLE receipts (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id),
    blob_hash TEXT NOT NULL,
    received_at TEXT NOT NULL,
    source_kind TEXT NOT NULL CHECK (source_kind IN ('folder', 'dicomdir', 'network')),
    source TEXT NOT NULL,
    path TEXT,
    calling_ae TEXT,
    called_ae TEXT,
    peer_address TEXT,
    association_id INTEGER
);
INSERT INTO receipts (file_id, blob_hash, received_at, source_kind, source, path)
    SELECT id, blob_hash, received_at, 'folder', source, original_path FROM files ORDER BY id;
CREATE INDEX receipts_file ON receipts(file_id);

CREATE TABLE rejects_v3 (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    reason TEXT NOT NULL,
    at TEXT NOT NULL,
    first_at TEXT NOT NULL,
    times INTEGER NOT NULL DEFAULT 1
);
INSERT INTO rejects_v3 (path, reason, at, first_at, times)
    SELECT path, (SELECT r2.reason FROM rejects r2 WHERE r2.path = r.path ORDER BY r2.id DESC LIMIT 1),
           MAX(at), MIN(at), COUNT(*)
    FROM rejects r GROUP BY path;
DROP TABLE rejects;
ALTER TABLE rejects_v3 RENAME TO rejects;

-- Findings from other studies (split study, one Patient ID for two people, shared SOP
-- Instance UIDs) are kept apart so a peer's change updates only those; `severity` orders them.
ALTER TABLE findings ADD COLUMN scope TEXT NOT NULL DEFAULT 'study';
ALTER TABLE findings ADD COLUMN severity INTEGER NOT NULL DEFAULT 255;

ALTER TABLE studies ADD COLUMN issuer_of_accession TEXT NOT NULL DEFAULT '';
CREATE INDEX studies_patient ON studies(patient_id);
ALTER TABLE worklist ADD COLUMN issuer_of_accession TEXT NOT NULL DEFAULT '';

-- Small facts about the workspace (the rule settings the studies were classified with).
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database up to [`SCHEMA_VERSION`], or refuses one from a newer qcdesk.
/// `upgrade` runs Rust steps that SQL cannot do (reading blob files) after a version's script,
/// inside its transaction.
pub fn migrate(
    conn: &mut Connection,
    mut upgrade: impl FnMut(i64, &rusqlite::Transaction<'_>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    if current == SCHEMA_VERSION {
        return Ok(());
    }
    // Tables are rebuilt (v3): foreign keys cannot be switched inside a transaction, so they
    // are off for the migration and checked before each commit.
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    let result = (|| {
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let version = (i + 1) as i64;
            // IMMEDIATE, and the version read again inside: two processes opening an old
            // workspace at once migrate it once, one after the other.
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let now: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
            if now >= version {
                continue;
            }
            tx.execute_batch(sql)?;
            upgrade(version, &tx)?;
            let broken: Option<String> = tx
                .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
                .ok();
            if let Some(table) = broken {
                return Err(StoreError::Migration(format!(
                    "upgrade to schema {version} left a dangling reference in table {table}"
                )));
            }
            tx.pragma_update(None, "user_version", version)?;
            tx.commit()?;
        }
        Ok(())
    })();
    conn.pragma_update(None, "foreign_keys", "ON")?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_version_database_is_upgraded() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        migrate(&mut conn, |_, _| Ok(())).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'studies_uid'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1);
    }
}
