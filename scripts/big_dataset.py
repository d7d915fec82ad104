#!/usr/bin/env python3
"""Writes a large JSONL dataset and a prompt that names it, for the memory figures in
BENCHMARKS.md ("Memory: large datasets").
Usage: scripts/big_dataset.py DIR [BYTES]   (default 200,000,000)
Writes DIR/promptls.toml, DIR/data.jsonl (reviews with a label) and DIR/big.prompt."""
import json
import os
import random
import sys

out = sys.argv[1]
size = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000_000
random.seed(11)
words = ("the lamp works well but the cord is short and the light flickers now and then "
         "which is annoying for a reader at night").split()
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "promptls.toml"), "w") as f:
    f.write("")
n = 0
with open(os.path.join(out, "data.jsonl"), "w") as f:
    while n < size:
        text = " ".join(random.choice(words) for _ in range(random.randint(8, 40)))
        line = json.dumps({"text": text, "label": random.choice(["positive", "negative"])})
        f.write(line + "\n")
        n += len(line) + 1
with open(os.path.join(out, "big.prompt"), "w") as f:
    f.write("---\nmodel: openai/gpt-4o-mini\ninput:\n  schema:\n    text: string\n"
            "promptls.dataset: data.jsonl\npromptls.target: label\n---\n"
            "{{role \"system\"}}\nClassify the sentiment of the review.\n"
            "{{role \"user\"}}\n{{text}}\n")
