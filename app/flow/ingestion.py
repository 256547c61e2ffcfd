"""IngestRecords: the validated records, from the data file or the Carol staging table."""

from __future__ import annotations

import logging
from pathlib import Path

import luigi
from pycarol.pipeline import inherit_list

from app.flow.commons import AppTask, setting_parameter
from carolbatch.records import sources, staging as staging_records
from carolbatch.records.sources import Records, read_records, validate_records
from carolbatch.records.staging import read_staging_records
from carolbatch.storage import columnar

logger = logging.getLogger(__name__)


@inherit_list()
class IngestRecords(AppTask):
    """Produces `Records`: id, float features and target, checked for training."""

    code_modules = (sources, columnar, staging_records)

    data_path = setting_parameter("data_path")
    input_connector = setting_parameter("input_connector")
    input_staging = setting_parameter("input_staging")
    # The fingerprint names the source and its content, so it alone decides reuse.
    data_fingerprint = luigi.Parameter()
    feature_columns = setting_parameter("feature_columns")
    target_column = setting_parameter("target_column")
    id_column = setting_parameter("id_column")
    float32 = setting_parameter("float32")
    # The deployed model's features this run does not use: read as well, so it is scored on the same rows.
    champion_columns = luigi.ListParameter(default=())

    @property
    def float_dtype(self) -> str:
        return "float32" if self.float32 else "float64"

    def easy_run(self, inputs) -> Records:
        columns = [self.id_column, *self.feature_columns, self.target_column]
        if self.carol_mode:
            source = f"Carol staging {self.input_connector}/{self.input_staging}"
            frame = read_staging_records(
                self.run_context().bigquery_reader(), self.input_connector, self.input_staging, columns, self.float_dtype,
                self.champion_columns)
        else:
            source = self.data_path
            frame = read_records(Path(self.data_path), columns, columns[1:], self.float_dtype, self.champion_columns,
                                 expected_fingerprint=self.data_fingerprint)
        records = validate_records(frame, self.feature_columns, self.target_column, self.id_column, source,
                                   self.float_dtype, self.champion_columns)
        logger.info("ingested %d records from %s", len(records.frame), source)
        return records
