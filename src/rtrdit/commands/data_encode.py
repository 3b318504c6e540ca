"""`rtrdit data encode MANIFEST -o DIR`: precompute VAE latents and text embeddings into safetensors
shards with a progress bar; rerunning after a kill skips the shards already finished. Under torchrun
(`torchrun --nproc_per_node 8 -m rtrdit.cli data encode ... --device cuda`) every process takes its share
of the shards on its own GPU, and the result is the same as one process's."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("manifest", metavar="MANIFEST",
                        help="JSONL manifest (see `rtrdit data validate`), or the dataset folder `data build` wrote")
    parser.add_argument("-o", "--out", required=True, help="shard folder (shard-*.safetensors + index.json)")
    parser.add_argument("--codec", default="tiny",
                        help="latent codec: 'tiny' (shipped), a tiny-autoencoder or Wan VAE directory, or Wan2.1_VAE.pth")
    parser.add_argument("--text-encoder", default="minilm", help="'minilm' (shipped) or a local umT5 directory")
    parser.add_argument("--size", default=None, metavar="WxH",
                        help="resize/centre-crop frames to this size first (multiples of 8; default: as stored)")
    parser.add_argument("--clip-frames", type=int, default=None,
                        help="frames per encoded window, 1+4k (default: the whole clip)")
    parser.add_argument("--window-stride", type=int, default=None,
                        help="frames between window starts, a multiple of 4 (default: one window per clip)")
    parser.add_argument("--shard-size", type=int, default=64, help="manifest rows per shard (default 64)")
    parser.add_argument("--dtype", default="float16", choices=["float16", "bfloat16", "float32"],
                        help="storage dtype (default float16)")
    parser.add_argument("--device", default="cpu", help="torch device for the encoders: cpu (default), cuda, auto (a GPU if any)")
    parser.add_argument("--overwrite", action="store_true", help="discard shards made with other settings")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import os

    import torch.distributed

    from rtrdit.cli import CLIError, device_arg, output_folder
    from rtrdit.codecs import CodecError, load_codec
    from rtrdit.codecs.text import CachedTextEncoder, load_text_encoder
    from rtrdit.codecs.video import VideoError
    from rtrdit.commands.data_build import parse_size
    from rtrdit.data.manifest import ManifestError, manifest_path, read_manifest
    from rtrdit.data.shards import EncodeConfig, encode_manifest
    from rtrdit.train.engine import init_distributed, shutdown

    cfg = EncodeConfig(size=parse_size(args.size) if args.size else None, clip_frames=args.clip_frames,
                       window_stride=args.window_stride, shard_size=args.shard_size, dtype=args.dtype,
                       codec=str(args.codec), text_encoder=str(args.text_encoder))
    output_folder(args.out)
    args.manifest = manifest_path(args.manifest)
    try:
        cfg.check()
        read_manifest(args.manifest)  # schema errors before loading any model
        rank, world, device = 0, int(os.environ.get("WORLD_SIZE", "1")), device_arg(args.device)
        if world > 1:  # under torchrun: one process group, one GPU per process
            dist = init_distributed("cuda" if device.startswith("cuda") else "cpu")
            rank, device = dist.rank, str(dist.device)
        codec = load_codec(args.codec, device=device)
        text = CachedTextEncoder(load_text_encoder(args.text_encoder, device=device))
        report = encode_manifest(args.manifest, args.out, codec, text, cfg, device=device,
                                 progress=not args.no_progress, overwrite=args.overwrite, rank=rank,
                                 world=world, barrier=torch.distributed.barrier if world > 1 else None)
    except (ManifestError, CodecError, VideoError, ValueError, FileNotFoundError) as exc:
        raise CLIError(" ".join(str(exc).split())) from None
    finally:
        shutdown()
    if rank == 0:
        print(f"{report.index}: {report.rows} rows in {report.shards} shards "
              f"({len(report.encoded)} encoded now, {len(report.skipped)} already done"
              f"{f' by this process of {world}' if world > 1 else ''})")
    return 0
