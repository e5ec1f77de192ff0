"""``maskvat codec encode|decode``: audio <-> a codes file."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    from maskvat.codec.presets import DEFAULT_CODEC

    p = sub.add_parser("codec", help="encode audio to DAC codes, or decode codes to audio")
    csub = p.add_subparsers(dest="codec_command", metavar="ACTION", required=True)

    enc = csub.add_parser("encode", help="audio (or a video's sound) -> codes file (.safetensors)")
    enc.add_argument("audio", metavar="AUDIO", help="an audio or video file")
    enc.add_argument("-o", "--output", required=True, help="codes file to write (.safetensors)")
    _codec_options(enc, DEFAULT_CODEC)
    enc.set_defaults(func=run_encode)

    dec = csub.add_parser("decode", help="codes file -> audio (.wav or .flac)")
    dec.add_argument("codes", metavar="CODES", help="a codes file written by `maskvat codec encode`")
    dec.add_argument("-o", "--output", required=True, help="audio file to write (.wav or .flac)")
    _codec_options(dec, DEFAULT_CODEC)
    dec.set_defaults(func=run_decode)


def _codec_options(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("--codec", default=default,
                        help=f"a saved codec folder or a hub id (default {default}, the paper's)")
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda, ...)")


def run_encode(args: argparse.Namespace) -> int:
    from maskvat.codec import AudioTokenizer, save_codes
    from maskvat.errors import MaskvatError
    from maskvat.media import read_audio

    if not str(args.output).endswith(".safetensors"):
        raise MaskvatError(f"{args.output}: codes files end in .safetensors")
    tokenizer = AudioTokenizer.from_pretrained(args.codec, device=args.device)
    wav = read_audio(args.audio, sample_rate=tokenizer.sample_rate)
    codes = tokenizer.encode(wav)[0]
    save_codes(
        args.output,
        codes.cpu(),
        codec_name=tokenizer.name,
        sample_rate=tokenizer.sample_rate,
        hop_length=tokenizer.hop_length,
        num_samples=len(wav),
    )
    k, length = codes.shape
    print(f"{args.output}: codes [K={k}, L={length}] for {len(wav) / tokenizer.sample_rate:.3f} s "
          f"at {tokenizer.frame_rate:.2f} frames/s (codec {tokenizer.name})")
    return 0


def run_decode(args: argparse.Namespace) -> int:
    from maskvat.codec import AudioTokenizer, load_codes
    from maskvat.errors import MaskvatError
    from maskvat.media import write_audio

    codes, meta = load_codes(args.codes)
    tokenizer = AudioTokenizer.from_pretrained(args.codec, device=args.device)
    if meta["codec_name"] != tokenizer.name:
        print(f"maskvat: warning: {args.codes} was encoded with codec {meta['codec_name']!r}, "
              f"decoding with {tokenizer.name!r}", file=sys.stderr)
    if meta["sample_rate"] != tokenizer.sample_rate or meta["hop_length"] != tokenizer.hop_length:
        raise MaskvatError(f"{args.codes}: codes are for {meta['sample_rate']} Hz / hop {meta['hop_length']}, "
                           f"the codec is {tokenizer.sample_rate} Hz / hop {tokenizer.hop_length}")
    if codes.ndim == 2:
        codes = codes[None]
    wav = tokenizer.decode(codes, num_samples=meta["num_samples"])[0].cpu().numpy()
    write_audio(args.output, wav, tokenizer.sample_rate)
    print(f"{args.output}: {len(wav) / tokenizer.sample_rate:.3f} s at {tokenizer.sample_rate} Hz")
    return 0
