"""The experiments' Session: what every experiment shares (here: plots are optional views of the records)."""

from __future__ import annotations


def test_without_matplotlib_an_experiment_warns_and_keeps_its_records(tmp_path, monkeypatch, capsys):
    import builtins

    from likra.config import ExperimentConfig
    from likra.experiments.session import Session

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("no matplotlib here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    drawn = []
    Session(ExperimentConfig(), tmp_path).draw(lambda data, s: drawn.append(data), [1])
    assert drawn == [] and "matplotlib is not installed" in capsys.readouterr().err
    monkeypatch.setattr(builtins, "__import__", real_import)
    Session(ExperimentConfig(), tmp_path).draw(lambda data, s: drawn.append(data), [1])
    assert drawn == [[1]]
