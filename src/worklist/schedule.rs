//! When the RIS is synced without anyone asking: each RIS node every `[worklist]
//! sync_minutes` after its last sync attempt (recorded in the store, so every process of a team
//! sees the same times). The receiver service runs the pass every minute; a desk runs it too,
//! a grace later, so a department syncs when no service runs, and the service syncs when one
//! does. A node being synced by another process is left to it (the sync's lease).

use crate::model::{DicomNode, NodeRole};
use crate::store::{Store, StoreError};

use super::sync::{SyncError, SyncReport, sync};

/// How much later than the service a desk syncs a node: the service, when it runs, is first.
pub const DESK_GRACE_SECONDS: i64 = 120;

/// The RIS nodes due a sync at `now` (unix seconds), `grace` seconds past their time.
pub fn due(store: &Store, grace: i64, now: i64) -> Result<Vec<DicomNode>, StoreError> {
    let minutes = store.worklist_config().sync_minutes;
    if minutes == 0 {
        return Ok(Vec::new());
    }
    let syncs = store.last_syncs()?;
    Ok(store
        .nodes()?
        .into_iter()
        .filter(|n| n.role == NodeRole::Ris)
        .filter(|n| {
            let last = syncs
                .iter()
                .find(|s| s.source == n.name)
                .and_then(|s| crate::fsutil::parse_rfc3339_unix(&s.finished_at));
            last.is_none_or(|t| now - t >= minutes as i64 * 60 + grace)
        })
        .collect())
}

/// One scheduled sync's outcome.
#[derive(Debug)]
pub struct ScheduledSync {
    pub node: String,
    pub outcome: Result<SyncReport, SyncError>,
}

/// Syncs every node due (see [`due`]); nodes another process is syncing are left out.
pub fn run_due(
    store: &mut Store,
    grace: i64,
    progress: &mut dyn FnMut(&str, usize),
) -> Result<Vec<ScheduledSync>, StoreError> {
    let now = crate::fsutil::now().1;
    let mut out = Vec::new();
    for node in due(store, grace, now)? {
        let name = node.name.clone();
        let outcome = sync(
            store,
            &node,
            &crate::store::SyncScope::default(),
            super::DEFAULT_LIMIT,
            &mut |n| progress(&name, n),
        );
        if let Err(SyncError::Running { holder, .. }) = &outcome {
            tracing::debug!("{name}: synced by {holder}");
            continue;
        }
        out.push(ScheduledSync {
            node: name,
            outcome,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ris(store: &mut Store, name: &str) {
        store
            .put_node(&DicomNode {
                name: name.into(),
                ae_title: "RIS".into(),
                host: "127.0.0.1".into(),
                port: 9,
                role: NodeRole::Ris,
                ..Default::default()
            })
            .unwrap();
    }

    #[test]
    fn a_node_is_due_its_minutes_after_its_last_attempt_and_a_desk_a_grace_later() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        ris(&mut store, "ris-a");
        let now = crate::fsutil::now().1;
        assert_eq!(due(&store, 0, now).unwrap().len(), 1, "never synced");
        let at = |t: i64| crate::model::rfc3339(t);
        store
            .record_sync(&crate::store::SyncRecord {
                source: "ris-a".into(),
                started_at: at(now - 15 * 60),
                finished_at: at(now - 15 * 60),
                ok: false,
                received: 0,
                new: 0,
                changed: 0,
                vanished: 0,
                error: "refused".into(),
            })
            .unwrap();
        assert_eq!(due(&store, 0, now).unwrap().len(), 1, "15 minutes after");
        assert!(due(&store, DESK_GRACE_SECONDS, now).unwrap().is_empty());
        assert_eq!(
            due(&store, DESK_GRACE_SECONDS, now + DESK_GRACE_SECONDS)
                .unwrap()
                .len(),
            1
        );
        assert!(
            due(&store, 0, now - 60).unwrap().is_empty(),
            "14 minutes after"
        );
    }
}
