//! `cargo xtask generate [--check] [VENDOR...]`: turns `specs/<vendor>.yaml` into
//! `crates/brokerkit-<vendor>/src/generated.rs`, and a vendor's stream spec
//! `specs/<vendor>.streams.yaml`, where it has one, into `generated_stream.rs` beside it.
//!
//! Adding a vendor means adding its spec and one entry to [`VENDORS`].

mod builder_fns;
mod builders;
mod enums;
mod features;
mod generate;
mod headers;
mod lint;
mod normalize;
mod operations;
mod paths;
mod scopes;
mod streams;
mod unset;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Every vendor brokerkit generates, by spec name. Output goes to `crates/brokerkit-<name>/`.
pub const VENDORS: &[&str] = &["tradelocker", "autoshares", "traderevolution", "slate"];

const USAGE: &str = "usage: cargo xtask generate [--check] [VENDOR...]\n\
  generate          regenerate crates/brokerkit-<vendor>/src/generated.rs from specs/<vendor>.yaml\n\
  --check           regenerate in memory and fail, naming each file, if the committed output is stale\n\
  VENDOR...         only these vendors (default: all of them)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("{msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let Some((cmd, rest)) = args.split_first() else {
        return Err(USAGE.into());
    };
    if cmd != "generate" {
        return Err(format!("unknown command `{cmd}`\n{USAGE}"));
    }
    let check = rest.iter().any(|a| a == "--check");
    let mut chosen: Vec<&str> = Vec::new();
    for a in rest.iter().filter(|a| *a != "--check") {
        match VENDORS.iter().find(|v| **v == a.as_str()) {
            Some(v) => chosen.push(v),
            None => {
                return Err(format!(
                    "unknown vendor `{a}` (known: {})\n{USAGE}",
                    VENDORS.join(", ")
                ))
            }
        }
    }
    if chosen.is_empty() {
        chosen = VENDORS.to_vec();
    }

    let root = workspace_root();
    let mut failures = Vec::new();
    let mut stale = Vec::new();
    for vendor in chosen {
        let spec = root.join("specs").join(format!("{vendor}.yaml"));
        let out = root
            .join("crates")
            .join(format!("brokerkit-{vendor}"))
            .join("src")
            .join("generated.rs");
        let mut jobs: Vec<(PathBuf, Result<String, String>, std::time::Instant)> = Vec::new();
        let started = std::time::Instant::now();
        jobs.push((out, generate::generate(vendor, &spec), started));
        let stream_spec = root.join("specs").join(format!("{vendor}.streams.yaml"));
        if stream_spec.exists() {
            let started = std::time::Instant::now();
            let stream_out = root
                .join("crates")
                .join(format!("brokerkit-{vendor}"))
                .join("src")
                .join("generated_stream.rs");
            jobs.push((stream_out, streams::generate(vendor, &stream_spec), started));
        }
        for (out, result, started) in jobs {
            match result {
                Err(e) => failures.push(e),
                Ok(text) if check => {
                    if std::fs::read_to_string(&out).ok().as_deref() != Some(text.as_str()) {
                        stale.push(rel(&root, &out));
                    }
                }
                Ok(text) => {
                    if std::fs::read_to_string(&out).ok().as_deref() != Some(text.as_str()) {
                        std::fs::write(&out, &text)
                            .map_err(|e| format!("{}: cannot write: {e}", rel(&root, &out)))?;
                    }
                    println!(
                        "{} ({} lines, {} ms)",
                        rel(&root, &out),
                        text.lines().count(),
                        started.elapsed().as_millis()
                    );
                }
            }
        }
    }
    if !failures.is_empty() {
        return Err(failures.join("\n"));
    }
    if !stale.is_empty() {
        let list: Vec<String> = stale.iter().map(|s| format!("  stale: {s}")).collect();
        return Err(format!("generated code differs from the specs:\n{}\nrun `cargo xtask generate` and commit the result", list.join("\n")));
    }
    if check {
        println!("generated code is up to date");
    }
    Ok(())
}

fn workspace_root() -> PathBuf {
    // `cargo run` sets CARGO_MANIFEST_DIR at run time too; prefer it over the compile-time
    // value, so a binary built from another checkout still works on this one.
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    let manifest = manifest.unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}
