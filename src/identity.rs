//! Who and where this process is: the host and user name for member ids and
//! the audit trail.

/// This machine's host name ("localhost" if it cannot be read).
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates
    // within it on success (we stop at the first NUL either way).
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let name = if rc == 0 {
        let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        String::new()
    };
    let name = crate::sanitize::clean(name.trim());
    if name.is_empty() {
        "localhost".into()
    } else {
        name
    }
}

/// The operator's user name (USER / LOGNAME), "unknown" if unset.
pub fn user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .map(|u| crate::sanitize::clean(u.trim()))
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// `user@host`: the actor of a console or CLI action.
pub fn actor() -> String {
    format!("{}@{}", user(), hostname())
}

/// A member id unique in the fleet while the process runs: `host-pid`.
pub fn default_member_id() -> String {
    let host: String = hostname()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .take(100)
        .collect();
    format!("{host}-{}", std::process::id())
}

/// Is `id` usable as a member id (a record key, a URL segment, a CLI word)?
pub fn valid_member_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_member_id_is_a_valid_one() {
        assert!(valid_member_id(&default_member_id()));
        assert!(!valid_member_id("a/b"));
        assert!(!valid_member_id(""));
        assert!(!valid_member_id("\x1b[2J"));
    }
}
