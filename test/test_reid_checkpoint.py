"""save_reid / load_reid: round trip of outputs and config, clear errors for wrong files."""
from __future__ import annotations

import pytest
import torch

from finetrack_ros.reid import FineTrackReID, ReIDConfig, load_reid, read_reid_checkpoint, save_reid


def tiny_model(**overrides) -> FineTrackReID:
    values = dict(backbone="resnet18", crop_size=(64, 32), fpn_channels=16, fam_channels=8,
                  embed_dim=8, num_parts=3, num_classes=4)
    return FineTrackReID(ReIDConfig(**{**values, **overrides}))


def test_save_load_round_trips_outputs_and_config(tmp_path):
    torch.manual_seed(0)
    model = tiny_model()
    model.train()
    model(torch.randn(4, 3, 64, 32))  # move the BN running statistics off their init
    model.eval()
    images = torch.randn(2, 3, 64, 32)
    with torch.no_grad():
        expected = model(images)
    path = save_reid(tmp_path / "sub" / "reid.pth", model, epoch=3, id_map={"MOT17-02:1": 0})
    loaded = load_reid(path, "cpu")
    assert not loaded.training
    assert loaded.config == model.config
    with torch.no_grad():
        torch.testing.assert_close(loaded(images), expected)
    extra = read_reid_checkpoint(path)
    assert extra["epoch"] == 3 and extra["id_map"] == {"MOT17-02:1": 0}


def test_load_does_not_reread_the_imagenet_file(tmp_path):
    imagenet = tmp_path / "resnet18.pth"
    torch.save(tiny_model().backbone.state_dict(), imagenet)
    model = tiny_model(pretrained_backbone=str(imagenet))
    path = save_reid(tmp_path / "reid.pth", model)
    imagenet.unlink()
    assert load_reid(path).config.pretrained_backbone is None


def test_wrong_files_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        load_reid(tmp_path / "missing.pth")
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint")
    with pytest.raises(ValueError, match=r"notes\.pth: not a readable torch Re-ID checkpoint "
                                         r"\(not written by torch\.save"):
        load_reid(text)
    other = tmp_path / "yolox.pth"
    torch.save({"model": tiny_model().state_dict()}, other)
    with pytest.raises(ValueError, match=r"yolox\.pth: not a FineTrack Re-ID checkpoint"):
        load_reid(other)
    with pytest.raises(ValueError, match="reserved"):
        save_reid(tmp_path / "x.pth", tiny_model(), format="mine")
    with pytest.raises(ValueError, match="ReIDConfig"):
        save_reid(tmp_path / "x.pth", tiny_model(), config={"a": 1})  # type: ignore[arg-type]


def test_mismatched_weights_name_the_keys(tmp_path):
    path = save_reid(tmp_path / "reid.pth", tiny_model())
    data = torch.load(path, weights_only=True)
    data["config"]["num_parts"] = 4  # config no longer matches the stored weights
    torch.save(data, path)
    with pytest.raises(ValueError, match=r"reid\.pth: state dict does not match.*missing.*"
                                         r"part_necks\.3"):
        load_reid(path)
    data["config"]["num_parts"] = 3
    data["config"]["num_part"] = 3
    torch.save(data, path)
    with pytest.raises(ValueError, match=r"reid\.pth config: unknown ReIDConfig field.*num_part"):
        load_reid(path)
