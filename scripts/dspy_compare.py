#!/usr/bin/env python3
"""promptls vs DSPy on the same simulated model, data and splits.

    python3 scripts/dspy_compare.py [--rows 300] [--seed 11] [--python PY]

Builds promptls and the simulated model server (server/examples/sim_server.rs, rules in
tests/support/sim_model.rs), splits one generated dataset into train/validation/test
thirds, and for each optimizer (baseline, BootstrapFewShot, MIPROv2 light) runs
promptls and DSPy (PyPI `dspy` with `optuna` for MIPROv2, caches off) against the same server:

- held-out score: exact match on the test third after optimizing on train/validation;
- LM calls the optimizer made, counted by the server (promptls's own cache is fresh for
  each run; DSPy's caches are off);
- wall time of the optimization against the zero-latency server (the optimizer's own
  overhead: model time is ~0).

The DSPy side runs in PY (default: a virtualenv at ~/.cache/promptls-test/dspy-venv,
created with `pip install dspy` when missing). Prints a Markdown table.
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))

DSPY_SIDE = r'''
import json, sys, time, re, csv
import dspy
base, train_csv, val_csv, test_csv, which, seed = sys.argv[1:7]
seed = int(seed)
dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=False)
student = dspy.LM("openai/small", api_base=base + "/v1", api_key="x", cache=False, temperature=0, num_retries=0)
teacher = dspy.LM("openai/teacher-70b", api_base=base + "/v1", api_key="x", cache=False, temperature=0.7, num_retries=0)
dspy.configure(lm=student)

class Sentiment(dspy.Signature):
    """Classify the sentiment of the review."""
    text: str = dspy.InputField()
    label: str = dspy.OutputField()

def load(path):
    with open(path, newline="") as f:
        return [dspy.Example(text=r["text"], label=r["label"]).with_inputs("text") for r in csv.DictReader(f)]

def norm(s):
    return " ".join(str(s).lower().split())

def metric(example, pred, trace=None):
    return norm(getattr(pred, "label", "")) == norm(example.label)

train, val, test = load(train_csv), load(val_csv), load(test_csv)
program = dspy.Predict(Sentiment)
started = time.perf_counter()
if which == "bootstrap":
    program = dspy.BootstrapFewShot(metric=metric, max_bootstrapped_demos=4, max_labeled_demos=4,
                                    teacher_settings=dict(lm=teacher)).compile(program, trainset=train)
elif which == "mipro":
    opt = dspy.MIPROv2(metric=metric, auto="light", prompt_model=teacher, task_model=student,
                       teacher_settings=dict(lm=teacher), max_bootstrapped_demos=4, max_labeled_demos=4,
                       num_threads=8, seed=seed, verbose=False)
    program = opt.compile(program, trainset=train, valset=val)
elapsed = time.perf_counter() - started
print(json.dumps({"compile_s": elapsed, "state": "ok"}), flush=True)
evaluate = dspy.Evaluate(devset=test, metric=metric, num_threads=8, display_progress=False)
result = evaluate(program)
score = getattr(result, "score", result)
print(json.dumps({"compile_s": elapsed, "score": float(score) / 100.0 if float(score) > 1 else float(score)}))
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, method="GET"):
    req = urllib.request.Request(url, method=method, data=b"{}" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def dspy_python(explicit):
    if explicit:
        return explicit
    venv = Path.home() / ".cache" / "promptls-test" / "dspy-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "dspy", "optuna"], check=True)
    return str(python)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=300)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--python")
    args = ap.parse_args()
    python = dspy_python(args.python)
    subprocess.run(["cargo", "build", "--release", "-q", "--bin", "promptls", "--example", "sim_server"],
                   cwd=ROOT, check=True)
    promptls = TARGET / "release" / "promptls"
    sim = TARGET / "release" / "examples" / "sim_server"
    port = free_port()
    server = subprocess.Popen([str(sim), str(port)], stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(50):
        try:
            get(base + "/stats")
            break
        except OSError:
            time.sleep(0.1)
    work = Path(tempfile.mkdtemp(prefix="promptls-dspy-"))
    try:
        lines = subprocess.run([str(sim), "--csv", str(args.rows), str(args.seed)], capture_output=True,
                               text=True, check=True).stdout.splitlines()
        header, rows = lines[0], lines[1:]
        third = len(rows) // 3
        parts = {"train": rows[:third], "val": rows[third:2 * third], "test": rows[2 * third:]}
        for name, part in parts.items():
            (work / f"{name}.csv").write_text("\n".join([header] + part) + "\n")
        (work / "promptls.toml").write_text(f'[providers.sim]\nbase_url = "{base}/v1"\nconcurrency = 8\n')
        prompt = ("---\nmodel: sim/small\ninput:\n  schema:\n    text: string\n"
                  "promptls.dataset: train.csv\npromptls.target: label\npromptls.metric: exact_match\n"
                  "promptls.teacher: sim/teacher-70b\n---\n{{role \"system\"}}\n"
                  "Classify the sentiment of the review.\n{{role \"user\"}}\n{{text}}\n")
        results = []
        for which in ["baseline", "bootstrap", "mipro"]:
            # promptls: a fresh cache per optimizer, as DSPy runs with its caches off.
            shutil.rmtree(work / ".promptls", ignore_errors=True)
            (work / "sentiment.prompt").write_text(prompt)
            get(base + "/reset", "POST")
            calls, ours_s = 0, 0.0
            if which != "baseline":
                out = subprocess.run([str(promptls), "optimize", "sentiment.prompt", "--optimizer", which,
                                      "--dataset", "train.csv", "--valset", "val.csv", "--seed", str(args.seed),
                                      "--write", "--format", "json"], cwd=work, capture_output=True, text=True)
                if out.returncode != 0:
                    sys.exit(f"promptls optimize failed: {out.stderr}")
                report = json.loads(out.stdout)
                calls = report["optimizer_total_calls"]
                ours_s = report["optimizer_ms"] / 1000.0
            out = subprocess.run([str(promptls), "eval", "sentiment.prompt", "--dataset", "test.csv", "--format",
                                  "json"], cwd=work, capture_output=True, text=True)
            ours_score = json.loads(out.stdout)["score"]
            # DSPy: the server counts its calls during compile.
            get(base + "/reset", "POST")
            out = subprocess.run([python, "-c", DSPY_SIDE, base, str(work / "train.csv"), str(work / "val.csv"),
                                  str(work / "test.csv"), which, str(args.seed)], capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(f"DSPy failed: {out.stderr[-3000:]}")
            lines_out = [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]
            theirs = lines_out[-1]
            # Calls during compile: total minus the test evaluation (one per test row).
            total = sum(get(base + "/stats").values())
            theirs_calls = total - len(parts["test"]) if which != "baseline" else 0
            results.append((which, ours_score, theirs["score"], calls, theirs_calls, ours_s, theirs["compile_s"]))
        print(f"| optimizer | promptls held-out | DSPy held-out | promptls calls | DSPy calls | promptls time | DSPy time | time ratio |")
        print("|---|---|---|---|---|---|---|---|")
        for which, ours, theirs, c_ours, c_theirs, t_ours, t_theirs in results:
            ratio = f"{t_theirs / t_ours:.1f}x" if which != "baseline" and t_ours > 0 else "—"
            t1 = f"{t_ours * 1000:.1f} ms" if which != "baseline" else "—"
            t2 = f"{t_theirs * 1000:.0f} ms" if which != "baseline" else "—"
            print(f"| {which} | {ours:.3f} | {theirs:.3f} | {c_ours} | {c_theirs} | {t1} | {t2} | {ratio} |")
        # The headline table: the prompt before and after MIPROv2, on the test rows, with a
        # simulated response time and priced as Groq's llama-3.1-8b-instant.
        optimized = (work / "sentiment.prompt").read_text()
        slow_port = free_port()
        slow = subprocess.Popen([str(sim), str(slow_port), "--latency"], stderr=subprocess.DEVNULL)
        try:
            for _ in range(50):
                try:
                    get(f"http://127.0.0.1:{slow_port}/stats")
                    break
                except OSError:
                    time.sleep(0.1)
            (work / "promptls.toml").write_text(
                f'[providers.sim]\nbase_url = "http://127.0.0.1:{slow_port}/v1"\nconcurrency = 8\n'
                'prices = { "small" = { input = 0.05, output = 0.08 } }\n')
            headline = []
            for label, text in [("baseline (as written)", prompt), ("optimized (MIPROv2 light)", optimized)]:
                (work / "sentiment.prompt").write_text(text)
                out = subprocess.run([str(promptls), "eval", "sentiment.prompt", "--dataset", "test.csv", "--no-cache",
                                      "--format", "json"], cwd=work, capture_output=True, text=True)
                r = json.loads(out.stdout)
                per_1k = r["cost_usd"] / r["rows"] * 1000
                tokens = (r["prompt_tokens"] + r["completion_tokens"]) / r["rows"]
                headline.append((label, r["score"], r["latency_p50_ms"], tokens, per_1k))
        finally:
            slow.terminate()
        print("\nSimulated model (tests/support/sim_model.rs), not a real one:\n")
        print("| prompt | accuracy (test rows) | latency p50 | tokens per request | cost per 1k requests |")
        print("|---|---|---|---|---|")
        for label, score, p50, tokens, per_1k in headline:
            print(f"| {label} | {score:.3f} | {p50:.0f} ms | {tokens:.0f} | ${per_1k:.4f} |")
        print(f"\n{args.rows} rows (seed {args.seed}): {third} train, {third} validation, {len(parts['test'])} test; "
              f"dspy {subprocess.run([python, '-c', 'import dspy; print(dspy.__version__)'], capture_output=True, text=True).stdout.strip()}")
    finally:
        server.terminate()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
