//! Writing a results folder so that, whenever lbsim is killed, the folder
//! holds either the previous complete results or the new complete ones.
//!
//! Owns: the staging folder, the swap, the `.lbsim-files` manifest, the
//! refusal to replace a folder holding files lbsim did not write, and the
//! removal of staging folders that a killed run left behind. Must not:
//! render anything; it writes the bytes it is given.
//!
//! How (Linux): every file goes to a staging folder beside the target
//! (`.NAME.lbsim-staging-HOST-PID-RANDOM`, same parent, so the same file
//! system), each file and the folder fsynced; then one system call swaps
//! it in. A missing target is a plain rename(2); an existing one is
//! exchanged with renameat2(2) `RENAME_EXCHANGE`, which swaps the two names
//! in one step, so no reader ever finds the target missing or half
//! written; the previous results, now under the staging name, are then
//! removed. A kill at any moment leaves the target complete (old or new)
//! and at most one stale staging folder, which the next write to the same
//! target removes once its process is gone.
//!
//! Where `RENAME_EXCHANGE` is not available (`EINVAL` from a file system
//! that lacks it, `ENOSYS`/`EPERM` from an old kernel or a seccomp filter,
//! any system other than Linux), the swap is two renames: the target to
//! `.NAME.lbsim-old-HOST-PID-RANDOM`, then the staging folder to the
//! target. Between the two the target is missing for an instant; a run
//! killed there leaves the previous results complete under the `-old`
//! name, and the next write to the target renames them back before
//! anything else, so they are not lost.
//!
//! What a real tool does instead: a database keeps a write-ahead log; here
//! a whole folder is small and written once, so a swap is enough.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::Error;

/// The manifest lbsim writes into every results folder: the names of the
/// files it wrote, so that the next run knows which entries are its own
/// (a `--no-plots` run after one with plots may replace the old plots) and
/// which are someone else's (never deleted: the run refuses instead).
pub const MANIFEST: &str = ".lbsim-files";

/// What the manifest says first, for whoever opens it.
const MANIFEST_HEADER: &str = "# written by lbsim: the files of this folder. lbsim replaces the \
     folder whole at the next run to it, and refuses if it holds anything not listed here.\n";

/// Writes `files` as the whole content of the folder `dir` (plus the
/// manifest), replacing the folder atomically. Refuses, with
/// [`Error::NotReplaceable`] (exit code 2), a `dir` that is not a folder
/// or holds entries that lbsim did not write; nothing is changed then.
pub fn write_folder<N: AsRef<str>>(dir: &Path, files: &[(N, Vec<u8>)]) -> Result<(), Error> {
    let target = resolve(dir)?;
    let parent = target.parent().expect("a resolved target has a parent");
    let base = target
        .file_name()
        .expect("a resolved target has a name")
        .to_os_string();
    let base = base.to_string_lossy().into_owned();
    let out_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Output { path, source }
    };
    clean_stale(parent, &base, &target).map_err(out_error(&target))?;

    let names: BTreeSet<&str> = files.iter().map(|(name, _)| name.as_ref()).collect();
    refuse_foreign(&target, &names)?;

    let staging = parent.join(format!(".{base}.lbsim-staging-{}", Tag::fresh()));
    let staged = stage(&staging, files).and_then(|()| sync_dir(&staging));
    if let Err(source) = staged {
        let _ = fs::remove_dir_all(&staging);
        return Err(out_error(&target)(source));
    }
    swap_in(&staging, &target, parent, &base, &names).inspect_err(|_| {
        let _ = fs::remove_dir_all(&staging);
    })
}

/// Writes each file into `dir` (created if missing) atomically on its own,
/// leaving every other file of `dir` alone: for folders that are not lbsim's
/// alone, such as a man page directory or a folder of sweep parts that
/// several shards share. Every file first goes to a hidden temporary file,
/// fsynced, and only when all are written are they renamed over the final
/// names, so a failure while writing (disk full, permissions) leaves every
/// old file untouched. A kill during the renames can leave some files new
/// and others old; each file is always whole.
pub fn write_each<N: AsRef<str>>(dir: &Path, files: &[(N, Vec<u8>)]) -> Result<(), Error> {
    let fail = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Output { path, source }
    };
    fs::create_dir_all(dir).map_err(fail(dir))?;
    let temp_of = |name: &str| dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let remove_temps = || {
        for (name, _) in files {
            let _ = fs::remove_file(temp_of(name.as_ref()));
        }
    };
    for (name, bytes) in files {
        let name = name.as_ref();
        if let Err(source) = write_synced(&temp_of(name), bytes) {
            remove_temps();
            return Err(fail(&dir.join(name))(source));
        }
    }
    for (name, _) in files {
        let name = name.as_ref();
        if let Err(source) = fs::rename(temp_of(name), dir.join(name)) {
            remove_temps();
            return Err(fail(&dir.join(name))(source));
        }
    }
    sync_dir(dir).map_err(fail(dir))
}

/// The folder to write, absolute and with symbolic links followed (a
/// target that is a link to a folder is written where it points, and the
/// link stays), its parent created. `.` and `..` become the folder they
/// name, which then must pass the foreign-file rule like any other.
fn resolve(dir: &Path) -> Result<PathBuf, Error> {
    let out_error = |source| Error::Output {
        path: dir.to_path_buf(),
        source,
    };
    match fs::symlink_metadata(dir) {
        Ok(_) => {
            let real = fs::canonicalize(dir).map_err(out_error)?;
            if !real.is_dir() {
                return Err(Error::NotReplaceable {
                    path: dir.to_path_buf(),
                    why: "it is a file, not a folder".into(),
                });
            }
            if real.parent().is_none() {
                return Err(Error::NotReplaceable {
                    path: dir.to_path_buf(),
                    why: "it is the root of the file system".into(),
                });
            }
            Ok(real)
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            let name = dir.file_name().ok_or_else(|| Error::NotReplaceable {
                path: dir.to_path_buf(),
                why: "it does not name a folder".into(),
            })?;
            let parent = match dir.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            fs::create_dir_all(parent).map_err(out_error)?;
            Ok(fs::canonicalize(parent).map_err(out_error)?.join(name))
        }
        Err(err) => Err(out_error(err)),
    }
}

/// The entries of `dir` that lbsim did not write: anything not in its
/// manifest, not among the names about to be written, and not an old
/// per-file temporary (`.NAME.tmp-PID`, from before folders were swapped).
/// Sorted, for a stable message. A missing `dir` has none.
fn foreign(dir: &Path, new_names: &BTreeSet<&str>) -> io::Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    let listed: BTreeSet<String> = match fs::read_to_string(dir.join(MANIFEST)) {
        Ok(text) => text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .map(str::to_string)
            .collect(),
        Err(err) if err.kind() == io::ErrorKind::NotFound => BTreeSet::new(),
        Err(err) => return Err(err),
    };
    let mut foreign = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_dir = entry.file_type()?.is_dir();
        let ours = !is_dir
            && (name == MANIFEST
                || listed.contains(&name)
                || new_names.contains(name.as_str())
                || is_old_temp(&name));
        if !ours {
            foreign.push(if is_dir { format!("{name}/") } else { name });
        }
    }
    foreign.sort();
    Ok(foreign)
}

/// `.NAME.tmp-PID`: what the per-file writer leaves when killed.
fn is_old_temp(name: &str) -> bool {
    name.starts_with('.')
        && name
            .rsplit_once(".tmp-")
            .is_some_and(|(_, pid)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
}

/// Fails with [`Error::NotReplaceable`] if `target` holds entries lbsim did
/// not write.
fn refuse_foreign(target: &Path, new_names: &BTreeSet<&str>) -> Result<(), Error> {
    let found = foreign(target, new_names).map_err(|source| Error::Output {
        path: target.to_path_buf(),
        source,
    })?;
    if found.is_empty() {
        return Ok(());
    }
    Err(not_replaceable(target, &found))
}

fn not_replaceable(target: &Path, found: &[String]) -> Error {
    const SHOWN: usize = 5;
    let mut list = found
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if found.len() > SHOWN {
        list.push_str(&format!(" and {} more", found.len() - SHOWN));
    }
    Error::NotReplaceable {
        path: target.to_path_buf(),
        why: format!(
            "it holds files that are not lbsim's results ({list}); lbsim replaces a results \
             folder whole, so move them out or choose another --out"
        ),
    }
}

/// Creates `staging` and writes every file and the manifest into it, each
/// fsynced.
fn stage<N: AsRef<str>>(staging: &Path, files: &[(N, Vec<u8>)]) -> io::Result<()> {
    fs::create_dir(staging)?;
    let mut manifest = MANIFEST_HEADER.to_string();
    for (name, bytes) in files {
        let name = name.as_ref();
        write_synced(&staging.join(name), bytes)?;
        manifest.push_str(name);
        manifest.push('\n');
    }
    write_synced(&staging.join(MANIFEST), manifest.as_bytes())
}

/// Puts the complete `staging` folder at `target` and removes what was
/// there. `names` are the new files, for the foreign-file check that is
/// repeated on the folder swapped out (a file a user dropped into it in
/// the meantime swaps it back).
fn swap_in(
    staging: &Path,
    target: &Path,
    parent: &Path,
    base: &str,
    names: &BTreeSet<&str>,
) -> Result<(), Error> {
    let out_error = |source| Error::Output {
        path: target.to_path_buf(),
        source,
    };
    // A missing target: one rename. It fails if the folder appeared
    // meanwhile (rename replaces only an empty folder), and then the
    // exchange below handles it.
    if fs::symlink_metadata(target).is_err() && fs::rename(staging, target).is_ok() {
        return sync_dir(parent).map_err(out_error);
    }
    match exchange(staging, target) {
        Ok(()) => {
            // `staging` now holds the previous results.
            let late = foreign(staging, names).map_err(out_error)?;
            if !late.is_empty() {
                exchange(staging, target).map_err(out_error)?;
                return Err(not_replaceable(target, &late));
            }
            sync_dir(parent).map_err(out_error)?;
            fs::remove_dir_all(staging).map_err(out_error)
        }
        Err(err) if exchange_unsupported(&err) => {
            let old = parent.join(format!(".{base}.lbsim-old-{}", Tag::fresh()));
            fs::rename(target, &old).map_err(out_error)?;
            if let Err(source) = fs::rename(staging, target) {
                let _ = fs::rename(&old, target);
                return Err(out_error(source));
            }
            sync_dir(parent).map_err(out_error)?;
            fs::remove_dir_all(&old).map_err(out_error)
        }
        Err(err) => Err(out_error(err)),
    }
}

/// Swaps the names `a` and `b` in one step.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a path with a NUL byte"))
    };
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: both are valid NUL-terminated paths that outlive the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Whether `err` says the exchange cannot be done here at all (rather
/// than that it failed): then the two-rename fallback is used.
fn exchange_unsupported(err: &io::Error) -> bool {
    #[cfg(target_os = "linux")]
    if matches!(
        err.raw_os_error(),
        Some(libc::EINVAL | libc::ENOSYS | libc::EPERM | libc::EOPNOTSUPP)
    ) {
        return true;
    }
    err.kind() == io::ErrorKind::Unsupported
}

/// Removes what killed runs left beside `target`: staging folders (and
/// previous results the fallback had moved aside) whose process is gone
/// from this host. If the target is missing but the fallback had moved it
/// aside, it is renamed back first: those were the previous complete
/// results.
fn clean_stale(parent: &Path, base: &str, target: &Path) -> io::Result<()> {
    let staging_prefix = format!(".{base}.lbsim-staging-");
    let old_prefix = format!(".{base}.lbsim-old-");
    let me = Tag::host();
    let mut stale: Vec<(bool, PathBuf)> = Vec::new();
    for entry in fs::read_dir(parent)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let (is_old, rest) = if let Some(rest) = name.strip_prefix(&staging_prefix) {
            (false, rest)
        } else if let Some(rest) = name.strip_prefix(&old_prefix) {
            (true, rest)
        } else {
            continue;
        };
        if let Some((host, pid)) = Tag::parse(rest)
            && host == me
            && !process_alive(pid)
        {
            stale.push((is_old, entry.path()));
        }
    }
    // Old results back first, so that the target is never lost.
    stale.sort_by_key(|(is_old, _)| !is_old);
    for (is_old, path) in stale {
        if is_old && fs::symlink_metadata(target).is_err() && fs::rename(&path, target).is_ok() {
            continue;
        }
        remove_any(&path)?;
    }
    Ok(())
}

fn remove_any(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err),
    }
}

/// Whether process `pid` runs on this host (or might: a process of
/// another user answers `EPERM`, and counts as running).
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// `HOST-PID-RANDOM`: who made a staging folder. The host keeps a run on
/// one machine from removing the staging folder of a live run on another
/// that shares the file system (its pid means nothing here); the random
/// part keeps two writes of one process apart.
struct Tag;

impl Tag {
    fn fresh() -> String {
        use rand::Rng;
        let random: u64 = rand::rng().random();
        format!("{}-{}-{random:016x}", Tag::host(), std::process::id())
    }

    /// This machine's name, letters and digits only (so that `-` splits
    /// the tag), or `host` if it has none.
    fn host() -> String {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is writable for its whole length.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        let raw = if rc == 0 {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            String::from_utf8_lossy(&buf[..end]).into_owned()
        } else {
            String::new()
        };
        let host: String = raw.chars().filter(char::is_ascii_alphanumeric).collect();
        if host.is_empty() { "host".into() } else { host }
    }

    /// The host and pid of a tag.
    fn parse(tag: &str) -> Option<(&str, u32)> {
        let mut parts = tag.rsplitn(3, '-');
        let _random = parts.next()?;
        let pid = parts.next()?.parse().ok()?;
        Some((parts.next()?, pid))
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// fsyncs a folder, so that the names created or renamed in it survive a
/// power loss, not only a kill.
fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests;
