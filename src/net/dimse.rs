//! DIMSE messages: command sets (group 0000, always Implicit VR Little Endian) built and read
//! by hand, and whole messages sent and reassembled over P-DATA PDUs. A message may span many
//! PDUs, and one PDU may carry the end of a command and the start of its data set.

use std::collections::BTreeMap;

use dicom_ul::pdu::{PDataValue, PDataValueType, Pdu};

use super::status::Status;

/// Command Field values (PS3.7 E.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum CommandField {
    CStoreRq = 0x0001,
    CStoreRsp = 0x8001,
    CFindRq = 0x0020,
    CFindRsp = 0x8020,
    CGetRq = 0x0010,
    CGetRsp = 0x8010,
    CMoveRq = 0x0021,
    CMoveRsp = 0x8021,
    CEchoRq = 0x0030,
    CEchoRsp = 0x8030,
    CCancelRq = 0x0FFF,
    NEventReportRq = 0x0100,
    NEventReportRsp = 0x8100,
    NActionRq = 0x0130,
    NActionRsp = 0x8130,
}

impl CommandField {
    pub fn from_u16(v: u16) -> Option<CommandField> {
        use CommandField::*;
        [
            CStoreRq,
            CStoreRsp,
            CFindRq,
            CFindRsp,
            CGetRq,
            CGetRsp,
            CMoveRq,
            CMoveRsp,
            CEchoRq,
            CEchoRsp,
            CCancelRq,
            NEventReportRq,
            NEventReportRsp,
            NActionRq,
            NActionRsp,
        ]
        .into_iter()
        .find(|c| *c as u16 == v)
    }
}

const GROUP_LENGTH: u16 = 0x0000;
const AFFECTED_SOP_CLASS: u16 = 0x0002;
const REQUESTED_SOP_CLASS: u16 = 0x0003;
const COMMAND_FIELD: u16 = 0x0100;
const MESSAGE_ID: u16 = 0x0110;
const RESPONDED_TO: u16 = 0x0120;
const PRIORITY: u16 = 0x0700;
const DATA_SET_TYPE: u16 = 0x0800;
const STATUS: u16 = 0x0900;
const ERROR_COMMENT: u16 = 0x0902;
const AFFECTED_SOP_INSTANCE: u16 = 0x1000;
const REQUESTED_SOP_INSTANCE: u16 = 0x1001;
const EVENT_TYPE_ID: u16 = 0x1002;
const ACTION_TYPE_ID: u16 = 0x1008;
/// Command Data Set Type value meaning "no data set follows".
const NO_DATA_SET: u16 = 0x0101;

/// A command set: element number (group 0000) → raw value bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Command {
    elements: BTreeMap<u16, Vec<u8>>,
}

impl Command {
    fn new(field: CommandField, has_data: bool) -> Command {
        let mut c = Command::default();
        c.set_u16(COMMAND_FIELD, field as u16);
        c.set_u16(DATA_SET_TYPE, if has_data { 0x0000 } else { NO_DATA_SET });
        c
    }

    /// A request: C-ECHO-RQ, C-FIND-RQ...
    pub fn request(field: CommandField, sop_class: &str, message_id: u16, has_data: bool) -> Self {
        let mut c = Command::new(field, has_data);
        c.set_uid(AFFECTED_SOP_CLASS, sop_class);
        c.set_u16(MESSAGE_ID, message_id);
        if field != CommandField::CEchoRq {
            c.set_u16(PRIORITY, 0x0000); // medium
        }
        c
    }

    /// A response to `request` with `status`. The affected SOP class and instance are those of
    /// the request (its requested ones for N-ACTION), and an event or action type is echoed.
    pub fn response(field: CommandField, request: &Command, status: u16, has_data: bool) -> Self {
        let mut c = Command::new(field, has_data);
        let class = request
            .elements
            .get(&AFFECTED_SOP_CLASS)
            .or_else(|| request.elements.get(&REQUESTED_SOP_CLASS));
        if let Some(class) = class {
            c.elements.insert(AFFECTED_SOP_CLASS, class.clone());
        }
        let instance = request
            .elements
            .get(&AFFECTED_SOP_INSTANCE)
            .or_else(|| request.elements.get(&REQUESTED_SOP_INSTANCE));
        if let Some(instance) = instance {
            c.elements.insert(AFFECTED_SOP_INSTANCE, instance.clone());
        }
        for element in [EVENT_TYPE_ID, ACTION_TYPE_ID] {
            if let Some(v) = request.elements.get(&element) {
                c.elements.insert(element, v.clone());
            }
        }
        c.set_u16(RESPONDED_TO, request.message_id().unwrap_or(0));
        c.set_u16(STATUS, status);
        c
    }

    /// A response with a status and its comment (Error Comment, at most 64 characters).
    pub fn response_with_comment(
        field: CommandField,
        request: &Command,
        status: u16,
        comment: &str,
    ) -> Self {
        let mut c = Command::response(field, request, status, false);
        if !comment.is_empty() {
            let text: String = comment.chars().filter(|c| c.is_ascii()).take(64).collect();
            let mut b = text.into_bytes();
            if b.len() % 2 == 1 {
                b.push(b' ');
            }
            c.elements.insert(ERROR_COMMENT, b);
        }
        c
    }

    /// C-STORE-RQ for one instance.
    pub fn store(sop_class: &str, sop_instance: &str, message_id: u16) -> Command {
        let mut c = Command::request(CommandField::CStoreRq, sop_class, message_id, true);
        c.set_uid(AFFECTED_SOP_INSTANCE, sop_instance);
        c
    }

    /// N-ACTION-RQ on a requested SOP instance, with an action information data set.
    pub fn n_action(sop_class: &str, sop_instance: &str, action: u16, message_id: u16) -> Command {
        let mut c = Command::new(CommandField::NActionRq, true);
        c.set_uid(REQUESTED_SOP_CLASS, sop_class);
        c.set_uid(REQUESTED_SOP_INSTANCE, sop_instance);
        c.set_u16(ACTION_TYPE_ID, action);
        c.set_u16(MESSAGE_ID, message_id);
        c
    }

    /// N-EVENT-REPORT-RQ on an affected SOP instance, with an event information data set.
    pub fn n_event_report(
        sop_class: &str,
        sop_instance: &str,
        event: u16,
        message_id: u16,
    ) -> Self {
        let mut c = Command::new(CommandField::NEventReportRq, true);
        c.set_uid(AFFECTED_SOP_CLASS, sop_class);
        c.set_uid(AFFECTED_SOP_INSTANCE, sop_instance);
        c.set_u16(EVENT_TYPE_ID, event);
        c.set_u16(MESSAGE_ID, message_id);
        c
    }

    /// C-CANCEL-RQ for the request `message_id`.
    pub fn cancel(message_id: u16) -> Command {
        let mut c = Command::new(CommandField::CCancelRq, false);
        c.set_u16(RESPONDED_TO, message_id);
        c
    }

    fn set_u16(&mut self, element: u16, v: u16) {
        self.elements.insert(element, v.to_le_bytes().to_vec());
    }

    fn set_uid(&mut self, element: u16, uid: &str) {
        let mut b = uid.as_bytes().to_vec();
        if b.len() % 2 == 1 {
            b.push(0);
        }
        self.elements.insert(element, b);
    }

    fn u16(&self, element: u16) -> Option<u16> {
        let b = self.elements.get(&element)?;
        Some(u16::from_le_bytes([*b.first()?, *b.get(1)?]))
    }

    fn text(&self, element: u16) -> Option<String> {
        let b = self.elements.get(&element)?;
        Some(
            String::from_utf8_lossy(b)
                .trim_end_matches(['\0', ' '])
                .to_string(),
        )
    }

    pub fn field(&self) -> Option<CommandField> {
        self.u16(COMMAND_FIELD).and_then(CommandField::from_u16)
    }

    pub fn raw_field(&self) -> Option<u16> {
        self.u16(COMMAND_FIELD)
    }

    pub fn message_id(&self) -> Option<u16> {
        self.u16(MESSAGE_ID)
    }

    pub fn responded_to(&self) -> Option<u16> {
        self.u16(RESPONDED_TO)
    }

    pub fn sop_class(&self) -> Option<String> {
        self.text(AFFECTED_SOP_CLASS)
    }

    pub fn sop_instance(&self) -> Option<String> {
        self.text(AFFECTED_SOP_INSTANCE)
    }

    pub fn requested_sop_class(&self) -> Option<String> {
        self.text(REQUESTED_SOP_CLASS)
    }

    pub fn event_type(&self) -> Option<u16> {
        self.u16(EVENT_TYPE_ID)
    }

    pub fn action_type(&self) -> Option<u16> {
        self.u16(ACTION_TYPE_ID)
    }

    pub fn has_data_set(&self) -> bool {
        self.u16(DATA_SET_TYPE).is_some_and(|t| t != NO_DATA_SET)
    }

    pub fn status(&self) -> Option<Status> {
        // The peer's words, shown and logged as they were sent but never obeyed by a terminal.
        self.u16(STATUS).map(|code| Status {
            code,
            comment: self
                .text(ERROR_COMMENT)
                .map(|c| crate::text::printable_short(&c, 200)),
        })
    }

    /// The command set in Implicit VR Little Endian, group length first.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        for (&element, value) in self.elements.iter().filter(|(e, _)| **e != GROUP_LENGTH) {
            body.extend_from_slice(&0u16.to_le_bytes());
            body.extend_from_slice(&element.to_le_bytes());
            body.extend_from_slice(&(value.len() as u32).to_le_bytes());
            body.extend_from_slice(value);
        }
        let mut out = Vec::with_capacity(body.len() + 12);
        out.extend_from_slice(&[0, 0, 0, 0, 4, 0, 0, 0]);
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Reads a command set; anything outside group 0000 or cut short is an error.
    pub fn decode(bytes: &[u8]) -> Result<Command, String> {
        let mut c = Command::default();
        let mut at = 0usize;
        while at < bytes.len() {
            let head = bytes
                .get(at..at + 8)
                .ok_or_else(|| format!("command set cut short at byte {at}"))?;
            let group = u16::from_le_bytes([head[0], head[1]]);
            let element = u16::from_le_bytes([head[2], head[3]]);
            let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
            if group != 0 {
                return Err(format!(
                    "element ({group:04X},{element:04X}) in a command set"
                ));
            }
            let value = bytes
                .get(at + 8..at + 8 + len)
                .ok_or_else(|| format!("command element (0000,{element:04X}) cut short"))?;
            // The group length is recomputed on encoding.
            if element != GROUP_LENGTH {
                c.elements.insert(element, value.to_vec());
            }
            at += 8 + len;
        }
        if c.raw_field().is_none() {
            return Err("command set without a Command Field".into());
        }
        Ok(c)
    }
}

/// A whole DIMSE message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub context_id: u8,
    pub command: Command,
    pub data: Option<Vec<u8>>,
}

/// What a message travels over: either side of an association.
pub(crate) trait PduLink {
    fn send_pdu(&mut self, pdu: &Pdu) -> Result<(), dicom_ul::association::Error>;
    fn receive_pdu(&mut self) -> Result<Pdu, dicom_ul::association::Error>;
    /// The largest PDU the peer accepts (0: no limit).
    fn peer_max_pdu(&self) -> u32;
}

/// Why a message could not be received.
#[derive(Debug)]
pub(crate) enum ReceiveError {
    /// The peer sent A-ABORT.
    Aborted,
    /// The peer asked to release the association.
    Released,
    Link(dicom_ul::association::Error),
    /// Reading the socket directly (the SCP side) failed.
    Io(std::io::Error),
    Protocol(String),
}

/// Sends `message`, splitting the data set into fragments the peer accepts.
pub(crate) fn send_message(
    link: &mut impl PduLink,
    message: &Message,
) -> Result<(), dicom_ul::association::Error> {
    link.send_pdu(&Pdu::PData {
        data: vec![PDataValue {
            presentation_context_id: message.context_id,
            value_type: PDataValueType::Command,
            is_last: true,
            data: message.command.encode(),
        }],
    })?;
    if let Some(data) = &message.data {
        // PDV item header: 4 bytes length + context id + control header.
        let max = match link.peer_max_pdu() {
            0 => 1 << 20,
            n => (n as usize).saturating_sub(6).max(2),
        };
        let mut chunks = data.chunks(max).peekable();
        if data.is_empty() {
            link.send_pdu(&pdata(message.context_id, Vec::new(), true))?;
        }
        while let Some(chunk) = chunks.next() {
            let last = chunks.peek().is_none();
            link.send_pdu(&pdata(message.context_id, chunk.to_vec(), last))?;
        }
    }
    Ok(())
}

fn pdata(context_id: u8, data: Vec<u8>, is_last: bool) -> Pdu {
    Pdu::PData {
        data: vec![PDataValue {
            presentation_context_id: context_id,
            value_type: PDataValueType::Data,
            is_last,
            data,
        }],
    }
}

/// Receives P-DATA until a whole message (command, and its data set if it announces one) is in.
/// `pending` holds fragments that arrived in the same PDU after a completed message.
pub(crate) fn receive_message(
    link: &mut impl PduLink,
    pending: &mut Vec<PDataValue>,
) -> Result<Message, ReceiveError> {
    let mut command_bytes = Vec::new();
    let mut command: Option<Command> = None;
    let mut data = Vec::new();
    let mut context_id = 0u8;
    loop {
        if pending.is_empty() {
            match link.receive_pdu().map_err(ReceiveError::Link)? {
                Pdu::PData { data } => pending.extend(data),
                Pdu::AbortRQ { .. } => return Err(ReceiveError::Aborted),
                Pdu::ReleaseRQ => return Err(ReceiveError::Released),
                other => {
                    return Err(ReceiveError::Protocol(format!(
                        "unexpected {} while waiting for a message",
                        other.short_description()
                    )));
                }
            }
            continue;
        }
        let pdv = pending.remove(0);
        match (&command, pdv.value_type) {
            (None, PDataValueType::Command) => {
                context_id = pdv.presentation_context_id;
                command_bytes.extend_from_slice(&pdv.data);
                if pdv.is_last {
                    let c = Command::decode(&command_bytes).map_err(ReceiveError::Protocol)?;
                    if !c.has_data_set() {
                        return Ok(Message {
                            context_id,
                            command: c,
                            data: None,
                        });
                    }
                    command = Some(c);
                }
            }
            (Some(_), PDataValueType::Data) => {
                if pdv.presentation_context_id != context_id {
                    return Err(ReceiveError::Protocol(format!(
                        "data set on presentation context {} for a command on {context_id}",
                        pdv.presentation_context_id
                    )));
                }
                if data.is_empty() && pdv.is_last {
                    // One fragment: taken as it is, not copied.
                    data = pdv.data;
                } else {
                    data.extend_from_slice(&pdv.data);
                }
                if pdv.is_last {
                    return Ok(Message {
                        context_id,
                        command: command.take().unwrap_or_default(),
                        data: Some(data),
                    });
                }
            }
            (None, PDataValueType::Data) => {
                return Err(ReceiveError::Protocol(
                    "a data set fragment arrived before its command".into(),
                ));
            }
            (Some(_), PDataValueType::Command) => {
                return Err(ReceiveError::Protocol(
                    "a new command arrived before the announced data set".into(),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_sets_round_trip() {
        let rq = Command::request(CommandField::CFindRq, "1.2.840.10008.5.1.4.31", 7, true);
        let bytes = rq.encode();
        // Group length counts the bytes after itself.
        let len = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
        assert_eq!(len, bytes.len() - 12);
        let back = Command::decode(&bytes).unwrap();
        assert_eq!(back.field(), Some(CommandField::CFindRq));
        assert_eq!(back.message_id(), Some(7));
        assert_eq!(back.sop_class().as_deref(), Some("1.2.840.10008.5.1.4.31"));
        assert!(back.has_data_set());
        let rsp = Command::response(CommandField::CFindRsp, &back, 0xFF00, true);
        let rsp = Command::decode(&rsp.encode()).unwrap();
        assert_eq!(rsp.responded_to(), Some(7));
        assert_eq!(rsp.status().unwrap().code, 0xFF00);
        assert!(!Command::cancel(7).has_data_set());
    }

    #[test]
    fn damaged_command_sets_are_refused() {
        let bytes = Command::request(CommandField::CEchoRq, "1.2.840.10008.1.1", 1, false).encode();
        assert!(Command::decode(&bytes[..bytes.len() - 3]).is_err());
        let mut other_group = bytes.clone();
        other_group[12] = 8;
        assert!(Command::decode(&other_group).is_err());
    }

    struct Loop {
        out: Vec<Pdu>,
        max: u32,
    }

    impl PduLink for Loop {
        fn send_pdu(&mut self, pdu: &Pdu) -> Result<(), dicom_ul::association::Error> {
            self.out.push(pdu.clone());
            Ok(())
        }
        fn receive_pdu(&mut self) -> Result<Pdu, dicom_ul::association::Error> {
            Ok(self.out.remove(0))
        }
        fn peer_max_pdu(&self) -> u32 {
            self.max
        }
    }

    #[test]
    fn data_sets_are_split_to_the_peer_limit_and_reassembled() {
        let mut link = Loop {
            out: Vec::new(),
            max: 106,
        };
        let data: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let msg = Message {
            context_id: 3,
            command: Command::request(CommandField::CFindRq, "1.2", 1, true),
            data: Some(data.clone()),
        };
        send_message(&mut link, &msg).unwrap();
        assert_eq!(link.out.len(), 1 + 10);
        let mut pending = Vec::new();
        let back = receive_message(&mut link, &mut pending).unwrap();
        assert_eq!(back, msg);
    }
}
