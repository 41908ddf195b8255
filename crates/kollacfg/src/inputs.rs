//! Reads the `-f` paths: YAML files (`-` is standard input), or directories searched
//! recursively for `.yaml`/`.yml` files (in sorted order), each a multi-document stream of
//! kollacfg resources.

use std::collections::BTreeMap;
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
            std::io::read_to_string(std::io::stdin())
        } else {
            std::fs::read_to_string(&file)
        };
        let text = match read {
            Ok(t) => t,
            Err(e) => {
                errors.push(format!("{}: {e}", file.display()));
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

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.as_os_str() == "-" {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let meta = std::fs::metadata(path)?;
    if !meta.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            collect(&entry, out)?;
        } else if matches!(
            entry.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(entry);
        }
    }
    Ok(())
}

/// Reads the base files of `service` from `DIR/service/` (regular files, not recursive).
/// A missing directory is an empty base.
pub fn base_files(dir: Option<&Path>, service: &str) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut files = BTreeMap::new();
    let Some(dir) = dir else { return Ok(files) };
    let service_dir = dir.join(service);
    let entries = match std::fs::read_dir(&service_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(files),
        Err(e) => return Err(format!("{}: {e}", service_dir.display())),
    };
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", service_dir.display()))?;
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        files.insert(name.to_string(), bytes);
    }
    Ok(files)
}
