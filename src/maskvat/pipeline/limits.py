"""How much video one ``maskvat generate`` request may cover (seconds). Kept apart from the
pipeline so that the command line can state them without importing torch."""

from __future__ import annotations

# Shorter spans are refused: the lab model's semantic encoder reads 8 frames a second, so
# under 0.125 s it gets no frame at all; 0.25 s gives it two.
MIN_SECONDS = 0.25
MAX_SECONDS = 600.0  # longer videos are generated in parts (--start/--duration)


def span_problem(start: float, duration: float | None) -> str | None:
    """What is wrong with a requested span whatever the video, as "start -1 s: must be ..." (the
    command line puts "--" before it: it names the option), or None. ``start``, ``duration``:
    seconds (``duration`` None: to the end of the video). Whether the span fits a video is
    ``pipeline.generate.requested_duration``'s to say."""
    if not start >= 0:  # also NaN
        return f"start {start:g} s: must be 0 or more (seconds into the video where the sound begins)"
    if duration is None:
        return None
    if not duration > 0:
        return f"duration {duration:g} s: must be positive (seconds of sound to generate, {MIN_SECONDS:g} to " \
               f"{MAX_SECONDS:.0f})"
    if duration < MIN_SECONDS:
        return f"duration {duration:g} s is shorter than the {MIN_SECONDS} s minimum"
    if duration > MAX_SECONDS:
        return (f"duration {duration:g} s is longer than the {MAX_SECONDS:.0f} s one run generates: generate it in "
                f"parts, e.g. --start {start:g} --duration {MAX_SECONDS:.0f}")
    return None
