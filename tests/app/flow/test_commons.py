from __future__ import annotations

from unittest.mock import create_autospec

import luigi
import pycarol

from app.flow.commons import setting_parameter
from app.flow.deploy_model import DeployModel
from app.pipeline import APP
from carolbatch.tasks import attach_context, pipeline_params
from carolbatch.storage.run_context import RunContext
from carolbatch.storage.stores import LocalStore
from tests.app.conftest import TASK_COUNT, default_settings
from tests.conftest import app_fingerprint


def test_setting_parameters_take_class_and_significance_from_the_declaration():
    assert type(setting_parameter("model_epochs")) is luigi.IntParameter
    assert type(setting_parameter("feature_columns")) is luigi.ListParameter
    assert type(setting_parameter("float32")) is luigi.BoolParameter
    optional = setting_parameter("max_test_rmse")
    assert type(optional) is luigi.OptionalFloatParameter and optional._default is None
    assert setting_parameter("data_path").significant is False and setting_parameter("test_size").significant


def test_the_pipeline_parameters_of_settings_follow_their_declaration():
    parameters = dict(DeployModel.get_params())
    declared = [setting for setting in APP.settings.settings if setting.name in parameters]
    assert {"model_epochs", "feature_columns", "deploy_app", "target_dir"} <= {setting.name for setting in declared}
    for setting in declared:
        assert parameters[setting.name].significant == setting.significant, setting.name


def root_task(tmp_path, carol_mode: bool, cloud_targets: bool) -> DeployModel:
    settings = default_settings(target_dir=str(tmp_path / "t"), registry_dir=str(tmp_path / "m"))
    return DeployModel(**pipeline_params(settings, {"data_path": app_fingerprint()}, carol_mode, cloud_targets))


def test_the_run_context_reaches_every_task_of_the_pipeline(tmp_path, fake_storages):
    carol = create_autospec(pycarol.Carol, instance=True)
    carol.app_name = "batchapp"
    context = RunContext(carol=carol)
    root = attach_context(root_task(tmp_path, carol_mode=True, cloud_targets=True), context)

    tasks = [root, *root.upstream_tasks()]
    assert len(tasks) == TASK_COUNT and all(task.run_context() is context for task in tasks)
    # Luigi builds the upstream tasks again from their parameters: its instance cache gives these ones.
    assert all(task.run_context() is context for task in luigi.task.flatten(root.requires()))
    assert len({task.target_store() for task in tasks}) == 1  # one view of the targets a run
    assert root.target_store().store is context.app_store("batchapp")
    assert root.model_registry() is context.app_store(root.deploy_app)


def test_a_task_without_a_context_keeps_its_outputs_in_local_folders(tmp_path):
    root = root_task(tmp_path, carol_mode=False, cloud_targets=False)
    root.context = None
    assert isinstance(root.target_store(), LocalStore) and root.target_store().root == tmp_path / "t"
    assert isinstance(root.model_registry(), LocalStore) and root.model_registry().root == tmp_path / "m"
