"""IngestRecords: the validated records, from the data file or the Carol staging table."""

from __future__ import annotations

from pycarol.pipeline import inherit_list

from app.flow.commons import RecordsTask
from carolbatch.records.sources import Records


@inherit_list()
class IngestRecords(RecordsTask):
    """Produces `Records`: the id (if any), the features and the target of the table the settings name, checked
    (its settings: data_path or input_connector/input_staging, feature_columns, categorical_columns,
    target_column, id_column)."""

    def easy_run(self, inputs) -> Records:
        return self.read_records()
