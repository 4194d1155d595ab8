//! The commit this node was built from and its date, for `--version`,
//! `/healthz`, `/v1/status`, `/metrics` and the hello to peers (`unknown`
//! outside a git checkout). The date is the commit's, not the clock's at
//! build time, so that two builds of one commit are the same binary.

use std::path::Path;
use std::process::Command;

fn main() {
    let git = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.git");
    // Rebuild when HEAD moves: the HEAD file, the branch it names (a loose
    // ref, or packed-refs). Only files that exist: cargo reruns a build
    // script whose rerun-if-changed file is missing at every build, and
    // everything that depends on this crate with it.
    let mut watch = vec![git.join("HEAD"), git.join("packed-refs")];
    if let Ok(head) = std::fs::read_to_string(git.join("HEAD")) {
        if let Some(branch) = head.trim().strip_prefix("ref: ") {
            watch.push(git.join(branch));
        }
    }
    for file in watch.iter().filter(|f| f.exists()) {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    let commit = run_git(&["rev-parse", "--short=12", "HEAD"]);
    let date = run_git(&["log", "-1", "--format=%cs", "HEAD"]);
    println!("cargo:rustc-env=KAMPUNG_COMMIT={commit}");
    println!("cargo:rustc-env=KAMPUNG_COMMIT_DATE={date}");
}

fn run_git(args: &[&str]) -> String {
    Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}
