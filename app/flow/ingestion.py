"""IngestRecords: the validated records, from the data file or the Carol staging table."""

from __future__ import annotations

import logging
from pathlib import Path

import luigi
from pycarol.pipeline import inherit_list

from app.flow.commons import AppTask, setting_parameter
from carolbatch.records import sources, staging as staging_records, values
from carolbatch.records.sources import Records, read_records, validate_records
from carolbatch.records.staging import STAGING_KEY, read_staging_records
from carolbatch.storage import columnar

logger = logging.getLogger(__name__)


@inherit_list()
class IngestRecords(AppTask):
    """Produces `Records`: id (if any), float features (blanks as NaN) or text categories, and target, checked."""

    code_modules = (sources, values, columnar, staging_records)

    data_path = setting_parameter("data_path")
    input_connector = setting_parameter("input_connector")
    input_staging = setting_parameter("input_staging")
    feature_columns = setting_parameter("feature_columns")
    categorical_columns = setting_parameter("categorical_columns")
    target_column = setting_parameter("target_column")
    id_column = setting_parameter("id_column")
    float32 = setting_parameter("float32")
    # The deployed model's features this run does not use: read as well, so it is scored on the same rows.
    champion_columns = luigi.ListParameter(default=())

    @property
    def float_dtype(self) -> str:
        return "float32" if self.float32 else "float64"

    def easy_run(self, inputs) -> Records:
        # Carol staging always has its key: records without an id column go by their mdmId there.
        id_column = self.id_column or (STAGING_KEY if self.carol_mode else None)
        numeric = [name for name in (*self.feature_columns, self.target_column) if name not in self.categorical_columns]
        columns = [*([id_column] if id_column else []), *self.feature_columns, self.target_column]
        if self.carol_mode:
            source = f"Carol staging {self.input_connector}/{self.input_staging}"
            frame = read_staging_records(
                self.run_context().bigquery_reader(), self.input_connector, self.input_staging, columns, self.float_dtype,
                self.champion_columns, numeric)
        else:
            source = self.data_path
            frame = read_records(Path(self.data_path), columns, numeric, self.float_dtype, self.champion_columns,
                                 expected_fingerprint=self.data_path_fingerprint, id_column=id_column)
        records = validate_records(frame, self.feature_columns, self.target_column, id_column, source,
                                   self.float_dtype, self.champion_columns, self.categorical_columns)
        logger.info("ingested %d records from %s", len(records.frame), source)
        return records
