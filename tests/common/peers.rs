//! Network peers started by the tests on 127.0.0.1: DCMTK's storescp, Orthanc as the archive,
//! `qcdesk listen` itself; each stopped (killed) when dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{bin, require_tool};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Waits until something accepts connections on `port`.
pub fn wait_port(port: u16, what: &str) {
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{what} did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child process killed when dropped.
pub struct Proc {
    pub child: Option<Child>,
    pub name: String,
}

impl Proc {
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        unsafe {
            libc::kill(c.id() as i32, libc::SIGTERM);
        }
        c.wait().expect("wait")
    }

    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// DCMTK storescp writing into `dir`; `all_syntaxes` adds `+xa` (else uncompressed only).
pub fn storescp(ae: &str, port: u16, dir: &Path, all_syntaxes: bool, nodelay: bool) -> Proc {
    std::fs::create_dir_all(dir).unwrap();
    let mut cmd = Command::new(require_tool("storescp"));
    if nodelay {
        cmd.env("TCP_NODELAY", "1");
    } else {
        cmd.env_remove("TCP_NODELAY");
    }
    cmd.args(["-aet", ae, "-od"]).arg(dir);
    if all_syntaxes {
        cmd.arg("+xa");
    }
    let child = cmd
        .arg(port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start storescp");
    wait_port(port, "storescp");
    Proc {
        child: Some(child),
        name: "storescp".into(),
    }
}

/// `qcdesk --workspace WS listen --port PORT [--ae AE]`.
pub fn listen(ws: &Path, port: u16, ae: Option<&str>) -> Proc {
    let mut cmd = Command::new(bin());
    cmd.arg("--workspace")
        .arg(ws)
        .args(["listen", "--port", &port.to_string()]);
    if let Some(ae) = ae {
        cmd.args(["--ae", ae]);
    }
    let child = cmd
        .env_remove("QCDESK_WORKSPACE")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start qcdesk listen");
    wait_port(port, "qcdesk listen");
    Proc {
        child: Some(child),
        name: "qcdesk listen".into(),
    }
}

/// Orthanc as the archive: its own storage in a temp folder, DICOM and HTTP on free ports,
/// qcdesk known as a modality at `qcdesk_port` (for Storage Commitment reports).
pub struct Orthanc {
    pub dir: tempfile::TempDir,
    pub http: u16,
    pub dicom: u16,
    pub proc: Proc,
}

impl Orthanc {
    pub fn start(qcdesk_port: u16) -> Orthanc {
        let dir = tempfile::tempdir().unwrap();
        let (http, dicom) = (free_port(), free_port());
        let config = serde_json::json!({
            "Name": "qcdesk-test",
            "StorageDirectory": dir.path().join("db"),
            "IndexDirectory": dir.path().join("db"),
            "HttpPort": http,
            "RemoteAccessAllowed": false,
            "AuthenticationEnabled": false,
            "DicomAet": "ARCHIVE",
            "DicomPort": dicom,
            "DicomCheckCalledAet": false,
            "DicomAlwaysAllowEcho": true,
            "DicomAlwaysAllowStore": true,
            "UnknownSopClassAccepted": true,
            "OverwriteInstances": true,
            "SaveJobs": false,
            "DicomModalities": {
                "qcdesk": {
                    "AET": "QCDESK", "Host": "127.0.0.1", "Port": qcdesk_port,
                    "AllowStorageCommitment": true, "AllowFind": true
                }
            },
            "Plugins": []
        });
        let path = dir.path().join("orthanc.json");
        std::fs::write(&path, config.to_string()).unwrap();
        let child = Command::new(require_tool("Orthanc"))
            .arg(&path)
            .env("TCP_NODELAY", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Orthanc");
        let o = Orthanc {
            dir,
            http,
            dicom,
            proc: Proc {
                child: Some(child),
                name: "Orthanc".into(),
            },
        };
        wait_port(http, "Orthanc (HTTP)");
        wait_port(dicom, "Orthanc (DICOM)");
        o
    }

    /// An HTTP request to the REST API; the body parsed as JSON.
    pub fn rest(&self, method: &str, path: &str, body: &str) -> serde_json::Value {
        let mut s = TcpStream::connect(("127.0.0.1", self.http)).expect("Orthanc HTTP");
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8_lossy(&raw).to_string();
        let (head, body) = text.split_once("\r\n\r\n").expect("HTTP answer");
        assert!(head.contains(" 200 "), "{method} {path}: {head}");
        // Chunked answers: take the JSON between the chunk sizes.
        let json = if head.to_ascii_lowercase().contains("chunked") {
            let mut out = String::new();
            let mut rest = body;
            while let Some((size, after)) = rest.split_once("\r\n") {
                let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                if n == 0 {
                    break;
                }
                out.push_str(&after[..n]);
                rest = after[n..].trim_start_matches("\r\n");
            }
            out
        } else {
            body.to_string()
        };
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{path}: {e}: {json}"))
    }

    pub fn get(&self, path: &str) -> serde_json::Value {
        self.rest("GET", path, "")
    }
}

/// Copies of a Part 10 file as `n` instances of one study: its SOP Instance UID replaced by
/// one of the same length per copy (meta group and data set alike).
pub fn instances_of(file: &Path, n: usize, out: &Path) -> Vec<PathBuf> {
    let bytes = std::fs::read(file).unwrap();
    let obj = dicom_object::open_file(file).unwrap();
    let uid = obj.meta().media_storage_sop_instance_uid().to_string();
    let stem = &uid[..uid.len() - 5];
    std::fs::create_dir_all(out).unwrap();
    (0..n)
        .map(|i| {
            let new = format!("{stem}{:05}", 90000 + i);
            let copy = replace_all(&bytes, uid.as_bytes(), new.as_bytes());
            let p = out.join(format!("{i:04}.dcm"));
            std::fs::write(&p, copy).unwrap();
            p
        })
        .collect()
}

fn replace_all(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut out = hay.to_vec();
    let mut i = 0;
    while i + from.len() <= out.len() {
        if &out[i..i + from.len()] == from {
            out[i..i + from.len()].copy_from_slice(to);
            i += from.len();
        } else {
            i += 1;
        }
    }
    out
}

/// The data set bytes of a Part 10 file (after its meta group).
pub fn dataset_of(bytes: &[u8]) -> &[u8] {
    assert_eq!(&bytes[128..132], b"DICM", "not a Part 10 file");
    let len = u32::from_le_bytes(bytes[140..144].try_into().unwrap()) as usize;
    &bytes[144 + len..]
}

/// A file's transfer syntax UID, read by dicom-rs.
pub fn ts_of(path: &Path) -> String {
    let obj = dicom_object::OpenFileOptions::new()
        .read_until(dicom_dictionary_std::tags::PIXEL_DATA)
        .open_file(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    obj.meta()
        .transfer_syntax()
        .trim_end_matches('\0')
        .to_string()
}
