//! The keyboard overlay (`?` or F1): every key of the desk, by where it works.

use egui::RichText;

/// Every key, grouped by where it acts. One list, drawn by the overlay, so that a key added
/// to the desk and not here is easy to see in review.
pub const KEYS: &[(&str, &[(&str, &str)])] = &[
    (
        "Everywhere",
        &[
            ("? or F1", "this list"),
            ("Esc", "close the topmost window; then clear the search"),
            ("Ctrl+1 / Ctrl+2 / Ctrl+3", "Queue / Worklist / Reports"),
            ("Ctrl+F", "search"),
            ("Ctrl+I", "import a folder, files or a DICOMDIR"),
            ("F5", "reload the queue"),
        ],
    ),
    (
        "Queue",
        &[
            ("↑ ↓ PageUp PageDown Home End", "move the selection"),
            (
                "Enter",
                "show the detail; again: preview the best order, or open the images",
            ),
            ("N", "next study that is not matched"),
            ("E", "edit the study's values by hand"),
            ("Ctrl+Z", "undo the correction just made, on that study"),
        ],
    ),
    (
        "Confirming a correction",
        &[
            (
                "Enter",
                "apply (not for a change of patient: use its button)",
            ),
            ("Esc", "cancel"),
        ],
    ),
    (
        "Viewer",
        &[
            (
                "↑ ↓ ← → PageUp PageDown Home End",
                "step through the images",
            ),
            ("1 2 3 4 / 0", "window presets / automatic window"),
            ("F", "fit the image"),
            ("H", "show or hide the header"),
            ("Esc", "back to the queue"),
        ],
    ),
    (
        "Worklist",
        &[
            ("↑ ↓", "move through the orders found"),
            ("Esc", "clear the search"),
        ],
    ),
];

/// The overlay; `open` is cleared by its close button.
pub fn key_help_ui(ctx: &egui::Context, open: &mut bool) {
    if !*open {
        return;
    }
    egui::Window::new("Keys")
        .open(open)
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
        .show(ctx, |ui| {
            for (place, keys) in KEYS {
                ui.label(RichText::new(*place).strong());
                egui::Grid::new(("keys", *place))
                    .num_columns(2)
                    .spacing([16.0, 2.0])
                    .show(ui, |ui| {
                        for (k, what) in *keys {
                            ui.label(RichText::new(*k).monospace());
                            ui.label(*what);
                        }
                    });
                ui.add_space(6.0);
            }
        });
}
