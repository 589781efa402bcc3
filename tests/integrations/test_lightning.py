"""The PyTorch Lightning logger with the real ``lightning`` Trainer on the CPU and a tiny model."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")

import kiseki  # noqa: E402
from kiseki.integrations.lightning import KisekiLogger  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    # a tiny in-memory data set: Lightning's advice on workers and batch counts does not apply
    pytest.mark.filterwarnings("ignore:The '.*_dataloader' does not have many workers"),
    pytest.mark.filterwarnings("ignore:The number of training batches"),
    # Lightning 2.6 on torch 2.13 uses a deprecated pytree class internally
    pytest.mark.filterwarnings("ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated"),
]


class TinyRegressor(pl.LightningModule):
    """A linear model that logs a loss per step and a validation loss per epoch."""

    def __init__(self, lr: float = 0.05, hidden: int = 4, fail_at_step: int | None = None):
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(hidden, 1)

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        if self.hparams.fail_at_step is not None and self.global_step == self.hparams.fail_at_step:
            raise RuntimeError("training blew up")
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

    def test_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("test_loss", torch.nn.functional.mse_loss(self.layer(x), y))

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def tiny_loader(seed: int) -> Any:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(16, 4, generator=generator)
    y = x.sum(dim=1, keepdim=True)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=4)


def tiny_trainer(root: Path, loggers: list[Any], **options: Any) -> Any:
    settings: dict[str, Any] = {
        "max_epochs": 2,
        "accelerator": "cpu",
        "log_every_n_steps": 1,
        "enable_progress_bar": False,
        "enable_model_summary": False,
    }
    return pl.Trainer(logger=loggers, default_root_dir=root, **{**settings, **options})


def reported_rows(csv_logger: Any) -> list[dict[str, str]]:
    """The rows Lightning handed to its own CSV logger: what it reported."""
    with open(Path(csv_logger.log_dir) / "metrics.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_fit_records_config_metrics_state_and_checkpoint(tmp_path: Path) -> None:
    csv_logger = pl.loggers.CSVLogger(tmp_path / "csv")
    logger = KisekiLogger(project="lit", name="tiny", log_model=True, tags=["cpu"])
    model = TinyRegressor(lr=0.05)
    trainer = tiny_trainer(tmp_path, [logger, csv_logger])
    trainer.fit(model, tiny_loader(0), tiny_loader(1))

    run = kiseki.Api().run(f"lit/{logger.version}")
    assert kiseki.run is None, "reading the finished run's id must not resume it"
    assert run.state == "finished"
    assert run.name == "tiny" and run.tags == ["cpu"]
    assert run.config["lr"] == 0.05 and run.config["hidden"] == 4
    assert run.config["fail_at_step"] is None

    rows = {row["_step"]: row for row in run.scan_history()}
    reported = reported_rows(csv_logger)
    for key in ("train_loss", "val_loss"):
        expected = {int(r["step"]): float(r[key]) for r in reported if r.get(key)}
        assert expected, f"Lightning reported no {key}"
        assert {step: rows[step][key] for step in expected} == expected
    assert all(rows[step]["trainer/global_step"] == step for step in rows)

    stored = kiseki.Api().artifact(f"lit/model-{logger.version}:latest")
    assert stored.type == "model" and "best" in stored.aliases
    assert stored.metadata["original_filename"].endswith(".ckpt")
    checkpoint = Path(stored.download(tmp_path / "downloaded"))
    (ckpt_file,) = checkpoint.glob("*.ckpt")
    restored = TinyRegressor.load_from_checkpoint(ckpt_file)
    for name, value in model.state_dict().items():
        assert torch.equal(restored.state_dict()[name], value), name


def test_test_after_fit_goes_to_the_same_run(tmp_path: Path) -> None:
    logger = KisekiLogger(project="lit")
    model = TinyRegressor()
    trainer = tiny_trainer(tmp_path, [logger], enable_checkpointing=False)
    trainer.fit(model, tiny_loader(0), tiny_loader(1))
    first_id = logger.version
    (reported,) = trainer.test(model, tiny_loader(2), verbose=False)

    assert logger.version == first_id
    run = kiseki.Api().run(f"lit/{first_id}")
    assert run.state == "finished"
    assert run.summary["test_loss"] == reported["test_loss"]
    fit_steps = [row["_step"] for row in run.scan_history(keys=["train_loss"])]
    test_steps = [row["_step"] for row in run.scan_history(keys=["test_loss"])]
    assert fit_steps == list(range(8)) and test_steps == [8]


def test_exception_in_training_marks_the_run_failed(tmp_path: Path) -> None:
    logger = KisekiLogger(project="lit")
    trainer = tiny_trainer(tmp_path, [logger], enable_checkpointing=False)
    with pytest.raises(RuntimeError, match="training blew up"):
        trainer.fit(TinyRegressor(fail_at_step=2), tiny_loader(0), tiny_loader(1))

    run = kiseki.Api().run(f"lit/{logger.version}")
    assert run.state == "failed"
    assert [row["_step"] for row in run.scan_history(keys=["train_loss"])] == [0, 1]


def test_logs_into_the_active_run_and_leaves_it_open(tmp_path: Path) -> None:
    own = kiseki.init(project="lit", config={"dataset": "tiny"})
    logger = KisekiLogger(prefix="lit")
    trainer = tiny_trainer(tmp_path, [logger], enable_checkpointing=False, max_epochs=1)
    trainer.fit(TinyRegressor(lr=0.1), tiny_loader(0), tiny_loader(1))

    assert logger.experiment is own and not own.finished
    own.log({"after": 1})
    own.finish()
    run = kiseki.Api().run(f"lit/{own.id}")
    assert run.config == {"dataset": "tiny", "lr": 0.1, "hidden": 4, "fail_at_step": None}
    assert "lit/train_loss" in run.history_keys() and run.summary["after"] == 1


def test_log_model_all_logs_each_checkpoint_as_a_version(tmp_path: Path) -> None:
    logger = KisekiLogger(project="lit", log_model="all", checkpoint_name="tiny-net")
    checkpoints = pl.callbacks.ModelCheckpoint(
        dirpath=tmp_path / "ckpt", monitor="val_loss", save_top_k=-1
    )
    trainer = tiny_trainer(tmp_path, [logger], callbacks=[checkpoints])
    trainer.fit(TinyRegressor(), tiny_loader(0), tiny_loader(1))

    versions = kiseki.Api().artifacts("model", "lit/tiny-net")
    assert [v.version for v in versions] == ["v0", "v1"]
    assert [v.metadata["score"] for v in versions] == [
        pytest.approx(float(score)) for _, score in sorted(checkpoints.best_k_models.items())
    ]
    best = kiseki.Api().artifact("lit/tiny-net:best")
    assert best.metadata["original_filename"] == Path(checkpoints.best_model_path).name


def test_rejects_an_unknown_log_model_value() -> None:
    with pytest.raises(kiseki.UsageError, match="log_model='end'"):
        KisekiLogger(log_model="end")  # type: ignore[arg-type]
