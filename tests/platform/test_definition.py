"""A pipeline declaration of any shape: its tasks in order, the role of each, and what it refuses."""

from __future__ import annotations

import luigi
import pytest

from carolbatch.definition import ROLES, Pipeline


class ToyLoad(luigi.Task):
    pass


class ToyFit(luigi.Task):
    pass


class ToyScore(luigi.Task):
    pass


class ToyDerive(luigi.Task):
    pass


class ToyShip(luigi.Task):
    pass


def test_a_pipeline_of_five_tasks_names_them_and_their_roles_in_order():
    pipeline = Pipeline(tasks=(ToyLoad, ToyDerive, ToyFit, ToyScore, ToyShip), records=ToyLoad, model=ToyFit, evaluation=ToyScore,
                        deployment=ToyShip)
    assert pipeline.families == ("ToyLoad", "ToyDerive", "ToyFit", "ToyScore", "ToyShip")
    assert pipeline.roles == {"records": "ToyLoad", "model": "ToyFit", "evaluation": "ToyScore", "deployment": "ToyShip"}
    assert list(pipeline.roles) == list(ROLES) and pipeline.family("model") == "ToyFit"


def test_one_task_may_hold_several_roles():
    pipeline = Pipeline(tasks=(ToyLoad, ToyShip), records=ToyLoad, model=ToyLoad, evaluation=ToyShip, deployment=ToyShip)
    assert pipeline.families == ("ToyLoad", "ToyShip") and pipeline.family("evaluation") == "ToyShip"


def test_a_role_outside_the_tasks_or_a_deployment_that_is_not_last_is_refused():
    roles = {"records": ToyLoad, "model": ToyFit, "evaluation": ToyScore, "deployment": ToyShip}
    with pytest.raises(ValueError, match="must be one of the pipeline's tasks: model, evaluation"):
        Pipeline(tasks=(ToyLoad, ToyShip), **roles)
    with pytest.raises(ValueError, match="the deployment task is the root: it comes last"):
        Pipeline(tasks=(ToyLoad, ToyFit, ToyShip, ToyScore), **roles)
