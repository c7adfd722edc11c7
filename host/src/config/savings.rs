//! `[savings]`: how the time an app sleeps is priced (see `crate::savings`).

use crate::savings::Rates;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavingsConfig {
    /// What one app costs per hour awake, unless the app sets its own.
    #[serde(default = "default_hourly_cost", deserialize_with = "non_negative")]
    pub hourly_cost: f64,
    #[serde(default = "default_currency")]
    pub currency: String,
    /// Mean power one container draws, in watts.
    #[serde(default = "default_container_watts", deserialize_with = "non_negative")]
    pub container_watts: f64,
    /// Carbon intensity of the grid, in gCO2 per kWh.
    #[serde(default = "default_grid_gco2_per_kwh", deserialize_with = "non_negative")]
    pub grid_gco2_per_kwh: f64,
}

impl Default for SavingsConfig {
    fn default() -> Self {
        SavingsConfig {
            hourly_cost: default_hourly_cost(),
            currency: default_currency(),
            container_watts: default_container_watts(),
            grid_gco2_per_kwh: default_grid_gco2_per_kwh(),
        }
    }
}

impl SavingsConfig {
    /// The rates of one app, with its own cost and container count if set.
    pub fn rates(&self, hourly_cost: Option<f64>, containers: Option<u32>) -> Rates {
        Rates {
            hourly_cost: hourly_cost.unwrap_or(self.hourly_cost),
            currency: self.currency.clone(),
            containers: containers.unwrap_or(1),
            container_watts: self.container_watts,
            grid_gco2_per_kwh: self.grid_gco2_per_kwh,
        }
    }
}

/// A price, power or intensity: a finite number, zero or more.
pub(super) fn non_negative<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = f64::deserialize(d)?;
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(serde::de::Error::custom(format!("must be a finite number, zero or more (got {value})")))
    }
}

/// The same, for a key that may be omitted.
pub(super) fn non_negative_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    non_negative(d).map(Some)
}

/// About one small PaaS container (512 MiB) a month, per hour.
fn default_hourly_cost() -> f64 {
    0.01
}
fn default_currency() -> String {
    "EUR".to_owned()
}
/// A share of a server's draw for one small container.
fn default_container_watts() -> f64 {
    10.0
}
/// Roughly the EU grid average.
fn default_grid_gco2_per_kwh() -> f64 {
    250.0
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    const BASE: &str = "[server]\nlisten = \"127.0.0.1:0\"\ndomain = \"localhost\"\n";

    #[test]
    fn a_negative_or_nan_price_is_refused_with_its_key_and_line() {
        let err = Config::parse(&format!("{BASE}[savings]\nhourly_cost = -0.5\n"), "p.toml").unwrap_err().to_string();
        assert!(err.contains("savings.hourly_cost") && err.contains("line 5"), "{err}");
        let err =
            Config::parse(&format!("{BASE}[savings]\ngrid_gco2_per_kwh = nan\n"), "p.toml").unwrap_err().to_string();
        assert!(err.contains("savings.grid_gco2_per_kwh"), "{err}");
        let app = "[[apps]]\nname = \"a\"\nbackend = \"process\"\ncommand = [\"x\"]\nhourly_cost = -1.0\n";
        let err = Config::parse(&format!("{BASE}{app}"), "p.toml").unwrap_err().to_string();
        assert!(err.contains("apps[0].hourly_cost") && err.contains("line 8"), "{err}");
        assert!(Config::parse(&format!("{BASE}[savings]\nhourly_cost = 0\n"), "p.toml").is_ok());
    }
}
