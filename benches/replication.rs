//! `cargo bench`: times the hot paths of the engine and the model (a message's network arrival, a leader's
//! append and a fetch at the log's end), the benchmark scenarios (replication; a consumer group; issue 10's
//! reference workload) and counts heap allocations per simulated event with a counting global allocator (issue 2:
//! "no per-event heap allocation in steady state").

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
    hot_paths();
    for name in ["bench-replication", "bench-consumers", "bench-reference"] {
        bench(name);
    }
    sweeps();
    comparison();
}

/// Nanoseconds per operation of the paths every message and every fetch take, at sizes where a per-partition or
/// per-node cost would show: a network of 4 servers and 10,000 clients; a log of 200,000 two-record batches.
fn hot_paths() {
    use insync::engine::{LatencyModel, Network, SimTime, Topology, stream};
    use insync::kafka::ids::ClientId;
    use insync::kafka::log::{Record, ReplicaLog};
    const MESSAGES: u32 = 2_000_000;
    let topology = Topology { nodes: 10_004, hubs: 4, leaf_links: Vec::new() };
    let mut net = Network::with_topology(topology, LatencyModel::default(), stream(1, "network", 0));
    let started = std::time::Instant::now();
    for i in 0..MESSAGES {
        let (client, server) = (4 + i % 10_000, i % 4);
        let (from, to) = if i % 2 == 0 { (client, server) } else { (server, client) };
        std::hint::black_box(net.arrival(from, to, SimTime(u64::from(i))));
    }
    let ns = started.elapsed().as_secs_f64() * 1e9 / f64::from(MESSAGES);
    println!("network: {ns:.1} ns per message's arrival (4 servers, 10,000 clients)");

    const BATCHES: u64 = 200_000;
    let mut log = ReplicaLog::default();
    let record = |send_seq| Record { producer: ClientId(0), send_seq, key: None, size_bytes: 100 };
    let started = std::time::Instant::now();
    for b in 0..BATCHES {
        let records: std::rc::Rc<[Record]> = [record(2 * b), record(2 * b + 1)].into();
        std::hint::black_box(log.append_as_leader(records, 0, None, SimTime(b)));
    }
    let append_ns = started.elapsed().as_secs_f64() * 1e9 / BATCHES as f64;
    let started = std::time::Instant::now();
    let mut fetched = 0;
    for i in 0..BATCHES {
        // A follower or consumer a few batches behind the end, as in steady state.
        fetched += log.read(2 * BATCHES - 2 * (i % 8) - 2, 1_048_576).len();
    }
    let read_ns = started.elapsed().as_secs_f64() * 1e9 / BATCHES as f64;
    println!(
        "log: {append_ns:.1} ns per leader append, {read_ns:.1} ns per read near the end ({fetched} batches read)"
    );
}

/// Issue 12's figure: the committed acks comparison (6 cells x 200 seeds) on 2 worker threads, from matrix to the
/// four report files' text (target: under 2 minutes on 2 cores).
fn comparison() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let started = std::time::Instant::now();
    let matrix = scenario::matrix::load_matrix(&root.join("scenarios/compare/acks.toml")).expect("the matrix loads");
    let cells: Vec<insync::compare::CellRun> = matrix
        .cells
        .iter()
        .map(|cell| {
            let scenario = scenario::load_file_with(&matrix.base, &cell.overrides).expect("the cell loads");
            insync::compare::CellRun { cell: cell.clone(), scenario }
        })
        .collect();
    let seeds = insync::sweep::SeedRange { start: 0, end: 200 };
    let asked = insync::compare::Asked { name: "acks", title: "", base: "base", base_fnv64: 0, seeds, jobs: 2 };
    let comparison = insync::compare::compare(&asked, &cells, |_, seed| seed.to_string(), || {});
    let html = insync::compare::charts::html(&comparison).expect("the page draws");
    let markdown = insync::compare::report::markdown(&comparison);
    let runs = cells.len() as u64 * (seeds.end - seeds.start);
    let wall = started.elapsed().as_secs_f64();
    println!(
        "compare acks: {} cells x {} seeds = {runs} runs with 2 jobs in {wall:.1} s ({:.1} runs/s; page {} KiB, report {} KiB)",
        cells.len(),
        seeds.end - seeds.start,
        runs as f64 / wall,
        html.len() / 1024,
        markdown.len() / 1024
    );
}

/// Issue 11's figures: seeds per second of the nemesis story with 1 and 2 worker threads (2 must give at least
/// 1.8x on two cores), and how long a shrink of a losing seed of its unsafe twin takes.
fn sweeps() {
    let load = |name: &str| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.toml"));
        scenario::load_file(&path).expect("the story loads")
    };
    let safe = load("production-nemesis");
    let seeds: Vec<u64> = (0..100).collect();
    let mut rates = Vec::new();
    for jobs in [1, 2] {
        let started = std::time::Instant::now();
        let results = insync::sweep::sweep(&safe, &seeds, jobs, |_| {});
        let rate = seeds.len() as f64 / started.elapsed().as_secs_f64();
        let failing = results.iter().filter(|r| !r.met).count();
        println!("production-nemesis: {} seeds with {jobs} job(s): {rate:.1} seeds/s ({failing} failing)", seeds.len());
        rates.push(rate);
    }
    println!("production-nemesis: 2 jobs / 1 job = {:.2}x", rates[1] / rates[0]);
    let twin = load("unsafe-nemesis");
    let twin_text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/unsafe-nemesis.toml"))
            .expect("the story reads");
    let goal = insync::shrink::Goal::Violates("lost-write".to_string());
    let loses = |seed: u64| {
        let outcome = sim::run(&twin.sim, seed, false);
        !insync::check::lost_write::lost_writes(&outcome.history, &outcome.final_logs).is_empty()
    };
    let losing = (0..40).find(|&s| loses(s));
    if let Some(seed) = losing {
        let started = std::time::Instant::now();
        let shrunk = insync::shrink::shrink(&twin, &twin_text, seed, &goal, 300).expect("a losing seed shrinks");
        println!(
            "unsafe-nemesis: shrank seed {seed} from {} to {} faults in {} runs, {:.0} ms",
            shrunk.original.faults.len(),
            shrunk.minimal.faults.len(),
            shrunk.runs,
            started.elapsed().as_secs_f64() * 1e3
        );
    }
}

fn bench(name: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.toml"));
    let mut scenario = scenario::load_file(&path).expect("the bench scenario loads");
    // The model alone: `insync bench` measures the per-event state checker's cost.
    scenario.sim.state_check = false;
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
