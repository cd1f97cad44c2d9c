"""Management answers: logs, log sets and labels in the shapes of the reference's section 6.

Pure functions of the dataset, the log ids the key may read and the base URL; the API
routes to `management` after authenticating.
"""

from __future__ import annotations

from collections.abc import Collection

from log_ingestion.emulator.dataset import Dataset, LogSet, LogStore
from log_ingestion.emulator.protocol import Response, forbidden, json_response, not_found


def management(dataset: Dataset, path: str, visible: Collection[str] | None, base: str) -> Response:
    """The answer to `GET <path>` for a key that may read `visible` logs (None: all)."""
    parts = path.strip("/").split("/")
    if parts == ["management", "logs"]:
        logs = [s for s in dataset.logs.values() if visible is None or s.id in visible]
        return json_response(200, {"logs": [log_json(dataset, s, base) for s in logs]})
    if parts == ["management", "logsets"]:
        logsets = dataset.logsets.values()
        return json_response(200, {"logsets": [logset_json(dataset, ls, base) for ls in logsets]})
    if len(parts) != 3 or parts[0] != "management":
        raise not_found()
    kind, item = parts[1], parts[2]
    if kind == "logs" and item in dataset.logs:
        if visible is not None and item not in visible:
            raise forbidden()
        return json_response(200, {"log": log_json(dataset, dataset.logs[item], base)})
    if kind == "logsets" and item in dataset.logsets:
        return json_response(200, {"logset": logset_json(dataset, dataset.logsets[item], base)})
    if kind == "labels" and item in dataset.labels:
        return json_response(200, {"label": dataset.labels[item].as_json()})
    raise not_found()


def log_json(dataset: Dataset, store: LogStore, base: str) -> dict[str, object]:
    logsets = dataset.logsets_of(store.id)
    structure = logsets[0].id if logsets else store.id
    return {
        "id": store.id,
        "name": store.name,
        "links": [{"href": f"{base}/management/logs/{store.id}/topkeys", "rel": "Related"}],
        "logsets_info": [
            {
                "id": ls.id,
                "name": ls.name,
                "links": [{"href": f"{base}/management/logsets/{ls.id}", "rel": "Self"}],
                "rrn": f"rrn:logsearch:us:{ls.id}:logset:{ls.id}",
            }
            for ls in logsets
        ],
        "retention_period": "default",
        "rrn": f"rrn:logsearch:us:{structure}:log:{store.id}",
        "source_type": "token",
        "structures": [structure],
        "token_seed": None,
        "tokens": [],
        "user_data": {"platform_managed": "true"},
    }


def logset_json(dataset: Dataset, logset: LogSet, base: str) -> dict[str, object]:
    return {
        "id": logset.id,
        "name": logset.name,
        "description": "",
        "user_data": {},
        "logs_info": [
            {
                "id": log_id,
                "name": dataset.logs[log_id].name,
                "links": [{"href": f"{base}/management/logs/{log_id}", "rel": "Self"}],
            }
            for log_id in logset.log_ids
        ],
    }
