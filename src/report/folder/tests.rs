//! The results folder's writes, against a real file system.

use super::*;

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_second_write_replaces_the_folder_and_leaves_no_staging() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    write_folder(&out, &[("a.csv", b"1".to_vec()), ("b.csv", b"2".to_vec())]).unwrap();
    // A run with fewer files (say --no-plots) may drop the old b.csv:
    // the manifest says lbsim wrote it.
    write_folder(&out, &[("a.csv", b"3".to_vec())]).unwrap();
    assert_eq!(names(&out), [MANIFEST, "a.csv"]);
    assert_eq!(fs::read(out.join("a.csv")).unwrap(), b"3");
    assert_eq!(names(root.path()), ["out"]);
}

#[test]
fn a_folder_with_foreign_files_is_refused_and_left_alone() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    write_folder(&out, &[("a.csv", b"1".to_vec())]).unwrap();
    fs::write(out.join("notes.txt"), b"mine").unwrap();
    fs::create_dir(out.join("data")).unwrap();
    let err = write_folder(&out, &[("a.csv", b"2".to_vec())]).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("(data/, notes.txt)"), "{err}");
    assert_eq!(fs::read(out.join("a.csv")).unwrap(), b"1");
    assert_eq!(names(root.path()), ["out"]);
}

#[test]
fn a_folder_without_a_manifest_may_hold_only_the_new_names() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("a.csv"), b"old").unwrap();
    fs::write(out.join(".a.csv.tmp-123"), b"half").unwrap();
    write_folder(&out, &[("a.csv", b"new".to_vec())]).unwrap();
    assert_eq!(names(&out), [MANIFEST, "a.csv"]);
    fs::remove_file(out.join(MANIFEST)).unwrap();
    assert!(write_folder(&out, &[("b.csv", b"new".to_vec())]).is_err());
}

#[test]
fn a_file_in_place_of_the_folder_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    fs::write(&out, b"x").unwrap();
    let err = write_folder(&out, &[("a.csv", b"1".to_vec())]).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert_eq!(fs::read(&out).unwrap(), b"x");
}

#[test]
fn a_link_to_a_folder_is_written_where_it_points() {
    let root = tempfile::tempdir().unwrap();
    let real = root.path().join("real");
    let link = root.path().join("link");
    write_folder(&real, &[("a.csv", b"1".to_vec())]).unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    write_folder(&link, &[("a.csv", b"2".to_vec())]).unwrap();
    assert!(fs::symlink_metadata(&link).unwrap().is_symlink());
    assert_eq!(fs::read(real.join("a.csv")).unwrap(), b"2");
}

#[test]
fn stale_staging_of_a_dead_process_is_removed_and_a_live_ones_kept() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    write_folder(&out, &[("a.csv", b"1".to_vec())]).unwrap();
    let host = Tag::host();
    // pid_max is at most 2^22 on Linux, so this pid cannot run.
    let dead = root
        .path()
        .join(format!(".out.lbsim-staging-{host}-99999999-00"));
    let alive = root.path().join(format!(
        ".out.lbsim-staging-{host}-{}-00",
        std::process::id()
    ));
    let elsewhere = root.path().join(".out.lbsim-staging-otherhost-99999999-00");
    for dir in [&dead, &alive, &elsewhere] {
        fs::create_dir(dir).unwrap();
        fs::write(dir.join("a.csv"), b"half").unwrap();
    }
    write_folder(&out, &[("a.csv", b"2".to_vec())]).unwrap();
    assert!(!dead.exists());
    assert!(alive.exists() && elsewhere.exists());
}

#[test]
fn results_the_fallback_moved_aside_come_back_if_the_target_is_missing() {
    let root = tempfile::tempdir().unwrap();
    let old = root
        .path()
        .join(format!(".out.lbsim-old-{}-99999999-00", Tag::host()));
    fs::create_dir(&old).unwrap();
    fs::write(old.join("a.csv"), b"old").unwrap();
    let out = root.path().join("out");
    clean_stale(root.path(), "out", &out).unwrap();
    assert_eq!(fs::read(out.join("a.csv")).unwrap(), b"old");
    assert!(!old.exists());
}

#[test]
fn each_file_is_replaced_alone_and_others_are_kept() {
    let root = tempfile::tempdir().unwrap();
    fs::write(root.path().join("theirs.1"), b"x").unwrap();
    write_each(root.path(), &[("lbsim.1", b"page".to_vec())]).unwrap();
    assert_eq!(names(root.path()), ["lbsim.1", "theirs.1"]);
}

#[test]
fn tags_parse_back() {
    assert_eq!(Tag::parse("myhost-42-0123abcd"), Some(("myhost", 42)));
    assert_eq!(Tag::parse("42-0123"), None);
    let tag = Tag::fresh();
    assert_eq!(
        Tag::parse(&tag).map(|(_, pid)| pid),
        Some(std::process::id())
    );
}
