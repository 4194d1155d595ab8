//! What the fuzz targets share: an allocator that measures what a decoder
//! holds, so a target can assert that bytes from a peer cannot make us
//! allocate more than the input (times a small factor) plus a fixed amount.
//!
//! A decoder that trusted a length prefix (`Vec::with_capacity(n)` from the
//! wire) would show up as a peak far above the input's size, or as an
//! allocation over [`MAX_ONE_ALLOCATION`], which fails and aborts the target:
//! either way libFuzzer keeps the input that did it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// No decoder needs this much for one allocation from a fuzz input; asking
/// for more returns null, which Rust turns into an abort with the size.
pub const MAX_ONE_ALLOCATION: usize = 256 << 20;

/// Bytes a decoder may allocate whatever its input: serde preallocates up to
/// 1 MiB per collection from a declared length (and frees it if the input
/// runs out), a couple of those nest, plus error strings.
pub const FIXED_ALLOWANCE: usize = 4 << 20;

/// Bytes a decoder may hold per input byte: an empty `Vec` or `String` costs
/// 24 bytes and encodes in 1, so a well-formed message can legitimately
/// expand ~24 times; more than this means a length was trusted.
pub const PER_INPUT_BYTE: usize = 64;

struct Metered;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Relaxed) + by;
    PEAK.fetch_max(live, Relaxed);
}

// SAFETY: every call is forwarded to `System` with the caller's arguments;
// the counters are only bookkeeping.
unsafe impl GlobalAlloc for Metered {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_ONE_ALLOCATION {
            return std::ptr::null_mut();
        }
        let p = System.alloc(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_ONE_ALLOCATION {
            return std::ptr::null_mut();
        }
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > MAX_ONE_ALLOCATION {
            return std::ptr::null_mut();
        }
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Metered = Metered;

/// Run `f`; return its result and the most bytes it held at once on top of
/// what was live before (libFuzzer runs a target on one thread).
pub fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    let out = f();
    (out, PEAK.load(Relaxed).saturating_sub(base))
}

/// Run a decoder of `input` and panic if it held more than
/// `extra + FIXED_ALLOWANCE + PER_INPUT_BYTE * input.len()` bytes at once.
/// `extra` is memory the protocol allows by design (a frame buffer up to the
/// message limit).
pub fn bounded<T>(what: &str, input: &[u8], extra: usize, f: impl FnOnce() -> T) -> T {
    let (out, peak) = peak_during(f);
    let allowed = extra + FIXED_ALLOWANCE + PER_INPUT_BYTE * input.len();
    assert!(
        peak <= allowed,
        "{what} held {peak} bytes decoding {} input bytes (allowed {allowed}): \
         it trusted a length from the input",
        input.len()
    );
    out
}

/// For targets whose product code turns a dependency's panic into an error
/// (`kampung_store::doc` does so around automerge): replace libfuzzer-sys'
/// abort-on-any-panic hook with one that prints a line and lets the product
/// code catch the panic. A panic that escapes the target still aborts (it
/// cannot unwind out of libFuzzer's callback), so libFuzzer still records it.
pub fn let_product_code_catch_panics() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info.location().map(|l| l.to_string()).unwrap_or_default();
        eprintln!("panic at {at}: {msg}");
    }));
}
