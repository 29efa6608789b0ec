//! The repository's `stack.toml` is the user's to edit (the walkthrough's grant step
//! edits it): no crate may compile it in (`include_str!`) or read it in a test, or editing
//! it would change a build or a test outcome. (The equivalent, cheaper than copying the
//! repository, editing its stack.toml and running the tests: no build input names it.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Every source and manifest file under `dir`, build output excluded.
fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                sources(&path, found);
            }
        } else if name.ends_with(".rs") || name.ends_with(".toml") {
            found.push(path);
        }
    }
}

/// The relative paths ending in `stack.toml` written in `text`, e.g. `../` twice then the
/// name.
fn relative_stack_paths(text: &str) -> Vec<&str> {
    let is_path_char = |c: char| c.is_ascii_alphanumeric() || "._-/".contains(c);
    text.match_indices("stack.toml")
        .filter_map(|(end, _)| {
            let start = text[..end]
                .char_indices()
                .rev()
                .take_while(|&(_, c)| is_path_char(c))
                .last()
                .map_or(end, |(i, _)| i);
            let path = &text[start..end + "stack.toml".len()];
            path.contains('/').then_some(path)
        })
        .collect()
}

/// The crate directory a file belongs to: where `CARGO_MANIFEST_DIR` points.
fn crate_dir(file: &Path) -> PathBuf {
    file.ancestors()
        .find(|dir| dir.join("Cargo.toml").is_file())
        .unwrap()
        .to_path_buf()
}

#[test]
fn no_crate_reads_the_repository_stack_toml() {
    let root = workspace_root();
    let users_stack = root.join("stack.toml").canonicalize().unwrap();
    let mut files = Vec::new();
    sources(&root.join("crates"), &mut files);
    assert!(
        files.iter().any(|f| f.ends_with("crates/s2s/src/stack.rs")),
        "the scan must see the crates' sources"
    );
    let mut offenders = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for path in relative_stack_paths(&text) {
            // `include_str!` resolves against the file, `CARGO_MANIFEST_DIR` joins against
            // the crate: either way, it must not land on the user's stack.toml.
            let bases = [file.parent().unwrap().to_path_buf(), crate_dir(file)];
            let hits = bases.iter().any(|base| {
                base.join(path)
                    .canonicalize()
                    .is_ok_and(|p| p == users_stack)
            });
            if hits {
                offenders.push(format!("{}: {path}", file.display()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "these read the repository's stack.toml, which the user edits; use crates/s2s/default-stack.toml:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_scan_finds_a_path_to_the_repository_stack_toml() {
    // Built with concat! so that this file does not itself name the user's file.
    let source = concat!(
        r#"include_str!("../../../"#,
        r#"stack.toml") or "default-stack.toml""#
    );
    assert_eq!(
        relative_stack_paths(source),
        [concat!("../../../", "stack.toml")]
    );
}
