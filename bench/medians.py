#!/usr/bin/env python3
"""Medians from a hyperfine --export-json file, for the bench scripts.

usage: bench/medians.py RESULTS.json [RATIO ...]
A RATIO is "A / B" or "A / B + C": the median of command A over the sum of
the medians of B (and C), by hyperfine command name (-n).
"""
import json
import sys

results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}


def ms(name):
    return results[name]["median"] * 1000


for name, r in results.items():
    print(f"  {name:34s} median {ms(name):6.1f} ms  (min {r['min'] * 1000:.1f}, max {r['max'] * 1000:.1f})")
for ratio in sys.argv[2:]:
    numerator, denominator = (side.strip() for side in ratio.split(" / "))
    parts = [part.strip() for part in denominator.split(" + ")]
    print(f"  {ratio} = {ms(numerator) / sum(ms(p) for p in parts):.2f}")
