//! Per-op cost of the hot paths on batches of pushes (`["p","arr",[],i,0,[{...}]]`):
//! `cargo run -p ipos-core --release --example bench [ops] [rounds] [grow]`. Prints the median
//! µs/op over `rounds` batches and, in brackets, the first batch's. By default each batch goes to
//! fresh engines (one batch on an empty array, the process warm); with `grow` every batch goes to
//! the same engines, whose state grows as in a live process (and so pays for new memory).

use std::time::Instant;

use ipos_core::{Engine, Limits};

/// `n` pushes onto `arr`, which holds `from` elements.
fn batch(from: usize, n: usize) -> String {
    let mut s = String::from("[");
    for i in from..from + n {
        if i > from {
            s.push(',');
        }
        s.push_str(&format!(
            r#"["p","arr",[],{i},0,[{{"id":{i},"name":"user{i}","tags":["a","b"]}}]]"#
        ));
    }
    s.push(']');
    s
}

fn engine(origin: &str) -> Engine {
    let mut e = Engine::new(Limits::default());
    e.set_origin(origin.into());
    e
}

/// A root holding `arr: []` and a child synced to it.
fn pair(root: &str, child: &str) -> (Engine, Engine) {
    let mut r = engine(root);
    r.local(r#"[["c","arr",[]]]"#).unwrap();
    let mut c = engine(child);
    c.receive(&r.snapshot(), true).unwrap();
    (r, c)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Runs `f` and returns µs per op.
fn time<T>(n: usize, f: impl FnOnce() -> T) -> (f64, T) {
    let t = Instant::now();
    let r = f();
    (t.elapsed().as_secs_f64() * 1e6 / n as f64, r)
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(20_000);
    let rounds = args.get(1).copied().unwrap_or(15);
    let grow = std::env::args().any(|a| a == "grow");
    let texts: Vec<String> = (0..rounds)
        .map(|r| batch(if grow { r * n } else { 0 }, n))
        .collect();
    let names = [
        "root local",
        "receive q (apply frame)",
        "child local",
        "receive own q (full)",
        "receive own q (elided)",
        "root local_deferred",
        "  + settle",
        "child local_deferred",
        "  + settle",
    ];
    let mut t: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let (mut root, mut child) = pair("aa", "bb");
    let (mut root2, mut child2) = pair("a2", "cc");
    let (mut root3, mut child3) = pair("a3", "dd");
    let (mut root4, mut child4) = pair("a4", "ee");
    for text in &texts {
        if !grow {
            (root, child) = pair("aa", "bb");
            (root2, child2) = pair("a2", "cc");
            (root3, child3) = pair("a3", "dd");
            (root4, child4) = pair("a4", "ee");
        }
        let (us, q) = time(n, || root.local(text).unwrap());
        t[0].push(us);
        let (us, r) = time(n, || child.receive(&q, true).unwrap());
        t[1].push(us);
        assert!(r.verdict.contains(r#""apply":"frame""#), "{}", r.verdict);

        let (us, b) = time(n, || child2.local(text).unwrap());
        t[2].push(us);
        let r = root2.receive(&b, false).unwrap();
        let (us, v) = time(n, || child2.receive(&r.frame.unwrap(), true).unwrap());
        t[3].push(us);
        assert!(v.verdict.contains(r#""apply":"none""#), "{}", v.verdict);

        let b = child3.local(text).unwrap();
        let r = root3.receive(&b, false).unwrap();
        let (us, v) = time(n, || child3.receive(&r.elided.unwrap(), true).unwrap());
        t[4].push(us);
        assert!(v.verdict.contains(r#""apply":"none""#), "{}", v.verdict);

        let (us, _) = time(n, || root4.local_deferred(text.as_str()).unwrap());
        t[5].push(us);
        let (us, ()) = time(n, || root4.settle().unwrap());
        t[6].push(us);
        let (us, _) = time(n, || child4.local_deferred(text.as_str()).unwrap());
        t[7].push(us);
        let (us, ()) = time(n, || child4.settle().unwrap());
        t[8].push(us);
        // Keep child4 from piling up pending batches.
        child4.receive(&root4.snapshot(), true).unwrap();
    }
    println!(
        "{n} ops/batch, {} bytes, {rounds} batches{}, µs/op: median [first batch]",
        texts[0].len(),
        if grow {
            " on growing state"
        } else {
            ", fresh engines"
        }
    );
    for (name, v) in names.iter().zip(t) {
        println!("  {name:<26} {:.3} [{:.3}]", median(v.clone()), v[0]);
    }
}
