#!/usr/bin/env python3
"""Writes a large, valid .prompt (plain text with variables, conditionals and loops in
proportions like a real long prompt) for the memory figures in BENCHMARKS.md.
Usage: scripts/big_prompt.py OUT.prompt [BYTES]   (default 35,000,000)
Also writes OUT.prompt.json, the input data `render` needs."""
import json
import random
import sys

out = sys.argv[1]
size = int(sys.argv[2]) if len(sys.argv) > 2 else 35_000_000
random.seed(7)
head = ["---", "model: openai/gpt-4o-mini", "input:", "  schema:", "    text: string",
        "    items(array): string", "    flag: boolean", "---", '{{role "system"}}']
words = ("the quick brown fox jumps over lazy dog while a careful reader checks each "
         "sentence for meaning and tone").split()
pieces = ["{{text}}", "{{#if flag}}yes{{else}}no{{/if}}", "{{#each items}}- {{this}}\n{{/each}}",
          "{{! a comment }}", "{{#unless flag}}plain{{/unless}}"]
body, n = [], 0
while n < size:
    line = " ".join(random.choice(words) for _ in range(14))
    if random.random() < 0.3:
        line += " " + random.choice(pieces)
    body.append(line)
    n += len(line) + 1
with open(out, "w") as f:
    f.write("\n".join(head + body) + "\n")
with open(out + ".json", "w") as f:
    json.dump({"text": "hello", "items": ["a", "b"], "flag": True}, f)
