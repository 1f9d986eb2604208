#!/usr/bin/env python3
"""Medians from hyperfine --export-json files, for the bench scripts.

usage: bench/medians.py RESULTS.json [MORE.json ...] [RATIO ...]
Several files are rounds of the same commands (run in turns, so that a slow
spell of a shared machine falls on every command alike): each command's
times are pooled across them. A RATIO is "A / B" or "A / B + C": the median
of command A over the sum of the medians of B (and C), by hyperfine command
name (-n).
"""
import json
import statistics
import sys

files = [a for a in sys.argv[1:] if a.endswith(".json")]
ratios = [a for a in sys.argv[1:] if not a.endswith(".json")]
times = {}
for path in files:
    for r in json.load(open(path))["results"]:
        times.setdefault(r["command"], []).extend(r["times"])


def ms(name):
    return statistics.median(times[name]) * 1000


for name, t in times.items():
    print(f"  {name:34s} median {ms(name):6.1f} ms  (min {min(t) * 1000:.1f}, max {max(t) * 1000:.1f}, {len(t)} runs)")
for ratio in ratios:
    numerator, denominator = (side.strip() for side in ratio.split(" / "))
    parts = [part.strip() for part in denominator.split(" + ")]
    print(f"  {ratio} = {ms(numerator) / sum(ms(p) for p in parts):.2f}")
