//! C-FIND as a user: one query, its pending responses handed over one by one, C-CANCEL when
//! the caller stops early, the final status checked.

use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
use dicom_object::InMemDicomObject;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use super::dimse::{Command, CommandField, Message};
use super::status::{Status, StatusKind};
use super::{Association, NetError, Peer};

/// How a C-FIND ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindOutcome {
    /// The final status (success, cancel, or a warning).
    pub status: Status,
    /// Pending responses received (matches).
    pub matches: usize,
    /// The caller stopped early and the query was cancelled.
    pub cancelled: bool,
}

/// What the caller wants after a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Continue,
    /// Send C-CANCEL and stop.
    Cancel,
}

/// Runs one C-FIND of `query` against `peer` under `sop_class`. Each match's identifier is
/// given to `on_match` with its transfer syntax UID; `on_match` may ask to cancel.
pub fn find(
    peer: &Peer,
    sop_class: &str,
    service: &str,
    query: &InMemDicomObject,
    on_match: &mut dyn FnMut(&[u8], &str) -> Next,
) -> Result<FindOutcome, NetError> {
    let mut assoc = Association::open(peer, &[sop_class])?;
    let (context_id, ts_uid) = assoc.require_context(sop_class, service)?;
    let ts = TransferSyntaxRegistry
        .get(&ts_uid)
        .ok_or_else(|| NetError::Protocol {
            peer: peer.label(),
            why: format!("the peer accepted unknown transfer syntax {ts_uid}"),
        })?;
    let mut identifier = Vec::new();
    query
        .write_dataset_with_ts(&mut identifier, ts)
        .map_err(|e| NetError::Protocol {
            peer: peer.label(),
            why: format!("cannot encode the query: {e}"),
        })?;
    let id = assoc.next_message_id();
    assoc.send(
        &Message {
            context_id,
            command: Command::request(CommandField::CFindRq, sop_class, id, true),
            data: Some(identifier),
        },
        &format!("sending the {service} query"),
    )?;
    let mut matches = 0usize;
    let mut cancelled = false;
    loop {
        let during = if cancelled {
            format!("after cancelling the {service} query")
        } else {
            format!("during the {service} query, after {matches} matches")
        };
        let rsp = match assoc.receive(&during) {
            Ok(r) => r,
            Err(e) => {
                assoc.abort();
                return Err(e);
            }
        };
        if rsp.command.field() != Some(CommandField::CFindRsp) {
            assoc.abort();
            return Err(NetError::Protocol {
                peer: peer.label(),
                why: format!(
                    "expected a C-FIND response, got command field {:04X}H",
                    rsp.command.raw_field().unwrap_or(0)
                ),
            });
        }
        let Some(status) = rsp.command.status() else {
            assoc.abort();
            return Err(NetError::Protocol {
                peer: peer.label(),
                why: "C-FIND response without a status".into(),
            });
        };
        match status.kind() {
            StatusKind::Pending => {
                if cancelled {
                    continue;
                }
                matches += 1;
                // A pending response without its identifier is handed over empty, so the
                // caller knows the listing has a hole.
                let data = rsp.data.as_deref().unwrap_or_default();
                if on_match(data, &ts_uid) == Next::Cancel {
                    cancelled = true;
                    assoc.send(
                        &Message {
                            context_id,
                            command: Command::cancel(id),
                            data: None,
                        },
                        "sending C-CANCEL",
                    )?;
                }
            }
            StatusKind::Failure => {
                assoc.release();
                return Err(NetError::Failed {
                    peer: peer.label(),
                    service: service.into(),
                    status,
                });
            }
            StatusKind::Success | StatusKind::Warning | StatusKind::Cancel => {
                assoc.release();
                return Ok(FindOutcome {
                    status,
                    matches,
                    cancelled,
                });
            }
        }
    }
}
