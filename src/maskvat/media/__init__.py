"""Media I/O: probe, decode frames at any fps, read/resample/write audio, write and mux video.

One clock per file: t = 0 is its first video frame (its first audio sample if it has no
video). ``decode_frames`` times, ``read_audio`` samples and ``mux_audio``'s track all count
from there, so frames and audio read from, or written to, one file stay in sync.

Every failure a user's file or request can cause is a :class:`maskvat.errors.MediaError`
naming the file and the problem. Nothing here imports the rest of maskvat but its errors.
"""

from maskvat.atomic import atomic_path
from maskvat.media.audio import (
    SAMPLE_RATE,
    SoundWriter,
    fit_length,
    read_audio,
    resample,
    write_audio,
)
from maskvat.media.formats import AUDIO_SUFFIXES, VIDEO_SUFFIXES, is_video_file
from maskvat.media.frame_array import FrameArray
from maskvat.media.mux import mux_audio, muxed_suffix
from maskvat.media.probe import AudioStreamInfo, MediaInfo, VideoStreamInfo, probe, read_comment
from maskvat.media.video import Frames, Grid, decode_frames, decode_grids
from maskvat.media.write import as_fraction, write_video

__all__ = [
    "AUDIO_SUFFIXES",
    "SAMPLE_RATE",
    "SoundWriter",
    "VIDEO_SUFFIXES",
    "AudioStreamInfo",
    "FrameArray",
    "Frames",
    "Grid",
    "MediaInfo",
    "VideoStreamInfo",
    "as_fraction",
    "atomic_path",
    "decode_frames",
    "decode_grids",
    "fit_length",
    "is_video_file",
    "mux_audio",
    "muxed_suffix",
    "probe",
    "read_audio",
    "read_comment",
    "resample",
    "write_audio",
    "write_video",
]
