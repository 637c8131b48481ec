//! `e` on a DLQ entry: FIELD=VALUE edits of its request, checked by a dry
//! run on enter (the result opens a confirm with the diff, or comes back
//! here with the reason).

use crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::Frame;

use super::text_input::{InputKey, TextInput};
use super::Step;
use crate::engine::fleet::levers::{self, Command};
use crate::tui::app::App;
use crate::tui::dialog::{render_input, InputBox};

#[derive(Debug, Clone, PartialEq)]
pub struct EditEntry {
    pub partition: i32,
    pub id: i64,
    pub input: TextInput,
}

impl EditEntry {
    pub fn on_key(&mut self, key: KeyEvent, app: &mut App) -> Step {
        match self.input.on_key(key) {
            InputKey::Cancel => Step::Close,
            InputKey::Submit => match crate::engine::dlq::edit::parse_changes(&self.input.text) {
                Ok(changes) => {
                    app.edit_draft = Some((self.partition, self.id, self.input.text.clone()));
                    Step::Send(
                        vec![Command::EditReplay(levers::EditReplay {
                            partition: self.partition,
                            id: self.id,
                            changes,
                            dry_run: true,
                        })],
                        Some("checking the edited request…".into()),
                    )
                }
                Err(e) => {
                    self.input.refuse(e);
                    Step::Stay
                }
            },
            InputKey::Edited | InputKey::Other => Step::Stay,
        }
    }

    pub fn render(&self, f: &mut Frame, area: Rect, app: &App) {
        render_input(
            f,
            area,
            app,
            &InputBox {
                title: &format!("Edit DLQ entry {} and replay", self.id),
                prompt: "",
                input: &self.input.text,
                error: self.input.error.as_deref(),
                hint: "project_name= file_path= enrichment_type= retry_count= (quote values with spaces) — enter checks, esc cancels",
            },
        )
    }
}
