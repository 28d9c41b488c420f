//! Applying the likely order to several studies at once: the studies marked in the queue
//! (Ctrl+click, or "Mark likely"), each ranked and previewed off the UI thread, shown in one
//! window with every change and every patient change, confirmed once, and applied as one
//! correction per study (each undone on its own study). A study whose best order is not clearly
//! ahead of another (twins, same-day orders) is left out, saying why.

use egui::RichText;

use super::runtime::{JobKind, Level, Runtime};
use super::state::UiCommand;
use crate::reconcile::fix::Who;
use crate::reconcile::order::OrderPlan;
use crate::store::os_user;

/// A batch applies an order only this likely (percent); below, the study is decided alone.
const BULK_MIN_SCORE: i32 = 90;

/// One study of the batch, previewed.
#[derive(Debug, Clone)]
pub struct BulkItem {
    pub study: i64,
    pub patient: String,
    pub plan: OrderPlan,
    /// Percent.
    pub score: i32,
    /// How the order changes who the patient is, a line per field (empty: it does not).
    pub patient_change: Vec<String>,
}

/// The batch on screen.
#[derive(Debug, Clone, Default)]
pub struct BulkPreview {
    pub items: Vec<BulkItem>,
    /// Studies left out, and why.
    pub skipped: Vec<(i64, String)>,
    pub reason: String,
    /// The patient changes were each checked.
    pub confirmed: bool,
}

impl BulkPreview {
    fn patient_changes(&self) -> usize {
        self.items
            .iter()
            .filter(|i| !i.patient_change.is_empty())
            .count()
    }

    /// Apply may go ahead: something to apply, and for patient changes a reason and the
    /// second confirmation.
    pub fn ready(&self) -> bool {
        !self.items.is_empty()
            && (self.patient_changes() == 0 || (self.confirmed && !self.reason.trim().is_empty()))
    }
}

/// What applying the batch did, per study: the correction, or why it failed.
pub type BulkOutcome = Vec<(i64, Result<i64, String>)>;

impl Runtime {
    /// Ranks and previews the likely order of each study in `studies`.
    pub fn preview_bulk_orders(&mut self, studies: Vec<i64>) {
        self.bulk = None;
        self.store_job(
            "Preparing the likely orders",
            JobKind::PreviewBulk,
            move |store| {
                use crate::model::StudyState;
                let matcher = crate::reconcile::learn::matcher(store)?;
                let mut out = BulkPreview::default();
                let mut taken: Vec<(String, String)> = Vec::new();
                for id in studies {
                    let detail = store.study_detail(id)?;
                    let why_not = match detail.row.state {
                        _ if detail.row.dismissed.is_some() => Some("dismissed"),
                        StudyState::Matched => Some("already matched"),
                        StudyState::Broken => Some("broken: its files need attention first"),
                        StudyState::Inconsistent => {
                            Some("inconsistent: split, mixed or conflicting; resolve it first")
                        }
                        _ => None,
                    };
                    if let Some(why) = why_not {
                        out.skipped.push((id, why.into()));
                        continue;
                    }
                    let ranking = matcher.rank(&crate::reconcile::MatchFacts::of(&detail), 5);
                    let Some(best) = ranking.candidates.first() else {
                        out.skipped
                            .push((id, "no order in the worklist cache fits".into()));
                        continue;
                    };
                    if best.ambiguous {
                        let n = ranking.candidates.iter().filter(|c| c.ambiguous).count();
                        out.skipped.push((
                            id,
                            format!("{n} orders are as likely as each other: decide in the study"),
                        ));
                        continue;
                    }
                    if best.score < BULK_MIN_SCORE {
                        out.skipped.push((
                            id,
                            format!(
                                "order {} is only {}% likely: decide in the study, where each reason is shown",
                                best.accession, best.score
                            ),
                        ));
                        continue;
                    }
                    let order = matcher.orders()[best.index].clone();
                    let key = (order.accession.clone(), order.sps_id.clone());
                    if taken.contains(&key) {
                        out.skipped.push((
                            id,
                            format!(
                                "order {} is another marked study's likely order too",
                                order.accession
                            ),
                        ));
                        continue;
                    }
                    taken.push(key);
                    match crate::reconcile::order::plan(store, id, &order, false) {
                        Ok(plan) if plan.preview.instances == 0 => out
                            .skipped
                            .push((id, format!("already holds order {}", order.accession))),
                        Ok(plan) => out.items.push(BulkItem {
                            study: id,
                            patient: detail.row.patient_name.clone(),
                            score: best.score,
                            patient_change: plan.patient_changes(),
                            plan,
                        }),
                        Err(e) => out.skipped.push((id, e.to_string())),
                    }
                }
                Ok(out)
            },
        );
    }

    /// Applies the batch on screen, one correction per study.
    pub fn apply_bulk_orders(&mut self) {
        if self.correct.busy || !self.bulk.as_ref().is_some_and(BulkPreview::ready) {
            return;
        }
        let Some(b) = self.bulk.take() else {
            return;
        };
        self.correct.busy = true;
        let store = self.store_handle();
        let title = format!("Applying {} orders", b.items.len());
        self.spawn(&title, JobKind::ApplyBulk, move |ctx| {
            let mut store = store
                .lock()
                .map_err(|_| "store lock poisoned".to_string())?;
            let mut out: BulkOutcome = Vec::new();
            let total = b.items.len() as u64;
            // One ranking of the cache for the batch (what the matching learns from each).
            let matcher = crate::reconcile::learn::matcher(&store).ok();
            for (n, item) in b.items.iter().enumerate() {
                let who = Who {
                    os_user: os_user(),
                    operator: String::new(),
                    reason: if b.reason.trim().is_empty() {
                        format!(
                            "applied the likely order {} at the desk (with {} other studies)",
                            item.plan.order.accession,
                            total - 1
                        )
                    } else {
                        format!(
                            "applied the likely order {} at the desk: {}",
                            item.plan.order.accession,
                            b.reason.trim()
                        )
                    },
                };
                let done = crate::reconcile::order::apply(
                    &mut store,
                    &item.plan,
                    &who,
                    |_, _| {},
                    matcher.as_ref(),
                )
                .map(|a| a.correction)
                .map_err(|e| e.to_string());
                out.push((item.study, done));
                ctx.progress(n as u64 + 1, Some(total), "studies");
            }
            Ok(out)
        });
    }

    pub(super) fn apply_bulk_result(&mut self, out: super::job_output::Output) {
        use super::job_output::Output;
        match out {
            Output::BulkPreview(p) => self.bulk = Some(*p),
            Output::BulkApplied(done) => {
                self.correct.busy = false;
                let ok: Vec<String> = done
                    .iter()
                    .filter(|(_, r)| r.is_ok())
                    .map(|(s, _)| s.to_string())
                    .collect();
                if !ok.is_empty() {
                    self.notify(
                        Level::Info,
                        format!(
                            "Applied the likely order to {} studies ({}); each is its own correction, undone on its study.",
                            ok.len(),
                            ok.join(", ")
                        ),
                    );
                }
                for (s, r) in &done {
                    if let Err(e) = r {
                        self.notify(Level::Error, format!("Study {s}: {e}"));
                    }
                }
                self.load_queue();
            }
            _ => {}
        }
    }
}

/// The batch window: each study, its order and changes; one confirmation.
pub fn bulk_orders_ui(ctx: &egui::Context, bulk: Option<&mut BulkPreview>) -> Vec<UiCommand> {
    let mut out = Vec::new();
    let Some(b) = bulk else {
        return out;
    };
    let warn = ctx.global_style().visuals.warn_fg_color;
    egui::Window::new(format!(
        "Apply the likely order to {} studies?",
        b.items.len()
    ))
    .collapsible(false)
    .default_width(640.0)
    .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
    .show(ctx, |ui| {
        egui::ScrollArea::vertical()
            .max_height(420.0)
            .show(ui, |ui| {
                for item in &b.items {
                    let p = &item.plan;
                    ui.label(
                        RichText::new(format!(
                            "Study {} {} ← order {} ({}% likely): {} change(s) in {} instance(s)",
                            item.study,
                            item.patient,
                            p.order.accession,
                            item.score,
                            p.preview.changes.len(),
                            p.preview.instances
                        ))
                        .strong(),
                    );
                    if p.takes_uid {
                        ui.label("  and the order's Study Instance UID (its instances move)");
                    }
                    for line in &item.patient_change {
                        ui.label(
                            RichText::new(format!("  This changes who the patient is: {line}"))
                                .color(warn),
                        );
                    }
                    egui::CollapsingHeader::new(format!("Changes to study {}", item.study))
                        .id_salt(("bulk", item.study))
                        .show(ui, |ui| {
                            for c in &p.preview.changes {
                                ui.label(format!("{}: {} → {}", c.keyword, c.old, c.new));
                            }
                        });
                }
                if !b.skipped.is_empty() {
                    ui.separator();
                    ui.label(RichText::new("Left out").strong());
                    for (s, why) in &b.skipped {
                        ui.label(format!("Study {s}: {why}"));
                    }
                }
            });
        ui.separator();
        let changes = b.patient_changes();
        if changes > 0 {
            ui.label(
                RichText::new(format!(
                    "{changes} of these change who the patient is: give the reason and confirm."
                ))
                .color(warn),
            );
            ui.horizontal(|ui| {
                let label = ui.label("Reason (required):");
                ui.add(
                    egui::TextEdit::singleline(&mut b.reason)
                        .id_salt("bulk-reason")
                        .hint_text("e.g. registered with typos at the front desk")
                        .desired_width(380.0),
                )
                .labelled_by(label.id);
            });
            ui.checkbox(&mut b.confirmed, "I checked each patient change");
        }
        ui.horizontal(|ui| {
            if ui.button("Cancel").clicked() {
                out.push(UiCommand::CancelBulkOrders);
            }
            let apply = ui.add_enabled(
                b.ready(),
                egui::Button::new(format!("Apply {} orders", b.items.len())),
            );
            if apply
                .on_hover_text("Each study gets its own correction, undone on its study")
                .clicked()
            {
                out.push(UiCommand::ApplyBulkOrders);
            }
        });
    });
    out
}
