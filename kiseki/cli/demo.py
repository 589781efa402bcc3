"""``kiseki demo``: log a handful of realistic simulated training runs to look at."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import click

from kiseki.cli.common import dir_option, friendly_errors
from kiseki.cli.ui import DEFAULT_PORT, ui

DEMO_PROJECT = "kiseki-demo"


@dataclass(frozen=True)
class DemoRun:
    """The hyperparameters of one simulated run."""

    model: str
    optimizer: str
    lr: float
    batch_size: int
    seed: int
    diverges: bool = False


DEMO_RUNS = (
    DemoRun("resnet18", "adam", 1e-3, 128, 0),
    DemoRun("resnet18", "adam", 3e-4, 128, 1),
    DemoRun("resnet18", "sgd", 1e-1, 256, 2),
    DemoRun("vit-tiny", "adamw", 5e-4, 64, 3),
    DemoRun("vit-tiny", "adamw", 1e-4, 64, 4),
    DemoRun("vit-tiny", "adamw", 5e-3, 64, 5, diverges=True),
)


def simulate(spec: DemoRun, epochs: int, steps_per_epoch: int) -> int:
    """Log one simulated training run; return its exit code (1 when it diverged)."""
    import kiseki

    rng = random.Random(spec.seed)
    capacity = 0.93 if spec.model == "resnet18" else 0.96
    speed = {"adam": 1.0, "adamw": 1.1, "sgd": 0.7}[spec.optimizer] * min(spec.lr / 1e-3, 3) ** 0.3
    run = kiseki.init(
        project=DEMO_PROJECT,
        config={
            "model": spec.model,
            "optimizer": {"name": spec.optimizer, "lr": spec.lr, "weight_decay": 0.05},
            "batch_size": spec.batch_size,
            "epochs": epochs,
            "seed": spec.seed,
        },
        group=spec.model,
        job_type="train",
        tags=["demo", spec.optimizer] + (["unstable"] if spec.diverges else []),
        notes=f"Simulated {spec.model} with {spec.optimizer} at lr={spec.lr:g}",
        reinit="create_new",
        settings={"silent": True},
    )
    run.define_metric("epoch")
    run.define_metric("val/*", step_metric="epoch", summary="max")
    run.define_metric("train/loss", summary="min")
    total = epochs * steps_per_epoch
    for step in range(total):
        progress = step / total
        lr = spec.lr * 0.5 * (1 + math.cos(math.pi * progress))
        loss = 2.3 * math.exp(-4 * speed * progress) + 0.15 + rng.gauss(0, 0.03)
        if spec.diverges and progress > 0.45:
            loss = loss * math.exp(12 * (progress - 0.45)) if progress < 0.6 else math.nan
        acc = capacity * (1 - math.exp(-5 * speed * progress)) + rng.gauss(0, 0.01)
        row = {"train": {"loss": loss, "acc": acc}, "lr": lr}
        if (step + 1) % steps_per_epoch == 0:
            val_acc = acc - 0.03 + rng.gauss(0, 0.01)
            row["epoch"] = (step + 1) // steps_per_epoch
            row["val"] = {"acc": val_acc, "loss": loss + 0.1}
        run.log(row)
        if math.isnan(loss):
            run.finish(exit_code=1, quiet=True)
            return 1
    run.summary["best_val_acc"] = run.summary.get("val/acc", {}).get("max")
    run.finish(quiet=True)
    return 0


@click.command()
@click.option("--epochs", default=20, show_default=True, help="Simulated epochs per run.")
@click.option("--steps", "steps_per_epoch", default=50, show_default=True, help="Steps per epoch.")
@click.option(
    "--no-ui",
    "no_ui",
    is_flag=True,
    help="Only log the runs; do not serve the web app on them afterwards.",
)
@click.option(
    "--port",
    default=DEFAULT_PORT,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port the web app is served on (on 127.0.0.1).",
)
@dir_option
@friendly_errors
@click.pass_context
def demo(
    ctx: click.Context,
    epochs: int,
    steps_per_epoch: int,
    no_ui: bool,
    port: int,
    kiseki_dir: Path | None,
) -> None:
    """Log six simulated training runs (two model groups, one diverging) to kiseki-demo, then
    serve the web app on them (as `kiseki ui` does; --no-ui skips that, Ctrl-C stops it)."""
    import os

    if kiseki_dir is not None:
        os.environ["KISEKI_DIR"] = str(kiseki_dir.absolute())
    click.echo(f"Logging {len(DEMO_RUNS)} simulated runs to project {DEMO_PROJECT!r} ...")
    for spec in DEMO_RUNS:
        code = simulate(spec, epochs, steps_per_epoch)
        outcome = "diverged (failed)" if code else "finished"
        click.echo(
            f"  {spec.model:<9} {spec.optimizer:<6} lr={spec.lr:<7g} batch={spec.batch_size:<4} "
            f"{outcome}"
        )
    if not no_ui:
        _serve(ctx, port, kiseki_dir)
        return
    click.echo(
        "\nDone. Look at them with:\n"
        f"  kiseki runs ls {DEMO_PROJECT}\n"
        "  python -c \"import kiseki; r = kiseki.Api().runs('kiseki-demo', "
        "order='-summary_metrics.best_val_acc')[0]; print(r.name, r.config, r.summary)\""
    )


def _serve(ctx: click.Context, port: int, kiseki_dir: Path | None) -> None:
    """Serve the web app on the demo runs, printing the demo project's workspace URL."""
    from kiseki.settings import resolve_settings

    settings = resolve_settings({"kiseki_dir": kiseki_dir})
    entity = settings.entity or settings.user
    workspace = f"http://127.0.0.1:{port}/projects/{quote(entity, safe='')}/{DEMO_PROJECT}"
    click.echo(f"\nDone. Open the demo project in your browser:\n  {workspace}\n")
    ctx.invoke(ui, host="127.0.0.1", port=port, kiseki_dir=kiseki_dir)
