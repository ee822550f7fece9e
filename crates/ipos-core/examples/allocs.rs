//! Allocations per op and live bytes per op of `local` and `receive` on a batch of pushes:
//! `cargo run -p ipos-core --release --example allocs [ops]`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering::Relaxed};

use ipos_core::{Engine, Limits};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static FREES: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        LIVE.fetch_add(l.size() as isize, Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        FREES.fetch_add(1, Relaxed);
        LIVE.fetch_sub(l.size() as isize, Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        LIVE.fetch_add(size as isize - l.size() as isize, Relaxed);
        System.realloc(p, l, size)
    }
}

#[global_allocator]
static A: Counting = Counting;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let mut s = String::from("[");
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!(
            r#"["p","arr",[],{i},0,[{{"id":{i},"name":"user{i}","tags":["a","b"]}}]]"#
        ));
    }
    s.push(']');
    let mut root = Engine::new(Limits::default());
    root.set_origin("aa".into());
    root.local(r#"[["c","arr",[]]]"#).unwrap();
    let mut child = Engine::new(Limits::default());
    child.set_origin("bb".into());
    child.receive(&root.snapshot(), true).unwrap();
    let measure = |what: &str, f: &mut dyn FnMut()| {
        let (a, b, c) = (
            ALLOCS.load(Relaxed),
            FREES.load(Relaxed),
            LIVE.load(Relaxed),
        );
        f();
        let per = |x: usize| x as f64 / n as f64;
        println!(
            "{what}: {:.2} allocs/op, {:.2} frees/op, {:.0} bytes/op kept",
            per(ALLOCS.load(Relaxed) - a),
            per(FREES.load(Relaxed) - b),
            (LIVE.load(Relaxed) - c) as f64 / n as f64,
        );
    };
    let mut q = String::new();
    measure("root local", &mut || q = root.local(&s).unwrap());
    measure("child receive", &mut || {
        child.receive(&q, true).unwrap();
    });
}
