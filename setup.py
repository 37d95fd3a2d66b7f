"""Packaging beyond what pyproject.toml can say: the labs.

The exercises live in labs/ at the repository root, where people browse
them; wheels carry them as the data package cms_sim.lab.exercises, so that
``cms-sim lab`` works after ``pip install`` too.  pyproject's tables cannot
add a package that lives outside the folders they search, hence this file;
everything else, the labs' package data included, is in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["cops_core*", "cms_sim*", "cmts_sim*", "pktcable_settings*"])
    + ["cms_sim.lab.exercises"],
    package_dir={"cms_sim.lab.exercises": "labs"},
)
