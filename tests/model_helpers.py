"""The debug pipeline saved for tests that need a model folder on disk (the generate and bench tests)."""

from pathlib import Path


def save_tiny_model(root: Path, max_frames: int = 40) -> Path:
    """``Pipeline.debug()`` (random tiny AdaLN-B over the tiny codec) saved as a pipeline folder:
    ROOT/{generator,codec}/ and ROOT/model_index.json; returns ROOT."""
    from maskvat.pipeline.generate import Pipeline

    return Pipeline.debug(max_frames=max_frames).save_pretrained(root)
