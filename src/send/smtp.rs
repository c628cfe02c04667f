//! One SMTP session for a whole flush: lettre's `SmtpConnection`, so that 200 replies go over
//! one connection and one login, and each message gets its own reply code.

use std::path::PathBuf;
use std::time::Duration;

use lettre::Address;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, SmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;

use crate::mail::imap::Security;
use crate::secret::Secret;

#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub ca_file: Option<PathBuf>,
    pub accept_invalid_certs: bool,
    pub username: String,
    pub password: Secret,
    pub timeout: Duration,
}

/// Why a session could not be opened: the messages stay queued.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "cannot reach the SMTP server {host}:{port} ({detail}); check [smtp] host, port and security (465 tls, 587 starttls) and the network; queued mail waits"
    )]
    Unreachable {
        host: String,
        port: u16,
        detail: String,
    },
    #[error(
        "the SMTP server {host} refused the login of {user} ({detail}); check [smtp] username and password_command, then run `helpdesk doctor`"
    )]
    Login {
        host: String,
        user: String,
        detail: String,
    },
    #[error("TLS settings for {host}: {detail}; check [smtp] tls_ca_file")]
    Tls { host: String, detail: String },
    #[error("[smtp] security = \"none\" is only allowed for a loopback host, not {0}")]
    Plaintext(String),
}

/// The server's answer to one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: the server took responsibility for it.
    Accepted(String),
    /// 4xx or a network failure: try again later.
    Temporary(String),
    /// 5xx: the server will not take it.
    Permanent(String),
}

pub struct Session {
    conn: SmtpConnection,
    host: String,
}

fn tls_parameters(s: &SmtpSettings) -> Result<TlsParameters, ConnectError> {
    let tls = |detail: String| ConnectError::Tls {
        host: s.host.clone(),
        detail,
    };
    let mut b = TlsParameters::builder(s.host.clone());
    if let Some(path) = &s.ca_file {
        let pem = std::fs::read(path).map_err(|e| tls(format!("{}: {e}", path.display())))?;
        b = b.add_root_certificate(
            Certificate::from_pem(&pem).map_err(|e| tls(format!("{}: {e}", path.display())))?,
        );
    }
    b.dangerous_accept_invalid_certs(s.accept_invalid_certs)
        .build()
        .map_err(|e| tls(e.to_string()))
}

impl Session {
    /// Connects, secures (implicit TLS or STARTTLS; plaintext only to loopback) and logs in.
    pub fn open(s: &SmtpSettings) -> Result<Session, ConnectError> {
        let unreachable = |detail: String| ConnectError::Unreachable {
            host: s.host.clone(),
            port: s.port,
            detail,
        };
        let hello = ClientId::default();
        let timeout = Some(s.timeout);
        let addr = (s.host.as_str(), s.port);
        let mut conn = match s.security {
            Security::Tls => {
                let p = tls_parameters(s)?;
                SmtpConnection::connect(addr, timeout, &hello, Some(&p), None)
                    .map_err(|e| unreachable(e.to_string()))?
            }
            Security::Starttls => {
                let p = tls_parameters(s)?;
                let mut c = SmtpConnection::connect(addr, timeout, &hello, None, None)
                    .map_err(|e| unreachable(e.to_string()))?;
                if !c.can_starttls() {
                    c.abort();
                    return Err(unreachable(
                        "the server does not offer STARTTLS; use security = \"tls\" on port 465"
                            .into(),
                    ));
                }
                c.starttls(&p, &hello)
                    .map_err(|e| unreachable(format!("STARTTLS: {e}")))?;
                c
            }
            Security::None => {
                if !crate::config::is_loopback(&s.host) {
                    return Err(ConnectError::Plaintext(s.host.clone()));
                }
                SmtpConnection::connect(addr, timeout, &hello, None, None)
                    .map_err(|e| unreachable(e.to_string()))?
            }
        };
        let creds = Credentials::new(s.username.clone(), s.password.expose().to_owned());
        if let Err(e) = conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds) {
            conn.abort();
            return Err(ConnectError::Login {
                host: s.host.clone(),
                user: s.username.clone(),
                detail: e.to_string(),
            });
        }
        Ok(Session {
            conn,
            host: s.host.clone(),
        })
    }

    /// Sends one message. After a failure the session may be broken: see [`Session::is_broken`].
    pub fn send(&mut self, from: &str, to: &[String], raw: &[u8]) -> Outcome {
        let envelope = match envelope(from, to) {
            Ok(e) => e,
            Err(e) => return Outcome::Permanent(e),
        };
        match self.transaction(&envelope, raw) {
            Ok(r) => Outcome::Accepted(format!(
                "{} {}",
                r.code(),
                r.message().collect::<Vec<_>>().join(" ")
            )),
            Err(e) => {
                let text = match e.status() {
                    Some(code) => {
                        let detail = e.to_string();
                        let detail = detail.split_once("): ").map_or(detail.as_str(), |(_, d)| d);
                        format!("{code} {detail} (from {})", self.host)
                    }
                    None => format!("{e} (talking to {})", self.host),
                };
                if e.is_permanent() {
                    Outcome::Permanent(text)
                } else {
                    Outcome::Temporary(text)
                }
            }
        }
    }

    /// MAIL, RCPT, DATA and the message. Like lettre's `SmtpConnection::send`, except that the
    /// message and its final dot go out in one write: lettre writes the dot apart, and with
    /// Nagle's algorithm and the server's delayed ACK each message then waits ~40 ms.
    fn transaction(
        &mut self,
        envelope: &Envelope,
        raw: &[u8],
    ) -> Result<lettre::transport::smtp::response::Response, lettre::transport::smtp::Error> {
        use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
        use lettre::transport::smtp::extension::{Extension, MailBodyParameter, MailParameter};
        let Some(data) = dot_stuffed(raw) else {
            return self.conn.send(envelope, raw);
        };
        let mut options = Vec::new();
        if !raw.is_ascii()
            && self
                .conn
                .server_info()
                .supports_feature(Extension::EightBitMime)
        {
            options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let result = (|| {
            self.conn
                .command(Mail::new(envelope.from().cloned(), options))?;
            for to in envelope.to() {
                self.conn.command(Rcpt::new(to.clone(), vec![]))?;
            }
            self.conn.command(Data)?;
            self.conn.command(data)
        })();
        if result.is_err() {
            // As lettre does: the session is in an unknown state; the next message reconnects.
            self.conn.abort();
        }
        result
    }

    pub fn is_broken(&self) -> bool {
        self.conn.has_broken()
    }

    pub fn quit(mut self) {
        let _ = self.conn.quit();
    }
}

/// The DATA payload: CRLF line ends, leading dots doubled, and the final `.` line. `None` when
/// the message is not UTF-8 text (then lettre's own path sends it).
fn dot_stuffed(raw: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(raw).ok()?;
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.strip_suffix('\n').unwrap_or(text).split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str(".\r\n");
    Some(out)
}

fn envelope(from: &str, to: &[String]) -> Result<Envelope, String> {
    let from: Address = from
        .parse()
        .map_err(|e| format!("the sender address {from:?} is not valid: {e}"))?;
    let to = to
        .iter()
        .map(|t| {
            t.parse::<Address>()
                .map_err(|e| format!("the recipient address {t:?} is not valid: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Envelope::new(Some(from), to).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn dot_stuffing_doubles_leading_dots_and_ends_with_the_dot_line() {
        assert_eq!(
            super::dot_stuffed(b"A: b\r\n\r\n.hidden\n..two\nend").unwrap(),
            "A: b\r\n\r\n..hidden\r\n...two\r\nend\r\n.\r\n"
        );
        assert_eq!(super::dot_stuffed(b"x\r\n").unwrap(), "x\r\n.\r\n");
        assert!(super::dot_stuffed(&[0xff, b'\n']).is_none());
    }
}
