//! The bearer token that guards the control endpoints: ARCHON_CONTROL_TOKEN,
//! or a random one generated on first start into the data dir (0600), kept
//! for later starts so scripts can read it.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rand::RngCore;
use subtle::ConstantTimeEq;

pub const TOKEN_FILE: &str = "control-token";
/// Shorter than this is guessable; refuse it.
const MIN_LEN: usize = 16;

#[derive(Clone)]
pub struct ControlToken(String);

/// The scopes are the levers' (a lever's spec names the one it needs).
pub use crate::engine::fleet::levers::Scope;

/// The tokens an HTTP server accepts, each with its scope:
/// ARCHON_CONTROL_TOKEN (or the generated control-token file) is `admin`,
/// ARCHON_OPERATOR_TOKEN is `control`, ARCHON_WRITE_TOKEN is `write` (the
/// bridge API: send documents, pull no lever), ARCHON_READ_TOKEN is `read`.
/// A scope includes those below it (read < write < control < admin).
#[derive(Clone, Debug)]
pub struct Tokens(Vec<(Scope, ControlToken)>);

impl Tokens {
    pub fn new(tokens: Vec<(Scope, ControlToken)>) -> Self {
        Self(tokens)
    }

    /// The scope an `Authorization` header carries, if it carries a token.
    pub fn scope_of(&self, authorization: Option<&str>) -> Option<Scope> {
        self.0
            .iter()
            .filter(|(_, t)| t.admits(authorization))
            .map(|(s, _)| *s)
            .max()
    }

    /// All tokens: the admin token from `data_dir`'s file or
    /// ARCHON_CONTROL_TOKEN, and the scoped ones from their env values.
    pub fn load(
        data_dir: &Path,
        admin_env: Option<&str>,
        operator_env: Option<&str>,
        write_env: Option<&str>,
        read_env: Option<&str>,
    ) -> Result<(Self, TokenSource)> {
        let (admin, source) = ControlToken::load(data_dir, admin_env)?;
        let mut all = vec![(Scope::Admin, admin)];
        for (scope, name, v) in [
            (Scope::Control, "ARCHON_OPERATOR_TOKEN", operator_env),
            (Scope::Write, "ARCHON_WRITE_TOKEN", write_env),
            (Scope::Read, "ARCHON_READ_TOKEN", read_env),
        ] {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                let t = ControlToken::new(v).with_context(|| name.to_string())?;
                all.push((scope, t));
            }
        }
        Ok((Self(all), source))
    }
}

impl std::fmt::Debug for ControlToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ControlToken(<redacted>)")
    }
}

/// Where the token came from, for the startup message (never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    Env,
    File { path: PathBuf, created: bool },
}

impl ControlToken {
    pub fn new(token: &str) -> Result<Self> {
        let t = token.trim();
        if t.len() < MIN_LEN || !t.bytes().all(|b| b.is_ascii_graphic()) {
            bail!(
                "ARCHON_CONTROL_TOKEN must be at least {MIN_LEN} printable characters without spaces"
            );
        }
        Ok(Self(t.to_string()))
    }

    /// Does an `Authorization` header value carry this token?
    pub fn admits(&self, authorization: Option<&str>) -> bool {
        let Some(given) = authorization.and_then(|h| h.strip_prefix("Bearer ")) else {
            return false;
        };
        bool::from(given.trim().as_bytes().ct_eq(self.0.as_bytes()))
    }

    /// The env value when set, else the data dir's file (made if missing).
    pub fn load(data_dir: &Path, env: Option<&str>) -> Result<(Self, TokenSource)> {
        if let Some(t) = env.filter(|t| !t.is_empty()) {
            return Ok((Self::new(t)?, TokenSource::Env));
        }
        let path = data_dir.join(TOKEN_FILE);
        let created = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode_0600()
            .open(&path)
        {
            Ok(mut f) => {
                let mut bytes = [0u8; 32];
                rand::rng().fill_bytes(&mut bytes);
                let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                f.write_all(token.as_bytes())
                    .and_then(|_| f.sync_all())
                    .with_context(|| format!("cannot write {}", path.display()))?;
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
        };
        check_private(&path)?;
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let token = Self::new(&text).with_context(|| format!("in {}", path.display()))?;
        Ok((token, TokenSource::File { path, created }))
    }
}

trait Mode0600 {
    fn mode_0600(&mut self) -> &mut Self;
}

impl Mode0600 for std::fs::OpenOptions {
    fn mode_0600(&mut self) -> &mut Self {
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(self, 0o600);
        self
    }
}

/// Like ssh with a private key: a token others can read is refused.
fn check_private(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            bail!(
                "{} is readable by other users (mode {:o}); run `chmod 600 {}`",
                path.display(),
                mode & 0o777,
                path.display()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_token_carries_its_scope() {
        let dir = tempfile::tempdir().unwrap();
        let (t, _) = Tokens::load(
            dir.path(),
            Some("admin-token-0123456789"),
            Some("operator-token-0123456"),
            Some("write-token-0123456789"),
            Some("read-token-0123456789"),
        )
        .unwrap();
        let scope = |tok: &str| t.scope_of(Some(&format!("Bearer {tok}")));
        assert_eq!(scope("admin-token-0123456789"), Some(Scope::Admin));
        assert_eq!(scope("operator-token-0123456"), Some(Scope::Control));
        assert_eq!(scope("write-token-0123456789"), Some(Scope::Write));
        assert_eq!(scope("read-token-0123456789"), Some(Scope::Read));
        assert_eq!(scope("nobody-0123456789abc"), None);
        assert!(Tokens::load(
            dir.path(),
            Some("admin-token-0123456789"),
            Some("short"),
            None,
            None
        )
        .is_err());
    }

    #[test]
    fn generated_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (t1, s1) = ControlToken::load(dir.path(), None).unwrap();
        assert!(matches!(s1, TokenSource::File { created: true, .. }));
        let (t2, s2) = ControlToken::load(dir.path(), None).unwrap();
        assert!(matches!(s2, TokenSource::File { created: false, .. }));
        assert_eq!(t1.0, t2.0);
        assert_eq!(t1.0.len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(TOKEN_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(t1.admits(Some(&format!("Bearer {}", t1.0))));
        assert!(!t1.admits(Some(&format!("Bearer {}x", t1.0))));
        assert!(!t1.admits(Some(&t1.0)));
        assert!(!t1.admits(None));
        assert!(!format!("{t1:?}").contains(&t1.0));
    }

    #[test]
    fn env_wins_and_weak_tokens_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (t, s) = ControlToken::load(dir.path(), Some("0123456789abcdef-token")).unwrap();
        assert_eq!(s, TokenSource::Env);
        assert!(t.admits(Some("Bearer 0123456789abcdef-token")));
        assert!(!dir.path().join(TOKEN_FILE).exists());
        let e = ControlToken::load(dir.path(), Some("short")).unwrap_err();
        assert!(e.to_string().contains("ARCHON_CONTROL_TOKEN"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn a_token_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TOKEN_FILE);
        std::fs::write(&path, "0123456789abcdef0123").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = ControlToken::load(dir.path(), None).unwrap_err();
        assert!(format!("{e:#}").contains("chmod 600"), "{e:#}");
    }
}
