"""Model organisms: tiny worlds whose human utility is written down.

Each organism builds, from scratch on a CPU, an ordinary HF model directory and
JSONL datasets; every other alignlab command treats them like any model and
data. ``assistant`` is the default world (section 3 of the design).
"""
