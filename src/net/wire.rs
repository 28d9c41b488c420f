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

/// PDU types (PS3.8 9.3).
const P_DATA_TF: u8 = 0x04;
const A_RELEASE_RQ: u8 = 0x05;
const A_ABORT: u8 = 0x07;

/// The largest data set accepted in one message.
const MAX_DATA_SET: usize = 4 << 30;

fn read_exact(r: &mut impl Read, buf: &mut [u8]) -> Result<(), ReceiveError> {
    r.read_exact(buf).map_err(ReceiveError::Io)
}

/// Appends exactly `len` bytes from `r` to `out`, without zeroing the room first.
fn append(r: &mut impl Read, out: &mut Vec<u8>, len: usize) -> Result<(), ReceiveError> {
    let before = out.len();
    out.reserve(len);
    let got = r
        .by_ref()
        .take(len as u64)
        .read_to_end(out)
        .map_err(ReceiveError::Io)?;
    if got != len {
        out.truncate(before);
        return Err(ReceiveError::Io(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("the connection closed {got} bytes into a {len}-byte fragment"),
        )));
    }
    Ok(())
}

/// Reads one whole message: its command, and its data set appended to what `head` returns for
/// the command (and its presentation context). Also returns the length of that head.
/// `max_pdu` is the largest PDU this side agreed to receive.
pub(crate) fn read_message(
    r: &mut impl Read,
    max_pdu: u32,
    head: &mut dyn FnMut(u8, &Command) -> Vec<u8>,
) -> Result<(Message, usize), ReceiveError> {
    let mut command_bytes = Vec::new();
    let mut command: Option<Command> = None;
    let mut data = Vec::new();
    let mut head_len = 0usize;
    let mut context_id = 0u8;
    loop {
        let mut pdu = [0u8; 6];
        read_exact(r, &mut pdu)?;
        let len = u32::from_be_bytes([pdu[2], pdu[3], pdu[4], pdu[5]]);
        match pdu[0] {
            P_DATA_TF => {}
            A_RELEASE_RQ | A_ABORT => {
                // Their 4 reserved bytes (or the abort's source and reason).
                let mut rest = [0u8; 4];
                let _ = r.read_exact(&mut rest);
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
        // The PDU's fragments (PDV items), each: length, context id, control header, bytes.
        let mut left = len as usize;
        while left > 0 {
            let mut item = [0u8; 6];
            if left < item.len() {
                return Err(ReceiveError::Protocol("a PDV item cut short".into()));
            }
            read_exact(r, &mut item)?;
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
            match (&command, is_command) {
                (None, true) => {
                    context_id = pc;
                    append(r, &mut command_bytes, bytes)?;
                    if is_last {
                        let c = Command::decode(&command_bytes).map_err(ReceiveError::Protocol)?;
                        if !c.has_data_set() {
                            if left > 0 {
                                return Err(ReceiveError::Protocol(
                                    "bytes after a complete message in its PDU".into(),
                                ));
                            }
                            return Ok((
                                Message {
                                    context_id,
                                    command: c,
                                    data: None,
                                },
                                0,
                            ));
                        }
                        data = head(context_id, &c);
                        head_len = data.len();
                        command = Some(c);
                    }
                }
                (Some(_), false) => {
                    if pc != context_id {
                        return Err(ReceiveError::Protocol(format!(
                            "data set on presentation context {pc} for a command on {context_id}"
                        )));
                    }
                    if data.len() - head_len + bytes > MAX_DATA_SET {
                        return Err(ReceiveError::Protocol(format!(
                            "a data set larger than {} GiB",
                            MAX_DATA_SET >> 30
                        )));
                    }
                    append(r, &mut data, bytes)?;
                    if is_last {
                        if left > 0 {
                            return Err(ReceiveError::Protocol(
                                "bytes after a complete message in its PDU".into(),
                            ));
                        }
                        let command = command.take().unwrap_or_default();
                        return Ok((
                            Message {
                                context_id,
                                command,
                                data: Some(data),
                            },
                            head_len,
                        ));
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

    #[test]
    fn fragments_land_after_the_head_and_damage_is_refused() {
        let cmd = Command::store("1.2.840.10008.5.1.4.1.1.2", "1.2.3", 5).encode();
        let (a, b) = cmd.split_at(10);
        let data: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let mut wire = pdu(&[pdv(3, 1, a)]);
        wire.extend(pdu(&[pdv(3, 3, b), pdv(3, 0, &data[..600])]));
        wire.extend(pdu(&[pdv(3, 2, &data[600..])]));
        let mut head = |_: u8, c: &Command| {
            assert_eq!(c.field(), Some(CommandField::CStoreRq));
            b"HEAD".to_vec()
        };
        let (msg, head_len) = read_message(&mut &wire[..], 1 << 20, &mut head).unwrap();
        assert_eq!(head_len, 4);
        let got = msg.data.unwrap();
        assert_eq!(&got[..4], b"HEAD");
        assert_eq!(&got[4..], &data[..]);
        assert_eq!(msg.context_id, 3);

        let mut none = |_: u8, _: &Command| Vec::new();
        // Cut short, an absurd item length, a PDU over the agreed size, a release.
        assert!(matches!(
            read_message(&mut &wire[..wire.len() - 7], 1 << 20, &mut none),
            Err(ReceiveError::Io(_))
        ));
        let mut bad = pdu(&[pdv(3, 1, a)]);
        bad[6..10].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            read_message(&mut &bad[..], 1 << 20, &mut none),
            Err(ReceiveError::Protocol(_))
        ));
        assert!(matches!(
            read_message(&mut &wire[..], 16, &mut none),
            Err(ReceiveError::Protocol(_))
        ));
        let release = [A_RELEASE_RQ, 0, 0, 0, 0, 4, 0, 0, 0, 0];
        assert!(matches!(
            read_message(&mut &release[..], 1 << 20, &mut none),
            Err(ReceiveError::Released)
        ));
    }
}
