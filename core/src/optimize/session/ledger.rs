//! The session's side of the budget: reserving a call's worst case before it is sent,
//! holding and settling reservations, and what running a plan needs at worst.

use super::{Limit, Need, Session, Stop, DEFAULT_MAX_OUTPUT_TOKENS};
use crate::eval::run::Plan;
use crate::optimize::budget::{estimate_prompt_tokens, max_output_tokens, worst_cost};

impl Session<'_> {
    pub(super) fn stop(&self, limit: Limit, why: String) -> Stop {
        let mut stopped = self.stopped.lock().unwrap_or_else(|p| p.into_inner());
        stopped.get_or_insert(limit);
        if limit == Limit::Cancelled {
            Stop::Cancelled
        } else {
            Stop::Budget(why)
        }
    }

    /// Whether the run was cancelled.
    pub fn check_budget(&self) -> Result<(), Stop> {
        if self.cancel.is_cancelled() {
            return Err(self.stop(Limit::Cancelled, String::new()));
        }
        Ok(())
    }

    /// Reserves `need` against the budget, atomically: `Err` (and nothing reserved) when
    /// the calls settled, those in flight and these would go over a ceiling. A need of no
    /// call (every answer cached) always fits.
    pub(in crate::optimize) fn reserve(&self, need: Need) -> Result<(), Stop> {
        self.check_budget()?;
        if need.calls == 0 {
            return Ok(());
        }
        let mut ledger = self.ledger.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(max) = self.budget.max_calls {
            let after = ledger.calls + ledger.held.calls + need.calls;
            if after > max {
                let made = ledger.calls;
                drop(ledger);
                return Err(self.stop(
                    Limit::MaxCalls,
                    format!(
                        "max-calls reached after {made} calls ({} more needed, --max-calls {max})",
                        need.calls
                    ),
                ));
            }
        }
        if let Some(max) = self.budget.max_cost {
            let after = ledger.cost + ledger.held.cost + need.cost;
            if after > max + 1e-12 {
                let spent = ledger.cost;
                drop(ledger);
                return Err(self.stop(
                    Limit::MaxCost,
                    format!(
                        "max-cost reached after ${spent:.4} (${:.4} more at worst, --max-cost {max})",
                        need.cost
                    ),
                ));
            }
        }
        ledger.held.add(need);
        Ok(())
    }

    /// Holds `need` back for a later call (the final scoring of a result not yet scored);
    /// `false` when it does not fit.
    pub fn hold(&self, need: Need) -> bool {
        self.reserve(need).is_ok()
    }

    /// Gives back what `hold` held.
    pub fn release(&self, need: Need) {
        self.settle(need, 0, 0.0);
    }

    /// Replaces the reservation `held` by what the calls really made and cost.
    pub(super) fn settle(&self, held: Need, calls: u64, cost: f64) {
        if held.calls == 0 && calls == 0 {
            return;
        }
        let mut ledger = self.ledger.lock().unwrap_or_else(|p| p.into_inner());
        ledger.held.calls = ledger.held.calls.saturating_sub(held.calls);
        ledger.held.cost = (ledger.held.cost - held.cost).max(0.0);
        ledger.calls += calls;
        ledger.cost += cost;
    }

    /// What running `plan` needs at worst: a call for each row without a cached answer
    /// (at its rendered prompt and the config's output tokens) and, with a judge, a
    /// judge call for each row.
    pub fn needs(&self, plan: &Plan) -> Need {
        self.needs_of(plan, true)
    }

    /// As `needs`, as if nothing were cached when `cached` is false.
    pub fn needs_of(&self, plan: &Plan, cached: bool) -> Need {
        let mut need = Need::default();
        let judge = match &plan.scoring {
            crate::eval::run::Scoring::Judge { model, .. } => Some(self.config.price(model)),
            _ => None,
        };
        let price = self.config.price(&plan.model);
        let requests: Vec<_> = plan
            .rows
            .iter()
            .filter_map(|r| plan.request(r).ok())
            .collect();
        let keys: Vec<String> = requests
            .iter()
            .map(|r| crate::llm::cache::key(&plan.provider.name, r))
            .collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let hits = if cached {
            self.client.cached_many(&refs)
        } else {
            vec![None; refs.len()]
        };
        for (request, hit) in requests.iter().zip(hits) {
            let prompt = estimate_prompt_tokens(&request.messages);
            let output = max_output_tokens(&request.config);
            if hit.is_none() {
                need.add(Need {
                    calls: 1,
                    cost: worst_cost(price, prompt, output),
                });
            }
            if let Some(judge_price) = judge {
                // The judge reads the row, the answer and its rubric.
                need.add(Need {
                    calls: 1,
                    cost: worst_cost(
                        judge_price,
                        prompt + output + 400,
                        DEFAULT_MAX_OUTPUT_TOKENS,
                    ),
                });
            }
        }
        need
    }
}
