use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the store file {path}: {source}; check that its directory is writable")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the store {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "the store has schema version {found}, newer than this helpdesk knows ({known}); \
         upgrade helpdesk or use another --store"
    )]
    TooNew { found: u32, known: u32 },
    #[error("store migration {version} ({name}) failed: {source}")]
    Migration {
        version: u32,
        name: &'static str,
        source: rusqlite::Error,
    },
    #[error("{0}")]
    NotFound(String),
    #[error(
        "{path} is where the search index of this store goes, but it holds another database; \
         move it away (helpdesk creates the index there)"
    )]
    ForeignSearchFile { path: PathBuf },
    #[error("bad value {value:?} in column {column}")]
    BadState { column: &'static str, value: String },
    #[error("store: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl StoreError {
    /// True when trying again later may succeed (another process held the lock too long).
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
            | StoreError::Open {
                source: rusqlite::Error::SqliteFailure(e, _),
                ..
            } => matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ),
            _ => false,
        }
    }
}
