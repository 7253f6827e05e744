"""camvault benchmarks (`make bench` runs `python -m bench.run`)."""
