//! Snapshot chunks read on the thread pool (`Core.readChunkAsync`), so that the core's reading of
//! a chunk overlaps with JS parsing the same text instead of following it.

use std::collections::HashMap;
use std::sync::Arc;

use ipos_core::{ChunkRead, Engine, Limits};
use napi::{Env, Task};
use parking_lot::Mutex;

/// A chunk read on a pool thread. Its values use `Rc`, which is not `Send`; moving it is sound
/// for the reasons `Parsed` is: it is built there from the frame text alone (the reader's key
/// cache and the packing buffer are per read and per thread, and nothing of the engine is
/// touched), handed over whole through the mutex, and from then on only touched on the JS thread.
pub struct ReadChunk(pub ChunkRead);
unsafe impl Send for ReadChunk {}

pub type Slot = Arc<Mutex<HashMap<u32, ReadChunk>>>;

pub struct ReadChunkTask {
    pub frame: String,
    pub limits: Limits,
    pub token: u32,
    pub slot: Slot,
}

impl Task for ReadChunkTask {
    // A frame the core refuses to read resolves with 0: JS then hands it to `receive`, which
    // refuses it again with every consequence a refusal has there (the error, a resync).
    type Output = Option<ReadChunk>;
    type JsValue = u32;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let frame = std::mem::take(&mut self.frame);
        let read = std::panic::catch_unwind(|| Engine::read_chunk(self.limits, &frame));
        Ok(read.ok().and_then(Result::ok).map(ReadChunk))
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> napi::Result<u32> {
        Ok(match output {
            Some(c) => {
                self.slot.lock().insert(self.token, c);
                self.token
            }
            None => 0,
        })
    }
}
