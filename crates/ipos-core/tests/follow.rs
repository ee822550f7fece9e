//! Followers of a shared log (a Redis Stream orders the batches, no root does): processes that
//! write at random and read the log at their own pace end with the same state, whatever their
//! confirmed copies do meanwhile (half the cases let them hardly fall behind, so that they are
//! caught up and dropped all the time).

mod common;

use common::{gen_op, Rng};
use ipos_core::{apply_op, ops_to_json, Engine, LagLimits, Limits};
use proptest::prelude::*;

fn follower(i: usize, tiny: bool) -> Engine {
    let mut e = Engine::new(Limits::default());
    e.set_origin(format!("f{i}"));
    if tiny {
        e.set_lag_limits(LagLimits {
            batches: 2,
            bytes: 64,
            keep_batches: 1,
            keep_bytes: 16,
        });
    }
    e.receive(r#"{"t":"s","q":0,"f":[]}"#, true).unwrap();
    e
}

fn run(seed: u64, steps: usize, writers: usize) {
    let mut rng = Rng(seed);
    let tiny = rng.chance(50);
    let mut nodes: Vec<Engine> = (0..writers).map(|i| follower(i, tiny)).collect();
    let mut log: Vec<String> = Vec::new();
    let mut read = vec![0usize; writers];
    let mut trace = vec![format!("tiny lag limits: {tiny}")];
    for _ in 0..steps {
        let i = rng.below(writers);
        if rng.chance(45) || read[i] == log.len() {
            // What this process shows, its deferred batches included.
            nodes[i].settle().unwrap();
            let mut scratch = nodes[i].fields().clone();
            let mut ops = Vec::new();
            for _ in 0..1 + rng.below(3) {
                let op = gen_op(&scratch, &mut rng);
                apply_op(&mut scratch, &op).unwrap();
                ops.push(op);
            }
            let text = ops_to_json(&ops);
            let deferred = rng.chance(50);
            trace.push(format!("{i} local {text}"));
            let frame = if deferred {
                nodes[i].local_deferred(text.as_str())
            } else {
                nodes[i].local(&text)
            }
            .unwrap();
            if !frame.is_empty() {
                log.push(frame);
            }
        } else {
            for _ in 0..1 + rng.below(log.len() - read[i]) {
                trace.push(format!("{i} reads entry {}", read[i]));
                nodes[i].receive_logged(&log[read[i]]).unwrap();
                read[i] += 1;
            }
        }
    }
    for (i, n) in nodes.iter_mut().enumerate() {
        while read[i] < log.len() {
            n.receive_logged(&log[read[i]]).unwrap();
            read[i] += 1;
        }
        assert_eq!(n.pending_len(), 0, "follower {i} still has pending batches");
    }
    let want = nodes[0].dump();
    for (i, n) in nodes.iter_mut().enumerate() {
        assert_eq!(
            n.dump(),
            want,
            "follower {i} diverged\n{}",
            trace.join("\n")
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn followers_of_one_log_converge(seed in any::<u64>(), steps in 1usize..150) {
        run(seed, steps, 3);
    }
}
