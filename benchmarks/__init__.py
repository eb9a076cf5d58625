"""Benchmarks of junis-jupyter side by side with the stock OpenAI SDK and a minimal httpx loop.

Run them all with `make bench` (`python -m benchmarks.run`); each figure is a ratio against a
baseline measured in the same run, interleaved, so a busy machine slows both sides alike.
"""
