//! No unused dependencies: every crate a `Cargo.toml` of the workspace (and of `fuzz/`)
//! names under `[dependencies]`, `[dev-dependencies]` or `[build-dependencies]` is
//! used by that package's code — a path through it (`name::…`), a `use name`, or an
//! `extern crate name` in its `src/`, `tests/`, `benches/`, `examples/` or `build.rs`.
//! Each unused dependency costs every build its compile time (issue 13). This is the
//! check `cargo machete` makes, without installing it.
//!
//! A dependency needed without being named in code (one that only turns on a feature
//! of another) is listed in that manifest under
//! `[package.metadata.unused-dependencies] needed = ["name"]`, with a comment saying why.

use std::path::{Path, PathBuf};

/// The root of the workspace (`crates/state/../..`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every package manifest to check.
fn manifests() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in ["crates", "fuzz"] {
        let d = root().join(dir);
        if dir == "fuzz" {
            out.push(d.join("Cargo.toml"));
            continue;
        }
        let mut entries: Vec<_> = std::fs::read_dir(&d)
            .unwrap_or_else(|e| panic!("reading {}: {e}", d.display()))
            .map(|e| e.expect("entry").path().join("Cargo.toml"))
            .filter(|p| p.exists())
            .collect();
        entries.sort();
        out.extend(entries);
    }
    out
}

/// A dependency as a manifest declares it: its name in the manifest (which is how code
/// names it, `-` read as `_`) and the section.
#[derive(Debug)]
struct Dep {
    name: String,
    section: String,
}

/// The dependencies a manifest declares, and the names it marks as needed without
/// being named in code.
fn declared(manifest: &str) -> (Vec<Dep>, Vec<String>) {
    let mut deps = Vec::new();
    let mut needed = Vec::new();
    let mut section = String::new();
    for line in manifest.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.starts_with('[') {
            section = line.trim_matches(|c| c == '[' || c == ']').to_string();
            continue;
        }
        if section == "package.metadata.unused-dependencies" && line.starts_with("needed") {
            needed.extend(
                line.split('"')
                    .skip(1)
                    .step_by(2)
                    .map(|s| s.replace('-', "_")),
            );
            continue;
        }
        let is_deps = section.ends_with("dependencies")
            && !section.starts_with("workspace")
            && !section.starts_with("package.metadata");
        if !is_deps || line.is_empty() {
            continue;
        }
        let name = line
            .split(['=', '.'])
            .next()
            .expect("split yields one part")
            .trim()
            .trim_matches('"');
        if !name.is_empty() {
            deps.push(Dep {
                name: name.to_string(),
                section: section.clone(),
            });
        }
    }
    (deps, needed)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let p = e.expect("entry").path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The package's code, every file concatenated.
fn code_of(package: &Path) -> String {
    let mut files = Vec::new();
    for d in ["src", "tests", "benches", "examples", "fuzz_targets"] {
        rust_files(&package.join(d), &mut files);
    }
    let build = package.join("build.rs");
    if build.exists() {
        files.push(build);
    }
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display())))
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Does `code` name the crate `ident`: `ident::`, `use ident` or `extern crate ident`,
/// at a word boundary?
fn names(code: &str, ident: &str) -> bool {
    let b = code.as_bytes();
    code.match_indices(ident).any(|(i, _)| {
        let before_ok = i == 0 || !is_ident_byte(b[i - 1]);
        let end = i + ident.len();
        if !before_ok || b.get(end).is_some_and(|&c| is_ident_byte(c)) {
            return false;
        }
        let rest = &code[end..];
        let head = code[..i].trim_end();
        rest.starts_with("::")
            || head.ends_with("use")
            || head.ends_with("extern crate")
            || (rest.trim_start().starts_with(';') && head.ends_with("use"))
    })
}

#[test]
fn every_declared_dependency_is_used() {
    let mut unused = Vec::new();
    let mut checked = 0;
    for manifest in manifests() {
        let text = std::fs::read_to_string(&manifest)
            .unwrap_or_else(|e| panic!("reading {}: {e}", manifest.display()));
        let package = manifest.parent().expect("manifest in a directory");
        let code = code_of(package);
        let (deps, needed) = declared(&text);
        for d in deps {
            checked += 1;
            let ident = d.name.replace('-', "_");
            if !needed.contains(&ident) && !names(&code, &ident) {
                unused.push(format!(
                    "{}: `{}` in [{}]",
                    manifest.display(),
                    d.name,
                    d.section
                ));
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} dependencies found: is the manifest parser broken?"
    );
    assert!(
        unused.is_empty(),
        "dependencies no code uses (remove them, or list one that only enables a feature under [package.metadata.unused-dependencies] needed = [..]):\n{}",
        unused.join("\n")
    );
}

#[test]
fn the_check_finds_an_unused_dependency_and_accepts_the_ways_code_names_one() {
    let (deps, needed) = declared(
        "[package]\nname = \"x\"\n\n[dependencies]\nserde.workspace = true\nfoo-bar = { version = \"1\" }\n\"quoted\" = \"2\"\n\n[dev-dependencies]\nbaz = \"1\" # a comment\n\n[package.metadata.unused-dependencies]\nneeded = [\"feature-only\"]\n",
    );
    let names_found: Vec<&str> = deps.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names_found, ["serde", "foo-bar", "quoted", "baz"]);
    assert_eq!(needed, ["feature_only"]);
    assert!(names("use foo_bar::X;", "foo_bar"));
    assert!(names("let x = foo_bar::f();", "foo_bar"));
    assert!(names("use foo_bar;", "foo_bar"));
    assert!(names("extern crate foo_bar;", "foo_bar"));
    assert!(names("#[derive(serde::Serialize)]", "serde"));
    assert!(
        !names("let foo_bar = 1;", "foo_bar"),
        "a variable is not the crate"
    );
    assert!(
        !names("use my_foo_bar::X;", "foo_bar"),
        "a longer name is not it"
    );
    assert!(!names("use crate::foo_bar_baz;", "foo_bar"));
    assert!(!names("", "serde"));
}
