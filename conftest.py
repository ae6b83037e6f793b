pytest_plugins = ["chorus_common.testing.fixtures"]
