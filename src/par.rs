//! Independent work side by side, only when there is enough of it to pay for a thread: a small
//! spec is checked on one thread, since starting threads would cost more than it saves.

use std::sync::OnceLock;

/// From this many federations on, the plan's parts and the spec-wide checks run side by side.
pub(crate) const MANY_FEDERATIONS: usize = 500;

/// From a spec of this many bytes on, loading it and compiling the schema run side by side.
pub(crate) const LARGE_SPEC_BYTES: usize = 16 * 1024;

/// The cores this process may use, read once (the standard library reads the cgroup files on
/// every call).
pub(crate) fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
}

/// How many threads to split `items` things into so that each gets at least `per_thread`: one
/// for little work, never more than the cores.
pub(crate) fn threads_for(items: usize, per_thread: usize) -> usize {
    cores().min(items / per_thread.max(1)).max(1)
}

/// Runs `a` and `b`, side by side when `worth` is true (`b` on a scoped thread), else one after
/// the other; a panic in either is passed on as the caller's.
pub(crate) fn join<A, B: Send>(
    worth: bool,
    a: impl FnOnce() -> A,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    if !worth || cores() == 1 {
        let a = a();
        return (a, b());
    }
    std::thread::scope(|scope| {
        let b = scope.spawn(b);
        let a = a();
        (a, wait(b))
    })
}

/// Drops `value` on a thread of its own when `worth` is true, so that freeing a large structure
/// is off the caller's path. The process may end before the thread does: its memory is returned
/// all the same.
pub(crate) fn drop_aside<T: Send + 'static>(worth: bool, value: T) {
    if worth && cores() > 1 {
        std::thread::spawn(move || drop(value));
    } else {
        drop(value);
    }
}

/// `f` of every item, in the items' order, on up to [`cores`] threads that take the next item as
/// they finish one (items of uneven cost stay balanced); on this thread alone when there are
/// fewer than `per_thread` items per thread to share.
pub(crate) fn map<T: Sync, R: Send>(
    items: &[T],
    per_thread: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    map_on(threads_for(items.len(), per_thread), items, f)
}

/// [`map`] on `threads` threads, this one among them (what it allocates reuses what it freed
/// before, where a new thread would take fresh pages).
pub(crate) fn map_on<T: Sync, R: Send>(
    threads: usize,
    items: &[T],
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let worker = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(item) = items.get(i) else {
                return done;
            };
            done.push((i, f(item)));
        }
    };
    let mut results: Vec<(usize, R)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..threads).map(|_| scope.spawn(worker)).collect();
        let mut results = worker();
        results.extend(handles.into_iter().flat_map(wait));
        results
    });
    results.sort_unstable_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// The result of a scoped thread, its panic passed on as the caller's.
pub(crate) fn wait<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_halves_run_and_keep_their_places_either_way() {
        for worth in [false, true] {
            assert_eq!(join(worth, || 1, || "two"), (1, "two"));
        }
    }

    #[test]
    #[should_panic(expected = "from the thread")]
    fn a_panic_on_the_thread_is_the_callers() {
        join(true, || (), || panic!("from the thread"));
    }

    #[test]
    fn a_value_dropped_aside_is_dropped_either_way() {
        struct Signal(std::sync::mpsc::Sender<()>);
        impl Drop for Signal {
            fn drop(&mut self) {
                let _ = self.0.send(());
            }
        }
        for worth in [false, true] {
            let (sender, receiver) = std::sync::mpsc::channel();
            drop_aside(worth, Signal(sender));
            assert!(
                receiver
                    .recv_timeout(std::time::Duration::from_secs(10))
                    .is_ok()
            );
        }
    }

    #[test]
    fn map_keeps_the_items_order_on_one_thread_or_several() {
        let items: Vec<usize> = (0..1000).collect();
        let squares: Vec<usize> = items.iter().map(|i| i * i).collect();
        for per_thread in [1, 10_000] {
            assert_eq!(map(&items, per_thread, |i| i * i), squares);
        }
        assert!(map(&Vec::<usize>::new(), 1, |i| *i).is_empty());
    }

    #[test]
    fn little_work_gets_one_thread_and_much_no_more_than_the_cores() {
        assert_eq!(threads_for(0, 1000), 1);
        assert_eq!(threads_for(999, 1000), 1);
        assert_eq!(threads_for(1_000_000, 1000), cores());
        assert_eq!(threads_for(5, 0), cores().min(5));
    }
}
