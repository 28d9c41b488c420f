//! The commands of corrections: preview (an order, the edit form, a merge or split), apply,
//! cancel, undo, reject, and the forms that lead to them.

use super::super::state::UiCommand;
use super::DeskApp;

impl DeskApp {
    pub(super) fn correct_command(&mut self, cmd: UiCommand) {
        // Opening a correction, the edit form or the actions window on a study someone else
        // is handling asks whether to take it over instead.
        let target = match &cmd {
            UiCommand::PreviewOrder { study, .. } => Some(*study),
            UiCommand::OpenEdit | UiCommand::OpenActions => self.state.selected,
            UiCommand::PreviewRelocation(super::super::correct_data::Relocation::Merge {
                into,
                ..
            }) => Some(*into),
            UiCommand::PreviewRelocation(super::super::correct_data::Relocation::SplitSeries {
                study,
                ..
            }) => Some(*study),
            _ => None,
        };
        if let Some(study) = target
            && let Some(c) = self.rt.held_by_other(study)
        {
            self.rt.correct.actions = None;
            self.rt.ask_take_over(c);
            return;
        }
        match cmd {
            UiCommand::PreviewOrder { study, order } => self.rt.preview_order(study, *order),
            UiCommand::ApplyCorrection => self.rt.apply_correction(String::new()),
            UiCommand::CancelCorrection => self.rt.correct.pending = None,
            UiCommand::UndoCorrection(study) => self.rt.undo_correction(study, String::new()),
            UiCommand::UndoRefused => self.rt.notify(
                super::super::runtime::Level::Info,
                "Ctrl+Z takes back the correction just made, on the study it was made to. \
                 For this study, use Undo in its Corrections list.",
            ),
            UiCommand::OpenEdit => {
                if let Some(d) = self
                    .rt
                    .detail
                    .as_ref()
                    .filter(|d| Some(d.row.id) == self.state.selected)
                {
                    self.rt.correct.edit = Some(super::super::edit_form::EditForm::of(d));
                }
            }
            UiCommand::PreviewEdit => {
                if let Some(form) = self.rt.correct.edit.take() {
                    match form.changes() {
                        Ok(values) if !values.is_empty() => {
                            let c = crate::reconcile::correction::Correction::manual(&values);
                            self.rt.preview_correction(
                                form.study,
                                "values typed by hand".into(),
                                c,
                            );
                        }
                        _ => self.rt.correct.edit = Some(form),
                    }
                }
            }
            UiCommand::CloseEdit => self.rt.correct.edit = None,
            UiCommand::OpenActions => {
                if let Some(id) = self.state.selected {
                    self.rt.correct.actions =
                        Some(super::super::study_actions::ActionsForm::new(id));
                }
            }
            UiCommand::CloseActions => self.rt.correct.actions = None,
            UiCommand::PreviewRelocation(r) => {
                self.rt.correct.actions = None;
                self.rt.preview_relocation(r);
            }
            UiCommand::RejectInstances => {
                if let Some(f) = self.rt.correct.actions.take() {
                    let code = &crate::reconcile::reject::CODES[f.code];
                    self.rt.reject_instances(f.study, f.series, code, f.reason);
                }
            }
            UiCommand::Dismiss => {
                if let Some(f) = self.rt.correct.actions.take()
                    && let Some(reason) = self.rt.dismiss_reasons.get(f.dismiss_reason).cloned()
                {
                    self.rt.dismiss(f.study, Some((reason, f.note)));
                }
            }
            UiCommand::Reopen(study) => {
                self.rt.correct.actions = None;
                self.rt.dismiss(study, None);
            }
            _ => {}
        }
    }
}
