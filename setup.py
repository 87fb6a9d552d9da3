"Setup for dataset_condensation; reads settings.ini with configparser (no pkg_resources)."

from configparser import ConfigParser
import setuptools
import shlex

cfg = ConfigParser(delimiters=['='])
cfg.read('settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']

expected = (
    'version description keywords author author_email license min_python lib_name user git_url status audience language'
).split()
missing = [o for o in expected if o not in cfg]
assert not missing, f"settings.ini is missing: {missing}"

licenses = {'apache2': ('Apache Software License 2.0', 'OSI Approved :: Apache Software License')}
statuses = ['1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable']
py_versions = '3.10 3.11 3.12 3.13'.split()

requirements = shlex.split(cfg.get('requirements', ''))
dev_requirements = shlex.split(cfg.get('dev_requirements', ''))
lic = licenses[cfg['license']]
min_python = cfg['min_python']

setuptools.setup(
    name=cfg['lib_name'],
    license=lic[0],
    classifiers=[
        'Development Status :: ' + statuses[int(cfg['status'])],
        'Intended Audience :: ' + cfg['audience'].title(),
        'Natural Language :: ' + cfg['language'].title(),
        'License :: ' + lic[1],
    ]
    + ['Programming Language :: Python :: ' + v for v in py_versions[py_versions.index(min_python) :]],
    url=cfg['git_url'],
    # the data the repository carries (data/, see data/README.md) goes into the wheel as <lib>/bundled_data
    packages=setuptools.find_packages(include=[cfg['lib_name'], cfg['lib_name'] + '.*'])
    + [cfg['lib_name'] + '.bundled_data'],
    package_dir={cfg['lib_name'] + '.bundled_data': 'data'},
    package_data={cfg['lib_name'] + '.bundled_data': ['*.npz', 'README.md']},
    include_package_data=True,
    install_requires=requirements,
    extras_require={'dev': dev_requirements, 'medmnist': ['medmnist']},
    python_requires='>=' + min_python,
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    zip_safe=False,
    entry_points={
        'console_scripts': cfg['console_scripts'].split(),
        'nbdev': [f"{cfg['lib_name']}={cfg['lib_name']}._modidx:d"],
    },
    version=cfg['version'],
    author=cfg['author'],
    author_email=cfg['author_email'],
    description=cfg['description'],
    keywords=cfg['keywords'],
)
