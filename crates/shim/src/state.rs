//! The shim's process-wide state: where its directory is, the control and counters pages, and
//! the mapped policy image, swapped when the control page shows a new generation.
//!
//! # Set-up
//!
//! [`setup`] runs once per process image, from the library's constructor or from the first
//! hook that runs before it. One atomic state moves `UNINIT → INITING → READY`; the thread that
//! wins the move fills [`Shim`] and publishes it with a release store, and every other thread
//! reads it only after seeing `READY`. A hook that finds set-up in progress in another thread
//! does not wait: it lets its call through (a window of microseconds, once per process). After
//! `fork`, a child whose parent was mid-set-up starts again (`pthread_atfork`).
//!
//! # The policy cache
//!
//! Policy images live in [`SLOTS`] (four mappings); [`CURRENT`] names the one in use. A hook
//! takes a [`PolicyGuard`] (an atomic increment of the slot's reader count, then a check that
//! the slot is still current) and reads the image through it without any lock. The hook that
//! first sees a new generation in the control page maps the new file, puts it in a slot that is
//! neither current nor read by anyone (unmapping what was there), and makes it current. So an
//! image is never unmapped under a reader, nobody ever waits, and a process that forks in the
//! middle of a swap loses nothing but the swap (the child's hooks retry it). What invalidates
//! the cache: a generation in the control page different from the one last acted on (one
//! relaxed load per hooked call, no system call).

use std::cell::UnsafeCell;
use std::ffi::{CStr, c_void};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use shim_abi::image::PolicyImage;
use shim_abi::pages::{Control, Counter, Counters, PAGE_LEN, PAGE_WORDS};

use crate::real;
use crate::sys::{self, Mapping};

/// Longest directory path of the shim (its files' names are appended).
const DIR_CAP: usize = 480;
/// Room for one of the shim's file paths, NUL included.
pub const PATH_CAP: usize = DIR_CAP + 16;
/// Longest executable path kept for events.
const EXE_CAP: usize = 256;
/// The largest policy image the shim maps.
const MAX_IMAGE: usize = 64 << 20;

const UNINIT: u8 = 0;
const INITING: u8 = 1;
const READY: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(UNINIT);

/// What set-up found. Written once while `INITING`, read-only after `READY`.
pub struct Shim {
    policy_path: [u8; PATH_CAP],
    fifo_path: [u8; PATH_CAP],
    exe: [u8; EXE_CAP],
    exe_len: usize,
    /// The control page; `None`: the shim's directory was not set up by a probe, and the shim
    /// stays out of the way (allows everything, reports nothing).
    pub control: Option<Control<'static>>,
    /// The counters page, if it could be mapped writable.
    pub counters: Option<Counters<'static>>,
    /// `openat2` works here (kernel 5.6 or later, and no seccomp filter refusing it).
    pub openat2: AtomicBool,
}

impl Shim {
    const fn empty() -> Shim {
        Shim {
            policy_path: [0; PATH_CAP],
            fifo_path: [0; PATH_CAP],
            exe: [0; EXE_CAP],
            exe_len: 0,
            control: None,
            counters: None,
            openat2: AtomicBool::new(false),
        }
    }

    /// The event FIFO's path.
    pub fn fifo_path(&self) -> &CStr {
        CStr::from_bytes_until_nul(&self.fifo_path).unwrap_or(c"")
    }

    fn policy_path(&self) -> &CStr {
        CStr::from_bytes_until_nul(&self.policy_path).unwrap_or(c"")
    }

    /// This process's executable, as `/proc/self/exe` named it at start-up.
    pub fn exe(&self) -> &[u8] {
        &self.exe[..self.exe_len]
    }

    /// Adds one to a counter, if the counters page is mapped.
    pub fn bump(&self, c: Counter) {
        if let Some(counters) = &self.counters {
            counters.bump(c);
        }
    }
}

struct Global(UnsafeCell<Shim>);
// SAFETY: the cell is written only by the one thread that moved STATE to INITING, and read
// only after STATE is READY (release/acquire), so no access races.
unsafe impl Sync for Global {}

static SHIM: Global = Global(UnsafeCell::new(Shim::empty()));

/// The shim's state, setting it up if nobody has; `None` while another thread sets it up.
#[inline]
pub fn setup() -> Option<&'static Shim> {
    if STATE.load(Ordering::Acquire) == READY {
        // SAFETY: READY was stored after the last write to SHIM.
        return Some(unsafe { &*SHIM.0.get() });
    }
    setup_slow()
}

#[cold]
fn setup_slow() -> Option<&'static Shim> {
    if STATE
        .compare_exchange(UNINIT, INITING, Ordering::Acquire, Ordering::Acquire)
        .is_err()
    {
        return None;
    }
    // SAFETY: this thread won UNINIT → INITING: no one else reads or writes SHIM until READY.
    let shim = unsafe { &mut *SHIM.0.get() };
    *shim = Shim::empty();
    fill(shim);
    STATE.store(READY, Ordering::Release);
    Some(shim)
}

/// The library's constructor: set up while the process is still single-threaded.
pub extern "C" fn constructor() {
    let _ = setup();
}

fn fill(shim: &mut Shim) {
    register_atfork();
    real::resolve_all();
    let mut dir = [0u8; DIR_CAP];
    let Some(dir_len) = own_directory(&mut dir) else {
        return;
    };
    let dir = &dir[..dir_len];
    let mut control_path = [0u8; PATH_CAP];
    let mut counters_path = [0u8; PATH_CAP];
    join(dir, b"policy", &mut shim.policy_path);
    join(dir, b"events", &mut shim.fifo_path);
    join(dir, b"control", &mut control_path);
    join(dir, b"counters", &mut counters_path);

    shim.control = sys::map_file(path(&control_path), false, PAGE_LEN, PAGE_LEN)
        .ok()
        .and_then(|m| Control::new_checked(page_words(m)));
    if shim.control.is_none() {
        return;
    }
    shim.counters = sys::map_file(path(&counters_path), true, PAGE_LEN, PAGE_LEN)
        .ok()
        .and_then(|m| Counters::new_checked(page_words(m)));
    let mut exe = sys::buffer::<EXE_CAP>();
    if let Ok(name) = sys::readlink(c"/proc/self/exe", &mut exe) {
        shim.exe[..name.len()].copy_from_slice(name);
        shim.exe_len = name.len();
    }
    // One probe: a kernel without openat2, or a seccomp profile refusing it, sends every
    // decision that needs a path through the resolving slow path instead.
    if let Ok(fd) = sys::openat_no_symlinks(libc::AT_FDCWD, c"/", libc::O_PATH | libc::O_CLOEXEC, 0)
    {
        sys::close(fd);
        shim.openat2.store(true, Ordering::Relaxed);
    }
    shim.bump(Counter::ShimLoads);
}

/// A page mapping as its words. The mapping is never unmapped (it lives as long as the
/// process image).
fn path(b: &[u8; PATH_CAP]) -> &CStr {
    CStr::from_bytes_until_nul(b).unwrap_or(c"")
}

fn page_words(m: Mapping) -> &'static [AtomicU64; PAGE_WORDS] {
    // SAFETY: map_file mapped exactly PAGE_LEN bytes (min = max = PAGE_LEN), page-aligned, so
    // aligned for u64; AtomicU64 has u64's layout; the mapping is never unmapped, so 'static
    // holds; other processes change the words only through atomic operations too.
    unsafe { &*m.base.cast::<[AtomicU64; PAGE_WORDS]>() }
}

/// `dir + "/" + name + NUL` into `out`.
fn join(dir: &[u8], name: &[u8], out: &mut [u8; PATH_CAP]) {
    let n = dir.len();
    out[..n].copy_from_slice(dir);
    out[n] = b'/';
    out[n + 1..n + 1 + name.len()].copy_from_slice(name);
    out[n + 1 + name.len()] = 0;
}

/// The directory this library was loaded from (its `/etc/ld.so.preload` or `LD_PRELOAD`
/// entry): the policy, control page, counters and FIFO sit beside it. Taken from the loader
/// (`dladdr`), not from the environment, so a process cannot point its children elsewhere.
fn own_directory(out: &mut [u8; DIR_CAP]) -> Option<usize> {
    // SAFETY: Dl_info is plain data filled by dladdr; dli_fname, when set, is the loader's C
    // string for the object, valid while it stays loaded (for the process's life).
    let name = unsafe {
        let mut info: libc::Dl_info = std::mem::zeroed();
        let here = constructor as *const c_void;
        if libc::dladdr(here, &mut info) == 0 || info.dli_fname.is_null() {
            return None;
        }
        CStr::from_ptr(info.dli_fname).to_bytes()
    };
    let slash = name.iter().rposition(|&b| b == b'/')?;
    if slash == 0 || slash >= DIR_CAP {
        return None;
    }
    out[..slash].copy_from_slice(&name[..slash]);
    Some(slash)
}

fn register_atfork() {
    static DONE: AtomicBool = AtomicBool::new(false);
    if !DONE.swap(true, Ordering::Relaxed) {
        // SAFETY: registers a plain extern "C" function; pthread_atfork copies the pointer.
        unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
    }
}

/// In the child of `fork`: only the forking thread survives, and it is not inside a hook
/// (hooks never call `fork`), so every reader count and the swap flag are stale.
extern "C" fn after_fork_in_child() {
    for slot in &SLOTS.0 {
        slot.readers.store(0, Ordering::Relaxed);
    }
    SWAPPING.store(false, Ordering::Relaxed);
    let _ = STATE.compare_exchange(INITING, UNINIT, Ordering::Relaxed, Ordering::Relaxed);
}

/// One mapped policy image.
struct Slot {
    image: UnsafeCell<Option<PolicyImage<'static>>>,
    mapping: UnsafeCell<Option<Mapping>>,
    readers: AtomicU32,
}

struct Slots([Slot; 4]);
// SAFETY: a slot's cells are written only by the thread holding SWAPPING, while the slot is
// not CURRENT and has no readers; readers read them only after seeing the slot CURRENT with
// their count raised (see `acquire`), which orders after the writer's release store.
unsafe impl Sync for Slots {}

impl Slot {
    const fn empty() -> Slot {
        Slot {
            image: UnsafeCell::new(None),
            mapping: UnsafeCell::new(None),
            readers: AtomicU32::new(0),
        }
    }
}

static SLOTS: Slots = Slots([const { Slot::empty() }; 4]);
const NO_SLOT: usize = usize::MAX;
static CURRENT: AtomicUsize = AtomicUsize::new(NO_SLOT);
/// The control generation last acted on (mapped, or found broken).
static SEEN: AtomicU64 = AtomicU64::new(0);
static SWAPPING: AtomicBool = AtomicBool::new(false);

/// A read hold on the current policy image; released on drop. Hold it only while reading the
/// image: never across a call that may block.
pub struct PolicyGuard {
    slot: usize,
    /// The image in its slot (not copied). Only reachable through [`PolicyGuard::image`],
    /// whose lifetime is the guard's: the mapping may go once the guard is dropped.
    image: &'static PolicyImage<'static>,
}

impl PolicyGuard {
    /// The image, for as long as the guard is held.
    #[inline]
    pub fn image(&self) -> &PolicyImage<'_> {
        self.image
    }
}

impl Drop for PolicyGuard {
    fn drop(&mut self) {
        release(&SLOTS.0[self.slot].readers);
    }
}

/// Lowers a reader count, never below zero (after a fork from a signal handler inside a hook,
/// the child's counts were reset under a reader).
fn release(readers: &AtomicU32) {
    if readers.fetch_sub(1, Ordering::SeqCst) == 0 {
        readers.fetch_add(1, Ordering::SeqCst);
    }
}

/// The current policy image, after mapping a new generation if the control page shows one.
/// `None`: no readable policy (none written yet, or the file is missing or malformed and
/// there is no earlier one).
#[inline]
pub fn policy(shim: &Shim) -> Option<PolicyGuard> {
    let control = shim.control.as_ref()?;
    let generation = control.generation();
    if generation != SEEN.load(Ordering::Relaxed) {
        swap(shim, generation);
    }
    acquire()
}

fn acquire() -> Option<PolicyGuard> {
    for _ in 0..8 {
        let i = CURRENT.load(Ordering::SeqCst);
        let slot = SLOTS.0.get(i)?;
        slot.readers.fetch_add(1, Ordering::SeqCst);
        if CURRENT.load(Ordering::SeqCst) == i {
            // SAFETY: the slot is current and our count is raised, so no writer touches it
            // until the guard is dropped (see `Slots`); the guard does not outlive that.
            let image: &'static Option<PolicyImage<'static>> = unsafe { &*slot.image.get() };
            if let Some(image) = image {
                return Some(PolicyGuard { slot: i, image });
            }
        }
        release(&slot.readers);
    }
    None
}

#[cold]
fn swap(shim: &Shim, generation: u64) {
    if SWAPPING
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return;
    }
    let mapped = sys::map_file(shim.policy_path(), false, 1, MAX_IMAGE);
    let mapping = match mapped {
        Ok(m) => m,
        Err(_) => {
            shim.bump(Counter::PolicyErrors);
            SEEN.store(generation, Ordering::Relaxed);
            SWAPPING.store(false, Ordering::Release);
            return;
        }
    };
    // SAFETY: the mapping is valid for len bytes and read-only, and is unmapped only through
    // a slot, after no reader holds it (so 'static is never observed past its life).
    let bytes: &'static [u8] = unsafe { std::slice::from_raw_parts(mapping.base, mapping.len) };
    let image = match PolicyImage::new_checked(bytes) {
        Ok(image) => image,
        Err(_) => {
            sys::unmap(mapping);
            shim.bump(Counter::PolicyErrors);
            SEEN.store(generation, Ordering::Relaxed);
            SWAPPING.store(false, Ordering::Release);
            return;
        }
    };
    let current = CURRENT.load(Ordering::SeqCst);
    let free = (0..SLOTS.0.len())
        .find(|&j| j != current && SLOTS.0[j].readers.load(Ordering::SeqCst) == 0);
    match free {
        Some(j) => {
            let slot = &SLOTS.0[j];
            // SAFETY: we hold SWAPPING, slot j is not current and has no readers; a reader
            // that raises its count from now on sees CURRENT != j until the store below and
            // backs off without reading the cells.
            unsafe {
                *slot.image.get() = Some(image);
                if let Some(old) = (*slot.mapping.get()).replace(mapping) {
                    sys::unmap(old);
                }
            }
            CURRENT.store(j, Ordering::SeqCst);
            SEEN.store(generation, Ordering::Relaxed);
            shim.bump(Counter::PolicyLoads);
        }
        // Every other slot is being read (threads blocked mid-hook cannot hold one: guards
        // are dropped before blocking calls). Try again on the next call.
        None => sys::unmap(mapping),
    }
    SWAPPING.store(false, Ordering::Release);
}
