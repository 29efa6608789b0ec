//! One malloc arena for the servers (`s2s up`, `s2s serve`), which keeps their memory
//! under load about 8 MiB lower (BENCHMARKS.md, "Overload").
//!
//! glibc's malloc gives each thread that allocates its own arena, up to eight per core, and
//! memory freed into an arena serves only that arena. The servers' threads — the tokio
//! workers, the signing threads of the time, one thread per SQLite connection — each
//! filled an arena of their own under load: at 512 connections the token endpoint peaked
//! at ~40 MiB with the default and ~32 MiB with `MALLOC_ARENA_MAX=1` (two arenas helped
//! nothing: the two tokio workers, which allocate nearly everything, still had one each).
//! Per-thread caches (tcache) keep most small allocations off the shared arena's lock.
//!
//! The setting is read by glibc when the process starts, and the workspace forbids the
//! `unsafe` that `mallopt` needs: so the server re-executes itself, once, with
//! `MALLOC_ARENA_MAX=1` in its environment (same process id, same arguments, same open
//! descriptors). An operator who sets `MALLOC_ARENA_MAX` (or `GLIBC_TUNABLES`) keeps their
//! own setting and no re-execution happens. Other C libraries ignore the variable.

use std::ffi::OsString;

/// The variable glibc reads at start.
const ARENA_MAX: &str = "MALLOC_ARENA_MAX";

/// Re-executes the process with one malloc arena unless the environment already says how
/// many (see the module docs). Returns only if it did not re-execute: not Linux with glibc,
/// the variable already set, or the executable not found (the server then runs with
/// glibc's default, which is only a matter of memory).
pub(crate) fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt as _;

        if !should_reexec(|name| std::env::var_os(name)) {
            return;
        }
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        // `exec` returns only on failure; the server then starts as it is.
        let _failed = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env(ARENA_MAX, "1")
            .exec();
    }
}

/// Whether to re-execute: neither `MALLOC_ARENA_MAX` nor a `GLIBC_TUNABLES` malloc setting
/// is given (either means the operator chose, and re-executing with it set ends the loop).
#[cfg_attr(not(all(target_os = "linux", target_env = "gnu")), allow(dead_code))]
fn should_reexec(var: impl Fn(&str) -> Option<OsString>) -> bool {
    let tuned = var("GLIBC_TUNABLES")
        .is_some_and(|tunables| tunables.to_string_lossy().contains("glibc.malloc.arena"));
    var(ARENA_MAX).is_none() && !tuned
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            vars.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn re_executes_only_when_the_operator_did_not_choose() {
        assert!(should_reexec(env(&[])));
        assert!(should_reexec(env(&[(
            "GLIBC_TUNABLES",
            "glibc.rtld.nns=2"
        )])));
        // Set by the re-execution itself, or by the operator: never again.
        assert!(!should_reexec(env(&[("MALLOC_ARENA_MAX", "1")])));
        assert!(!should_reexec(env(&[("MALLOC_ARENA_MAX", "8")])));
        assert!(!should_reexec(env(&[(
            "GLIBC_TUNABLES",
            "glibc.malloc.arena_max=4"
        )])));
    }
}
