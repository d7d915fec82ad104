//! The binary's allocator: mimalloc for the command line, the system allocator (glibc
//! malloc) for the language server.
//!
//! Why two: rendering and checking allocate many small JSON values, and mimalloc roughly
//! halves their cost (`promptls render`, `check`, `eval` over many rows). The language
//! server holds many documents for hours: with mimalloc its resident memory with 200
//! open files was 1.19 times that with the system allocator, for the same live heap
//! (BENCHMARKS.md, "The redesign (issue 13)"), and its keystroke latency is the same
//! within the run-to-run spread.
//!
//! The choice is made once, at the start of `main` (`use_system`), but a few
//! allocations come before it (the runtime's, the arguments). So a block is always
//! freed or grown by the allocator that made it: mimalloc tells whether a pointer is in
//! its heap (`mi_is_in_heap_region`, a lookup in its page map), and every other pointer
//! is the system allocator's.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};

use mimalloc::MiMalloc;

extern "C" {
    // Exported by the mimalloc the `mimalloc` crate links.
    fn mi_is_in_heap_region(p: *const c_void) -> bool;
}

pub struct Allocator {
    system: AtomicBool,
}

impl Allocator {
    /// Starts with mimalloc.
    pub const fn new() -> Allocator {
        Allocator {
            system: AtomicBool::new(false),
        }
    }

    /// New blocks come from the system allocator from now on.
    pub fn use_system(&self) {
        self.system.store(true, Ordering::Relaxed);
    }

    fn system(&self) -> bool {
        self.system.load(Ordering::Relaxed)
    }

    /// Whether mimalloc made the block at `ptr`. Until the switch every block is
    /// mimalloc's (the switch goes one way), so the command line asks nothing on its
    /// frees; after it, mimalloc's page map says.
    fn made_by_mimalloc(&self, ptr: *mut u8) -> bool {
        !self.system() || in_mimalloc_heap(ptr)
    }
}

fn in_mimalloc_heap(ptr: *mut u8) -> bool {
    // SAFETY: only reads mimalloc's page map; any address may be asked about.
    unsafe { mi_is_in_heap_region(ptr.cast()) }
}

impl Default for Allocator {
    fn default() -> Allocator {
        Allocator::new()
    }
}

// SAFETY: every block is made by one of two correct allocators and freed or grown by the
// same one (`made_by_mimalloc`), with the layout it was made with.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if self.system() {
            System.alloc(layout)
        } else {
            MiMalloc.alloc(layout)
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if self.system() {
            System.alloc_zeroed(layout)
        } else {
            MiMalloc.alloc_zeroed(layout)
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if self.made_by_mimalloc(ptr) {
            MiMalloc.dealloc(ptr, layout)
        } else {
            System.dealloc(ptr, layout)
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if self.made_by_mimalloc(ptr) {
            MiMalloc.realloc(ptr, layout, new_size)
        } else {
            System.realloc(ptr, layout, new_size)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_is_freed_and_grown_by_the_allocator_that_made_it() {
        let allocator = Allocator::new();
        for align in [8, 64, 4096] {
            let layout = Layout::from_size_align(100, align).unwrap();
            // SAFETY: each block is written within its size and freed once, with its
            // layout (after a realloc, with the new size).
            unsafe {
                let early = allocator.alloc(layout);
                assert!(!early.is_null());
                assert!(in_mimalloc_heap(early), "made by mimalloc");
                early.write_bytes(1, 100);

                let system = Allocator::new();
                system.use_system();
                let late = system.alloc_zeroed(layout);
                assert!(!late.is_null());
                assert!(!in_mimalloc_heap(late), "made by the system allocator");
                assert_eq!(*late.add(99), 0);

                // Grown after the switch: each stays with its own allocator.
                let early = system.realloc(early, layout, 10_000);
                assert!(in_mimalloc_heap(early));
                assert_eq!(*early.add(99), 1);
                let late = system.realloc(late, layout, 10_000);
                assert!(!in_mimalloc_heap(late));

                let grown = Layout::from_size_align(10_000, align).unwrap();
                system.dealloc(early, grown);
                system.dealloc(late, grown);
            }
        }
    }
}
