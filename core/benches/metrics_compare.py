"""The Python side of benches/metrics_compare.rs: the same pairs through sacrebleu and
rouge-score, timed inside Python (start-up and file reading excluded)."""
import json
import sys
import time

import sacrebleu
from rouge_score import rouge_scorer

pairs = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
timings = []
for _ in range(runs):
    start = time.perf_counter()
    total = 0.0
    for p in pairs:
        total += sacrebleu.sentence_bleu(p["prediction"], p["references"]).score
        total += scorer.score_multi(p["references"], p["prediction"])["rougeL"].fmeasure
    width = max(len(p["references"]) for p in pairs)
    streams = [[p["references"][j] if j < len(p["references"]) else None for p in pairs]
               for j in range(width)]
    total += sacrebleu.corpus_bleu([p["prediction"] for p in pairs], streams).score
    timings.append(time.perf_counter() - start)
timings.sort()
print(json.dumps({"median_s": timings[len(timings) // 2], "checksum": total}))
