//! An object's own keys in insertion order, stored for the common case: most shared objects are
//! records of a handful of keys, and a hash table per record cost more than its entries (a
//! 4-key record took ~330 bytes in an `IndexMap`: entries with their hashes, an index table and
//! the map's own header). Up to `SMALL` keys live in one vector of pairs found by a linear scan;
//! past that the map becomes an `IndexMap` (boxed, so small objects do not pay for its header)
//! and stays one. Both keep exactly the same order, so nothing outside can tell them apart.
//!
//! A small plain object deep in a field may also be kept packed (see `packed.rs`); reads open it,
//! writes unpack it, so that too is invisible from outside.

use std::cell::OnceCell;
use std::ops::{Index, IndexMut};

use indexmap::IndexMap;

use super::packed::Packed;
use super::{Hasher, Key, Value};

/// Most keys a map keeps without a hash table. A scan of 16 short keys compares lengths first and
/// costs about what hashing one key does; a peer cannot make it cost more, since the scan is
/// bounded.
pub const SMALL: usize = 16;

type Big = IndexMap<Key, Value, Hasher>;

#[derive(Debug, Clone)]
enum Repr {
    Small(Vec<(Key, Value)>),
    Large(Box<Big>),
    Packed(Packed),
}

/// An object's own keys in insertion order (see the module comment). The methods are named and
/// behave as `IndexMap`'s: `insert` keeps an existing key's place, `shift_*` keep the order.
#[derive(Debug, Clone)]
pub struct ObjMap(Repr);

impl Default for ObjMap {
    fn default() -> Self {
        ObjMap(Repr::Small(Vec::new()))
    }
}

fn pair_refs((k, v): &(Key, Value)) -> (&Key, &Value) {
    (k, v)
}

impl ObjMap {
    /// An empty map with room for `n` keys (small or large by `n`).
    pub fn with_capacity(n: usize) -> Self {
        if n <= SMALL {
            ObjMap(Repr::Small(Vec::with_capacity(n)))
        } else {
            ObjMap(Repr::Large(Box::new(Big::with_capacity_and_hasher(
                n,
                Hasher::default(),
            ))))
        }
    }

    /// The map of a packed object (see packed.rs): `text` must be the canonical encoding of the
    /// object this map belongs to.
    pub(crate) fn packed(text: Box<str>) -> Self {
        ObjMap(Repr::Packed(Packed {
            text,
            open: OnceCell::new(),
        }))
    }

    /// The canonical encoding of the object, if the map is kept packed.
    pub fn packed_text(&self) -> Option<&str> {
        match &self.0 {
            Repr::Packed(p) => Some(&p.text),
            _ => None,
        }
    }

    /// The map to read: itself, or what a packed one opens into.
    fn view(&self) -> &Repr {
        match &self.0 {
            Repr::Packed(p) => &p.view().0,
            r => r,
        }
    }

    /// Makes a packed map an ordinary one before a write.
    fn unpack(&mut self) {
        if let Repr::Packed(_) = &self.0 {
            let Repr::Packed(p) = std::mem::replace(&mut self.0, Repr::Small(Vec::new())) else {
                unreachable!("matched above")
            };
            *self = p.unpack();
        }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        match self.view() {
            Repr::Packed(_) => unreachable!("opened or unpacked above"),
            Repr::Small(v) => v.len(),
            Repr::Large(m) => m.len(),
        }
    }

    /// True with no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Position of key `k`.
    pub fn get_index_of(&self, k: &str) -> Option<usize> {
        match self.view() {
            Repr::Packed(_) => unreachable!("opened or unpacked above"),
            Repr::Small(v) => v.iter().position(|(x, _)| **x == *k),
            Repr::Large(m) => m.get_index_of(k),
        }
    }

    /// True if `k` is an own key.
    pub fn contains_key(&self, k: &str) -> bool {
        self.get_index_of(k).is_some()
    }

    /// The value of `k`.
    pub fn get(&self, k: &str) -> Option<&Value> {
        match self.view() {
            Repr::Packed(_) => unreachable!("opened or unpacked above"),
            Repr::Small(v) => v.iter().find(|(x, _)| **x == *k).map(|(_, v)| v),
            Repr::Large(m) => m.get(k),
        }
    }

    /// The value of `k`, mutably.
    pub fn get_mut(&mut self, k: &str) -> Option<&mut Value> {
        self.get_full_mut(k).map(|(_, _, v)| v)
    }

    /// Position, key and value of `k`, the value mutably.
    pub fn get_full_mut(&mut self, k: &str) -> Option<(usize, &Key, &mut Value)> {
        self.unpack();
        match &mut self.0 {
            Repr::Packed(_) => unreachable!("opened or unpacked above"),
            Repr::Small(v) => {
                let i = v.iter().position(|(x, _)| **x == *k)?;
                let (k, v) = &mut v[i];
                Some((i, &*k, v))
            }
            Repr::Large(m) => m.get_full_mut(k),
        }
    }

    /// Key and value at position `i`.
    pub fn get_index(&self, i: usize) -> Option<(&Key, &Value)> {
        match self.view() {
            Repr::Packed(_) => unreachable!("opened or unpacked above"),
            Repr::Small(v) => v.get(i).map(pair_refs),
            Repr::Large(m) => m.get_index(i),
        }
    }

    /// Key and value at position `i`, the value mutably.
    pub fn get_index_mut(&mut self, i: usize) -> Option<(&Key, &mut Value)> {
        self.unpack();
        match &mut self.0 {
            Repr::Packed(_) => unreachable!("opened or unpacked above"),
            Repr::Small(v) => v.get_mut(i).map(|(k, v)| (&*k, v)),
            Repr::Large(m) => m.get_index_mut(i),
        }
    }

    /// The last entry, its value mutably.
    pub fn last_mut(&mut self) -> Option<(&Key, &mut Value)> {
        match self.len() {
            0 => None,
            n => self.get_index_mut(n - 1),
        }
    }

    /// Entries in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter(match self.view() {
            Repr::Packed(_) => unreachable!("opened above"),
            Repr::Small(v) => IterRepr::Small(v.iter()),
            Repr::Large(m) => IterRepr::Large(m.iter()),
        })
    }

    /// Keys in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Key> + ExactSizeIterator + '_ {
        self.iter().map(|(k, _)| k)
    }

    /// Values in order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator + '_ {
        self.iter().map(|(_, v)| v)
    }

    /// The hash table a small map becomes when it grows past `SMALL`.
    fn grow(&mut self, extra: usize) -> &mut Big {
        if let Repr::Small(v) = &mut self.0 {
            let mut m = Big::with_capacity_and_hasher(v.len() + extra, Hasher::default());
            m.extend(v.drain(..));
            self.0 = Repr::Large(Box::new(m));
        }
        match &mut self.0 {
            Repr::Large(m) => m,
            Repr::Small(_) | Repr::Packed(_) => unreachable!("grown above"),
        }
    }

    /// Sets `k` to `v`: an existing key keeps its place and its old value is returned, a new key
    /// goes last.
    pub fn insert(&mut self, k: Key, v: Value) -> Option<Value> {
        self.unpack();
        if let Repr::Small(items) = &mut self.0 {
            if let Some(i) = items.iter().position(|(x, _)| *x == k) {
                return Some(std::mem::replace(&mut items[i].1, v));
            }
            if items.len() < SMALL {
                items.push((k, v));
                return None;
            }
        }
        self.grow(1).insert(k, v)
    }

    /// Inserts the new key `k` at position `at` (at most `len`), shifting the ones after it.
    pub fn shift_insert(&mut self, at: usize, k: Key, v: Value) {
        debug_assert!(!self.contains_key(&k), "shift_insert takes a new key");
        self.unpack();
        if let Repr::Small(items) = &mut self.0 {
            if items.len() < SMALL {
                items.insert(at, (k, v));
                return;
            }
        }
        self.grow(1).shift_insert(at, k, v);
    }

    /// Removes `k`, shifting the keys after it; returns its position, key and value.
    pub fn shift_remove_full(&mut self, k: &str) -> Option<(usize, Key, Value)> {
        self.unpack();
        match &mut self.0 {
            Repr::Packed(_) => unreachable!("opened or unpacked above"),
            Repr::Small(v) => {
                let i = v.iter().position(|(x, _)| **x == *k)?;
                let (k, v) = v.remove(i);
                Some((i, k, v))
            }
            Repr::Large(m) => m.shift_remove_full(k),
        }
    }

    /// Removes the key at position `i`, shifting the keys after it.
    pub fn shift_remove_index(&mut self, i: usize) -> Option<(Key, Value)> {
        self.unpack();
        match &mut self.0 {
            Repr::Packed(_) => unreachable!("opened or unpacked above"),
            Repr::Small(v) => (i < v.len()).then(|| v.remove(i)),
            Repr::Large(m) => m.shift_remove_index(i),
        }
    }

    /// Swaps the entries at positions `a` and `b`.
    pub fn swap_indices(&mut self, a: usize, b: usize) {
        self.unpack();
        match &mut self.0 {
            Repr::Packed(_) => unreachable!("opened or unpacked above"),
            Repr::Small(v) => v.swap(a, b),
            Repr::Large(m) => m.swap_indices(a, b),
        }
    }

    /// Stable sort of the entries.
    pub fn sort_by<F>(&mut self, mut cmp: F)
    where
        F: FnMut(&Key, &Value, &Key, &Value) -> std::cmp::Ordering,
    {
        self.unpack();
        match &mut self.0 {
            Repr::Packed(_) => unreachable!("opened or unpacked above"),
            Repr::Small(v) => v.sort_by(|(k1, v1), (k2, v2)| cmp(k1, v1, k2, v2)),
            Repr::Large(m) => m.sort_by(cmp),
        }
    }
}

impl Extend<(Key, Value)> for ObjMap {
    /// `insert` for each pair: a repeated key keeps its first place and takes the last value.
    fn extend<I: IntoIterator<Item = (Key, Value)>>(&mut self, pairs: I) {
        let pairs = pairs.into_iter();
        self.unpack();
        if let Repr::Small(v) = &self.0 {
            if v.len() + pairs.size_hint().0 > SMALL {
                self.grow(pairs.size_hint().0);
            }
        }
        if let Repr::Large(m) = &mut self.0 {
            return m.extend(pairs);
        }
        for (k, v) in pairs {
            self.insert(k, v);
        }
    }
}

impl FromIterator<(Key, Value)> for ObjMap {
    fn from_iter<I: IntoIterator<Item = (Key, Value)>>(pairs: I) -> Self {
        let pairs = pairs.into_iter();
        let mut m = ObjMap::with_capacity(pairs.size_hint().0);
        m.extend(pairs);
        m
    }
}

impl Index<usize> for ObjMap {
    type Output = Value;
    fn index(&self, i: usize) -> &Value {
        match self.view() {
            Repr::Packed(_) => unreachable!("opened or unpacked above"),
            Repr::Small(v) => &v[i].1,
            Repr::Large(m) => &m[i],
        }
    }
}

impl IndexMut<usize> for ObjMap {
    fn index_mut(&mut self, i: usize) -> &mut Value {
        self.unpack();
        match &mut self.0 {
            Repr::Packed(_) => unreachable!("opened or unpacked above"),
            Repr::Small(v) => &mut v[i].1,
            Repr::Large(m) => &mut m[i],
        }
    }
}

/// Entries of an `ObjMap` in order.
pub struct Iter<'a>(IterRepr<'a>);

enum IterRepr<'a> {
    Small(std::slice::Iter<'a, (Key, Value)>),
    Large(indexmap::map::Iter<'a, Key, Value>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a Key, &'a Value);
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterRepr::Small(i) => i.next().map(pair_refs),
            IterRepr::Large(i) => i.next(),
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            IterRepr::Small(i) => i.size_hint(),
            IterRepr::Large(i) => i.size_hint(),
        }
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterRepr::Small(i) => i.next_back().map(pair_refs),
            IterRepr::Large(i) => i.next_back(),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a ObjMap {
    type Item = (&'a Key, &'a Value);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// The entries of an `ObjMap`, by value, in order.
pub struct IntoIter(IntoIterRepr);

enum IntoIterRepr {
    Small(std::vec::IntoIter<(Key, Value)>),
    Large(indexmap::map::IntoIter<Key, Value>),
}

impl Iterator for IntoIter {
    type Item = (Key, Value);
    fn next(&mut self) -> Option<(Key, Value)> {
        match &mut self.0 {
            IntoIterRepr::Small(i) => i.next(),
            IntoIterRepr::Large(i) => i.next(),
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            IntoIterRepr::Small(i) => i.size_hint(),
            IntoIterRepr::Large(i) => i.size_hint(),
        }
    }
}

impl ExactSizeIterator for IntoIter {}

impl IntoIterator for ObjMap {
    type Item = (Key, Value);
    type IntoIter = IntoIter;
    fn into_iter(mut self) -> IntoIter {
        self.unpack();
        IntoIter(match self.0 {
            Repr::Packed(_) => unreachable!("unpacked above"),
            Repr::Small(v) => IntoIterRepr::Small(v.into_iter()),
            Repr::Large(m) => IntoIterRepr::Large(m.into_iter()),
        })
    }
}

#[cfg(test)]
#[path = "objmap_tests.rs"]
mod tests;
