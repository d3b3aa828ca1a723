"""The botocore models the Lambda package ships (``aws.kept_models``): each is exactly what botocore loads,
a client made from them is the same client, and they are used only when the runtime's botocore, Python
and model files are the ones that wrote them (else botocore loads its own)."""

from __future__ import annotations

import marshal
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.loaders import Loader, create_loader

from trailguard import aws


@pytest.fixture
def shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """aws.py as the compiled package ships it: beside the kept models (read afresh)."""
    module = tmp_path / "aws.py"
    shutil.copy(aws.__file__, module)
    (tmp_path / aws.MODELS_FILE).write_bytes(aws.kept_models())
    monkeypatch.setattr(aws, "__file__", str(module))
    monkeypatch.setattr(aws, "_SHIPPED", {})
    yield tmp_path / aws.MODELS_FILE


def _rewrite(path: Path, change: Any) -> None:
    with path.open("rb") as f:
        doc = {"source": marshal.load(f), "models": marshal.load(f)}
    change(doc)
    path.write_bytes(marshal.dumps(doc["source"], 2) + marshal.dumps(doc["models"], 2))


def _loader() -> Any:
    return aws._loader(None)


def test_every_shipped_model_is_what_botocore_loads(shipped: Path) -> None:
    own = create_loader()
    loader = _loader()
    for service in aws.MODEL_SERVICES:
        for type_name in aws.MODEL_TYPES:
            data = aws._shipped_model(loader, service, type_name, None)
            assert data is not None, (service, type_name)
            assert data == own.load_service_model(service, type_name)
            assert loader.load_service_model(service, type_name) is data


def test_a_client_from_the_shipped_models_is_botocores_client(shipped: Path) -> None:
    import botocore.session

    def made(loader: Any) -> Any:
        session = botocore.session.Session()
        session.set_credentials("a", "b")
        session.register_component("data_loader", loader)
        return session.create_client("dynamodb", region_name="eu-west-1")

    ours, theirs = made(_loader()), made(create_loader())
    assert ours.meta.service_model.operation_names == theirs.meta.service_model.operation_names
    assert ours.meta.endpoint_url == theirs.meta.endpoint_url
    shape = "TransactWriteItemsInput"
    assert ours.meta.service_model.shape_for(shape).members.keys() == (
        theirs.meta.service_model.shape_for(shape).members.keys()
    )


def test_an_api_version_not_shipped_is_botocores(shipped: Path) -> None:
    assert aws._shipped_model(_loader(), "dynamodb", "endpoint-rule-set-1", "2011-12-05") is None
    assert aws._shipped_model(_loader(), "ec2", "service-2", None) is None


@pytest.mark.parametrize("field", ["botocore", "python", "marshal"])
def test_models_written_by_another_botocore_or_python_are_never_used(shipped: Path, field: str) -> None:
    _rewrite(shipped, lambda doc: doc["source"].update({field: "other"}))
    assert aws._shipped_models() == {}
    assert aws._shipped_model(_loader(), "sns", "service-2", None) is None


def test_a_model_file_that_differs_is_botocores(shipped: Path) -> None:
    _rewrite(shipped, lambda doc: doc["models"]["sns/service-2"].update(size=1))
    assert aws._shipped_model(_loader(), "sns", "service-2", None) is None
    assert aws._shipped_model(_loader(), "kms", "service-2", None) is not None


def test_an_extras_file_or_an_override_on_the_data_path_is_honoured(shipped: Path, tmp_path: Path) -> None:
    """botocore would merge ``service-2.sdk-extras.json`` (or read an ``AWS_DATA_PATH`` copy first): then
    its own loading, not the shipped model."""
    own = Path(create_loader().search_paths[-1]) / "sns"
    version = aws._model_file(create_loader(), "sns", "service-2", "2010-03-31")
    assert version is not None and str(own) in version[0]
    extra = tmp_path / "models" / "sns" / "2010-03-31"
    extra.mkdir(parents=True)
    (extra / "service-2.sdk-extras.json").write_text('{"version": 1.0, "merge": {}}')
    with_extras = aws._loader(str(tmp_path / "models"))
    assert aws._shipped_model(with_extras, "sns", "service-2", None) is None
    (extra / "service-2.sdk-extras.json").unlink()
    (extra / "service-2.json").write_text("{}")
    assert aws._shipped_model(aws._loader(str(tmp_path / "models")), "sns", "service-2", None) is None


def test_unreadable_models_fall_back_to_botocores(shipped: Path) -> None:
    shipped.write_bytes(b"not marshal")
    assert aws._shipped_models() == {}
    assert isinstance(_loader(), Loader)


def test_a_source_checkout_ships_no_models() -> None:
    assert not (Path(aws.__file__).parent / aws.MODELS_FILE).exists()
