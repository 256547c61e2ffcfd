"""This app as the platform sees it: its pipeline (tasks in order, and which does what) and its settings.

To add a task: a module in app/flow holding it, its line in `tasks` below, and a task downstream requiring it.
"""

from app.flow.deploy_model import DeployModel
from app.flow.evaluate_model import EvaluateModel
from app.flow.ingestion import IngestRecords
from app.flow.train_model import TrainModel
from app.functions.settings import SETTINGS
from carolbatch import AppDefinition, Pipeline

PIPELINE = Pipeline(
    tasks=(
        IngestRecords,
        TrainModel,
        EvaluateModel,
        DeployModel,
    ),
    records=IngestRecords,
    model=TrainModel,
    evaluation=EvaluateModel,
    deployment=DeployModel,
)

APP = AppDefinition(pipeline=PIPELINE, settings=SETTINGS)
