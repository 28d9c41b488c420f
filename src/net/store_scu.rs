//! C-STORE as a user, and Storage Commitment as its requestor: an association proposing, per
//! SOP class, each file's own transfer syntax plus Explicit and Implicit VR Little Endian (a
//! context of its own each), instances stored one by one with their statuses, and an N-ACTION
//! asking the archive to commit them. Encoding and transcoding are the caller's business.

use std::time::{Duration, Instant};

use super::commitment::{self, CommitResult, WELL_KNOWN_INSTANCE};
use super::dimse::{Command, CommandField, Message};
use super::status::{Status, StatusKind};
use super::{Association, IMPLICIT_VR_LE, NetError, Peer, STORAGE_COMMITMENT, UNCOMPRESSED};

/// An association for sending instances.
pub struct StoreAssociation {
    assoc: Association,
    /// Accepted contexts: id, abstract syntax, the transfer syntax first proposed, accepted.
    contexts: Vec<(u8, String, String, String)>,
}

/// The transfer syntaxes proposed for a file in `ts`: its own first, then the uncompressed
/// ones the archive must accept.
fn proposal(ts: &str) -> Vec<String> {
    let mut list = vec![ts.to_string()];
    for t in UNCOMPRESSED {
        if !list.iter().any(|x| x == t) {
            list.push(t.to_string());
        }
    }
    list
}

impl StoreAssociation {
    /// Opens an association for instances of these (SOP class, transfer syntax) pairs, with
    /// Storage Commitment too when `commitment` is set.
    pub fn open(
        peer: &Peer,
        wanted: &[(String, String)],
        commitment: bool,
    ) -> Result<StoreAssociation, NetError> {
        let mut pairs: Vec<(String, String)> = wanted.to_vec();
        pairs.sort();
        pairs.dedup();
        // At most 128 contexts (odd ids 1..255); one is kept for Storage Commitment.
        pairs.truncate(127);
        let mut proposals: Vec<(String, Vec<String>)> = pairs
            .iter()
            .map(|(c, t)| (c.clone(), proposal(t)))
            .collect();
        let mut roles = Vec::new();
        if commitment {
            proposals.push((
                STORAGE_COMMITMENT.to_string(),
                UNCOMPRESSED.map(String::from).to_vec(),
            ));
            roles.push(STORAGE_COMMITMENT);
        }
        let assoc = Association::open_with(peer, &proposals, &roles)?;
        // dicom-ul keeps the negotiated contexts by id; the proposal order gives ids 1, 3, 5...
        let contexts = assoc
            .accepted_contexts()
            .into_iter()
            .filter_map(|(id, abstract_syntax, ts)| {
                let index = (id as usize).checked_sub(1)? / 2;
                let proposed = proposals.get(index)?.1.first()?.clone();
                Some((id, abstract_syntax, proposed, ts))
            })
            .collect();
        Ok(StoreAssociation { assoc, contexts })
    }

    /// [`StoreAssociation::open`], giving up if the archive does not accept within
    /// `negotiate` (an archive that serves one association at a time keeps a second one
    /// waiting); the usual timeouts apply afterwards.
    pub fn open_within(
        peer: &Peer,
        wanted: &[(String, String)],
        commitment: bool,
        negotiate: Duration,
    ) -> Result<StoreAssociation, NetError> {
        let mut quick = peer.clone();
        quick.timeouts.io = negotiate.min(peer.timeouts.io);
        let mut a = StoreAssociation::open(&quick, wanted, commitment)?;
        a.assoc.set_io_timeout(peer.timeouts.io);
        Ok(a)
    }

    pub fn association(&self) -> &Association {
        &self.assoc
    }

    /// The context to send an instance of `sop_class` held in `ts` on, and the transfer
    /// syntax it must travel in: `ts` itself when the archive accepted it, else an
    /// uncompressed one (the caller transcodes). None: the archive takes no such SOP class.
    pub fn context(&self, sop_class: &str, ts: &str) -> Option<(u8, String)> {
        let same = |c: &&(u8, String, String, String)| c.1 == sop_class;
        self.contexts
            .iter()
            .filter(same)
            .find(|c| c.3 == ts)
            .or_else(|| self.contexts.iter().filter(same).find(|c| c.2 == ts))
            .or_else(|| self.contexts.iter().find(|c| c.1 == sop_class))
            .map(|c| (c.0, c.3.clone()))
    }

    /// Whether the archive accepted Storage Commitment.
    pub fn offers_commitment(&self) -> bool {
        self.contexts.iter().any(|c| c.1 == STORAGE_COMMITMENT)
    }

    /// Stores one instance whose data set is `data`, encoded in the context's transfer syntax.
    pub fn store(
        &mut self,
        context_id: u8,
        sop_class: &str,
        sop_instance: &str,
        data: Vec<u8>,
    ) -> Result<Status, NetError> {
        let id = self.assoc.next_message_id();
        let during = format!("storing {sop_instance}");
        self.assoc.send(
            &Message {
                context_id,
                command: Command::store(sop_class, sop_instance, id),
                data: Some(data),
            },
            &during,
        )?;
        let rsp = self.assoc.receive(&during)?;
        if rsp.command.field() != Some(CommandField::CStoreRsp) {
            return Err(NetError::Protocol {
                peer: self.assoc.peer().label(),
                why: format!(
                    "expected a C-STORE response, got command field {:04X}H",
                    rsp.command.raw_field().unwrap_or(0)
                ),
            });
        }
        rsp.command.status().ok_or_else(|| NetError::Protocol {
            peer: self.assoc.peer().label(),
            why: "C-STORE response without a status".into(),
        })
    }

    /// Asks the archive to commit `request.committed` (N-ACTION); returns once it accepted
    /// the request. The report comes later: [`StoreAssociation::poll_report`] on this
    /// association, or on one the archive opens to qcdesk's receiver.
    pub fn request_commitment(&mut self, request: &CommitResult) -> Result<(), NetError> {
        let label = self.assoc.peer().label();
        let (context_id, ts) = self
            .assoc
            .require_context(STORAGE_COMMITMENT, "Storage Commitment")?;
        let data = commitment::write_request(request, &ts).map_err(|why| NetError::Protocol {
            peer: label.clone(),
            why: format!("cannot encode the commitment request: {why}"),
        })?;
        let id = self.assoc.next_message_id();
        let during = "asking for Storage Commitment";
        self.assoc.send(
            &Message {
                context_id,
                command: Command::n_action(STORAGE_COMMITMENT, WELL_KNOWN_INSTANCE, 1, id),
                data: Some(data),
            },
            during,
        )?;
        let rsp = self.assoc.receive(during)?;
        let status = rsp.command.status().ok_or_else(|| NetError::Protocol {
            peer: label.clone(),
            why: "N-ACTION response without a status".into(),
        })?;
        if rsp.command.field() != Some(CommandField::NActionRsp) {
            return Err(NetError::Protocol {
                peer: label,
                why: "expected an N-ACTION response".into(),
            });
        }
        if status.kind() == StatusKind::Failure {
            return Err(NetError::Failed {
                peer: label,
                service: "Storage Commitment".into(),
                status,
            });
        }
        Ok(())
    }

    /// Waits at most `wait` for the report of `transaction_uid` on this association (the
    /// archive may send it here). None: not (yet), or the archive released the association.
    pub fn poll_report(
        &mut self,
        transaction_uid: &str,
        wait: Duration,
    ) -> Result<Option<CommitResult>, NetError> {
        if self.assoc.is_closed() {
            std::thread::sleep(wait);
            return Ok(None);
        }
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            let during = "waiting for the commitment report";
            let Some(msg) = self
                .assoc
                .receive_within(deadline - Instant::now(), during)?
            else {
                return Ok(None);
            };
            if msg.command.field() != Some(CommandField::NEventReportRq) {
                continue;
            }
            let ts = self
                .contexts
                .iter()
                .find(|c| c.0 == msg.context_id)
                .map(|c| c.3.clone())
                .unwrap_or_else(|| IMPLICIT_VR_LE.to_string());
            let answer = commitment::read_report(msg.data.as_deref().unwrap_or_default(), &ts);
            let status = if answer.is_ok() { 0 } else { 0x0110 };
            let rsp = Message {
                context_id: msg.context_id,
                command: Command::response(
                    CommandField::NEventReportRsp,
                    &msg.command,
                    status,
                    false,
                ),
                data: None,
            };
            self.assoc.send(&rsp, "answering the commitment report")?;
            if let Ok(report) = answer
                && report.transaction_uid == transaction_uid
            {
                return Ok(Some(report));
            }
        }
        Ok(None)
    }

    pub fn release(self) {
        self.assoc.release();
    }

    pub fn abort(self) {
        self.assoc.abort();
    }
}
