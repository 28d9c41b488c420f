//! What the node map shows, read from the store: every application entity qcdesk has met on
//! the network (with its implementation, associations, instances and failed associations) and
//! every sender seen only in the files (Source AE Title and implementation of the file meta,
//! station, manufacturer, model and software versions of the data sets), with its studies and
//! how many of them were exceptions.

use rusqlite::params;
use serde::Serialize;

use super::{RemoteAe, Store, StoreError};

/// A peer of associations, in or out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerCounts {
    #[serde(flatten)]
    pub ae: RemoteAe,
    /// Instances carried by its associations (either way).
    pub instances: i64,
    /// Associations that did not end in a release.
    pub failures: i64,
}

/// A sender as its files describe it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sender {
    pub source_ae: String,
    pub station_name: String,
    pub manufacturer: String,
    pub model: String,
    pub software_versions: String,
    pub implementation_class_uid: String,
    pub implementation_version: String,
    pub studies: i64,
    pub instances: i64,
    /// Studies that were exceptions (not matched now, or corrected or dismissed).
    pub exceptions: i64,
    pub exception_rate: f64,
}

impl Store {
    /// The network peers with their counts.
    pub fn peer_counts(&self) -> Result<Vec<PeerCounts>, StoreError> {
        let mut out = Vec::new();
        for ae in self.remote_aes()? {
            let (instances, failures): (i64, i64) = self.conn.query_row(
                "SELECT COALESCE(SUM(instances), 0),
                        COALESCE(SUM(outcome NOT IN ('released', '')), 0)
                 FROM associations
                 -- Associations keep the peer's port; the peer is known by its host.
                 WHERE (peer_address = ?2
                        OR substr(peer_address, 1, length(?2) + 1) = ?2 || ':'
                        OR substr(peer_address, 1, length(?2) + 3) = '[' || ?2 || ']:')
                   AND ((direction = 'in' AND calling_ae = ?1) OR (direction = 'out' AND called_ae = ?1))",
                params![ae.ae_title, ae.address],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            // Refused associations, counted per minute.
            let refused: i64 = self.conn.query_row(
                "SELECT COALESCE(SUM(count), 0) FROM refusals WHERE calling_ae = ?1 AND peer_host = ?2",
                params![ae.ae_title, ae.address],
                |r| r.get(0),
            )?;
            let failures = failures + refused;
            out.push(PeerCounts {
                ae,
                instances,
                failures,
            });
        }
        Ok(out)
    }

    /// The senders seen in the files as received, most studies first.
    pub fn senders(&self) -> Result<Vec<Sender>, StoreError> {
        let mut stmt = self.conn.prepare(
            "WITH sent AS (
                 SELECT TRIM(b.source_ae) AS ae, TRIM(b.station_name) AS station,
                        TRIM(b.manufacturer) AS manufacturer, TRIM(b.model_name) AS model,
                        TRIM(b.software_versions) AS software,
                        TRIM(b.implementation_class_uid) AS class_uid,
                        TRIM(b.implementation_version) AS version,
                        i.study_id AS study
                 FROM files f JOIN blobs b ON b.hash = f.blob_hash
                 JOIN instances i ON i.id = f.instance_id
                 WHERE f.role = 'original'),
             exceptional AS (
                 SELECT s.id FROM studies s WHERE s.state != 'matched'
                 UNION SELECT study_id FROM corrections WHERE action != 'undo'
                 UNION SELECT study_id FROM dismissals)
             SELECT ae, station, manufacturer, model, software, class_uid, version,
                    COUNT(DISTINCT study), COUNT(*),
                    COUNT(DISTINCT CASE WHEN study IN (SELECT id FROM exceptional) THEN study END)
             FROM sent GROUP BY ae, station, manufacturer, model, software, class_uid, version
             ORDER BY COUNT(DISTINCT study) DESC, ae, station",
        )?;
        let rows = stmt.query_map([], |r| {
            let studies: i64 = r.get(7)?;
            let exceptions: i64 = r.get(9)?;
            Ok(Sender {
                source_ae: r.get(0)?,
                station_name: r.get(1)?,
                manufacturer: r.get(2)?,
                model: r.get(3)?,
                software_versions: r.get(4)?,
                implementation_class_uid: r.get(5)?,
                implementation_version: r.get(6)?,
                studies,
                instances: r.get(8)?,
                exceptions,
                exception_rate: if studies > 0 {
                    exceptions as f64 / studies as f64
                } else {
                    0.0
                },
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
