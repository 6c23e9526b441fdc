# bench/: benchmarks that print figures and ratios. 'make bench' runs them.

noinst_PROGRAMS += bench/bench-sm
bench_bench_sm_SOURCES = bench/bench_sm.c
bench_bench_sm_LDADD = lockd/libcorecore.la

# BENCH_ARGS is passed to the benchmark, e.g. make bench BENCH_ARGS=...
BENCH_ARGS =
bench: bench/bench-sm$(EXEEXT)
	./bench/bench-sm$(EXEEXT) $(BENCH_ARGS)
.PHONY: bench
