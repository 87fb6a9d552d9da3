# Sphinx configuration of the documentation site: `tools/docs.sh` builds it from the notebooks (see tools/docs.py).
# Nothing is executed: myst-nb renders the committed outputs. MathJax comes from the sphinx-mathjax-offline
# package and is served from the site itself, so the pages need no network.
import configparser
import importlib.util
from pathlib import Path

_root = Path(__file__).resolve().parents[1]
_ini = configparser.ConfigParser()
_ini.read(_root / 'settings.ini')
_s = _ini['DEFAULT']

project = _s['lib_name']
author = _s['author']
copyright = _s['copyright']
release = version = _s['version']

extensions = ['myst_nb']
# MathJax 3 (tex-chtml and its woff fonts) from the sphinx-mathjax-offline package, copied into _static/mathjax
# (the package's own extension does the same copy but makes Sphinx read the notebooks serially)
_mathjax = Path(importlib.util.find_spec('sphinx-mathjax-offline').origin).parent / 'static'
mathjax_path = 'mathjax/tex-chtml.js'
root_doc = 'index'
exclude_patterns = ['**.raw.ipynb', '.ipynb_checkpoints', '_outputs']

# notebooks: rendered from their committed outputs
nb_execution_mode = 'off'
# myst-nb writes the notebooks' output files beside the output folder (the repository root here): an absolute
# path keeps them in the staging folder
import myst_nb.sphinx_ext  # noqa: E402

myst_nb.sphinx_ext.OUTPUT_FOLDER = str(_root / '_site_src' / '_outputs')
nb_render_markdown_format = 'myst'  # show_doc's markdown outputs, with their math
nb_merge_streams = True
myst_enable_extensions = ['dollarmath', 'amsmath', 'colon_fence', 'strikethrough']
myst_dmath_double_inline = True  # $$...$$ inside a paragraph is display math too
myst_heading_anchors = 4  # `notebook.ipynb#a-heading` links resolve
suppress_warnings = ['myst.header']  # notebooks may skip a heading level (H1 -> H3)

html_theme = 'furo'
html_title = _s['title']
html_static_path = ['_static', str(_mathjax)]
html_css_files = ['site.css']
html_show_sourcelink = False
html_copy_source = False
html_theme_options = {
    'navigation_with_keys': True,
    'source_repository': _s['git_url'] + '/',
    'source_branch': _s['branch'],
    'source_directory': 'nbs/',
}
