//! A worklist sync: one Modality Worklist C-FIND to a RIS node, every answer read, and only
//! once the RIS said the query completed, merged into the cache. A RIS that fails, stops or
//! refuses mid-way leaves the cache as it was; the attempt is recorded either way.

use std::time::Instant;

use crate::fsutil;
use crate::model::DicomNode;
use crate::net::{self, NetError, Next};
use crate::store::{Store, StoreError, SyncCounts, SyncRecord, SyncScope};

/// Answers a sync takes at most unless told otherwise; more and the query is cancelled.
pub const DEFAULT_LIMIT: usize = 200_000;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{0} (the cache was not changed)")]
    Net(#[from] NetError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "{peer} listed more than {limit} items; the query was cancelled and the cache left as it \
         was. Narrow the sync (--from/--to, --modality, --station) or raise --limit"
    )]
    TooMany { peer: String, limit: usize },
    #[error("{0}")]
    Embedded(String),
    #[error("reading the RIS's answers failed; the cache was not changed")]
    Reader,
    /// Another process of the team syncs this node now; the cache will hold its result.
    #[error(
        "{node} is being synced by {holder}; its result will be in the cache (nothing was asked)"
    )]
    Running { node: String, holder: String },
}

/// The lease a sync of `node` holds: one sync of a node at a time in a team.
pub fn lease_name(node: &str) -> String {
    format!("worklist sync:{node}")
}

/// How long a sync's lease lasts unless renewed (its keeper renews four times a lease).
const LEASE: std::time::Duration = std::time::Duration::from_secs(60);

/// What a sync did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SyncReport {
    pub node: String,
    pub address: String,
    pub scope: SyncScope,
    #[serde(flatten)]
    pub counts: SyncCounts,
    /// Answers that could not be read (each with its position); when there are any, nothing
    /// is marked vanished.
    pub unreadable: Vec<String>,
    pub final_status: String,
    /// Whole sync; of which the query (connect to last answer) and the merge into the cache.
    pub seconds: f64,
    pub query_seconds: f64,
    pub merge_seconds: f64,
}

/// Syncs the cache with `node` over `scope`. `progress` hears the number of answers so far.
pub fn sync(
    store: &mut Store,
    node: &DicomNode,
    scope: &SyncScope,
    limit: usize,
    progress: &mut dyn FnMut(usize),
) -> Result<SyncReport, SyncError> {
    let lease = lease_name(&node.name);
    if !store.try_lease(&lease, LEASE)? {
        return Err(SyncError::Running {
            node: node.name.clone(),
            holder: store
                .lease_holder(&lease)?
                .unwrap_or_else(|| "another process".into()),
        });
    }
    // Renewed while the RIS answers, released when the sync ends however it ends.
    let _held = store.keeper(crate::store::Held::Lease(lease), LEASE)?;
    let (started_at, _) = fsutil::now();
    let result = run(store, node, scope, limit, progress);
    let (finished_at, _) = fsutil::now();
    let record = match &result {
        Ok(r) => SyncRecord {
            source: node.name.clone(),
            started_at,
            finished_at,
            ok: true,
            received: r.counts.received,
            new: r.counts.new,
            changed: r.counts.changed,
            vanished: r.counts.vanished,
            error: String::new(),
        },
        Err(e) => SyncRecord {
            source: node.name.clone(),
            started_at,
            finished_at,
            ok: false,
            received: 0,
            new: 0,
            changed: 0,
            vanished: 0,
            error: e.to_string(),
        },
    };
    // A failure to record must not hide the sync's own outcome.
    let recorded = store.record_sync(&record);
    let report = result?;
    recorded?;
    Ok(report)
}

/// How to reach `node` (an embedded RIS started on a loopback port of its own, stopping
/// when dropped): [`crate::embedded::peer_for`], its failure to start a sync error.
pub fn peer_for(
    store: &Store,
    node: &DicomNode,
) -> Result<(net::Peer, Option<net::scp::Server>), SyncError> {
    crate::embedded::peer_for(store, node).map_err(|e| match e {
        StoreError::Node(why) => SyncError::Embedded(why),
        e => SyncError::Store(e),
    })
}

fn run(
    store: &mut Store,
    node: &DicomNode,
    scope: &SyncScope,
    limit: usize,
    progress: &mut dyn FnMut(usize),
) -> Result<SyncReport, SyncError> {
    let start = Instant::now();
    let (peer, _embedded) = peer_for(store, node)?;
    let query = super::mwl::query(scope);
    let mut answers = 0usize;
    let mut too_many = false;
    // Answers are read and sorted against the cache (new, changed, unchanged) on a thread of
    // their own while the next ones arrive; only the writes are left for the end.
    let mut plan = store.merge_plan(&node.name)?;
    let (tx, rx) = crossbeam_channel::unbounded::<(usize, Vec<u8>, String)>();
    let source = node.name.clone();
    let (outcome, planned) = std::thread::scope(|scope_| {
        let parser = scope_.spawn(move || {
            let mut unreadable = Vec::new();
            for (n, bytes, ts) in rx {
                if bytes.is_empty() {
                    unreadable.push(format!(
                        "answer {n}: a pending response without an identifier"
                    ));
                    continue;
                }
                match super::mwl::item_from_identifier(&bytes, &ts, &source) {
                    Ok(item) => plan.add(item),
                    Err(e) => unreadable.push(format!("answer {n}: {e}")),
                }
            }
            (plan, unreadable)
        });
        let outcome = net::find(
            &peer,
            net::MWL_FIND,
            "Modality Worklist",
            &query,
            &mut |bytes, ts| {
                answers += 1;
                if answers > limit {
                    too_many = true;
                    return Next::Cancel;
                }
                let _ = tx.send((answers, bytes.to_vec(), ts.to_string()));
                if answers.is_multiple_of(64) {
                    progress(answers);
                }
                Next::Continue
            },
        );
        drop(tx);
        // A reader that died must not pass for a RIS that listed nothing (which would mark
        // every order vanished).
        let planned = parser.join().map_err(|_| SyncError::Reader);
        (outcome, planned)
    });
    let outcome = outcome?;
    let (plan, unreadable) = planned?;
    if too_many {
        return Err(SyncError::TooMany {
            peer: peer.label(),
            limit,
        });
    }
    progress(answers);
    let queried = start.elapsed();
    // Only a listing the RIS says is whole may mark items vanished: not one it cut short
    // (Cancel), qualified (a warning), or one with answers qcdesk could not read.
    let whole = outcome.status.kind() == net::StatusKind::Success && !outcome.cancelled;
    let complete = (whole && unreadable.is_empty()).then_some(scope);
    let counts = store.apply_merge(plan, complete)?;
    let round = |d: std::time::Duration| (d.as_secs_f64() * 1000.0).round() / 1000.0;
    Ok(SyncReport {
        node: node.name.clone(),
        address: peer.address(),
        scope: scope.clone(),
        counts,
        unreadable,
        final_status: outcome.status.to_string(),
        seconds: round(start.elapsed()),
        query_seconds: round(queried),
        merge_seconds: round(start.elapsed() - queried),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::embedded::ris::OrdersProvider;
    use crate::model::{NodeRole, WorklistItem};
    use crate::net::scp::Server;

    fn order(acc: &str) -> WorklistItem {
        WorklistItem {
            accession: acc.into(),
            sps_id: format!("S{acc}"),
            patient_id: "P1".into(),
            modality: "CT".into(),
            scheduled_at: "20261128090000".into(),
            ..WorklistItem::default()
        }
    }

    fn ris_node(port: u16) -> DicomNode {
        DicomNode {
            name: "ris".into(),
            ae_title: "RIS".into(),
            host: "127.0.0.1".into(),
            port,
            role: NodeRole::Ris,
            ..DicomNode::default()
        }
    }

    /// Syncs from an SCP listing `items` and ending with `status`.
    fn sync_from(store: &mut Store, items: Vec<WorklistItem>, status: u16) -> SyncReport {
        let server = Server::start(
            "RIS",
            "127.0.0.1:0",
            Arc::new(OrdersProvider {
                items,
                final_status: status,
            }),
        )
        .unwrap();
        sync(
            store,
            &ris_node(server.port()),
            &SyncScope::default(),
            DEFAULT_LIMIT,
            &mut |_| {},
        )
        .unwrap()
    }

    #[test]
    fn only_a_listing_the_ris_calls_whole_marks_items_vanished() {
        let ws = tempfile::tempdir().unwrap();
        let mut store = Store::open(ws.path()).unwrap();
        let all = vec![order("A1"), order("A2"), order("A3")];
        assert_eq!(sync_from(&mut store, all.clone(), 0x0000).counts.new, 3);
        // The RIS cut its answer short (cancel) or qualified it (warning): A2 and A3 missing
        // from it does not mean they left the worklist.
        for status in [0xFE00, 0xB000] {
            let r = sync_from(&mut store, vec![order("A1")], status);
            assert_eq!(
                (r.counts.received, r.counts.vanished),
                (1, 0),
                "{status:04X}"
            );
        }
        assert!(
            store
                .worklist()
                .unwrap()
                .iter()
                .all(|i| i.vanished_at.is_none())
        );
        // A whole answer without them does.
        let r = sync_from(&mut store, vec![order("A1")], 0x0000);
        assert_eq!(r.counts.vanished, 2);
        // A failure status changes nothing and says so.
        let server = Server::start(
            "RIS",
            "127.0.0.1:0",
            Arc::new(OrdersProvider {
                items: Vec::new(),
                final_status: 0xA700,
            }),
        )
        .unwrap();
        let node = net::Peer::for_node(&ris_node(server.port()), &store.local_ae_title().unwrap());
        let e = crate::net::find(
            &node,
            crate::net::MWL_FIND,
            "Modality Worklist",
            &super::super::mwl::query(&SyncScope::default()),
            &mut |_, _| Next::Continue,
        )
        .unwrap_err();
        assert!(e.to_string().contains("A700H (out of resources)"), "{e}");
    }

    /// A RIS that answers too slowly or dies while answering.
    struct Faulty {
        sleep: std::time::Duration,
        panic: bool,
    }

    impl crate::net::scp::FindProvider for Faulty {
        fn sop_class(&self) -> &str {
            crate::net::MWL_FIND
        }
        fn find(
            &self,
            _: &[crate::dicom::dump::Node],
        ) -> (Vec<dicom_object::InMemDicomObject>, u16) {
            std::thread::sleep(self.sleep);
            if self.panic {
                panic!("the RIS process died");
            }
            (Vec::new(), 0)
        }
    }

    fn find_from(provider: Faulty, io: std::time::Duration) -> crate::net::NetError {
        let server = Server::start("RIS", "127.0.0.1:0", Arc::new(provider)).unwrap();
        let peer = crate::net::Peer {
            name: "ris".into(),
            ae_title: "RIS".into(),
            host: "127.0.0.1".into(),
            port: server.port(),
            calling_ae: "QCDESK".into(),
            tls: None,
            timeouts: crate::net::Timeouts {
                connect: std::time::Duration::from_secs(5),
                io,
            },
        };
        crate::net::find(
            &peer,
            crate::net::MWL_FIND,
            "Modality Worklist",
            &super::super::mwl::query(&SyncScope::default()),
            &mut |_, _| Next::Continue,
        )
        .unwrap_err()
    }

    #[test]
    fn a_silent_or_dying_ris_is_named_in_one_line() {
        let e = find_from(
            Faulty {
                sleep: std::time::Duration::from_millis(2500),
                panic: false,
            },
            std::time::Duration::from_secs(1),
        );
        let text = e.to_string();
        assert!(
            text.contains("ris (RIS@127.0.0.1:") && text.contains("no answer within 1 s"),
            "{text}"
        );
        assert!(text.contains("Modality Worklist query"), "{text}");
        let e = find_from(
            Faulty {
                sleep: std::time::Duration::ZERO,
                panic: true,
            },
            std::time::Duration::from_secs(10),
        );
        let text = e.to_string();
        assert!(
            text.contains("connection lost") || text.contains("aborted"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 1, "{text}");
    }
}
