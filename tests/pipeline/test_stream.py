"""Long videos in bounded memory (issue 22): the sound decoded piece by piece as windows finish,
written to its file as it is made, and muxed from that file; the same sound as one decode."""

import av
import numpy as np
import pytest
import soundfile as sf
import torch
from model_helpers import save_tiny_model

import maskvat.pipeline.generate as generate_module
from maskvat.cli.main import main
from maskvat.codec.tokenizer import AudioTokenizer
from maskvat.errors import MaskvatError
from maskvat.media import SoundWriter, mux_audio, read_audio
from maskvat.pipeline.generate import Pipeline, codec_decoder_reach
from maskvat.pipeline.stream import SoundStream
from maskvat.sampling.sampler import SamplerSettings

PCM16 = 1.0 / 32768


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("stream"))


@pytest.fixture(scope="module")
def codec():
    return AudioTokenizer.from_preset("tiny", seed=0)


def random_codes(codec, batch, frames, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, codec.codebook_size, (batch, codec.n_levels, frames), generator=g)


def test_a_piece_decoded_with_the_reach_as_context_equals_the_whole_decode(codec, one_torch_thread):
    codes = random_codes(codec, 2, 120)
    whole = codec.decode(codes)
    reach, hop = codec_decoder_reach(codec), codec.hop_length
    assert reach > 0
    piece = codec.decode_frames(codes, 40, 70, reach)
    assert piece.shape == (2, 30 * hop)
    torch.testing.assert_close(piece, whole[:, 40 * hop:70 * hop], atol=1e-5, rtol=1e-4)
    short = codec.decode_frames(codes, 40, 70, 0)  # no context: the piece's edges are wrong
    assert (short - whole[:, 40 * hop:70 * hop]).abs().max() > 1e-3
    with pytest.raises(MaskvatError, match="cannot decode frames"):
        codec.decode_frames(codes, 70, 40, reach)


def test_sound_stream_hands_out_only_final_samples_in_order(codec, one_torch_thread):
    codes = random_codes(codec, 2, 150, seed=1)
    n = 150 * codec.hop_length - 100
    whole = codec.decode(codes, num_samples=n)
    reach = codec_decoder_reach(codec)
    pieces = [[], []]
    stream = SoundStream(codec, codes, n, reach, [pieces[0].append, pieces[1].append])
    stream.final_until(reach)  # nothing is final beyond the context yet
    assert pieces == [[], []]
    stream.final_until(60)
    assert sum(map(len, pieces[0])) == (60 - reach) * codec.hop_length
    stream.final_until(61)
    stream.final_until(130)
    stream.finish()
    for row, got in zip(whole, pieces):
        joined = np.concatenate(got)
        assert joined.shape == (n,)
        np.testing.assert_allclose(joined, row.numpy(), atol=1e-5)


def test_generate_to_writes_the_sound_generate_returns(tiny_model, make_video, tmp_path, one_torch_thread):
    video = make_video("long.mp4", 60, 25.0)  # 2.4 s: 207 frames, windows of 40
    pipe = Pipeline.load(tiny_model)
    s = SamplerSettings(steps=2)
    ref = pipe.generate(video, settings=s, seed=4, overlap=0.2)
    assert len(ref.windows) >= 6
    handed = []
    real = SoundStream._emit

    def spy(self, upto):
        before = self.done
        real(self, upto)
        if self.done > before:
            handed.append(self.done)

    SoundStream._emit = spy
    try:
        out = pipe.generate_to(video, tmp_path / "long.wav", settings=s, seed=4, overlap=0.2, comment="span 0")
    finally:
        SoundStream._emit = real
    assert out.wav is None and torch.equal(out.codes, ref.codes) and out.windows == ref.windows
    assert len(handed) >= len(ref.windows) - 1  # a piece after each window, not one at the end
    wav, rate = sf.read(tmp_path / "long.wav", dtype="float32")
    assert rate == 44100 and wav.shape == ref.wav.shape
    np.testing.assert_allclose(wav, np.clip(ref.wav, -1, 1 - PCM16), atol=PCM16 * 0.5 + 1e-5)


def test_an_interrupted_generate_to_leaves_no_file_and_the_old_one_as_it_was(tiny_model, make_video, tmp_path,
                                                                              monkeypatch, one_torch_thread):
    video = make_video("long.mp4", 60, 25.0)
    pipe = Pipeline.load(tiny_model)
    target = tmp_path / "take.wav"
    target.write_bytes(b"an earlier take")
    calls = []
    real = SoundWriter.write

    def interrupted(self, wav):
        calls.append(len(wav))
        if len(calls) == 2:
            raise KeyboardInterrupt
        real(self, wav)

    monkeypatch.setattr(SoundWriter, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pipe.generate_to(video, target, settings=SamplerSettings(steps=1), overlap=0.2)
    assert len(calls) == 2  # stopped mid-way, after a piece was written
    assert target.read_bytes() == b"an earlier take"
    assert [p.name for p in tmp_path.iterdir() if p.name != "long.mp4"] == ["take.wav"]  # no partial file


def test_a_long_in_memory_decode_goes_in_pieces_with_the_same_samples(tiny_model, make_video, monkeypatch,
                                                                      one_torch_thread):
    video = make_video("long.mp4", 60, 25.0)
    pipe = Pipeline.load(tiny_model)
    s = SamplerSettings(steps=1)
    whole = pipe.generate(video, settings=s, seed=2, overlap=0.2)
    decodes = []
    real = pipe.codec.decode
    monkeypatch.setattr(pipe.codec, "decode", lambda codes, *a, **k: decodes.append(codes.shape[-1]) or
                        real(codes, *a, **k))
    monkeypatch.setattr(generate_module, "DECODE_PIECE", 64)
    pieces = pipe.generate(video, settings=s, seed=2, overlap=0.2)
    assert torch.equal(whole.codes, pieces.codes)
    assert len(decodes) >= 3 and max(decodes) <= 64 + 2 * pipe.decoder_reach
    np.testing.assert_allclose(pieces.wav, whole.wav, atol=1e-5)


@pytest.mark.parametrize("suffix", [".mp4", ".webm"])  # aac; opus (resampled to 48 kHz piece by piece)
def test_mux_from_a_sound_file_equals_mux_from_its_samples(make_video, tmp_path, suffix):
    codec = "libvpx-vp9" if suffix == ".webm" else "libx264"
    src = tmp_path / f"v{suffix}"
    from maskvat.media import write_video
    write_video(src, np.full((50, 32, 32, 3), 128, np.uint8), 25.0, video_codec=codec)  # 2 s
    t = np.arange(int(1.5 * 44100)) / 44100
    wav = (0.3 * np.sin(2 * np.pi * 440 * t) * (t > 0.5)).astype(np.float32)
    with SoundWriter(tmp_path / "s.wav", 44100) as out:
        for piece in np.array_split(wav, 7):
            out.write(piece)
    mux_audio(src, tmp_path / "s.wav", 44100, tmp_path / f"from_file{suffix}", start=0.25)
    mux_audio(src, wav, 44100, tmp_path / f"from_array{suffix}", start=0.25)
    a = read_audio(tmp_path / f"from_file{suffix}")
    b = read_audio(tmp_path / f"from_array{suffix}")
    assert a.shape == b.shape == (2 * 44100,)
    assert np.abs(a[:int(0.7 * 44100)]).max() < 0.01  # silent before start + 0.5 s
    assert np.abs(a[int(0.8 * 44100):int(1.7 * 44100)]).max() > 0.2
    assert np.abs(a - b).max() < 0.02
    with pytest.raises(MaskvatError, match="mono at 44100 Hz"):
        sf.write(tmp_path / "stereo.wav", np.zeros((100, 2), np.float32), 44100)
        mux_audio(src, tmp_path / "stereo.wav", 44100, tmp_path / f"bad{suffix}")
    assert not (tmp_path / f"bad{suffix}").exists()


def test_cli_streams_a_long_video_and_muxes_it_from_the_file(tiny_model, make_video, tmp_path, capsys,
                                                             one_torch_thread):
    video = make_video("long.mp4", 60, 25.0)
    out = tmp_path / "out"
    assert main(["generate", str(video), "-o", str(out), "--model", str(tiny_model), "--steps", "1"]) == 0
    err = capsys.readouterr().err
    assert "s of video" in err  # progress in seconds of video
    wav = read_audio(out / "long.wav")
    sound = read_audio(out / "long_maskvat.mp4")
    assert wav.shape == sound.shape == (int(round(2.4 * 44100)),)
    with av.open(str(out / "long_maskvat.mp4")) as c:
        assert len(c.streams.audio) == 1
