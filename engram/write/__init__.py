"""The write path: validate, embed, persist (segmentation and extraction come next)."""
