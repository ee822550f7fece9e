//! Convergence: a root, children and a grandchild (behind an intermediate) make random concurrent
//! changes; frames are delivered in random interleavings, FIFO per link. Every engine must end
//! with the root's state, and at every step the "JS view" (what JS would hold by applying local
//! ops and the verdicts the engine returns) must equal the engine's own mirror. Half the local
//! batches go through `local_deferred` (settled at random moments or by the next entry point),
//! and a `q` going down to the child that originated its batch travels in the elided form.

mod common;

use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use common::{gen_op, Rng};
use ipos_core::value::MapEntries;
use ipos_core::{
    apply_batch, apply_op, decode_ops, get_at, ops_to_json, parse_json, same_fields, to_json,
    Decoder, Engine, Fields, LagLimits, Limits, Obj, Op, Seg, Value,
};
use proptest::prelude::*;

const DEC: Decoder = Decoder {
    max_depth: 1000,
    functions: false,
};

struct Node {
    engine: Engine,
    /// What the JS front would show: local ops applied as made, remote ones as the verdicts say.
    js: Fields,
    parent: Option<usize>,
    children: Vec<usize>,
}

struct Net {
    nodes: Vec<Node>,
    links: HashMap<(usize, usize), VecDeque<String>>,
    log: Vec<String>,
    /// Makes one op on a node's state.
    gen: fn(&Fields, &mut Rng) -> Op,
}

fn parse_ops(text: &serde_json::Value) -> Vec<Op> {
    decode_ops(text, &DEC, true).unwrap()
}

/// Applies a verdict's patch as JS does, `mm` and `mp` (move Map entries to the end, named by
/// key or by place; patch only) included.
fn apply_patch(js: &mut Fields, ops: &serde_json::Value) {
    for op in ops.as_array().unwrap() {
        if op[0] == "mp" {
            // Places as the Map stands before the first move: take the keys there, then move
            // each (delete it where it stands now, set it again at the end).
            let probe = serde_json::json!([["md", op[1], op[2], 0]]);
            let Op::MapDelete { key, path, .. } = parse_ops(&probe).remove(0) else {
                unreachable!()
            };
            let map = |js: &Fields| match get_at(&js[key.as_str()], &path) {
                Some(Value::Map(m)) => m.clone(),
                _ => panic!("`mp` names a Map"),
            };
            let before = map(js);
            for p in op[3].as_array().unwrap() {
                let (mk, (kv, v)) = before
                    .get_index(p.as_u64().unwrap() as usize)
                    .expect("`mp` names entries that exist");
                let now = map(js).get_index_of(mk).expect("still there");
                let del = Op::MapDelete {
                    key: key.clone(),
                    path: path.clone(),
                    map_key: Seg::Pos(now),
                };
                apply_op(js, &del).unwrap();
                let set = Op::MapSet {
                    key: key.clone(),
                    path: path.clone(),
                    map_key: Seg::Other(kv.clone()),
                    value: v.clone(),
                };
                apply_op(js, &set).unwrap();
            }
            continue;
        }
        if op[0] != "mm" {
            apply_batch(js, &parse_ops(&serde_json::Value::Array(vec![op.clone()]))).unwrap();
            continue;
        }
        for k in op[3].as_array().unwrap() {
            let md = serde_json::json!([["md", op[1], op[2], k]]);
            let Op::MapDelete { key, path, map_key } = parse_ops(&md).remove(0) else {
                unreachable!()
            };
            let mut at = path.clone();
            at.push(map_key.clone());
            let value = get_at(&js[key.as_str()], &at)
                .expect("`mm` names entries that exist")
                .clone();
            let del = Op::MapDelete {
                key: key.clone(),
                path: path.clone(),
                map_key: map_key.clone(),
            };
            apply_op(js, &del).unwrap();
            apply_op(
                js,
                &Op::MapSet {
                    key,
                    path,
                    map_key,
                    value,
                },
            )
            .unwrap();
        }
    }
}

fn dump_fields(f: &Fields) -> String {
    f.iter()
        .map(|(k, v)| format!("{k}={}", to_json(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

impl Net {
    fn new(parents: &[Option<usize>]) -> Net {
        let mut nodes: Vec<Node> = parents
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut engine = Engine::new(Limits::default());
                engine.set_origin(format!("{:02x}", i + 1));
                Node {
                    engine,
                    js: Fields::default(),
                    parent: *p,
                    children: Vec::new(),
                }
            })
            .collect();
        for i in 0..nodes.len() {
            if let Some(p) = nodes[i].parent {
                nodes[p].children.push(i);
            }
        }
        Net {
            nodes,
            links: HashMap::new(),
            log: Vec::new(),
            gen: gen_op,
        }
    }

    fn send(&mut self, from: usize, to: usize, frame: String) {
        self.links.entry((from, to)).or_default().push_back(frame);
    }

    fn send_down(&mut self, from: usize, frame: &str) {
        for c in self.nodes[from].children.clone() {
            self.send(from, c, frame.to_string());
        }
    }

    /// A `q` down to the children: the elided form to the one that originated the batch.
    fn send_q_down(&mut self, from: usize, full: &str, elided: &str, origin: &str) {
        for c in self.nodes[from].children.clone() {
            let own = self.nodes[c].engine.origin() == origin;
            self.send(from, c, if own { elided } else { full }.to_string());
        }
    }

    /// Connects every node to its parent by snapshot, parents first (indices are in tree order).
    fn attach_all(&mut self) {
        for i in 0..self.nodes.len() {
            if let Some(p) = self.nodes[i].parent {
                let snap = self.nodes[p].engine.snapshot();
                let r = self.nodes[i].engine.receive(&snap, true).unwrap();
                assert_eq!(r.verdict, r#"{"k":"s"}"#);
                let j: serde_json::Value = serde_json::from_str(&snap).unwrap();
                let mut js = Fields::default();
                for e in j["f"].as_array().unwrap() {
                    js.insert(e[0].as_str().unwrap().into(), DEC.value(&e[1], 0).unwrap());
                }
                self.nodes[i].js = js;
            }
        }
    }

    fn check(&self, i: usize) {
        let n = &self.nodes[i];
        if n.engine.deferred_len() > 0 {
            // JS shows the deferred batches already; the engine once it settles them.
            return;
        }
        assert!(
            same_fields(&n.js, n.engine.fields()),
            "node {i}: JS view {} but engine {}\n{}",
            dump_fields(&n.js),
            dump_fields(n.engine.fields()),
            self.log.join("\n")
        );
    }

    /// Node `i` makes a random batch of 1–3 ops that are valid on what it shows.
    fn local(&mut self, i: usize, rng: &mut Rng) {
        let mut scratch = self.nodes[i].js.clone();
        let mut ops = Vec::new();
        for _ in 0..1 + rng.below(3) {
            let op = (self.gen)(&scratch, rng);
            apply_op(&mut scratch, &op).unwrap_or_else(|e| {
                panic!(
                    "generated an invalid op {}: {e}",
                    ops_to_json(std::slice::from_ref(&op))
                )
            });
            ops.push(op);
        }
        let text = ops_to_json(&ops);
        let deferred = rng.chance(50);
        self.log.push(format!(
            "{i} local{} {text}",
            if deferred { " (deferred)" } else { "" }
        ));
        let engine = &mut self.nodes[i].engine;
        let frame = if deferred {
            engine.local_deferred(text.as_str())
        } else {
            engine.local(&text)
        }
        .unwrap_or_else(|e| panic!("local {text}: {e}"));
        // JS applied the ops as the user made them (assigns set values directly).
        self.nodes[i].js = scratch;
        self.check(i);
        if frame.is_empty() {
            return;
        }
        match self.nodes[i].parent {
            None => self.send_down(i, &frame),
            Some(p) => self.send(i, p, frame),
        }
    }

    fn deliver(&mut self, from: usize, to: usize) {
        let frame = self
            .links
            .get_mut(&(from, to))
            .unwrap()
            .pop_front()
            .unwrap();
        let from_parent = self.nodes[to].parent == Some(from);
        self.log.push(format!("{from}->{to} {frame}"));
        let out = self.nodes[to]
            .engine
            .receive(&frame, from_parent)
            .unwrap_or_else(|e| panic!("{from}->{to} {frame}: {e}\n{}", self.log.join("\n")));
        self.log.push(format!("   verdict {}", out.verdict));
        let v: serde_json::Value = serde_json::from_str(&out.verdict).unwrap();
        let f: serde_json::Value = serde_json::from_str(&frame).unwrap();
        let node = &mut self.nodes[to];
        match v["k"].as_str().unwrap() {
            "b" if v["up"] == true => {
                let p = node.parent.unwrap();
                self.send(to, p, frame);
            }
            "b" => {
                if v["ok"] == true {
                    apply_batch(&mut node.js, &parse_ops(&f["ops"])).unwrap();
                }
                let (full, elided) = (out.frame.unwrap(), out.elided.unwrap());
                self.send_q_down(to, &full, &elided, v["o"].as_str().unwrap());
            }
            "q" => {
                match v["apply"].as_str().unwrap() {
                    "frame" => apply_batch(&mut node.js, &parse_ops(&f["ops"])).unwrap(),
                    "patch" => apply_patch(&mut node.js, &v["ops"]),
                    "none" => {}
                    a => panic!("verdict apply {a}"),
                }
                let full = out.frame.unwrap_or(frame);
                let elided = out.elided.unwrap();
                self.send_q_down(to, &full, &elided, v["o"].as_str().unwrap());
            }
            k => panic!("unexpected verdict {k}"),
        }
        self.check(to);
    }

    fn busy_links(&self) -> Vec<(usize, usize)> {
        let mut l: Vec<_> = self
            .links
            .iter()
            .filter(|(_, q)| !q.is_empty())
            .map(|(k, _)| *k)
            .collect();
        l.sort();
        l
    }
}

/// Many writers on one Map (most of their sets commute; a few meet): string and number keys,
/// deletes, nested Maps, an object beside it, and now and then the whole Map replaced.
fn gen_writer_op(fields: &Fields, rng: &mut Rng) -> Op {
    let fresh_map = || Value::Map(Rc::new(MapEntries::default()));
    let Some(Value::Map(m)) = fields.get("m") else {
        return Op::Create {
            key: "m".into(),
            value: fresh_map(),
        };
    };
    let k = |rng: &mut Rng| Seg::Key(format!("k{}", rng.below(40)).into());
    let key: ecow::EcoString = "m".into();
    match rng.below(12) {
        0 => Op::MapDelete {
            key,
            path: vec![],
            map_key: k(rng),
        },
        1 => Op::MapSet {
            key,
            path: vec![],
            map_key: Seg::Num(rng.below(3) as f64),
            value: Value::Num(rng.below(9) as f64),
        },
        2 | 3 => match m.iter().find(|(_, (_, v))| matches!(v, Value::Map(_))) {
            Some((_, (kv, _))) if rng.chance(60) => Op::MapSet {
                key,
                path: vec![Seg::of_key(kv)],
                map_key: k(rng),
                value: Value::Num(rng.below(9) as f64),
            },
            _ => Op::MapSet {
                key,
                path: vec![],
                map_key: k(rng),
                value: fresh_map(),
            },
        },
        4 => match fields.get("o") {
            Some(Value::Object(_)) => {
                let path = vec![Seg::Key((*rng.pick(&["a", "b", "c"])).into())];
                if rng.chance(30) {
                    Op::Delete {
                        key: "o".into(),
                        path,
                    }
                } else {
                    Op::Set {
                        key: "o".into(),
                        path,
                        value: Value::Num(rng.below(9) as f64),
                    }
                }
            }
            _ => Op::Create {
                key: "o".into(),
                value: Value::Object(Rc::new(Obj::default())),
            },
        },
        5 if rng.chance(15) => Op::Create {
            key,
            value: fresh_map(),
        },
        _ => Op::MapSet {
            key,
            path: vec![],
            map_key: k(rng),
            value: Value::Num(rng.below(9) as f64),
        },
    }
}

fn simulate(parents: &[Option<usize>], seed: u64, steps: usize) {
    simulate_with(parents, seed, steps, gen_op)
}

fn simulate_with(
    parents: &[Option<usize>],
    seed: u64,
    steps: usize,
    gen: fn(&Fields, &mut Rng) -> Op,
) {
    let mut rng = Rng(seed);
    let mut net = Net::new(parents);
    net.gen = gen;
    if rng.chance(50) {
        // A confirmed copy that may hardly fall behind: it is caught up, and dropped at the end of
        // a pending stretch, all the time.
        let tiny = LagLimits {
            batches: 2,
            bytes: 64,
            keep_batches: 1,
            keep_bytes: 16,
        };
        for n in &mut net.nodes {
            n.engine.set_lag_limits(tiny);
        }
        net.log.push("tiny lag limits".into());
    }
    // The root starts with some state, then everyone attaches.
    for _ in 0..3 {
        net.local(0, &mut rng);
    }
    // Nobody was connected yet: those frames went nowhere.
    net.links.clear();
    net.attach_all();
    for _ in 0..steps {
        let busy = net.busy_links();
        if rng.chance(5) {
            let i = rng.below(net.nodes.len());
            net.log.push(format!("{i} settle"));
            net.nodes[i].engine.settle().unwrap();
            net.check(i);
        } else if busy.is_empty() || rng.chance(40) {
            let i = rng.below(net.nodes.len());
            net.local(i, &mut rng);
        } else {
            let (from, to) = *rng.pick(&busy);
            net.deliver(from, to);
        }
    }
    loop {
        let busy = net.busy_links();
        if busy.is_empty() {
            break;
        }
        let (from, to) = *rng.pick(&busy);
        net.deliver(from, to);
    }
    let root = net.nodes[0].engine.dump();
    let root_seq = net.nodes[0].engine.seq();
    for (i, n) in net.nodes.iter_mut().enumerate() {
        assert_eq!(
            n.engine.pending_len(),
            0,
            "node {i} still has pending batches"
        );
        assert_eq!(n.engine.seq(), root_seq, "node {i} seq");
        n.engine.settle().unwrap();
        assert_eq!(
            n.engine.dump(),
            root,
            "node {i} diverged\n{}",
            net.log.join("\n")
        );
    }
}

/// root ← A, root ← B, A ← G (G's frames travel through A).
const TREE: [Option<usize>; 4] = [None, Some(0), Some(0), Some(1)];

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_engine_converges_on_the_roots_state(seed in any::<u64>(), steps in 1usize..120) {
        simulate(&TREE, seed, steps);
    }

    #[test]
    fn many_writers_on_one_map(seed in any::<u64>(), steps in 1usize..160) {
        simulate_with(&[None, Some(0), Some(0), Some(0), Some(2)], seed, steps, gen_writer_op);
    }

    #[test]
    fn three_children_and_a_grandchild(seed in any::<u64>(), steps in 1usize..80) {
        simulate(&[None, Some(0), Some(0), Some(0), Some(2)], seed, steps);
    }
}

#[test]
fn long_runs_converge() {
    for seed in 0..20 {
        simulate(&TREE, seed * 7919 + 1, 600);
    }
}

#[test]
fn parse_json_helper_is_exported() {
    assert!(parse_json("[1]", 10).is_ok());
}
