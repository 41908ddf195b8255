//! Reads the `-f` paths: YAML files (`-` is standard input), or directories searched
//! recursively for `.yaml`/`.yml` files (in sorted order), each a multi-document stream of
//! kollacfg resources.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use kollacfg_api::AnyResource;
use kollacfg_render::ResourceRef;

/// Every resource read, with the file it came from.
#[derive(Default)]
pub struct Inputs {
    /// The resources, in the order read.
    pub resources: Vec<AnyResource>,
    /// Which file each resource came from.
    pub sources: BTreeMap<ResourceRef, PathBuf>,
}

/// Reads every resource under `paths`. Errors are returned as printable lines naming the file.
pub fn load(paths: &[PathBuf]) -> Result<Inputs, Vec<String>> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        if let Err(e) = collect(path, &mut files) {
            errors.push(format!("{}: {e}", path.display()));
        }
    }
    let mut inputs = Inputs::default();
    for file in files {
        let read = if file.as_os_str() == "-" {
            read_limited(io::stdin(), MAX_FILE_BYTES)
                .map_err(|e| format!("{}: {e}", file.display()))
        } else {
            read_regular(&file, true, MAX_FILE_BYTES)
        };
        let text = match read.and_then(|bytes| {
            String::from_utf8(bytes)
                .map_err(|e| format!("{}: not UTF-8 text ({e})", file.display()))
        }) {
            Ok(t) => t,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let (resources, load_errors) = kollacfg_api::parse_all_documents(&text);
        errors.extend(
            load_errors
                .iter()
                .map(|e| format!("{}: {e}", file.display())),
        );
        for r in resources {
            let id = r.resource_ref();
            if let Some(first) = inputs.sources.get(&id) {
                errors.push(format!(
                    "{}: {id}: defined again (first in {})",
                    file.display(),
                    first.display()
                ));
                continue;
            }
            inputs.sources.insert(id, file.clone());
            inputs.resources.push(r);
        }
    }
    if errors.is_empty() {
        Ok(inputs)
    } else {
        Err(errors)
    }
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    collect_in(path, out, &mut BTreeSet::new())
}

/// Collects YAML files under `path`; `seen` holds the directories already walked (device,
/// inode), so a link back to an ancestor is walked once, not for ever.
fn collect_in(
    path: &Path,
    out: &mut Vec<PathBuf>,
    seen: &mut BTreeSet<(u64, u64)>,
) -> io::Result<()> {
    if path.as_os_str() == "-" {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let meta = std::fs::metadata(path)?;
    if !meta.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    if !seen.insert((meta.dev(), meta.ino())) {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            collect_in(&entry, out, seen)?;
        } else if matches!(
            entry.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(entry);
        }
    }
    Ok(())
}

/// The base of one target, as read from `--base DIR`.
#[derive(Default)]
pub struct Base {
    /// `DIR/<service>`, when `--base` is given.
    pub dir: Option<PathBuf>,
    /// File name → bytes.
    pub files: BTreeMap<String, Vec<u8>>,
    /// File name → permission bits.
    pub modes: BTreeMap<String, u32>,
}

/// Reads the base files of `service` from `DIR/service/` (regular files, links to them
/// followed; subdirectories skipped). An entry that is a dangling link, a link loop, a FIFO, a
/// device or a socket, or a file that cannot be read is an error naming its path, never a
/// shorter base. A missing directory reads as empty: the caller refuses it when fragments edit
/// a file that should be there.
pub fn base_files(dir: Option<&Path>, service: &str) -> Result<Base, String> {
    let Some(dir) = dir else {
        return Ok(Base::default());
    };
    let service_dir = dir.join(service);
    let fail =
        |path: &Path, reason: &dyn std::fmt::Display| format!("{}: {reason}", path.display());
    match std::fs::metadata(&service_dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(meta) => {
            return Err(fail(
                &service_dir,
                &format_args!(
                    "is {}; the base of service {service:?} must be a directory",
                    describe(&meta.file_type())
                ),
            ))
        }
        // Checked by the caller against the files the fragments edit (`plan::base_kept`).
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok(Base {
                dir: Some(service_dir),
                ..Base::default()
            })
        }
        Err(e) => return Err(fail(&service_dir, &e)),
    }
    let mut base = Base {
        dir: Some(service_dir.clone()),
        ..Base::default()
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&service_dir)
        .and_then(|entries| entries.map(|e| e.map(|e| e.path())).collect())
        .map_err(|e| fail(&service_dir, &e))?;
    entries.sort();
    for path in entries {
        let meta = match std::fs::metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(fail(
                    &path,
                    &"a dangling symbolic link; the base file is missing",
                ))
            }
            Err(e) => return Err(fail(&path, &e)),
        };
        if meta.is_dir() {
            continue;
        }
        if !meta.is_file() {
            return Err(fail(
                &path,
                &format_args!(
                    "is {}; a base file must be a regular file",
                    describe(&meta.file_type())
                ),
            ));
        }
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            return Err(fail(&path, &"the file name is not UTF-8"));
        };
        let bytes = read_regular(&path, true, MAX_FILE_BYTES)?;
        base.modes
            .insert(name.to_string(), meta.permissions().mode() & 0o777);
        base.files.insert(name.to_string(), bytes);
    }
    Ok(base)
}

/// The largest input file (a `-f` file, a base file) read, in bytes.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// Opens an existing regular file for reading, never blocking: with `O_NONBLOCK` (a FIFO or a
/// device does not hang the open) and checked by type once open. `follow: false` refuses a
/// symbolic link (`O_NOFOLLOW`).
pub fn open_regular(path: &Path, follow: bool) -> io::Result<File> {
    let mut flags = libc::O_NONBLOCK | libc::O_NOCTTY;
    if !follow {
        flags |= libc::O_NOFOLLOW;
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other(format!(
            "is {}, not a regular file",
            describe(&meta.file_type())
        )));
    }
    Ok(file)
}

/// Reads a regular file of at most `limit` bytes; errors name the path.
pub fn read_regular(path: &Path, follow: bool, limit: u64) -> Result<Vec<u8>, String> {
    let file = open_regular(path, follow).map_err(|e| format!("{}: {e}", path.display()))?;
    read_limited(file, limit).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads at most `limit` bytes; more is an error naming the limit.
pub fn read_limited(reader: impl Read, limit: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::other(format!(
            "larger than the limit of {} MiB",
            limit >> 20
        )));
    }
    Ok(bytes)
}

/// What a file type is, in words.
pub fn describe(t: &std::fs::FileType) -> &'static str {
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else if t.is_file() {
        "a regular file"
    } else {
        "a special file"
    }
}
