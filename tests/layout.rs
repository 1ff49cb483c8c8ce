//! The layout's rule, checked: dependencies between modules point one way
//! (docs/ARCHITECTURE.md, "The module map"). Reads every `crate::…` and `super::…` path
//! of `src/` (outside each file's `#[cfg(test)]` tail and comments), resolves it to the
//! file of the longest module path that exists, and fails on any cycle, between the
//! crate's top-level modules (`http`, `service`, `store`, …) or between files neither of
//! which contains the other. The entities may name each other (a relation and its
//! inverse), so cycles inside `entity/` are allowed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Key = Vec<String>;

/// Every module of `src`, by its path (`["store", "read", "pg"]`), with its file.
fn modules(src: &Path) -> BTreeMap<Key, PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("a readable directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(src, &mut files);
    files
        .into_iter()
        .map(|file| {
            let rel = file
                .strip_prefix(src)
                .expect("under src")
                .with_extension("");
            let mut key: Key = rel
                .iter()
                .map(|part| part.to_string_lossy().into_owned())
                .collect();
            if matches!(key.last().map(String::as_str), Some("mod" | "lib" | "main")) {
                key.pop();
            }
            (key, file)
        })
        .collect()
}

/// The text of a file that production code sees: no test tail, no comments.
fn code_of(file: &Path) -> String {
    let text = std::fs::read_to_string(file).expect("a readable file");
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `crate::a::b` / `super::a` paths in `code`, as (root, segments).
fn paths_in(code: &str) -> Vec<(&str, Vec<&str>)> {
    let mut out = Vec::new();
    for root in ["crate", "super"] {
        let mut rest = code;
        while let Some(at) = rest.find(root) {
            let before = rest[..at].chars().next_back();
            let after = &rest[at + root.len()..];
            rest = after;
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') || !after.starts_with("::") {
                continue;
            }
            let segs: Vec<&str> = after
                .split("::")
                .skip(1)
                .map_while(|seg| {
                    let end = seg
                        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .unwrap_or(seg.len());
                    (end > 0).then(|| &seg[..end])
                })
                .collect();
            out.push((root, segs));
        }
    }
    out
}

/// The module edges of the crate: which file names which.
fn edges(mods: &BTreeMap<Key, PathBuf>) -> BTreeMap<Key, BTreeSet<Key>> {
    let resolve = |path: &[String]| -> Option<Key> {
        (0..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|k| mods.contains_key(k))
    };
    let mut out = BTreeMap::new();
    for (key, file) in mods {
        let is_dir_module = matches!(
            file.file_stem().and_then(|s| s.to_str()),
            Some("mod" | "lib" | "main")
        );
        let parent: Key = if is_dir_module {
            key.clone()
        } else {
            key[..key.len().saturating_sub(1)].to_vec()
        };
        let mut targets = BTreeSet::new();
        for (root, segs) in paths_in(&code_of(file)) {
            let mut base: Key = if root == "crate" {
                Vec::new()
            } else if is_dir_module {
                parent[..parent.len().saturating_sub(1)].to_vec()
            } else {
                parent.clone()
            };
            let mut segs = segs.as_slice();
            while let Some(("super", tail)) = segs.split_first().map(|(h, t)| (*h, t)) {
                base.pop();
                segs = tail;
            }
            base.extend(segs.iter().map(|s| s.to_string()));
            if let Some(target) = resolve(&base)
                && &target != key
                && !target.is_empty()
            {
                targets.insert(target);
            }
        }
        out.insert(key.clone(), targets);
    }
    out
}

/// The strongly connected sets of two or more nodes (Tarjan).
fn cycles(graph: &BTreeMap<Key, BTreeSet<Key>>) -> Vec<Vec<Key>> {
    struct Walk<'g> {
        graph: &'g BTreeMap<Key, BTreeSet<Key>>,
        index: BTreeMap<&'g Key, usize>,
        low: BTreeMap<&'g Key, usize>,
        stack: Vec<&'g Key>,
        out: Vec<Vec<Key>>,
    }
    impl<'g> Walk<'g> {
        fn strong(&mut self, v: &'g Key) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            for w in self.graph.get(v).into_iter().flatten() {
                if !self.index.contains_key(w) {
                    self.strong(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.stack.contains(&w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut set = Vec::new();
                while let Some(w) = self.stack.pop() {
                    set.push(w.clone());
                    if w == v {
                        break;
                    }
                }
                if set.len() > 1 {
                    self.out.push(set);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v) {
            walk.strong(v);
        }
    }
    walk.out
}

fn top(key: &Key) -> Key {
    key.iter().take(1).cloned().collect()
}

fn contains(outer: &Key, inner: &Key) -> bool {
    outer.len() < inner.len() && inner[..outer.len()] == outer[..]
}

/// Every cycle of `src`, each as a readable line.
fn cycles_of(src: &Path) -> Vec<String> {
    let mods = modules(src);
    let edges = edges(&mods);
    let mut tops: BTreeMap<Key, BTreeSet<Key>> = BTreeMap::new();
    let mut files: BTreeMap<Key, BTreeSet<Key>> = BTreeMap::new();
    for (from, targets) in &edges {
        files.entry(from.clone()).or_default();
        for to in targets {
            if top(from) != top(to) {
                tops.entry(top(from)).or_default().insert(top(to));
            }
            if !contains(from, to) && !contains(to, from) {
                files.entry(from.clone()).or_default().insert(to.clone());
            }
        }
    }
    let allowed = |set: &Vec<Key>| set.iter().all(|k| k.first().is_some_and(|t| t == "entity"));
    let show = |set: Vec<Key>| {
        set.iter()
            .map(|k| k.join("::"))
            .collect::<Vec<_>>()
            .join(" ↔ ")
    };
    let mut found: Vec<String> = cycles(&tops)
        .into_iter()
        .filter(|set| !allowed(set))
        .map(|set| format!("modules {}", show(set)))
        .collect();
    found.extend(
        cycles(&files)
            .into_iter()
            .filter(|set| !allowed(set))
            .map(|set| format!("files {}", show(set))),
    );
    found
}

#[test]
fn no_module_depends_on_itself_through_others() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    assert!(
        modules(&src).len() > 50,
        "the crate's modules were not found"
    );
    let found = cycles_of(&src);
    assert!(found.is_empty(), "module cycles:\n{}", found.join("\n"));
}

#[test]
fn a_cycle_is_found() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let src = dir.path();
    std::fs::create_dir_all(src.join("a")).expect("a folder");
    std::fs::write(src.join("lib.rs"), "pub mod a;\npub mod b;\n").expect("lib.rs");
    std::fs::write(src.join("a/mod.rs"), "pub mod x;\n").expect("a/mod.rs");
    std::fs::write(src.join("a/x.rs"), "use crate::b::f;\n").expect("a/x.rs");
    std::fs::write(
        src.join("b.rs"),
        "// crate::a is named in a comment only\npub fn f() { super::a::x::g() }\n",
    )
    .expect("b.rs");
    let found = cycles_of(src);
    assert_eq!(
        found,
        vec!["modules b ↔ a".to_string(), "files b ↔ a::x".to_string()]
    );
}
