//! Saved views: a named DLQ filter and console layout (the focused panel,
//! entries or groups), kept in `views.toml` in the config dir so the
//! operator's "timeouts of project web, grouped" is one `:view NAME` (or
//! `--view NAME`) away in every console on this machine. `:view save NAME`
//! writes one; `archon-tui views` lists them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

pub const FILE: &str = "views.toml";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct View {
    /// The DLQ filter as typed after `/` (empty: none).
    #[serde(default)]
    pub dlq_filter: String,
    /// The DLQ panel shows error-fingerprint groups (`v`).
    #[serde(default)]
    pub grouped: bool,
    /// The focused panel by its tab name ("Lag", "DLQ", …).
    #[serde(default)]
    pub focus: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ViewsFile {
    #[serde(default)]
    views: BTreeMap<String, View>,
}

/// Where views are kept: `views.toml` in the config dir.
pub fn default_path() -> Result<PathBuf> {
    super::project_dirs()
        .map(|d| d.config_dir().join(FILE))
        .context("no config dir on this system for saved views")
}

/// A view's name: 1..=64 letters, digits, `-`, `_` or `.`.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "a view name is 1..=64 letters, digits, '-', '_' or '.', got {:?}",
            crate::sanitize::clean(name)
        ))
    }
}

/// Every saved view (none when the file does not exist yet).
pub fn load(path: &Path) -> Result<BTreeMap<String, View>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let f: ViewsFile =
        toml::from_str(&text).with_context(|| format!("views file {}", path.display()))?;
    Ok(f.views)
}

/// The view `name`, or an error naming the views there are.
pub fn get(path: &Path, name: &str) -> Result<View, String> {
    let views = load(path).map_err(|e| format!("{e:#}"))?;
    views.get(name).cloned().ok_or_else(|| {
        let known: Vec<&str> = views.keys().map(String::as_str).collect();
        format!(
            "no view {:?}; saved views: {}",
            crate::sanitize::clean(name),
            if known.is_empty() {
                "none yet (`:view save NAME`)".to_string()
            } else {
                known.join(", ")
            }
        )
    })
}

/// Save `view` as `name` (replacing one of that name), atomically.
pub fn save(path: &Path, name: &str, view: View) -> Result<()> {
    check_name(name).map_err(anyhow::Error::msg)?;
    let mut views = load(path)?;
    views.insert(name.to_string(), view);
    let text = toml::to_string(&ViewsFile { views })?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let tmp = path.with_extension("toml.partial");
    std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_round_trip_and_unknown_names_list_the_known_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(FILE);
        assert!(load(&path).unwrap().is_empty());
        let v = View {
            dlq_filter: "type:Timeout project:web".into(),
            grouped: true,
            focus: "DLQ".into(),
        };
        save(&path, "timeouts", v.clone()).unwrap();
        save(
            &path,
            "lag",
            View {
                focus: "Lag".into(),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(get(&path, "timeouts").unwrap(), v);
        let e = get(&path, "nope").unwrap_err();
        assert!(e.contains("lag, timeouts"), "{e}");
        assert!(save(&path, "bad name", v).is_err());
        assert!(check_name(&"x".repeat(65)).is_err());
    }
}
