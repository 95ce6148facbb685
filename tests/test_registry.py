import pytest

from alignlab.registry import registrar


def test_a_registrar_files_each_name_and_refuses_a_taken_one():
    table: dict = {}
    register = registrar(table, "tie rule")

    @register("min", "best")
    def low(x):
        return x

    assert table == {"min": low, "best": low} and low(3) == 3
    with pytest.raises(ValueError, match="a tie rule named 'min' is already registered"):
        register("min")(abs)
    with pytest.raises(ValueError, match="at least one name"):
        register()
