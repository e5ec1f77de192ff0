"""The training cache at any scale: ``maskvat extract`` writes it, a PyTorch Dataset reads it.

Layout of a cache folder (append-only; documented in docs/cache_format.md):

    CACHE/cache.json                  the extraction settings, encoder names, rates (fixed at creation)
    CACHE/shards/chunk-000042.safetensors
                                      the clips of source items 42*C .. 43*C-1: tensors
                                      "{i}.codes" [K, L] int16, "{i}.semantic" [Ns, Ds] f16,
                                      "{i}.sync" [Ny, Dy] f16, "{i}.audio" [Na, Da] f16, and
                                      metadata "clips": JSON list of per-clip metadata
    CACHE/manifest/part-0-of-1.jsonl  one line per finished chunk: its shard file, clip keys and
                                      the dropped clips with their reasons

A chunk's shard is written to a temporary name and renamed, and only then is its manifest
line appended (flushed, fsynced): a chunk is done if and only if the manifest says so.
"""
