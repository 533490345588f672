//! No import cycles between the modules of a crate: each module may use the modules
//! below it, never one that (directly or not) uses it back. Adding a contract must
//! not make the state machine a knot again (issue 13). The check reads the sources:
//! every `crate::…` and `super::…` path and every `use` of a child module is an
//! edge from the module it appears in to the module it names; `mod` declarations
//! and re-exports (`pub use`) are not edges. Comments are ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crates checked, by directory under `crates/`.
const CRATES: &[&str] = &[
    "state", "types", "gs1", "epcis", "client", "store", "node", "api", "server", "bench",
    "testkit", "waybill",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a source file: `lib.rs`/`main.rs` → "crate", `a.rs` and
/// `a/mod.rs` → "crate::a", `a/b.rs` → "crate::a::b".
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("file under src");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "lib" | "main" | "mod") {
        parts.push(stem.to_string());
    }
    std::iter::once("crate".to_string())
        .chain(parts)
        .collect::<Vec<_>>()
        .join("::")
}

/// The source without comments (line comments, doc comments, block comments) and
/// without the contents of string literals.
fn strip(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            i += 2;
            while i < b.len() && !b[i..].starts_with(b"*/") {
                i += 1;
            }
            i += 2;
        } else if b[i] == b'"' {
            // Raw strings are rare in module paths' neighbourhood; skip plain ones.
            out.push('"');
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            out.push('"');
            i += 1;
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Expand `prefix::{a, b::{c, d}}` groups into full paths.
fn expand(path: &str, out: &mut Vec<String>) {
    if let Some(open) = path.find('{') {
        let prefix = &path[..open];
        let inner = &path[open + 1..path.rfind('}').unwrap_or(path.len())];
        let mut depth = 0;
        let mut start = 0;
        let bytes: Vec<char> = inner.chars().collect();
        for (i, c) in bytes.iter().enumerate() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    let item: String = bytes[start..i].iter().collect();
                    expand(&format!("{prefix}{}", item.trim()), out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        let item: String = bytes[start..].iter().collect();
        if !item.trim().is_empty() {
            expand(&format!("{prefix}{}", item.trim()), out);
        }
    } else {
        out.push(path.split(" as ").next().unwrap_or(path).trim().to_string());
    }
}

/// `pub use …` or `pub(…) use …`.
fn is_reexport(stmt: &str) -> bool {
    let s = stmt.trim_start();
    let Some(rest) = s.strip_prefix("pub") else {
        return false;
    };
    let rest = match rest.strip_prefix('(') {
        Some(r) => r.split_once(')').map_or("", |(_, after)| after),
        None => rest,
    };
    rest.trim_start().starts_with("use ")
}

/// Every path a module's source names that starts with `crate::`, `super::` or (in
/// `use` items) a child module's name, made absolute.
fn paths_named(module: &str, text: &str, children: &BTreeSet<String>) -> Vec<String> {
    let mut raw = Vec::new();
    // `use` items, with their groups.
    for stmt in text.split(';') {
        let s = stmt.trim_start();
        // A re-export (`pub use`) is a module's public face, not a use of what it
        // names; only private `use` items are dependencies.
        if let Some(rest) = s.strip_prefix("use ") {
            let compact: String = rest.chars().filter(|c| !c.is_whitespace()).collect();
            expand(&compact, &mut raw);
        }
    }
    // Paths in expressions and types (re-exports left out).
    let text: String = text
        .split_inclusive(';')
        .filter(|stmt| !is_reexport(stmt))
        .collect();
    let text = text.as_str();
    let chars: Vec<char> = text.chars().collect();
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(pos) = text[from..].find(start) {
            let at = from + pos;
            from = at + start.len();
            if at > 0 && is_ident(chars[at - 1]) {
                continue;
            }
            let mut end = at;
            while end < chars.len() && (is_ident(chars[end]) || chars[end] == ':') {
                end += 1;
            }
            raw.push(text[at..end].trim_end_matches(':').to_string());
        }
    }
    let parent = module.rsplit_once("::").map(|(p, _)| p).unwrap_or("crate");
    raw.into_iter()
        .filter_map(|p| {
            if p.starts_with("crate::") || p == "crate" {
                Some(p)
            } else if let Some(rest) = p.strip_prefix("super::") {
                Some(format!("{parent}::{rest}"))
            } else if let Some(rest) = p.strip_prefix("self::") {
                Some(format!("{module}::{rest}"))
            } else {
                let first = p.split("::").next().unwrap_or("");
                children
                    .contains(&format!("{module}::{first}"))
                    .then(|| format!("{module}::{p}"))
            }
        })
        .collect()
}

/// The longest module that `path` starts with.
fn target_module(path: &str, modules: &BTreeSet<String>) -> String {
    let mut best = "crate".to_string();
    let mut cur = String::new();
    for seg in path.split("::") {
        if !cur.is_empty() {
            cur.push_str("::");
        }
        cur.push_str(seg);
        if modules.contains(&cur) {
            best = cur.clone();
        }
    }
    best
}

/// Edges module → modules it uses, for the crate in `src`.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let texts: BTreeMap<String, String> = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).expect("readable source");
            (module_of(src, f), strip(&text))
        })
        .collect();
    let modules: BTreeSet<String> = texts.keys().cloned().collect();
    let mut g = BTreeMap::new();
    for (m, text) in &texts {
        let children: BTreeSet<String> = modules
            .iter()
            .filter(|c| c.rsplit_once("::").map(|(p, _)| p) == Some(m.as_str()))
            .cloned()
            .collect();
        let edges: BTreeSet<String> = paths_named(m, text, &children)
            .iter()
            .map(|p| target_module(p, &modules))
            .filter(|t| t != m)
            .collect();
        g.insert(m.clone(), edges);
    }
    g
}

/// The cycles of `g`: its strongly connected components of more than one module.
fn cycles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let reach = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(n) = stack.pop() {
            for t in g.get(&n).into_iter().flatten() {
                if seen.insert(t.clone()) {
                    stack.push(t.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> = g.keys().map(|m| (m, reach(m))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for m in g.keys() {
        if done.contains(m) || !reaches[m].contains(m) {
            continue;
        }
        let comp: Vec<String> = g
            .keys()
            .filter(|o| reaches[m].contains(*o) && reaches[*o].contains(m))
            .cloned()
            .collect();
        done.extend(comp.iter().cloned());
        out.push(comp);
    }
    out
}

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crates/")
        .to_path_buf()
}

#[test]
fn no_crate_has_an_import_cycle() {
    let mut found = Vec::new();
    for c in CRATES {
        let src = crates_dir().join(c).join("src");
        for comp in cycles(&graph(&src)) {
            let g = graph(&src);
            let edges: Vec<String> = comp
                .iter()
                .flat_map(|m| {
                    g[m].iter()
                        .filter(|t| comp.contains(t))
                        .map(move |t| format!("{m} -> {t}"))
                })
                .collect();
            found.push(format!("{c}: {}", edges.join(", ")));
        }
    }
    assert!(
        found.is_empty(),
        "import cycles (move what both sides need into a module below them):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_checker_sees_a_cycle() {
    let dir = std::env::temp_dir().join(format!("waybill-cycles-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("a")).expect("temp dir");
    std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\n").expect("write");
    std::fs::write(
        src.join("a/mod.rs"),
        "//! use crate::b is only a comment here\npub mod inner;\n",
    )
    .expect("write");
    std::fs::write(src.join("a/inner.rs"), "use crate::b::{x, y as z};\n").expect("write");
    std::fs::write(
        src.join("b.rs"),
        "pub use crate::a::inner::x;\npub fn f() { super::a::inner::g() }\n",
    )
    .expect("write");
    let g = graph(&src);
    assert_eq!(
        cycles(&g),
        vec![vec!["crate::a::inner".to_string(), "crate::b".to_string()]]
    );
    // Without the back edge there is none (a re-export is not one), and the
    // comment made no edge.
    std::fs::write(src.join("b.rs"), "pub use crate::a::inner::x;\nfn f() {}\n").expect("write");
    assert!(cycles(&graph(&src)).is_empty());
    assert!(graph(&src)["crate::a"].is_empty());
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
