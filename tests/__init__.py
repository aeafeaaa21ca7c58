"""batchscore's tests; a package so helpers such as tests.pgserver can be imported (benchmarks too)."""
