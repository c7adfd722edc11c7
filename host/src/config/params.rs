//! Policy params: any TOML scalar or list of strings, handed to the policy as
//! typed values. Nested tables are refused here, at load time, rather than
//! surprising the policy later.

use crate::policy::model::{ParamValue, Params};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use toml::Spanned;

#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct ConfigParams {
    pub values: Params,
    /// Where each param is written, to point at it when the policy refuses it.
    pub spans: BTreeMap<String, Range<usize>>,
}

struct ParamVisitor;

impl<'de> Visitor<'de> for ParamVisitor {
    type Value = ParamValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, an integer, a float, a boolean or a list of strings")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<ParamValue, E> {
        Ok(ParamValue::Text(v.to_owned()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<ParamValue, E> {
        Ok(ParamValue::Integer(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<ParamValue, E> {
        i64::try_from(v).map(ParamValue::Integer).map_err(|_| E::custom(format!("integer {v} is too large")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<ParamValue, E> {
        Ok(ParamValue::Float(v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<ParamValue, E> {
        Ok(ParamValue::Boolean(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ParamValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<String>()? {
            items.push(item);
        }
        Ok(ParamValue::TextList(items))
    }
}

struct Param(ParamValue);

impl<'de> serde::Deserialize<'de> for Param {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ParamVisitor).map(Param)
    }
}

impl<'de> serde::Deserialize<'de> for ConfigParams {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TableVisitor;
        impl<'de> Visitor<'de> for TableVisitor {
            type Value = ConfigParams;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table of policy params")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ConfigParams, A::Error> {
                let mut params = ConfigParams::default();
                while let Some((key, value)) = map.next_entry::<String, Spanned<Param>>()? {
                    params.spans.insert(key.clone(), value.span());
                    params.values.insert(key, value.into_inner().0);
                }
                Ok(params)
            }
        }
        d.deserialize_map(TableVisitor)
    }
}
