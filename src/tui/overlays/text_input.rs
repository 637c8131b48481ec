//! The one text input every typing overlay shares (filter, palette, edit,
//! typed confirm): the text, the reason it was refused, and the keys that
//! edit it.

use crossterm::event::{KeyCode, KeyEvent};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TextInput {
    pub text: String,
    /// Why the text was refused (shown instead of the hint).
    pub error: Option<String>,
}

/// What a key did to the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKey {
    /// The text changed (the error is cleared).
    Edited,
    /// Enter.
    Submit,
    /// Esc.
    Cancel,
    /// Not an editing key.
    Other,
}

impl TextInput {
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            error: None,
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) -> InputKey {
        match key.code {
            KeyCode::Esc => InputKey::Cancel,
            KeyCode::Enter => InputKey::Submit,
            KeyCode::Backspace => {
                self.text.pop();
                self.error = None;
                InputKey::Edited
            }
            KeyCode::Char(c) => {
                self.text.push(c);
                self.error = None;
                InputKey::Edited
            }
            _ => InputKey::Other,
        }
    }

    pub fn refuse(&mut self, why: impl Into<String>) {
        self.error = Some(why.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    #[test]
    fn edits_clear_the_error_and_enter_and_esc_are_answers() {
        let key = |c| KeyEvent::new(c, KeyModifiers::NONE);
        let mut t = TextInput::new("ab");
        t.refuse("no");
        assert_eq!(t.on_key(key(KeyCode::Char('c'))), InputKey::Edited);
        assert_eq!((t.text.as_str(), t.error.as_deref()), ("abc", None));
        assert_eq!(t.on_key(key(KeyCode::Backspace)), InputKey::Edited);
        assert_eq!(t.text, "ab");
        assert_eq!(t.on_key(key(KeyCode::Enter)), InputKey::Submit);
        assert_eq!(t.on_key(key(KeyCode::Esc)), InputKey::Cancel);
        assert_eq!(t.on_key(key(KeyCode::Up)), InputKey::Other);
    }
}
