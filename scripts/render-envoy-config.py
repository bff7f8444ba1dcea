#!/usr/bin/env python3
"""Render an Envoy config from envoy/envoy.yaml (or another template).

Lines of the template that end in "# @name" have their value replaced:

  @plugin-configuration  the plugin configuration JSON (--rules, --mode, --config)
  @wasm                  the wasm path (--wasm; made absolute)
  @admin-port @listener-port @mock-port @upstream-port @listen-address @access-log-path
                         (--set name=value)

Examples:
  scripts/render-envoy-config.py --rules filters/strict.json --out .run/envoy.yaml
  scripts/render-envoy-config.py --mode monitor --set listener-port=18000 --out /tmp/e.yaml

Only the standard library; exits 2 with a one-line message on bad input.
"""

import argparse
import json
import os
import re
import sys

MARKED = re.compile(r'^(?P<key>\s*[A-Za-z0-9_"@-]+:\s*)(?P<value>.*?)(?P<marker>\s+#\s*@(?P<name>[a-z-]+)\s*)$')


def fail(msg):
    print(f"render-envoy-config: {msg}", file=sys.stderr)
    sys.exit(2)


def yaml_string(s):
    # A JSON string is a valid YAML double-quoted scalar (keep non-ASCII as is:
    # YAML parsers differ on \\u surrogate pairs).
    return json.dumps(s, ensure_ascii=False)


def plugin_configuration(args):
    config = {}
    if args.config:
        try:
            config = json.loads(args.config)
        except json.JSONDecodeError as e:
            fail(f"--config is not valid JSON: {e}")
        if not isinstance(config, dict):
            fail("--config must be a JSON object")
    if args.rules:
        try:
            with open(args.rules, encoding="utf-8") as f:
                config["rules"] = json.load(f)
        except OSError as e:
            fail(f"{args.rules}: {e.strerror}")
        except json.JSONDecodeError as e:
            fail(f"{args.rules}:{e.lineno}:{e.colno}: not valid JSON: {e.msg}")
    if args.mode:
        config["mode"] = args.mode
    return json.dumps(config, ensure_ascii=False, separators=(",", ":")) if config else ""


def render(template, values):
    out, seen = [], set()
    for line in template.splitlines(keepends=True):
        body = line.rstrip("\n")
        m = MARKED.match(body)
        if m and m.group("name") in values:
            name = m.group("name")
            seen.add(name)
            line = f"{m.group('key')}{values[name]}{m.group('marker')}\n"
        out.append(line)
    missing = sorted(set(values) - seen)
    if missing:
        fail(f"the template has no line marked {', '.join('@' + n for n in missing)}")
    return "".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--template", default="envoy/envoy.yaml")
    p.add_argument("--out", required=True)
    p.add_argument("--rules", help="rule file to inline as the plugin configuration's \"rules\"")
    p.add_argument("--mode", choices=["enforce", "monitor"])
    p.add_argument("--config", help="plugin configuration JSON object to start from")
    p.add_argument("--wasm", help="path of the plugin (default: keep the template's)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="replace a marked value")
    args = p.parse_args()

    try:
        with open(args.template, encoding="utf-8") as f:
            template = f.read()
    except OSError as e:
        fail(f"{args.template}: {e.strerror}")

    values = {"plugin-configuration": yaml_string(plugin_configuration(args))}
    if args.wasm:
        if not os.path.isfile(args.wasm):
            fail(f"{args.wasm}: no such file (run make build)")
        values["wasm"] = os.path.abspath(args.wasm)
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep:
            fail(f"--set {item!r}: expected NAME=VALUE")
        values[name] = value

    rendered = render(template, values)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(rendered)


if __name__ == "__main__":
    main()
