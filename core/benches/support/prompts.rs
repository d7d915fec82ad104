//! Inputs shared by the benchmarks.

/// A realistic 300-line prompt: frontmatter with schemas and promptls settings, a long
/// system instruction, 20 demo turns, a loop and conditionals over the input.
pub fn big_prompt() -> String {
    let mut s = String::from(
        "---\nmodel: openai/gpt-4o-mini\nconfig:\n  temperature: 0\n  maxOutputTokens: 256\ninput:\n  schema:\n    ticket: string, the customer's message\n    customer: string\n    history?(array): string\n    tier?: string\noutput:\n  format: json\n  schema:\n    category: string\n    urgency: integer\n    reply: string\npromptls.metric: json_match\npromptls.optimizer: {name: mipro, trials: 20, demos: 20}\n---\n{{role \"system\"}}\n",
    );
    for i in 0..120 {
        s.push_str(&format!(
            "Rule {i}: read the ticket carefully, classify it, and keep replies under {} words.\n",
            40 + i
        ));
    }
    s.push_str("{{!-- promptls:demos --}}\n");
    for i in 0..20 {
        s.push_str(&format!(
            "{{{{role \"user\"}}}}\nTicket {i}: my order #{} never arrived and nobody answers.\n{{{{role \"model\"}}}}\n{{\"category\": \"shipping\", \"urgency\": {}, \"reply\": \"Sorry about order {}.\"}}\n",
            1000 + i,
            i % 5,
            1000 + i
        ));
    }
    s.push_str("{{!-- /promptls:demos --}}\n{{role \"user\"}}\nCustomer: {{customer}}{{#if tier}} ({{tier}}){{/if}}\n");
    s.push_str("{{#if history}}\nEarlier messages:\n{{#each history}}\n- {{this}}\n{{/each}}\n{{/if}}\n{{ticket}}\n");
    while s.lines().count() < 300 {
        s.push_str("{{!-- padding: notes for maintainers --}}\n");
    }
    s
}
