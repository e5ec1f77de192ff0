"""How much video one ``maskvat generate`` request may cover (seconds), and the check of a
request against a video. Kept apart from the pipeline (no torch): the command line states the
limits and refuses a bad file in the first seconds, before the model's imports."""

from __future__ import annotations

from typing import TYPE_CHECKING

from maskvat.errors import MediaError

if TYPE_CHECKING:
    from maskvat.media import MediaInfo

# Shorter spans are refused: the lab model's semantic encoder reads 8 frames a second, so
# under 0.125 s it gets no frame at all; 0.25 s gives it two.
MIN_SECONDS = 0.25
MAX_SECONDS = 14400.0  # 4 hours: memory does not grow with the video (pipeline.stream); longer ones in parts
MAX_BEAMS = 64  # candidates per window (beams) or variations of one video


def span_problem(start: float, duration: float | None) -> str | None:
    """What is wrong with a requested span whatever the video, as "start -1 s: must be ..." (the
    command line puts "--" before it: it names the option), or None. ``start``, ``duration``:
    seconds (``duration`` None: to the end of the video). Whether the span fits a video is
    ``requested_duration``'s to say."""
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


def requested_duration(video, start: float = 0.0, duration: float | None = None, *,
                       info: "MediaInfo | None" = None) -> float:
    """Seconds of sound one request asks for (``duration``, default: from ``start`` to the end of
    the video); a MediaError naming the video if the video cannot be read or the span does not
    fit it or the limits (MIN_SECONDS to MAX_SECONDS). ``video``: a path or a FrameArray;
    ``info``: the file's ``probe``, to skip probing it again."""

    from maskvat.media import FrameArray, probe  # (here: the limits alone are read by every command's --help)

    problem = span_problem(start, duration)
    if problem:
        raise MediaError(video, problem)
    if isinstance(video, FrameArray):
        length = video.duration
    else:
        info = info or probe(video)
        if info.video is None:
            raise MediaError(video, "has no video stream")
        length = info.video.duration
    if not 0 <= start < length:
        raise MediaError(video, f"start {start:.2f} s is outside the video (0 to {length:.2f} s)")
    avail = length - start
    duration = avail if duration is None else duration
    if duration > avail + 1e-6:
        raise MediaError(video, f"asks for {duration:.2f} s from {start:.2f} s, but only {avail:.2f} s of video remain "
                                f"after {start:.2f} s (it is {length:.2f} s long)")
    if duration < MIN_SECONDS:
        raise MediaError(video, f"{duration:.2f} s of video from {start:.2f} s is shorter than the "
                                f"{MIN_SECONDS} s minimum")
    if duration > MAX_SECONDS:
        raise MediaError(video, f"{duration:.1f} s from {start:.2f} s is longer than the {MAX_SECONDS:.0f} s one run "
                                f"generates: generate it in parts, e.g. --start {start:g} --duration {MAX_SECONDS:.0f}")
    return duration
