//! `:`: the command palette (its grammar is `tui::palette`); enter runs
//! the command or says why not.

use crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::Frame;

use super::text_input::{InputKey, TextInput};
use super::Step;
use crate::tui::app::App;
use crate::tui::dialog::{render_input, InputBox};

pub fn on_key(input: &mut TextInput, key: KeyEvent, app: &mut App) -> Step {
    match input.on_key(key) {
        InputKey::Cancel => Step::Close,
        InputKey::Submit => match crate::tui::palette::parse(&input.text, &app.dlq.filter) {
            Ok(action) => Step::Palette(action),
            Err(e) => {
                input.refuse(e);
                Step::Stay
            }
        },
        InputKey::Edited | InputKey::Other => Step::Stay,
    }
}

pub fn render(input: &TextInput, f: &mut Frame, area: Rect, app: &App) {
    render_input(
        f,
        area,
        app,
        &InputBox {
            title: "Command",
            prompt: ":",
            input: &input.text,
            error: input.error.as_deref(),
            hint:
                "rollout 25 · concurrency 40 · replay all · backfill sync · rollback — ? lists all",
        },
    )
}
