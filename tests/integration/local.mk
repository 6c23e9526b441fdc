# tests/integration/: end-to-end tests against real corosync (in progress).
