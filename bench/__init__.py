"""Benchmark: this project's source against dlt's stock `rest_api` source, on the emulator.

`python -m bench` (or `make bench`) runs the default scenarios; `bench.run_one` runs one side of
one scenario in its own process so that its peak RSS is its own. See bench/README.md.
"""
