"""Count one project's Document nodes by enrichment status with the Python neo4j driver: the
independent Bolt client of archon-tui's tests (tests/common/services.rs). Prints a JSON list of
[enrichment_status, enrichment_applied, documents].
Usage: graph_counts.py bolt://127.0.0.1:PORT PROJECT"""
import json
import sys

from neo4j import GraphDatabase

uri, project = sys.argv[1], sys.argv[2]
# The test server runs without auth; any credentials are accepted.
with GraphDatabase.driver(uri, auth=("neo4j", "test")) as driver:
    records, _, _ = driver.execute_query(
        "MATCH (d:Document {project_name: $p}) "
        "RETURN d.enrichment_status AS s, coalesce(d.enrichment_applied, 0) AS a, count(d) AS n",
        p=project,
    )
print(json.dumps([[r["s"], r["a"], r["n"]] for r in records]))
