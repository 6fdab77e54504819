//! The threads precis's decoder-step kernels (`engine::kernels`) run on: the calling thread and
//! one helper thread that, while a decoding runs, waits for work by spinning instead of sleeping.
//!
//! Why: a decoder step makes ~43 kernel calls, each a fraction of a millisecond of work. Handing
//! each to rayon's pool from outside it cost 25–90 µs (the pool's threads sleep between calls,
//! and the caller sleeps until they finish), 1–4 ms of a 22 ms step. Here a call is posted with
//! two atomic stores, the helper starts within a microsecond, and both threads take parts from
//! one counter until none are left.
//!
//! The caller never waits for a helper that has not started: if the caller runs out of parts
//! before the helper claimed the call, the caller cancels the helper's share and returns (so a
//! descheduled helper on a busy machine costs nothing but its share of the speed-up). Outside
//! decodings (`Session`s) the helper sleeps; two decodings at once share it, one call at a time,
//! and a call that finds it busy runs on its own thread.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread::Thread;

/// A call's work: `run(part)` for every part in `0..parts`, callable from both threads at once.
type Work<'a> = &'a (dyn Fn(usize) + Sync);

struct Helper {
    thread: Thread,
    /// Decodings running now; the helper spins only while this is above zero.
    sessions: AtomicUsize,
    /// Held by the thread whose call the helper may join (one call at a time).
    busy: AtomicBool,
    /// Number of the latest call posted (starts at 0: none).
    posted: AtomicU64,
    /// Number of the latest call claimed, by the helper (to join it) or by its caller (to cancel
    /// the helper's share). A call is claimed exactly once.
    claimed: AtomicU64,
    /// Number of the latest call the helper finished its share of.
    finished: AtomicU64,
    next_part: AtomicUsize,
    /// Set by the helper when a part panicked there; the caller then panics in turn.
    panicked: AtomicBool,
    /// The posted call's work, valid from its `posted` store until its caller returns.
    work: UnsafeCell<Option<(Work<'static>, usize)>>,
}

// SAFETY: `work` is written only by the thread holding `busy`, before it publishes the call with a
// release store to `posted`; the helper reads it only after an acquire load of `posted` and a
// successful claim, and the caller does not return (nor write `work` again) until the helper has
// finished that call (`finished`) or the claim went to the caller.
unsafe impl Sync for Helper {}

static HELPER: OnceLock<Option<&'static Helper>> = OnceLock::new();

fn helper() -> Option<&'static Helper> {
    *HELPER.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel::<&'static Helper>();
        let spawned = std::thread::Builder::new().name("precis-kernel".into()).spawn(move || {
            if let Ok(helper) = receiver.recv() {
                helper_loop(helper);
            }
        });
        let thread = spawned.ok()?.thread().clone();
        let helper: &'static Helper = Box::leak(Box::new(Helper {
            thread,
            sessions: AtomicUsize::new(0),
            busy: AtomicBool::new(false),
            posted: AtomicU64::new(0),
            claimed: AtomicU64::new(0),
            finished: AtomicU64::new(0),
            next_part: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            work: UnsafeCell::new(None),
        }));
        sender.send(helper).ok()?;
        Some(helper)
    })
}

fn helper_loop(helper: &'static Helper) {
    let mut idle_spins = 0u32;
    loop {
        if helper.sessions.load(Ordering::Acquire) == 0 {
            std::thread::park();
            continue;
        }
        let call = helper.posted.load(Ordering::Acquire);
        if call != helper.finished.load(Ordering::Relaxed)
            && helper.claimed.compare_exchange(call - 1, call, Ordering::AcqRel, Ordering::Relaxed).is_ok()
        {
            // SAFETY: see `unsafe impl Sync for Helper`: the claim succeeded, so the caller waits
            // for `finished` before its work goes away.
            if let Some((work, parts)) = unsafe { *helper.work.get() } {
                // A panic here must not leave the caller waiting: it is reported to the caller.
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| take_parts(helper, work, parts))).is_err() {
                    helper.panicked.store(true, Ordering::Release);
                }
            }
            helper.finished.store(call, Ordering::Release);
            idle_spins = 0;
        } else {
            idle_spins = idle_spins.saturating_add(1);
            // Polite on a busy machine: after 20,000 spins without work, give the core away now and then.
            if idle_spins > 20_000 {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }
}

fn take_parts(helper: &Helper, work: Work<'_>, parts: usize) {
    loop {
        let part = helper.next_part.fetch_add(1, Ordering::AcqRel);
        if part >= parts {
            return;
        }
        work(part);
    }
}

/// Held for the length of a decoding: the helper thread spins for work meanwhile.
pub struct Session(&'static Helper);

impl Session {
    /// `None` where no helper thread could be started (calls then run on the calling thread).
    pub fn start() -> Option<Session> {
        let helper = helper()?;
        if helper.sessions.fetch_add(1, Ordering::AcqRel) == 0 {
            helper.thread.unpark();
        }
        Some(Session(helper))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.0.sessions.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs `work(part)` for every part in `0..parts`, on this thread and, during a decoding, the
/// helper thread; returns when every part has run.
pub fn for_each_part(parts: usize, work: &(dyn Fn(usize) + Sync)) {
    let helper = match helper() {
        Some(helper) if parts > 1 && helper.sessions.load(Ordering::Acquire) > 0 => helper,
        _ => return (0..parts).for_each(work),
    };
    if helper.busy.swap(true, Ordering::Acquire) {
        return (0..parts).for_each(work);
    }
    // SAFETY: the lifetime is erased only for the helper's use of `work`, which ends before this
    // function returns (see `unsafe impl Sync for Helper`).
    let erased: Work<'static> = unsafe { std::mem::transmute::<Work<'_>, Work<'static>>(work) };
    unsafe { *helper.work.get() = Some((erased, parts)) };
    helper.next_part.store(0, Ordering::Release);
    let call = helper.posted.load(Ordering::Relaxed) + 1;
    helper.posted.store(call, Ordering::Release);
    take_parts(helper, work, parts);
    // Either cancel the helper's share (it has not started) or wait for it to finish.
    if helper.claimed.compare_exchange(call - 1, call, Ordering::AcqRel, Ordering::Acquire).is_err() {
        while helper.finished.load(Ordering::Acquire) != call {
            std::hint::spin_loop();
        }
    } else {
        helper.finished.store(call, Ordering::Release);
    }
    unsafe { *helper.work.get() = None };
    let panicked = helper.panicked.swap(false, Ordering::AcqRel);
    helper.busy.store(false, Ordering::Release);
    if panicked {
        panic!("a part of a decoder-step kernel panicked on precis's kernel thread");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn every_part_runs_once_with_and_without_a_session() {
        for with_session in [false, true] {
            let _session = with_session.then(Session::start).flatten();
            for parts in [0, 1, 2, 7, 100] {
                let counts: Vec<Mutex<u32>> = (0..parts).map(|_| Mutex::new(0)).collect();
                for_each_part(parts, &|part| {
                    if let Ok(mut count) = counts[part].lock() {
                        *count += 1;
                    }
                });
                assert!(counts.iter().all(|c| c.lock().map(|c| *c == 1).unwrap_or(false)), "parts {parts}, session {with_session}");
            }
        }
    }

    #[test]
    fn concurrent_callers_each_get_all_their_parts() {
        let _session = Session::start();
        std::thread::scope(|scope| {
            for _ in 0..3 {
                scope.spawn(|| {
                    for _ in 0..200 {
                        let total = AtomicUsize::new(0);
                        for_each_part(16, &|part| {
                            total.fetch_add(part + 1, Ordering::Relaxed);
                        });
                        assert_eq!(total.load(Ordering::Relaxed), 16 * 17 / 2);
                    }
                });
            }
        });
    }
}
