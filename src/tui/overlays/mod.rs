//! The console's overlays (gitui's popups): one file each owning its keys,
//! its state and its render, and one text input they share
//! (`text_input`). The app holds at most one [`Overlay`], hands it every
//! key, and acts on the [`Step`] it answers; an overlay never opens another
//! itself. Their snapshot tests are in `tui::dialog` and beside each file.

pub mod confirm;
pub mod edit;
pub mod filter;
pub mod pager;
pub mod palette;
pub mod text_input;
pub mod typed_confirm;

use crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::Frame;

use crate::engine::fleet::levers::Command;
use crate::tui::app::App;
use crate::tui::palette::PaletteAction;

pub use confirm::{Confirm, ConfirmKind};
pub use edit::EditEntry;
pub use text_input::TextInput;
pub use typed_confirm::TypedConfirm;

// One overlay exists at a time (on the stack of the UI loop): boxing the
// dialog would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    None,
    Help,
    /// `/` input for the DLQ filter; the filter applies as you type.
    Filter(TextInput),
    /// `:` command palette.
    Palette(TextInput),
    Confirm(Confirm),
    /// Confirmed by typing a word (an offset reset: the group id).
    TypeToConfirm(Box<TypedConfirm>),
    /// Full DLQ entry.
    Detail,
    /// The fleet's audit trail.
    Audit,
    /// `e` on a DLQ entry.
    Edit(EditEntry),
    /// `:history 6h`: the kept time series over a long window.
    History(Box<crate::engine::fleet::levers::history::HistoryWindow>),
    /// A document's history (`t` on a DLQ entry).
    Trace(Box<crate::engine::telemetry::trace::Trace>),
    /// `:doctor`: the deployment's check, each finding with its fix.
    Doctor(Box<crate::engine::doctor::DoctorReport>),
    /// `w`: why is it lagging (judged live from the snapshot).
    Why,
    /// Waiting for a command's result (esc hides it).
    Busy(String),
}

/// What an overlay answers to a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Stay open (its state may have changed).
    Stay,
    /// Close it.
    Close,
    /// Close it and send these commands, saying what runs meanwhile.
    Send(Vec<Command>, Option<String>),
    /// Close it and run a palette command.
    Palette(PaletteAction),
    /// Leave the console.
    Quit,
}

impl Overlay {
    /// One key to the open overlay (`app` is its context: the filter, the
    /// snapshot, the scroll, the edit being checked).
    pub fn on_key(&mut self, key: KeyEvent, app: &mut App) -> Step {
        match self {
            Overlay::None => Step::Close,
            Overlay::Detail => pager::on_key_detail(key, app),
            Overlay::Help
            | Overlay::Audit
            | Overlay::Trace(_)
            | Overlay::History(_)
            | Overlay::Doctor(_)
            | Overlay::Why => pager::on_key(key, app),
            Overlay::Busy(_) if key.code == crossterm::event::KeyCode::Esc => Step::Close,
            Overlay::Busy(_) => Step::Stay,
            Overlay::Filter(input) => filter::on_key(input, key, app),
            Overlay::Palette(input) => palette::on_key(input, key, app),
            Overlay::Edit(e) => e.on_key(key, app),
            Overlay::TypeToConfirm(c) => c.on_key(key),
            Overlay::Confirm(c) => c.on_key(key),
        }
    }

    pub fn render(&self, f: &mut Frame, area: Rect, app: &App) {
        match self {
            Overlay::None => {}
            Overlay::Help => crate::tui::help::render(f, area, app),
            Overlay::Detail => crate::tui::dlq::render_detail(f, area, app),
            Overlay::Audit => crate::tui::audit::render(f, area, app),
            Overlay::Doctor(r) => crate::tui::doctor::render(f, area, app, r),
            Overlay::Why => crate::tui::why::render(f, area, app),
            Overlay::Trace(t) => crate::tui::trace::render(f, area, app, t),
            Overlay::History(h) => crate::tui::history::render(f, area, app, h),
            Overlay::Confirm(c) => c.render(f, area, app),
            Overlay::TypeToConfirm(c) => c.render(f, area, app),
            Overlay::Busy(text) => crate::tui::dialog::render_busy(f, area, app, text),
            Overlay::Filter(input) => filter::render(input, f, area, app),
            Overlay::Edit(e) => e.render(f, area, app),
            Overlay::Palette(input) => palette::render(input, f, area, app),
        }
    }
}
