"""The Colab set-up cell (course.colab_setup_source), run as Colab runs it: in IPython, with google.colab imported.

Each case runs the cell in a fresh interpreter with a pretend ``google.colab`` module and local folders and git
repositories only (no network): a failure stops the cell with one message that says what to do and no traceback, a
good clone or folder goes on ``sys.path``, and a clone left from earlier that is no longer current is reported.
"""

import json
import os
import subprocess
import sys
import textwrap

from sdgan_course.course import colab_setup_source

RUNNER = textwrap.dedent("""
    import json, sys, types
    sys.modules["google.colab"] = types.ModuleType("google.colab")
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance(colors="nocolor")
    result = shell.run_cell(open(sys.argv[1]).read())
    print("@@RESULT@@" + json.dumps({"error": repr(result.error_in_exec), "path": sys.path[:3]}))
""")


def run_cell(tmp_path, **env):
    """Run the cell as Colab would, with its default folder /content/sdgan_course moved to tmp_path/content/."""
    default = tmp_path / "content" / "sdgan_course"
    source = colab_setup_source().replace('"/content/sdgan_course"', repr(str(default)))
    assert source != colab_setup_source(), "the default folder moved: update this test"
    cell = tmp_path / "cell.py"
    cell.write_text(source)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SDGAN_")} | {"HOME": str(tmp_path)} | env
    done = subprocess.run([sys.executable, "-c", RUNNER, str(cell)], capture_output=True, text=True, env=environ,
                          timeout=120, cwd=tmp_path)
    shown, _, result = done.stdout.partition("@@RESULT@@")
    assert result, done.stdout + done.stderr
    return shown + done.stderr, json.loads(result)


def git(*args, cwd):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                   capture_output=True)


def make_course_repository(path):
    (path / "sdgan_course").mkdir(parents=True)
    (path / "sdgan_course" / "__init__.py").write_text("")
    git("init", "-q", cwd=path)
    git("add", ".", cwd=path)
    git("commit", "-q", "-m", "course", cwd=path)
    return path


def test_a_failed_clone_stops_with_one_message_that_says_what_to_do(tmp_path):
    shown, result = run_cell(tmp_path, SDGAN_REPOSITORY=str(tmp_path / "no-such-repository"))
    assert "CourseSetupError" in result["error"], "the cell must fail (so that 'Run all' stops here)"
    assert "Course set-up failed: could not clone" in shown
    for what_to_do in ("%env SDGAN_REPOSITORY=", "drive.mount('/content/drive')", "%env SDGAN_COURSE_DIR=",
                       "!unzip", "then run this cell again"):
        assert what_to_do in shown, f"the message does not say {what_to_do!r}:\n{shown}"
    assert "Traceback" not in shown and "CalledProcessError" not in shown, shown
    assert shown.count("Course set-up failed") == 1


def test_a_folder_without_the_course_stops_with_a_message(tmp_path):
    folder = tmp_path / "uploaded"
    (folder / "sdgan_course-main" / "sdgan_course").mkdir(parents=True)
    shown, result = run_cell(tmp_path, SDGAN_COURSE_DIR=str(folder))
    assert "CourseSetupError" in result["error"]
    assert f"{folder} does not hold the course" in shown and "Traceback" not in shown, shown


def test_an_uploaded_folder_is_used_as_it_is(tmp_path):
    folder = tmp_path / "drive" / "sdgan_course"
    (folder / "sdgan_course").mkdir(parents=True)
    (folder / "sdgan_course" / "__init__.py").write_text("")
    shown, result = run_cell(tmp_path, SDGAN_COURSE_DIR=str(folder))
    assert result["error"] == "None", shown
    assert result["path"][0] == str(folder)


def test_a_clone_goes_on_the_path_and_a_stale_one_is_noticed(tmp_path):
    upstream = make_course_repository(tmp_path / "upstream")
    target = tmp_path / "content" / "sdgan_course"

    def run():
        return run_cell(tmp_path, SDGAN_REPOSITORY=str(upstream))

    shown, result = run()
    assert result["error"] == "None", shown
    assert (target / "sdgan_course" / "__init__.py").is_file() and result["path"][0] == str(target)
    assert "Cloning the course" in shown and "Note:" not in shown

    shown, result = run()  # run again: the clone is current, nothing to say
    assert result["error"] == "None" and "Note:" not in shown and "Cloning" not in shown, shown

    (upstream / "new.txt").write_text("the course changed")
    git("add", ".", cwd=upstream)
    git("commit", "-q", "-m", "newer", cwd=upstream)
    shown, result = run()  # the course moved on since the clone: say so, and how to start afresh
    assert result["error"] == "None", shown
    assert "cloned earlier" in shown and "older than" in shown and f"!rm -rf {target}" in shown, shown
