# tests/fuzz/: libFuzzer targets (tests/fuzz/README.md).  Built by clang with
# libFuzzer, ASan and UBSan through tests/fuzz/fuzz.sh, apart from this
# build (whatever its compiler), into $(top_builddir)/tests/fuzz/.
#   make fuzz                 each target for its fixed count, on its seeds
#   make fuzz FUZZ_TIME=SECS  each target for SECS seconds instead
# A target stops at its first crash (the input is kept in tests/fuzz/crashes/);
# the others still run, and make fails.
# files, not the directory: after 'make fuzz' in a VPATH build, the build
# tree's tests/fuzz/ (objects, corpus, binaries) would be packed too
EXTRA_DIST += tests/fuzz/README.md tests/fuzz/fuzz.sh tests/fuzz/fuzz.h tests/fuzz/fuzz_lease.h \
	tests/fuzz/fuzz_config.c tests/fuzz/fuzz_ipc.c tests/fuzz/fuzz_sm.c tests/fuzz/fuzz_snapshot.c \
	tests/fuzz/fuzz_wire.c tests/fuzz/mkseeds.c tests/fuzz/seeds

FUZZ_TIME =
.PHONY: fuzz
fuzz:
	$(SHELL) $(top_srcdir)/tests/fuzz/fuzz.sh run '$(abs_top_builddir)/tests/fuzz' $(FUZZ_TIME)

clean-local: clean-fuzz
.PHONY: clean-fuzz
clean-fuzz:
	rm -rf tests/fuzz/obj tests/fuzz/corpus tests/fuzz/crashes tests/fuzz/fuzz_*
