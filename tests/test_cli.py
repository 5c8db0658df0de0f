"""zeroin.cli's loose ends: a bare `zeroin`, a repeated --set, and LessonResult.save's
argument (the commands and flags themselves are tested in test_cli_runs.py)."""
import subprocess
import sys

import pytest

from zeroin import lessons
from zeroin.cli import main


def test_bare_zeroin_shows_the_usage_and_exits_2_like_argparse(capsys):
    assert main([]) == 2
    out, err = capsys.readouterr()
    assert out == ""                                    # nothing on stdout for a pipe
    assert err.startswith("usage: zeroin") and "lesson" in err and "tour" in err
    assert "a COMMAND is required" in err
    assert main(["--version"]) == 0                     # the flags alone still work


def test_bare_zeroin_as_a_program_exits_2_and_help_exits_0():
    run = [sys.executable, "-m", "zeroin.cli"]
    bare = subprocess.run(run, capture_output=True, text=True)
    assert bare.returncode == 2 and "usage: zeroin" in bare.stderr
    helped = subprocess.run(run + ["--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and "usage: zeroin" in helped.stdout


def test_a_repeated_set_is_refused_naming_the_key(capsys, tmp_path):
    out = tmp_path / "never"
    assert main(["lesson", "solve", "--out", str(out), "--set", "target=70",
                 "--set", "target=80"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--set target is given twice" in err
    assert "'target=70'" in err and "'target=80'" in err and not out.exists()
    with pytest.raises(ValueError, match="--set tol is given twice"):
        lessons.settings("solve", ["tol=1e-3", "tol=1e-4"])
    assert lessons.settings("solve", ["target=70", "tol=1e-4"]) == dict(target=70,
                                                                      tol=1e-4)


def test_lesson_and_tour_take_a_dark_theme(capsys, tmp_path):
    """--theme dark for one lesson: its figures on slate, and its "run it yourself" line
    repeats the flag; a theme that is not light or dark is refused before any work."""
    pytest.importorskip("matplotlib")
    from matplotlib.colors import to_hex
    from matplotlib.image import imread
    out = tmp_path / "sens"
    assert main(["lesson", "sensitivity", "--out", str(out), "--theme", "dark"]) == 0
    assert "zeroin lesson sensitivity --theme dark" in capsys.readouterr().out
    assert to_hex(imread(str(out / "sensitivity.png"))[2, 2, :3]) == "#0f172a"
    assert main(["lesson", "sensitivity", "--out", str(tmp_path / "light")]) == 0
    assert to_hex(imread(str(tmp_path / "light" / "sensitivity.png"))[2, 2, :3]) == "#ffffff"
    for argv in (["lesson", "solve", "--theme", "blue"], ["tour", "--theme", "blue"]):
        with pytest.raises(SystemExit) as e:
            main(argv + ["--out", str(tmp_path / "never")])
        assert e.value.code == 2 and "invalid choice: 'blue'" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()
    for argv in (["lesson", "--help"], ["tour", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        assert "--theme {light,dark}" in capsys.readouterr().out


def test_lesson_result_save_says_what_it_takes(tmp_path):
    pytest.importorskip("matplotlib")
    r = lessons.run("solve", verbose=False, target=70)
    with pytest.raises(TypeError, match=r"LessonResult.save: out is the folder .* got "
                                        r"int 70; .*zeroin.lessons.solve\(target=70"):
        r.save(70)
    with pytest.raises(TypeError, match="got NoneType None"):
        r.save(None)
    written = r.save(tmp_path / "figs")                     # a Path is fine
    assert written and all(p.startswith(str(tmp_path / "figs")) for p in written)
