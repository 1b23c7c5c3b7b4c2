//! `cargo bench`: times the benchmark scenarios (replication; a consumer group) and counts heap allocations per
//! simulated event with a counting global allocator (issue 2: "no per-event heap allocation in steady state").

use insync::scenario;
use insync::sim;
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn main() {
    for name in ["bench-replication", "bench-consumers"] {
        bench(name);
    }
}

fn bench(name: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.toml"));
    let scenario = scenario::load_file(&path).expect("the bench scenario loads");
    let mut walls_ms = Vec::new();
    for _ in 0..5 {
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        let started = std::time::Instant::now();
        let outcome = sim::run(&scenario.sim, scenario.seed, false);
        let wall = started.elapsed();
        let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
        let events = outcome.stats.events;
        let requests = outcome.stats.messages_sent;
        walls_ms.push(wall.as_secs_f64() * 1e3);
        println!(
            "{name}: {:.1} ms wall, {events} events, {requests} messages, {allocations} allocations \
             ({:.3} per event, {:.3} per message)",
            wall.as_secs_f64() * 1e3,
            allocations as f64 / events as f64,
            allocations as f64 / requests as f64,
        );
    }
    walls_ms.sort_by(f64::total_cmp);
    println!("{name}: median {:.1} ms", walls_ms[walls_ms.len() / 2]);
    // The checker over this run's history (issue 4: O(n log n); a million entries well under 2 s).
    let outcome = sim::run(&scenario.sim, scenario.seed, false);
    let started = std::time::Instant::now();
    let found = insync::check::check_all(&outcome.history, Some(&outcome.final_logs));
    let violations: usize = found.values().map(Vec::len).sum();
    println!(
        "{name}: checked {} history entries in {:.1} ms ({violations} violations)",
        outcome.history.entries.len(),
        started.elapsed().as_secs_f64() * 1e3
    );
}
