//! The DICOM nodes window: qcdesk's own AE title, the configured nodes with an Echo button
//! each (the answer or the error right beside it), and a form to add or change one. It edits
//! what `qcdesk node ...` edits.

use egui::RichText;

use super::state::UiCommand;
use super::worklist_data::{EchoState, WorklistData};
use crate::model::{DicomNode, NodeRole};
use crate::store::validate_ae_title;

/// The add/edit form.
#[derive(Debug, Clone)]
struct NodeForm {
    name: String,
    ae_title: String,
    host: String,
    port: String,
    role: NodeRole,
    tls: bool,
    tls_ca: String,
    tls_cert: String,
    tls_key: String,
    calling_ae: String,
}

impl Default for NodeForm {
    fn default() -> Self {
        NodeForm {
            name: String::new(),
            ae_title: String::new(),
            host: String::new(),
            port: "104".into(),
            role: NodeRole::Ris,
            tls: false,
            tls_ca: String::new(),
            tls_cert: String::new(),
            tls_key: String::new(),
            calling_ae: String::new(),
        }
    }
}

impl NodeForm {
    fn from_node(n: &DicomNode) -> NodeForm {
        NodeForm {
            name: n.name.clone(),
            ae_title: n.ae_title.clone(),
            host: n.host.clone(),
            port: n.port.to_string(),
            role: n.role,
            tls: n.tls,
            tls_ca: n.tls_ca.clone(),
            tls_cert: n.tls_cert.clone(),
            tls_key: n.tls_key.clone(),
            calling_ae: n.calling_ae.clone(),
        }
    }

    /// The node the form describes, or what is wrong with it.
    fn node(&self) -> Result<DicomNode, String> {
        if self.name.trim().is_empty() {
            return Err("Give the node a name.".into());
        }
        validate_ae_title(&self.ae_title)?;
        if !self.calling_ae.trim().is_empty() {
            validate_ae_title(&self.calling_ae).map_err(|e| format!("Calling AE: {e}"))?;
        }
        if self.host.trim().is_empty() {
            return Err("Give the host (name or IP address).".into());
        }
        let port: u16 = self
            .port
            .trim()
            .parse()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("Port '{}' is not a number from 1 to 65535.", self.port))?;
        Ok(DicomNode {
            name: self.name.trim().to_string(),
            ae_title: self.ae_title.trim().to_string(),
            host: self.host.trim().to_string(),
            port,
            role: self.role,
            tls: self.tls,
            calling_ae: self.calling_ae.trim().to_string(),
            tls_ca: self.tls_ca.trim().to_string(),
            tls_cert: self.tls_cert.trim().to_string(),
            tls_key: self.tls_key.trim().to_string(),
            ..DicomNode::default()
        })
    }
}

#[derive(Debug, Default)]
pub struct NodesWindow {
    pub open: bool,
    form: NodeForm,
    form_error: Option<String>,
    local_ae: Option<String>,
}

impl NodesWindow {
    pub fn show(&mut self) {
        self.open = true;
        self.local_ae = None;
    }
}

fn nodes_grid_ui(
    ui: &mut egui::Ui,
    w: &mut NodesWindow,
    data: &WorklistData,
    out: &mut Vec<UiCommand>,
) {
    if data.nodes.is_empty() {
        ui.label(RichText::new("No node configured yet.").weak());
        return;
    }
    egui::Grid::new("nodes-grid")
        .num_columns(6)
        .striped(true)
        .spacing([12.0, 6.0])
        .show(ui, |ui| {
            for h in ["Name", "Role", "Address", "", "", "Last echo"] {
                ui.strong(h);
            }
            ui.end_row();
            for n in &data.nodes {
                ui.label(&n.name);
                ui.label(n.role.as_str());
                let address = if n.embedded.is_empty() {
                    format!("{}{}", n.address(), if n.tls { " (TLS)" } else { "" })
                } else {
                    format!("{}@127.0.0.1 (built into qcdesk)", n.ae_title)
                };
                ui.label(address);
                ui.horizontal(|ui| {
                    if n.embedded.is_empty() && ui.small_button("Edit").clicked() {
                        w.form = NodeForm::from_node(n);
                        w.form_error = None;
                    }
                    if ui.small_button("Remove").clicked() {
                        out.push(UiCommand::RemoveNode(n.name.clone()));
                    }
                });
                let running = data.echo.get(&n.name) == Some(&EchoState::Running);
                if ui
                    .add_enabled(!running, egui::Button::new(format!("Echo {}", n.name)))
                    .on_hover_text("C-ECHO: is the node there and does it accept qcdesk?")
                    .clicked()
                {
                    out.push(UiCommand::EchoNode(n.name.clone()));
                }
                match data.echo.get(&n.name) {
                    None => {
                        ui.label("");
                    }
                    Some(EchoState::Running) => {
                        ui.spinner();
                    }
                    Some(EchoState::Ok(r)) => {
                        let peer = if r.implementation_version.is_empty() {
                            String::new()
                        } else {
                            format!(", peer {}", r.implementation_version)
                        };
                        ui.colored_label(
                            egui::Color32::from_rgb(40, 150, 70),
                            format!("C-ECHO ok in {} ms{peer}", r.echo_ms),
                        );
                    }
                    Some(EchoState::Failed(e)) => {
                        ui.colored_label(ui.visuals().error_fg_color, e);
                    }
                }
                ui.end_row();
            }
        });
}

fn form_ui(ui: &mut egui::Ui, w: &mut NodesWindow, data: &WorklistData, out: &mut Vec<UiCommand>) {
    let f = &mut w.form;
    egui::Grid::new("node-form").num_columns(2).show(ui, |ui| {
        for (label, value, hint) in [
            ("Name:", &mut f.name, "pacs, ris…"),
            ("AE title:", &mut f.ae_title, "up to 16 characters"),
            ("Host:", &mut f.host, "name or IP address"),
            ("Port:", &mut f.port, "104"),
            ("Calling AE:", &mut f.calling_ae, "empty: qcdesk's own"),
        ] {
            let l = ui.label(label);
            ui.add(
                egui::TextEdit::singleline(value)
                    .hint_text(hint)
                    .desired_width(220.0),
            )
            .labelled_by(l.id);
            ui.end_row();
        }
        let l = ui.label("Role:");
        egui::ComboBox::from_id_salt("node-role")
            .selected_text(f.role.as_str())
            .show_ui(ui, |ui| {
                for r in NodeRole::ALL {
                    ui.selectable_value(&mut f.role, r, r.as_str());
                }
            })
            .response
            .labelled_by(l.id);
        ui.end_row();
        ui.label("");
        ui.checkbox(&mut f.tls, "DICOM over TLS");
        ui.end_row();
        if f.tls {
            for (label, value, hint) in [
                (
                    "CA file",
                    &mut f.tls_ca,
                    "PEM: the CA the node's certificate chains to",
                ),
                (
                    "Certificate",
                    &mut f.tls_cert,
                    "PEM: qcdesk's certificate (optional)",
                ),
                ("Key", &mut f.tls_key, "PEM: its private key"),
            ] {
                let l = ui.label(label);
                ui.add(egui::TextEdit::singleline(value).hint_text(hint))
                    .labelled_by(l.id);
                ui.end_row();
            }
        }
    });
    ui.horizontal(|ui| {
        if ui.button("Save node").clicked() {
            match w.form.node() {
                Ok(n) => {
                    w.form_error = None;
                    out.push(UiCommand::SaveNode(n));
                }
                Err(e) => w.form_error = Some(e),
            }
        }
        if ui.button("Clear").clicked() {
            w.form = NodeForm::default();
            w.form_error = None;
        }
    });
    let err = w.form_error.as_ref().or(data.node_error.as_ref());
    if let Some(e) = err {
        ui.colored_label(ui.visuals().error_fg_color, e);
    }
}

/// Draws the window when open.
pub fn nodes_window_ui(
    ctx: &egui::Context,
    w: &mut NodesWindow,
    data: &WorklistData,
) -> Vec<UiCommand> {
    let mut out = Vec::new();
    if !w.open {
        return out;
    }
    let mut open = true;
    egui::Window::new("DICOM nodes")
        .open(&mut open)
        .default_width(760.0)
        .show(ctx, |ui| {
            ui.horizontal(|ui| {
                let local = w.local_ae.get_or_insert_with(|| data.local_ae.clone());
                let l = ui.label("qcdesk's AE title:");
                ui.add(egui::TextEdit::singleline(local).desired_width(160.0))
                    .labelled_by(l.id);
                if ui.button("Save AE title").clicked() {
                    match validate_ae_title(local) {
                        Ok(()) => out.push(UiCommand::SetLocalAe(local.trim().to_string())),
                        Err(e) => w.form_error = Some(e),
                    }
                }
            });
            ui.separator();
            nodes_grid_ui(ui, w, data, &mut out);
            ui.separator();
            ui.label(RichText::new("Add or change a node").strong());
            form_ui(ui, w, data, &mut out);
        });
    if !open {
        w.open = false;
    }
    out
}
