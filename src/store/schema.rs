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
    // 4: the worklist cache proper (an item per source and key, first/last seen, vanished
    // items kept), its syncs, and the DICOM nodes.
    r#"
ALTER TABLE worklist ADD COLUMN item_key TEXT NOT NULL DEFAULT '';
ALTER TABLE worklist ADD COLUMN other_patient_ids TEXT NOT NULL DEFAULT '';
ALTER TABLE worklist ADD COLUMN procedure_code TEXT NOT NULL DEFAULT '';
ALTER TABLE worklist ADD COLUMN referring_physician TEXT NOT NULL DEFAULT '';
ALTER TABLE worklist ADD COLUMN requesting_physician TEXT NOT NULL DEFAULT '';
ALTER TABLE worklist ADD COLUMN admission_id TEXT NOT NULL DEFAULT '';
ALTER TABLE worklist ADD COLUMN step_description TEXT NOT NULL DEFAULT '';
ALTER TABLE worklist ADD COLUMN protocol_code TEXT NOT NULL DEFAULT '';
ALTER TABLE worklist ADD COLUMN first_seen TEXT NOT NULL DEFAULT '';
ALTER TABLE worklist ADD COLUMN vanished_at TEXT;
ALTER TABLE worklist ADD COLUMN vanished_why TEXT NOT NULL DEFAULT '';
-- A digest of the item's content (filled by the upgrade step in Rust).
ALTER TABLE worklist ADD COLUMN content_hash TEXT NOT NULL DEFAULT '';
UPDATE worklist SET first_seen = last_seen,
    item_key = CASE
        WHEN trim(accession) != '' THEN
            trim(accession) || '\' || trim(requested_procedure_id) || '\' || trim(sps_id)
        WHEN trim(requested_procedure_id) != '' OR trim(sps_id) != '' THEN
            '\' || trim(requested_procedure_id) || '\' || trim(sps_id) || '\' ||
            CASE WHEN trim(study_uid) != '' THEN 'uid:' || trim(study_uid)
                 ELSE 'pid:' || trim(patient_id) END
        WHEN trim(study_uid) != '' THEN 'uid:' || trim(study_uid)
        ELSE 'pid:' || trim(patient_id) || '\' || trim(scheduled_at) END;
DELETE FROM worklist WHERE id NOT IN (SELECT MAX(id) FROM worklist GROUP BY source, item_key);
CREATE UNIQUE INDEX worklist_key ON worklist(source, item_key);
CREATE INDEX worklist_patient ON worklist(patient_id);

-- One row per sync of a source (a node, a file): what it brought, or why it failed.
CREATE TABLE worklist_syncs (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    ok INTEGER NOT NULL,
    received INTEGER NOT NULL DEFAULT 0,
    new INTEGER NOT NULL DEFAULT 0,
    changed INTEGER NOT NULL DEFAULT 0,
    vanished INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX worklist_syncs_source ON worklist_syncs(source, id);

-- DICOM nodes qcdesk talks to; `embedded` names a peer qcdesk runs itself (the demo's RIS).
CREATE TABLE nodes (
    name TEXT PRIMARY KEY,
    ae_title TEXT NOT NULL,
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    role TEXT NOT NULL,
    tls INTEGER NOT NULL DEFAULT 0,
    calling_ae TEXT NOT NULL DEFAULT '',
    embedded TEXT NOT NULL DEFAULT '',
    added_at TEXT NOT NULL
);
"#,
    // 5: the network loop: associations in and out, the peers seen, the send queue and the
    // storage commitments it asked for.
    r#"
-- A TLS node's PEM files.
ALTER TABLE nodes ADD COLUMN tls_ca TEXT NOT NULL DEFAULT '';
ALTER TABLE nodes ADD COLUMN tls_cert TEXT NOT NULL DEFAULT '';
ALTER TABLE nodes ADD COLUMN tls_key TEXT NOT NULL DEFAULT '';

CREATE TABLE associations (
    id INTEGER PRIMARY KEY,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    calling_ae TEXT NOT NULL,
    called_ae TEXT NOT NULL,
    peer_address TEXT NOT NULL,
    implementation_class_uid TEXT NOT NULL DEFAULT '',
    implementation_version TEXT NOT NULL DEFAULT '',
    started_at TEXT NOT NULL,
    ended_at TEXT,
    instances INTEGER NOT NULL DEFAULT 0,
    outcome TEXT NOT NULL DEFAULT ''
);

-- Every application entity qcdesk talked to, by AE title and address.
CREATE TABLE remote_aes (
    ae_title TEXT NOT NULL,
    address TEXT NOT NULL,
    implementation_class_uid TEXT NOT NULL DEFAULT '',
    implementation_version TEXT NOT NULL DEFAULT '',
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    associations INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (ae_title, address)
);

-- One job per study and archive node; its items are the instances (current versions) sent.
CREATE TABLE send_jobs (
    id INTEGER PRIMARY KEY,
    study_id INTEGER NOT NULL REFERENCES studies(id),
    node TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN
        ('queued', 'sending', 'sent', 'verifying', 'verified', 'failed', 'cancelled')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_unix INTEGER NOT NULL DEFAULT 0,
    owner TEXT NOT NULL DEFAULT '',
    heartbeat_unix INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    proof TEXT NOT NULL DEFAULT '',
    transaction_uid TEXT NOT NULL DEFAULT ''
);
CREATE INDEX send_jobs_study ON send_jobs(study_id, id);
CREATE INDEX send_jobs_state ON send_jobs(state);

CREATE TABLE send_items (
    job_id INTEGER NOT NULL REFERENCES send_jobs(id),
    instance_id INTEGER NOT NULL REFERENCES instances(id),
    blob_hash TEXT NOT NULL,
    sop_class TEXT NOT NULL,
    sop_uid TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    status INTEGER,
    message TEXT NOT NULL DEFAULT '',
    sent_as TEXT NOT NULL DEFAULT '',
    committed INTEGER,
    PRIMARY KEY (job_id, instance_id)
);

-- Reports of Storage Commitment, whichever association brought them.
CREATE TABLE commitment_reports (
    transaction_uid TEXT PRIMARY KEY,
    received_at TEXT NOT NULL,
    committed TEXT NOT NULL,
    failed TEXT NOT NULL
);
"#,
    // 6: corrections. Each correction (an order applied, values typed, an undo) moves a study's
    // instances from one version to another; `correction_versions` says which, so an undo can
    // move them back exactly. `audit_log` is the append-only, hash-chained record of every
    // change: triggers refuse updates and deletes, and the chain shows one made around them.
    r#"
CREATE TABLE corrections (
    id INTEGER PRIMARY KEY,
    study_id INTEGER NOT NULL REFERENCES studies(id),
    at TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN
        ('order', 'edit', 'move', 'merge', 'reject', 'undo', 'dismiss', 'reopen')),
    os_user TEXT NOT NULL,
    operator TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    origin TEXT NOT NULL DEFAULT '{}',
    changes TEXT NOT NULL DEFAULT '[]',
    undoes INTEGER REFERENCES corrections(id),
    undone_by INTEGER REFERENCES corrections(id),
    -- A move or merge: the study the instances went to.
    other_study_id INTEGER REFERENCES studies(id)
);
CREATE INDEX corrections_study ON corrections(study_id, id);
CREATE INDEX corrections_other ON corrections(other_study_id);

-- Each instance a correction moved: its version, and its series (and so study) before and
-- after, which differ when series moved to another study.
CREATE TABLE correction_versions (
    correction_id INTEGER NOT NULL REFERENCES corrections(id),
    instance_id INTEGER NOT NULL REFERENCES instances(id),
    before_version INTEGER NOT NULL REFERENCES versions(id),
    after_version INTEGER NOT NULL REFERENCES versions(id),
    before_series INTEGER NOT NULL REFERENCES series(id),
    after_series INTEGER NOT NULL REFERENCES series(id),
    PRIMARY KEY (correction_id, instance_id)
);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    os_user TEXT NOT NULL,
    operator TEXT NOT NULL,
    action TEXT NOT NULL,
    study_uid TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
-- Exceptions resolved without change (a phantom, a research scan, a known duplicate): why,
-- by whom, when; a reopened one keeps its row.
CREATE TABLE dismissals (
    id INTEGER PRIMARY KEY,
    study_id INTEGER NOT NULL REFERENCES studies(id),
    reason TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    by TEXT NOT NULL,
    at TEXT NOT NULL,
    at_unix INTEGER NOT NULL,
    reopened_at TEXT,
    reopened_by TEXT
);
CREATE INDEX dismissals_study ON dismissals(study_id, id);

-- IHE IOCM rejections: the instances rejected, with the reason code, and the Key Object
-- Selection rejection note qcdesk made for them (an instance of the study, received as
-- 'created'). Rejected instances are left out of the rules and of sending.
CREATE TABLE rejections (
    id INTEGER PRIMARY KEY,
    correction_id INTEGER NOT NULL REFERENCES corrections(id),
    study_id INTEGER NOT NULL REFERENCES studies(id),
    code TEXT NOT NULL,
    meaning TEXT NOT NULL,
    note_instance_id INTEGER NOT NULL REFERENCES instances(id)
);
CREATE TABLE rejected_instances (
    rejection_id INTEGER NOT NULL REFERENCES rejections(id),
    instance_id INTEGER NOT NULL REFERENCES instances(id),
    PRIMARY KEY (rejection_id, instance_id)
);
CREATE INDEX rejected_instance ON rejected_instances(instance_id);

-- What the archive still held of the study's earlier identities (JSON) when a send of a
-- corrected study was last checked: the stale copies.
ALTER TABLE send_jobs ADD COLUMN stale TEXT NOT NULL DEFAULT '[]';

-- Receipts of files qcdesk made itself (rejection notes).
CREATE TABLE receipts_v6 (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id),
    blob_hash TEXT NOT NULL,
    received_at TEXT NOT NULL,
    source_kind TEXT NOT NULL CHECK (source_kind IN ('folder', 'dicomdir', 'network', 'created')),
    source TEXT NOT NULL,
    path TEXT,
    calling_ae TEXT,
    called_ae TEXT,
    peer_address TEXT,
    association_id INTEGER
);
INSERT INTO receipts_v6 SELECT * FROM receipts;
DROP TABLE receipts;
ALTER TABLE receipts_v6 RENAME TO receipts;
CREATE INDEX receipts_file ON receipts(file_id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"#,
    // 7: what the reports read of every study, kept on its row and in one narrow index
    r#"
-- Implementation Version Name of the study's first instance as received (reports group by it).
ALTER TABLE studies ADD COLUMN implementation_version TEXT NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS instances_study ON instances(study_id);
UPDATE studies SET implementation_version = COALESCE((
    SELECT TRIM(b.implementation_version) FROM instances i
    JOIN files f ON f.instance_id = i.id AND f.role = 'original'
    JOIN blobs b ON b.hash = f.blob_hash
    WHERE i.study_id = studies.id ORDER BY i.id, f.id LIMIT 1), '');
-- A report reads these columns of every study holding instances: scanning this index reads
-- far fewer pages than the table.
CREATE INDEX studies_report ON studies(id, first_seen_unix, state, modality, station_name,
    source, implementation_version) WHERE n_instances > 0;
"#,
    // 8: hardening: refused associations counted per caller and minute (a flood of refusals
    // writes one row a minute, not one each), and who sent each Storage Commitment report.
    r#"
CREATE TABLE refusals (
    minute INTEGER NOT NULL,
    calling_ae TEXT NOT NULL,
    called_ae TEXT NOT NULL,
    peer_host TEXT NOT NULL,
    reason TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (minute, calling_ae, peer_host)
);
-- Refusals recorded before as associations ended 'refused: ...' stay where they are.
ALTER TABLE commitment_reports ADD COLUMN calling_ae TEXT NOT NULL DEFAULT '';
ALTER TABLE commitment_reports ADD COLUMN peer_address TEXT NOT NULL DEFAULT '';
"#,
    // v9: what a send carried that was not right (broken files, a study sent unmatched), so
    // its state says "verified, 1 truncated instance" rather than a plain green "verified".
    r#"
ALTER TABLE send_jobs ADD COLUMN caveat TEXT NOT NULL DEFAULT '';
"#,
    // v10: matching that learns: each order the Associate applied, and the candidates ranked
    // above it, as labelled pairs (their agreement levels only, no patient data); and the
    // orders proposed for open studies by the background pass.
    r#"
CREATE TABLE match_labels (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    study_id INTEGER NOT NULL,
    correction_id INTEGER REFERENCES corrections(id),
    accession TEXT NOT NULL,
    label TEXT NOT NULL CHECK (label IN ('applied', 'rejected')),
    levels TEXT NOT NULL
);
CREATE TABLE proposals (
    study_id INTEGER PRIMARY KEY REFERENCES studies(id),
    accession TEXT NOT NULL,
    score INTEGER NOT NULL,
    clear INTEGER NOT NULL,
    others INTEGER NOT NULL,
    computed_at TEXT NOT NULL
);
"#,
    // v11: a team: who is handling which study (a lease renewed while the holder works on
    // it), and which process runs each one-of-a-kind job (the RIS sync, the send runner).
    r#"
CREATE TABLE claims (
    study_id INTEGER PRIMARY KEY REFERENCES studies(id),
    user TEXT NOT NULL,
    operator TEXT NOT NULL,
    host TEXT NOT NULL,
    session TEXT NOT NULL,
    kind TEXT NOT NULL,
    since INTEGER NOT NULL,
    until INTEGER NOT NULL,
    token TEXT NOT NULL
);
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    label TEXT NOT NULL,
    since INTEGER NOT NULL,
    until INTEGER NOT NULL
);
-- What a desk shows changed: counted by triggers, so the renewal of a lease or a claim (a
-- write every few seconds) does not make every open desk load its queue again.
CREATE TABLE changes (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT INTO changes (id, generation) VALUES (1, 0);
CREATE TRIGGER studies_insert_changes AFTER INSERT ON studies
    BEGIN UPDATE changes SET generation = generation + 1; END;
CREATE TRIGGER studies_update_changes AFTER UPDATE ON studies
    BEGIN UPDATE changes SET generation = generation + 1; END;
CREATE TRIGGER dismissals_insert_changes AFTER INSERT ON dismissals
    BEGIN UPDATE changes SET generation = generation + 1; END;
CREATE TRIGGER dismissals_update_changes AFTER UPDATE ON dismissals
    BEGIN UPDATE changes SET generation = generation + 1; END;
CREATE TRIGGER corrections_insert_changes AFTER INSERT ON corrections
    BEGIN UPDATE changes SET generation = generation + 1; END;
CREATE TRIGGER send_jobs_insert_changes AFTER INSERT ON send_jobs
    BEGIN UPDATE changes SET generation = generation + 1; END;
CREATE TRIGGER send_jobs_state_changes AFTER UPDATE OF state ON send_jobs
    BEGIN UPDATE changes SET generation = generation + 1; END;
CREATE TRIGGER proposals_insert_changes AFTER INSERT ON proposals
    BEGIN UPDATE changes SET generation = generation + 1; END;
CREATE TRIGGER proposals_delete_changes AFTER DELETE ON proposals
    BEGIN UPDATE changes SET generation = generation + 1; END;
CREATE TRIGGER claims_insert_changes AFTER INSERT ON claims
    BEGIN UPDATE changes SET generation = generation + 1; END;
CREATE TRIGGER claims_holder_changes AFTER UPDATE OF session, user, host ON claims
    BEGIN UPDATE changes SET generation = generation + 1; END;
CREATE TRIGGER claims_delete_changes AFTER DELETE ON claims
    BEGIN UPDATE changes SET generation = generation + 1; END;
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
    #[test]
    fn schema_7_keeps_each_studys_first_implementation_version_on_its_row() {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..6] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 6).unwrap();
        conn.execute_batch(
            "INSERT INTO blobs (hash, size, implementation_version) VALUES ('h1', 1, ' FIRST_1 '), ('h2', 1, 'LATER_2');
             INSERT INTO studies (id, study_key, study_uid, n_instances, first_seen, first_seen_unix, last_change) VALUES (7, 'k', '1.2', 2, 't', 0, 't'), (8, 'e', '1.3', 0, 't', 0, 't');
             INSERT INTO series (id, study_id, series_key) VALUES (1, 7, 's');
             INSERT INTO instances (id, series_id, study_id, sop_key, sop_uid) VALUES (1, 1, 7, 'a', 'a'), (2, 1, 7, 'b', 'b');
             INSERT INTO files (blob_hash, original_path, source, received_at, instance_id, role)
                 VALUES ('h2', '/b', 'x', 't', 2, 'original'), ('h1', '/a', 'x', 't', 1, 'original');",
        )
        .unwrap();
        migrate(&mut conn, |_, _| Ok(())).unwrap();
        let versions: Vec<(i64, String)> = conn
            .prepare("SELECT id, implementation_version FROM studies ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(versions, [(7, "FIRST_1".into()), (8, String::new())]);
    }

    #[test]
    fn a_schema_3_worklist_gets_keys_and_loses_duplicates() {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..3] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
        conn.execute_batch(
            "INSERT INTO worklist (accession, sps_id, source, last_seen) VALUES ('A1', 'S1', 'demo', 't1');
             INSERT INTO worklist (accession, sps_id, source, last_seen) VALUES ('A1', 'S1', 'demo', 't2');
             INSERT INTO worklist (accession, study_uid, source, last_seen) VALUES ('', '1.2.3', 'demo', 't3');",
        )
        .unwrap();
        migrate(&mut conn, |_, _| Ok(())).unwrap();
        let rows: Vec<(String, String)> = conn
            .prepare("SELECT item_key, first_seen FROM worklist ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                ("A1\\\\S1".into(), "t2".into()),
                ("uid:1.2.3".into(), "t3".into())
            ]
        );
    }
}
