//! A results folder survives lbsim being killed at any moment: it then
//! holds the previous complete results or the new complete ones, never a
//! mix, and the staging folder a kill leaves is gone after the next run.
//!
//! The real binary is killed with SIGKILL at random moments over a whole
//! run. About a third of a small run's wall time is spent writing files
//! (staging, fsyncs, the swap, removing the old folder: measured with
//! strace), so many kills land in the middle of the write.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

/// Every file of a folder, by name, with its bytes.
fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let entry = entry.unwrap();
            assert!(entry.file_type().unwrap().is_file(), "{:?}", entry.path());
            let name = entry.file_name().into_string().unwrap();
            (name, fs::read(entry.path()).unwrap())
        })
        .collect()
}

/// The names in `dir` that are staging (or moved-aside) folders of `out`.
fn staging(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with(".out.lbsim-"))
        .collect()
}

/// `lbsim run` of a small bundled scenario into `out` with `seed`
/// (`--no-plots` keeps a debug build's run near 0.3 s; the folder still
/// has its 12 files and the manifest).
fn command(dir: &Path, seed: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lbsim"));
    command
        .args(["run", "sticky-vs-redis", "--quiet", "--no-plots"])
        .args(["--users", "200", "--duration", "10m", "--seed", seed])
        .args(["--out", "out"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

fn copy_folder(from: &Path, to: &Path) {
    fs::create_dir(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn a_run_killed_at_any_moment_leaves_the_old_or_the_new_results() {
    let iterations: usize = std::env::var("LBSIM_KILL_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let out = root.join("out");

    // The two reference folders: seed 1 is "the previous results", seed 2
    // "the new ones". meta.json holds no timestamp (it names the scenario,
    // its hash, the seed and the version), so two runs with one seed are
    // byte-identical, meta.json included, and the comparison is exact.
    let mut took = Vec::new();
    let mut reference = |seed: &str| {
        let started = Instant::now();
        assert!(command(root, seed).status().unwrap().success());
        took.push(started.elapsed());
        let kept = contents(&out);
        fs::remove_dir_all(&out).unwrap();
        kept
    };
    let old = reference("1");
    let new = reference("2");
    assert_ne!(old, new, "the seeds must give different results");
    assert!(old.contains_key(lbsim::report::folder::MANIFEST));
    // The same seed again gives the same bytes (the premise of the
    // comparison below).
    assert_eq!(reference("2"), new);
    took.sort();
    let run_time = took[1];

    let seed: u64 = std::env::var("LBSIM_KILL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("LBSIM_KILL_SEED={seed} LBSIM_KILL_ITERATIONS={iterations}");
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    let old_copy = root.join("old-copy");
    fs::create_dir(&old_copy).unwrap();
    for (name, bytes) in &old {
        fs::write(old_copy.join(name), bytes).unwrap();
    }

    let (mut saw_old, mut saw_new, mut left_staging) = (0, 0, 0);
    for i in 0..iterations {
        if !out.exists() {
            copy_folder(&old_copy, &out);
        }
        let staging_before = staging(root);
        let mut child = command(root, "2").spawn().unwrap();
        let delay = if i % 2 == 0 {
            // Any moment: stratified over 0 to 1.2 times the median
            // reference run, so that kills land evenly on every phase
            // (starting, simulating, writing, swapping, removing the old
            // folder), a few after the end.
            let stretch = (i as f64 + rng.random_range(0.0..2.0)) / iterations as f64;
            let delay = run_time.mul_f64(1.2 * stretch);
            std::thread::sleep(delay);
            delay
        } else {
            // While writing: from the moment this run's staging folder
            // appears, 0 to 60 ms (writing 13 files with an fsync each,
            // the swap and the removal of the old folder take 5 to 60 ms
            // here, so some kills come after the end). Timing alone would
            // rarely land there on a loaded machine.
            let started = Instant::now();
            let mine = format!("-{}-", child.id());
            while !staging(root).iter().any(|name| name.contains(&mine))
                && child.try_wait().unwrap().is_none()
            {
                std::thread::yield_now();
            }
            std::thread::sleep(Duration::from_micros(rng.random_range(0..60_000)));
            started.elapsed()
        };
        let _ = child.kill();
        child.wait().unwrap();

        let now = contents(&out);
        if now == old {
            saw_old += 1;
        } else if now == new {
            saw_new += 1;
            // Back to the previous results for the next kill.
            fs::remove_dir_all(&out).unwrap();
        } else {
            let differ: Vec<&String> = now
                .keys()
                .chain(old.keys())
                .filter(|name| now.get(*name) != old.get(*name) && now.get(*name) != new.get(*name))
                .collect();
            panic!(
                "iteration {i} (kill after {delay:?}, LBSIM_KILL_SEED={seed}): the folder is \
                 neither the old nor the new results; files matching neither: {differ:?}"
            );
        }
        // A staging folder this run made and did not get to remove: the
        // kill came while the files were being written or the old folder
        // removed.
        if staging(root)
            .iter()
            .any(|name| !staging_before.contains(name))
        {
            left_staging += 1;
        }
    }
    eprintln!(
        "{iterations} kills: {saw_old} left the old results, {saw_new} the new, \
         {left_staging} were cut while writing"
    );
    // The first kills come within a few percent of the start, long before
    // anything is written, and most kills timed from the staging folder
    // come after the swap: both outcomes must show, or the test did not
    // cut runs on both sides of it.
    if iterations >= 20 {
        assert!(saw_old > 0 && saw_new > 0, "{saw_old} old, {saw_new} new");
    }

    // The next complete run removes whatever staging folders the killed
    // runs left (their processes are gone) and writes the new results.
    if !out.exists() {
        copy_folder(&old_copy, &out);
    }
    assert!(command(root, "2").status().unwrap().success());
    assert_eq!(contents(&out), new);
    assert_eq!(staging(root), Vec::<String>::new());
}

#[test]
fn a_results_folder_holding_someone_elses_file_is_refused_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    assert!(command(root, "1").status().unwrap().success());
    let before = contents(&root.join("out"));
    fs::write(root.join("out/notes.txt"), b"my notes").unwrap();
    let output = command(root, "2").stderr(Stdio::piped()).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("not lbsim's results (notes.txt)") && stderr.contains("--out"),
        "{stderr}"
    );
    let mut after = contents(&root.join("out"));
    assert_eq!(after.remove("notes.txt").as_deref(), Some(&b"my notes"[..]));
    assert_eq!(after, before);
    assert_eq!(staging(root), Vec::<String>::new());
}
