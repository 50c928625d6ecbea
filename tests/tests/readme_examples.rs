//! The README's Rust code blocks are the example programs in `crates/brokerkit/examples`,
//! character for character, so they compile (`cargo build --examples`), run against the
//! sandboxes (`.ci/examples`) and cannot drift. Each block is announced by an invisible marker
//! line `<!-- example: crates/brokerkit/examples/readme_<name>.rs -->`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const MARKER: &str = "<!-- example: ";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

struct Block {
    /// The file a marker names, if the block has one.
    file: Option<String>,
    /// 1-based line of the opening fence.
    line: usize,
    lang: String,
    text: String,
}

fn blocks(readme: &str) -> Vec<Block> {
    let lines: Vec<&str> = readme.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(lang) = lines[i].strip_prefix("```") else {
            i += 1;
            continue;
        };
        let file = i
            .checked_sub(1)
            .and_then(|p| lines[p].strip_prefix(MARKER))
            .and_then(|m| m.strip_suffix(" -->"))
            .map(str::to_string);
        let start = i;
        let mut text = String::new();
        i += 1;
        while i < lines.len() && lines[i] != "```" {
            text.push_str(lines[i]);
            text.push('\n');
            i += 1;
        }
        assert!(
            i < lines.len(),
            "README.md:{}: unclosed code block",
            start + 1
        );
        out.push(Block {
            file,
            line: start + 1,
            lang: lang.to_string(),
            text,
        });
        i += 1;
    }
    out
}

#[test]
fn every_rust_block_of_the_readme_is_an_example_file_verbatim() {
    let root = root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let blocks = blocks(&readme);
    let mut named = BTreeSet::new();
    for b in &blocks {
        let is_rust = b.lang == "rust" || b.lang.starts_with("rust,");
        match (&b.file, is_rust) {
            (Some(file), true) => {
                let path = root.join(file);
                let wanted = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("README.md:{}: {file}: {e}", b.line));
                assert!(
                    b.text == wanted,
                    "README.md:{}: the block differs from {file}; copy the file into the README \
                     (after `cargo fmt`)",
                    b.line
                );
                assert!(named.insert(file.clone()), "{file} is shown twice");
            }
            (None, true) => panic!(
                "README.md:{}: a Rust block without a `{MARKER}<file> -->` line above it",
                b.line
            ),
            (Some(file), false) => panic!(
                "README.md:{}: the marker for {file} stands above a non-Rust block",
                b.line
            ),
            (None, false) => {}
        }
        // Rustdoc's hidden lines (`# async fn …`) read as noise on a web page.
        if is_rust {
            for line in b.text.lines() {
                let t = line.trim_start();
                assert!(
                    !(t == "#" || t.starts_with("# ")),
                    "README.md:{}: a hidden doctest line `{line}`",
                    b.line
                );
            }
        }
    }
    assert!(named.len() >= 5, "the README shows {named:?}");

    // And every readme_* example is in the README.
    let dir = root.join("crates/brokerkit/examples");
    let files: BTreeSet<String> = std::fs::read_dir(&dir)
        .expect("examples dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("readme_") && n.ends_with(".rs"))
        .map(|n| format!("crates/brokerkit/examples/{n}"))
        .collect();
    assert_eq!(files, named, "examples/readme_*.rs and the README's blocks");
}

#[test]
fn the_block_reader_sees_markers_fences_and_drift() {
    let readme = "text\n<!-- example: a.rs -->\n```rust\nfn main() {}\n```\n```toml\nx = 1\n```\n";
    let b = blocks(readme);
    assert_eq!(b.len(), 2);
    assert_eq!(b[0].file.as_deref(), Some("a.rs"));
    assert_eq!(b[0].text, "fn main() {}\n");
    assert_eq!(b[0].line, 3);
    assert_eq!((b[1].file.as_deref(), b[1].lang.as_str()), (None, "toml"));
    assert_ne!(b[0].text, "fn main() { }\n");
}
