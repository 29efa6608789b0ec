//! Token validity as Cognito configures it (cognito-compat §3.5): an integer per token
//! (`AccessTokenValidity`, …) in a [`TimeUnit`] from `TokenValidityUnits`, whose default
//! is hours for access and ID tokens and days for refresh tokens, and whose total must
//! fall in [`ACCESS_TOKEN_LIFETIMES`] (access and ID tokens) or [`REFRESH_TOKEN_LIFETIMES`].

use std::fmt;
use std::ops::RangeInclusive;
use std::time::Duration;

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// Lifetimes Cognito accepts for access and ID tokens: 5 minutes to 1 day.
pub const ACCESS_TOKEN_LIFETIMES: RangeInclusive<Duration> =
    Duration::from_secs(5 * MINUTE)..=Duration::from_secs(DAY);

/// Lifetimes Cognito accepts for refresh tokens: 60 minutes to 10 years (3650 days).
pub const REFRESH_TOKEN_LIFETIMES: RangeInclusive<Duration> =
    Duration::from_secs(HOUR)..=Duration::from_secs(3650 * DAY);

/// The access-token lifetime of a client without `AccessTokenValidity`: one hour.
pub const DEFAULT_ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(HOUR);

/// A unit of `TokenValidityUnits`. Stored and sent as Cognito's lowercase names
/// (`seconds`, `minutes`, `hours`, `days`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    /// `seconds`.
    Seconds,
    /// `minutes`.
    Minutes,
    /// `hours`: Cognito's default for access and ID tokens.
    Hours,
    /// `days`: Cognito's default for refresh tokens.
    Days,
}

/// A unit name Cognito does not define.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown time unit {0:?}: expected seconds, minutes, hours or days")]
pub struct UnknownTimeUnit(String);

impl TimeUnit {
    /// Every unit, shortest first.
    pub const ALL: [Self; 4] = [Self::Seconds, Self::Minutes, Self::Hours, Self::Days];

    /// Cognito's names, in the order of [`TimeUnit::ALL`].
    pub const NAMES: [&'static str; 4] = {
        let mut names = [""; 4];
        let mut i = 0;
        while i < Self::ALL.len() {
            names[i] = Self::ALL[i].as_str();
            i += 1;
        }
        names
    };

    /// The unit of an access or ID token validity when `TokenValidityUnits` names none.
    pub const ACCESS_TOKEN_DEFAULT: Self = Self::Hours;

    /// The unit of a refresh token validity when `TokenValidityUnits` names none.
    pub const REFRESH_TOKEN_DEFAULT: Self = Self::Days;

    /// Reads Cognito's name of a unit (`minutes`); names are case-sensitive, as in Cognito.
    pub fn parse(name: &str) -> Result<Self, UnknownTimeUnit> {
        Self::ALL
            .into_iter()
            .find(|unit| unit.as_str() == name)
            .ok_or_else(|| UnknownTimeUnit(name.chars().take(64).collect()))
    }

    /// Cognito's name of the unit (`minutes`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Seconds => "seconds",
            Self::Minutes => "minutes",
            Self::Hours => "hours",
            Self::Days => "days",
        }
    }

    /// The length of one unit.
    pub const fn length(self) -> Duration {
        Duration::from_secs(match self {
            Self::Seconds => 1,
            Self::Minutes => MINUTE,
            Self::Hours => HOUR,
            Self::Days => DAY,
        })
    }

    /// `value` units as a duration (saturating), `None` for a negative value.
    pub fn duration(self, value: i64) -> Option<Duration> {
        let value = u64::try_from(value).ok()?;
        Some(Duration::from_secs(
            value.saturating_mul(self.length().as_secs()),
        ))
    }
}

impl fmt::Display for TimeUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TimeUnit {
    type Err = UnknownTimeUnit;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::parse(name)
    }
}

impl serde::Serialize for TimeUnit {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for TimeUnit {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl serde::de::Visitor<'_> for Visitor {
            type Value = TimeUnit;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("one of seconds, minutes, hours, days")
            }

            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<TimeUnit, E> {
                // Worded as serde words an unknown enum variant.
                TimeUnit::parse(name).map_err(|_| E::unknown_variant(name, &TimeUnit::NAMES))
            }
        }

        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for unit in TimeUnit::ALL {
            assert_eq!(TimeUnit::parse(unit.as_str()), Ok(unit));
            let json = serde_json::to_string(&unit).unwrap();
            assert_eq!(json, format!("\"{unit}\""));
            assert_eq!(serde_json::from_str::<TimeUnit>(&json).unwrap(), unit);
        }
        assert_eq!(TimeUnit::NAMES, ["seconds", "minutes", "hours", "days"]);
    }

    #[test]
    fn unknown_names_are_refused() {
        for name in ["weeks", "Hours", "", " minutes"] {
            assert!(TimeUnit::parse(name).is_err(), "{name:?}");
        }
        let err = serde_json::from_str::<TimeUnit>("\"weeks\"").unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown variant `weeks`, expected one of `seconds`, `minutes`"),
            "{err}"
        );
    }

    #[test]
    fn durations_multiply_and_saturate() {
        assert_eq!(
            TimeUnit::Minutes.duration(60),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            TimeUnit::Days.duration(1),
            Some(Duration::from_secs(86_400))
        );
        assert_eq!(TimeUnit::Seconds.duration(0), Some(Duration::ZERO));
        assert_eq!(TimeUnit::Hours.duration(-1), None);
        assert_eq!(
            TimeUnit::Days.duration(i64::MAX),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn cognito_ranges() {
        assert!(ACCESS_TOKEN_LIFETIMES.contains(&Duration::from_secs(300)));
        assert!(!ACCESS_TOKEN_LIFETIMES.contains(&Duration::from_secs(299)));
        assert!(ACCESS_TOKEN_LIFETIMES.contains(&Duration::from_secs(86_400)));
        assert!(!ACCESS_TOKEN_LIFETIMES.contains(&Duration::from_secs(86_401)));
        assert_eq!(
            *REFRESH_TOKEN_LIFETIMES.end(),
            Duration::from_secs(315_360_000)
        );
        assert_eq!(TimeUnit::ACCESS_TOKEN_DEFAULT, TimeUnit::Hours);
    }
}
