//! Reads mail from files for `helpdesk import`: single .eml files, Maildir folders (cur/ and
//! new/), mbox files (mboxrd `>From ` unescaping), and folders holding any of those.
//!
//! Scanning records where each message is and its Date, so the import can store messages
//! oldest first (a reply must find its original already stored) without holding every message
//! in memory at once.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use mail_parser::MessageParser;

#[derive(Debug, Clone)]
pub enum Location {
    File(PathBuf),
    Mbox { file: usize, start: u64, len: u64 },
}

#[derive(Debug, Clone)]
pub struct Item {
    pub location: Location,
    pub date: Option<i64>,
}

/// Everything found under the given paths.
#[derive(Debug, Default)]
pub struct Scan {
    pub items: Vec<Item>,
    mboxes: Vec<PathBuf>,
    /// Single-message files found while walking, dated after the walk (in parallel).
    files: Vec<PathBuf>,
    /// Files that could not be read, with the reason.
    pub unreadable: Vec<(PathBuf, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{path}: {source}; check the path")]
    Io { path: PathBuf, source: io::Error },
}

/// Reads only the Date header; every other header is skipped unparsed.
static DATE_PARSER: std::sync::LazyLock<MessageParser> = std::sync::LazyLock::new(|| {
    MessageParser::new()
        .header_date(mail_parser::HeaderName::Date)
        .default_header_ignore()
});

fn header_date(bytes: &[u8]) -> Option<i64> {
    DATE_PARSER
        .parse_headers(bytes)
        .and_then(|m| m.date().filter(|d| d.is_valid()).map(|d| d.to_timestamp()))
}

fn is_maildir(dir: &Path) -> bool {
    dir.join("cur").is_dir() || dir.join("new").is_dir()
}

fn starts_like_mbox(path: &Path) -> io::Result<bool> {
    let mut head = [0u8; 5];
    let mut f = File::open(path)?;
    let n = f.read(&mut head)?;
    Ok(n == 5 && &head == b"From ")
}

impl Scan {
    /// Scans files and folders. A path that does not exist is an error; a file that cannot be
    /// read is listed in `unreadable` and the rest goes on.
    pub fn paths(paths: &[PathBuf]) -> Result<Scan, SourceError> {
        let mut scan = Scan::default();
        for p in paths {
            let meta = std::fs::metadata(p).map_err(|source| SourceError::Io {
                path: p.clone(),
                source,
            })?;
            if meta.is_dir() {
                scan.dir(p, true);
            } else {
                scan.file(p);
            }
        }
        scan.date_files();
        // Oldest first; messages without a date keep their place among themselves.
        scan.items.sort_by_key(|i| i.date.unwrap_or(i64::MIN));
        Ok(scan)
    }

    fn dir(&mut self, dir: &Path, top: bool) {
        if is_maildir(dir) {
            for sub in ["new", "cur"] {
                let mut files = list(&dir.join(sub), &mut self.unreadable);
                files.retain(|f| f.is_file());
                for f in files {
                    self.eml(&f);
                }
            }
            // Maildir++ subfolders (.Sent, .Archive) are folders of their own.
            for d in list(dir, &mut self.unreadable) {
                if d.is_dir() && file_name(&d).starts_with('.') && is_maildir(&d) {
                    self.dir(&d, false);
                }
            }
            return;
        }
        for entry in list(dir, &mut self.unreadable) {
            let name = file_name(&entry);
            if name.starts_with('.') && !top {
                continue;
            }
            if entry.is_dir() {
                self.dir(&entry, false);
            } else {
                let ext = entry
                    .extension()
                    .and_then(|e| e.to_str())
                    .map(str::to_ascii_lowercase);
                match ext.as_deref() {
                    Some("eml") => self.eml(&entry),
                    Some("mbox" | "mbx") => self.mbox(&entry),
                    _ => {} // README, manifests and other files in a folder are not mail
                }
            }
        }
    }

    fn file(&mut self, path: &Path) {
        match starts_like_mbox(path) {
            Ok(true) => self.mbox(path),
            Ok(false) => self.eml(path),
            Err(e) => self.unreadable.push((path.to_owned(), e.to_string())),
        }
    }

    fn eml(&mut self, path: &Path) {
        self.files.push(path.to_owned());
    }

    /// Reads the Date of every single-message file, on two threads: for a large Maildir this
    /// is a tenth of the import.
    fn date_files(&mut self) {
        let files = std::mem::take(&mut self.files);
        let half = files.len().div_ceil(2).max(1);
        let date_of = |chunk: &[PathBuf]| -> Vec<Result<Item, (PathBuf, String)>> {
            chunk
                .iter()
                .map(|p| match std::fs::read(p) {
                    Ok(bytes) => Ok(Item {
                        location: Location::File(p.clone()),
                        date: header_date(&bytes),
                    }),
                    Err(e) => Err((p.clone(), e.to_string())),
                })
                .collect()
        };
        let results: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = files
                .chunks(half)
                .map(|c| (c, s.spawn(move || date_of(c))))
                .collect();
            handles
                .into_iter()
                .flat_map(|(chunk, h)| {
                    // Should reading a date ever panic, the files are still imported, undated.
                    h.join().unwrap_or_else(|_| {
                        chunk
                            .iter()
                            .map(|p| {
                                Ok(Item {
                                    location: Location::File(p.clone()),
                                    date: None,
                                })
                            })
                            .collect()
                    })
                })
                .collect()
        });
        for r in results {
            match r {
                Ok(item) => self.items.push(item),
                Err(e) => self.unreadable.push(e),
            }
        }
    }

    fn mbox(&mut self, path: &Path) {
        let file_idx = self.mboxes.len();
        self.mboxes.push(path.to_owned());
        let result = (|| -> io::Result<()> {
            let mut reader = BufReader::new(File::open(path)?);
            let mut offset = 0u64;
            let mut line = Vec::new();
            let mut current: Option<(u64, Vec<u8>, bool)> = None; // start, headers, in headers
            let mut prev_blank = true;
            let finish =
                |current: &mut Option<(u64, Vec<u8>, bool)>, end: u64, items: &mut Vec<Item>| {
                    if let Some((start, headers, _)) = current.take()
                        && end > start
                    {
                        items.push(Item {
                            location: Location::Mbox {
                                file: file_idx,
                                start,
                                len: end - start,
                            },
                            date: header_date(&headers),
                        });
                    }
                };
            loop {
                line.clear();
                let n = reader.read_until(b'\n', &mut line)?;
                if n == 0 {
                    break;
                }
                if prev_blank && line.starts_with(b"From ") {
                    finish(&mut current, offset, &mut self.items);
                    current = Some((offset + n as u64, Vec::new(), true));
                } else if let Some((_, headers, in_headers)) = current.as_mut()
                    && *in_headers
                {
                    if line == b"\n" || line == b"\r\n" {
                        *in_headers = false;
                    } else if headers.len() < 64 * 1024 {
                        headers.extend_from_slice(&line);
                    }
                }
                prev_blank = line == b"\n" || line == b"\r\n";
                offset += n as u64;
            }
            finish(&mut current, offset, &mut self.items);
            Ok(())
        })();
        if let Err(e) = result {
            self.unreadable.push((path.to_owned(), e.to_string()));
        }
    }

    /// The raw bytes of one message.
    pub fn read(&self, item: &Item) -> io::Result<Vec<u8>> {
        match &item.location {
            Location::File(p) => std::fs::read(p),
            Location::Mbox { file, start, len } => {
                let mut f = File::open(&self.mboxes[*file])?;
                f.seek(SeekFrom::Start(*start))?;
                let mut buf = vec![0u8; *len as usize];
                f.read_exact(&mut buf)?;
                Ok(unescape_mbox(&buf))
            }
        }
    }

    /// Where a message came from, for the `source` column and error messages.
    pub fn describe(&self, item: &Item) -> String {
        match &item.location {
            Location::File(p) => p.display().to_string(),
            Location::Mbox { file, start, .. } => {
                format!("{}@{}", self.mboxes[*file].display(), start)
            }
        }
    }
}

/// Undoes mboxrd quoting (`>From ` → `From `) and drops the blank line that separates
/// messages in the file.
fn unescape_mbox(buf: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(buf.len());
    for line in buf.split_inclusive(|&b| b == b'\n') {
        let quotes = line.iter().take_while(|&&b| b == b'>').count();
        if quotes > 0 && line[quotes..].starts_with(b"From ") {
            out.extend_from_slice(&line[1..]);
        } else {
            out.extend_from_slice(line);
        }
    }
    if out.ends_with(b"\n\n") {
        out.pop();
    } else if out.ends_with(b"\r\n\r\n") {
        out.truncate(out.len() - 2);
    }
    out
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn list(dir: &Path, unreadable: &mut Vec<(PathBuf, String)>) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(rd) => {
            let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
            v.sort();
            v
        }
        Err(e) => {
            unreadable.push((dir.to_owned(), e.to_string()));
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbox_is_split_and_unescaped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("box.mbox");
        std::fs::write(
            &path,
            "From a@x Mon Nov  2 10:00:00 2026\nSubject: one\nDate: Tue, 03 Nov 2026 10:00:00 +0000\n\nhello\n>From the start\n\nFrom b@x Mon Nov  2 09:00:00 2026\nSubject: two\nDate: Mon, 02 Nov 2026 10:00:00 +0000\n\nbye\n",
        )
        .unwrap();
        let scan = Scan::paths(&[path]).unwrap();
        assert_eq!(scan.items.len(), 2);
        // Sorted by Date: "two" is older.
        let first = scan.read(&scan.items[0]).unwrap();
        let second = scan.read(&scan.items[1]).unwrap();
        assert!(first.starts_with(b"Subject: two"));
        assert_eq!(
            String::from_utf8(second).unwrap(),
            "Subject: one\nDate: Tue, 03 Nov 2026 10:00:00 +0000\n\nhello\nFrom the start\n"
        );
    }

    #[test]
    fn folders_take_eml_and_maildirs_and_skip_other_files() {
        let dir = tempfile::tempdir().unwrap();
        let md = dir.path().join("box");
        std::fs::create_dir_all(md.join("cur")).unwrap();
        std::fs::create_dir_all(md.join("new")).unwrap();
        std::fs::create_dir_all(md.join("tmp")).unwrap();
        std::fs::write(md.join("new/1.host"), "Subject: a\n\nx\n").unwrap();
        std::fs::write(md.join("cur/2.host:2,S"), "Subject: b\n\nx\n").unwrap();
        std::fs::write(md.join("tmp/3.host"), "Subject: partial\n").unwrap();
        std::fs::write(dir.path().join("c.eml"), "Subject: c\n\nx\n").unwrap();
        std::fs::write(dir.path().join("README.md"), "# not mail\n").unwrap();
        let scan = Scan::paths(&[dir.path().to_owned()]).unwrap();
        assert_eq!(scan.items.len(), 3);
        assert!(Scan::paths(&[dir.path().join("missing")]).is_err());
    }
}
