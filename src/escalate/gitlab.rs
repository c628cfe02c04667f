//! GitLab issues through the REST API v4: find the issue of a ticket (by its number in the
//! title) and create one. Blocking, with timeouts; the token goes only into the PRIVATE-TOKEN
//! header and never into an error.

use std::time::Duration;

use serde::Deserialize;

use super::EscalateError;
use crate::secret::Secret;

pub struct Gitlab {
    api: String,
    /// The project id or path as the URL needs it (`group%2Fproject`).
    project: String,
    token: Secret,
    http: reqwest::blocking::Client,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Issue {
    pub iid: i64,
    pub web_url: String,
    pub title: String,
}

/// The title of a ticket's issue; the tag is how a later attempt finds it again.
pub fn title(number: &str, subject: &str) -> String {
    let mut s: String = subject.chars().take(200).collect();
    if s.len() < subject.len() {
        s.push('…');
    }
    format!("[{number}] {s}")
}

impl Gitlab {
    pub fn new(
        base_url: &str,
        project: &str,
        token: Secret,
        timeout: Duration,
    ) -> Result<Gitlab, EscalateError> {
        let http = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| EscalateError::Config {
                key: "escalation.gitlab".into(),
                message: format!("cannot set up the HTTP client: {e}"),
            })?;
        Ok(Gitlab {
            api: format!("{}/api/v4", base_url.trim_end_matches('/')),
            project: encode_path(project.trim()),
            token,
            http,
        })
    }

    fn issues_url(&self) -> String {
        format!("{}/projects/{}/issues", self.api, self.project)
    }

    /// The issue whose title carries `[number]`, open or closed, if there is one.
    pub fn find(&self, number: &str) -> Result<Option<Issue>, EscalateError> {
        let tag = format!("[{number}]");
        let response = self
            .http
            .get(self.issues_url())
            .header("PRIVATE-TOKEN", self.token.expose())
            .query(&[
                ("search", number),
                ("in", "title"),
                ("state", "all"),
                ("per_page", "100"),
            ])
            .send()
            .map_err(|e| http_error("searching the GitLab issues", e))?;
        let issues: Vec<Issue> = read(response, "searching the GitLab issues")?;
        Ok(issues.into_iter().find(|i| i.title.contains(&tag)))
    }

    pub fn create(
        &self,
        title: &str,
        description: &str,
        labels: &[String],
    ) -> Result<Issue, EscalateError> {
        let labels: Vec<String> = labels.iter().map(|l| l.replace(',', " ")).collect();
        let body = serde_json::json!({
            "title": title,
            "description": description,
            "labels": labels.join(","),
        });
        let response = self
            .http
            .post(self.issues_url())
            .header("PRIVATE-TOKEN", self.token.expose())
            .json(&body)
            .send()
            .map_err(|e| http_error("creating the GitLab issue", e))?;
        read(response, "creating the GitLab issue")
    }
}

fn read<T: serde::de::DeserializeOwned>(
    response: reqwest::blocking::Response,
    step: &str,
) -> Result<T, EscalateError> {
    let status = response.status();
    if status.is_success() {
        return response.json().map_err(|e| EscalateError::Gitlab {
            step: step.into(),
            message: format!(
                "the answer was not the JSON GitLab sends: {}",
                e.without_url()
            ),
            retryable: true,
        });
    }
    let text = response.text().unwrap_or_default();
    let detail = short(&text);
    let (message, retryable) = match status.as_u16() {
        401 => (
            "GitLab rejected the token (401 Unauthorized); check [escalation.gitlab] token_env \
             or token_command: the token must be valid and have the `api` scope"
                .to_owned(),
            false,
        ),
        403 => (
            format!(
                "GitLab refused (403 Forbidden{detail}); the token's user needs at least the \
                 Reporter role in the project"
            ),
            false,
        ),
        404 => (
            format!(
                "GitLab found no such project (404{detail}); check [escalation.gitlab] project \
                 and that the token's user can see it"
            ),
            false,
        ),
        429 => (
            "GitLab is rate limiting (429); it is retried later".to_owned(),
            true,
        ),
        s => (format!("GitLab answered {s}{detail}"), s >= 500),
    };
    Err(EscalateError::Gitlab {
        step: step.into(),
        message,
        retryable,
    })
}

/// An HTTP failure without the URL (a webhook URL holds a secret).
pub(super) fn http_error(step: &str, e: reqwest::Error) -> EscalateError {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    let e = e.without_url();
    let mut cause = String::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(&e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    EscalateError::Http {
        step: step.into(),
        message: if cause.is_empty() {
            kind.to_owned()
        } else {
            format!("{kind}: {cause}")
        },
    }
}

/// The first line of an error body, cut short and cleaned, as `: …` (empty when there is none).
fn short(text: &str) -> String {
    let line: String = crate::mail::sanitize::clean_line(text.lines().next().unwrap_or(""))
        .chars()
        .take(200)
        .collect();
    if line.trim().is_empty() {
        String::new()
    } else {
        format!(": {}", line.trim())
    }
}

/// A project path as one URL path segment (`group/sub project` → `group%2Fsub%20project`).
fn encode_path(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_paths_are_one_segment_and_titles_carry_the_tag() {
        assert_eq!(encode_path("42"), "42");
        assert_eq!(encode_path("group/sub project"), "group%2Fsub%20project");
        assert_eq!(title("TKT-2026-00001", "Help"), "[TKT-2026-00001] Help");
        let long = "x".repeat(300);
        assert_eq!(title("T-1", &long).chars().count(), "[T-1] ".len() + 201);
    }
}
