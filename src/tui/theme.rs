//! Colour themes: TOML files. Built in: dark (default), light, high-contrast;
//! a file `themes/NAME.toml` in the config dir overrides or adds one.

use std::str::FromStr;

use anyhow::{bail, Context, Result};
use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

const BUILT_IN: [(&str, &str); 3] = [
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: String,
    background: String,
    foreground: String,
    muted: String,
    accent: String,
    border: String,
    border_focused: String,
    ok: String,
    warn: String,
    error: String,
    selection_bg: String,
    selection_fg: String,
    header_bg: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    pub background: Color,
    pub foreground: Color,
    pub muted: Color,
    pub accent: Color,
    pub border: Color,
    pub border_focused: Color,
    pub ok: Color,
    pub warn: Color,
    pub error: Color,
    pub selection_bg: Color,
    pub selection_fg: Color,
    pub header_bg: Color,
}

fn color(field: &str, v: &str) -> Result<Color> {
    Color::from_str(v).map_err(|_| {
        anyhow::anyhow!("theme colour {field} = {v:?} is not a colour name or #rrggbb")
    })
}

impl Theme {
    pub fn parse(text: &str) -> Result<Self> {
        let f: ThemeFile = toml::from_str(text).context("invalid theme file")?;
        Ok(Self {
            background: color("background", &f.background)?,
            foreground: color("foreground", &f.foreground)?,
            muted: color("muted", &f.muted)?,
            accent: color("accent", &f.accent)?,
            border: color("border", &f.border)?,
            border_focused: color("border_focused", &f.border_focused)?,
            ok: color("ok", &f.ok)?,
            warn: color("warn", &f.warn)?,
            error: color("error", &f.error)?,
            selection_bg: color("selection_bg", &f.selection_bg)?,
            selection_fg: color("selection_fg", &f.selection_fg)?,
            header_bg: color("header_bg", &f.header_bg)?,
            name: f.name,
        })
    }

    pub fn names() -> Vec<&'static str> {
        BUILT_IN.iter().map(|(n, _)| *n).collect()
    }

    /// The user's `themes/NAME.toml` in the config dir if present, else built in.
    pub fn load(name: &str) -> Result<Self> {
        if let Some(dirs) = crate::config::project_dirs() {
            let user = dirs
                .config_dir()
                .join("themes")
                .join(format!("{name}.toml"));
            if user.exists() {
                let text = std::fs::read_to_string(&user)?;
                return Self::parse(&text)
                    .with_context(|| format!("theme file {}", user.display()));
            }
        }
        match BUILT_IN.iter().find(|(n, _)| *n == name) {
            Some((_, text)) => Self::parse(text),
            None => bail!(
                "unknown theme {name:?}; built-in themes: {}",
                Self::names().join(", ")
            ),
        }
    }

    pub fn dark() -> Self {
        Self::parse(BUILT_IN[0].1).expect("built-in theme parses")
    }

    pub fn base(&self) -> Style {
        Style::default().fg(self.foreground).bg(self.background)
    }
    pub fn muted(&self) -> Style {
        Style::default().fg(self.muted)
    }
    pub fn accent(&self) -> Style {
        Style::default()
            .fg(self.accent)
            .add_modifier(Modifier::BOLD)
    }
    /// The style of a state's tone.
    pub fn tone(&self, tone: crate::engine::telemetry::state::Tone) -> Style {
        use crate::engine::telemetry::state::Tone;
        match tone {
            Tone::Ok => self.ok(),
            Tone::Warn => self.warn(),
            Tone::Error => self.error(),
        }
    }

    pub fn ok(&self) -> Style {
        Style::default().fg(self.ok)
    }
    pub fn warn(&self) -> Style {
        Style::default().fg(self.warn)
    }
    pub fn error(&self) -> Style {
        Style::default().fg(self.error).add_modifier(Modifier::BOLD)
    }
    pub fn selected(&self) -> Style {
        Style::default().fg(self.selection_fg).bg(self.selection_bg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_ins_parse_and_unknown_names_are_explained() {
        for n in Theme::names() {
            assert_eq!(Theme::load(n).unwrap().name, n);
        }
        let err = Theme::load("neon").unwrap_err().to_string();
        assert!(
            err.contains("neon") && err.contains("high-contrast"),
            "{err}"
        );
        assert!(Theme::parse("name = 1").is_err());
        let bad = include_str!("../../themes/dark.toml").replace("#7aa2f7", "not-a-colour");
        assert!(Theme::parse(&bad)
            .unwrap_err()
            .to_string()
            .contains("accent"));
    }
}
