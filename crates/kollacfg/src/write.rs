//! Writes a plan to `OUT/<service>/<file>`, all or nothing: every file is first written to a
//! temporary file beside its destination and synced; only when all of them are in place are
//! they renamed over the destinations. On any failure the temporaries (and directories this run
//! created) are removed and nothing at the destinations has changed.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::plan::Plan;

/// What a write did.
pub struct Stats {
    /// Files whose bytes differ from what was at the destination before.
    pub changed: usize,
}

/// Writes every file of `plan` under `out`.
pub fn write_all(out: &Path, plan: &Plan) -> Result<Stats, String> {
    let mut staged: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut created_dirs: Vec<PathBuf> = Vec::new();
    let result = stage(out, plan, &mut staged, &mut created_dirs);
    if let Err(e) = result {
        for (tmp, _) in &staged {
            let _ = fs::remove_file(tmp);
        }
        for dir in created_dirs.iter().rev() {
            let _ = fs::remove_dir(dir);
        }
        return Err(e);
    }
    let mut changed = 0;
    for (tmp, dest) in &staged {
        let new = fs::read(tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
        if fs::read(dest).ok().as_ref() != Some(&new) {
            changed += 1;
        }
    }
    for (tmp, dest) in &staged {
        fs::rename(tmp, dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    }
    Ok(Stats { changed })
}

fn stage(
    out: &Path,
    plan: &Plan,
    staged: &mut Vec<(PathBuf, PathBuf)>,
    created: &mut Vec<PathBuf>,
) -> Result<(), String> {
    ensure_dir(out, created)?;
    for target in &plan.targets {
        let dir = out.join(&target.service);
        ensure_dir(&dir, created)?;
        for (name, bytes) in &target.output.files {
            let dest = dir.join(name);
            let tmp = dir.join(format!(".{name}.kollacfg-tmp-{}", std::process::id()));
            let mut file = fs::File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
            staged.push((tmp.clone(), dest));
            file.write_all(bytes)
                .and_then(|()| file.sync_all())
                .map_err(|e| format!("{}: {e}", tmp.display()))?;
        }
    }
    Ok(())
}

fn ensure_dir(dir: &Path, created: &mut Vec<PathBuf>) -> Result<(), String> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        ensure_dir(parent, created)?;
    }
    fs::create_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    created.push(dir.to_path_buf());
    Ok(())
}
