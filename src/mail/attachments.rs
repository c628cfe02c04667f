//! Saving an attachment to a file: `:save N [DIR]` in the review screen,
//! `helpdesk ticket save TKT-… N` on the command line.
//!
//! The bytes come from the store, or, for an attachment over the size cap (stored as metadata
//! only), are cut again from the message's raw mail, which is always kept whole; the SHA-256
//! recorded at ingest says which part it is. The file name is the attachment's own, made safe:
//! no directories, no control characters, never a name that exists already.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use rusqlite::Connection;

use crate::store::messages;

/// A ticket's attachment ids in the order the thread and `ticket show` number them: attachment
/// N is element N - 1.
pub fn numbered(thread: &[messages::MessageRow]) -> Vec<i64> {
    thread
        .iter()
        .flat_map(|m| m.attachments.iter().map(|a| a.id))
        .collect()
}

/// Writes attachment `id` into `dir` and returns the file's path.
pub fn save(conn: &Connection, id: i64, dir: &Path) -> Result<PathBuf> {
    let a = messages::attachment_content(conn, id)?
        .ok_or_else(|| anyhow!("no attachment {id} in the store"))?;
    let bytes = match a.content {
        Some(bytes) => bytes,
        None => {
            let parsed = super::parse::parse(&a.raw).map_err(|e| {
                anyhow!("the attachment was not stored (over the size cap) and its mail no longer parses: {e}")
            })?;
            parsed
                .attachments
                .into_iter()
                .find(|p| p.sha256 == a.sha256)
                .map(|p| p.content)
                .ok_or_else(|| {
                    anyhow!("the attachment was not stored (over the size cap) and is not in its raw mail")
                })?
        }
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create {}; pick another directory", dir.display()))?;
    let name = safe_name(a.filename.as_deref().unwrap_or(""));
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_owned(), format!(".{e}")),
        _ => (name.clone(), String::new()),
    };
    for n in 1..=1000 {
        let file = if n == 1 {
            name.clone()
        } else {
            format!("{stem} ({n}){ext}")
        };
        let path = dir.join(file);
        // create_new: an existing file is never replaced, even one created meanwhile.
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                if let Err(e) = std::io::Write::write_all(&mut f, &bytes) {
                    // No half-written file is left behind.
                    drop(f);
                    let _ = std::fs::remove_file(&path);
                    return Err(e).with_context(|| format!("cannot write {}", path.display()));
                }
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "cannot create {}; check the directory's permissions",
                        path.display()
                    )
                });
            }
        }
    }
    bail!("{} has a thousand files named like {name}", dir.display())
}

/// The last path component of a sender-chosen name, without control characters, invisible
/// format characters (a right-to-left override makes `invoice\u{202e}fdp.exe` look like a
/// PDF) or leading dots, at most 200 bytes with its extension kept; "attachment" when nothing
/// is left.
pub fn safe_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .filter(|&c| !c.is_control() && !is_format(c))
        .collect::<String>()
        .trim()
        .trim_start_matches('.')
        .to_owned();
    if clean.is_empty() {
        return "attachment".into();
    }
    // File systems allow 255 bytes; leave room for " (2)".
    const MAX: usize = 200;
    if clean.len() <= MAX {
        return clean;
    }
    let (stem, ext) = match clean.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() && e.len() <= 16 => (s, format!(".{e}")),
        _ => (clean.as_str(), String::new()),
    };
    let mut cut = MAX - ext.len();
    while !stem.is_char_boundary(cut.min(stem.len())) {
        cut -= 1;
    }
    format!("{}{ext}", &stem[..cut.min(stem.len())])
}

/// Unicode format characters that change how a name looks without showing: bidirectional
/// controls, zero-width characters, the soft hyphen, the byte order mark.
fn is_format(c: char) -> bool {
    matches!(c,
        '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// Where saved attachments go by default: the Downloads folder, else the home folder, else
/// the current directory.
pub fn default_dir() -> PathBuf {
    directories::UserDirs::new()
        .and_then(|u| {
            u.download_dir()
                .map(Path::to_path_buf)
                .or_else(|| Some(u.home_dir().to_path_buf()))
        })
        .unwrap_or_else(|| PathBuf::from("."))
}

#[cfg(test)]
mod tests {
    use super::safe_name;

    #[test]
    fn names_lose_directories_control_characters_and_leading_dots() {
        assert_eq!(safe_name("invoice.pdf"), "invoice.pdf");
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name("C:\\Users\\x\\report.docx"), "report.docx");
        assert_eq!(safe_name(".bashrc"), "bashrc");
        assert_eq!(safe_name("a\u{1b}]0;x\u{7}b.txt"), "a]0;xb.txt");
        assert_eq!(safe_name(""), "attachment");
        assert_eq!(safe_name("../"), "attachment");
        assert_eq!(safe_name("invoice\u{202e}fdp.exe"), "invoicefdp.exe");
        let long = format!("{}.pdf", "報".repeat(100));
        let cut = safe_name(&long);
        assert!(cut.len() <= 200 && cut.ends_with(".pdf"), "{cut}");
    }
}
