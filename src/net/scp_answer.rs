//! The answers an SCP association gives: replies, C-FIND matches, and Storage Commitment
//! (the N-ACTION answered, then its N-EVENT-REPORT sent on the same association).

use std::io::{Read, Write};

use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use dicom_ul::association::{CloseSocket, ServerAssociation};

use super::STORAGE_COMMITMENT;
use super::commitment;
use super::dimse::{self, Command, CommandField, Message};
use super::scp::{AssociationInfo, Handler};
use crate::dicom::dump::dump_dataset;

pub(super) fn send<S: Read + Write + CloseSocket>(
    assoc: &mut ServerAssociation<S>,
    context_id: u8,
    command: Command,
    data: Option<Vec<u8>>,
) -> bool {
    dimse::send_message(
        assoc,
        &Message {
            context_id,
            command,
            data,
        },
    )
    .is_ok()
}

pub(super) fn reply<S: Read + Write + CloseSocket>(
    assoc: &mut ServerAssociation<S>,
    request: &Message,
    field: CommandField,
    status: u16,
    data: Option<Vec<u8>>,
) -> bool {
    let command = Command::response(field, &request.command, status, data.is_some());
    send(assoc, request.context_id, command, data)
}

pub(super) fn answer_find<S: Read + Write + CloseSocket>(
    assoc: &mut ServerAssociation<S>,
    msg: &Message,
    ts_uid: &str,
    abstract_syntax: &str,
    info: &AssociationInfo,
    handler: &dyn Handler,
) -> bool {
    let Some(ts) = TransferSyntaxRegistry.get(ts_uid) else {
        return reply(assoc, msg, CommandField::CFindRsp, 0xC000, None);
    };
    let sop_class = msg
        .command
        .sop_class()
        .unwrap_or_else(|| abstract_syntax.to_string());
    let query = dump_dataset(msg.data.as_deref().unwrap_or_default(), ts_uid);
    if let Some(why) = &query.error {
        tracing::warn!(
            "a C-FIND query from {} ({}) was refused: {why}",
            info.calling_ae,
            info.peer_address
        );
        return reply(assoc, msg, CommandField::CFindRsp, 0xA900, None);
    }
    let (matches, status) = handler.find(info, &sop_class, &query.dataset);
    for m in matches {
        let mut bytes = Vec::new();
        if m.write_dataset_with_ts(&mut bytes, ts).is_err() {
            return reply(assoc, msg, CommandField::CFindRsp, 0xC001, None);
        }
        if !reply(assoc, msg, CommandField::CFindRsp, 0xFF00, Some(bytes)) {
            return false;
        }
    }
    reply(assoc, msg, CommandField::CFindRsp, status, None)
}

/// N-ACTION (Storage Commitment request): answered, then the report is sent on this same
/// association (the requestor proposed both roles, or is qcdesk, which listens for it).
pub(super) fn answer_commit<S: Read + Write + CloseSocket>(
    assoc: &mut ServerAssociation<S>,
    msg: &Message,
    ts_uid: &str,
    info: &AssociationInfo,
    handler: &dyn Handler,
) -> bool {
    let request = match commitment::read_request(msg.data.as_deref().unwrap_or_default(), ts_uid) {
        Ok(r) => r,
        Err(why) => {
            tracing::warn!(
                "a Storage Commitment request from {} ({}) was refused: {why}",
                info.calling_ae,
                info.peer_address
            );
            return reply(assoc, msg, CommandField::NActionRsp, 0x0110, None);
        }
    };
    let Some(result) = handler.commit(info, &request) else {
        return reply(assoc, msg, CommandField::NActionRsp, 0x0112, None);
    };
    if !reply(assoc, msg, CommandField::NActionRsp, 0, None) {
        return false;
    }
    let Ok((event, data)) = commitment::write_report(&result, ts_uid) else {
        return false;
    };
    let command = Command::n_event_report(
        STORAGE_COMMITMENT,
        commitment::WELL_KNOWN_INSTANCE,
        event,
        msg.command.message_id().unwrap_or(1).wrapping_add(0x4000),
    );
    send(assoc, msg.context_id, command, Some(data))
}
