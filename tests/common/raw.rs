//! A hand-built DICOM peer for the hostile-peer tests: association requests, P-DATA PDUs
//! and DIMSE messages written byte by byte, so a test can send what no well-behaved library
//! would (a request trickled a byte at a time, a command that never ends, a data set nested
//! thousands deep, a report nobody asked for).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub const VERIFICATION: &str = "1.2.840.10008.1.1";
pub const STORAGE_COMMITMENT: &str = "1.2.840.10008.1.20.1";
pub const CT_IMAGE: &str = "1.2.840.10008.5.1.4.1.1.2";
pub const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
pub const IMPLICIT_LE: &str = "1.2.840.10008.1.2";

fn item(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![kind, 0];
    v.extend_from_slice(&(body.len() as u16).to_be_bytes());
    v.extend_from_slice(body);
    v
}

fn ae(title: &str) -> [u8; 16] {
    let mut a = [b' '; 16];
    for (i, b) in title.bytes().take(16).enumerate() {
        a[i] = b;
    }
    a
}

/// An A-ASSOCIATE-RQ proposing each abstract syntax (context ids 1, 3, 5...) with `ts`.
pub fn associate_rq(calling: &str, called: &str, abstract_syntaxes: &[&str], ts: &str) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&[0x00, 0x01, 0, 0]);
    body.extend_from_slice(&ae(called));
    body.extend_from_slice(&ae(calling));
    body.extend_from_slice(&[0u8; 32]);
    body.extend(item(0x10, b"1.2.840.10008.3.1.1.1"));
    for (i, sop) in abstract_syntaxes.iter().enumerate() {
        let mut pc = vec![(2 * i + 1) as u8, 0, 0, 0];
        pc.extend(item(0x30, sop.as_bytes()));
        pc.extend(item(0x40, ts.as_bytes()));
        body.extend(item(0x20, &pc));
    }
    let mut user = item(0x51, &(1u32 << 20).to_be_bytes());
    user.extend(item(0x52, b"1.2.826.0.1.3680043.10.999"));
    user.extend(item(0x55, b"HOSTILE_TEST"));
    body.extend(item(0x50, &user));
    let mut pdu = vec![0x01, 0];
    pdu.extend_from_slice(&(body.len() as u32).to_be_bytes());
    pdu.extend(body);
    pdu
}

/// How the acceptor answered an association request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Accepted,
    /// (result, source, reason) of an A-ASSOCIATE-RJ.
    Rejected(u8, u8, u8),
    Closed,
}

/// Reads one PDU: (type, body).
pub fn read_pdu(s: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut h = [0u8; 6];
    s.read_exact(&mut h).ok()?;
    let len = u32::from_be_bytes([h[2], h[3], h[4], h[5]]) as usize;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).ok()?;
    Some((h[0], body))
}

/// Connects and associates; the stream and how the acceptor answered.
pub fn associate(
    port: u16,
    calling: &str,
    called: &str,
    abstract_syntaxes: &[&str],
    ts: &str,
) -> (TcpStream, Answer) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(&associate_rq(calling, called, abstract_syntaxes, ts))
        .expect("send A-ASSOCIATE-RQ");
    let answer = answer_of(&mut s);
    (s, answer)
}

pub fn answer_of(s: &mut TcpStream) -> Answer {
    match read_pdu(s) {
        Some((0x02, _)) => Answer::Accepted,
        Some((0x03, b)) if b.len() >= 4 => Answer::Rejected(b[1], b[2], b[3]),
        _ => Answer::Closed,
    }
}

/// A P-DATA-TF PDU of one PDV item.
pub fn pdata(pc: u8, command: bool, last: bool, bytes: &[u8]) -> Vec<u8> {
    let mut pdv = ((bytes.len() + 2) as u32).to_be_bytes().to_vec();
    pdv.push(pc);
    pdv.push(u8::from(command) | (u8::from(last) << 1));
    pdv.extend_from_slice(bytes);
    let mut pdu = vec![0x04, 0];
    pdu.extend_from_slice(&(pdv.len() as u32).to_be_bytes());
    pdu.extend(pdv);
    pdu
}

/// Sends a whole message: its command, then its data set (if any) in one fragment.
pub fn send_message(s: &mut TcpStream, pc: u8, command: &[u8], data: Option<&[u8]>) -> bool {
    if s.write_all(&pdata(pc, true, true, command)).is_err() {
        return false;
    }
    match data {
        Some(d) => s.write_all(&pdata(pc, false, true, d)).is_ok(),
        None => true,
    }
}

/// The Status (0000,0900) of the next response, if one comes.
pub fn response_status(s: &mut TcpStream) -> Option<u16> {
    let mut command = Vec::new();
    loop {
        let (kind, body) = read_pdu(s)?;
        if kind != 0x04 {
            return None;
        }
        let mut at = 0;
        let mut done = false;
        while at + 6 <= body.len() {
            let len =
                u32::from_be_bytes([body[at], body[at + 1], body[at + 2], body[at + 3]]) as usize;
            let control = body[at + 5];
            let bytes = body.get(at + 6..at + 4 + len)?;
            if control & 1 == 1 {
                command.extend_from_slice(bytes);
                done = control & 2 == 2;
            }
            at += 4 + len;
        }
        if done {
            break;
        }
    }
    // Implicit VR LE: tag (4), length (4), value.
    let mut at = 0;
    while at + 8 <= command.len() {
        let group = u16::from_le_bytes([command[at], command[at + 1]]);
        let element = u16::from_le_bytes([command[at + 2], command[at + 3]]);
        let len = u32::from_le_bytes([
            command[at + 4],
            command[at + 5],
            command[at + 6],
            command[at + 7],
        ]) as usize;
        if (group, element) == (0x0000, 0x0900) && len == 2 {
            return Some(u16::from_le_bytes([command[at + 8], command[at + 9]]));
        }
        at += 8 + len;
    }
    None
}

/// Explicit VR LE: `depth` undefined-length sequences (0040,A730), each one item deep, the
/// innermost holding a Transaction UID: a data set nested `depth` deep.
pub fn nested(depth: usize) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&[0x08, 0x00, 0x95, 0x11, b'U', b'I', 8, 0]);
    v.extend_from_slice(b"1.2.3.4\0");
    for _ in 0..depth {
        v.extend_from_slice(&[0x40, 0x00, 0x30, 0xA7, b'S', b'Q', 0, 0]);
        v.extend_from_slice(&u32::MAX.to_le_bytes());
        v.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
        v.extend_from_slice(&u32::MAX.to_le_bytes());
    }
    v.extend_from_slice(&[0x08, 0x00, 0x50, 0x11, b'U', b'I', 4, 0]);
    v.extend_from_slice(b"1.2\0");
    for _ in 0..depth {
        v.extend_from_slice(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
        v.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
    }
    v
}

/// Peak and current resident memory of a process, in KiB (VmHWM, VmRSS).
pub fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// CPU time a process has used (user + system), in clock ticks.
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name and state.
    n(11) + n(12)
}
