//! The `paastis` binary: `paastis::main` (`cli::main`), on jemalloc.

/// jemalloc rather than glibc's malloc: glibc keeps one arena per worker
/// thread, each holding on to the free memory of its last burst (a tick over
/// 10,000 apps, a wake), which made a third of an idle gateway's RSS. The
/// supervisors and the demo app run this binary too, and so this allocator.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read at its first allocation (before `main`): two
/// arenas whatever the number of cores, free pages handed back to the kernel
/// after a second (`dirty_decay_ms`) and at once past that (`muzzy_decay_ms:0`:
/// no lazy second stage that the kernel would count as resident). The
/// `_RJEM_MALLOC_CONF` environment variable still adds to them.
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static MALLOC_CONF: Option<&'static std::ffi::c_char> =
    Some(unsafe { &*c"narenas:2,dirty_decay_ms:1000,muzzy_decay_ms:0".as_ptr() });

fn main() -> std::process::ExitCode {
    paastis::main()
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    /// An option jemalloc does not know is only a warning on stderr at start.
    fn option<T: Default>(name: &CStr) -> T {
        let mut value = T::default();
        let mut len = size_of::<T>();
        // SAFETY: `value` is a `T` of `len` bytes, the type the option has.
        let read = unsafe {
            tikv_jemalloc_sys::mallctl(name.as_ptr(), (&raw mut value).cast(), &mut len, std::ptr::null_mut(), 0)
        };
        assert_eq!((read, len), (0, size_of::<T>()), "{name:?}");
        value
    }

    #[test]
    fn jemalloc_runs_with_the_options_compiled_in() {
        assert_eq!(option::<u32>(c"opt.narenas"), 2);
        assert_eq!(option::<isize>(c"opt.dirty_decay_ms"), 1000);
        assert_eq!(option::<isize>(c"opt.muzzy_decay_ms"), 0);
    }
}
