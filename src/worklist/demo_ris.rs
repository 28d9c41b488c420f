//! The demo's RIS: a Modality Worklist SCP inside qcdesk, on loopback, answering from the demo
//! department's orders, so "Sync now" works in `qcdesk demo` with nothing else installed.

use std::sync::Arc;

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use crate::dicom::dump::Node;
use crate::model::WorklistItem;
use crate::net::scp::{FindProvider, Server};
use crate::store::Store;

/// The key of the setting holding the demo department's "today" (Julian day).
pub const DEMO_TODAY_SETTING: &str = "demo_today";

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
        let scope = super::mwl::scope_of_query(query);
        let patient = key(query, tags::PATIENT_ID);
        let accession = key(query, tags::ACCESSION_NUMBER);
        let matches = self
            .items
            .iter()
            .filter(|i| scope.covers(i))
            .filter(|i| patient.as_ref().is_none_or(|p| *p == i.patient_id))
            .filter(|i| accession.as_ref().is_none_or(|a| *a == i.accession))
            .map(super::mwl::identifier)
            .collect();
        (matches, self.final_status)
    }
}

/// Starts the demo RIS for the demo in `store`, as `ae_title`, on a free loopback port.
pub fn start(store: &Store, ae_title: &str) -> std::io::Result<Server> {
    let today = store
        .setting(DEMO_TODAY_SETTING)
        .ok()
        .flatten()
        .and_then(|v| v.parse::<i32>().ok())
        .and_then(|j| time::Date::from_julian_day(j).ok())
        .unwrap_or_else(|| time::OffsetDateTime::now_utc().date());
    let provider = OrdersProvider {
        items: crate::demo::ris_orders(today),
        final_status: 0x0000,
    };
    Server::start(ae_title, "127.0.0.1:0", Arc::new(provider))
}
