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

/// The operator named for this process (`--operator`, ARCHON_OPERATOR).
static OPERATOR: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Name the operator this process acts for (the audit trail's actor);
/// refused unless 1..=64 printable characters without spaces.
pub fn set_operator(name: &str) -> Result<(), String> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > 64
        || name.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(format!(
            "ARCHON_OPERATOR (--operator) must be 1..=64 printable characters without spaces, got {:?}",
            crate::sanitize::clean(name)
        ));
    }
    // A second call (tests, the bench) keeps the first name.
    let _kept = OPERATOR.set(name.to_string()).is_ok();
    Ok(())
}

/// The operator's name: `--operator`, else USER / LOGNAME, else the login
/// name of this process's user id, else `uid N`: never "unknown".
pub fn user() -> String {
    if let Some(o) = OPERATOR.get() {
        return o.clone();
    }
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .map(|u| crate::sanitize::clean(u.trim()))
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(login_name)
        .unwrap_or_else(|| format!("uid {}", current_uid()))
}

fn current_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// The user database's name for this process's user id.
fn login_name() -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 4096];
    // SAFETY: an all-zero passwd is a valid value to be overwritten.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the lengths given; on success
    // `found` points at `pwd`, whose strings live in `buf`.
    let rc = unsafe {
        libc::getpwuid_r(
            current_uid(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    if rc != 0 || found.is_null() || pwd.pw_name.is_null() {
        return None;
    }
    // SAFETY: pw_name is a NUL-terminated string inside `buf`.
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) }.to_string_lossy();
    let name = crate::sanitize::clean(name.trim());
    (!name.is_empty()).then_some(name)
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
