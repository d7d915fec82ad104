//! What each frontmatter key, helper, metric and optimizer is, for hovers and completion
//! details. Keys come from the checks' own tables, so the two cannot drift apart: a key
//! without a doc here still completes, with a generic description.

use crate::check::frontmatter::{INPUT_KEYS, OUTPUT_FORMATS, OUTPUT_KEYS, TOP_LEVEL};
use crate::settings;

pub fn top_level_key(key: &str) -> &'static str {
    match key {
        "name" => "The prompt's name; defaults to the file name. Identifies the prompt in history.",
        "variant" => "A variant of the prompt (`name.variant.prompt`), e.g. a shorter instruction to compare.",
        "version" => "A version string for your own bookkeeping.",
        "description" => "What the prompt does, for people and tools.",
        "model" => "The model to call, as `provider/model` (e.g. `groq/llama-3.1-8b-instant`, `openai/gpt-4o-mini`, `googleai/gemini-2.0-flash`).",
        "tools" => "Names of tools the model may call (a list of strings).",
        "toolDefs" => "Tool definitions given inline.",
        "config" => "Generation settings passed to the model: `temperature` (0..2), `maxOutputTokens`, `topP` (0..1), `topK`, `stopSequences`.",
        "input" => "The prompt's input: `schema` (Picoschema or JSON Schema) and `default` values.",
        "output" => "What the model should answer: `format` (`text`, `json`, `array`, `enum`, `jsonl`, `media`) and `schema`.",
        "raw" => "Filled in by Dotprompt with the parsed frontmatter; a value written here is ignored.",
        "ext" => "Filled in by Dotprompt with extension fields (`a.b: x` → `ext.a.b`); a value written here is ignored.",
        "metadata" => "Free-form metadata kept with the prompt.",
        "maxTurns" => "Genkit: the most tool-call turns before giving up.",
        "toolChoice" => "Genkit: `auto`, `required` or `none`.",
        "returnToolRequests" => "Genkit: return tool requests instead of running the tools.",
        _ => "A Dotprompt frontmatter key.",
    }
}

pub fn input_key(key: &str) -> &'static str {
    match key {
        "schema" => "The input fields in Picoschema (`name: string, description`, `age?: integer`, `tags(array): string`) or JSON Schema. Template variables are checked against it.",
        "default" => "Default values for input fields, used when the render data leaves them out.",
        "jsonSchema" => "The input as a JSON Schema object.",
        _ => "An `input` key.",
    }
}

pub fn output_key(key: &str) -> &'static str {
    match key {
        "format" => "The answer's format: `text`, `json`, `array`, `enum`, `jsonl` or `media`. With `json`, promptls validates demos (and model outputs) against `output.schema`.",
        "schema" => "The answer's structure in Picoschema or JSON Schema.",
        "jsonSchema" => "The answer as a JSON Schema object.",
        "constrained" => "Genkit: ask the model for constrained (schema-following) generation.",
        "contentType" => "Genkit: the MIME type of the answer.",
        "instructions" => "Genkit: format instructions added to the prompt (`true`, `false` or your text).",
        _ => "An `output` key.",
    }
}

pub fn config_key(key: &str) -> &'static str {
    match key {
        "temperature" => "Sampling temperature, usually 0..2; 0 for the most repeatable answers.",
        "maxOutputTokens" => "The most tokens the model may generate.",
        "topP" => "Nucleus sampling: the probability mass to sample from (0..1).",
        "topK" => "Sample from the K most likely tokens.",
        "stopSequences" => "Strings that end the answer.",
        "candidateCount" => "How many answers to generate.",
        _ => "A model configuration value, passed to the provider.",
    }
}

pub const CONFIG_KEYS: &[&str] = &[
    "temperature",
    "maxOutputTokens",
    "topP",
    "topK",
    "stopSequences",
    "candidateCount",
];

pub fn promptls_field(field: &str) -> String {
    let short = settings::FIELDS
        .iter()
        .find(|(f, _)| *f == field)
        .map_or("a promptls setting", |(_, d)| d);
    let more = match field {
        "dataset" => "\n\nRows are the inputs for evaluation and optimization: CSV with a header row, or JSON Lines. Columns match `input.schema` fields.",
        "target" => "\n\nThe metric compares the model's answer with this column.",
        "metric" => "\n\nOne of: `exact_match`, `f1`, `bleu`, `chrf`, `chrf++`, `rouge1`, `rouge2`, `rougeL`, `rougeLsum`, `contains`, `regex`, `json_match`, `judge`.",
        "teacher" => "\n\nA stronger model whose passing answers become demos (defaults to the prompt's own model).",
        "optimizer" => "\n\n`bootstrap`, `random`, `mipro` or `gepa`; as a mapping: `{name, trials, demos, auto, seed, ...}`.",
        "split" => "\n\nHow rows are divided between training (demos) and validation (scores).",
        "judge" => "\n\nThe rubric a judge model scores answers with, for `promptls.metric: judge`.",
        _ => "",
    };
    format!("`promptls.{field}`: {short}.{more}")
}

pub fn optimizer_key(key: &str) -> &'static str {
    settings::OPTIMIZER_KEYS
        .iter()
        .find(|(k, _)| *k == key)
        .map_or("An optimizer setting.", |(_, doc)| doc)
}

pub fn metric(name: &str) -> &'static str {
    match name {
        "exact_match" => {
            "1 when the answer equals the target (after trimming and normalisation), else 0."
        }
        "f1" => "Token-overlap F1 between answer and target (SQuAD-style).",
        "bleu" => "BLEU as sacrebleu computes it (sentence BLEU per row, corpus BLEU overall).",
        "chrf" => "Character n-gram F-score (sacrebleu chrF).",
        "chrf++" => "chrF with word bigrams (sacrebleu chrF++).",
        "rouge1" => "Unigram overlap F-measure (rouge-score).",
        "rouge2" => "Bigram overlap F-measure (rouge-score).",
        "rougeL" => "Longest common subsequence F-measure (rouge-score).",
        "rougeLsum" => "rougeL over sentences split at newlines (rouge-score).",
        "contains" => "1 when the answer contains the target.",
        "regex" => "1 when the answer matches the target as a regular expression.",
        "json_match" => "The share of the target's JSON fields the answer gets right.",
        "judge" => "A judge model scores the answer with the rubric in `promptls.judge`.",
        _ => "A metric.",
    }
}

pub fn optimizer(name: &str) -> &'static str {
    settings::optimizer(name).map_or("An optimizer.", |o| o.doc)
}

pub fn output_format(name: &str) -> &'static str {
    match name {
        "text" => "Plain text.",
        "json" => "A JSON value, validated against `output.schema`.",
        "array" => "A JSON array.",
        "enum" => "One of the values of an enum schema.",
        "jsonl" => "JSON Lines: one JSON value per line.",
        "media" => "An image or other media.",
        _ => "An output format.",
    }
}

/// (name, signature, what it does, snippet for completion)
pub const HELPERS: &[(&str, &str, &str, &str)] = &[
    (
        "role",
        "{{role \"system\"|\"user\"|\"model\"|\"tool\"}}",
        "Starts a new message with this role.",
        "role \"${1|system,user,model,tool|}\"",
    ),
    (
        "history",
        "{{history}}",
        "Inserts the conversation history (the `messages` of the render data) here.",
        "history",
    ),
    (
        "section",
        "{{section \"name\"}}",
        "Starts a named section of the prompt.",
        "section \"$1\"",
    ),
    (
        "media",
        "{{media url=... contentType=...}}",
        "Inserts an image or other media part.",
        "media url=$1",
    ),
    (
        "json",
        "{{json value indent=2}}",
        "The value as JSON (`JSON.stringify`).",
        "json $1",
    ),
    (
        "if",
        "{{#if cond}}...{{else}}...{{/if}}",
        "Renders the block when `cond` is truthy (JavaScript truthiness; empty arrays are falsy).",
        "#if ${1:cond}}}\n$0\n{{/if",
    ),
    (
        "unless",
        "{{#unless cond}}...{{/unless}}",
        "Renders the block when `cond` is falsy.",
        "#unless ${1:cond}}}\n$0\n{{/unless",
    ),
    (
        "each",
        "{{#each items}}...{{/each}}",
        "Renders the block for every item; `this`, `@index`, `@key`, `@first`, `@last` inside.",
        "#each ${1:items}}}\n$0\n{{/each",
    ),
    (
        "with",
        "{{#with value}}...{{/with}}",
        "Renders the block with `value` as the context.",
        "#with ${1:value}}}\n$0\n{{/with",
    ),
    (
        "ifEquals",
        "{{#ifEquals a b}}...{{/ifEquals}}",
        "Renders the block when `a === b`.",
        "#ifEquals ${1:a} ${2:b}}}\n$0\n{{/ifEquals",
    ),
    (
        "unlessEquals",
        "{{#unlessEquals a b}}...{{/unlessEquals}}",
        "Renders the block when `a !== b`.",
        "#unlessEquals ${1:a} ${2:b}}}\n$0\n{{/unlessEquals",
    ),
    (
        "lookup",
        "{{lookup object key}}",
        "`object[key]`.",
        "lookup ${1:object} ${2:key}",
    ),
    (
        "log",
        "{{log value}}",
        "Logs the value when rendering (renders nothing).",
        "log $1",
    ),
];

pub fn helper(name: &str) -> Option<(&'static str, &'static str)> {
    HELPERS
        .iter()
        .find(|(n, ..)| *n == name)
        .map(|(_, signature, doc, _)| (*signature, *doc))
}

pub fn top_level_keys() -> &'static [&'static str] {
    TOP_LEVEL
}

pub fn section_keys(section: &str) -> &'static [&'static str] {
    match section {
        "input" => INPUT_KEYS,
        "output" => OUTPUT_KEYS,
        "config" => CONFIG_KEYS,
        _ => &[],
    }
}

pub fn section_key_doc(section: &str, key: &str) -> &'static str {
    match section {
        "input" => input_key(key),
        "output" => output_key(key),
        "config" => config_key(key),
        _ => "",
    }
}

pub fn optimizer_keys() -> impl Iterator<Item = &'static str> {
    settings::OPTIMIZER_KEYS.iter().map(|(k, _)| *k)
}

pub fn output_formats() -> &'static [&'static str] {
    OUTPUT_FORMATS
}
