//! Reading whole DIMSE messages straight off the socket (the SCP side). dicom-ul reads a PDU
//! through an 8 KiB buffer into a buffer of its own and then into a vector per fragment; a
//! received 512x512 CT slice was copied three times and read in some sixty system calls.
//! Here each fragment's bytes go once, from the socket, to the end of the message buffer
//! (which starts with the file head the instance will be stored with).
//!
//! Only what follows an established association is read here: P-DATA-TF, A-RELEASE-RQ and
//! A-ABORT. Answers are still written by dicom-ul.

use std::io::Read;

use super::dimse::{Command, Message, ReceiveError};
use super::scp::StoreSink;

/// PDU types (PS3.8 9.3).
const P_DATA_TF: u8 = 0x04;
const A_RELEASE_RQ: u8 = 0x05;
const A_ABORT: u8 = 0x07;

/// The largest command set accepted: real ones take a few hundred bytes; without a cap a peer
/// could send command fragments until memory runs out.
pub(crate) const MAX_COMMAND: usize = 64 << 10;

/// The largest data set held in memory (a query, a commitment request or report: 100,000
/// instances take 14 MB). A C-STORE's data set goes to the handler's sink as it arrives
/// instead, never held whole.
pub(crate) const MAX_DATA_IN_MEMORY: usize = 16 << 20;

/// Given a command announcing a data set (and its presentation context), the sink that takes
/// the data set, if any.
pub(crate) type OpenSink<'f, 's> = dyn FnMut(u8, &Command) -> Option<Box<dyn StoreSink + 's>> + 'f;

/// A whole message, or a C-STORE whose data set went to a sink.
pub(crate) enum Incoming<'s> {
    Message(Message),
    Stored {
        context_id: u8,
        command: Command,
        sink: Box<dyn StoreSink + 's>,
    },
}

/// Bytes read ahead from the socket, kept from one message to the next: a peer's PDU and
/// fragment headers (6 bytes each) cost no system call of their own.
pub(crate) struct ReadAhead {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Default for ReadAhead {
    fn default() -> Self {
        ReadAhead {
            buf: vec![0; 64 << 10],
            start: 0,
            end: 0,
        }
    }
}

impl ReadAhead {
    /// Reads more from `r` when nothing is buffered; false at end of stream.
    fn fill(&mut self, r: &mut impl Read) -> std::io::Result<bool> {
        if self.start < self.end {
            return Ok(true);
        }
        self.start = 0;
        self.end = 0;
        loop {
            match r.read(&mut self.buf) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.end = n;
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Passes exactly `len` bytes to `to`, in the pieces they come in.
    fn take(
        &mut self,
        r: &mut impl Read,
        len: usize,
        to: &mut dyn FnMut(&[u8]),
    ) -> Result<(), ReceiveError> {
        let mut left = len;
        while left > 0 {
            if !self.fill(r).map_err(ReceiveError::Io)? {
                return Err(cut_short(len - left, len));
            }
            let n = left.min(self.end - self.start);
            to(&self.buf[self.start..self.start + n]);
            self.start += n;
            left -= n;
        }
        Ok(())
    }

    fn read_exact(&mut self, r: &mut impl Read, out: &mut [u8]) -> Result<(), ReceiveError> {
        let mut at = 0;
        self.take(r, out.len(), &mut |piece| {
            out[at..at + piece.len()].copy_from_slice(piece);
            at += piece.len();
        })
    }
}

fn cut_short(got: usize, len: usize) -> ReceiveError {
    ReceiveError::Io(std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        format!("the connection closed {got} bytes into a {len}-byte fragment"),
    ))
}

/// PDUs or fragments without a byte of content a message may hold: a peer sending nothing
/// but headers keeps the receiver busy for nothing.
const MAX_EMPTY: usize = 64;

/// Where the data set of the message being read goes.
enum Body<'s> {
    None,
    Memory(Vec<u8>),
    Sink(Box<dyn StoreSink + 's>),
}

/// Reads one whole message. A command announcing a data set is shown to `open_sink`, which may
/// take the data set (a C-STORE at the receiver: written to its spool as it arrives); any
/// other data set is held in memory, up to [`MAX_DATA_IN_MEMORY`]. `max_pdu` is the largest
/// PDU this side agreed to receive. `progress` hears the bytes of the message as they arrive
/// (its first call: the message has begun), so the caller can hold the peer to a pace.
pub(crate) fn read_message<'s>(
    r: &mut impl Read,
    ahead: &mut ReadAhead,
    max_pdu: u32,
    open_sink: &mut OpenSink<'_, 's>,
    progress: &mut dyn FnMut(u64),
) -> Result<Incoming<'s>, ReceiveError> {
    let mut command_bytes = Vec::new();
    let mut command: Option<Command> = None;
    let mut body = Body::None;
    let mut context_id = 0u8;
    let mut empty = 0usize;
    loop {
        let mut pdu = [0u8; 6];
        ahead.read_exact(r, &mut pdu)?;
        progress(6);
        let len = u32::from_be_bytes([pdu[2], pdu[3], pdu[4], pdu[5]]);
        match pdu[0] {
            P_DATA_TF => {}
            A_RELEASE_RQ | A_ABORT => {
                // Their 4 reserved bytes (or the abort's source and reason).
                let mut rest = [0u8; 4];
                let _ = ahead.read_exact(r, &mut rest);
                return Err(if pdu[0] == A_RELEASE_RQ {
                    ReceiveError::Released
                } else {
                    ReceiveError::Aborted
                });
            }
            other => {
                return Err(ReceiveError::Protocol(format!(
                    "unexpected PDU type {other:02X}H while waiting for a message"
                )));
            }
        }
        if len > max_pdu {
            return Err(ReceiveError::Protocol(format!(
                "a P-DATA PDU of {len} bytes, over the {max_pdu} agreed"
            )));
        }
        if len == 0 {
            empty += 1;
            if empty > MAX_EMPTY {
                return Err(ReceiveError::Protocol(
                    "empty P-DATA PDUs without end".into(),
                ));
            }
        }
        // The PDU's fragments (PDV items), each: length, context id, control header, bytes.
        let mut left = len as usize;
        while left > 0 {
            let mut item = [0u8; 6];
            if left < item.len() {
                return Err(ReceiveError::Protocol("a PDV item cut short".into()));
            }
            ahead.read_exact(r, &mut item)?;
            progress(6);
            let item_len = u32::from_be_bytes([item[0], item[1], item[2], item[3]]) as usize;
            if item_len < 2 || item_len + 4 > left {
                return Err(ReceiveError::Protocol(format!(
                    "a PDV item of {item_len} bytes in the {left} left of its PDU"
                )));
            }
            left -= item_len + 4;
            let (pc, control) = (item[4], item[5]);
            let (is_command, is_last) = (control & 1 == 1, control & 2 == 2);
            let bytes = item_len - 2;
            if bytes == 0 {
                empty += 1;
                if empty > MAX_EMPTY {
                    return Err(ReceiveError::Protocol("empty fragments without end".into()));
                }
            }
            match (&command, is_command) {
                (None, true) => {
                    if command_bytes.is_empty() {
                        context_id = pc;
                    } else if pc != context_id {
                        return Err(ReceiveError::Protocol(format!(
                            "command fragments on presentation contexts {context_id} and {pc}"
                        )));
                    }
                    if command_bytes.len() + bytes > MAX_COMMAND {
                        return Err(ReceiveError::Protocol(format!(
                            "a command set of more than {} KiB",
                            MAX_COMMAND >> 10
                        )));
                    }
                    ahead.take(r, bytes, &mut |piece| {
                        command_bytes.extend_from_slice(piece)
                    })?;
                    progress(bytes as u64);
                    if is_last {
                        let c = Command::decode(&command_bytes).map_err(ReceiveError::Protocol)?;
                        if !c.has_data_set() {
                            if left > 0 {
                                return Err(ReceiveError::Protocol(
                                    "bytes after a complete message in its PDU".into(),
                                ));
                            }
                            return Ok(Incoming::Message(Message {
                                context_id,
                                command: c,
                                data: None,
                            }));
                        }
                        body = match open_sink(context_id, &c) {
                            Some(sink) => Body::Sink(sink),
                            None => Body::Memory(Vec::new()),
                        };
                        command = Some(c);
                    }
                }
                (Some(_), false) => {
                    if pc != context_id {
                        return Err(ReceiveError::Protocol(format!(
                            "data set on presentation context {pc} for a command on {context_id}"
                        )));
                    }
                    match &mut body {
                        Body::Sink(sink) => {
                            ahead.take(r, bytes, &mut |piece| {
                                sink.write(piece);
                                progress(piece.len() as u64);
                            })?;
                            // A data set past what the sink takes is not read on for ever.
                            if sink.overflowed() {
                                return Err(ReceiveError::Protocol(
                                    "a data set larger than the receiver takes".into(),
                                ));
                            }
                        }
                        Body::Memory(data) => {
                            if data.len() + bytes > MAX_DATA_IN_MEMORY {
                                return Err(ReceiveError::Protocol(format!(
                                    "a data set of more than {} MiB for this service",
                                    MAX_DATA_IN_MEMORY >> 20
                                )));
                            }
                            ahead.take(r, bytes, &mut |piece| {
                                data.extend_from_slice(piece);
                                progress(piece.len() as u64);
                            })?;
                        }
                        Body::None => {}
                    }
                    if is_last {
                        if left > 0 {
                            return Err(ReceiveError::Protocol(
                                "bytes after a complete message in its PDU".into(),
                            ));
                        }
                        let command = command.take().unwrap_or_default();
                        return Ok(match std::mem::replace(&mut body, Body::None) {
                            Body::Sink(sink) => Incoming::Stored {
                                context_id,
                                command,
                                sink,
                            },
                            Body::Memory(data) => Incoming::Message(Message {
                                context_id,
                                command,
                                data: Some(data),
                            }),
                            Body::None => Incoming::Message(Message {
                                context_id,
                                command,
                                data: Some(Vec::new()),
                            }),
                        });
                    }
                }
                (None, false) => {
                    return Err(ReceiveError::Protocol(
                        "a data set fragment arrived before its command".into(),
                    ));
                }
                (Some(_), true) => {
                    return Err(ReceiveError::Protocol(
                        "a new command arrived before the announced data set".into(),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::dimse::CommandField;
    use crate::net::scp::Answer;
    use std::sync::{Arc, Mutex};

    fn pdv(pc: u8, control: u8, bytes: &[u8]) -> Vec<u8> {
        let mut v = ((bytes.len() + 2) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(&[pc, control]);
        v.extend_from_slice(bytes);
        v
    }

    fn pdu(items: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = items.concat();
        let mut v = vec![P_DATA_TF, 0];
        v.extend_from_slice(&(body.len() as u32).to_be_bytes());
        v.extend_from_slice(&body);
        v
    }

    /// Collects what it is given.
    struct Collect(Arc<Mutex<Vec<u8>>>);

    impl StoreSink for Collect {
        fn write(&mut self, bytes: &[u8]) {
            self.0.lock().unwrap().extend_from_slice(bytes);
        }
        fn finish(self: Box<Self>) -> Answer {
            Answer::success()
        }
    }

    fn none() -> impl FnMut(u8, &Command) -> Option<Box<dyn StoreSink>> {
        |_: u8, _: &Command| None
    }

    #[test]
    fn fragments_go_to_the_sink_and_damage_is_refused() {
        let cmd = Command::store("1.2.840.10008.5.1.4.1.1.2", "1.2.3", 5).encode();
        let (a, b) = cmd.split_at(10);
        let data: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let mut wire = pdu(&[pdv(3, 1, a)]);
        wire.extend(pdu(&[pdv(3, 3, b), pdv(3, 0, &data[..600])]));
        wire.extend(pdu(&[pdv(3, 2, &data[600..])]));
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink_got = Arc::clone(&got);
        let mut open = move |_: u8, c: &Command| -> Option<Box<dyn StoreSink>> {
            assert_eq!(c.field(), Some(CommandField::CStoreRq));
            Some(Box::new(Collect(Arc::clone(&sink_got))))
        };
        let mut seen = 0u64;
        let incoming = read_message(
            &mut &wire[..],
            &mut ReadAhead::default(),
            1 << 20,
            &mut open,
            &mut |n| seen += n,
        )
        .unwrap();
        match incoming {
            Incoming::Stored { context_id, .. } => assert_eq!(context_id, 3),
            Incoming::Message(_) => panic!("the data set went to memory"),
        }
        assert_eq!(&got.lock().unwrap()[..], &data[..]);
        assert!(seen >= 1000 + cmd.len() as u64);

        // Without a sink: in memory.
        match read_message(
            &mut &wire[..],
            &mut ReadAhead::default(),
            1 << 20,
            &mut none(),
            &mut |_| {},
        )
        .unwrap()
        {
            Incoming::Message(m) => assert_eq!(m.data.unwrap(), data),
            Incoming::Stored { .. } => panic!("no sink was given"),
        }
        // Cut short, an absurd item length, a PDU over the agreed size, a release.
        assert!(matches!(
            read_message(
                &mut &wire[..wire.len() - 7],
                &mut ReadAhead::default(),
                1 << 20,
                &mut none(),
                &mut |_| {}
            ),
            Err(ReceiveError::Io(_))
        ));
        let mut bad = pdu(&[pdv(3, 1, a)]);
        bad[6..10].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            read_message(
                &mut &bad[..],
                &mut ReadAhead::default(),
                1 << 20,
                &mut none(),
                &mut |_| {}
            ),
            Err(ReceiveError::Protocol(_))
        ));
        assert!(matches!(
            read_message(
                &mut &wire[..],
                &mut ReadAhead::default(),
                16,
                &mut none(),
                &mut |_| {}
            ),
            Err(ReceiveError::Protocol(_))
        ));
        let release = [A_RELEASE_RQ, 0, 0, 0, 0, 4, 0, 0, 0, 0];
        assert!(matches!(
            read_message(
                &mut &release[..],
                &mut ReadAhead::default(),
                1 << 20,
                &mut none(),
                &mut |_| {}
            ),
            Err(ReceiveError::Released)
        ));
    }

    #[test]
    fn an_endless_command_is_refused_at_its_cap() {
        // Command fragments that never end: refused once past the cap, not buffered forever.
        let fragment = vec![0u8; 16 << 10];
        let mut wire = Vec::new();
        for _ in 0..8 {
            wire.extend(pdu(&[pdv(1, 1, &fragment)]));
        }
        match read_message(
            &mut &wire[..],
            &mut ReadAhead::default(),
            1 << 20,
            &mut none(),
            &mut |_| {},
        ) {
            Err(ReceiveError::Protocol(why)) => assert!(why.contains("command set"), "{why}"),
            Err(e) => panic!("{e:?}"),
            Ok(_) => panic!("an endless command was taken"),
        }
    }
}
