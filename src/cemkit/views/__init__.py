"""Views: turn analysis outputs into the result tables and *facts* that slides and HTML sections show.

Statistics live in :mod:`cemkit.metrics`, :mod:`cemkit.drivers`, :mod:`cemkit.text` and the action modules;
this module only selects, labels (in the report language) and summarises them into facts — the plain
values (names, numbers, flags) that the storyline's title templates are filled from. Each ``*_views``
function returns ``{result name: (table, meta)}``; :func:`save_all` writes them into the run folder.
"""

from .actions import PREDICTION_COLUMNS, action_views, prediction_views
from .common import (
                     TEXT_COLUMNS,
                     Views,
                     base_meta,
                     formula_safe,
                     frame,
                     odata_customers,
                     period_of,
                     read_odata,
                     read_responses,
                     save_all,
                     show,
                     wave_rows,
                     weight_column,
                     write_csv,
)
from .decisions import decision_views
from .drivers import (
                     BOOTSTRAP_ROWS,
                     customer_scores,
                     driver_columns,
                     driver_models,
                     driver_rows,
                     driver_views,
                     method_note,
                     stage_importance,
)
from .journey import journey_columns, journey_views
from .quality import data_quality_views
from .sample import sample_views
from .since import since_last_views
from .text import text_columns, text_views
from .waves import Waves, reporting_waves, wave_labels

__all__ = [
                     "BOOTSTRAP_ROWS",
                     "PREDICTION_COLUMNS",
                     "TEXT_COLUMNS",
                     "Views",
                     "Waves",
                     "action_views",
                     "base_meta",
                     "customer_scores",
                     "data_quality_views",
                     "decision_views",
                     "driver_columns",
                     "driver_models",
                     "driver_rows",
                     "driver_views",
                     "formula_safe",
                     "frame",
                     "journey_columns",
                     "journey_views",
                     "method_note",
                     "odata_customers",
                     "period_of",
                     "prediction_views",
                     "read_odata",
                     "read_responses",
                     "reporting_waves",
                     "sample_views",
                     "save_all",
                     "show",
                     "since_last_views",
                     "stage_importance",
                     "text_columns",
                     "text_views",
                     "wave_labels",
                     "wave_rows",
                     "weight_column",
                     "write_csv",
]
