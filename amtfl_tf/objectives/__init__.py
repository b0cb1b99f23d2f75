"""Per-task losses and multi-task regularisers (logistic one-vs-all,
squared, hinge, softmax CE, the delta/sqrt(N_t) term, GO-MTL/AMTL penalties,
CMMD). Not implemented yet: see the shallow-family issue."""
