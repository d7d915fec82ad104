//! Giving a closed document's memory back to the operating system. Freed memory is kept
//! by the allocators for reuse: glibc malloc (the server's allocator, `src/allocator.rs`,
//! and tree-sitter's) keeps its heaps' tops, and mimalloc (which made the few blocks
//! allocated before the server chose its allocator) keeps the pages of the thread that
//! allocated them until that thread allocates again. After a large document
//! is closed, both are told to return what is free (measured in BENCHMARKS.md, "Memory:
//! the language server and a 50 MB document").

// Naming the crate makes every binary that links this library link mimalloc, which
// provides `mi_collect` (without it being the global allocator of tests and benches).
use mimalloc as _;

extern "C" {
    fn mi_collect(force: bool);
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" {
    fn malloc_trim(pad: usize) -> std::ffi::c_int;
}

/// Returns the free memory of this thread's allocator heaps (and mimalloc's shared
/// free pages) to the operating system.
pub fn release_free_memory() {
    // SAFETY: both take no pointers and only walk the allocators' own free lists; they
    // may be called from any thread at any time.
    unsafe {
        mi_collect(true);
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        malloc_trim(0);
    }
}

/// Documents from this size up give their memory back after each check and request:
/// below it the memory is small and a collection would cost more than it returns.
const RELEASE_FROM_BYTES: usize = 1_000_000;

/// After work on a text of `len` bytes on this thread (a check, a request), returns its
/// freed memory if the text was large.
pub fn release_after(len: usize) {
    if len >= RELEASE_FROM_BYTES {
        release_free_memory();
    }
}
