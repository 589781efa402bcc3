"""The logger under the standalone ``pytorch_lightning`` package name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pl = pytest.importorskip("pytorch_lightning")

import kiseki  # noqa: E402
from kiseki.integrations.pytorch_lightning import KisekiLogger  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:The '.*_dataloader' does not have many workers"),
    pytest.mark.filterwarnings("ignore:The number of training batches"),
    pytest.mark.filterwarnings("ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated"),
]


class LinearModule(pl.LightningModule):
    """One linear layer fitted to the sum of its inputs."""

    def __init__(self, lr: float = 0.1) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(3, 1)

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log("loss", loss)
        return loss

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def test_pytorch_lightning_trainer_records_config_metrics_and_state(tmp_path: Path) -> None:
    x = torch.randn(12, 3, generator=torch.Generator().manual_seed(0))
    data = torch.utils.data.TensorDataset(x, x.sum(dim=1, keepdim=True))
    logger = KisekiLogger(project="pl")
    losses: list[float] = []

    class RecordLoss(pl.Callback):
        def on_train_batch_end(self, trainer: Any, *args: Any) -> None:
            losses.append(float(trainer.callback_metrics["loss"]))

    trainer = pl.Trainer(
        max_epochs=1,
        logger=logger,
        default_root_dir=tmp_path,
        accelerator="cpu",
        log_every_n_steps=1,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        callbacks=[RecordLoss()],
    )
    trainer.fit(LinearModule(), torch.utils.data.DataLoader(data, batch_size=4))

    run = kiseki.Api().run(f"pl/{logger.version}")
    assert run.state == "finished" and run.config == {"lr": 0.1}
    assert [row["loss"] for row in run.scan_history(keys=["loss"])] == losses
    assert len(losses) == 3
