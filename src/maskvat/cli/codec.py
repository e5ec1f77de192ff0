"""``maskvat codec encode|decode``: audio <-> a codes file (DAC codegram + metadata).

    maskvat codec encode clip.mp4 -o clip.safetensors [--codec NAME_OR_PATH]
    maskvat codec decode clip.safetensors -o clip.wav [--codec NAME_OR_PATH]
    maskvat codec train --data DIR --out RUN [--adversarial-start N] [--init-from CODEC_DIR --freeze-encoder]

Outputs are checked (suffix, folder) before the codec loads, and written atomically.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# Kept here, not imported, so that building the CLI parser does not load torch and
# transformers (tests/cli/test_codec_cli.py checks it equals maskvat.codec.DEFAULT_CODEC).
DEFAULT_CODEC = "lab"

CODES_SUFFIXES = (".safetensors",)
AUDIO_SUFFIXES = (".wav", ".flac")


def register(sub: argparse._SubParsersAction) -> None:

    p = sub.add_parser("codec", help="encode audio to DAC codes, or decode codes to audio")
    csub = p.add_subparsers(dest="codec_command", metavar="ACTION", required=True)

    enc = csub.add_parser("encode", help="audio (or a video's sound) -> codes file (.safetensors)")
    enc.add_argument("audio", metavar="AUDIO", help="an audio or video file (its first audio stream, as mono 44.1 kHz)")
    enc.add_argument("-o", "--output", required=True, help="codes file to write (.safetensors)")
    _codec_options(enc, DEFAULT_CODEC)
    enc.set_defaults(func=run_encode)

    dec = csub.add_parser("decode", help="codes file -> audio (.wav or .flac)")
    dec.add_argument("codes", metavar="CODES", help="a codes file written by `maskvat codec encode`")
    dec.add_argument("-o", "--output", required=True, help="audio file to write (.wav or .flac)")
    _codec_options(dec, DEFAULT_CODEC)
    dec.set_defaults(func=run_decode)

    tr = csub.add_parser("train", help="train a DAC-architecture codec on folders of sound/video files (resumes)")
    tr.add_argument("--data", nargs="+", required=True, metavar="DIR", help="folders (searched recursively, links followed)")
    tr.add_argument("--out", required=True, help="run folder: config.json, checkpoint.pt, log.csv, curves.png, codec/")
    tr.add_argument("--config", default=None, help="a JSON training config (CodecTrainConfig); flags override it")
    tr.add_argument("--preset", default=None, help="architecture (codec presets: lab, tiny, dac_44khz; default lab)")
    tr.add_argument("--steps", type=int, default=None, help="default 5000")
    tr.add_argument("--batch", type=int, default=None, help="default 8")
    tr.add_argument("--segment", type=int, default=None, help="samples per training crop (multiple of 512; default 8192)")
    tr.add_argument("--lr", type=float, default=None, help="default 7e-4")
    tr.add_argument("--bypass-steps", type=int, default=None, help="warm-up steps with the quantizer bypassed (default 300)")
    tr.add_argument("--warmup-steps", type=int, default=None, help="linear learning-rate warm-up (default 300)")
    tr.add_argument("--seed", type=int, default=None)
    tr.add_argument("--adversarial-start", type=int, default=None, metavar="N",
                    help="from step N on, train DAC's discriminators and add the adversarial and feature-matching "
                         "losses (0, the default: off); switch on once reconstruction has converged")
    tr.add_argument("--disc-width", type=float, default=None,
                    help="channel multiplier of the discriminators (1.0: DAC's size, 42.5 M weights; default 0.25)")
    tr.add_argument("--lambda-tone", type=float, default=None, metavar="W",
                    help="weight of the narrowband-excess loss: spectral lines the input lacks, at any frequency "
                         "(default 0: off)")
    tr.add_argument("--init-from", default=None, metavar="CODEC_DIR",
                    help="start from an existing codec: a codec folder, 'lab' (the shipped one), or a run folder; "
                         "no bypass warm-up or k-means then (--preset must match its architecture)")
    tr.add_argument("--loud-crops", type=float, default=None, metavar="FRACTION",
                    help="fraction of each batch's crops placed on a loud moment (default 0: all at random); "
                         "for footage of sparse loud events, e.g. 0.5")
    tr.add_argument("--freeze-encoder", action="store_true", default=None,
                    help="train only the decoder of the --init-from codec: encoder and codebooks stay bit-identical, "
                         "so its codes (and models trained on them) stay valid")
    tr.add_argument("--device", default="cpu")
    tr.set_defaults(func=run_train)

    ex = csub.add_parser("export", help="write a training run's current weights as a codec folder")
    ex.add_argument("run", help="a `codec train` run folder")
    ex.add_argument("-o", "--output", required=True, help="codec folder to write")
    ex.add_argument("--half", action="store_true", help="fp16 weights (half the size; for shipping)")
    ex.set_defaults(func=run_export)

    ev = csub.add_parser("eval", help="round-trip quality on a file or folder: mel distance, SI-SDR, added tones, "
                                      "code usage, opus anchors")
    ev.add_argument("--audio", required=True, metavar="FILE_OR_DIR",
                    help="an audio/video file or a folder of them, searched recursively (a lab split adds onset F1)")
    ev.add_argument("--limit", type=int, default=None, help="first N files only")
    ev.add_argument("--no-anchors", action="store_true", help="skip the libopus anchors")
    ev.add_argument("--json", action="store_true", help="print JSON (the codec's scores under \"codec\")")
    _codec_options(ev, DEFAULT_CODEC)
    ev.set_defaults(func=run_eval)


def _codec_options(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("--codec", default=default, metavar="NAME_OR_PATH",
                        help="'lab' (shipped, the default), a saved codec folder, a hub id, or dac_44khz "
                             "(the paper's descript/dac_44khz)")
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda, ...)")


def run_encode(args: argparse.Namespace) -> int:
    """AUDIO -> codes [K, L] saved with the codec name, rates and the audio length."""
    from maskvat.codec import AudioTokenizer, save_codes
    from maskvat.media import read_audio

    _check_output(args.output, CODES_SUFFIXES)
    tokenizer = AudioTokenizer.from_pretrained(args.codec, device=args.device)
    wav = read_audio(args.audio, sample_rate=tokenizer.sample_rate)  # [T]
    if len(wav) == 0:
        from maskvat.errors import MediaError

        raise MediaError(args.audio, "has no audio samples")
    codes = tokenizer.encode(wav)[0].cpu()  # [K, L]
    save_codes(args.output, codes, codec_name=tokenizer.name, sample_rate=tokenizer.sample_rate,
               hop_length=tokenizer.hop_length, num_samples=len(wav))
    k, length = codes.shape
    print(f"{args.output}: codes [K={k}, L={length}] for {len(wav) / tokenizer.sample_rate:.3f} s "
          f"at {tokenizer.frame_rate:.2f} frames/s (codec {tokenizer.name})")
    return 0


def run_decode(args: argparse.Namespace) -> int:
    """CODES -> audio of the originally encoded length."""
    from maskvat.codec import AudioTokenizer, load_codes
    from maskvat.errors import MediaError
    from maskvat.media import write_audio

    _check_output(args.output, AUDIO_SUFFIXES)
    codes, meta = load_codes(args.codes)
    codes = _single_codegram(args.codes, codes)  # [1, K, L]
    tokenizer = AudioTokenizer.from_pretrained(args.codec, device=args.device)
    if (meta["sample_rate"], meta["hop_length"], codes.shape[1]) != (
            tokenizer.sample_rate, tokenizer.hop_length, tokenizer.n_levels):
        raise MediaError(args.codes, f"codes are for {meta['sample_rate']} Hz, hop {meta['hop_length']}, "
                         f"K={codes.shape[1]}; the codec is {tokenizer.sample_rate} Hz, hop {tokenizer.hop_length}, "
                         f"K={tokenizer.n_levels}")
    if meta["codec_name"] != tokenizer.name:
        print(f"maskvat: warning: {args.codes} was encoded with codec {meta['codec_name']!r}, "
              f"decoding with {tokenizer.name!r}", file=sys.stderr)
    num_samples = min(meta["num_samples"], codes.shape[-1] * tokenizer.hop_length)
    wav = tokenizer.decode(codes, num_samples=num_samples)[0].cpu().numpy()
    write_audio(args.output, wav, tokenizer.sample_rate)
    print(f"{args.output}: {len(wav) / tokenizer.sample_rate:.3f} s at {tokenizer.sample_rate} Hz "
          f"(codec {tokenizer.name})")
    return 0


def _single_codegram(path: str, codes):
    """codes [K, L] or [1, K, L] -> [1, K, L]; a file holding several codegrams is refused."""
    from maskvat.errors import MediaError

    if codes.ndim == 2:
        return codes[None]
    if codes.shape[0] != 1:
        raise MediaError(path, f"holds {codes.shape[0]} codegrams [B, K, L]; decode expects one")
    return codes


def _check_output(path: str, suffixes: tuple[str, ...]) -> None:
    """Refuse an output path with the wrong suffix or in a missing folder, before any work."""
    from maskvat.errors import MediaError

    out = Path(path)
    if out.suffix.lower() not in suffixes:
        raise MediaError(path, f"output must end in {' or '.join(suffixes)}")
    if not out.parent.is_dir():
        raise MediaError(path, f"cannot write: folder {out.parent} does not exist")


# the command's defaults where they differ from CodecTrainConfig's (a longer first stage, shorter crops)
CLI_DEFAULTS = {"preset": "lab", "steps": 5000, "batch_size": 8, "segment": 8192, "lr": 7e-4, "bypass_steps": 300,
                "warmup": 300}


def run_train(args: argparse.Namespace) -> int:
    import json

    from maskvat.data.corpus import AudioCorpus
    from maskvat.train.codec import CodecTrainConfig, CodecTrainer, check_config

    flags = {"preset": args.preset, "steps": args.steps, "batch_size": args.batch, "segment": args.segment,
             "lr": args.lr, "bypass_steps": args.bypass_steps, "warmup": args.warmup_steps, "seed": args.seed,
             "adversarial_start": args.adversarial_start, "disc_width": args.disc_width, "init_from": args.init_from,
             "freeze_encoder": args.freeze_encoder, "lambda_tone": args.lambda_tone,
             "loud_crops": args.loud_crops}
    if args.config:
        cfg = CodecTrainConfig.from_file(args.config, **flags)
    else:
        cfg = CodecTrainConfig.from_dict({**CLI_DEFAULTS, **{k: v for k, v in flags.items() if v is not None}})
    check_config(cfg)  # before the corpus loads
    corpus = AudioCorpus.from_dirs(args.data)
    print(f"corpus: {len(corpus.waves)} files, {corpus.seconds / 60:.1f} min ({len(corpus.skipped)} skipped)")
    print(json.dumps(CodecTrainer(cfg, args.out, corpus).run(device=args.device), indent=1))
    return 0


def run_export(args: argparse.Namespace) -> int:
    from maskvat.train.codec import export_from_run

    export_from_run(args.run, args.output, half=args.half)
    print(f"wrote {args.output}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    import json

    from maskvat.codec.tokenizer import AudioTokenizer
    from maskvat.errors import MediaError
    from maskvat.evaluation.codec import evaluate_codec, format_report
    from maskvat.evaluation.tones import format_tone_report

    if not Path(args.audio).exists():
        raise MediaError(args.audio, "no such file or folder")
    tok = AudioTokenizer.from_pretrained(args.codec, device=args.device)
    result = evaluate_codec(tok, args.audio, limit=args.limit, anchors=not args.no_anchors)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(format_report(result, tok.name))
        print("\n".join(format_tone_report(result["added_tones"])))
    return 0
