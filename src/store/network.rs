//! Who qcdesk talked to: each association (in or out) with the peer's AE title, address and
//! implementation, and the application entities seen, first and last (for the node map).

use rusqlite::params;
use serde::Serialize;

use super::{Store, StoreError};
use crate::fsutil;

/// One association as the peer announced itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssociationRecord {
    pub inbound: bool,
    pub calling_ae: String,
    pub called_ae: String,
    pub peer_address: String,
    pub implementation_class_uid: String,
    pub implementation_version: String,
}

/// An application entity seen on the network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemoteAe {
    pub ae_title: String,
    pub address: String,
    pub implementation_class_uid: String,
    pub implementation_version: String,
    pub first_seen: String,
    pub last_seen: String,
    pub associations: i64,
}

/// The last inbound association: who sent last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastSender {
    pub calling_ae: String,
    pub peer_address: String,
    pub at: String,
    pub instances: i64,
}

/// The host part of `host:port` (the port of an inbound association is ephemeral).
pub(crate) fn host_of(address: &str) -> &str {
    match address.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => {
            host.trim_start_matches('[').trim_end_matches(']')
        }
        _ => address,
    }
}

/// Refused associations of one caller in one minute (the receiver counts them in memory and
/// writes a row a minute, so a flood of refusals cannot fill the disk or the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusalCount {
    /// Unix time / 60.
    pub minute: i64,
    pub calling_ae: String,
    pub called_ae: String,
    /// The caller's host (no port).
    pub peer_host: String,
    /// Why the first of them was refused.
    pub reason: String,
    pub count: i64,
}

impl Store {
    /// Adds refusal counts (one transaction for all): per caller and minute, and the caller
    /// among the remote AEs the node map shows.
    pub fn record_refusals(&mut self, counts: &[RefusalCount]) -> Result<(), StoreError> {
        if counts.is_empty() {
            return Ok(());
        }
        let (now, _) = fsutil::now();
        self.in_transaction(|tx| {
            for c in counts {
                tx.execute(
                    "INSERT INTO refusals (minute, calling_ae, called_ae, peer_host, reason, count)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (minute, calling_ae, peer_host) DO UPDATE SET
                         count = count + excluded.count",
                    params![
                        c.minute,
                        c.calling_ae,
                        c.called_ae,
                        c.peer_host,
                        c.reason,
                        c.count
                    ],
                )?;
                tx.execute(
                    "INSERT INTO remote_aes (ae_title, address, implementation_class_uid,
                         implementation_version, first_seen, last_seen, associations)
                     VALUES (?1, ?2, '', '', ?3, ?3, ?4)
                     ON CONFLICT (ae_title, address) DO UPDATE SET
                         last_seen = excluded.last_seen,
                         associations = associations + excluded.associations",
                    params![c.calling_ae, c.peer_host, now, c.count],
                )?;
            }
            Ok(())
        })
    }

    /// Refusals recorded, newest minute first: (minute, calling AE, host, reason, count).
    pub fn refusals(&self) -> Result<Vec<RefusalCount>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT minute, calling_ae, called_ae, peer_host, reason, count FROM refusals
             ORDER BY minute DESC, calling_ae",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(RefusalCount {
                minute: r.get(0)?,
                calling_ae: r.get(1)?,
                called_ae: r.get(2)?,
                peer_host: r.get(3)?,
                reason: r.get(4)?,
                count: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Who an inbound association was (calling and called AE, address), for a receipt written
    /// after the fact.
    pub fn association_origin(
        &self,
        id: i64,
    ) -> Result<Option<(String, String, String)>, StoreError> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .query_row(
                "SELECT calling_ae, called_ae, peer_address FROM associations WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?)
    }

    /// Records an association as it opens, and the remote AE it reached or came from.
    pub fn open_association(&mut self, a: &AssociationRecord) -> Result<i64, StoreError> {
        let (now, _) = fsutil::now();
        let remote = if a.inbound {
            &a.calling_ae
        } else {
            &a.called_ae
        };
        // Inbound: where it comes from (any port); outbound: the node's own address.
        let address = if a.inbound {
            host_of(&a.peer_address).to_string()
        } else {
            a.peer_address.clone()
        };
        self.in_transaction(|tx| {
            tx.execute(
                "INSERT INTO associations (direction, calling_ae, called_ae, peer_address,
                     implementation_class_uid, implementation_version, started_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    if a.inbound { "in" } else { "out" },
                    a.calling_ae,
                    a.called_ae,
                    a.peer_address,
                    a.implementation_class_uid,
                    a.implementation_version,
                    now
                ],
            )?;
            let id = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO remote_aes (ae_title, address, implementation_class_uid,
                     implementation_version, first_seen, last_seen, associations)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, 1)
                 ON CONFLICT (ae_title, address) DO UPDATE SET
                     last_seen = excluded.last_seen, associations = associations + 1,
                     implementation_class_uid = CASE WHEN excluded.implementation_class_uid != ''
                         THEN excluded.implementation_class_uid ELSE implementation_class_uid END,
                     implementation_version = CASE WHEN excluded.implementation_version != ''
                         THEN excluded.implementation_version ELSE implementation_version END",
                params![
                    remote,
                    address,
                    a.implementation_class_uid,
                    a.implementation_version,
                    now
                ],
            )?;
            Ok(id)
        })
    }

    /// Records how an association ended and how many instances it carried.
    pub fn close_association(
        &mut self,
        id: i64,
        instances: usize,
        outcome: &str,
    ) -> Result<(), StoreError> {
        let (now, _) = fsutil::now();
        self.conn.execute(
            "UPDATE associations SET ended_at = ?2, instances = ?3, outcome = ?4 WHERE id = ?1",
            params![id, now, instances as i64, outcome],
        )?;
        Ok(())
    }

    /// Every remote AE seen, most recent first.
    pub fn remote_aes(&self) -> Result<Vec<RemoteAe>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT ae_title, address, implementation_class_uid, implementation_version,
                    first_seen, last_seen, associations
             FROM remote_aes ORDER BY last_seen DESC, ae_title",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(RemoteAe {
                ae_title: r.get(0)?,
                address: r.get(1)?,
                implementation_class_uid: r.get(2)?,
                implementation_version: r.get(3)?,
                first_seen: r.get(4)?,
                last_seen: r.get(5)?,
                associations: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The most recent inbound association that stored something.
    pub fn last_sender(&self) -> Result<Option<LastSender>, StoreError> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .query_row(
                "SELECT calling_ae, peer_address, COALESCE(ended_at, started_at), instances
                 FROM associations WHERE direction = 'in' AND instances > 0
                 ORDER BY id DESC LIMIT 1",
                [],
                |r| {
                    Ok(LastSender {
                        calling_ae: r.get(0)?,
                        peer_address: r.get(1)?,
                        at: r.get(2)?,
                        instances: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbound_peers_are_keyed_by_host() {
        assert_eq!(host_of("127.0.0.1:40512"), "127.0.0.1");
        assert_eq!(host_of("[::1]:104"), "::1");
        assert_eq!(host_of("pacs"), "pacs");
    }

    #[test]
    fn associations_and_remote_aes_are_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let rec = AssociationRecord {
            inbound: true,
            calling_ae: "CT1".into(),
            called_ae: "QCDESK".into(),
            peer_address: "10.0.0.9:50001".into(),
            implementation_class_uid: "1.2.276.0.7230010.3.0.3.6.7".into(),
            implementation_version: "OFFIS_DCMTK_367".into(),
        };
        let a = store.open_association(&rec).unwrap();
        store.close_association(a, 3, "released").unwrap();
        let b = store
            .open_association(&AssociationRecord {
                peer_address: "10.0.0.9:50002".into(),
                implementation_version: String::new(),
                ..rec
            })
            .unwrap();
        assert_ne!(a, b);
        let aes = store.remote_aes().unwrap();
        assert_eq!(aes.len(), 1);
        assert_eq!(aes[0].associations, 2);
        assert_eq!(aes[0].implementation_version, "OFFIS_DCMTK_367");
        let last = store.last_sender().unwrap().unwrap();
        assert_eq!((last.calling_ae.as_str(), last.instances), ("CT1", 3));
    }
}
