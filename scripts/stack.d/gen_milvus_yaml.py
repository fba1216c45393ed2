"""Write a complete milvus.yaml (and glog.conf) for one Milvus of the stack.

Usage: gen_milvus_yaml.py OVERRIDES_TEMPLATE CONFIG_DIR
  1. loads config.yaml.template of the installed `milvus` wheel (= upstream milvus.yaml of 2.3.5 with
     `{{ name(type): default }}` placeholders) and puts every placeholder's default in its place;
  2. renders OVERRIDES_TEMPLATE (${VAR} from the environment, see render.py) and deep-merges it;
  3. writes CONFIG_DIR/milvus.yaml and CONFIG_DIR/glog.conf (C++ logs into the piece's logs dir).
The binary finds them through MILVUSCONF=CONFIG_DIR.
"""
import os
import re
import sys

import milvus
import yaml

from render import render, write_if_changed

_PLACEHOLDER = re.compile(r"\{\{([^}]*)\}\}")


def _default(match):
    text = match.group(1)
    # "name(type): default" -> default; "name" (no default) -> "" (the overrides set those paths)
    return text.split(":", 1)[1].strip() if ":" in text else ""


def template_config():
    path = os.path.join(os.path.dirname(milvus.__file__), "data", "config.yaml.template")
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(_PLACEHOLDER.sub(_default, f.read()))


def merge(base, over):
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = value
    return base


def glog_conf(log_dir):
    path = os.path.join(os.path.dirname(milvus.__file__), "data", "glog.conf")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return re.sub(r"^--log_dir=.*$", f"--log_dir={log_dir}/", text, flags=re.M)


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    overrides_path, config_dir = argv[1], argv[2]
    with open(overrides_path, encoding="utf-8") as f:
        overrides = yaml.safe_load(render(f.read()))
    config = merge(template_config(), overrides)
    os.makedirs(config_dir, exist_ok=True)
    write_if_changed(os.path.join(config_dir, "milvus.yaml"),
                     yaml.safe_dump(config, sort_keys=False, default_flow_style=False))
    log_dir = config["log"]["file"]["rootPath"]
    os.makedirs(log_dir, exist_ok=True)
    write_if_changed(os.path.join(config_dir, "glog.conf"), glog_conf(log_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
