"""maskvat bench lab: retrieval pieces alone, then the whole table on a tiny lab with a tiny model."""

import json

import pytest
import torch
from model_helpers import save_tiny_model

from maskvat.cli.main import main
from maskvat.data.extract import ExtractConfig, extract
from maskvat.errors import MaskvatError
from maskvat.evaluation.bench import (
    Row,
    markdown_table,
    nearest,
    parse_model_arg,
    pooled,
    run_lab_bench,
)
from maskvat.lab.build import build_split
from maskvat.media import read_audio
from maskvat.model.maskvat import MaskVAT
from maskvat.sampling.sampler import SamplerSettings


def test_nearest_picks_the_most_similar_key():
    keys = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    query = torch.tensor([[0.1, 2.0], [3.0, 0.2], [-0.5, -0.1]])
    assert nearest(query, keys).tolist() == [1, 0, 2]


def test_pooled_weighs_each_stream_equally_whatever_its_scale():
    sem = torch.zeros(2, 5, 3)
    sem[0, :, 0], sem[1, :, 1] = 100.0, 0.01
    sync = torch.ones(2, 7, 4)
    d = pooled(sem, sync)
    assert d.shape == (2, 7)
    assert torch.allclose(d[:, :3].norm(dim=-1), torch.ones(2)) and torch.allclose(d[:, 3:].norm(dim=-1), torch.ones(2))
    with pytest.raises(MaskvatError):
        pooled(None, None)


def test_parse_model_arg():
    assert parse_model_arg("Hybrid=runs/h/model") == ("Hybrid", "runs/h/model")
    assert parse_model_arg("lab") == ("lab", "lab")
    with pytest.raises(MaskvatError):
        parse_model_arg("=runs/x")


def test_markdown_table_marks_missing_values_and_beams():
    res = {"n_clips": 2, "seed": 0, "settings": {"steps": 32, "guidance": 3.0, "diversity": 8.0},
           "rows": [{"name": "codec reconstruct", "fdd": 0.5, "onset_f1": 0.9, "beams": 1},
                    {"name": "M", "fdd": 1.25, "seconds_per_clip": 2.0, "beams": 10}]}
    lines = markdown_table(res).splitlines()
    assert lines[2].startswith("| codec reconstruct | 0.500 | - |")
    assert lines[3].startswith("| M, B = 10 | 1.250 |") and lines[3].endswith("| 2.000 |")
    assert "Sampler settings each model row" not in markdown_table(res)  # MaskVAT rows only: the common line says it


def test_markdown_table_names_each_familys_settings_when_families_mix():
    """issue 25's trial: a V-AURA row beside MaskVAT's was recorded with MaskVAT's N and delta only."""
    from maskvat.sampling.settings import SamplerSettings

    s = SamplerSettings(top_k=64)
    res = {"n_clips": 2, "seed": 0, "settings": {"steps": 32, "guidance": 3.0, "diversity": 8.0},
           "rows": [{"name": "A", "settings": s.read_by("maskvat")}, {"name": "V", "settings": s.read_by("vaura")},
                    {"name": "F", "settings": s.read_by("vtaldm")}]}
    last = markdown_table(res).splitlines()[-1]
    assert last == ("Sampler settings each model row's family read: A: guidance 3.0, steps 32, diversity 8.0, "
                    "temperature 1.0; V: guidance 3.0, temperature 1.0, top_k 64, top_p the model default; "
                    "F: guidance 3.0, steps 32, solver the model default.")


@pytest.fixture(scope="module")
def tiny_lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("benchlab")
    save_tiny_model(root, max_frames=200)
    cfg = MaskVAT.from_pretrained(root / "generator").config
    lab = root / "lab"
    build_split(lab, "test", 2, seed=4, duration=2.0, bank="procedural", workers=1, progress=False)
    build_split(lab, "train", 3, seed=4, duration=2.0, bank="procedural", workers=1, progress=False)
    settings = ExtractConfig(clip_seconds=2.0, codec=str(root / "codec"), silence_dbfs=None, semantic=cfg.semantic_encoder,
                             sync=cfg.sync_encoder, audio=cfg.audio_encoder)
    for split in ("test", "train"):
        extract([lab / split], lab / "cache" / split, settings, progress=False)
    return root


def test_bench_lab_writes_table_json_and_page(tiny_lab, tmp_path, one_torch_thread):
    out = tmp_path / "bench"
    rows = [Row("codec reconstruct", "codec"), Row("retrieval", "retrieval"),
            Row("Tiny", "model", str(tiny_lab))]
    res = run_lab_bench(tiny_lab / "lab", rows, out, n=2, settings=SamplerSettings(steps=2),
                        codec=str(tiny_lab / "codec"), judge=None, html_clips=1, progress=False)
    assert [r["name"] for r in res["rows"]] == ["codec reconstruct", "retrieval", "Tiny"]
    for r in res["rows"]:
        assert r["n_files"] == 2 and r["fdd"] >= 0 and r["fdm"] >= 0 and r["onset_f1"] is not None
        assert len(list((out / r["dir"]).glob("*.wav"))) == 2
    # retrieval copies the true sound of a training clip, sample for sample
    test_clip, train_clip = next(iter(res["rows"][1]["retrieved"].items()))
    got = read_audio(out / "rows" / "retrieval" / f"{test_clip}.wav")
    want = read_audio(tiny_lab / "lab" / "train" / f"{train_clip}.mp4")
    assert got.shape == want.shape and abs(got - want).max() < 1e-3
    assert res["rows"][2]["seconds_per_clip"] > 0 and "seconds_per_clip" not in res["rows"][0]
    # each model row records the settings its family read (a MaskVAT row: N, gamma, delta, temperature)
    assert res["rows"][2]["settings"] == {"guidance": 3.0, "steps": 2, "diversity": 8.0, "temperature": 1.0}
    assert "settings" not in res["rows"][0]
    assert json.loads((out / "results.json").read_text())["n_clips"] == 2
    assert "| Tiny |" in (out / "table.md").read_text()
    page = (out / "index.html").read_text()
    assert page.count("<audio") == 3 and "<video" in page and len(list((out / "media").glob("*.png"))) == 3


def test_bench_cli_refuses_a_folder_without_a_lab(tmp_path, capsys):
    assert main(["bench", "lab", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "manifest.json" in capsys.readouterr().err


def test_bench_cli_best_must_name_a_model_row(tiny_lab, tmp_path, capsys):
    argv = ["bench", "lab", str(tiny_lab / "lab"), "--out", str(tmp_path / "o"), "--model", f"A={tiny_lab / 'model'}",
            "--best", "B"]
    assert main(argv) == 2
    assert "--best B" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_rescore_keeps_the_sound_and_the_times(tiny_lab, tmp_path, one_torch_thread):
    out = tmp_path / "bench"
    rows = [Row("Tiny", "model", str(tiny_lab))]
    kw = dict(n=2, settings=SamplerSettings(steps=2), codec=str(tiny_lab / "codec"), judge=None, html_clips=0,
              progress=False)
    first = run_lab_bench(tiny_lab / "lab", rows, out, **kw)
    wav = next((out / "rows" / "tiny").glob("*.wav"))
    stamp = wav.stat().st_mtime_ns
    again = run_lab_bench(tiny_lab / "lab", rows, out, rescore=True, **kw)
    assert wav.stat().st_mtime_ns == stamp  # not generated again
    assert again["rows"][0]["seconds_per_clip"] == first["rows"][0]["seconds_per_clip"]
    assert again["rows"][0]["settings"] == first["rows"][0]["settings"]
    assert again["rows"][0]["fdd"] == pytest.approx(first["rows"][0]["fdd"])
