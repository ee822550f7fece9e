//! Shared generators for the property tests: a proptest strategy for values, and a small seeded
//! generator for values, mutations and ops that depend on current state (which proptest's
//! strategies cannot see).
#![allow(dead_code)]

use std::rc::Rc;

use ipos_core::value::{order_props, ObjMap};
use ipos_core::{Bytes, BytesKind, Fields, Key, Obj, Op, Seg, Value};
use proptest::prelude::*;

/// An object with its keys in JS order, as every JS object and the core's reader keep them.
fn js_object(null_proto: bool, mut map: ObjMap) -> Value {
    order_props(&mut map);
    Value::Object(Rc::new(Obj { null_proto, map }))
}

/// splitmix64: tiny, seedable, good enough to drive test choices.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

pub const KEYS: [&str; 6] = ["a", "b", "c", "~", "length", "x y"];
const STRS: [&str; 6] = ["", "a", "~", "\"q\\", "é😀", "\u{1}"];
const NUMS: [f64; 10] = [
    0.0,
    -0.0,
    1.0,
    -2.5,
    1e21,
    5e-324,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    0.1,
];

fn primitive(rng: &mut Rng) -> Value {
    match rng.below(7) {
        0 => Value::Undefined,
        1 => Value::Null,
        2 => Value::Bool(rng.chance(50)),
        3 | 4 => Value::Num(*rng.pick(&NUMS)),
        5 => Value::BigInt((*rng.pick(&["0", "-12", "123456789012345678901234567890"])).into()),
        _ => Value::Str((*rng.pick(&STRS)).into()),
    }
}

/// A random value at most `depth` containers deep.
pub fn gen_value(rng: &mut Rng, depth: usize) -> Value {
    let kind = if depth == 0 {
        rng.below(3)
    } else {
        rng.below(10)
    };
    match kind {
        0 | 1 => primitive(rng),
        2 => match rng.below(4) {
            0 => Value::Date(if rng.chance(50) { None } else { Some(1.7e12) }),
            1 => Value::RegExp(Rc::new(("a.b".into(), "gi".into()))),
            2 => Value::Bytes(Rc::new(Bytes {
                kind: BytesKind::Typed("Uint16Array".into()),
                data: "AAECAw==".into(),
            })),
            _ => Value::EventTarget,
        },
        3 | 4 => Value::array((0..rng.below(5)).map(|_| {
            if rng.chance(10) {
                Value::Hole
            } else {
                gen_value(rng, depth - 1)
            }
        })),
        5 | 6 => js_object(
            rng.chance(10),
            (0..rng.below(4))
                .map(|_| (Key::from(*rng.pick(&KEYS)), gen_value(rng, depth - 1)))
                .collect(),
        ),
        7 => Value::map((0..rng.below(4)).map(|_| {
            let k = if rng.chance(15) {
                gen_value(rng, depth - 1)
            } else {
                primitive(rng)
            };
            (k, gen_value(rng, depth - 1))
        })),
        8 => Value::set((0..rng.below(4)).map(|_| {
            if rng.chance(15) {
                gen_value(rng, depth - 1)
            } else {
                primitive(rng)
            }
        })),
        _ => Value::Class(Rc::new(("Point".into(), gen_value(rng, depth - 1)))),
    }
}

/// A copy of `v` with a few random changes somewhere inside (so diffs against `v` are small).
pub fn mutate(v: &Value, rng: &mut Rng) -> Value {
    if rng.chance(15) {
        return gen_value(rng, 2);
    }
    match v {
        Value::Array(a) => {
            let mut a = (**a).clone();
            match rng.below(4) {
                0 if !a.is_empty() => {
                    let i = rng.below(a.len());
                    a[i] = if matches!(a[i], Value::Hole) {
                        gen_value(rng, 1)
                    } else {
                        mutate(&a[i], rng)
                    };
                }
                1 => a.insert(rng.below(a.len() + 1), gen_value(rng, 1)),
                2 if !a.is_empty() => {
                    a.remove(rng.below(a.len()));
                }
                _ if !a.is_empty() => {
                    let i = rng.below(a.len());
                    a[i] = Value::Hole;
                }
                _ => a.push(Value::Null),
            }
            Value::Array(Rc::new(a))
        }
        Value::Object(o) => {
            let mut o = (**o).clone();
            match rng.below(4) {
                0 if !o.map.is_empty() => {
                    let i = rng.below(o.map.len());
                    let nv = mutate(&o.map[i], rng);
                    o.map[i] = nv;
                }
                1 if !o.map.is_empty() => {
                    o.map.shift_remove_index(rng.below(o.map.len()));
                }
                2 if o.map.len() > 1 => o.map.swap_indices(0, o.map.len() - 1),
                _ => {
                    o.map.insert(Key::from(*rng.pick(&KEYS)), gen_value(rng, 1));
                }
            }
            js_object(o.null_proto, o.map)
        }
        Value::Map(m) => {
            let mut pairs: Vec<(Value, Value)> = m.values().cloned().collect();
            match rng.below(3) {
                0 if !pairs.is_empty() => {
                    let i = rng.below(pairs.len());
                    pairs[i].1 = mutate(&pairs[i].1, rng);
                }
                1 if !pairs.is_empty() => {
                    pairs.remove(rng.below(pairs.len()));
                }
                _ => pairs.push((primitive(rng), gen_value(rng, 1))),
            }
            Value::map(pairs)
        }
        Value::Set(s) => {
            let mut members: Vec<Value> = s.values().cloned().collect();
            if !members.is_empty() && rng.chance(50) {
                members.remove(rng.below(members.len()));
            } else {
                members.push(primitive(rng));
            }
            Value::set(members)
        }
        Value::Class(c) => Value::Class(Rc::new((c.0.clone(), mutate(&c.1, rng)))),
        _ => gen_value(rng, 1),
    }
}

/// The segment a path uses to step into child `i` of container `v`, if it can.
fn child_seg(v: &Value, i: usize) -> Option<(Seg, Value)> {
    match v {
        Value::Object(o) => o
            .map
            .get_index(i)
            .map(|(k, c)| (Seg::Key(k.as_ref().into()), c.clone())),
        Value::Array(a) => a
            .get(i)
            .filter(|c| !matches!(c, Value::Hole))
            .map(|c| (Seg::Num(i as f64), c.clone())),
        Value::Map(m) => m.get_index(i).map(|(mk, (k, c))| {
            let seg = if mk.is_obj() {
                Seg::Pos(i)
            } else {
                Seg::of_key(k)
            };
            (seg, c.clone())
        }),
        Value::Set(s) => s.get_index(i).map(|(_, c)| (Seg::Num(i as f64), c.clone())),
        _ => None,
    }
}

fn len(v: &Value) -> usize {
    match v {
        Value::Object(o) => o.map.len(),
        Value::Array(a) => a.len(),
        Value::Map(m) => m.len(),
        Value::Set(s) => s.len(),
        _ => 0,
    }
}

/// One random op that is valid on `fields` (field ops, or a container op at a random depth).
pub fn gen_op(fields: &Fields, rng: &mut Rng) -> Op {
    let fkey = |rng: &mut Rng| ecow::EcoString::from(*rng.pick(&["a", "b", "c", "d"]));
    if fields.is_empty() || rng.chance(12) {
        return Op::Create {
            key: fkey(rng),
            value: gen_value(rng, 3),
        };
    }
    let (key, root) = fields
        .get_index(rng.below(fields.len()))
        .map(|(k, v)| (ecow::EcoString::from(k.as_str()), v.clone()))
        .unwrap();
    if rng.chance(4) {
        return Op::Remove { key };
    }
    if rng.chance(8) {
        return Op::Assign {
            key,
            path: vec![],
            value: mutate(&root, rng),
        };
    }
    // Walk down to a container.
    let mut path = Vec::new();
    let mut cur = root;
    loop {
        let n = len(&cur);
        if n == 0 || rng.chance(40) {
            break;
        }
        match child_seg(&cur, rng.below(n)) {
            Some((seg, child))
                if matches!(
                    child,
                    Value::Object(_) | Value::Array(_) | Value::Map(_) | Value::Set(_)
                ) =>
            {
                path.push(seg);
                cur = child;
            }
            _ => break,
        }
    }
    let value = |rng: &mut Rng| gen_value(rng, 2);
    match &cur {
        Value::Object(o) => {
            let k = if !o.map.is_empty() && rng.chance(50) {
                o.map
                    .get_index(rng.below(o.map.len()))
                    .unwrap()
                    .0
                    .to_string()
            } else {
                rng.pick(&KEYS).to_string()
            };
            path.push(Seg::Key(k.into()));
            match rng.below(4) {
                0 => Op::Delete { key, path },
                1 => Op::Assign {
                    key,
                    path,
                    value: value(rng),
                },
                _ => Op::Set {
                    key,
                    path,
                    value: value(rng),
                },
            }
        }
        Value::Array(a) => match rng.below(6) {
            1 if rng.chance(60) => Op::Push {
                key,
                path,
                items: (0..1 + rng.below(2)).map(|_| value(rng)).collect(),
                front: rng.chance(30),
            },
            0 | 1 => {
                let index = rng.below(a.len() + 1);
                let delete = rng.below(a.len() - index + 1);
                let items = (0..rng.below(3)).map(|_| value(rng)).collect();
                Op::Splice {
                    key,
                    path,
                    index,
                    delete,
                    items,
                }
            }
            2 => {
                path.push(Seg::Key("length".into()));
                Op::Set {
                    key,
                    path,
                    value: Value::Num(rng.below(a.len() + 2) as f64),
                }
            }
            3 => {
                path.push(Seg::Num(rng.below(a.len() + 1) as f64));
                Op::Delete { key, path }
            }
            4 => {
                path.push(Seg::Num(rng.below(a.len() + 2) as f64));
                Op::Assign {
                    key,
                    path,
                    value: value(rng),
                }
            }
            _ => {
                path.push(Seg::Num(rng.below(a.len() + 2) as f64));
                Op::Set {
                    key,
                    path,
                    value: value(rng),
                }
            }
        },
        Value::Map(m) => {
            let existing = (!m.is_empty()).then(|| {
                let i = rng.below(m.len());
                let (mk, (k, _)) = m.get_index(i).unwrap();
                if mk.is_obj() {
                    Seg::Pos(i)
                } else {
                    Seg::of_key(k)
                }
            });
            let map_key = match existing {
                Some(s) if rng.chance(60) => s,
                _ if rng.chance(20) => Seg::Other(Value::array([])),
                _ => Seg::of_key(&primitive(rng)),
            };
            match rng.below(6) {
                0 | 1 => Op::MapDelete { key, path, map_key },
                2 if rng.chance(30) => Op::Clear { key, path },
                _ => Op::MapSet {
                    key,
                    path,
                    map_key,
                    value: value(rng),
                },
            }
        }
        Value::Set(s) => match rng.below(5) {
            0 | 1 if !s.is_empty() => {
                let i = rng.below(s.len());
                let (mk, m) = s.get_index(i).unwrap();
                let member = if mk.is_obj() || rng.chance(30) {
                    Seg::Pos(i)
                } else {
                    Seg::of_key(m)
                };
                Op::SetDelete { key, path, member }
            }
            2 if rng.chance(30) => Op::Clear { key, path },
            _ => Op::SetAdd {
                key,
                path,
                value: if rng.chance(20) {
                    value(rng)
                } else {
                    primitive(rng)
                },
            },
        },
        _ => Op::Create {
            key,
            value: value(rng),
        },
    }
}

/// A proptest strategy for arbitrary values, bounded in depth and size.
pub fn arb_value() -> impl Strategy<Value = Value> {
    let num = prop_oneof![
        3 => any::<f64>(),
        1 => Just(f64::NAN),
        1 => Just(-0.0),
        1 => Just(f64::INFINITY),
        2 => (-1000i32..1000).prop_map(f64::from),
    ];
    let prim = prop_oneof![
        Just(Value::Undefined),
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        num.prop_map(Value::Num),
        "(-?[1-9][0-9]{0,24})|0".prop_map(|s| Value::BigInt(s.into())),
        "[a~\"\\\\\u{0}-\u{1f}é😀 ]{0,5}".prop_map(|s| Value::Str(s.into())),
    ];
    let leaf = prop_oneof![
        6 => prim.clone(),
        1 => prop_oneof![Just(None), (-8.64e15f64..8.64e15).prop_map(|t| Some(t.trunc() + 0.0))].prop_map(Value::Date),
        1 => ("[a-z.*\\\\]{0,4}", "[gimsuy]{0,1}").prop_map(|(s, f)| Value::RegExp(Rc::new((s, f)))),
        1 => (0usize..3, "([A-Za-z0-9+/]{4}){0,2}").prop_map(|(k, data)| {
            let kind = match k {
                0 => BytesKind::ArrayBuffer,
                1 => BytesKind::Buffer,
                _ => BytesKind::Typed("Uint8Array".into()),
            };
            Value::Bytes(Rc::new(Bytes { kind, data }))
        }),
        1 => Just(Value::EventTarget),
        1 => "[a-z =>]{0,6}".prop_map(|s| Value::Function(Rc::new(s))),
    ];
    leaf.prop_recursive(5, 96, 6, move |inner| {
        let key = "[ab~]|length|x y|";
        prop_oneof![
            prop::collection::vec(
                prop_oneof![5 => inner.clone(), 1 => Just(Value::Hole)],
                0..5
            )
            .prop_map(Value::array),
            (
                any::<bool>(),
                prop::collection::vec((key, inner.clone()), 0..4)
            )
                .prop_map(|(np, kv)| {
                    js_object(np, kv.into_iter().map(|(k, v)| (Key::from(k), v)).collect())
                }),
            prop::collection::vec(
                (
                    prop_oneof![3 => prim.clone(), 1 => inner.clone()],
                    inner.clone()
                ),
                0..4
            )
            .prop_map(Value::map),
            prop::collection::vec(prop_oneof![3 => prim.clone(), 1 => inner.clone()], 0..4)
                .prop_map(Value::set),
            ("[A-Z][a-z]{0,3}", inner.clone()).prop_map(|(n, v)| Value::Class(Rc::new((n, v)))),
        ]
    })
}
