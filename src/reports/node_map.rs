//! The node map: every DICOM node qcdesk has met, drawn left to right (senders → qcdesk →
//! archives and RIS), as Graphviz DOT or as an SVG laid out here (three columns). Edge width
//! follows the studies a sender sent, its colour the share of them that were exceptions.

use std::fmt::Write as _;

use serde::Serialize;

use crate::model::{DicomNode, NodeRole};
use crate::store::{PeerCounts, Sender, Store, StoreError};

/// qcdesk itself on the map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Local {
    pub ae_title: String,
    pub port: u16,
}

/// Everything on the map.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeMap {
    pub local: Local,
    /// Configured nodes (`qcdesk node add`).
    pub nodes: Vec<DicomNode>,
    /// Peers of associations, in or out.
    pub peers: Vec<PeerCounts>,
    /// Senders as their files describe them.
    pub senders: Vec<Sender>,
}

/// Reads the map from the store.
pub fn node_map(store: &Store) -> Result<NodeMap, StoreError> {
    Ok(NodeMap {
        local: Local {
            ae_title: store.local_ae_title()?,
            port: store.local_port()?,
        },
        nodes: store.nodes()?,
        peers: merge_ports(store.peer_counts()?),
        senders: store.senders()?,
    })
}

/// The host of a peer address: `host:port`, `[v6]:port`, or a bare host or IPv6 address.
fn peer_host(address: &str) -> &str {
    if let Some(rest) = address.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match address.split_once(':') {
        // One colon: host and port. More: a bare IPv6 address.
        Some((host, port)) if !port.contains(':') => host,
        _ => address,
    }
}

/// One peer per AE title and host: the addresses an archive's outgoing associations come
/// from carry ephemeral ports, and each would otherwise stand as a node of its own.
pub fn merge_ports(peers: Vec<PeerCounts>) -> Vec<PeerCounts> {
    // The store counts a host-only address's associations over every port of that host (a
    // superset of its host:port rows); rows with ports count their own.
    let mut out: Vec<(PeerCounts, bool)> = Vec::new();
    for p in peers {
        let host = peer_host(&p.ae.address).to_string();
        let host_row = host == p.ae.address;
        match out
            .iter_mut()
            .find(|(o, _)| o.ae.ae_title == p.ae.ae_title && o.ae.address == host)
        {
            Some((o, o_host_row)) => {
                match (*o_host_row, host_row) {
                    (true, _) => {}
                    (false, true) => {
                        o.instances = p.instances;
                        o.failures = p.failures;
                        *o_host_row = true;
                    }
                    (false, false) => {
                        o.instances += p.instances;
                        o.failures += p.failures;
                    }
                }
                o.ae.associations += p.ae.associations;
                if p.ae.last_seen > o.ae.last_seen {
                    o.ae.last_seen = p.ae.last_seen.clone();
                    o.ae.implementation_version = p.ae.implementation_version.clone();
                    o.ae.implementation_class_uid = p.ae.implementation_class_uid.clone();
                }
                if p.ae.first_seen < o.ae.first_seen {
                    o.ae.first_seen = p.ae.first_seen.clone();
                }
            }
            None => {
                let mut p = p;
                p.ae.address = host;
                out.push((p, host_row));
            }
        }
    }
    out.into_iter().map(|(p, _)| p).collect()
}

/// The network counts of a configured node: its AE title met on its host.
pub fn node_peer<'a>(m: &'a NodeMap, n: &DicomNode) -> Option<&'a PeerCounts> {
    m.peers
        .iter()
        .find(|p| p.ae.ae_title == n.ae_title && (p.ae.address == n.host || n.host.is_empty()))
        .or_else(|| m.peers.iter().find(|p| p.ae.ae_title == n.ae_title))
}

/// A colour from green (no exceptions) to red (all of them).
fn rate_colour(rate: f64) -> String {
    let r = rate.clamp(0.0, 1.0);
    format!(
        "#{:02x}{:02x}{:02x}",
        (40.0 + 200.0 * r) as u8,
        (160.0 * (1.0 - r) + 40.0) as u8,
        60
    )
}

fn width(studies: i64) -> f64 {
    1.0 + (1.0 + studies.max(0) as f64).ln()
}

/// Escapes text inside a DOT double-quoted string.
fn dot_esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', " ")
}

fn or_unknown(s: &str) -> &str {
    if s.trim().is_empty() { "?" } else { s.trim() }
}

fn sender_lines(s: &Sender) -> Vec<String> {
    let mut lines = vec![or_unknown(&s.source_ae).to_string()];
    if !s.station_name.is_empty() {
        lines.push(format!("station {}", s.station_name));
    }
    let device = format!("{} {}", s.manufacturer, s.model);
    if !device.trim().is_empty() {
        lines.push(device.trim().to_string());
    }
    if !s.software_versions.is_empty() {
        lines.push(format!("software {}", s.software_versions));
    }
    lines.push(format!("impl {}", or_unknown(&s.implementation_version)));
    lines
}

fn node_lines(n: &DicomNode) -> Vec<String> {
    vec![
        n.name.clone(),
        format!("{}@{}:{}", n.ae_title, n.host, n.port),
        match n.role {
            NodeRole::Archive => "archive".to_string(),
            NodeRole::Ris => "RIS".to_string(),
            NodeRole::Source => "source".to_string(),
        },
    ]
}

/// Peers that are neither a configured node nor a sender's AE title.
pub fn other_peers(m: &NodeMap) -> Vec<&PeerCounts> {
    m.peers
        .iter()
        .filter(|p| {
            !m.nodes.iter().any(|n| n.ae_title == p.ae.ae_title)
                && !m.senders.iter().any(|s| s.source_ae == p.ae.ae_title)
        })
        .collect()
}

/// The map as a Graphviz digraph.
pub fn to_dot(m: &NodeMap) -> String {
    let mut d = String::from(
        "digraph qcdesk {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n",
    );
    let _ = writeln!(
        d,
        "  qcdesk [label=\"{}\\nqcdesk :{}\", shape=box3d, style=bold];",
        dot_esc(&m.local.ae_title),
        m.local.port
    );
    for (i, s) in m.senders.iter().enumerate() {
        let label = sender_lines(s)
            .iter()
            .map(|l| dot_esc(l))
            .collect::<Vec<_>>()
            .join("\\n");
        let _ = writeln!(
            d,
            "  s{i} [label=\"{label}\", tooltip=\"{} studies, {} instances, {} exceptions; implementation {}\"];",
            s.studies,
            s.instances,
            s.exceptions,
            dot_esc(&s.implementation_class_uid)
        );
        let _ = writeln!(
            d,
            "  s{i} -> qcdesk [label=\"{} studies, {:.0}% exceptions\", penwidth={:.2}, color=\"{}\"];",
            s.studies,
            s.exception_rate * 100.0,
            width(s.studies),
            rate_colour(s.exception_rate)
        );
    }
    for (i, n) in m.nodes.iter().enumerate() {
        let label = node_lines(n)
            .iter()
            .map(|l| dot_esc(l))
            .collect::<Vec<_>>()
            .join("\\n");
        let _ = writeln!(d, "  n{i} [label=\"{label}\"];");
        match n.role {
            NodeRole::Source => {
                let _ = writeln!(d, "  n{i} -> qcdesk [style=dashed];");
            }
            _ => {
                let _ = writeln!(d, "  qcdesk -> n{i};");
            }
        }
    }
    for (i, p) in other_peers(m).into_iter().enumerate() {
        let _ = writeln!(
            d,
            "  p{i} [label=\"{}\\n{}\\nimpl {}\", tooltip=\"{} associations, {} instances, {} failed\"];",
            dot_esc(&p.ae.ae_title),
            dot_esc(&p.ae.address),
            dot_esc(or_unknown(&p.ae.implementation_version)),
            p.ae.associations,
            p.instances,
            p.failures
        );
        let _ = writeln!(d, "  p{i} -> qcdesk [style=dotted];");
    }
    d.push_str("}\n");
    d
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The map as SVG: senders left, qcdesk in the middle, configured nodes and other peers right.
pub fn to_svg(m: &NodeMap) -> String {
    const BOX_W: f64 = 220.0;
    const LINE: f64 = 13.0;
    const GAP: f64 = 14.0;
    let (x_left, x_mid, x_right) = (10.0, 320.0, 560.0);
    let column = |boxes: &[Vec<String>]| -> Vec<(f64, f64)> {
        let mut y = 10.0;
        boxes
            .iter()
            .map(|lines| {
                let h = 8.0 + LINE * lines.len() as f64;
                let at = (y, h);
                y += h + GAP;
                at
            })
            .collect()
    };
    let left: Vec<Vec<String>> = m.senders.iter().map(sender_lines).collect();
    let mut right: Vec<Vec<String>> = m.nodes.iter().map(node_lines).collect();
    let others = other_peers(m);
    right.extend(others.iter().map(|p| {
        vec![
            p.ae.ae_title.clone(),
            p.ae.address.clone(),
            format!("impl {}", or_unknown(&p.ae.implementation_version)),
        ]
    }));
    let (lpos, rpos) = (column(&left), column(&right));
    let height = lpos
        .iter()
        .chain(&rpos)
        .map(|(y, h)| y + h)
        .fold(80.0f64, f64::max)
        + 10.0;
    let mid = (height / 2.0 - 20.0, 40.0);
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {height}" font-family="sans-serif" font-size="11">"#,
        x_right + BOX_W + 10.0
    );
    let draw_box = |s: &mut String, x: f64, (y, h): (f64, f64), lines: &[String], tip: &str| {
        let _ = write!(
            s,
            r#"<g><title>{}</title><rect x="{x}" y="{y}" width="{BOX_W}" height="{h}" rx="4" fill="white" stroke="black"/>"#,
            xml(tip)
        );
        for (i, l) in lines.iter().enumerate() {
            let _ = write!(
                s,
                r#"<text x="{}" y="{}"{}>{}</text>"#,
                x + 6.0,
                y + 4.0 + LINE * (i as f64 + 1.0) - 2.0,
                if i == 0 { r#" font-weight="bold""# } else { "" },
                xml(l)
            );
        }
        s.push_str("</g>");
    };
    for ((sd, lines), pos) in m.senders.iter().zip(&left).zip(&lpos) {
        let _ = write!(
            s,
            r#"<line x1="{}" y1="{}" x2="{x_mid}" y2="{}" stroke="{}" stroke-width="{:.1}"/>"#,
            x_left + BOX_W,
            pos.0 + pos.1 / 2.0,
            mid.0 + mid.1 / 2.0,
            rate_colour(sd.exception_rate),
            width(sd.studies)
        );
        let tip = format!(
            "{} studies, {} instances, {:.0}% exceptions",
            sd.studies,
            sd.instances,
            sd.exception_rate * 100.0
        );
        draw_box(&mut s, x_left, *pos, lines, &tip);
    }
    for pos in &rpos {
        let _ = write!(
            s,
            r#"<line x1="{}" y1="{}" x2="{x_right}" y2="{}" stroke="gray"/>"#,
            x_mid + BOX_W,
            mid.0 + mid.1 / 2.0,
            pos.0 + pos.1 / 2.0
        );
    }
    for (lines, pos) in right.iter().zip(&rpos) {
        draw_box(&mut s, x_right, *pos, lines, &lines.join(", "));
    }
    let me = vec![
        m.local.ae_title.clone(),
        format!("qcdesk :{}", m.local.port),
    ];
    draw_box(&mut s, x_mid, mid, &me, "qcdesk");
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod merge_tests {
    use super::*;
    use crate::store::RemoteAe;

    fn peer(ae: &str, address: &str, associations: i64, instances: i64) -> PeerCounts {
        PeerCounts {
            ae: RemoteAe {
                ae_title: ae.into(),
                address: address.into(),
                implementation_class_uid: String::new(),
                implementation_version: String::new(),
                first_seen: "2026-12-01T00:00:00Z".into(),
                last_seen: "2026-12-01T00:00:00Z".into(),
                associations,
            },
            instances,
            failures: 0,
        }
    }

    #[test]
    fn ephemeral_ports_of_one_ae_on_one_host_are_one_peer() {
        let merged = merge_ports(vec![
            peer("ARCHIVE", "127.0.0.1:40512", 1, 10),
            peer("ARCHIVE", "127.0.0.1:40777", 2, 5),
            peer("ARCHIVE", "127.0.0.1", 1, 15),
            peer("ARCHIVE", "10.0.0.2:104", 1, 1),
            peer("CT1", "127.0.0.1:40001", 1, 3),
            peer("V6", "[::1]:4242", 1, 1),
            peer("V6", "::1", 1, 1),
        ]);
        let names: Vec<(&str, &str, i64, i64)> = merged
            .iter()
            .map(|p| {
                (
                    p.ae.ae_title.as_str(),
                    p.ae.address.as_str(),
                    p.ae.associations,
                    p.instances,
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("ARCHIVE", "127.0.0.1", 4, 15),
                ("ARCHIVE", "10.0.0.2", 1, 1),
                ("CT1", "127.0.0.1", 1, 3),
                ("V6", "::1", 2, 1),
            ]
        );
    }
}
