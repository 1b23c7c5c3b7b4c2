"""Records an insync history (format version 2) from a real cluster with confluent-kafka: one producer sends COUNT
keyed records while one member of GROUP reads them, committing after each batch. Then judge it:
    python3 confluent_kafka_recorder.py BOOTSTRAP TOPIC GROUP COUNT > history.jsonl
    insync check history.jsonl --holds at-least-once,ordering"""
import json, sys, time
from confluent_kafka import Consumer, Producer

bootstrap, topic, group, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                     "enable.auto.commit": False})
n = len(producer.list_topics(topic, timeout=10).topics[topic].partitions)
started, lines, generation = time.monotonic_ns(), [], [0]

def emit(kind, **fields):
    lines.append({"time_us": (time.monotonic_ns() - started) // 1000, "type": kind, **fields})

def delivered(err, msg):
    send_seq = int(msg.value())
    if err is None:
        emit("send_acked", producer=0, send_seq=send_seq, partition=msg.partition(), offset=msg.offset())
    else:  # Python does not expose librdkafka's persistence status: every failure is indeterminate.
        emit("send_failed", producer=0, send_seq=send_seq, partition=msg.partition(), error=err.name(), definite=False)

def on_assign(_, partitions):  # The client does not expose the generation: count rebalances instead.
    generation[0] += 1
    emit("assigned", consumer=0, group=0, generation=generation[0], partitions=[p.partition for p in partitions])

def on_revoke(_, partitions):
    emit("revoked", consumer=0, group=0, partitions=[p.partition for p in partitions])

def poll_once():
    emit("poll_invoked", consumer=0, group=0)
    records = [m for m in consumer.consume(num_messages=500, timeout=0.1) if m.error() is None]
    for p in sorted({m.partition() for m in records}):
        mine = [m for m in records if m.partition() == p]
        first, last = mine[0].offset(), mine[-1].offset()
        emit("polled", consumer=0, group=0, generation=generation[0], partition=p, first_offset=first,
             count=last - first + 1)
        for m in mine:
            emit("processed", consumer=0, group=0, generation=generation[0], partition=p, offset=m.offset(),
                 producer=0, send_seq=int(m.value()))
    if records:
        for tp in consumer.commit(asynchronous=False):
            emit("committed", consumer=0, group=0, generation=generation[0], partition=tp.partition,
                 offset=tp.offset, error=tp.error.name() if tp.error else None)
    return len(records)

emit("subscribed", consumer=0, group=0, topics=[topic])
consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_revoke)
for send_seq in range(count):
    key = send_seq % 16
    emit("send_invoked", producer=0, send_seq=send_seq, key=key, partition=key % n)
    producer.produce(topic, key=str(key), value=str(send_seq), partition=key % n, on_delivery=delivered)
    producer.poll(0)
    if send_seq % 100 == 99:
        poll_once()
producer.flush(30)
idle_since = time.monotonic()
while time.monotonic() - idle_since < 10:
    if poll_once():
        idle_since = time.monotonic()
consumer.close()
emit("left_group", consumer=0, group=0, reason="closed")
header = {"version": 2, "partitions": [f"{topic}-{p}" for p in range(n)], "producers": ["recorder"],
          "consumers": ["recorder"], "groups": [group]}
for line in [header] + lines:
    print(json.dumps(line))
