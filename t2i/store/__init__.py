"""Run directories, checkpoints, locks and the Part 1 cache: every on-disk format has one owner here."""
