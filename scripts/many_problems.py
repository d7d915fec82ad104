#!/usr/bin/env python3
"""Writes a large .prompt whose random words include unbalanced {{#if}}/{{else}}/{{/if}}
tags, so that `promptls check` reports about one problem per 45 bytes (the human-output
figure in BENCHMARKS.md). Usage: scripts/many_problems.py OUT.prompt [BYTES]"""
import random
import sys

out = sys.argv[1]
size = int(sys.argv[2]) if len(sys.argv) > 2 else 5_000_000
random.seed(1)
head = ["---", "model: openai/gpt-4o-mini", "input:", "  schema:", "    text: string", "---",
        '{{role "system"}}']
words = "the quick brown fox jumps over lazy dog {{text}} and {{#if text}}yes{{else}}no{{/if}}".split()
body, n = [], 0
while n < size:
    line = " ".join(random.choice(words) for _ in range(12))
    body.append(line)
    n += len(line) + 1
with open(out, "w") as f:
    f.write("\n".join(head + body) + "\n")
