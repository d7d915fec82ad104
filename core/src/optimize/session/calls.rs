//! The session's model calls: a plan run within the budget, and a question put to the
//! teacher, each with its usage recorded.

use super::{Limit, Need, Session, Stop};
use crate::eval::run::{self, Plan, Report};
use crate::optimize::budget::{estimate_prompt_tokens, max_output_tokens, worst_cost, Attempts};

impl Session<'_> {
    /// Runs `plan` (the task model unless `role` says otherwise) within the budget and
    /// records its usage.
    pub async fn run(&self, plan: &Plan, role: &str) -> Result<Report, Stop> {
        let need = self.needs(plan);
        self.reserve(need)?;
        let attempts = Attempts::new(self);
        let report = run::run_within(
            plan,
            self.client,
            &attempts,
            self.concurrency,
            &self.cancel,
            &|_, _, _| {},
        )
        .await;
        let mut held = need;
        held.add(attempts.extra());
        let report = match report {
            Ok(r) => r,
            Err(_) => {
                // What the cancelled calls made is unknown: the reservation stands.
                self.settle(held, held.calls, held.cost);
                return Err(self.stop(Limit::Cancelled, String::new()));
            }
        };
        self.settle(held, report.calls, report.cost_usd);
        self.record(&plan.model, role, &report);
        if let Some(stop) = attempts.refused() {
            // Some rows went unanswered: the report is not a score of the plan.
            return Err(stop);
        }
        if report.error_rows > 0 && report.error_rows == report.rows {
            let first = report
                .per_row
                .iter()
                .find_map(|r| r.error.as_deref())
                .unwrap_or("");
            return Err(Stop::Failed(format!("every row failed: {first}")));
        }
        Ok(report)
    }

    /// Asks the teacher directly (a data summary, an instruction proposal, a reflection),
    /// through the shared client (cached, paced, retried), and records the call.
    pub async fn ask_teacher(&self, system: &str, user: &str) -> Result<String, Stop> {
        let model = self.config.resolve_model(&self.teacher).to_string();
        let (provider_name, model_name) =
            crate::llm::provider::split_model(&model).ok_or_else(|| {
                Stop::Failed(format!("the teacher `{model}` is not `provider/model`"))
            })?;
        let provider = self
            .config
            .provider(provider_name)
            .map_err(|e| Stop::Failed(e.to_string()))?;
        let mut config = serde_json::Map::new();
        config.insert("temperature".into(), serde_json::Value::from(0.7));
        let request = crate::llm::wire::ChatRequest {
            model: model_name.to_string(),
            messages: vec![
                serde_json::json!({"role": "system", "content": [{"text": system}]}),
                serde_json::json!({"role": "user", "content": [{"text": user}]}),
            ],
            config,
            json_output: false,
        };
        let price = self.config.price(&model);
        let key = crate::llm::cache::key(&provider.name, &request);
        let need = if self.client.cached_many(&[key.as_str()])[0].is_some() {
            Need::default()
        } else {
            Need {
                calls: 1,
                cost: worst_cost(
                    price,
                    estimate_prompt_tokens(&request.messages),
                    max_output_tokens(&request.config),
                ),
            }
        };
        self.reserve(need)?;
        let attempts = Attempts::new(self);
        let answer = tokio::select! {
            _ = self.cancel.cancelled() => {
                let mut held = need;
                held.add(attempts.extra());
                self.settle(held, held.calls, held.cost);
                return Err(self.stop(Limit::Cancelled, String::new()));
            }
            answer = self.client.chat_within(&provider, &request, &attempts, 1) => answer,
        };
        let mut need = need;
        need.add(attempts.extra());
        let answer = match answer {
            Ok(a) => a,
            Err(e) => {
                self.settle(need, u64::from(e.attempts), 0.0);
                if e.over_budget {
                    return Err(attempts.refused().unwrap_or(Stop::Budget(e.message)));
                }
                return Err(Stop::Failed(format!("the teacher failed: {}", e.message)));
            }
        };
        let cost = if answer.cached {
            0.0
        } else {
            worst_cost(
                price,
                answer.response.prompt_tokens,
                answer.response.completion_tokens,
            )
        };
        self.settle(need, u64::from(answer.attempts), cost);
        let mut usage = self.usage.lock().unwrap_or_else(|p| p.into_inner());
        let entry = usage.entry(model.clone()).or_default();
        if entry.role.is_empty() {
            entry.role = "teacher".into();
        } else if !entry.role.contains("teacher") {
            entry.role = format!("{}+teacher", entry.role);
        }
        entry.calls += u64::from(answer.attempts);
        if answer.cached {
            entry.cache_hits += 1;
        } else {
            entry.prompt_tokens += answer.response.prompt_tokens;
            entry.completion_tokens += answer.response.completion_tokens;
            entry.cost_usd += cost;
        }
        Ok(answer.response.text)
    }
}
