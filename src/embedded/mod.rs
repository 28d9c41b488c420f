//! Peers qcdesk runs itself, on a loopback port, while a node naming one in its `embedded` is
//! used: a Modality Worklist SCP answering from orders the workspace keeps (`ris`) and an
//! archive storing into a workspace folder with Storage Commitment and C-FIND (`archive`).
//! The demo configures nodes that use them; [`peer_for`] is the one way from a node to the
//! peer to call, for every service (sync, send, echo, stale copies).

pub mod archive;
pub mod ris;

use crate::model::DicomNode;
use crate::net::Peer;
use crate::net::scp::Server;
use crate::store::{Store, StoreError};

/// How to reach `node`: the node itself, or for an embedded one a server started now on a
/// loopback port (it runs while the returned handle lives).
pub fn peer_for(store: &Store, node: &DicomNode) -> Result<(Peer, Option<Server>), StoreError> {
    let mut peer = Peer::for_node(node, &store.local_ae_title()?);
    let started = match node.embedded.as_str() {
        "" => return Ok((peer, None)),
        archive::EMBEDDED => archive::start(store.workspace().root(), &node.ae_title),
        ris::EMBEDDED => ris::start(store, &node.ae_title),
        other => {
            return Err(StoreError::Node(format!(
                "node {} names an embedded peer this qcdesk does not have ('{other}')",
                node.name
            )));
        }
    };
    let server = started.map_err(|e| {
        StoreError::Node(format!(
            "cannot start the embedded peer of node {}: {e}",
            node.name
        ))
    })?;
    peer.port = server.port();
    Ok((peer, Some(server)))
}
