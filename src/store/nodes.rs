//! The DICOM nodes table and the workspace's own AE title: what `qcdesk node ...` and the
//! desk's settings edit.

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};
use crate::fsutil;
use crate::model::{DicomNode, NodeRole};

/// Checks an AE title: 1–16 characters of printable ASCII, no backslash, not only spaces.
pub fn validate_ae_title(ae: &str) -> Result<(), String> {
    let t = ae.trim();
    if t.is_empty() {
        return Err("an AE title cannot be empty".into());
    }
    if t.len() > 16 {
        return Err(format!("AE title '{t}' is longer than 16 characters"));
    }
    if let Some(c) = t
        .chars()
        .find(|c| !c.is_ascii() || c.is_ascii_control() || *c == '\\')
    {
        return Err(format!(
            "AE title '{t}' contains '{}', which DICOM does not allow",
            c.escape_default()
        ));
    }
    Ok(())
}

/// Reads `AET@HOST:PORT` (`[::1]` for an IPv6 host).
pub fn parse_ae_address(text: &str) -> Result<(String, String, u16), String> {
    let bad = |why: &str| {
        format!("bad node address '{text}': {why} (expected AET@HOST:PORT, e.g. PACS@10.0.0.5:104)")
    };
    let (ae, rest) = text.split_once('@').ok_or_else(|| bad("no '@'"))?;
    validate_ae_title(ae).map_err(|e| bad(&e))?;
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (h, p) = v6
            .split_once("]:")
            .ok_or_else(|| bad("no port after the IPv6 host"))?;
        (h, p)
    } else {
        rest.rsplit_once(':').ok_or_else(|| bad("no ':PORT'"))?
    };
    if host.trim().is_empty() {
        return Err(bad("no host"));
    }
    let port: u16 = port
        .trim()
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| bad(&format!("port '{port}' is not a number from 1 to 65535")))?;
    Ok((ae.trim().to_string(), host.trim().to_string(), port))
}

fn check_name(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Node(format!(
            "bad node name '{name}': use 1–32 letters, digits, '-', '_' or '.'"
        )))
    }
}

fn node_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DicomNode> {
    let role: String = r.get(4)?;
    Ok(DicomNode {
        name: r.get(0)?,
        ae_title: r.get(1)?,
        host: r.get(2)?,
        port: r.get::<_, i64>(3)?.clamp(0, 65535) as u16,
        role: NodeRole::parse(&role).unwrap_or(NodeRole::Source),
        tls: r.get(5)?,
        calling_ae: r.get(6)?,
        embedded: r.get(7)?,
        tls_ca: r.get(8)?,
        tls_cert: r.get(9)?,
        tls_key: r.get(10)?,
    })
}

const NODE_COLUMNS: &str =
    "name, ae_title, host, port, role, tls, calling_ae, embedded, tls_ca, tls_cert, tls_key";

/// A TLS node names the CA file its certificate must chain to; a certificate comes with its
/// key. Files that are not there are named now, not at the first send.
fn check_tls(node: &DicomNode) -> Result<(), StoreError> {
    let bad = |why: String| Err(StoreError::Node(format!("node '{}': {why}", node.name)));
    if !node.tls {
        return Ok(());
    }
    if node.tls_ca.trim().is_empty() {
        return bad("TLS needs the CA file that signs the node's certificate (--tls-ca)".into());
    }
    if node.tls_cert.trim().is_empty() != node.tls_key.trim().is_empty() {
        return bad("a TLS certificate needs its private key, and a key its certificate".into());
    }
    for f in [&node.tls_ca, &node.tls_cert, &node.tls_key] {
        if !f.trim().is_empty() && !std::path::Path::new(f.trim()).is_file() {
            return bad(format!("no such file: {f}"));
        }
    }
    Ok(())
}

impl Store {
    /// Adds a node, or replaces the one of the same name.
    pub fn put_node(&mut self, node: &DicomNode) -> Result<(), StoreError> {
        check_name(&node.name)?;
        validate_ae_title(&node.ae_title).map_err(StoreError::Node)?;
        if !node.calling_ae.trim().is_empty() {
            validate_ae_title(&node.calling_ae).map_err(StoreError::Node)?;
        }
        if node.host.trim().is_empty() {
            return Err(StoreError::Node(format!(
                "node '{}' has no host",
                node.name
            )));
        }
        if node.port == 0 && node.embedded.is_empty() {
            return Err(StoreError::Node(format!(
                "node '{}' has no port",
                node.name
            )));
        }
        check_tls(node)?;
        let (now, _) = fsutil::now();
        self.in_transaction(|tx| {
            tx.execute(
                &format!(
                    "INSERT INTO nodes ({NODE_COLUMNS}, added_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                     ON CONFLICT(name) DO UPDATE SET ae_title = excluded.ae_title, host = excluded.host,
                       port = excluded.port, role = excluded.role, tls = excluded.tls,
                       calling_ae = excluded.calling_ae, embedded = excluded.embedded,
                       tls_ca = excluded.tls_ca, tls_cert = excluded.tls_cert,
                       tls_key = excluded.tls_key"
                ),
                params![
                    node.name,
                    node.ae_title.trim(),
                    node.host.trim(),
                    node.port,
                    node.role.as_str(),
                    node.tls,
                    node.calling_ae.trim(),
                    node.embedded,
                    node.tls_ca.trim(),
                    node.tls_cert.trim(),
                    node.tls_key.trim(),
                    now
                ],
            )?;
            Ok(())
        })
    }

    /// Removes a node; an unknown name is an error naming it.
    pub fn remove_node(&mut self, name: &str) -> Result<(), StoreError> {
        let n =
            self.in_transaction(|tx| Ok(tx.execute("DELETE FROM nodes WHERE name = ?1", [name])?))?;
        if n == 0 {
            return Err(self.unknown_node(name));
        }
        Ok(())
    }

    pub fn nodes(&self) -> Result<Vec<DicomNode>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {NODE_COLUMNS} FROM nodes ORDER BY role, name"
        ))?;
        let rows = stmt.query_map([], node_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn node(&self, name: &str) -> Result<DicomNode, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {NODE_COLUMNS} FROM nodes WHERE name = ?1"),
                [name],
                node_from_row,
            )
            .optional()?
            .ok_or_else(|| self.unknown_node(name))
    }

    fn unknown_node(&self, name: &str) -> StoreError {
        let known: Vec<String> = self
            .nodes()
            .unwrap_or_default()
            .into_iter()
            .map(|n| n.name)
            .collect();
        StoreError::Node(if known.is_empty() {
            format!("no node named '{name}' (none configured; add one with `qcdesk node add`)")
        } else {
            format!("no node named '{name}' (known: {})", known.join(", "))
        })
    }

    /// The node a command should talk to: `name` if given, else the one node of `role`.
    pub fn node_for(&self, role: NodeRole, name: Option<&str>) -> Result<DicomNode, StoreError> {
        if let Some(name) = name {
            return self.node(name);
        }
        let of_role: Vec<DicomNode> = self
            .nodes()?
            .into_iter()
            .filter(|n| n.role == role)
            .collect();
        match of_role.len() {
            1 => Ok(of_role.into_iter().next().expect("one node")),
            0 => Err(StoreError::Node(format!(
                "no {} node configured; add one with `qcdesk node add NAME AET@HOST:PORT --role {}`",
                role.as_str(),
                role.as_str()
            ))),
            _ => Err(StoreError::Node(format!(
                "{} {} nodes ({}); choose one with --node NAME",
                of_role.len(),
                role.as_str(),
                of_role
                    .iter()
                    .map(|n| n.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// The AE title qcdesk presents (and listens as).
    pub fn local_ae_title(&self) -> Result<String, StoreError> {
        Ok(self
            .setting("local_ae_title")?
            .unwrap_or_else(|| crate::config::DEFAULT_AE_TITLE.to_string()))
    }

    pub fn set_local_ae_title(&mut self, ae: &str) -> Result<(), StoreError> {
        validate_ae_title(ae).map_err(StoreError::Node)?;
        self.set_setting("local_ae_title", ae.trim())
    }

    /// The port qcdesk listens on (`qcdesk listen`, the desk's receiver; the port archives
    /// send Storage Commitment reports to). Default 11112.
    pub fn local_port(&self) -> Result<u16, StoreError> {
        Ok(self
            .setting("local_port")?
            .and_then(|p| p.parse().ok())
            .unwrap_or(11112))
    }

    pub fn set_local_port(&mut self, port: u16) -> Result<(), StoreError> {
        if port == 0 {
            return Err(StoreError::Node("the port must be from 1 to 65535".into()));
        }
        self.set_setting("local_port", &port.to_string())
    }

    pub(crate) fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub(crate) fn set_setting(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.in_transaction(|tx| {
            tx.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [key, value],
            )?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_read_or_refused_with_the_reason() {
        assert_eq!(
            parse_ae_address("PACS@10.0.0.5:104").unwrap(),
            ("PACS".into(), "10.0.0.5".into(), 104)
        );
        assert_eq!(
            parse_ae_address("RIS@[::1]:11112").unwrap(),
            ("RIS".into(), "::1".into(), 11112)
        );
        for (bad, why) in [
            ("PACS10.0.0.5:104", "no '@'"),
            ("PACS@10.0.0.5", "no ':PORT'"),
            ("PACS@host:0", "not a number from 1 to 65535"),
            ("PACS@host:99999", "not a number"),
            ("@host:104", "cannot be empty"),
            ("WAY_TOO_LONG_AE_TITLE@h:1", "longer than 16"),
            ("A\\B@h:1", "does not allow"),
        ] {
            let e = parse_ae_address(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
