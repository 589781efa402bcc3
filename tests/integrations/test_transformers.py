"""The Transformers callback with the real ``Trainer`` on the CPU and a tiny random BERT."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

# nothing may be downloaded: the model is built from a config, the data made up here
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")

import kiseki  # noqa: E402
from kiseki.integrations.transformers import KisekiCallback, prefixed_metrics  # noqa: E402

pytestmark = pytest.mark.slow  # drives real clients or ML libraries: full suite only


def tiny_bert() -> Any:
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=40,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
        num_labels=2,
    )
    return transformers.BertForSequenceClassification(config)


def tiny_dataset(size: int, seed: int) -> list[dict[str, Any]]:
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, 40, (size, 8), generator=generator)
    return [{"input_ids": row, "labels": int(row[0] % 2)} for row in ids]


def tiny_arguments(output_dir: Path, **options: Any) -> Any:
    settings: dict[str, Any] = {
        "per_device_train_batch_size": 4,
        "per_device_eval_batch_size": 4,
        "num_train_epochs": 2,
        "learning_rate": 1e-2,
        "logging_steps": 1,
        "eval_strategy": "epoch",
        "save_strategy": "no",
        "report_to": "none",
        "use_cpu": True,
        "disable_tqdm": True,
        "seed": 0,
    }
    return transformers.TrainingArguments(output_dir=str(output_dir), **{**settings, **options})


def test_train_records_config_metrics_and_final_model(tmp_path: Path) -> None:
    model = tiny_bert()
    callback = KisekiCallback(project="hf", log_model="end")
    trainer = transformers.Trainer(
        model=model,
        args=tiny_arguments(tmp_path / "out", run_name="tiny-bert"),
        train_dataset=tiny_dataset(12, 0),
        eval_dataset=tiny_dataset(8, 1),
        callbacks=[callback],
    )
    trainer.train()
    run_id = callback.run.id
    kiseki.finish()

    run = kiseki.Api().run(f"hf/{run_id}")
    assert run.name == "tiny-bert" and run.state == "finished"
    assert run.config["learning_rate"] == 1e-2 and run.config["num_train_epochs"] == 2
    assert run.config["hidden_size"] == 16 and run.config["model_type"] == "bert"
    assert run.config["model/num_parameters"] == model.num_parameters()

    rows = {row["_step"]: row for row in run.scan_history()}
    reported = trainer.state.log_history
    logged_rows = [entry for entry in reported if "train_runtime" not in entry]
    assert {"loss", "eval_loss"} <= {key for entry in logged_rows for key in entry}
    for entry in logged_rows:
        values = {k: v for k, v in entry.items() if k != "step"}
        row = rows[entry["step"]]
        assert {key: row[key] for key in prefixed_metrics(values)} == prefixed_metrics(values)
        assert row["train/global_step"] == entry["step"]
    (final,) = [entry for entry in reported if "train_runtime" in entry]
    assert run.summary["train_loss"] == final["train_loss"]
    assert "train/train_loss" not in run.history_keys()

    stored = kiseki.Api().artifact(f"hf/model-{run_id}:latest")
    assert stored.type == "model" and stored.metadata["global_step"] == trainer.state.global_step
    restored = transformers.BertForSequenceClassification.from_pretrained(
        stored.download(tmp_path / "downloaded")
    )
    for name, value in model.state_dict().items():
        assert torch.equal(restored.state_dict()[name], value), name


def test_checkpoints_become_versions_and_eval_after_training_joins_the_run(
    tmp_path: Path,
) -> None:
    run = kiseki.init(project="hf", name="mine")
    callback = KisekiCallback(log_model="checkpoint")
    trainer = transformers.Trainer(
        model=tiny_bert(),
        args=tiny_arguments(tmp_path / "out", save_strategy="epoch", eval_strategy="no"),
        train_dataset=tiny_dataset(8, 0),
        callbacks=[callback],
    )
    trainer.train()
    metrics = trainer.evaluate(tiny_dataset(4, 2))
    assert callback.run is run and not run.finished
    run.finish()

    checkpoints = kiseki.Api().artifacts("model", f"hf/checkpoint-{run.id}")
    assert [v.metadata["global_step"] for v in checkpoints] == [2, 4]
    assert {path.name for path in Path(checkpoints[-1].download(tmp_path / "c")).iterdir()} >= {
        "model.safetensors",
        "config.json",
    }
    assert kiseki.Api().artifact(f"hf/model-{run.id}").version == "v0"
    stored = kiseki.Api().run(f"hf/{run.id}")
    assert stored.name == "mine"
    assert stored.summary["eval/loss"] == metrics["eval_loss"]


def test_rejects_an_unknown_log_model_value() -> None:
    with pytest.raises(kiseki.UsageError, match="log_model='best'"):
        KisekiCallback(log_model="best")  # type: ignore[arg-type]
