//! Secrets (passwords, tokens, API keys) as a type whose `Debug` and `Display` never show them,
//! and the ways to obtain one: a command's first output line or an environment variable.

use std::process::{Command, Stdio};

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "{key}: the command could not be started ({source}); check that it exists and runs in a shell"
    )]
    Spawn { key: String, source: std::io::Error },
    #[error("{key}: the command exited with {status}{stderr}; run it by hand to see why")]
    Failed {
        key: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("{key}: the command printed nothing")]
    Empty { key: String },
    #[error("{key}: the environment variable {var} is not set")]
    MissingEnv { key: String, var: String },
}

/// Runs `command` through `sh -c` and takes the first line of its output. `key` names the
/// config key in errors (`[imap] password_command`); the output never appears in one.
pub fn from_command(key: &str, command: &str) -> Result<Secret, SecretError> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|source| SecretError::Spawn {
            key: key.into(),
            source,
        })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().next().unwrap_or("").trim();
        return Err(SecretError::Failed {
            key: key.into(),
            status: out.status,
            stderr: if first.is_empty() {
                String::new()
            } else {
                format!(" ({first})")
            },
        });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if line.is_empty() {
        return Err(SecretError::Empty { key: key.into() });
    }
    Ok(Secret(line.to_owned()))
}

pub fn from_env(key: &str, var: &str) -> Result<Secret, SecretError> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(Secret(v)),
        _ => Err(SecretError::MissingEnv {
            key: key.into(),
            var: var.into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_first_line_and_errors_never_show_the_secret() {
        let s = from_command("[imap] password_command", "printf 'hunter2\\nsecond\\n'").unwrap();
        assert_eq!(s.expose(), "hunter2");
        assert_eq!(format!("{s:?}"), "Secret(…)");
        let e = from_command("[imap] password_command", "echo hunter2; exit 3").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("[imap] password_command") && msg.contains("exit"),
            "{msg}"
        );
        assert!(!msg.contains("hunter2"));
        assert!(from_command("k", "true").is_err());
        assert!(from_env("k", "HELPDESK_SURELY_UNSET_VAR").is_err());
    }
}
