//! One app's params, read and checked together.

use std::time::Duration;

use paastis_sdk::{ParamError, ParamValue, Params, PolicyError};

use crate::schedule::Schedule;

pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
pub const DEFAULT_OFF_HOURS_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// What happens to an app outside opening hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffHours {
    /// Requests still wake it; it goes back to sleep after a short idle.
    Sleep,
    /// Requests are refused with a 503 saying when it opens.
    Refuse,
}

const OFF_HOURS: &str = "\"sleep\" or \"refuse\"";

impl OffHours {
    pub fn from_params(params: &Params) -> Result<OffHours, PolicyError> {
        let Some(value) = params.get("off_hours") else {
            return Ok(OffHours::Sleep);
        };
        match value {
            ParamValue::Text(s) if s.trim().eq_ignore_ascii_case("sleep") => Ok(OffHours::Sleep),
            ParamValue::Text(s) if s.trim().eq_ignore_ascii_case("refuse") => Ok(OffHours::Refuse),
            other => Err(ParamError::mismatch("off_hours", OFF_HOURS, other).into()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub schedule: Schedule,
    pub idle_timeout: Duration,
    pub off_hours: OffHours,
    pub off_hours_idle_timeout: Duration,
    /// Zero when prewarming is off.
    pub prewarm: Duration,
}

impl Settings {
    pub fn from_params(params: &Params) -> Result<Settings, PolicyError> {
        Ok(Settings {
            schedule: Schedule::from_params(params)?,
            idle_timeout: params.duration_or("idle_timeout", DEFAULT_IDLE_TIMEOUT)?,
            off_hours: OffHours::from_params(params)?,
            off_hours_idle_timeout: params.duration_or("off_hours_idle_timeout", DEFAULT_OFF_HOURS_IDLE_TIMEOUT)?,
            prewarm: params.duration_or("prewarm", Duration::ZERO)?,
        })
    }
}
