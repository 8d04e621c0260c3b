"""Validates containerlab topology documents against clab.schema.json (beside this file).

stdin: a JSON object {"label": document, ...} (the YAML files converted to JSON by the test, so
PyYAML is not needed). Prints one line per schema error; exits 1 if there was any.
As the README here says: Draft7Validator without check_schema. Python's re lacks the \\p{N}\\p{L}
classes of the address patterns (`remote` of vxlan links is checked against them): letters and
digits (`[^\\W_]`) stand for them.
"""
import json
import os
import sys

import jsonschema

text = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "clab.schema.json")).read()
schema = json.loads(text.replace(r"[\\p{N}\\p{L}]", r"[^\\W_]"))
validator = jsonschema.Draft7Validator(schema)
failed = False
for label, doc in json.load(sys.stdin).items():
    for e in validator.iter_errors(doc):
        failed = True
        print(f"{label}: {'/'.join(str(p) for p in e.absolute_path)}: {e.message}")
sys.exit(1 if failed else 0)
