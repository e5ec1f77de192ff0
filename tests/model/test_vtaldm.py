"""The VTA-LDM-style flow generator (maskvat.model.vtaldm): shapes, the visual memory (time and
type embeddings, [NULL]), batch independence, the flow path and loss, the temporal "concat"
augmentation, save/load by kind, the codec's quantiser on the latent."""

import json

import pytest
import torch

from maskvat.codec.tokenizer import AudioTokenizer
from maskvat.errors import MaskvatError
from maskvat.model.config import model_config
from maskvat.model.generators import generator_kind, load_generator
from maskvat.model.maskvat import MaskVAT
from maskvat.model.vtaldm import (
    VTALDM,
    VTALDM_CONFIGS,
    VTALDMConfig,
    flow_matching_loss,
    flow_path,
    temporal_concat,
    vtaldm_config,
)

H = 64  # the debug config's latent width (the tiny codec's hidden size)


def tiny(seed: int = 0, **overrides) -> VTALDM:
    """The debug model with every weight perturbed, so that the adaLN-Zero layers (zero at
    init) also act: an untrained model whose output depends on x, t and the video."""
    torch.manual_seed(seed)
    model = VTALDM(vtaldm_config("debug-vtaldm", **overrides))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model.eval()


def inputs(b: int = 2, length: int = 40, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, length, H, generator=g), torch.rand(b, generator=g),
            torch.randn(b, 4, 128, generator=g), torch.randn(b, 12, 64, generator=g))


def test_velocity_shape_and_it_reads_x_t_and_the_video(one_torch_thread):
    model = tiny()
    x, t, sem, syn = inputs()
    v = model(x, t, sem, syn)
    assert v.shape == (2, 40, H) and torch.isfinite(v).all()
    assert not torch.allclose(v, model(x, t.flip(0) * 0.5, sem, syn), atol=1e-5)  # time matters
    assert not torch.allclose(v, model(x, t, sem.flip(0), syn), atol=1e-5)  # the picture matters
    assert not torch.allclose(v, model(x, t, sem, syn, drop=torch.ones(2, dtype=torch.bool)), atol=1e-5)


def test_batch_equals_items_alone(one_torch_thread):
    model = tiny()
    x, t, sem, syn = inputs(b=3)
    both = model(x, t, sem, syn)
    for i in range(3):
        alone = model(x[i:i + 1], t[i:i + 1], sem[i:i + 1], syn[i:i + 1])
        torch.testing.assert_close(both[i:i + 1], alone, atol=1e-5, rtol=1e-4)


def test_memory_concatenates_the_streams_with_null_where_dropped():
    model = tiny()
    _, _, sem, syn = inputs()
    cfg = model.config
    length = 40
    n_sem, n_syn = cfg.tokens(cfg.semantic_fps, length), cfg.tokens(cfg.sync_fps, length)
    cond, null = model.condition_pair(sem, syn, length=length)
    assert cond.tokens.shape == (2, n_sem + n_syn, cfg.d_model)  # streams concatenated along the sequence
    assert not cond.drop.any() and null.drop.all()
    # [NULL] memory: the same for any video (only positions and types), and not the video's
    other = model.condition_pair(sem * 3 + 1, syn - 2, length=length)[1]
    torch.testing.assert_close(null.tokens, other.tokens)
    assert not torch.allclose(cond.tokens, null.tokens)
    # the time embedding: the same feature at two instants gives two tokens
    flat = model.condition(sem[:, :1].expand(-1, 4, -1).contiguous(), syn, length=length)
    assert not torch.allclose(flat.tokens[:, 0], flat.tokens[:, 1], atol=1e-4)


def test_sync_stream_is_optional_and_a_missing_stream_is_one_clear_error():
    model = tiny(use_sync=False)
    x, t, sem, _ = inputs()
    assert model(x, t, sem).shape == x.shape
    with pytest.raises(MaskvatError, match="semantic"):
        tiny()(x, t, None, inputs()[3])


def test_flow_path_is_the_straight_line():
    g = torch.Generator().manual_seed(0)
    x1, x0 = torch.randn(3, 5, 4, generator=g), torch.randn(3, 5, 4, generator=g)
    t = torch.tensor([0.0, 0.25, 1.0])
    xt, v = flow_path(x1, x0, t)
    torch.testing.assert_close(xt[0], x0[0])
    torch.testing.assert_close(xt[2], x1[2])
    torch.testing.assert_close(xt[1], 0.75 * x0[1] + 0.25 * x1[1])
    torch.testing.assert_close(v, x1 - x0)
    torch.testing.assert_close(xt[1] + 0.75 * v[1], x1[1])  # following v for the rest of the time lands on x1


def test_flow_loss_ignores_padded_frames_and_normalises_the_latent(one_torch_thread):
    model = tiny()
    g = torch.Generator().manual_seed(3)
    latent = torch.randn(2, H, 40, generator=g) * 5 + 2
    model.set_latent_stats(latent)
    torch.testing.assert_close(model.normalise(latent).mean((0, 1)), torch.zeros(H), atol=1e-4, rtol=0)
    torch.testing.assert_close(model.denormalise(model.normalise(latent)), latent, atol=1e-4, rtol=1e-4)
    noise, t = torch.randn(2, 40, H, generator=g), torch.rand(2, generator=g)
    _, _, sem, syn = inputs()
    drop = torch.zeros(2, dtype=torch.bool)
    valid = torch.ones(2, 40, dtype=torch.bool)
    valid[:, 30:] = False
    loss, terms = flow_matching_loss(model, latent, drop, t, noise, sem, syn, valid=valid)
    changed = latent.clone()
    changed[:, :, 30:] += 100.0  # padding: whatever it holds, the loss is the same
    again, _ = flow_matching_loss(model, changed, drop, t, noise, sem, syn, valid=valid)
    assert torch.isfinite(loss) and float(loss.detach()) > 0 and set(terms) == {"mse", "loss"}
    torch.testing.assert_close(loss, again)
    full, _ = flow_matching_loss(model, changed, drop, t, noise, sem, syn)
    assert float(full.detach()) > float(loss.detach()) * 10


def test_temporal_concat_splices_every_stream_at_the_same_instant():
    b = 3
    latent = torch.arange(b, dtype=torch.float32)[:, None, None].expand(b, 20, 2).clone()  # item id everywhere
    sem = torch.arange(b, dtype=torch.float32)[:, None, None].expand(b, 4, 3).clone()
    valid = torch.ones(b, 20, dtype=torch.bool)
    valid[2, 15:] = False
    partner = torch.tensor([2, 0, 1])
    cut = torch.tensor([0.5, 0.25, 0.5])
    splice = torch.tensor([True, False, True])
    out = temporal_concat({"latent": latent, "semantic": sem, "sync": None, "valid": valid}, partner, cut, splice)
    assert out["sync"] is None
    assert (out["latent"][0, :10] == 0).all() and (out["latent"][0, 10:] == 2).all()  # cut at half the window
    assert (out["semantic"][0, :2] == 0).all() and (out["semantic"][0, 2:] == 2).all()  # the same instant
    assert torch.equal(out["latent"][1], latent[1]) and torch.equal(out["semantic"][1], sem[1])  # not spliced
    assert (out["latent"][2, 10:] == 1).all() and out["valid"][2].all()  # the partner's frames, its validity
    assert not out["valid"][0, 15:].any() and out["valid"][0, :15].all()


def test_save_and_load_round_trip_by_kind(tmp_path, one_torch_thread):
    model = tiny()
    model.set_latent_stats(torch.randn(2, H, 40) * 3 + 1)
    model.save_pretrained(tmp_path / "m", half=False, extra={"steps": 7})
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    assert meta["kind"] == "vtaldm" and generator_kind(tmp_path / "m") == "vtaldm"
    loaded = load_generator(tmp_path / "m")
    assert isinstance(loaded, VTALDM) and loaded.config == model.config
    torch.testing.assert_close(loaded.latent_std, model.latent_std)
    x, t, sem, syn = inputs()
    torch.testing.assert_close(loaded(x, t, sem, syn), model(x, t, sem, syn))
    MaskVAT(model_config("debug-adaln-b")).save_pretrained(tmp_path / "mv")
    assert isinstance(load_generator(tmp_path / "mv"), MaskVAT)  # the other families still load by kind


def test_named_configs_and_budget():
    assert isinstance(model_config("lab-vtaldm"), VTALDMConfig)
    assert model_config("lab-vtaldm", d_model=64).d_model == 64
    lab = VTALDM(VTALDM_CONFIGS["lab-vtaldm"]).num_parameters()
    adaln = MaskVAT(model_config("lab-adaln-b")).num_parameters()
    assert abs(lab - adaln) / adaln < 0.05, (lab, adaln)  # the same budget as the lab AdaLN-B
    with pytest.raises(MaskvatError, match="solver"):
        vtaldm_config("lab-vtaldm", solver="rk4")
    with pytest.raises(MaskvatError, match="unknown model config"):
        model_config("lab-nope")


def test_nearest_codes_finds_the_codes_of_a_quantised_latent():
    import numpy as np

    tok = AudioTokenizer.from_pretrained("lab")  # the shipped codec: a trained one
    t = torch.arange(22050) / 44100
    wav = (0.3 * torch.sin(2 * np.pi * 440 * t) * (t % 0.125 < 0.03)
           + 0.05 * torch.randn(22050, generator=torch.Generator().manual_seed(0)))
    codes = tok.encode(wav)
    latent = tok.quantized(codes).detach()
    greedy, swept = tok.nearest_codes(latent, sweeps=0), tok.nearest_codes(latent)
    assert swept.shape == codes.shape and swept.dtype == torch.long
    error = lambda c: float((tok.quantized(c).detach() - latent).norm() / latent.norm())
    assert error(swept) < 0.05 < error(greedy)  # greedy alone is far off; the sweeps find (nearly) them
    assert (swept == codes).float().mean() > 0.9
    with pytest.raises(MaskvatError, match="latent must be"):
        tok.nearest_codes(torch.zeros(1, 3, 12))


def test_every_parameter_gets_a_gradient(one_torch_thread):
    """DDP without find_unused_parameters: one step touches every weight, dropped items or not."""
    model = tiny().train()
    x, t, sem, syn = inputs()
    latent = x.transpose(1, 2)
    for drop in ([False, False], [True, True]):
        model.zero_grad(set_to_none=True)
        loss, _ = flow_matching_loss(model, latent, torch.tensor(drop), t, torch.randn_like(x), sem, syn)
        loss.backward()
        missing = [n for n, p in model.named_parameters() if p.grad is None]
        assert not missing, (drop, missing)
