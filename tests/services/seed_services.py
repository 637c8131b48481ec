"""The seeds' Python services (seed 001 §4.2), reduced to what meets archon-tui on Kafka:
aiokafka as IntelligenceEnrichmentConsumer uses it (consumer group, earliest, manual commit,
JSON values), and _publish_to_dlq's record shape. Run by tests/python_interop.rs.

  seed_services.py consume BOOTSTRAP TOPIC GROUP EXPECTED
      read EXPECTED requests as the seed consumer does, commit after each; print a JSON summary
  seed_services.py enrich BOOTSTRAP TOPIC GROUP DLQ_TOPIC COMPLETED_TOPIC INTELLIGENCE_URL NEO4J_URI IDLE
      the seed consumer itself (retries re-queued, DLQ keyless, the graph updated), until IDLE s idle
  seed_services.py member BOOTSTRAP TOPIC GROUP SECONDS
      join GROUP on TOPIC and stay a member (paused) for SECONDS
  seed_services.py dlq BOOTSTRAP TOPIC N keyless|keyed
      publish N DLQ records the way _publish_to_dlq does (no origin, no service health): keyless
      as §4.2 sends them, or keyed by document_id as §3.2's compacted DLQ topic needs (Kafka
      refuses keyless records on a compacted topic); print how many the broker took
"""
import asyncio
import json
import sys
from datetime import datetime

import aiokafka


async def consume(bootstrap, topic, group, expected):
    consumer = aiokafka.AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,  # Manual commit for reliability (seed §4.2)
        value_deserializer=lambda m: json.loads(m.decode("utf-8")),
    )
    await consumer.start()
    seen, fields, retries = set(), set(), 0
    try:
        while len(seen) < expected:
            batch = await asyncio.wait_for(consumer.getmany(timeout_ms=1000), 60)
            for _tp, messages in batch.items():
                for message in messages:
                    event = message.value
                    seen.add(event["document_id"])
                    fields.update(event.keys())
                    retries += event.get("retry_count", 0)
            await consumer.commit()
    finally:
        await consumer.stop()
    print(json.dumps({"documents": len(seen), "fields": sorted(fields), "retry_total": retries}))


async def publish_dlq(bootstrap, topic, n, keyed):
    producer = aiokafka.AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        value_serializer=lambda v: json.dumps(v).encode("utf-8"),
    )
    await producer.start()
    deliveries = []
    try:
        for i in range(n):
            original_event = {
                "document_id": f"00000000-0000-4000-8000-{i:012d}",
                "project_name": "seedpy",
                "content_hash": f"{i:064x}",
                "file_path": f"services/seed/module_{i}.py",
                "document_type": "code",
                "language": "python",
                "indexed_at": "2025-10-30T18:30:00.123Z",
                "enrichment_type": "full",
                "priority": "normal",
                "correlation_id": f"SEED-{i}",
                "retry_count": 3,
            }
            error = RuntimeError(f"Intelligence service returned 500: boom {i}")
            dlq_event = {
                "failure_reason": str(error),
                "failure_timestamp": datetime.utcnow().isoformat() + "Z",
                "failure_count": original_event.get("retry_count", 0) + 1,
                "original_message": original_event,
                "error_details": {
                    "exception_type": type(error).__name__,
                    "exception_message": str(error),
                },
            }
            key = original_event["document_id"].encode() if keyed else None
            deliveries.append(await producer.send(topic, value=dlq_event, key=key))
        results = await asyncio.gather(*deliveries, return_exceptions=True)
    finally:
        await producer.stop()
    refused = [r for r in results if isinstance(r, Exception)]
    print(json.dumps({
        "published": len(results) - len(refused),
        "refused": len(refused),
        "error": repr(refused[0]) if refused else None,
    }))


async def member(bootstrap, topic, group, seconds):
    """Join GROUP on TOPIC as the seed consumer does and stay a member for SECONDS
    without consuming (a member of the group that is not archon-tui)."""
    consumer = aiokafka.AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        consumer.pause(*consumer.assignment())
        deadline = asyncio.get_event_loop().time() + seconds
        while asyncio.get_event_loop().time() < deadline:
            consumer.pause(*consumer.assignment())
            await consumer.getmany(timeout_ms=200)
    finally:
        await consumer.stop()


async def enrich(bootstrap, topic, group, dlq_topic, completed_topic, intelligence, neo4j_uri, idle):
    """IntelligenceEnrichmentConsumer as seed 001 §4.2 writes it: one message at a time, call the
    service, update the graph (§4.2's TODO, done with the neo4j driver), publish the completed
    event, commit; on failure re-queue with retry_count + 1 (keyless) until RETRY_MAX_ATTEMPTS,
    then _publish_to_dlq (keyless); commit either way. Sends as the seed does (`await
    producer.send(...)`: the delivery is not awaited). Stops after IDLE seconds with nothing to
    read; prints a JSON summary."""
    import urllib.request
    from neo4j import GraphDatabase

    retry_max = 3
    consumer = aiokafka.AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,  # Manual commit for reliability
        value_deserializer=lambda m: json.loads(m.decode("utf-8")),
    )
    producer = aiokafka.AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        value_serializer=lambda v: json.dumps(v).encode("utf-8"),
    )
    driver = GraphDatabase.driver(neo4j_uri, auth=("neo4j", "test"))
    await consumer.start()
    await producer.start()
    counts = {"processed": 0, "completed": 0, "requeued": 0, "dlq": 0}
    loop = asyncio.get_event_loop()
    last = loop.time()
    try:
        while loop.time() - last < idle:
            batch = await consumer.getmany(timeout_ms=500)
            for _tp, messages in batch.items():
                for message in messages:
                    last = loop.time()
                    event = message.value
                    document_id = event.get("document_id")
                    retry_count = event.get("retry_count", 0)
                    counts["processed"] += 1
                    try:
                        body = json.dumps({
                            "document_id": document_id,
                            "project_name": event.get("project_name"),
                            "file_path": event.get("file_path"),
                            "document_type": event.get("document_type"),
                            "language": event.get("language"),
                            "enrichment_type": event.get("enrichment_type"),
                        }).encode()
                        request = urllib.request.Request(
                            f"{intelligence}/process/document", data=body,
                            headers={"Content-Type": "application/json"})
                        result = await loop.run_in_executor(
                            None, lambda: json.loads(urllib.request.urlopen(request, timeout=60).read()))
                        driver.execute_query(
                            "MATCH (d:Document {entity_id: $id}) SET d.enrichment_status = 'completed', "
                            "d.enriched_at = $at, d.entities_extracted = $n",
                            id=document_id, at=datetime.utcnow().isoformat(),
                            n=result.get("entities_extracted", 0))
                        await producer.send(completed_topic, value={
                            "document_id": document_id,
                            "enrichment_status": "success",
                            "completed_at": datetime.utcnow().isoformat() + "Z",
                            "correlation_id": event.get("correlation_id"),
                            "enrichment_results": result,
                        })
                        counts["completed"] += 1
                    except Exception as e:
                        if retry_count < retry_max:
                            event["retry_count"] = retry_count + 1
                            await producer.send(topic, value=event)
                            counts["requeued"] += 1
                        else:
                            await producer.send(dlq_topic, value={
                                "failure_reason": str(e),
                                "failure_timestamp": datetime.utcnow().isoformat() + "Z",
                                "failure_count": retry_count + 1,
                                "original_message": event,
                                "error_details": {
                                    "exception_type": type(e).__name__,
                                    "exception_message": str(e),
                                },
                            })
                            counts["dlq"] += 1
                    await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()
        driver.close()
    print(json.dumps(counts))


def main():
    mode = sys.argv[1]
    if mode == "consume":
        asyncio.run(consume(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])))
    elif mode == "dlq":
        asyncio.run(publish_dlq(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "keyed"))
    elif mode == "enrich":
        asyncio.run(enrich(*sys.argv[2:9], float(sys.argv[9])))
    elif mode == "member":
        asyncio.run(member(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])))
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
