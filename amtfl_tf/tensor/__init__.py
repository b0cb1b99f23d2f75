"""NumPy tensor decompositions used at initialisation only (unfold/fold,
truncated SVD with a relative-error rank rule, HOSVD, TT-SVD, LAF SVD).
Not implemented yet: see the DMTRL-layers issue."""
