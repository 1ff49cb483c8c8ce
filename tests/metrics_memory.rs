//! The request metrics hold bounded memory however many requests are recorded without a
//! scrape of /metrics: the exporter queues histogram samples until something folds them
//! into the buckets, and nothing did unless /metrics was scraped (about 10–50 bytes per
//! request, for the life of the process). Counted with an allocator that keeps, per
//! thread, the bytes allocated and not yet freed, so other threads do not blur it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use relata::metrics::Metrics;

struct PerThreadLive;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn add(bytes: isize) {
    // `try_with`: a thread being torn down has no counter left; its frees are not counted.
    let _ = LIVE.try_with(|live| live.set(live.get() + bytes));
}

unsafe impl GlobalAlloc for PerThreadLive {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: PerThreadLive = PerThreadLive;

fn live() -> isize {
    LIVE.with(Cell::get)
}

#[test]
fn recording_requests_without_a_scrape_holds_bounded_memory() {
    let metrics = Metrics::default();
    let record = |n: usize| {
        for i in 0..n {
            let status = if i % 10 == 0 { 404 } else { 200 };
            metrics.record(
                "GET",
                "/api/profiles/{username}",
                status,
                Duration::from_micros(90),
                2,
            );
        }
    };
    // The series exist after the first requests; what follows should only count.
    record(5_000);
    let before = live();
    record(200_000);
    let grown = live() - before;
    // Unbounded, 200 000 requests queued 400 000 samples: about 6.5 MB.
    assert!(
        grown < 256 * 1024,
        "200 000 requests left {grown} bytes more allocated on the recording thread"
    );
}
