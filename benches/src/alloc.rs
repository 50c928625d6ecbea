//! A global allocator that forwards to the system allocator and counts: allocations and bytes
//! requested (per call costs), and live and peak-live bytes (the memory a decode holds at
//! once). Counting is off until [`start`]: four shared atomics per allocation slow a
//! many-threaded run by several per cent, and more for whichever side allocates more, so the
//! timed rounds run without it. A bench binary installs it with
//! `#[global_allocator] static A: brokerkit_bench::alloc::Counting = brokerkit_bench::alloc::Counting;`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

pub struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static ON: AtomicBool = AtomicBool::new(false);

/// Counts from now on (live bytes from here: allocations made before are not seen freed).
pub fn start() {
    LIVE.store(0, Relaxed);
    PEAK.store(0, Relaxed);
    ON.store(true, Relaxed);
}

/// Stops counting.
pub fn stop() {
    ON.store(false, Relaxed);
}

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Relaxed) + by;
    PEAK.fetch_max(live, Relaxed);
}

#[allow(unsafe_code)] // forwards to the system allocator, only counting
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !ON.load(Relaxed) {
            return unsafe { System.alloc(layout) };
        }
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size(), Relaxed);
        grew(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !ON.load(Relaxed) {
            return unsafe { System.dealloc(ptr, layout) };
        }
        // Saturating: a block allocated before `start` may be freed after it.
        let _ = LIVE.fetch_update(Relaxed, Relaxed, |l| Some(l.saturating_sub(layout.size())));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !ON.load(Relaxed) {
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(new_size, Relaxed);
        if new_size >= layout.size() {
            grew(new_size - layout.size());
        } else {
            let shrunk = layout.size() - new_size;
            let _ = LIVE.fetch_update(Relaxed, Relaxed, |l| Some(l.saturating_sub(shrunk)));
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations and bytes requested so far.
pub fn counts() -> (usize, usize) {
    (ALLOCS.load(Relaxed), BYTES.load(Relaxed))
}

/// The most bytes live at once since [`start`].
pub fn peak() -> usize {
    PEAK.load(Relaxed)
}

/// Allocations and bytes per call of `f`, averaged over `n` calls after one warm-up call.
pub fn per_call<F: FnMut()>(n: usize, mut f: F) -> (f64, f64) {
    f();
    start();
    let (a0, b0) = counts();
    for _ in 0..n {
        f();
    }
    let (a1, b1) = counts();
    stop();
    ((a1 - a0) as f64 / n as f64, (b1 - b0) as f64 / n as f64)
}
