//! `kollacfg materialize --from DIR --to DIR`: one pod's files from the shared output. Reads
//! the files of `--from` (typically the output Secret or ConfigMap mounted as a volume), the
//! pod's facts from the environment (`KOLLACFG_NODE_NAME`, ...), applies the manifest's per-pod
//! edits with the engine's [`materialize`] and writes every file but the manifest into `--to`,
//! all or nothing, through the same writer as `render --out`.
//!
//! `--from` is read as a flat directory of regular files, or in the layout kubelet's atomic
//! writer gives a Secret or ConfigMap volume, and nothing else: each entry `NAME` a symbolic
//! link whose target is exactly `..data/NAME`, `..data` a symbolic link to a directory
//! `..<timestamp>` beside it. `..data` is resolved once and every file is read from that one
//! directory (so a volume updated during the run is never read half old, half new); any other
//! symbolic link, a subdirectory, a FIFO or a device is an error naming it.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kollacfg_render::per_pod::{materialize, Fact, Facts};

use crate::inputs::{describe, open_regular, read_limited, MAX_FILE_BYTES};
use crate::write::{write_files, Inject, NewFile, NEW_FILE_MODE};

/// The widest mode a materialized file gets: owner read-write, group read.
pub const MAX_MODE: u32 = 0o640;

/// kubelet's link to the current data directory of a volume.
const DATA_LINK: &str = "..data";

/// The files of a volume and their permission bits.
struct Volume {
    files: BTreeMap<String, Vec<u8>>,
    modes: BTreeMap<String, u32>,
}

/// Runs the command; errors are printed as `materialize: FILE: reason`.
pub fn run(from: &Path, to: &Path) -> ExitCode {
    match run_inner(from, to) {
        Ok(summary) => {
            eprintln!("materialize: {summary}");
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in errors {
                eprintln!("materialize: {e}");
            }
            ExitCode::from(2)
        }
    }
}

fn run_inner(from: &Path, to: &Path) -> Result<String, Vec<String>> {
    let volume = read_volume(from).map_err(|e| vec![e])?;
    let facts = facts_from_env()?;
    let pod = materialize(&volume.files, &facts).map_err(|errors| {
        errors
            .iter()
            .map(|e| format!("{}/{e}", from.display()))
            .collect::<Vec<_>>()
    })?;
    let files: Vec<NewFile<'_>> = pod
        .files
        .iter()
        .map(|(name, bytes)| NewFile {
            service: "",
            name,
            bytes,
            mode: volume.modes.get(name).copied().unwrap_or(NEW_FILE_MODE) & MAX_MODE,
        })
        .collect();
    write_files(to, &files, &mut |_| Inject::Proceed).map_err(|e| vec![e])?;
    Ok(format!(
        "{} files, {} per-pod edits",
        pod.files.len(),
        pod.edits
    ))
}

/// The pod's facts from their environment variables; one that is not UTF-8 is an error (one
/// that is not set is an error only where a template uses it).
fn facts_from_env() -> Result<Facts, Vec<String>> {
    let bad: Vec<String> = Fact::ALL
        .iter()
        .filter(|f| std::env::var_os(f.env()).is_some_and(|v| v.to_str().is_none()))
        .map(|f| format!("{}: not UTF-8 text", f.env()))
        .collect();
    if bad.is_empty() {
        Ok(Facts::from_env(|name| std::env::var(name).ok()))
    } else {
        Err(bad)
    }
}

/// Reads every file of `dir` (see the module documentation for the layouts accepted).
fn read_volume(dir: &Path) -> Result<Volume, String> {
    let fail =
        |path: &Path, reason: &dyn std::fmt::Display| format!("{}: {reason}", path.display());
    let meta = fs::metadata(dir).map_err(|e| fail(dir, &e))?;
    if !meta.is_dir() {
        return Err(fail(
            dir,
            &format_args!("is {}, not a directory", describe(&meta.file_type())),
        ));
    }
    let mut names: Vec<String> = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| fail(dir, &e))? {
        let entry = entry.map_err(|e| fail(dir, &e))?;
        match entry.file_name().into_string() {
            Ok(name) => names.push(name),
            Err(name) => return Err(fail(&dir.join(name), &"the file name is not UTF-8")),
        }
    }
    names.sort();
    let data_dir = data_dir(dir)?;
    let mut volume = Volume {
        files: BTreeMap::new(),
        modes: BTreeMap::new(),
    };
    for name in names {
        let path = dir.join(&name);
        let meta = fs::symlink_metadata(&path).map_err(|e| fail(&path, &e))?;
        if name.starts_with("..") {
            // kubelet's own entries: `..data` (resolved above) and its timestamped directories.
            if name == DATA_LINK || meta.is_dir() {
                continue;
            }
            return Err(fail(
                &path,
                &format_args!(
                    "is {}; only kubelet's ..data link and data directories may start with ..",
                    describe(&meta.file_type())
                ),
            ));
        }
        let source = if meta.file_type().is_symlink() {
            let target = fs::read_link(&path).map_err(|e| fail(&path, &e))?;
            let expected = Path::new(DATA_LINK).join(&name);
            match &data_dir {
                Some(data) if target == expected => data.join(&name),
                _ => {
                    return Err(fail(
                        &path,
                        &format_args!(
                            "a symbolic link to {}; only kubelet's volume layout ({name} -> \
                             {}, {DATA_LINK} -> ..<timestamp>) is followed",
                            target.display(),
                            expected.display()
                        ),
                    ))
                }
            }
        } else if meta.is_file() {
            path.clone()
        } else {
            return Err(fail(
                &path,
                &format_args!(
                    "is {}; materialize copies only regular files",
                    describe(&meta.file_type())
                ),
            ));
        };
        let (bytes, mode) = read_file(&source).map_err(|e| fail(&source, &e))?;
        volume.modes.insert(name.clone(), mode);
        volume.files.insert(name, bytes);
    }
    Ok(volume)
}

/// The directory `..data` points to, when the volume has one: a link to a directory
/// `..<something>` beside it, read once.
fn data_dir(dir: &Path) -> Result<Option<PathBuf>, String> {
    let link = dir.join(DATA_LINK);
    let meta = match fs::symlink_metadata(&link) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", link.display())),
    };
    if !meta.file_type().is_symlink() {
        return Err(format!(
            "{}: is {}; kubelet makes it a symbolic link",
            link.display(),
            describe(&meta.file_type())
        ));
    }
    let target = fs::read_link(&link).map_err(|e| format!("{}: {e}", link.display()))?;
    let name = target.to_str().unwrap_or_default();
    if !name.starts_with("..") || name.contains('/') || name == ".." {
        return Err(format!(
            "{}: points to {}; kubelet points it to a directory ..<timestamp> beside it",
            link.display(),
            target.display()
        ));
    }
    let data = dir.join(name);
    match fs::symlink_metadata(&data) {
        Ok(meta) if meta.is_dir() => Ok(Some(data)),
        Ok(meta) => Err(format!(
            "{}: is {}, not kubelet's data directory",
            data.display(),
            describe(&meta.file_type())
        )),
        Err(e) => Err(format!("{}: {e}", data.display())),
    }
}

/// A regular file's bytes and permission bits, never following a link.
fn read_file(path: &Path) -> io::Result<(Vec<u8>, u32)> {
    let file = open_regular(path, false)?;
    let mode = file.metadata()?.permissions().mode() & 0o777;
    Ok((read_limited(file, MAX_FILE_BYTES)?, mode))
}
