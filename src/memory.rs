//! Giving freed memory back to the system. The big texts of a create or a snapshot (a field's
//! whole encoding, megabyte chunks) are freed amid the mirror's many small blocks, and glibc's
//! allocator only returns the top of its heap on its own: without a trim the process keeps the
//! peak of such a moment resident for good. `malloc_trim` releases every free page; it walks the
//! heap, so it runs once after such a moment, not per call.

/// Texts at least this big make the moment worth a trim.
pub const TRIM_BYTES: usize = 1 << 20;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn release_freed() {
    extern "C" {
        fn malloc_trim(pad: usize) -> i32;
    }
    // SAFETY: glibc's malloc_trim takes no pointers and is safe to call at any time.
    unsafe {
        malloc_trim(0);
    }
}

/// Other allocators (musl, macOS, Windows) return memory on their own terms.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_freed() {}
