"""``maskvat fit``: the whole stack from a few seconds of generated footage (mixed frame rates, sizes,
mono/stereo, 44.1/48 kHz), with configs/fit-debug.json; resumes; refuses files without sound."""

import json
import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from safetensors.torch import load_file

import maskvat
from maskvat.cli.main import main
from maskvat.errors import MaskvatError
from maskvat.media import probe, write_video
from maskvat.train import fit as fit_module
from maskvat.train.fit import STAGES, FitConfig, choose_split, fit

REPO = Path(__file__).parents[2]
DEBUG = REPO / "configs" / "fit-debug.json"
# (name, seconds, fps, width x height, sample rate, channels): footage as it comes
FOOTAGE = [("a_25fps_mono44k.mp4", 2.4, 25, (48, 32), 44100, 1),
           ("b_2997fps_stereo48k.mp4", 2.2, Fraction(30000, 1001), (40, 32), 48000, 2),
           ("c_25fps_stereo44k.mov", 2.0, 25, (48, 32), 44100, 2),
           ("d_2997fps_mono48k.mp4", 2.3, Fraction(30000, 1001), (32, 32), 48000, 1)]


def write_footage(path: Path, seconds: float, fps, size, sr: int, channels: int, seed: int) -> Path:
    """A bright square flashes where a stick hits, and a click sounds at each hit (room noise between)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * float(fps))
    hits = np.sort(rng.uniform(0.1, seconds - 0.1, size=5))
    w, h = size
    frames = rng.integers(20, 40, size=(n, h, w, 3), dtype=np.uint8)
    for t in hits:
        k = int(t * float(fps))
        x = int(rng.integers(0, w - 8))
        frames[k:k + 2, 8:16, x:x + 8] = 230
    audio = (0.01 * rng.standard_normal((channels, int(seconds * sr)))).astype(np.float32)
    for t in hits:
        s = int(t * sr)
        burst = 0.6 * np.exp(-np.arange(2000) / 300) * rng.standard_normal(2000)
        audio[:, s:s + 2000] += burst[: audio.shape[1] - s].astype(np.float32)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        a = out.add_stream("aac", rate=sr, layout="stereo" if channels == 2 else "mono")
        for img in frames:
            for packet in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        for i in range(0, audio.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio[:, i:i + 1024]), format="fltp",
                                               layout=a.layout.name)
            frame.sample_rate, frame.pts = sr, i
            for packet in a.encode(frame):
                out.mux(packet)
        for packet in a.encode():
            out.mux(packet)
    return path


@pytest.fixture(scope="module")
def footage(tmp_path_factory):
    folder = tmp_path_factory.mktemp("footage")
    return [write_footage(folder / name, sec, fps, size, sr, ch, seed=i)
            for i, (name, sec, fps, size, sr, ch) in enumerate(FOOTAGE)]


@pytest.fixture(scope="module")
def fitted(footage, tmp_path_factory, one_torch_thread):
    """One uninterrupted fit through the command line."""
    model = tmp_path_factory.mktemp("fit") / "model"
    assert main(["fit", str(footage[0].parent), "--out", str(model), "--config", str(DEBUG), "--quiet",
                 "--device", "cpu"]) == 0
    return model


def generator_weights(model: Path) -> dict:
    return load_file(str(model / "generator" / "model.safetensors"))


def test_the_footage_is_mixed(footage):
    infos = [probe(p) for p in footage]
    assert {round(float(i.video.fps), 2) for i in infos} == {25.0, 29.97}
    assert {(i.audio.sample_rate, i.audio.channels) for i in infos} == {(44100, 1), (48000, 2), (44100, 2), (48000, 1)}


def test_fit_writes_a_pipeline_that_loads_and_generates(fitted, footage):
    index = json.loads((fitted / "model_index.json").read_text())
    for key in ("generator", "codec", "scav", "semantic", "sync", "audio"):
        assert not Path(index[key]).is_absolute() and (fitted / index[key]).is_dir(), key  # the folder can move
    split = json.loads((fitted / "fit" / "split.json").read_text())["files"]
    assert [len(split[p]) for p in ("train", "val", "test")] == [2, 1, 1]
    assert sorted(sum(split.values(), [])) == sorted(f"{footage[0].parent.name}/{p.name}" for p in footage)
    for stage in STAGES:
        assert json.loads((fitted / "fit" / stage / "done.json").read_text())["stage"] == stage
    for stage in ("codec", "sync", "semantic", "generator", "scav"):
        assert (fitted / "fit" / stage / "curves.png").stat().st_size > 1000, stage
    report = json.loads((fitted / "fit" / "codec" / "report.json").read_text())
    assert report["fitted"]["files"] == 1 and np.isfinite(report["fitted"]["mel_distance"])
    # every choice saved, and it reads back as the config it was
    saved = FitConfig.from_file(fitted / "fit" / "config.json")
    assert saved.to_dict() == FitConfig.from_file(DEBUG).to_dict()

    pipe = maskvat.load(str(fitted))
    assert pipe.model.config.semantic_encoder == "lab-semantic" and pipe.model.config.audio_encoder == "lab-audio"
    test_file = footage[0].parent / split["test"][0].split("/", 1)[1]
    from maskvat.sampling.sampler import SamplerSettings

    out = pipe.generate(str(test_file), settings=SamplerSettings(steps=4), beams=2, seed=0)
    assert out.wav.shape == (round(out.duration * 44100),) and np.isfinite(out.wav).all() and np.abs(out.wav).max() > 0
    assert len(out.windows) > 1 and len(out.beam_distances) == len(out.windows)  # SCAV chose among the beams


def test_caches_hold_train_and_val_files_only_and_the_test_file_nowhere(fitted):
    split = json.loads((fitted / "fit" / "split.json").read_text())["files"]
    for part in ("train", "val"):
        sources = set()
        for shard in (fitted / "fit" / "cache" / part / "shards").glob("*.safetensors"):
            from safetensors import safe_open

            with safe_open(str(shard), "pt") as f:
                sources |= {Path(c["source"]).name for c in json.loads(f.metadata()["clips"])}
        assert sources == {n.split("/", 1)[1] for n in split[part]}, part


def test_a_killed_fit_goes_on_skips_finished_stages_and_ends_where_an_uninterrupted_one_does(
        fitted, footage, tmp_path, monkeypatch, one_torch_thread):
    model = tmp_path / "model"
    cfg = FitConfig.from_file(DEBUG)
    first = fit([footage[0].parent], model, cfg, device="cpu", stop_after="semantic", progress=False, log=lambda s: None)
    assert first["stopped_after"] == "semantic" and not (model / "fit" / "cache" / "done.json").exists()
    assert not (model / "model_index.json").exists()
    # killed in the middle of the generator's training (Ctrl-C, mid-step)
    real = fit_module.GeneratorTrainer.batch
    calls = {"n": 0}

    def flaky(self, step):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(self, step)

    monkeypatch.setattr(fit_module.GeneratorTrainer, "batch", flaky)
    with pytest.raises(KeyboardInterrupt):
        fit([footage[0].parent], model, cfg, device="cpu", progress=False, log=lambda s: None)
    assert (model / "fit" / "generator" / "checkpoint.pt").is_file()
    monkeypatch.setattr(fit_module.GeneratorTrainer, "batch", real)
    lines = []
    last = fit([footage[0].parent], model, cfg, device="cpu", progress=False, log=lines.append)
    skipped = [s for s, r in last["stages"].items() if r["skipped"]]
    assert skipped == ["split", "codec", "sync", "semantic", "cache"]
    assert any("codec: finished before" in line for line in lines)
    a, b = generator_weights(fitted), generator_weights(model)
    assert a.keys() == b.keys() and all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
    # and a run of a finished fit does nothing at all
    again = fit([footage[0].parent], model, cfg, device="cpu", progress=False, log=lambda s: None)
    assert all(r["skipped"] for r in again["stages"].values())


@pytest.mark.parametrize("variant", ["debug-seq2seq", "debug-hybrid"])
def test_every_variant_fits(fitted, footage, tmp_path, variant, one_torch_thread):
    """The other two variants from the same earlier stages (copied), through to a pipeline that loads."""
    model = tmp_path / "model"
    shutil.copytree(fitted / "fit", model / "fit", ignore=shutil.ignore_patterns("generator", "scav", "pipeline"))
    data = json.loads(DEBUG.read_text())
    data["generator"]["model"] = variant
    cfg = FitConfig.from_dict(data)
    out = fit([footage[0].parent], model, cfg, device="cpu", progress=False, log=lambda s: None)
    assert [s for s, r in out["stages"].items() if not r["skipped"]] == ["generator", "scav", "pipeline"]
    pipe = maskvat.load(str(model))
    assert pipe.model.config.variant == variant.split("-", 1)[1]
    assert "contrastive" in json.loads((model / "fit" / "generator" / "done.json").read_text())["last_validation"]


def test_a_finished_stage_with_other_settings_stops_the_run_before_any_work(fitted, footage):
    data = json.loads(DEBUG.read_text())
    data["sync"]["steps"] = 4
    before = (fitted / "fit" / "config.json").read_text()
    with pytest.raises(MaskvatError, match=r"fit/sync: finished with other settings") as err:
        fit([footage[0].parent], fitted, FitConfig.from_dict(data), device="cpu", progress=False, log=lambda s: None)
    assert "changed since the last run: sync.steps)" in str(err.value)  # names what changed, and only that
    assert "stage folders after it (semantic, cache, generator, scav, pipeline)" in str(err.value)
    assert (fitted / "fit" / "config.json").read_text() == before


def test_a_video_without_sound_is_refused_up_front_with_one_line(footage, tmp_path, capsys):
    silent = tmp_path / "no_sound.mp4"
    write_video(silent, np.zeros((30, 32, 32, 3), np.uint8), 25)
    out = tmp_path / "model"
    rc = main(["fit", str(footage[0]), str(footage[1]), str(silent), str(footage[2]), "--out", str(out),
               "--config", str(DEBUG), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert err.startswith("maskvat: error: ") and "no_sound.mp4" in err and "no sound" in err
    assert not out.exists()  # refused before anything was written


def test_a_silent_sound_track_is_refused_before_training(footage, tmp_path, capsys):
    quiet = tmp_path / "quiet.mp4"
    write_video(quiet, np.zeros((30, 32, 32, 3), np.uint8), 25, audio=np.zeros(52920, np.float32))
    rc = main(["fit", str(footage[0]), str(footage[1]), str(footage[2]), str(quiet), "--out", str(tmp_path / "m"),
               "--config", str(DEBUG), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "quiet.mp4" in err and "silent" in err
    assert not (tmp_path / "m" / "fit" / "split.json").exists()


def test_a_folder_that_is_not_a_fit_is_never_written_into(footage, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(MaskvatError, match="not a maskvat fit folder"):
        fit([footage[0].parent], tmp_path / "mine", FitConfig.from_file(DEBUG), progress=False, log=lambda s: None)
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["notes.txt"]


def test_clips_longer_than_every_file_are_refused_before_the_codec_trains(footage, tmp_path, capsys):
    data = json.loads(DEBUG.read_text())
    data["clip_seconds"] = 3.0  # the footage's files are 2.0-2.4 s
    config = tmp_path / "long_clips.json"
    config.write_text(json.dumps(data))
    model = tmp_path / "model"
    assert main(["fit", str(footage[0].parent), "--out", str(model), "--config", str(config), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "clip_seconds 3: no train file is that long" in err
    assert not (model / "fit" / "codec").exists()


def test_the_split_is_by_file_seeded_and_honours_held_out_names():
    names = [f"v/{i:02d}.mp4" for i in range(23)]
    cfg = FitConfig(val_files=2, test_files=3)
    split = choose_split(names, cfg)
    assert [len(split[p]) for p in ("train", "val", "test")] == [18, 2, 3]
    assert sorted(sum(split.values(), [])) == sorted(names)
    assert choose_split(list(reversed(names)), cfg) == split  # the order given does not matter
    assert choose_split(names, FitConfig(val_files=2, test_files=3, seed=1)) != split
    held = choose_split(names, FitConfig(held_out=("v/05.mp4", "v/07.mp4")))
    assert held["test"] == ["v/05.mp4", "v/07.mp4"] and not set(held["test"]) & set(held["train"] + held["val"])
    with pytest.raises(MaskvatError, match="none to train on"):
        choose_split(names[:3], cfg)


def test_files_of_one_take_stay_in_one_part_of_the_split():
    """Greatest Hits style names: 2015-10-06-18-02-12-167 and -1 are two pieces of one recording."""
    takes = [f"2015-10-06-18-02-12-{k}_mic.mp4" for k in (1, 167, 900)] + [f"2015-02-{d:02d}-10-00-00_mic.mp4"
                                                                           for d in range(1, 11)]
    for seed in range(20):
        cfg = FitConfig(val_files=2, test_files=3, seed=seed, group_pattern=r"^\d{4}(-\d{2}){5}")
        split = choose_split(takes, cfg)
        assert sorted(sum(split.values(), [])) == sorted(takes)
        parts = {p for p, names in split.items() for n in names if n.startswith("2015-10-06")}
        assert len(parts) == 1, (seed, split)
    with pytest.raises(MaskvatError, match="not a regular expression"):
        FitConfig(group_pattern="(")


def test_config_refuses_unknown_keys_and_what_fit_sets_itself():
    with pytest.raises(MaskvatError, match="unknown.*nonsense"):
        FitConfig.from_dict({"nonsense": 1})
    with pytest.raises(MaskvatError, match="unknown.*stepz"):
        FitConfig.from_dict({"generator": {"stepz": 1}})
    with pytest.raises(MaskvatError, match="generator.train_cache set by fit"):
        FitConfig.from_dict({"generator": {"train_cache": "x"}})
    with pytest.raises(MaskvatError, match="model_overrides.semantic_dim set by fit"):
        FitConfig.from_dict({"generator": {"model_overrides": {"semantic_dim": 3}}})
    with pytest.raises(MaskvatError, match="shorter than the sync judge"):
        FitConfig.from_dict({"clip_seconds": 1.0})
    # a nested model dict changes only the keys it names
    cfg = FitConfig.from_dict({"sync": {"model": {"size": 96}}})
    assert cfg.sync.model["size"] == 96 and cfg.sync.model["dim"] == FitConfig().sync.model["dim"]
    assert FitConfig.from_dict({"codec": {"lr": 2e-4}}).codec.lr_end == pytest.approx(2e-5)  # lr * lr_min_ratio


@pytest.mark.parametrize("path", sorted(REPO.glob("configs/fit-*.json")), ids=lambda p: p.name)
def test_every_fit_config_loads(path):
    cfg = FitConfig.from_file(path)
    assert FitConfig.from_dict(cfg.to_dict()).to_dict() == cfg.to_dict()
    for section in ("codec", "sync", "semantic", "generator", "scav"):
        loop = getattr(cfg, section)
        assert loop.steps > loop.warmup, section


def test_the_cli_names_the_stages_fit_runs():
    from maskvat.cli import fit as cli_fit

    assert cli_fit.STAGES == STAGES


def test_fit_cpu_json_is_the_defaults_written_out():
    """configs/fit-cpu.json documents every default choice: it must not drift from FitConfig()."""
    assert FitConfig.from_file(REPO / "configs" / "fit-cpu.json").to_dict() == FitConfig().to_dict()
