"""Run directories, checkpoints, weight files, locks and the Part 1 cache: every on-disk format has one owner here."""
