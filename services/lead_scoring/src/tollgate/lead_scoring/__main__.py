"""`python -m tollgate.lead_scoring`: run the lead scoring service.

`python -m tollgate.lead_scoring train --csv leads.csv --out model.json` fits the conversion
model; `python -m tollgate.lead_scoring synthesize --out leads.csv` writes the synthetic data set.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tollgate.common.server import GrpcService, run
from tollgate.lead_scoring.service import build_service
from tollgate.lead_scoring.settings import Settings
from tollgate.lead_scoring.synthetic import write_synthetic_csv
from tollgate.lead_scoring.training import TrainingError, train


async def _build() -> tuple[GrpcService, Settings]:
    settings = Settings()
    return await build_service(settings), settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tollgate.lead_scoring")
    commands = parser.add_subparsers(dest="command")
    fit = commands.add_parser("train", help="fit the conversion model on a CSV of leads")
    fit.add_argument("--csv", required=True, type=Path, help="leads with a 'converted' column")
    fit.add_argument("--out", required=True, type=Path, help="where to write the model JSON")
    fit.add_argument("--l2", type=float, default=1.0, help="L2 penalty on the coefficients")
    make = commands.add_parser("synthesize", help="write the seeded synthetic training data")
    make.add_argument("--out", required=True, type=Path)
    make.add_argument("--rows", type=int, default=4000)
    make.add_argument("--seed", type=int, default=7)
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.command == "train":
        try:
            model = train(args.csv, args.out, l2=args.l2)
        except (TrainingError, OSError) as exc:
            print(f"train: {exc}", file=sys.stderr)
            return 2
        stats = model.training
        print(
            f"wrote {args.out}: {model.version}, {stats['rows']} rows, "
            f"log loss {stats['log_loss']}, AUC {stats['auc']}"
        )
        return 0
    if args.command == "synthesize":
        if args.rows < 1:
            print("synthesize: --rows must be at least 1", file=sys.stderr)
            return 2
        write_synthetic_csv(args.out, rows=args.rows, seed=args.seed)
        print(f"wrote {args.rows} synthetic leads to {args.out}")
        return 0
    run(_build)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
