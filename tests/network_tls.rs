//! DICOM over TLS against DCMTK: qcdesk sends to `storescp +tls` and receives from
//! `storescu +tls`, each side checking the other's certificate against a CA made here with
//! openssl; a certificate from another CA is refused with a clear error.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::peers::*;
use common::*;

/// A CA and a certificate it signs for 127.0.0.1/localhost (server and client use).
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki { dir };
        pki.ca("ca");
        pki.ca("other-ca");
        pki.leaf("server", "ca");
        pki.leaf("client", "ca");
        pki.leaf("stranger", "other-ca");
        pki
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn s(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new(require_tool("openssl"))
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("openssl");
        assert!(out.status.success(), "openssl {args:?}: {}", stderr(&out));
    }

    fn ca(&self, name: &str) {
        self.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-subj",
            &format!("/CN=qcdesk test {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
    }

    fn leaf(&self, name: &str, ca: &str) {
        self.openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            "/CN=localhost",
        ]);
        std::fs::write(
            self.path(&format!("{name}.ext")),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n",
        )
        .unwrap();
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            &format!("{name}.pem"),
            "-extfile",
            &format!("{name}.ext"),
        ]);
    }
}

fn tls_storescp(pki: &Pki, port: u16, out: &Path) -> Proc {
    std::fs::create_dir_all(out).unwrap();
    let child = Command::new(require_tool("storescp"))
        .env("TCP_NODELAY", "1")
        .args([
            "-aet",
            "TLSARCH",
            "+tls",
            &pki.s("server.key"),
            &pki.s("server.pem"),
        ])
        .args(["-pw", "+cf", &pki.s("ca.pem"), "-od"])
        .arg(out)
        .arg(port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("storescp +tls");
    wait_port(port, "storescp +tls");
    Proc {
        child: Some(child),
        name: "storescp".into(),
    }
}

#[test]
fn send_over_tls_to_storescp_and_a_wrong_ca_is_refused_clearly() {
    let pki = Pki::new();
    let ws = tempfile::tempdir().unwrap();
    let file = pydicom_dir().join("test_files").join("CT_small.dcm");
    qcdesk_json(
        ws.path(),
        &["import", &file.display().to_string(), "--json"],
    );
    let out = tempfile::tempdir().unwrap();
    let port = free_port();
    let _scp = tls_storescp(&pki, port, out.path());
    let address = format!("TLSARCH@127.0.0.1:{port}");
    add_tls_archive(&pki, ws.path(), "secure", &address, "ca.pem");
    let out_json = qcdesk(
        ws.path(),
        &["send", "1", "--force", "--node", "secure", "--json"],
    );
    assert!(out_json.status.success(), "{}", stderr(&out_json));
    let json: serde_json::Value = serde_json::from_slice(&out_json.stdout).unwrap();
    assert_eq!(json[0]["sent"], 1, "{json:#}");
    assert_eq!(
        files_under(out.path()).len(),
        1,
        "storescp stored it over TLS"
    );

    // A node whose certificate does not chain to the CA qcdesk was given: refused, said so.
    config(ws.path(), "[send]\nretries = 1\n");
    add_tls_archive(&pki, ws.path(), "spoofed", &address, "other-ca.pem");
    let out = qcdesk(
        ws.path(),
        &["send", "1", "--force", "--node", "spoofed", "--json"],
    );
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let e = json[0]["error"].as_str().unwrap();
    assert!(e.contains("TLS") && e.contains("handshake failed"), "{e}");
    assert!(
        e.contains("UnknownIssuer") || e.contains("certificate"),
        "{e}"
    );
    // A TLS node without its CA file is refused when added.
    let out = qcdesk(
        ws.path(),
        &["node", "add", "bad", &address, "--role", "archive", "--tls"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--tls-ca"), "{}", stderr(&out));
}

/// Adds a TLS archive node trusting `ca` and presenting qcdesk's client certificate.
fn add_tls_archive(pki: &Pki, ws: &Path, name: &str, address: &str, ca: &str) {
    let add = qcdesk(
        ws,
        &[
            "node",
            "add",
            name,
            address,
            "--role",
            "archive",
            "--tls",
            "--tls-ca",
            &pki.s(ca),
            "--tls-cert",
            &pki.s("client.pem"),
            "--tls-key",
            &pki.s("client.key"),
        ],
    );
    assert!(add.status.success(), "{}", stderr(&add));
}

fn config(ws: &Path, text: &str) {
    std::fs::write(ws.join("config.toml"), text).unwrap();
}

#[test]
fn listen_over_tls_takes_storescu_and_refuses_a_stranger_certificate() {
    let pki = Pki::new();
    let ws = tempfile::tempdir().unwrap();
    let tls_port = free_port();
    config(
        ws.path(),
        &format!(
            "[receiver]\ntls_port = {tls_port}\ntls_cert = \"{}\"\ntls_key = \"{}\"\ntls_ca = \"{}\"\n",
            pki.s("server.pem"),
            pki.s("server.key"),
            pki.s("ca.pem")
        ),
    );
    let port = free_port();
    let mut l = listen(ws.path(), port, None);
    wait_port(tls_port, "qcdesk listen (TLS)");
    let file = pydicom_dir().join("test_files").join("CT_small.dcm");
    let storescu = |cert: &str| {
        Command::new(require_tool("storescu"))
            .env("TCP_NODELAY", "1")
            .args(["-aet", "TLSMOD", "-aec", "QCDESK"])
            .args([
                "+tls",
                &pki.s(&format!("{cert}.key")),
                &pki.s(&format!("{cert}.pem")),
            ])
            .args([
                "-pw",
                "+cf",
                &pki.s("ca.pem"),
                "127.0.0.1",
                &tls_port.to_string(),
            ])
            .arg(&file)
            .output()
            .unwrap()
    };
    let ok = storescu("client");
    assert!(ok.status.success(), "{}", stderr(&ok));
    let refused = storescu("stranger");
    assert!(
        !refused.status.success(),
        "a certificate from another CA was accepted"
    );
    assert!(l.alive());
    l.kill();
    let queue = qcdesk_json(ws.path(), &["queue", "--json"]);
    assert_eq!(queue.as_array().unwrap().len(), 1, "{queue:#}");
    assert_eq!(queue[0]["source"], "TLSMOD");
}
