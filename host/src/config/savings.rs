//! `[savings]`: how the time an app sleeps is priced (see `crate::savings`).

use crate::savings::Rates;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavingsConfig {
    /// What one app costs per hour awake, unless the app sets its own.
    #[serde(default = "default_hourly_cost")]
    pub hourly_cost: f64,
    #[serde(default = "default_currency")]
    pub currency: String,
    /// Mean power one container draws, in watts.
    #[serde(default = "default_container_watts")]
    pub container_watts: f64,
    /// Carbon intensity of the grid, in gCO2 per kWh.
    #[serde(default = "default_grid_gco2_per_kwh")]
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
