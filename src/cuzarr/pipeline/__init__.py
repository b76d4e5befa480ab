"""The batched read and write pipeline: plan -> fetch -> decode -> scatter (and back)."""
