//! Bar resolutions by name. The generated type mirrors the spec's two enums (sub-month and
//! month, split because the wire spells a minute `1m` and a month `1M`), which reads
//! `types::Resolution::SubMonthResolution(types::SubMonthResolutionString::X1m.into())`;
//! [`Resolution::Minute`] is the same value.

use crate::types;
use std::fmt;
use std::str::FromStr;

/// The width of one bar of [`Session::history`](crate::Session::history).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Resolution {
    Minute,
    FiveMinutes,
    FifteenMinutes,
    ThirtyMinutes,
    Hour,
    FourHours,
    Day,
    Week,
    Month,
}

impl Resolution {
    /// Every resolution the API documents, shortest first.
    pub const ALL: [Resolution; 9] = [
        Self::Minute,
        Self::FiveMinutes,
        Self::FifteenMinutes,
        Self::ThirtyMinutes,
        Self::Hour,
        Self::FourHours,
        Self::Day,
        Self::Week,
        Self::Month,
    ];

    /// The wire spelling (`1m`, `5m`, … `1W`, `1M`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Minute => "1m",
            Self::FiveMinutes => "5m",
            Self::FifteenMinutes => "15m",
            Self::ThirtyMinutes => "30m",
            Self::Hour => "1H",
            Self::FourHours => "4H",
            Self::Day => "1D",
            Self::Week => "1W",
            Self::Month => "1M",
        }
    }

    /// The length of one bar in milliseconds; `None` for a month, whose length varies.
    pub fn bar_millis(self) -> Option<i64> {
        const MINUTE: i64 = 60_000;
        Some(match self {
            Self::Minute => MINUTE,
            Self::FiveMinutes => 5 * MINUTE,
            Self::FifteenMinutes => 15 * MINUTE,
            Self::ThirtyMinutes => 30 * MINUTE,
            Self::Hour => 60 * MINUTE,
            Self::FourHours => 240 * MINUTE,
            Self::Day => 1_440 * MINUTE,
            Self::Week => 10_080 * MINUTE,
            Self::Month => return None,
        })
    }
}

impl fmt::Display for Resolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Not one of the documented resolutions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown resolution {0:?} (one of 1m, 5m, 15m, 30m, 1H, 4H, 1D, 1W, 1M)")]
pub struct UnknownResolution(pub String);

impl FromStr for Resolution {
    type Err = UnknownResolution;
    /// The wire spelling, case-sensitive as on the wire (`1m` is a minute, `1M` a month).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownResolution(s.to_owned()))
    }
}

impl From<Resolution> for types::Resolution {
    fn from(r: Resolution) -> Self {
        use types::SubMonthResolutionString as S;
        let sub = |s: S| types::Resolution::SubMonthResolution(s.into());
        match r {
            Resolution::Minute => sub(S::X1m),
            Resolution::FiveMinutes => sub(S::X5m),
            Resolution::FifteenMinutes => sub(S::X15m),
            Resolution::ThirtyMinutes => sub(S::X30m),
            Resolution::Hour => sub(S::X1h),
            Resolution::FourHours => sub(S::X4h),
            Resolution::Day => sub(S::X1d),
            Resolution::Week => sub(S::X1w),
            Resolution::Month => types::Resolution::MonthResolution(types::MonthResolution::X1m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_name_is_its_wire_value() {
        for r in Resolution::ALL {
            let generated: types::Resolution = r.into();
            // The generated type writes the wire value: the same text as ours.
            assert_eq!(
                serde_json::to_value(&generated).unwrap(),
                r.as_str(),
                "{r:?}"
            );
            assert_eq!(r.as_str().parse::<Resolution>(), Ok(r));
        }
        assert_eq!(Resolution::Minute.bar_millis(), Some(60_000));
        assert_eq!(Resolution::Week.bar_millis(), Some(604_800_000));
        assert_eq!(Resolution::Month.bar_millis(), None);
        assert!(
            "1h".parse::<Resolution>().is_err(),
            "the wire's case matters"
        );
    }
}
