//! `lbsim show` and `lbsim init`: a bundled scenario's TOML text, printed
//! to read, or written to a new file to edit into a scenario of one's own.
//!
//! Owns: choosing the bundled scenario and writing the copy without ever
//! overwriting a file. Must not: parse or change the text. The copy is the
//! bundled file byte for byte, comments included, so `lbsim run` of the
//! copy gives the same results as `lbsim run NAME`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::scenario::bundled;

/// The scenario `lbsim init` copies when no name is given: the four classic
/// strategies under both kinds of fault, the scenario the README opens with.
pub const DEFAULT_STARTER: &str = "sticky-vs-redis";

/// The command line of `lbsim init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Bundled scenario to start from (see `lbsim list`).
    #[arg(default_value = DEFAULT_STARTER)]
    pub name: String,
    /// File to write [default: NAME.toml in the current folder]. An existing
    /// file is never overwritten.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs `lbsim show NAME`: the bundled text, unchanged, on stdout.
pub fn show(name: &str) -> Result<(), Error> {
    let scenario = bundled::find_or_hint(name).map_err(Error::Usage)?;
    // A closed pipe (e.g. `| head`) is not an error worth reporting.
    let _ = std::io::stdout().lock().write_all(scenario.text.as_bytes());
    Ok(())
}

/// Runs `lbsim init`: writes the bundled text to a new file and says what
/// to run next.
pub fn init(args: InitArgs) -> Result<(), Error> {
    let scenario = bundled::find_or_hint(&args.name).map_err(Error::Usage)?;
    let out = args.out.unwrap_or_else(|| PathBuf::from(scenario.file));
    write_new(&out, scenario.text.as_bytes())?;
    let shown = out.display();
    // The results folder is named by the `name` inside the file, which the
    // copy keeps whatever the file is called.
    let folder = scenario.file.trim_end_matches(".toml");
    println!(
        "wrote {shown} (a copy of the bundled scenario {folder}); edit it, then:\n\
         \x20 lbsim validate {shown}    check it\n\
         \x20 lbsim run {shown}         run it (results in results/{folder}/, or --out DIR)\n\
         \x20 lbsim explain {shown}     the run told event by event"
    );
    Ok(())
}

/// Writes `bytes` to a new file at `path`, refusing (exit 2) if the file
/// exists. The text goes to a hidden temporary file beside it first and is
/// then hard-linked to the final name, which fails if the name is taken:
/// a failed write leaves nothing behind, and a file created meanwhile is
/// not clobbered (a rename, as `report::write_atomically` does, would
/// replace it).
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let exists = || {
        Error::Usage(format!(
            "{} already exists; lbsim init never overwrites a file: \
             choose another name with --out FILE, or remove it first",
            path.display()
        ))
    };
    if path.exists() {
        return Err(exists());
    }
    let output_error = |source| Error::Output {
        path: path.to_path_buf(),
        source,
    };
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    fs::create_dir_all(folder).map_err(output_error)?;
    let temporary = folder.join(format!(".lbsim-init.tmp-{}", std::process::id()));
    let written = fs::File::create(&temporary)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .and_then(|()| fs::hard_link(&temporary, path));
    let _ = fs::remove_file(&temporary);
    match written {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Err(exists()),
        Err(err) => Err(output_error(err)),
    }
}
