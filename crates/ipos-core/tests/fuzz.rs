//! Fuzzing of the frame decoder and op application through `Engine::receive`: arbitrary bytes and
//! structure-aware mutations of valid frames, at a root (frames from a child) and at a non-root
//! (frames from the parent, with local batches pending). Properties: no panic, and a rejected
//! frame changes nothing (visible state, snapshot, sequence, pending). An accepted frame leaves an
//! engine whose snapshot a fresh engine accepts.
//!
//! `npm test` runs a bounded number of cases; a long run:
//! `FUZZ_CASES=200000 cargo test -p ipos-core --release --test fuzz`.

use ipos_core::{Engine, Limits};
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000)
}

/// Valid frames both roles accept in some state: the seeds that mutations start from.
const SEEDS: &[&str] = &[
    r##"{"t":"b","o":"c1","n":1,"ops":[["s","f",["a"],2]]}"##,
    r##"{"t":"b","o":"c1","n":1,"ops":[["p","f",["list"],1,0,[{"x":{"~":"M","v":[[1,2],["k",{"~":"S","v":[1,{"~":"u"}]}]]}}]]]}"##,
    r##"{"t":"b","o":"c1","n":2,"ops":[["ms","f",["m"],"k",{"~":"D","v":5}],["md","f",["m"],{"~":"#","v":0}]]}"##,
    r##"{"t":"b","o":"c1","n":3,"ops":[["c","g",{"deep":[[[{"~":"n","v":"NaN"}]]],"h":[1,{"~":"_"},3]}],["x","g"]]}"##,
    r##"{"t":"b","o":"c1","n":4,"ops":[["d","f",["a"]],["sa","f",["s"],{"~":"B","v":"-12"}],["sd","f",["s"],1],["cl","f",["m"]]]}"##,
    r##"{"t":"q","q":2,"o":"c1","n":1,"ok":true,"ops":[["s","f",["list",0],{"~":"o","v":{"~":"x"}}]]}"##,
    r##"{"t":"q","q":2,"o":"ab","n":1,"ok":false,"ops":[]}"##,
    r##"{"t":"s","q":0,"f":[["f",{"a":1,"list":[1,2],"m":{"~":"M","v":[["k",1]]},"s":{"~":"S","v":[1,2]}}]]}"##,
    r##"{"t":"h","v":1,"id":"c1","fn":false}"##,
    r##"{"t":"p","i":3}"##,
    r##"{"t":"q","q":2,"o":"ab","n":1,"ok":true}"##,
    r##"{"t":"q","q":2,"o":"ab","n":1,"ok":false,"ops":[]}"##,
    r##"{"t":"N","code":"ERR_IPOS_FUNCTIONS_DISABLED","m":"no \ud83d"}"##,
];

const TOKENS: &[&str] = &[
    r##"{"~":"u"}"##,
    r##""__proto__""##,
    r##""constructor""##,
    r##"{"~":"#","v":9}"##,
    r##"{"~":"F","v":"x"}"##,
    "[",
    "{",
    "1e999",
    "-0",
    "null",
    r##""\ud800""##,
    "4294967296",
    "-1",
    r##"{"~":"_"}"##,
    r##"{"~":"M","v":[[1,1],[1,2]]}"##,
];

/// A root holding a field `f`, and a non-root that took the same state from a parent and has a
/// local batch pending.
fn engines() -> (Engine, Engine) {
    let limits = Limits {
        max_frame_bytes: 1 << 16,
        max_depth: 64,
        functions: false,
        max_array_length: ipos_core::apply::MAX_ARRAY_LENGTH,
    };
    let mut root = Engine::new(limits);
    root.set_origin("aa".into());
    root.local(
        r##"[["c","f",{"a":1,"list":[1,2],"m":{"~":"M","v":[["k",1]]},"s":{"~":"S","v":[1,2]}}]]"##,
    )
    .unwrap();
    let mut child = Engine::new(limits);
    child.set_origin("ab".into());
    let snap = root.snapshot();
    child.receive(&snap, true).unwrap();
    child.local(r##"[["s","f",["a"],7]]"##).unwrap();
    (root, child)
}

fn state(e: &mut Engine) -> (String, String, u64, usize) {
    (e.dump(), e.snapshot(), e.seq(), e.pending_len())
}

/// Feeds `frame` to both engines in both directions and checks the properties.
fn feed(frame: &str) -> Result<(), TestCaseError> {
    for role in 0..3 {
        // A fresh pair each time: the root gets it from a child, the non-root from its parent
        // and from a child.
        let (mut root, mut child) = engines();
        let (e, from_parent) = match role {
            0 => (&mut root, false),
            1 => (&mut child, true),
            _ => (&mut child, false),
        };
        let before = state(e);
        match e.receive(frame, from_parent) {
            Err(_) => prop_assert_eq!(state(e), before, "rejected frame changed state: {}", frame),
            Ok(_) => {
                let mut fresh = Engine::new(e.limits());
                fresh.set_origin("ff".into());
                prop_assert!(
                    fresh.receive(&e.snapshot(), true).is_ok(),
                    "snapshot after {} not accepted",
                    frame
                );
            }
        }
    }
    Ok(())
}

fn mutate(seed: &str, edits: &[(u8, usize, usize, u8)]) -> String {
    let mut s: Vec<u8> = seed.as_bytes().to_vec();
    for &(kind, at, len, pick) in edits {
        if s.is_empty() {
            break;
        }
        let at = at % s.len();
        match kind % 5 {
            0 => {
                let alphabet = b"{}[]\",:0123456789-~abcdnpqstuvx_\\ ";
                s[at] = alphabet[pick as usize % alphabet.len()];
            }
            1 => {
                let end = (at + 1 + len % 6).min(s.len());
                s.drain(at..end);
            }
            2 => {
                let end = (at + 1 + len % 8).min(s.len());
                let dup: Vec<u8> = s[at..end].to_vec();
                s.splice(at..at, dup);
            }
            3 => s.truncate(at),
            _ => {
                let tok = TOKENS[pick as usize % TOKENS.len()].as_bytes();
                s.splice(at..at, tok.iter().copied());
            }
        }
    }
    String::from_utf8_lossy(&s).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        feed(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn mutated_valid_frames(
        seed in 0..SEEDS.len(),
        edits in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<usize>(), any::<u8>()), 1..5),
    ) {
        feed(&mutate(SEEDS[seed], &edits))?;
    }

    #[test]
    fn deep_and_wide(depth in 0usize..3000, width in 0usize..2000) {
        let v = format!("{}{}{}", "[".repeat(depth), "0,".repeat(width) + "0", "]".repeat(depth));
        feed(&format!(r##"{{"t":"b","o":"c1","n":1,"ops":[["s","f",["a"],{v}]]}}"##))?;
    }
}

#[test]
fn seeds_are_valid_somewhere() {
    // Guards the seeds: each is accepted by at least one engine/role, so mutations start valid.
    for s in SEEDS {
        let (mut root, mut child) = engines();
        let ok = root.receive(s, false).is_ok()
            || child.receive(s, true).is_ok()
            || child.receive(s, false).is_ok();
        assert!(ok, "seed rejected everywhere: {s}");
    }
}
