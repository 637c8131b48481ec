//! `/`: the DLQ filter, applied as you type; enter keeps it, esc clears it.

use crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::Frame;

use super::text_input::{InputKey, TextInput};
use super::Step;
use crate::engine::dlq::DlqFilter;
use crate::tui::app::App;
use crate::tui::dialog::{render_input, InputBox};

pub fn on_key(input: &mut TextInput, key: KeyEvent, app: &mut App) -> Step {
    match input.on_key(key) {
        InputKey::Cancel => {
            app.set_filter(DlqFilter::default(), String::new());
            Step::Close
        }
        InputKey::Submit if input.error.is_none() => Step::Close,
        InputKey::Submit | InputKey::Other => Step::Stay,
        InputKey::Edited => {
            match DlqFilter::parse(&input.text) {
                Ok(f) => app.set_filter(f, input.text.clone()),
                Err(e) => input.refuse(e),
            }
            Step::Stay
        }
    }
}

pub fn render(input: &TextInput, f: &mut Frame, area: Rect, app: &App) {
    render_input(
        f,
        area,
        app,
        &InputBox {
            title: "Filter the DLQ",
            prompt: "/",
            input: &input.text,
            error: input.error.as_deref(),
            hint: "type:T project:P corr:ID key:K fp:FP words — enter keeps, esc clears",
        },
    )
}
