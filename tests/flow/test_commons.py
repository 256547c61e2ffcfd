from __future__ import annotations

import luigi

from app.flow.commons import setting_parameter
from app.flow.deploy_model import DeployModel
from app.functions.settings import DECLARED


def test_setting_parameters_take_class_and_significance_from_the_declaration():
    assert type(setting_parameter("model_epochs")) is luigi.IntParameter
    assert type(setting_parameter("feature_columns")) is luigi.ListParameter
    assert type(setting_parameter("float32")) is luigi.BoolParameter
    optional = setting_parameter("max_test_rmse")
    assert type(optional) is luigi.OptionalFloatParameter and optional._default is None
    assert setting_parameter("data_path").significant is False and setting_parameter("test_size").significant


def test_the_pipeline_parameters_of_settings_follow_their_declaration():
    parameters = dict(DeployModel.get_params())
    declared = [setting for setting in DECLARED if setting.name in parameters]
    assert {"model_epochs", "feature_columns", "deploy_app", "target_dir"} <= {setting.name for setting in declared}
    for setting in declared:
        assert parameters[setting.name].significant == setting.significant, setting.name
