"""One local[2] Spark session (UI off, bound to 127.0.0.1) for the Spark tests of a run: its
start-up takes tens of seconds on a loaded machine."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def spark():
    if shutil.which("java") is None:
        pytest.skip("the Spark tests need Java (java not on PATH)")
    pytest.importorskip("pyspark", reason="the Spark tests need PySpark: pip install 'tokentrail[spark]'")
    from tokentrail.engine.spark import spark_session

    session = spark_session("local[2]")
    yield session
    session.stop()
