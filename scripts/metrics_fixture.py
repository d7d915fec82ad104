#!/usr/bin/env python3
"""Writes tests/fixtures/metrics.json: prediction/reference pairs scored by the reference
implementations everyone quotes: sacrebleu (sentence_bleu, corpus_bleu, sentence_chrf,
corpus_chrf, chrF++) and rouge-score (rouge1, rouge2, rougeL, rougeLsum; no stemmer).
promptls's metrics must agree with these numbers (tests/metrics.rs).

    python3 -m venv /tmp/m && /tmp/m/bin/pip install sacrebleu==2.6.0 rouge-score==0.1.2
    /tmp/m/bin/python scripts/metrics_fixture.py           # write the fixture
    /tmp/m/bin/python scripts/metrics_fixture.py --check   # fail if it would change

The pairs are generated from a fixed seed, so the file only changes when this script or
the reference packages do.
"""
import json
import random
import sys
from pathlib import Path

import sacrebleu
from nltk.stem import porter
from rouge_score import rouge_scorer

WORDS = [
    "the", "cat", "sat", "on", "mat", "a", "dog", "ran", "fast", "quickly", "It", "is",
    "positive", "negative", "neutral", "Great", "phone", "battery", "died", "after",
    "two", "days", "support", "never", "answered", "don't", "won't", "e-mail", "U.S.",
    "3.14", "1,000", "-5", "42", "2024-01-02", "$9.99", "50%", "#1", "@user", "(yes)",
    "[note]", "{x}", "a/b", "Mr.", "etc.", "...", "!", "?", ",", ";", ":", '"', "'",
    "&amp;", "&lt;tag&gt;", "<skipped>", "naïve", "café", "Über", "straße", "ΣΟΦΙΑ",
    "日本語", "中文", "😀", "İstanbul", "K", "ﬁne", "\u00a0", "tab\there", "x\x1cy",
    "line-\nbreak", "end.", "Start", "UPPER", "lower", "MiXeD", "123abc", "abc123",
]


def sentence(rng, lo=0, hi=14):
    words = [rng.choice(WORDS) for _ in range(rng.randint(lo, hi))]
    text = ""
    for w in words:
        text += w + rng.choice([" ", " ", " ", "  ", "\n", "", "\t"])
    return text.strip() if rng.random() < 0.8 else text


def variant(rng, text):
    """A reference close to `text`: some words dropped, swapped or replaced."""
    words = text.split(" ")
    out = []
    for w in words:
        r = rng.random()
        if r < 0.15:
            continue
        if r < 0.3:
            out.append(rng.choice(WORDS))
        else:
            out.append(w)
    if len(out) > 2 and rng.random() < 0.3:
        i = rng.randrange(len(out) - 1)
        out[i], out[i + 1] = out[i + 1], out[i]
    return " ".join(out)


ROOTS = ["relat", "condit", "rat", "valen", "hesit", "digit", "conform", "radic",
         "differen", "vile", "analog", "vietnam", "predic", "electr", "hope", "good",
         "formal", "sensit", "sensib", "cat", "pony", "sky", "agree", "feed", "plaster",
         "bled", "motor", "sing", "conflat", "troubl", "siz", "hop", "tann", "fall",
         "hiss", "fizz", "fail", "fil", "happ", "sy", "gener", "oper", "control", "roll",
         "toy", "play", "say", "pay", "boy", "yell", "yoyo", "eye", "dye", "lie", "tie"]
SUFFIXES = ["", "s", "es", "ies", "sses", "ss", "ed", "eed", "ied", "ing", "y", "ly",
            "ational", "tional", "enci", "anci", "izer", "bli", "alli", "entli", "eli",
            "ousli", "ization", "ation", "ator", "alism", "iveness", "fulness", "ousness",
            "aliti", "iviti", "biliti", "fulli", "logi", "icate", "ative", "alize", "iciti",
            "ical", "ful", "ness", "al", "ance", "ence", "er", "ic", "able", "ible", "ant",
            "ement", "ment", "ent", "sion", "tion", "ou", "ism", "ate", "iti", "ous", "ive",
            "ize", "e", "ll", "ying", "yed"]


def stem_words(rng, pairs):
    """Words to stem: roots with Porter suffixes, the fixture's own tokens, and random
    strings with many `y`s and doubled letters, as rouge-score would pass them."""
    words = {r + s for r in ROOTS for s in SUFFIXES}
    for p in pairs:
        for text in [p["prediction"], *p["references"]]:
            words.update(t for t in __import__("re").split(r"[^a-z0-9]+", text.lower()) if t)
    letters = "aeiouybcdlmnrstyy"
    for _ in range(800):
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 12))))
    stemmer = porter.PorterStemmer()
    return {w: stemmer.stem(w) for w in sorted(words)}


def main():
    rng = random.Random(20261128)
    pairs = []
    fixed = [
        ("", [""]), ("", ["a"]), ("a", [""]), ("positive", ["positive"]),
        ("positive", ["negative"]), ("Positive.", ["positive"]),
        ("The cat sat on the mat.", ["The cat sat on the mat."]),
        ("The cat sat on the mat.", ["A cat sat on a mat.", "The cat is on the mat."]),
        ("one\ntwo\nthree", ["one two\nthree"]), ("\n\n", ["\n"]),
        ("3.14 and 1,000 items", ["3.14 and 1000 items"]), ("😀😀😀", ["😀"]),
        ("the the the the", ["the cat"]), ("x", ["x", "y", "z"]),
    ]
    for prediction, references in fixed:
        pairs.append({"prediction": prediction, "references": references})
    while len(pairs) < 400:
        reference = sentence(rng)
        kind = rng.random()
        if kind < 0.5:
            prediction = variant(rng, reference)
        elif kind < 0.8:
            prediction = sentence(rng)
        else:
            prediction = reference
        references = [reference] + [variant(rng, reference) for _ in range(rng.choice([0, 0, 1, 2]))]
        pairs.append({"prediction": prediction, "references": references})

    types = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
    scorer = rouge_scorer.RougeScorer(types, use_stemmer=False)
    stemming = rouge_scorer.RougeScorer(types, use_stemmer=True)
    for p in pairs:
        hyp, refs = p["prediction"], p["references"]
        p["bleu"] = sacrebleu.sentence_bleu(hyp, refs).score
        p["chrf"] = sacrebleu.sentence_chrf(hyp, refs).score
        p["chrf++"] = sacrebleu.sentence_chrf(hyp, refs, word_order=2).score
        scores = scorer.score_multi(refs, hyp)
        for t in types:
            p[t] = scores[t].fmeasure
        stemmed = stemming.score_multi(refs, hyp)
        for t in types:
            p[t + "_stemmed"] = stemmed[t].fmeasure

    # Corpus scores: reference streams padded with None where a row has fewer references.
    width = max(len(p["references"]) for p in pairs)
    streams = [[p["references"][j] if j < len(p["references"]) else None for p in pairs]
               for j in range(width)]
    hyps = [p["prediction"] for p in pairs]
    corpus = {
        "bleu": sacrebleu.corpus_bleu(hyps, streams).score,
        "chrf": sacrebleu.corpus_chrf(hyps, streams).score,
        "chrf++": sacrebleu.corpus_chrf(hyps, streams, word_order=2).score,
    }
    out = {
        "generator": "scripts/metrics_fixture.py",
        "sacrebleu": sacrebleu.__version__,
        "rouge_score": "0.1.2",
        "scale": "sacrebleu scores are 0-100 as sacrebleu prints them; rouge f-measures are 0-1",
        "nltk": __import__("nltk").__version__,
        "corpus": corpus,
        "pairs": pairs,
        "porter_stems": stem_words(rng, pairs),
    }
    path = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "metrics.json"
    text = json.dumps(out, ensure_ascii=False, indent=1) + "\n"
    if "--check" in sys.argv[1:]:
        if path.read_text() != text:
            sys.exit(f"{path} differs from what sacrebleu {sacrebleu.__version__} and "
                     "rouge-score compute now; regenerate it with this script")
        print(f"metrics fixture: {len(pairs)} pairs match sacrebleu {sacrebleu.__version__} "
              "and rouge-score 0.1.2")
        return
    path.write_text(text)
    print(f"wrote {len(pairs)} pairs to {path}")


if __name__ == "__main__":
    main()
