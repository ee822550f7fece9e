//! What one entry of the bench's large object (`{k<i>: {id, name, score, tags: ['x', 'y']}}`)
//! costs in the mirror: heap bytes and allocations per entry kept after decoding it, and after a
//! child applies it from a snapshot: `cargo run -p ipos-core --release --example mirror [entries]`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering::Relaxed};

use ipos_core::{decode_value, Engine, Limits, Obj, ObjMap, Value};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static FREES: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicIsize = AtomicIsize::new(0);
/// What glibc's malloc takes for the live blocks: 8 bytes of header, 16-byte granules, 32 at least.
static CHUNKS: AtomicIsize = AtomicIsize::new(0);

fn chunk(size: usize) -> isize {
    ((size + 8 + 15) & !15).max(32) as isize
}

// SAFETY: forwards to the system allocator, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        LIVE.fetch_add(l.size() as isize, Relaxed);
        CHUNKS.fetch_add(chunk(l.size()), Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        FREES.fetch_add(1, Relaxed);
        LIVE.fetch_sub(l.size() as isize, Relaxed);
        CHUNKS.fetch_sub(chunk(l.size()), Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        LIVE.fetch_add(size as isize - l.size() as isize, Relaxed);
        CHUNKS.fetch_add(chunk(size) - chunk(l.size()), Relaxed);
        System.realloc(p, l, size)
    }
}

#[global_allocator]
static A: Counting = Counting;

/// The large object as its encoded text (what `bench/scenarios.js`'s `bigObject` encodes to).
fn big_text(n: usize) -> String {
    let mut s = String::from("{");
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        let score = i as f64 * 1.5;
        s.push_str(&format!(
            r#""k{i}":{{"id":{i},"name":"name{i}","score":{score},"tags":["x","y"]}}"#
        ));
    }
    s.push('}');
    s
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    println!(
        "size_of: Value {} B, Obj {} B, ObjMap {} B",
        std::mem::size_of::<Value>(),
        std::mem::size_of::<Obj>(),
        std::mem::size_of::<ObjMap>()
    );
    let text = big_text(n);
    let measure = |what: &str, f: &mut dyn FnMut()| {
        let (a, b, c, d) = (
            ALLOCS.load(Relaxed),
            FREES.load(Relaxed),
            LIVE.load(Relaxed),
            CHUNKS.load(Relaxed),
        );
        let t = std::time::Instant::now();
        f();
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let per = |x: usize| x as f64 / n as f64;
        println!(
            "{what}: {:.0} bytes/entry kept ({:.0} with malloc's overhead), {:.2} allocs/entry, {:.2} frees/entry, {ms:.0} ms",
            (LIVE.load(Relaxed) - c) as f64 / n as f64,
            (CHUNKS.load(Relaxed) - d) as f64 / n as f64,
            per(ALLOCS.load(Relaxed) - a),
            per(FREES.load(Relaxed) - b),
        );
    };
    let mut v = None;
    measure("decode", &mut || {
        v = Some(decode_value(&text, &Limits::default()).unwrap())
    });
    drop(v);
    let op = format!(r#"[["c","big",{text}]]"#);
    drop(text);
    let mut root = Engine::new(Limits::default());
    root.set_origin("aa".into());
    measure("root local (mirror)", &mut || {
        root.local(&op).unwrap();
    });
    drop(op);
    let snap = root.snapshot();
    let mut child = Engine::new(Limits::default());
    child.set_origin("bb".into());
    measure("child applies the snapshot", &mut || {
        child.receive(&snap, true).unwrap();
    });
}
