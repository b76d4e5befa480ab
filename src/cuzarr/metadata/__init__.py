"""The JSON metadata models (v3 now; v2 and N5 convert into the same ArrayMetadata)."""
