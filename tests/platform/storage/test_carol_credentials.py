"""Carol credentials from a batch container's environment, read as pycarol reads them."""

from __future__ import annotations

import pytest

from carolbatch.storage.carol_credentials import CarolCredentials, CarolCredentialsError, credentials_from_environment

BATCH_CONTAINER = {"CAROLTENANT": "tenant1", "CAROLAPPNAME": "app1", "CAROLAPPOAUTH": "key",
                   "CAROLCONNECTORID": "c1", "CAROLORGANIZATION": "org1", "CAROL_DOMAIN": "karol.ai",
                   "LONGTASKID": "task1"}


def test_no_carol_variable_means_local_mode():
    assert credentials_from_environment({"CAROLCONNECTORID": "c1", "CAROL_DOMAIN": "carol.ai", "HOME": "/"}) is None


def test_credentials_are_read_as_pycarol_reads_them():
    credentials = credentials_from_environment(BATCH_CONTAINER)
    assert credentials == CarolCredentials(tenant="tenant1", app_name="app1", api_key="key", connector_id="c1",
                                           organization="org1", domain="karol.ai")
    assert "key" not in repr(credentials)
    defaults = credentials_from_environment({**BATCH_CONTAINER, "CAROLORGANIZATION": "", "CAROL_DOMAIN": ""})
    assert (defaults.organization, defaults.domain) == (None, "carol.ai")


@pytest.mark.parametrize(("missing", "named"), [
    ("CAROLTENANT", "CAROLTENANT"), ("CAROLAPPNAME", "CAROLAPPNAME"), ("CAROLAPPOAUTH", "CAROLAPPOAUTH")])
def test_a_partial_carol_environment_names_what_is_missing(missing, named):
    environ = {name: value for name, value in BATCH_CONTAINER.items() if name != missing}
    with pytest.raises(CarolCredentialsError, match=f"Carol login incomplete: {named} missing"):
        credentials_from_environment(environ)
    with pytest.raises(CarolCredentialsError, match=f"{named} missing"):
        credentials_from_environment({**environ, missing: ""})  # empty is missing, as for pycarol


@pytest.mark.parametrize("variable", ["CAROLTENANT", "CAROLAPPNAME", "CAROLAPPOAUTH", "CAROLUSER", "LONGTASKID"])
def test_any_one_carol_variable_alone_is_an_incomplete_login_not_local_mode(variable):
    with pytest.raises(CarolCredentialsError, match=f"found {variable}"):
        credentials_from_environment({variable: "x"})


def test_a_user_login_needs_its_password_unless_an_api_key_is_there():
    user_only = {**BATCH_CONTAINER, "CAROLUSER": "u@x"}
    del user_only["CAROLAPPOAUTH"]
    with pytest.raises(CarolCredentialsError, match=r"CAROLPWD \(or CAROLAPPOAUTH\) missing"):
        credentials_from_environment(user_only)
    assert credentials_from_environment({**user_only, "CAROLPWD": "p"}).user == "u@x"
    assert credentials_from_environment({**BATCH_CONTAINER, "CAROLUSER": "u@x"}).api_key == "key"
