//! `:`: the command palette (its grammar is `tui::palette`); enter runs
//! the command or says why not. Tab completes a command (listing the
//! choices when several fit), ↑/↓ recall the commands run before.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::Frame;

use super::text_input::{InputKey, TextInput};
use super::Step;
use crate::tui::app::App;
use crate::tui::dialog::{render_input, InputBox};

/// Commands kept for ↑/↓ (this session's, newest last).
const HISTORY: usize = 100;

pub fn on_key(input: &mut TextInput, key: KeyEvent, app: &mut App) -> Step {
    match key.code {
        KeyCode::Tab => {
            let (text, choices) = crate::tui::palette::complete(&input.text);
            input.text = text;
            input.error = None;
            app.palette_hint = (choices.len() > 1).then(|| choices.join(" · "));
            return Step::Stay;
        }
        KeyCode::Up | KeyCode::Down => {
            let h = &app.palette_history;
            let at = match (key.code, app.palette_recall) {
                (KeyCode::Up, None) => h.len().checked_sub(1),
                (KeyCode::Up, Some(i)) => Some(i.saturating_sub(1)),
                (_, Some(i)) if i + 1 < h.len() => Some(i + 1),
                _ => None,
            };
            app.palette_recall = at;
            input.text = at.map(|i| h[i].clone()).unwrap_or_default();
            input.error = None;
            return Step::Stay;
        }
        _ => {}
    }
    app.palette_hint = None;
    match input.on_key(key) {
        InputKey::Cancel => {
            app.palette_recall = None;
            Step::Close
        }
        InputKey::Submit => {
            let typed = input.text.trim().to_string();
            if !typed.is_empty() && app.palette_history.last() != Some(&typed) {
                app.palette_history.push(typed);
                if app.palette_history.len() > HISTORY {
                    app.palette_history.remove(0);
                }
            }
            app.palette_recall = None;
            match crate::tui::palette::parse(&input.text, &app.dlq.filter) {
                Ok(action) => Step::Palette(action),
                Err(e) => {
                    input.refuse(e);
                    Step::Stay
                }
            }
        }
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
            hint: app.palette_hint.as_deref().unwrap_or(
                "tab completes · ↑/↓ history · rollout 25 · concurrency 40 · ? lists all",
            ),
        },
    )
}

#[cfg(test)]
mod tests {
    use crate::tui::app::Focus;
    use crate::tui::fixture::app;
    use crate::tui::overlays::Overlay;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    fn typed(a: &crate::tui::app::App) -> String {
        match &a.overlay {
            Overlay::Palette(i) => i.text.clone(),
            other => panic!("no palette: {other:?}"),
        }
    }

    #[test]
    fn tab_completes_and_arrows_recall_what_ran() {
        let mut a = app(Focus::Lag);
        for command in ["pause", "concurrency 12"] {
            a.on_key(key(KeyCode::Char(':')));
            for c in command.chars() {
                a.on_key(key(KeyCode::Char(c)));
            }
            assert!(!a.on_key(key(KeyCode::Enter)).is_empty(), "{command} runs");
        }
        a.on_key(key(KeyCode::Char(':')));
        a.on_key(key(KeyCode::Up));
        assert_eq!(typed(&a), "concurrency 12");
        a.on_key(key(KeyCode::Up));
        assert_eq!(typed(&a), "pause");
        a.on_key(key(KeyCode::Up));
        assert_eq!(typed(&a), "pause", "stays on the oldest");
        a.on_key(key(KeyCode::Down));
        assert_eq!(typed(&a), "concurrency 12");
        a.on_key(key(KeyCode::Down));
        assert_eq!(typed(&a), "", "past the newest: an empty line");
        for c in "ro".chars() {
            a.on_key(key(KeyCode::Char(c)));
        }
        a.on_key(key(KeyCode::Tab));
        assert_eq!(typed(&a), "roll");
        let hint = a.palette_hint.clone().expect("the choices are listed");
        assert!(
            hint.contains("rollback") && hint.contains("rollout"),
            "{hint}"
        );
        a.on_key(key(KeyCode::Char('b')));
        a.on_key(key(KeyCode::Tab));
        assert_eq!(typed(&a), "rollback ");
        assert!(a.palette_hint.is_none());
    }
}
