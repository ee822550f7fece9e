//! Per-op cost of the hot paths on a 20,000-op batch of pushes:
//! `cargo run -p ipos-core --release --example bench [ops] [rounds]`. Prints medians in µs/op.

use std::time::Instant;

use ipos_core::{Engine, Limits};

fn batch(n: usize) -> String {
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
    s
}

fn engine(origin: &str) -> Engine {
    let mut e = Engine::new(Limits::default());
    e.set_origin(origin.into());
    e
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let n = args.first().copied().unwrap_or(20_000);
    let rounds = args.get(1).copied().unwrap_or(15);
    let text = batch(n);
    let (mut root_local, mut child_local, mut recv_frame, mut recv_own) =
        (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        let mut root = engine("aa");
        root.local(r#"[["c","arr",[]]]"#).unwrap();
        let mut child = engine("bb");
        child.receive(&root.snapshot(), true).unwrap();
        let mut root2 = engine("a2");
        root2.local(r#"[["c","arr",[]]]"#).unwrap();
        let mut child2 = engine("cc");
        child2.receive(&root2.snapshot(), true).unwrap();

        let t = Instant::now();
        let q = root.local(&text).unwrap();
        root_local.push(t.elapsed().as_secs_f64() * 1e6 / n as f64);

        let t = Instant::now();
        let (v, _) = child.receive(&q, true).unwrap();
        recv_frame.push(t.elapsed().as_secs_f64() * 1e6 / n as f64);
        assert!(v.contains(r#""apply":"frame""#), "{v}");

        let t = Instant::now();
        let b = child2.local(&text).unwrap();
        child_local.push(t.elapsed().as_secs_f64() * 1e6 / n as f64);
        let (_, out) = root2.receive(&b, false).unwrap();
        let q2 = out.unwrap();
        let t = Instant::now();
        let (v, _) = child2.receive(&q2, true).unwrap();
        recv_own.push(t.elapsed().as_secs_f64() * 1e6 / n as f64);
        assert!(v.contains(r#""own":true"#), "{v}");
    }
    println!(
        "{n} ops, {} bytes, median of {rounds} rounds (µs/op): root local {:.3}  child local {:.3}  receive frame {:.3}  receive own q {:.3}",
        text.len(),
        median(root_local),
        median(child_local),
        median(recv_frame),
        median(recv_own),
    );
}
