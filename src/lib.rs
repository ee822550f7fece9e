//! The napi binding: converts strings, calls the core, maps core errors to JS errors with stable
//! codes. No logic lives here; see `crates/ipos-core` for semantics.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use ipos_core::{limits, CoreError, Engine, Limits, Received, Snapshot, SnapshotWriter};
use napi::bindgen_prelude::{AsyncTask, Function, JsError};
use napi::{Env, Error, Task};
use napi_derive::napi;
use parking_lot::Mutex;

mod chunk;
mod memory;

/// What every call returns: a JS `Error` whose `code` is the core's `ERR_IPOS_*` code.
type Result<T> = napi::Result<T, String>;

/// Options for a core instance, as passed from `IPOS.new(options)`.
#[napi(object)]
pub struct CoreOptions {
    pub max_frame_bytes: Option<f64>,
    pub max_depth: Option<u32>,
    pub functions: Option<bool>,
    pub max_array_length: Option<f64>,
}

/// The core's limits, for JS to enforce the same numbers (`limits()`).
#[napi(object)]
pub struct CoreLimits {
    /// How far past an array's end an index or `length` may reach.
    pub max_gap: u32,
    /// Default `maxDepth`: levels of container nesting inside a field's value.
    pub max_depth: u32,
    /// Default `maxFrameBytes`: the longest frame accepted.
    pub max_frame_bytes: f64,
    /// Longest message of a nack frame, in characters.
    pub max_nack_chars: u32,
    /// Default `maxArrayLength`: the longest shared array.
    pub max_array_length: f64,
}

/// The core's fixed limits and the defaults of the configurable ones.
#[napi]
pub fn limits() -> CoreLimits {
    CoreLimits {
        max_gap: limits::MAX_GAP as u32,
        max_depth: limits::DEFAULT_MAX_DEPTH as u32,
        max_frame_bytes: limits::DEFAULT_MAX_FRAME_BYTES as f64,
        max_nack_chars: limits::MAX_NACK_CHARS as u32,
        max_array_length: limits::MAX_ARRAY_LENGTH as f64,
    }
}

/// One ipos core per `IPOS` instance: the mirror of the shared state and its sequencing.
#[napi]
pub struct Core {
    engine: Engine,
    /// Snapshots read on the thread pool, waiting for `installSnapshot(token)`.
    parsed: Arc<Mutex<HashMap<u32, Parsed>>>,
    next_token: u32,
    /// Streamed snapshots being sent, by the id `snapshotBegin` returned.
    writers: HashMap<u32, SnapshotWriter>,
    /// Chunks read by `readChunkAsync`, waiting for `takeChunk(token)`.
    chunks: chunk::Slot,
    /// Bytes of big local batches queued since the last `settle` (see memory.rs).
    big_deferred: usize,
    /// The frame the last `receive*` call did not hand out (see `heldFrame`).
    held_frame: Option<String>,
}

/// One chunk of a streamed snapshot (`Core.snapshotNext`).
#[napi(object)]
pub struct SnapshotChunk {
    /// The `S` frame.
    pub frame: String,
    /// Whether it is the last: the stream is then closed.
    pub last: bool,
}

/// A snapshot read on a pool thread. Its values use `Rc`, which is not `Send`; moving it is
/// sound because it is built there from nothing shared, handed over whole through the mutex,
/// and from then on only touched on the JS thread.
pub struct Parsed(Snapshot);
unsafe impl Send for Parsed {}

/// Reads a snapshot frame off the JS thread (`Core.parseSnapshotAsync`).
pub struct ParseSnapshot {
    frame: String,
    limits: Limits,
    token: u32,
    slot: Arc<Mutex<HashMap<u32, Parsed>>>,
}

impl Task for ParseSnapshot {
    // The core's verdict travels as a value: `Task` can only fail with a `Status` code, so
    // `resolve` turns a refusal into the JS error itself.
    type Output = Result<Parsed>;
    type JsValue = u32;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let frame = std::mem::take(&mut self.frame);
        let limits = self.limits;
        Ok(guard(move || Engine::parse_snapshot(limits, &frame)).map(Parsed))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        match output {
            Ok(parsed) => {
                self.slot.lock().insert(self.token, parsed);
                Ok(self.token)
            }
            // A JS error object made here keeps its string `code` when the promise rejects.
            Err(e) => Err(Error::from(JsError::from(e).into_unknown(env))),
        }
    }
}

fn error(code: &str, message: impl Into<String>) -> Error<String> {
    Error::new(code.to_string(), message.into())
}

/// Runs a core call so that a panic becomes a JS error instead of aborting the process.
fn guard<T>(f: impl FnOnce() -> std::result::Result<T, CoreError>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(|e| error(e.code, e.message)),
        Err(_) => Err(error(
            "ERR_IPOS_INTERNAL",
            "the core panicked; the frame was dropped",
        )),
    }
}

#[napi]
impl Core {
    #[napi(constructor)]
    pub fn new(options: Option<CoreOptions>) -> Self {
        let mut limits = Limits::default();
        if let Some(o) = options {
            if let Some(b) = o.max_frame_bytes {
                limits.max_frame_bytes = b.max(0.0) as usize;
            }
            if let Some(d) = o.max_depth {
                limits.max_depth = d as usize;
            }
            if let Some(f) = o.functions {
                limits.functions = f;
            }
            if let Some(n) = o.max_array_length {
                limits.max_array_length = n.max(0.0) as usize;
            }
        }
        Core {
            engine: Engine::new(limits),
            parsed: Arc::new(Mutex::new(HashMap::new())),
            next_token: 0,
            writers: HashMap::new(),
            chunks: Default::default(),
            big_deferred: 0,
            held_frame: None,
        }
    }

    /// Sets this instance's origin id (random, chosen by JS).
    #[napi]
    pub fn set_origin(&mut self, origin: String) {
        self.engine.set_origin(origin);
    }

    /// Takes one local batch (JSON array of ops) and returns the frame to send ("" for none).
    #[napi]
    pub fn local(&mut self, batch: String) -> Result<String> {
        guard(|| self.engine.local(&batch))
    }

    /// A batch without `r` ops: returns its frame at once and applies it at `settle()` (or before
    /// any other call), so the mirror's work happens off the path to the wire.
    #[napi]
    pub fn local_deferred(&mut self, batch: String) -> Result<String> {
        self.note_batch(&batch);
        guard(|| self.engine.local_deferred(batch))
    }

    /// `localDeferred` for a root with no child to send the frame to: returns nothing.
    #[napi]
    pub fn local_deferred_unsent(&mut self, batch: String) -> Result<()> {
        self.note_batch(&batch);
        guard(|| self.engine.local_deferred_unsent(batch))
    }

    fn note_batch(&mut self, batch: &str) {
        if batch.len() >= memory::TRIM_BYTES {
            self.big_deferred += batch.len();
        }
    }

    /// Applies the batches `localDeferred` queued.
    #[napi]
    pub fn settle(&mut self) -> Result<()> {
        let r = guard(|| self.engine.settle());
        if self.big_deferred > 0 {
            // A big batch (a field created or reset whole) and its frame were just freed.
            self.big_deferred = 0;
            memory::release_freed();
        }
        r
    }

    /// Validates and applies one inbound frame; returns `[verdict, frame, elided]` (empty strings
    /// where there is none): `frame` goes to the children, `elided` to the child whose peer is the
    /// batch's origin. `relay: false` (no child but maybe the origin's to send `frame` to) leaves
    /// `frame` empty: a big batch's frame is then not copied out to JS for nothing.
    #[napi]
    pub fn receive(
        &mut self,
        frame: String,
        from_parent: bool,
        relay: Option<bool>,
    ) -> Result<Vec<String>> {
        let r = guard(|| self.engine.receive(&frame, from_parent))?;
        Ok(self.answer(r, relay))
    }

    /// The `frame` the last `receive*` call left out (`relay: false`), or "" if it had none: for
    /// JS to fetch only when a child turns out to need it (the batch's origin was further down).
    #[napi]
    pub fn held_frame(&mut self) -> String {
        self.held_frame.take().unwrap_or_default()
    }

    /// `receive`, with the core reading the frame on another thread while this one runs `parse`
    /// (lib/inbound.js passes a closure that `JSON.parse`s the same frame, which it needs right
    /// after to apply the ops): for a big frame, the two biggest costs of taking it in overlap.
    /// Nothing else can run in between, so the order of frames and local batches is unchanged.
    /// Returns what `receive` does and, fourth, `"p"` when the frame holds no tag (see
    /// lib/inbound.js `isPlain`).
    #[napi]
    pub fn receive_overlapped(
        &mut self,
        frame: String,
        from_parent: bool,
        parse: Function<(), ()>,
        relay: Option<bool>,
    ) -> Result<Vec<String>> {
        self.overlapped(&frame, parse, relay, move |engine, text| {
            engine.receive(text, from_parent)
        })
    }

    /// `receiveLogged`, overlapped with `parse` as `receiveOverlapped` is (a big log entry).
    #[napi]
    pub fn receive_logged_overlapped(
        &mut self,
        entry: String,
        parse: Function<(), ()>,
        relay: Option<bool>,
    ) -> Result<Vec<String>> {
        self.overlapped(&entry, parse, relay, |engine, text| {
            engine.receive_logged(text)
        })
    }

    /// Takes the next entry of a shared log (a `b` frame) as the next sequenced batch; returns
    /// `[verdict, frame, elided]` like `receive`. An entry that cannot be read or does not apply
    /// is skipped, not refused (see PROTOCOL.md "Following a log").
    #[napi]
    pub fn receive_logged(&mut self, entry: String, relay: Option<bool>) -> Result<Vec<String>> {
        let r = guard(|| self.engine.receive_logged(&entry))?;
        Ok(self.answer(r, relay))
    }

    /// Starts reading a snapshot chunk (`S` frame from the parent) on the thread pool; resolves
    /// with a token for `takeChunk`, or 0 if the frame cannot be read (hand it to `receive`).
    /// Nothing changes until `takeChunk`, so JS can parse the same frame meanwhile.
    #[napi]
    pub fn read_chunk_async(&mut self, frame: String) -> AsyncTask<chunk::ReadChunkTask> {
        self.next_token = self.next_token.wrapping_add(1).max(1);
        AsyncTask::new(chunk::ReadChunkTask {
            frame,
            limits: self.engine.limits(),
            token: self.next_token,
            slot: self.chunks.clone(),
        })
    }

    /// Takes in a chunk read by `readChunkAsync` as `receive` would take in its frame from the
    /// parent; returns `[verdict, "", ""]`.
    #[napi]
    pub fn take_chunk(&mut self, token: u32) -> Result<Vec<String>> {
        let c = self
            .chunks
            .lock()
            .remove(&token)
            .ok_or_else(|| error("ERR_IPOS_INTERNAL", "unknown chunk token"))?;
        guard(|| self.engine.take_read_chunk(Ok(c.0), true))
            .map(|r| vec![r.verdict, String::new(), String::new()])
    }

    /// Forgets a chunk read by `readChunkAsync` that will not be taken (the instance closed).
    #[napi]
    pub fn drop_chunk(&mut self, token: u32) {
        self.chunks.lock().remove(&token);
    }

    /// Starts reading a (big) snapshot frame on the thread pool; resolves with a token for
    /// `installSnapshot`. Nothing changes until then, so JS can parse the same frame meanwhile.
    #[napi]
    pub fn parse_snapshot_async(&mut self, frame: String) -> AsyncTask<ParseSnapshot> {
        self.next_token = self.next_token.wrapping_add(1);
        AsyncTask::new(ParseSnapshot {
            frame,
            limits: self.engine.limits(),
            token: self.next_token,
            slot: self.parsed.clone(),
        })
    }

    /// Takes in a snapshot read by `parseSnapshotAsync`; returns `[verdict, "", ""]` like `receive`.
    #[napi]
    pub fn install_snapshot(&mut self, token: u32, from_parent: bool) -> Result<Vec<String>> {
        let snap = self
            .parsed
            .lock()
            .remove(&token)
            .ok_or_else(|| error("ERR_IPOS_INTERNAL", "unknown snapshot token"))?;
        guard(|| self.engine.install_snapshot(snap.0, from_parent))
            .map(|r| vec![r.verdict, String::new(), String::new()])
    }

    /// The snapshot frame for a new child.
    #[napi]
    pub fn snapshot(&mut self) -> String {
        self.engine.snapshot()
    }

    /// Starts a streamed snapshot of the state for a new child; returns its id for `snapshotNext`.
    /// Frames sequenced from now on must reach that child after the last chunk.
    #[napi]
    pub fn snapshot_begin(&mut self) -> u32 {
        self.next_token = self.next_token.wrapping_add(1);
        self.writers
            .insert(self.next_token, self.engine.snapshot_writer());
        self.next_token
    }

    /// The next chunk (about `bytes` of frame text) of stream `id`, or null for an unknown or
    /// finished stream. The last chunk closes the stream.
    #[napi]
    pub fn snapshot_next(&mut self, id: u32, bytes: u32) -> Option<SnapshotChunk> {
        let w = self.writers.get_mut(&id)?;
        let frame = w.next_chunk(bytes as usize)?;
        let last = w.done();
        if last {
            self.writers.remove(&id);
        }
        Some(SnapshotChunk { frame, last })
    }

    /// Closes stream `id` before its end (the child went away), freeing its copy of the state.
    #[napi]
    pub fn snapshot_drop(&mut self, id: u32) {
        self.writers.remove(&id);
    }

    /// Drops a streamed snapshot being received (the parent went away or stopped sending).
    #[napi]
    pub fn abort_incoming(&mut self) {
        self.engine.abort_incoming();
    }

    /// Puts in order the Maps whose entry order waits for the pending batches; returns the patch
    /// for JS (a JSON array of `mm` ops). Called before `becomeRoot`.
    #[napi]
    pub fn reorder(&mut self) -> String {
        self.engine.reorder()
    }

    /// The parent is gone: this instance becomes a root; returns frames for its children.
    #[napi]
    pub fn become_root(&mut self) -> Vec<String> {
        self.engine.become_root()
    }

    /// The `b` frames of the batches still pending, to send again to a new parent.
    #[napi]
    pub fn pending_frames(&mut self) -> Vec<String> {
        self.engine.pending_frames()
    }

    /// The visible state as JSON (tests and debugging).
    #[napi]
    pub fn dump(&mut self) -> String {
        self.engine.dump()
    }

    #[napi(getter)]
    pub fn seq(&self) -> f64 {
        self.engine.seq() as f64
    }

    #[napi(getter)]
    pub fn pending(&self) -> u32 {
        self.engine.pending_len() as u32
    }

    /// Whether this instance waits for a snapshot because it could not follow its parent.
    #[napi(getter)]
    pub fn behind(&self) -> bool {
        self.engine.behind()
    }

    /// True once after this instance fell behind its parent: send the parent `{"t":"R"}`.
    /// The last batch of `origin` this process's state contains (-1: none known).
    #[napi]
    pub fn last_sequenced(&self, origin: String) -> f64 {
        self.engine
            .last_sequenced(&origin)
            .map_or(-1.0, |n| n as f64)
    }

    #[napi]
    pub fn take_resync(&mut self) -> bool {
        self.engine.take_resync()
    }

    #[napi(getter)]
    pub fn is_root(&self) -> bool {
        self.engine.is_root()
    }
}

impl Core {
    /// Runs `read` (the engine taking `text`) on a scoped thread while this thread runs `parse`.
    /// What the `receive` calls return: `[verdict, frame, elided]`, `frame` held back (see
    /// `heldFrame`) when `relay` is false.
    fn answer(&mut self, r: Received, relay: Option<bool>) -> Vec<String> {
        let frame = if relay.unwrap_or(true) {
            self.held_frame = None;
            r.frame.unwrap_or_default()
        } else {
            self.held_frame = r.frame;
            String::new()
        };
        vec![r.verdict, frame, r.elided.unwrap_or_default()]
    }

    fn overlapped(
        &mut self,
        text: &str,
        parse: Function<(), ()>,
        relay: Option<bool>,
        read: impl FnOnce(&mut Engine, &str) -> std::result::Result<Received, CoreError> + Send,
    ) -> Result<Vec<String>> {
        // The engine holds `Rc`s and so is not `Send`. Lending it to one scoped thread is sound:
        // for the whole scope this thread does not touch it (it only runs `parse`, which does not
        // call into this core; a reentrant call is impossible anyway while `&mut self` is held
        // by this call), and `join` orders every refcount change there before any here.
        struct Lent(*mut Engine);
        unsafe impl Send for Lent {}
        let lent = Lent(&mut self.engine);
        let (parsed, read) = std::thread::scope(|scope| {
            let reader = scope.spawn(move || {
                let lent = lent;
                // SAFETY: see above; the pointer is valid and unaliased until `join`.
                let engine = unsafe { &mut *lent.0 };
                catch_unwind(AssertUnwindSafe(|| {
                    // Whether JS may use the parsed values as they are (lib/inbound.js
                    // `isPlain`): no tag key and no escape that could spell one. Searched here,
                    // off the JS thread and several times faster than JS's indexOf.
                    let plain = !text.contains("\"~\"") && !text.contains("\\u");
                    (read(engine, text), plain)
                }))
            });
            let parsed = parse.call(());
            (parsed, reader.join())
        });
        let (received, plain) = match read {
            Ok(Ok((Ok(r), plain))) => (r, plain),
            Ok(Ok((Err(e), _))) => return Err(error(e.code, e.message)),
            _ => {
                return Err(error(
                    "ERR_IPOS_INTERNAL",
                    "the core panicked; the frame was dropped",
                ))
            }
        };
        // A frame the core accepted is JSON; `parse` failing on it would be a bug, not bad input.
        parsed.map_err(|e| error("ERR_IPOS_INTERNAL", e.reason.clone()))?;
        let mut out = self.answer(received, relay);
        out.push(if plain { "p" } else { "" }.to_string());
        Ok(out)
    }
}
