"""Studies and sweeps of many runs, the parity check against the reference, and the speed benchmark."""
