//! Writes a plan to `OUT/<service>/<file>` (or one pod's files to `materialize --to OUT`), all or
//! nothing, and never through anything the run did not create.
//!
//! 1. Check: `OUT` and every `OUT/<service>` must be real directories (or missing: they are then
//!    created), every destination a regular file (or missing). A symbolic link, a device, a
//!    FIFO or a socket is an error naming it; nothing is followed.
//! 2. Stage: every file is written to `OUT/<service>/.<file>.kollacfg-<random>.tmp`, created
//!    exclusively (`O_EXCL`, `O_NOFOLLOW`) with its final mode, and flushed (`fsync`). An
//!    existing destination gets a hard link `.<file>.kollacfg-<random>.old` to its current
//!    inode, so it can be put back.
//! 3. Commit: only when every file is staged, each is renamed over its destination, then the
//!    directories are flushed. A failed rename puts back every destination already replaced.
//!
//! On any error every temporary and every directory this run created is removed again, and the
//! tree is byte for byte as before. A crash between two renames leaves each destination old or
//! new (a rename is atomic), never torn; leftovers of such a crash (`.<file>.kollacfg-*.tmp` and
//! `.old`) are removed by the next successful run, which also writes every file again.
//!
//! Modes: a file gets its base file's permission bits (never wider: a 0600 `nova.conf` stays
//! 0600); a file without a base gets 0640 (owner read-write, group read: the service's group
//! reads it, others never see credentials).

use std::collections::hash_map::RandomState;
use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use crate::inputs::{describe, read_regular};
use crate::plan::Plan;

/// The mode of a file that has no base file.
pub const NEW_FILE_MODE: u32 = 0o640;

/// What a write did.
#[derive(Debug)]
pub struct Stats {
    /// Files whose bytes differ from what was at the destination before.
    pub changed: usize,
}

/// One file to write.
pub struct NewFile<'a> {
    /// The service directory under `OUT`; empty for `OUT` itself (`materialize --to`).
    pub service: &'a str,
    /// The file name inside it.
    pub name: &'a str,
    /// The bytes.
    pub bytes: &'a [u8],
    /// Permission bits.
    pub mode: u32,
}

/// A step of a write where a test can inject a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Writing a staged file.
    Write,
    /// Renaming a staged file into place.
    Rename,
}

/// What an injected fault does at a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inject {
    /// Nothing: the step runs.
    Proceed,
    /// The step fails with an I/O error.
    #[cfg_attr(not(test), allow(dead_code))]
    Fail,
    /// The process "dies" before the step: no rollback, no clean-up.
    #[cfg_attr(not(test), allow(dead_code))]
    Crash,
}

/// Writes every file of `plan` under `out`.
pub fn write_all(out: &Path, plan: &Plan) -> Result<Stats, String> {
    let files: Vec<NewFile<'_>> = plan
        .targets
        .iter()
        .flat_map(|t| {
            t.output.files.iter().map(|(name, bytes)| NewFile {
                service: &t.service,
                name,
                bytes,
                mode: t.base_modes.get(name).copied().unwrap_or(NEW_FILE_MODE) & 0o777,
            })
        })
        .collect();
    write_files(out, &files, &mut |_| Inject::Proceed)
}

/// Writes `files` under `out`; `fault` is asked before every write and rename (a test seam).
pub fn write_files(
    out: &Path,
    files: &[NewFile<'_>],
    fault: &mut dyn FnMut(Step) -> Inject,
) -> Result<Stats, String> {
    let mut tx = Transaction::default();
    let result = tx.stage(out, files, fault).and_then(|()| tx.commit(fault));
    match result {
        Ok(()) => {
            tx.finish();
            Ok(Stats {
                changed: tx.changed,
            })
        }
        Err(Stop::Crash) => Err("crashed (test)".to_string()),
        Err(Stop::Error(e)) => {
            tx.rollback();
            Err(e)
        }
    }
}

enum Stop {
    Error(String),
    Crash,
}

impl From<String> for Stop {
    fn from(e: String) -> Self {
        Stop::Error(e)
    }
}

/// A staged file.
struct Staged {
    tmp: PathBuf,
    dest: PathBuf,
    /// A hard link to the destination's old inode, when there was one.
    backup: Option<PathBuf>,
    renamed: bool,
}

#[derive(Default)]
struct Transaction {
    created_dirs: Vec<PathBuf>,
    dirs: BTreeSet<PathBuf>,
    staged: Vec<Staged>,
    changed: usize,
}

fn io_error(path: &Path, e: io::Error) -> String {
    format!("{}: {e}", path.display())
}

fn check(fault: &mut dyn FnMut(Step) -> Inject, step: Step, path: &Path) -> Result<(), Stop> {
    match fault(step) {
        Inject::Proceed => Ok(()),
        Inject::Crash => Err(Stop::Crash),
        Inject::Fail => Err(Stop::Error(io_error(
            path,
            io::Error::other("injected fault"),
        ))),
    }
}

impl Transaction {
    fn stage(
        &mut self,
        out: &Path,
        files: &[NewFile<'_>],
        fault: &mut dyn FnMut(Step) -> Inject,
    ) -> Result<(), Stop> {
        self.ensure_dir(out)?;
        for file in files {
            plain_name(file.name)?;
            let dir = if file.service.is_empty() {
                out.to_path_buf()
            } else {
                plain_name(file.service)?;
                out.join(file.service)
            };
            if self.dirs.insert(dir.clone()) {
                self.ensure_dir(&dir)?;
            }
            let dest = dir.join(file.name);
            let old = read_existing(&dest)?;
            if old.as_deref() != Some(file.bytes) {
                self.changed += 1;
            }
            check(fault, Step::Write, &dest)?;
            let (tmp, mut handle) = create_unique(&dir, file.name, "tmp", file.mode)?;
            self.staged.push(Staged {
                tmp: tmp.clone(),
                dest: dest.clone(),
                backup: None,
                renamed: false,
            });
            handle
                .write_all(file.bytes)
                .and_then(|()| handle.set_permissions(fs::Permissions::from_mode(file.mode)))
                .and_then(|()| handle.sync_all())
                .map_err(|e| io_error(&tmp, e))?;
            if old.is_some() {
                let backup = link_unique(&dest, &dir, file.name)?;
                self.staged.last_mut().expect("just pushed").backup = Some(backup);
            }
        }
        Ok(())
    }

    fn commit(&mut self, fault: &mut dyn FnMut(Step) -> Inject) -> Result<(), Stop> {
        for i in 0..self.staged.len() {
            let (tmp, dest) = (&self.staged[i].tmp, &self.staged[i].dest);
            check(fault, Step::Rename, dest)?;
            fs::rename(tmp, dest).map_err(|e| io_error(dest, e))?;
            self.staged[i].renamed = true;
        }
        for dir in &self.dirs {
            sync_dir(dir).map_err(|e| io_error(dir, e))?;
        }
        Ok(())
    }

    /// After a successful commit: drops the backups and what earlier crashed runs left behind.
    fn finish(&mut self) {
        for s in &self.staged {
            if let Some(backup) = &s.backup {
                let _ = fs::remove_file(backup);
            }
        }
        for dir in &self.dirs {
            remove_leftovers(dir);
            let _ = sync_dir(dir);
        }
    }

    /// Puts every destination back as it was and removes everything this run created.
    fn rollback(&mut self) {
        for s in self.staged.iter().rev() {
            if s.renamed {
                match &s.backup {
                    Some(backup) => {
                        let _ = fs::rename(backup, &s.dest);
                    }
                    None => {
                        let _ = fs::remove_file(&s.dest);
                    }
                }
            } else {
                let _ = fs::remove_file(&s.tmp);
                if let Some(backup) = &s.backup {
                    let _ = fs::remove_file(backup);
                }
            }
        }
        for dir in self.created_dirs.iter().rev() {
            let _ = fs::remove_dir(dir);
        }
        for dir in &self.dirs {
            let _ = sync_dir(dir);
        }
    }

    /// `dir` must be a directory, not a link to one; a missing one is created (its missing
    /// parents too) and remembered, so a failed run removes it again.
    fn ensure_dir(&mut self, dir: &Path) -> Result<(), String> {
        match fs::symlink_metadata(dir) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(meta) => Err(format!(
                "{}: is {}, not a directory; kollacfg writes only into real directories",
                dir.display(),
                describe(&meta.file_type())
            )),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                    if fs::symlink_metadata(parent).is_err() {
                        self.ensure_dir(parent)?;
                    }
                }
                fs::create_dir(dir).map_err(|e| io_error(dir, e))?;
                self.created_dirs.push(dir.to_path_buf());
                Ok(())
            }
            Err(e) => Err(io_error(dir, e)),
        }
    }
}

/// A service or file name must be one plain path component.
fn plain_name(name: &str) -> Result<(), String> {
    let mut parts = Path::new(name).components();
    match (parts.next(), parts.next()) {
        (Some(Component::Normal(_)), None) if !name.contains('/') => Ok(()),
        _ => Err(format!(
            "{name:?}: not a plain file name; refusing to write outside the output directory"
        )),
    }
}

/// The bytes at `dest` when it is a regular file, `None` when it does not exist; anything else
/// there is an error naming it.
fn read_existing(dest: &Path) -> Result<Option<Vec<u8>>, String> {
    match fs::symlink_metadata(dest) {
        Ok(meta) if meta.is_file() => read_regular(dest, false, u64::MAX).map(Some),
        Ok(meta) => Err(format!(
            "{}: is {}, not a regular file; kollacfg never writes through or over it",
            dest.display(),
            describe(&meta.file_type())
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(dest, e)),
    }
}

/// A name nobody can guess: 64 bits from the process's randomly keyed hasher, the pid and the
/// time.
fn random_suffix() -> String {
    let mut h = RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    format!("{:016x}", h.finish())
}

fn unique_name(dir: &Path, name: &str, ext: &str) -> PathBuf {
    dir.join(format!(".{name}.kollacfg-{}.{ext}", random_suffix()))
}

/// Creates a new file beside `name` under an unpredictable name, exclusively and without
/// following links.
fn create_unique(dir: &Path, name: &str, ext: &str, mode: u32) -> Result<(PathBuf, File), String> {
    loop {
        let path = unique_name(dir, name, ext);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
        {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_error(&path, e)),
        }
    }
}

/// Hard-links `dest` (a regular file, not followed if it is a link) under an unpredictable name.
fn link_unique(dest: &Path, dir: &Path, name: &str) -> Result<PathBuf, String> {
    loop {
        let path = unique_name(dir, name, "old");
        match fs::hard_link(dest, &path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_error(&path, e)),
        }
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Whether `name` is one of this module's temporaries.
fn is_leftover(name: &str) -> bool {
    name.starts_with('.')
        && name.contains(".kollacfg-")
        && (name.ends_with(".tmp") || name.ends_with(".old"))
}

/// Removes the regular files an interrupted run left in `dir`.
fn remove_leftovers(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_file && entry.file_name().to_str().is_some_and(is_leftover) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests;
