//! C-ECHO: is the node there, does it accept qcdesk, and how fast does it answer.

use std::time::{Duration, Instant};

use super::dimse::{Command, CommandField, Message};
use super::status::StatusKind;
use super::{Association, NetError, Peer, VERIFICATION};

/// What an echo measured.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EchoReport {
    /// Connect + association negotiation.
    pub association_ms: f64,
    /// C-ECHO request to response, inside the association.
    pub echo_ms: f64,
    pub implementation_class_uid: String,
    pub implementation_version: String,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// Opens an association to `peer`, sends one C-ECHO and releases.
pub fn echo(peer: &Peer) -> Result<EchoReport, NetError> {
    let start = Instant::now();
    let mut assoc = Association::open(peer, &[VERIFICATION])?;
    let associated = start.elapsed();
    let (context_id, _) = assoc.require_context(VERIFICATION, "Verification (C-ECHO)")?;
    let id = assoc.next_message_id();
    let sent = Instant::now();
    assoc.send(
        &Message {
            context_id,
            command: Command::request(CommandField::CEchoRq, VERIFICATION, id, false),
            data: None,
        },
        "sending C-ECHO",
    )?;
    let rsp = assoc.receive("waiting for the C-ECHO response")?;
    let rtt = sent.elapsed();
    let status = rsp.command.status();
    let (class, version) = assoc.peer_implementation();
    match status {
        Some(s) if s.kind() == StatusKind::Success => {
            assoc.release();
            Ok(EchoReport {
                association_ms: ms(associated),
                echo_ms: ms(rtt),
                implementation_class_uid: class,
                implementation_version: version,
            })
        }
        Some(status) => {
            assoc.abort();
            Err(NetError::Failed {
                peer: peer.label(),
                service: "C-ECHO".into(),
                status,
            })
        }
        None => {
            assoc.abort();
            Err(NetError::Protocol {
                peer: peer.label(),
                why: "C-ECHO response without a status".into(),
            })
        }
    }
}
