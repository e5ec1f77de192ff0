"""Parallel decoding of a codegram: the cosine schedule, guidance, Gumbel-annealed confidence, the loop."""
