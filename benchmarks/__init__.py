"""`make bench`: each workload is timed next to a baseline in the same process and run.

Benchmarks are not tests: they print ratios (workload / baseline) that the issues state
their targets in, and write benchmarks/results/latest.json. A benchmark is a module
``benchmarks/bench_<name>.py`` with ``run(harness)``.
"""
