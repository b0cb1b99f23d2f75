"""``MultiTaskModel`` and the method models built on it (shallow, deep,
DMTRL, DAMTL) plus their backbones. Not implemented yet: see the issues."""
