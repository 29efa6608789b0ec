//! The exclusive lock `s2s up` holds on its data directory: two stacks writing the same
//! SQLite files and `outputs.json` would leave neither usable.
//!
//! The lock is an advisory `flock` on `<data dir>/up.lock`, which holds the process id of
//! its owner so that a refused `up` can say who holds it. The kernel drops the lock when
//! the process ends, however it ends: a crash leaves a stale file, never a stale lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

const LOCK_FILE: &str = "up.lock";

/// A locked data directory; dropping it removes the lock file, then releases the lock.
pub(crate) struct DataDirLock {
    file: File,
    path: PathBuf,
    dir: PathBuf,
    created_dir: bool,
}

impl DataDirLock {
    /// Creates `dir` if needed and locks it, or says which process already holds it.
    pub(crate) fn acquire(dir: &Path) -> anyhow::Result<Self> {
        let created_dir = !dir.exists();
        crate::serve::create_data_dir(dir)?;
        let path = dir.join(LOCK_FILE);
        let file = loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    let owner = std::fs::read_to_string(&path).unwrap_or_default();
                    let owner = match owner.trim() {
                        "" => "another process".to_owned(),
                        pid => format!("process {pid}"),
                    };
                    anyhow::bail!(
                        "the data directory {} is in use by another `s2s up` ({owner}): stop it, or give this one its own --data-dir",
                        dir.display()
                    );
                }
                Err(TryLockError::Error(err)) => {
                    return Err(err).with_context(|| format!("cannot lock {}", path.display()));
                }
            }
            // The previous owner removes the file just before it unlocks: a lock taken on
            // a file no longer at `path` locks nothing anyone else will see.
            if still_at(&file, &path) {
                break file;
            }
        };
        let mut lock = Self {
            file,
            path,
            dir: dir.to_path_buf(),
            created_dir,
        };
        lock.record_owner()
            .with_context(|| format!("cannot write {}", lock.path.display()))?;
        Ok(lock)
    }

    fn record_owner(&mut self) -> std::io::Result<()> {
        self.file.set_len(0)?;
        writeln!(self.file, "{}", std::process::id())?;
        self.file.flush()
    }

    /// After a failed start: the data directory as it was found. A directory this `up`
    /// created goes entirely (everything in it is this run's); otherwise only the lock
    /// file goes, and whatever a server had already stored stays (a pool created before
    /// the failure is found again by name next time).
    pub(crate) fn abandon(self) {
        if self.created_dir
            && let Err(err) = std::fs::remove_dir_all(&self.dir)
        {
            tracing::warn!(dir = %self.dir.display(), error = %err, "cannot remove the data directory this run created");
        }
        // Drop removes the lock file (if still there) and unlocks.
    }
}

impl Drop for DataDirLock {
    fn drop(&mut self) {
        if let Err(err) = std::fs::remove_file(&self.path)
            && err.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.path.display(), error = %err, "cannot remove the lock file");
        }
        // `self.file` closes after this, which releases the lock.
    }
}

/// Whether `path` still names the open `file`.
#[cfg(unix)]
fn still_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn still_at(_file: &File, path: &Path) -> bool {
    path.exists()
}
