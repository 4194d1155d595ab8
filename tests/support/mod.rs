//! Helpers shared by the integration tests: run the real `kampung` binary in
//! temporary data directories.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const VILLAGE: &str = "35.10.15.2012";
pub const HEADER: &str =
    "nik,full_name,sex,birth_date,family_card,dusun,rt,rw,village_code,status,moved_to,died_on";

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kampung"))
}

/// `kampung --data DIR ARGS...`
pub fn kampung(data: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .arg("--data")
        .arg(data)
        .args(args)
        .env("KAMPUNG_LOG", "warn")
        .output()
        .expect("the kampung binary runs")
}

/// Run and require success; returns stdout.
pub fn ok(data: &Path, args: &[&str]) -> String {
    let out = kampung(data, args);
    assert!(
        out.status.success(),
        "kampung {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run and require failure; returns stderr + stdout.
pub fn fails(data: &Path, args: &[&str]) -> String {
    let out = kampung(data, args);
    assert!(!out.status.success(), "kampung {args:?} should have failed");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    )
}

pub fn json(data: &Path, args: &[&str]) -> serde_json::Value {
    let text = ok(data, args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// A generated village CSV at `path`; returns its lines (header first).
pub fn gen_village(dir: &Path, village: &str, n: usize, seed: u64, path: &Path) -> Vec<String> {
    ok(
        dir,
        &[
            "gen",
            "--village",
            village,
            "--residents",
            &n.to_string(),
            "--seed",
            &seed.to_string(),
            "--out",
            path.to_str().unwrap(),
        ],
    );
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

pub fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}
