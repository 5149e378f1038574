"""Reading results: runs grouped into series, tables, Welch tests, figures, evaluations and reports."""
