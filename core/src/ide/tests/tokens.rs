//! Semantic tokens.

use super::*;

#[test]
fn semantic_tokens_of_a_prompt() {
    expect![[r#"
        Delimiter 1:1-1:4 `---`
        Key 2:1-2:6 `model`
        String 2:8-2:26 `openai/gpt-4o-mini`
        Key 3:1-3:6 `input`
        Key 4:3-4:9 `schema`
        Key 5:5-5:9 `text`
        String 5:11-5:29 `string, the review`
        Key 6:5-6:10 `tone?`
        String 6:12-6:18 `string`
        Key 7:1-7:7 `output`
        Key 8:3-8:9 `format`
        String 8:11-8:15 `text`
        Key 9:1-9:17 `promptls.dataset`
        String 9:19-9:27 `data.csv`
        Key 10:1-10:16 `promptls.metric`
        String 10:18-10:29 `exact_match`
        Delimiter 11:1-11:4 `---`
        Delimiter 12:1-12:3 `{{`
        Helper 12:3-12:7 `role`
        Role 12:8-12:16 `"system"`
        Delimiter 12:16-12:18 `}}`
        Delimiter 13:1-13:3 `{{`
        Partial 13:5-13:12 `persona`
        Key 13:13-13:17 `tone`
        Variable 13:18-13:22 `tone`
        Delimiter 13:22-13:24 `}}`
        Demos 14:1-14:26 `{{!-- promptls:demos --}}`
        Delimiter 15:1-15:3 `{{`
        Helper 15:3-15:7 `role`
        Role 15:8-15:14 `"user"`
        Delimiter 15:14-15:16 `}}`
        Delimiter 17:1-17:3 `{{`
        Helper 17:3-17:7 `role`
        Role 17:8-17:15 `"model"`
        Delimiter 17:15-17:17 `}}`
        Demos 19:1-19:27 `{{!-- /promptls:demos --}}`
        Delimiter 20:1-20:3 `{{`
        Helper 20:3-20:7 `role`
        Role 20:8-20:14 `"user"`
        Delimiter 20:14-20:16 `}}`
        Delimiter 21:1-21:3 `{{`
        Helper 21:4-21:6 `if`
        Variable 21:7-21:11 `tone`
        Delimiter 21:11-21:13 `}}`
        Delimiter 21:19-21:21 `{{`
        Variable 21:21-21:25 `tone`
        Delimiter 21:25-21:27 `}}`
        Delimiter 21:27-21:29 `{{`
        Helper 21:30-21:32 `if`
        Delimiter 21:32-21:34 `}}`
        Delimiter 22:1-22:3 `{{`
        Variable 22:3-22:7 `text`
        Delimiter 22:7-22:9 `}}`
    "#]]
    .assert_eq(&show_tokens(PROMPT));
}
