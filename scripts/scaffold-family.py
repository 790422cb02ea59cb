#!/usr/bin/env python3
"""Writes the shared-verb method schemas of an entity family into rpc-schema/methods/ once, as a
starting point to edit (the files, not this script, are the source of truth afterwards).

  python3 scripts/scaffold-family.py FAMILY MODEL NOUN 'FILTERS_JSON' [--parents] [--cascade TEXT]
"""
import json, os, sys

family, model, noun, filters_json = sys.argv[1:5]
parents = '--parents' in sys.argv
cascade = sys.argv[sys.argv.index('--cascade') + 1] if '--cascade' in sys.argv else None
filters = json.loads(filters_json)
stored = f'Stored{model}.json'
item = {"$ref": f"{model}.json"}
out = os.path.join(os.path.dirname(__file__), '..', 'rpc-schema', 'methods')
ref_err = [-32004] if parents else []

def obj(props, required=()):
    s = {"type": "object", "additionalProperties": False}
    if required: s["required"] = list(required)
    s["properties"] = props
    return s

delete_desc = (f"Deletes the {noun}" + (f" with {cascade} (the schema's cascades)" if cascade else "") +
               " and answers how many rows the cascades removed. With `ifRevision`, a stored revision other than it is a Conflict and nothing changes.")
specs = {
  "create": (f"Create a {noun}.", f"Inserts a new {noun}. `id` is generated when absent. Fails with AlreadyExists when the id is taken; nothing is overwritten." + (" A reference to a missing parent is ConstraintViolation and nothing is written." if parents else ""),
             obj({"item": item}, ["item"]), {"$ref": stored}, [-32602, -32003] + ref_err),
  "get": (f"Read one {noun}.", "A missing id is NotFound, never null.", obj({"id": {"$ref": "Id.json"}}, ["id"]), {"$ref": stored}, [-32602, -32001]),
  "update": (f"Replace an existing {noun}.", "The item replaces the stored record whole (createdAt is kept; updatedAt and revision advance). With `ifRevision`, a stored revision other than it is a Conflict and nothing changes.",
             obj({"item": {"allOf": [item, {"type": "object", "required": ["id"]}]}, "ifRevision": {"$ref": "Revision.json"}}, ["item"]), {"$ref": stored}, [-32602, -32001, -32002] + ref_err),
  "save": (f"Create or replace a {noun} (upsert).", "Inserts the record, or updates it in place when the id exists. An update never deletes anything (no INSERT OR REPLACE).",
           obj({"item": item}, ["item"]), {"$ref": stored}, [-32602] + ref_err),
  "delete": (f"Delete a {noun}" + (f" with {cascade}." if cascade else "."), delete_desc,
             obj({"id": {"$ref": "Id.json"}, "ifRevision": {"$ref": "Revision.json"}}, ["id"]), {"$ref": "DeleteResult.json"}, [-32602, -32001, -32002]),
  "list": (f"List {family}, one page at a time.", "Keyset pagination: pass `nextCursor` back as `cursor` for the next page; it is absent on the last page.",
           obj({"limit": {"$ref": "Limit.json"}, "cursor": {"$ref": "Cursor.json"}, "orderBy": {"$ref": "OrderBy.json"}, "direction": {"$ref": "Direction.json"}, **filters}),
           obj({"items": {"type": "array", "items": {"$ref": stored}}, "nextCursor": {"$ref": "Cursor.json"}}, ["items"]), [-32602]),
  "count": (f"Count {family}, with the same filters as {family}.list.", None, obj(dict(filters)),
            obj({"count": {"type": "integer", "minimum": 0}}, ["count"]), [-32602]),
  "saveMany": (f"Save (upsert) many {family} in one transaction: all or none.", None,
               obj({"items": {"type": "array", "minItems": 1, "maxItems": 10000, "items": item}}, ["items"]),
               obj({"items": {"type": "array", "items": {"$ref": stored}}}, ["items"]), [-32602] + ref_err),
  "deleteMany": (f"Delete many {family} in one transaction: all or none.", "If any id is missing the answer is NotFound for it and nothing is deleted.",
                 obj({"ids": {"type": "array", "minItems": 1, "maxItems": 10000, "uniqueItems": True, "items": {"$ref": "Id.json"}}}, ["ids"]),
                 {"$ref": "DeleteResult.json"}, [-32602, -32001]),
}
for verb, (summary, desc, params, result, errors) in specs.items():
    spec = {"name": f"{family}.{verb}", "summary": summary}
    if desc: spec["description"] = desc
    spec.update({"params": params, "result": result, "errors": errors})
    with open(os.path.join(out, f"{family}.{verb}.json"), "w") as f:
        json.dump(spec, f, indent=2); f.write("\n")
print(f"wrote {len(specs)} method schemas for {family}")
