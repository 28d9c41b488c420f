//! `node`, `echo` and `worklist` commands: DICOM nodes, C-ECHO, and the worklist cache's
//! sync, search and file imports.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;

use super::output;
use crate::model::{DicomNode, NodeRole};
use crate::store::{Store, SyncScope, parse_ae_address};
use crate::worklist::{self, FileFormat, SearchIndex, SearchQuery};

#[derive(Debug, Subcommand)]
pub enum NodeCmd {
    /// Add a DICOM node (or replace the one of that name).
    Add {
        /// A short name: letters, digits, '-', '_', '.'.
        name: String,
        /// Where it listens: AET@HOST:PORT.
        #[arg(value_name = "AET@HOST:PORT")]
        address: String,
        /// What the node is to qcdesk.
        #[arg(long, value_parser = parse_role)]
        role: NodeRole,
        /// The node expects DICOM over TLS (give --tls-ca).
        #[arg(long)]
        tls: bool,
        /// PEM file of the CA the node's certificate must chain to.
        #[arg(long, value_name = "FILE", requires = "tls")]
        tls_ca: Option<std::path::PathBuf>,
        /// PEM certificate qcdesk presents to the node (with --tls-key).
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<std::path::PathBuf>,
        /// PEM private key of --tls-cert.
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<std::path::PathBuf>,
        /// The AE title qcdesk calls this node with (default: the workspace's own).
        #[arg(long, value_name = "AET")]
        calling_ae: Option<String>,
    },
    /// List the configured nodes.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a node.
    Remove { name: String },
    /// Show qcdesk's own AE title and port, or set them with --ae and --port.
    Local {
        #[arg(long, value_name = "AET")]
        ae: Option<String>,
        /// The port qcdesk listens on (and archives send commitment reports to).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        port: Option<u16>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum WorklistCmd {
    /// Query a RIS node's Modality Worklist and update the cache (new, changed, vanished).
    Sync {
        /// The RIS node (default: the one node with role ris).
        #[arg(long, value_name = "NAME")]
        node: Option<String>,
        /// First scheduled date, YYYYMMDD or YYYY-MM-DD.
        #[arg(long, value_name = "DATE", value_parser = parse_date)]
        from: Option<String>,
        /// Last scheduled date, YYYYMMDD or YYYY-MM-DD.
        #[arg(long, value_name = "DATE", value_parser = parse_date)]
        to: Option<String>,
        #[arg(long, value_name = "M")]
        modality: Option<String>,
        /// Scheduled Station AE Title.
        #[arg(long, value_name = "AET")]
        station: Option<String>,
        /// Cancel the query (and change nothing) when the RIS lists more items than this.
        #[arg(long, default_value_t = worklist::DEFAULT_LIMIT)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Search the cache: name parts in any order, IDs, accessions, dates; `modality:CT`,
    /// `station:AET`, `date:YYYYMMDD[-YYYYMMDD]` filter.
    Search {
        #[arg(value_name = "QUERY", num_args = 0..)]
        query: Vec<String>,
        /// At most this many results.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Import orders from a CSV file or a file of HL7 v2 ORM^O01 / OMI^O23 messages.
    Import {
        file: PathBuf,
        /// csv or hl7 (default: guessed from the content).
        #[arg(long, value_parser = parse_format)]
        format: Option<FileFormat>,
        /// The source name the orders are kept under (default: csv or hl7).
        #[arg(long, value_name = "NAME")]
        source: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

fn parse_role(s: &str) -> Result<NodeRole, String> {
    NodeRole::parse(s).ok_or_else(|| format!("unknown role '{s}' (archive, ris, source)"))
}

fn parse_date(s: &str) -> Result<String, String> {
    worklist::parse_user_date(s)
}

fn parse_format(s: &str) -> Result<FileFormat, String> {
    FileFormat::parse(s).ok_or_else(|| format!("unknown format '{s}' (csv, hl7)"))
}

pub fn node(store: &mut Store, cmd: NodeCmd) -> Result<()> {
    match cmd {
        NodeCmd::Add {
            name,
            address,
            role,
            tls,
            tls_ca,
            tls_cert,
            tls_key,
            calling_ae,
        } => {
            // Paths are kept absolute: the node is used from any working directory.
            let path = |p: Option<std::path::PathBuf>| {
                p.map(|p| std::path::absolute(&p).unwrap_or(p).display().to_string())
                    .unwrap_or_default()
            };
            let (ae_title, host, port) = parse_ae_address(&address).map_err(anyhow::Error::msg)?;
            let node = DicomNode {
                name,
                ae_title,
                host,
                port,
                role,
                tls,
                calling_ae: calling_ae.unwrap_or_default(),
                tls_ca: path(tls_ca),
                tls_cert: path(tls_cert),
                tls_key: path(tls_key),
                ..DicomNode::default()
            };
            store.put_node(&node)?;
            eprintln!(
                "node {} = {} ({})",
                node.name,
                node.address(),
                role.as_str()
            );
        }
        NodeCmd::List { json } => {
            let nodes = store.nodes()?;
            if json {
                output::print_json(&nodes)?;
            } else {
                output::print_nodes(&nodes, &store.local_ae_title()?);
            }
        }
        NodeCmd::Remove { name } => {
            store.remove_node(&name)?;
            eprintln!("node {name} removed");
        }
        NodeCmd::Local { ae, port, json } => {
            if let Some(ae) = ae {
                store.set_local_ae_title(&ae)?;
            }
            if let Some(port) = port {
                store.set_local_port(port)?;
            }
            let ae = store.local_ae_title()?;
            let port = store.local_port()?;
            if json {
                output::print_json(&serde_json::json!({ "ae_title": ae, "port": port }))?;
            } else {
                println!("{ae} port {port}");
            }
        }
    }
    Ok(())
}

pub fn echo(store: &Store, name: &str, json: bool) -> Result<()> {
    let node = store.node(name)?;
    let (peer, _server) = worklist::sync::peer_for(store, &node)?;
    let report = crate::net::echo(&peer).with_context(|| format!("C-ECHO to {name} failed"))?;
    if json {
        output::print_json(&serde_json::json!({
            "node": node.name,
            "address": peer.address(),
            "ok": true,
            "association_ms": report.association_ms,
            "echo_ms": report.echo_ms,
            "implementation_class_uid": report.implementation_class_uid,
            "implementation_version": report.implementation_version,
        }))?;
    } else {
        println!(
            "{}: C-ECHO ok in {} ms (association {} ms){}",
            peer.label(),
            report.echo_ms,
            report.association_ms,
            if report.implementation_version.is_empty() {
                String::new()
            } else {
                format!(", peer {}", report.implementation_version)
            }
        );
    }
    Ok(())
}

pub fn worklist(store: &mut Store, cmd: Option<WorklistCmd>, json: bool) -> Result<()> {
    let Some(cmd) = cmd else {
        let items = store.worklist()?;
        if json {
            output::print_json(&items)?;
        } else {
            output::print_worklist(&items);
            for s in store.last_syncs()? {
                output::print_sync_record(&s);
            }
        }
        return Ok(());
    };
    match cmd {
        WorklistCmd::Sync {
            node,
            from,
            to,
            modality,
            station,
            limit,
            json,
        } => {
            if let (Some(a), Some(b)) = (&from, &to)
                && a > b
            {
                anyhow::bail!("--from {a} is after --to {b}");
            }
            let node = store.node_for(NodeRole::Ris, node.as_deref())?;
            let scope = SyncScope {
                from,
                to,
                modality: modality.map(|m| m.to_ascii_uppercase()),
                station,
            };
            let report =
                worklist::sync(store, &node, &scope, limit, &mut |_| {}).with_context(|| {
                    format!(
                        "worklist sync with {} failed; the cache was not changed",
                        node.name
                    )
                })?;
            if json {
                output::print_json(&report)?;
            } else {
                output::print_sync(&report);
            }
        }
        WorklistCmd::Search { query, limit, json } => {
            let q = SearchQuery::parse(&query.join(" "));
            let index = SearchIndex::build(store.worklist()?);
            let hits = index.search(&q, limit);
            if json {
                output::print_json(&hits)?;
            } else {
                output::print_hits(&hits);
            }
        }
        WorklistCmd::Import {
            file,
            format,
            source,
            json,
        } => {
            let report = worklist::import_file(store, &file, format, source.as_deref())?;
            if json {
                output::print_json(&report)?;
            } else {
                output::print_file_import(&report);
            }
        }
    }
    Ok(())
}
