//! The clock, injected everywhere time matters so tests can move it.
//!
//! Direct calls to `SystemTime::now` are banned outside this module (see `clippy.toml`).

use std::fmt::Debug;
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current wall-clock time.
pub trait Clock: Debug + Send + Sync + 'static {
    /// Now.
    fn now(&self) -> SystemTime;

    /// Now, in whole seconds since the Unix epoch (the unit of JWT time claims).
    fn unix_seconds(&self) -> u64 {
        unix_seconds(self.now())
    }
}

/// Whole seconds since the Unix epoch; times before it count as 0.
pub fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // The one place allowed to read the real clock.
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

#[cfg(feature = "test-util")]
pub use manual::ManualClock;

#[cfg(feature = "test-util")]
mod manual {
    use super::*;
    use std::sync::{Arc, Mutex, PoisonError};
    use std::time::Duration;

    /// A clock that only moves when told to. Clones share the same time.
    #[derive(Debug, Clone)]
    pub struct ManualClock(Arc<Mutex<SystemTime>>);

    impl ManualClock {
        /// A clock set to `start`.
        pub fn new(start: SystemTime) -> Self {
            Self(Arc::new(Mutex::new(start)))
        }

        /// A clock set to this many seconds after the Unix epoch.
        pub fn at_unix(seconds: u64) -> Self {
            Self::new(UNIX_EPOCH + Duration::from_secs(seconds))
        }

        /// Moves the clock forward.
        pub fn advance(&self, by: Duration) {
            let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            *now += by;
        }

        /// Sets the clock.
        pub fn set(&self, to: SystemTime) {
            *self.0.lock().unwrap_or_else(PoisonError::into_inner) = to;
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> SystemTime {
            *self.0.lock().unwrap_or_else(PoisonError::into_inner)
        }
    }
}
