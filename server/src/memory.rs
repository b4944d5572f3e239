//! How the process asks the C allocator for memory.
//!
//! argon2id takes 19 MiB for each password hash (sign-in, password reset). glibc hands out an
//! allocation that large by mmap at first, but each free raises its mmap threshold to the freed
//! size, so later ones come from the heap of whichever thread hashed, and a heap keeps what it
//! held. Password checks run on tokio's blocking threads, each with a heap (an arena) of its own:
//! under a steady rate of sign-ins the soak run (scripts/soak.sh) saw the server's resident memory
//! climb from 381 MB to 618 MB in ten minutes. A fixed threshold keeps every allocation of 1 MiB
//! or more in mmap, given back to the system when freed; smaller ones are unchanged.

/// The size from which an allocation is always its own mapping.
const MMAP_THRESHOLD: i32 = 1 << 20;

/// Fixes glibc's mmap threshold (see the module). Call first, before any other thread exists.
pub fn return_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt sets an allocator parameter; nothing else runs yet (main, before the runtime).
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}
