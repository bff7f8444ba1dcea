#!/usr/bin/env python3
"""Builds src/normalize/words.txt, the word list the normalizer uses to read
leetspeak words back (`fu11` -> `full`) and to split letters spelled out with
one space between letters and words (`pretendyouare...` -> `pretend you are`).

The list is the most frequent English words of the development corpus plus
the words of the default rule pack's patterns that the corpus also uses as
words (regex fragments such as `analy` are left out); words without a vowel
are left out. Sorted, one per line.

Usage: scripts/gen-words.py ../shared/corpus/dev.jsonl filters/default.json > src/normalize/words.txt
"""
import collections
import json
import re
import sys

TOP = 1500


def main(corpus, pack):
    counts = collections.Counter()
    for line in open(corpus, encoding="utf-8"):
        row = json.loads(line)
        if row.get("lang", "en") != "en":
            continue
        counts.update(re.findall(r"[a-z]+", row.get("text", "").lower()))
    words = {"a", "i"}
    # Words without a vowel (`lst`, `xyz`, `pdf`) are abbreviations a leet
    # reading could hit by chance (`1st` -> `lst`).
    def plain(w):
        return 2 <= len(w) <= 20 and any(v in w for v in "aeiouy")

    for w, _ in counts.most_common():
        if len(words) >= TOP:
            break
        if plain(w):
            words.add(w)
    rules = json.load(open(pack, encoding="utf-8"))["rules"]
    vocab = set()

    def walk(x, grab=False):
        if isinstance(x, dict):
            for k, v in x.items():
                walk(v, grab or k in ("regex", "phrases"))
        elif isinstance(x, list):
            for v in x:
                walk(v, grab)
        elif isinstance(x, str) and grab:
            vocab.update(re.findall(r"(?<![\\])\b[a-z]{2,20}\b", x.lower()))

    walk(rules)
    words.update(w for w in vocab if counts[w] >= 3 and plain(w))
    sys.stdout.write("".join(w + "\n" for w in sorted(words)))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
