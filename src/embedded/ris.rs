//! The embedded RIS: a Modality Worklist SCP inside qcdesk, on loopback, started for each use
//! of a node whose `embedded` is [`EMBEDDED`], answering from the orders the workspace keeps
//! for it (the demo department's, written when the demo is built), so "Sync now" works in
//! `qcdesk demo` with nothing else installed.

use std::sync::Arc;

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use crate::dicom::dump::Node;
use crate::model::WorklistItem;
use crate::net::scp::{FindProvider, Server};
use crate::store::Store;

/// `embedded` value of a node served by this RIS (the value demo workspaces carry).
pub const EMBEDDED: &str = "demo";

/// The key of the setting holding the orders it serves (JSON).
pub const ORDERS_SETTING: &str = "embedded_ris_orders";

/// An MWL provider over a list of orders: matches on the scheduled date range, modality,
/// station, and on Patient ID and Accession Number when the query gives them.
pub struct OrdersProvider {
    pub items: Vec<WorklistItem>,
    /// The final status answered (success; tests use others).
    pub final_status: u16,
}

fn key(query: &[Node], tag: dicom_core::Tag) -> Option<String> {
    query
        .iter()
        .find(|n| n.tag == tag)
        .map(|n| n.value.trim().to_string())
        .filter(|v| !v.is_empty() && v != "*")
}

impl FindProvider for OrdersProvider {
    fn sop_class(&self) -> &str {
        crate::net::MWL_FIND
    }

    fn find(&self, query: &[Node]) -> (Vec<InMemDicomObject>, u16) {
        let scope = crate::worklist::mwl::scope_of_query(query);
        let patient = key(query, tags::PATIENT_ID);
        let accession = key(query, tags::ACCESSION_NUMBER);
        let matches = self
            .items
            .iter()
            .filter(|i| scope.covers(i))
            .filter(|i| patient.as_ref().is_none_or(|p| *p == i.patient_id))
            .filter(|i| accession.as_ref().is_none_or(|a| *a == i.accession))
            .map(crate::worklist::mwl::identifier)
            .collect();
        (matches, self.final_status)
    }
}

/// Starts the embedded RIS of the workspace in `store`, as `ae_title`, on a free loopback
/// port. A workspace that keeps no orders for it is refused (a RIS answering nothing would
/// mark every cached order vanished).
pub fn start(store: &Store, ae_title: &str) -> std::io::Result<Server> {
    let text = store
        .setting(ORDERS_SETTING)
        .map_err(std::io::Error::other)?
        .ok_or_else(|| {
            std::io::Error::other(
                "this workspace keeps no orders for its embedded RIS (rebuild the demo with `qcdesk demo`)",
            )
        })?;
    let items: Vec<WorklistItem> = serde_json::from_str(&text)
        .map_err(|e| std::io::Error::other(format!("the embedded RIS's orders: {e}")))?;
    let provider = OrdersProvider {
        items,
        final_status: 0x0000,
    };
    Server::start(ae_title, "127.0.0.1:0", Arc::new(provider))
}
