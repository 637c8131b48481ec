"""One Document node's enrichment fields, read with the Python neo4j driver, as the seeds' §9.2
test reads them (MATCH (doc:Document {entity_id: ...})). Prints a JSON object, {} when absent.
Usage: graph_document.py bolt://127.0.0.1:PORT ENTITY_ID"""
import json
import sys

from neo4j import GraphDatabase

uri, entity_id = sys.argv[1], sys.argv[2]
with GraphDatabase.driver(uri, auth=("neo4j", "test")) as driver:
    records, _, _ = driver.execute_query(
        "MATCH (doc:Document {entity_id: $id}) "
        "RETURN doc.enrichment_status AS status, doc.entities_extracted AS entities_extracted, "
        "doc.project_name AS project_name",
        id=entity_id,
    )
print(json.dumps(dict(records[0]) if records else {}))
