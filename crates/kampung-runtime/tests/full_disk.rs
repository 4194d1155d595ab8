//! A full disk, for real: the store on a 16 MB tmpfs that a filler file
//! fills up. Writes fail while it is full, and one answered with an error is
//! not read back (sled kept it in its cache); once the filler is deleted the
//! very next write succeeds, without a restart; after a restart every
//! acknowledged write is there and no refused one.
//!
//! Needs root (it mounts a tmpfs); without it the test fails and says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::path::Path;
use std::process::Command;

use kampung_core::{Address, Nik, Resident, Sex, Status, VillageCode};
use kampung_runtime::store::{accept_all, spawn_store};
use kampung_store::storage::sled_storage::SledStorage;
use kampung_store::Registry;

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("running mount");
        assert!(
            out.status.success(),
            "this test mounts a tmpfs and needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// Write a file until the file system is full.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let block = vec![7u8; 64 << 10];
    while f.write_all(&block).is_ok() {}
    let _ = f.sync_all();
}

fn dewi(village: VillageCode, name: &str) -> Resident {
    Resident {
        nik: Nik::parse("3510155203850001", 2026).unwrap().nik(),
        full_name: name.to_string(),
        sex: Sex::Female,
        birth_date: time::macros::date!(1985 - 03 - 12),
        family_card: "3510150101990001".into(),
        address: Address {
            dusun: "Krajan".into(),
            rt: 1,
            rw: 1,
        },
        village,
        status: Status::Active,
        updated_at_ms: 0,
    }
}

fn open(store: &Path) -> Registry<SledStorage> {
    Registry::open(
        SledStorage::open(store).unwrap(),
        automerge::ActorId::from(vec![1u8; 32]),
        2026,
    )
    .unwrap()
}

#[test]
fn a_full_disk_refuses_writes_stores_none_of_them_and_heals_by_itself() {
    let fs = Tmpfs::mount("16m");
    let store = fs.path().join("store");
    let filler = fs.path().join("filler");
    let village = VillageCode::parse("35.10.15.2012").unwrap();
    let nik = dewi(village, "").nik;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (handle, thread) = spawn_store(open(&store), accept_all());
    let write = |name: &str| {
        rt.block_on(handle.write_as(village, vec![dewi(village, name)], 1, None, None))
            .unwrap()
    };
    let read = || {
        rt.block_on(handle.read(village, nik))
            .unwrap()
            .ok()
            .flatten()
            .map(|r| r.full_name)
    };
    write("Dewi 0").unwrap();
    fill(&filler);

    // While full: writes fail (sled may take a few into its buffers first),
    // and what an error answered is never read back.
    let mut acked = "Dewi 0".to_string();
    let mut refused = Vec::new();
    for i in 1..=60 {
        let name = format!("Dewi {i}");
        match write(&name) {
            Ok(_) => acked = name,
            Err(e) => {
                assert!(
                    e.to_string().contains(&store.display().to_string()),
                    "the error names the store: {e}"
                );
                refused.push(name.clone());
                let now = read();
                assert!(
                    now.is_none() || now.as_deref() == Some(acked.as_str()),
                    "after '{name}' was refused the record reads {now:?} (last acknowledged: {acked})"
                );
            }
        }
    }
    assert!(
        refused.len() >= 10,
        "a full disk refused only {} of 60 writes",
        refused.len()
    );

    // Space again: the next write works, no restart.
    std::fs::remove_file(&filler).unwrap();
    write("Dewi sesudah").expect("the store writes again once the disk has room");
    assert!(!handle.storage_failing());
    assert_eq!(read().as_deref(), Some("Dewi sesudah"));

    // And after a restart: the last acknowledged write, nothing refused.
    rt.block_on(handle.stop());
    drop(handle);
    thread.join().unwrap().unwrap();
    let mut reg = open(&store);
    assert_eq!(
        reg.get(nik).unwrap().map(|r| r.full_name).as_deref(),
        Some("Dewi sesudah")
    );
    assert!(reg.verify_index().unwrap().is_empty());
}
