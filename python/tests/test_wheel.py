"""The grader's wheel (`maturin build`) installs with pip into a fresh environment, without Rust
or this checkout, and grades there."""

import pathlib
import subprocess
import sys
import venv

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_the_wheel_installs_into_a_fresh_environment_and_grades(tmp_path):
    maturin = pathlib.Path(sys.executable).parent / "maturin"
    if not maturin.exists():
        pytest.skip("maturin is not in this environment (scripts/setup.sh installs it into .venv)")
    subprocess.run(
        [maturin, "build", "--release", "--locked", "-m", ROOT / "python" / "Cargo.toml", "-o", tmp_path / "wheels"],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "wheels").glob("bestofn_grade-*-abi3-*.whl")
    venv.create(tmp_path / "env", with_pip=True)
    python = tmp_path / "env" / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-index", wheel], check=True)
    check = (
        "import bestofn_grade as bg\n"
        "from bestofn_grade import estimators as E\n"
        "assert bg.grade('\\\\frac{1}{2}', 'so $\\\\boxed{0.5}$')\n"
        "assert bg.make_reward('final')(completions=['#### 5', '#### 6'], final=[5, 5]) == [1.0, 0.0]\n"
        "assert E.pass_at_k([True, False, False, False], 2) == 0.5\n"
        "print(bg.__file__)\n"
    )
    # Run outside the checkout: the module must come from the installed wheel.
    found = subprocess.run([python, "-c", check], cwd=tmp_path, check=True, capture_output=True, text=True)
    assert str(tmp_path / "env") in found.stdout
