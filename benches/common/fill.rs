//! A workspace of 100,000 studies filled straight through SQL (one instance per study, a tenth
//! corrected, a twentieth dismissed, a fifth resent and verified, findings on the exceptions),
//! for the benchmarks that read a large queue (reports, team).

use qcdesk::store::Store;

pub const STUDIES: i64 = 100_000;

fn rfc(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

pub fn fill(dir: &std::path::Path, now: i64) {
    drop(Store::open(dir).expect("workspace"));
    let mut db = rusqlite::Connection::open(dir.join("qcdesk.sqlite")).unwrap();
    let tx = db.transaction().unwrap();
    let states = [
        "matched",
        "matched",
        "matched",
        "unmatched",
        "mismatch",
        "broken",
        "inconsistent",
    ];
    let modalities = ["CT", "MR", "CR", "US", "XA"];
    for i in 0..STUDIES {
        let seen = now - (i * 53) % (60 * 86_400);
        let state = states[(i % 7) as usize];
        let hash = format!("{i:064x}");
        let uid = format!("2.25.{}", 1_000_000 + i);
        tx.execute(
            "INSERT INTO blobs (hash, size, source_ae, implementation_version, station_name, study_uid, patient_id)
             VALUES (?1, 1000, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![hash, format!("AE{}", i % 40), format!("VER_{}", i % 7), format!("ST{}", i % 25), uid, format!("P{}", i % 30_000)],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO studies (study_key, study_uid, state, modality, station_name, source, patient_id,
                                  n_series, n_instances, n_files, first_seen, first_seen_unix, last_change,
                                  implementation_version)
             VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6, 1, 1, 1, ?7, ?8, ?7, ?9)",
            rusqlite::params![uid, state, modalities[(i % 5) as usize], format!("ST{}", i % 25), format!("AE{}", i % 40), format!("P{}", i % 30_000), rfc(seen), seen, format!("VER_{}", i % 7)],
        )
        .unwrap();
        let study = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO series (study_id, series_key) VALUES (?1, ?2)",
            rusqlite::params![study, format!("{uid}.1")],
        )
        .unwrap();
        let series = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO instances (series_id, study_id, sop_key, sop_uid) VALUES (?1, ?2, ?3, ?3)",
            rusqlite::params![series, study, format!("{uid}.1.1")],
        )
        .unwrap();
        let instance = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO versions (instance_id, blob_hash, created_at, reason) VALUES (?1, ?2, ?3, 'received')",
            rusqlite::params![instance, hash, rfc(seen)],
        )
        .unwrap();
        let version = tx.last_insert_rowid();
        tx.execute(
            "UPDATE instances SET current_version = ?2 WHERE id = ?1",
            rusqlite::params![instance, version],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO files (blob_hash, original_path, source, received_at, instance_id, role)
             VALUES (?1, '/bench', 'AE', ?2, ?3, 'original')",
            rusqlite::params![hash, rfc(seen), instance],
        )
        .unwrap();
        if state != "matched" {
            tx.execute(
                "INSERT INTO findings (study_id, code, message) VALUES (?1, ?2, 'bench')",
                rusqlite::params![study, format!("code_{}", i % 9)],
            )
            .unwrap();
        }
        if i % 10 == 0 {
            let changes = if i % 30 == 0 {
                r#"[{"tag":"(0010,0020)"}]"#
            } else {
                "[]"
            };
            tx.execute(
                "INSERT INTO corrections (study_id, at, action, os_user, changes) VALUES (?1, ?2, 'edit', 'bench', ?3)",
                rusqlite::params![study, rfc(seen + 3_600), changes],
            )
            .unwrap();
        }
        if i % 20 == 7 {
            tx.execute(
                "INSERT INTO dismissals (study_id, reason, by, at, at_unix) VALUES (?1, 'test patient', 'bench', ?2, ?3)",
                rusqlite::params![study, rfc(seen + 7_200), seen + 7_200],
            )
            .unwrap();
        }
        if i % 5 == 0 {
            tx.execute(
                "INSERT INTO send_jobs (study_id, node, state, created_at, updated_at) VALUES (?1, 'pacs', 'verified', ?2, ?3)",
                rusqlite::params![study, rfc(seen + 4_000), rfc(seen + 4_100)],
            )
            .unwrap();
        }
    }
    tx.commit().unwrap();
}
