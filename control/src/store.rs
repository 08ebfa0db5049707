//! Persistence: the whole model as JSON in `<state dir>/state.json`, replaced atomically
//! and durably (temp file, fsync, rename, fsync of the directory) so that a crash at any
//! point leaves either the old state or the new one. A leftover temp file is ignored; a
//! file that does not parse or validate, or a symbolic link to nothing, is an error, never
//! silently replaced.

use crate::model::Topology;
use crate::validate::lines;
use serde::{Deserialize, Serialize};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Version of the file format.
const VERSION: u32 = 1;
/// The state file's name.
const FILE: &str = "state.json";
/// The temp file a new state is written to before it replaces the old.
const TEMP: &str = "state.json.tmp";

/// Why the persisted state could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The cause.
        source: io::Error,
    },
    /// The file is not a state file of this version, or its model does not validate.
    #[error("{path}: corrupt state file: {message} (fix it, or start with --reset to discard it)")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// The file's content, as read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    version: u32,
    topology: Topology,
}

/// The file's content, as written.
#[derive(Serialize)]
struct StateRef<'a> {
    version: u32,
    topology: &'a Topology,
}

/// The state directory.
#[derive(Clone, Debug)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// The store in directory `dir` (created on the first save).
    pub fn new(dir: impl Into<PathBuf>) -> Store {
        Store { dir: dir.into() }
    }

    /// The state file.
    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    /// The persisted model, validated; `None` when nothing was persisted yet.
    pub fn load(&self) -> Result<Option<Topology>, StoreError> {
        let path = self.path();
        let shown = path.display().to_string();
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // Nothing there: a first start. A link to nothing is not that: saving
                // would replace the operator's link with a file.
                return match fs::read_link(&path) {
                    Ok(target) => Err(StoreError::Corrupt {
                        path: shown,
                        message: format!(
                            "a symbolic link to {}, which does not exist; refusing to replace it",
                            target.display()
                        ),
                    }),
                    Err(_) => Ok(None),
                };
            }
            Err(source) => {
                return Err(StoreError::Io {
                    path: shown,
                    source,
                })
            }
        };
        let corrupt = |message: String| StoreError::Corrupt {
            path: shown.clone(),
            message,
        };
        let file: StateFile = serde_json::from_slice(&text).map_err(|e| corrupt(e.to_string()))?;
        if file.version != VERSION {
            let msg = format!("version {} (this vrouter reads {VERSION})", file.version);
            return Err(corrupt(msg));
        }
        let mut topo = file.topology;
        topo.name_unnamed_rules();
        topo.validate().map_err(|errors| corrupt(lines(&errors)))?;
        Ok(Some(topo))
    }

    /// Replaces the persisted model with `topo`, durably, before returning.
    pub fn save(&self, topo: &Topology) -> Result<(), StoreError> {
        let io_err = |path: &Path| {
            let path = path.display().to_string();
            move |source| StoreError::Io { path, source }
        };
        fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        let file = StateRef {
            version: VERSION,
            topology: topo,
        };
        let mut text = serde_json::to_vec_pretty(&file)
            .map_err(io::Error::other)
            .map_err(io_err(&self.dir))?;
        text.push(b'\n');
        let temp = self.dir.join(TEMP);
        let write = |text: &[u8]| -> io::Result<()> {
            let mut f = File::create(&temp)?;
            f.write_all(text)?;
            f.sync_all()
        };
        write(&text).map_err(io_err(&temp))?;
        fs::rename(&temp, self.path()).map_err(io_err(&self.path()))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(&self.dir))
    }
}
