//! An optimization's budget: the calls and spend it may make (`--max-calls`,
//! `--max-cost`), the worst case each call is reserved at before it is sent, the
//! per-model accounting, and `Attempts`, which asks the budget before every HTTP attempt.

use std::sync::Mutex;

use serde::Serialize;

use super::session::{Session, Stop};
use crate::llm::client::{Declined, Reserve};
use crate::llm::provider::Provider;
use crate::llm::wire::ChatRequest;

/// Calls and spend of one model in one role.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Usage {
    pub role: String,
    pub calls: u64,
    pub cache_hits: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
}

/// Limits on a run: ceilings on every model call of it (task, teacher, judge; the
/// scoring before and after included), counted in HTTP attempts, retries included. A
/// call is reserved at its worst-case cost before it is sent, each retry before it is
/// sent too, and settled at its real cost when the answer comes; the optimizer stops
/// (keeping its best so far) when a call no longer fits.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Budget {
    pub max_calls: Option<u64>,
    pub max_cost: Option<f64>,
}

/// Output tokens a call is assumed to use at worst when its config sets no
/// `maxOutputTokens` (or `max_tokens`).
pub const DEFAULT_MAX_OUTPUT_TOKENS: u64 = 1024;

/// What some calls need at worst: their count and their cost in US dollars.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Need {
    pub calls: u64,
    pub cost: f64,
}

impl Need {
    pub(super) fn add(&mut self, other: Need) {
        self.calls += other.calls;
        self.cost += other.cost;
    }
}

/// Calls and spend settled, and reserved for calls in flight.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    pub(super) calls: u64,
    pub(super) cost: f64,
    pub(super) held: Need,
}

/// Prompt tokens at most for messages: a token is at least a byte for the usual
/// tokenizers, but at a third of the characters plus a few per message it is a
/// generous bound for text.
pub fn estimate_prompt_tokens(messages: &[serde_json::Value]) -> u64 {
    fn chars(v: &serde_json::Value) -> u64 {
        match v {
            serde_json::Value::String(s) => s.chars().count() as u64,
            serde_json::Value::Array(a) => a.iter().map(chars).sum(),
            serde_json::Value::Object(m) => m.values().map(chars).sum(),
            _ => 0,
        }
    }
    messages
        .iter()
        .map(|m| chars(m).div_ceil(3) + 4)
        .sum::<u64>()
        .max(1)
}

/// The output tokens a request's config allows (`maxOutputTokens`, `max_tokens`,
/// `maxTokens`), else `DEFAULT_MAX_OUTPUT_TOKENS`.
pub fn max_output_tokens(config: &serde_json::Map<String, serde_json::Value>) -> u64 {
    [
        "maxOutputTokens",
        "max_tokens",
        "maxTokens",
        "max_output_tokens",
    ]
    .iter()
    .find_map(|k| config.get(*k).and_then(serde_json::Value::as_u64))
    .unwrap_or(DEFAULT_MAX_OUTPUT_TOKENS)
}

pub(super) fn worst_cost(
    price: Option<crate::catalog::Price>,
    prompt: u64,
    completion: u64,
) -> f64 {
    price.map_or(0.0, |p| {
        (prompt as f64 * p.input + completion as f64 * p.output) / 1_000_000.0
    })
}

/// Which budget stopped a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Limit {
    #[serde(rename = "max-calls")]
    MaxCalls,
    #[serde(rename = "max-cost")]
    MaxCost,
    #[serde(rename = "cancelled")]
    Cancelled,
}

impl Limit {
    pub fn name(self) -> &'static str {
        match self {
            Limit::MaxCalls => "max-calls",
            Limit::MaxCost => "max-cost",
            Limit::Cancelled => "cancelled",
        }
    }
}

/// The budget of one `Session::run` or teacher question, asked before every HTTP attempt:
/// first attempts were reserved with it, others (retries, the final round) are reserved
/// one at a time. Once one is refused, no attempt of it goes any more.
pub(super) struct Attempts<'s, 'a> {
    session: &'s Session<'a>,
    /// Reserved here, beyond the reservation made in advance.
    extra: Mutex<Need>,
    /// Why an attempt was refused, once one was.
    refused: Mutex<Option<Stop>>,
}

impl<'s, 'a> Attempts<'s, 'a> {
    pub(super) fn new(session: &'s Session<'a>) -> Attempts<'s, 'a> {
        Attempts {
            session,
            extra: Mutex::new(Need::default()),
            refused: Mutex::new(None),
        }
    }

    pub(super) fn extra(&self) -> Need {
        *self.extra.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn refused(&self) -> Option<Stop> {
        self.refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Reserve for Attempts<'_, '_> {
    fn attempt(
        &self,
        provider: &Provider,
        request: &ChatRequest,
        reserved: bool,
    ) -> Result<(), Declined> {
        let mut refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(stop) = refused.as_ref() {
            // The run is over budget: what it still sends would be thrown away.
            return Err(Declined::new(stop.clone()));
        }
        if reserved {
            return Ok(());
        }
        let model = format!("{}/{}", provider.name, request.model);
        let need = Need {
            calls: 1,
            cost: worst_cost(
                self.session.config.price(&model),
                estimate_prompt_tokens(&request.messages),
                max_output_tokens(&request.config),
            ),
        };
        match self.session.reserve(need) {
            Ok(()) => {
                self.extra
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .add(need);
                Ok(())
            }
            Err(stop) => {
                *refused = Some(stop.clone());
                Err(Declined::new(stop))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_worst_case_of_a_call_bounds_the_usual_token_counts() {
        let messages = vec![
            json!({"role": "system", "content": [{"text": "Classify the sentiment of the review."}]}),
            json!({"role": "user", "content": [{"text": "I love this lamp, it works perfectly."}]}),
        ];
        let estimate = estimate_prompt_tokens(&messages);
        // Characters over four is the usual count; the estimate is above it.
        let chars = 37 + 37 + "system".len() + "user".len();
        assert!(estimate as usize >= chars / 4 + 2, "{estimate}");
        let mut config = serde_json::Map::new();
        assert_eq!(max_output_tokens(&config), DEFAULT_MAX_OUTPUT_TOKENS);
        config.insert("maxOutputTokens".into(), json!(64));
        assert_eq!(max_output_tokens(&config), 64);
        let price = crate::catalog::Price {
            input: 1.0,
            output: 2.0,
        };
        assert!((worst_cost(Some(price), 1000, 500) - 0.002).abs() < 1e-12);
        assert_eq!(worst_cost(None, 1000, 500), 0.0);
    }
}
