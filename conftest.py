pytest_plugins = ["chorus_testing.fixtures"]
