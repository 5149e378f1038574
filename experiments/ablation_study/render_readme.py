"""Fill README.md's tables from the collected files (run by make study-report after collect.py)."""

import json
import sys
from pathlib import Path

out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
template = (out / "README.template.md").read_text()
versions = json.loads((out / "versions.json").read_text())
summary = (out / "summary.md").read_text().split("\n\n")[0]
text = (
    template.replace("MAE_AT_EPOCHS", (out / "mae_at_epochs.md").read_text().strip())
    .replace("SUMMARY", summary.strip())
    .replace("COLOURS_TABLE", (out / "colours.md").read_text().strip())
    .replace("BEST_SAMPLES", f"samples_best_{versions['best']}.png")
    .replace("WORST_SAMPLES", f"samples_worst_{versions['worst']}.png")
    .replace("FINDINGS", (out / "findings.md").read_text().strip())
)
(out / "README.md").write_text(text)
