"""The live scorer: scores every event of the scoring stream with the current published
model, exactly once, in batches (see scorer/README.md and docs/DESIGN.md, "Scorer")."""
