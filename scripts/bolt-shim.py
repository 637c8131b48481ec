#!/usr/bin/env python3
"""Test-only Bolt 4.x -> 5.x relay, so neo4rs (Bolt 4.x) can reach FalkorDB (Bolt 5.x only).

Memgraph and Neo4j 5 speak Bolt 4.x, so production never needs this. FalkorDB is the only
Bolt server installable on the test machines, and it answers nothing but 5.x. The relay:
  * answers the driver's handshake with the highest 4.x version it offers (4.4 > 4.3 > 4.1 > 4.0),
  * opens Bolt 5.4..5.0 to FalkorDB,
  * turns the driver's HELLO (with credentials) into HELLO + LOGON (5.1+ moved auth to LOGON),
  * passes every other message through unchanged: RUN/PULL/DISCARD/BEGIN/COMMIT/ROLLBACK/RESET/
    GOODBYE have the same shape in 4.x and 5.x for the scalars, lists and maps our queries return,
  * stands in for two FalkorDB gaps: after a FAILURE it answers the requests pipelined behind
    it (IGNORED) only once another message arrives, so a driver waiting for those answers
    hangs; the relay answers IGNORED for them at once (and drops FalkorDB's late ones), and
    keeps doing so until the driver's RESET. FalkorDB's FAILURE also has no "message", which
    the relay adds.
Limits: Node/Relationship/DateTime structures differ between 4.x and 5.x and are NOT rewritten;
queries through the relay must return scalars, lists and maps (the adapter only does that).

Usage: bolt-shim.py --listen 127.0.0.1:17687 --upstream 127.0.0.1:17688
"""

import argparse
import asyncio
import struct
import sys

MAGIC = b"\x60\x60\xb0\x17"


# --- a minimal PackStream codec: enough for HELLO / LOGON / SUCCESS / FAILURE maps ---------


def pack(value) -> bytes:
    if value is None:
        return b"\xc0"
    if value is True:
        return b"\xc3"
    if value is False:
        return b"\xc2"
    if isinstance(value, int):
        if -16 <= value < 128:
            return struct.pack(">b", value)
        return b"\xcb" + struct.pack(">q", value)
    if isinstance(value, str):
        data = value.encode()
        n = len(data)
        if n < 16:
            return bytes([0x80 + n]) + data
        if n < 256:
            return b"\xd0" + bytes([n]) + data
        return b"\xd1" + struct.pack(">H", n) + data
    if isinstance(value, dict):
        n = len(value)
        head = bytes([0xA0 + n]) if n < 16 else b"\xd8" + bytes([n])
        return head + b"".join(pack(k) + pack(v) for k, v in value.items())
    if isinstance(value, list):
        n = len(value)
        head = bytes([0x90 + n]) if n < 16 else b"\xd4" + bytes([n])
        return head + b"".join(pack(v) for v in value)
    raise TypeError(f"cannot pack {type(value)}")


def unpack(buf: bytes, i: int = 0):
    """Returns (value, next index). Structures come back as ('struct', tag, [fields])."""
    m = buf[i]
    i += 1
    if m < 0x80:
        return m, i
    if m >= 0xF0:
        return m - 0x100, i
    hi, lo = m & 0xF0, m & 0x0F
    if hi == 0x80:
        return buf[i : i + lo].decode(), i + lo
    if hi == 0x90:
        return _items(buf, i, lo)
    if hi == 0xA0:
        return _map(buf, i, lo)
    if hi == 0xB0:
        tag = buf[i]
        fields, i = _items(buf, i + 1, lo)
        return ("struct", tag, fields), i
    if m == 0xC0:
        return None, i
    if m == 0xC1:
        return struct.unpack(">d", buf[i : i + 8])[0], i + 8
    if m in (0xC2, 0xC3):
        return m == 0xC3, i
    ints = {0xC8: ">b", 0xC9: ">h", 0xCA: ">i", 0xCB: ">q"}
    if m in ints:
        size = struct.calcsize(ints[m])
        return struct.unpack(ints[m], buf[i : i + size])[0], i + size
    sizes = {0: ">B", 1: ">H", 2: ">I"}
    if m in (0xD0, 0xD1, 0xD2, 0xCC, 0xCD, 0xCE, 0xD4, 0xD5, 0xD6, 0xD8, 0xD9, 0xDA):
        kind = {0xD0: "s", 0xCC: "b", 0xD4: "l", 0xD8: "m"}[m & 0xFC]
        fmt = sizes[m & 0x03]
        size = struct.calcsize(fmt)
        n = struct.unpack(fmt, buf[i : i + size])[0]
        i += size
        if kind == "s":
            return buf[i : i + n].decode(), i + n
        if kind == "b":
            return bytes(buf[i : i + n]), i + n
        if kind == "l":
            return _items(buf, i, n)
        return _map(buf, i, n)
    raise ValueError(f"unknown PackStream marker 0x{m:02x}")


def _items(buf, i, n):
    out = []
    for _ in range(n):
        v, i = unpack(buf, i)
        out.append(v)
    return out, i


def _map(buf, i, n):
    out = {}
    for _ in range(n):
        k, i = unpack(buf, i)
        v, i = unpack(buf, i)
        out[k] = v
    return out, i


# --- chunked message framing --------------------------------------------------------------


async def read_message(reader: asyncio.StreamReader) -> bytes:
    """One whole message, de-chunked (NOOP chunks between messages are skipped)."""
    body = b""
    while True:
        size = struct.unpack(">H", await reader.readexactly(2))[0]
        if size == 0:
            if body:
                return body
            continue
        body += await reader.readexactly(size)


def frame(body: bytes) -> bytes:
    out = b""
    for start in range(0, len(body), 0xFFFF):
        part = body[start : start + 0xFFFF]
        out += struct.pack(">H", len(part)) + part
    return out + b"\x00\x00"


def message(tag: int, *fields) -> bytes:
    return bytes([0xB0 + len(fields), tag]) + b"".join(pack(f) for f in fields)


HELLO, LOGON, SUCCESS, FAILURE = 0x01, 0x6A, 0x70, 0x7F
RESET, GOODBYE, RECORD, IGNORED = 0x0F, 0x02, 0x71, 0x7E


def with_message(failure: bytes) -> bytes:
    """FalkorDB's FAILURE carries only "code"; drivers expect "message" too (neo4rs unwraps it)."""
    (_, tag, fields), _ = unpack(failure)
    meta = dict(fields[0]) if fields else {}
    meta.setdefault("message", meta.get("code", "failure without a message"))
    return message(tag, meta)


# FalkorDB 4.16's Bolt server crashes under concurrent sessions (measured: "Guru Meditation:
# illegal decrRefCount … object.c:594" with two engines and 16 connections each), so the
# relay lets one request/response exchange at a time reach it, across all connections.
UPSTREAM = None
# How long a killed driver's unanswered requests may keep FalkorDB to themselves.
OWED_WAIT_S = 10


class Session:
    """Requests sent upstream and not yet answered, and whether the server is
    in its FAILED state (Bolt: everything but RESET is IGNORED until RESET)."""

    def __init__(self, client_w, server_w):
        self.client_w = client_w
        self.server_w = server_w
        # The driver went away (killed): what FalkorDB still owes is read and dropped.
        self.client_gone = False
        # FalkorDB's side ended: nothing more will be answered.
        self.upstream_done = False
        self.pending = []
        self.failed = False
        # IGNOREDs the relay already sent on FalkorDB's behalf.
        self.late_ignored = 0
        self.holding = False

    async def hold(self):
        if not self.holding:
            await UPSTREAM.acquire()
            self.holding = True

    def release(self):
        if self.holding:
            self.holding = False
            UPSTREAM.release()

    def ignore(self):
        self.send(frame(message(IGNORED)))

    def send(self, data: bytes):
        if not self.client_gone:
            self.client_w.write(data)

    async def flush(self):
        if self.client_gone:
            return
        try:
            await self.client_w.drain()
        except (ConnectionError, OSError):
            self.client_gone = True

    def finish_upstream(self):
        """Lets the next exchange through and closes FalkorDB's side, once nothing is owed:
        closing it mid-exchange and letting another exchange in has left FalkorDB 4.16
        holding its module lock for good (every client, Redis port included, then hangs)."""
        self.release()
        self.server_w.close()


async def requests(client_r, server_w, s: Session):
    try:
        while True:
            body = await read_message(client_r)
            tag = body[1] if len(body) > 1 else None
            if s.failed and tag not in (RESET, GOODBYE):
                s.ignore()
                await s.flush()
                continue
            if tag == RESET:
                s.failed = False
            if tag != GOODBYE:
                await s.hold()
                if s.upstream_done:
                    raise ConnectionError("upstream closed")
                s.pending.append(tag)
            server_w.write(frame(body))
            await server_w.drain()
    except (ConnectionError, asyncio.IncompleteReadError, OSError):
        pass
    finally:
        s.client_gone = True
        if not s.pending or s.upstream_done:
            s.finish_upstream()
        else:
            # responses() reads the answers still owed, then finishes; FalkorDB sometimes
            # owes for good, and every other connection waits on this one meanwhile.
            asyncio.get_running_loop().call_later(OWED_WAIT_S, s.finish_upstream)


async def responses(server_r, client_w, s: Session):
    try:
        while True:
            body = await read_message(server_r)
            tag = body[1] if len(body) > 1 else None
            if tag == RECORD:
                s.send(frame(body))
                await s.flush()
                continue
            if tag == IGNORED and s.late_ignored:
                s.late_ignored -= 1
                continue
            if s.pending:
                s.pending.pop(0)
            if tag == FAILURE:
                s.send(frame(with_message(body)))
                # FalkorDB drops what was pipelined behind the failure; a
                # RESET among it is still answered.
                while s.pending and s.pending[0] != RESET:
                    s.pending.pop(0)
                    s.ignore()
                    s.late_ignored += 1
                s.failed = not s.pending
            else:
                s.send(frame(body))
            if not s.pending:
                if s.client_gone:
                    break
                s.release()
            await s.flush()
    except (ConnectionError, asyncio.IncompleteReadError, OSError):
        pass
    finally:
        # FalkorDB's side ended, or owes nothing more to a driver that is gone.
        s.upstream_done = True
        s.finish_upstream()
        client_w.close()


async def open_upstream(host, port, hello, auth, attempts=20):
    """Bolt 5 connection to FalkorDB, through HELLO + LOGON. FalkorDB 4.16 leaves some
    connections opened at the same moment as others unanswered for good (measured: 10 of 24
    with 8 at once, straight from the Python driver); nothing has been sent for the driver
    yet, so such a connection is dropped and opened again."""
    for attempt in range(attempts):
        server_r, server_w = await asyncio.open_connection(host, port)
        try:
            # Offer 5.4 with a range of 4 (5.4 .. 5.0).
            server_w.write(MAGIC + bytes([0, 4, 4, 5]) + b"\x00" * 12)
            await server_w.drain()
            agreed = await asyncio.wait_for(server_r.readexactly(4), 0.5)
            if agreed[3] != 5:
                raise ConnectionError(f"upstream refused Bolt 5.x: {agreed.hex()}")
            server_w.write(frame(message(HELLO, hello)))
            server_w.write(frame(message(LOGON, auth)))
            await server_w.drain()
            hello_reply = await asyncio.wait_for(read_message(server_r), 0.5)
            logon_reply = await asyncio.wait_for(read_message(server_r), 0.5)
            return server_r, server_w, hello_reply, logon_reply
        except asyncio.TimeoutError:
            server_w.close()
            print(f"bolt-shim: upstream silent at set-up, retrying ({attempt + 1})", file=sys.stderr)
            await asyncio.sleep(0.05 * (attempt + 1))
    raise ConnectionError("upstream never answered HELLO")


async def serve_client(client_r, client_w, upstream):
    host, port = upstream
    try:
        if await client_r.readexactly(4) != MAGIC:
            client_w.close()
            return
        offers = await client_r.readexactly(16)
        chosen = None
        for k in range(4):
            minor, major = offers[4 * k + 2], offers[4 * k + 3]
            if major == 4:
                chosen = (major, minor)
                break
        if chosen is None:
            client_w.write(b"\x00\x00\x00\x00")
            client_w.close()
            return
        client_w.write(bytes([0, 0, chosen[1], chosen[0]]))
        await client_w.drain()

        hello_body = await read_message(client_r)
        (_, tag, fields), _ = unpack(hello_body)
        if tag != HELLO:
            raise ConnectionError(f"expected HELLO, got 0x{tag:02x}")
        extra = fields[0] if fields else {}
        # FalkorDB refuses credentials "" (Security.Unauthorized) but accepts the key left out,
        # which is what the Python driver sends for an empty password.
        auth = {k: extra[k] for k in ("scheme", "principal", "credentials") if extra.get(k)}
        agent = str(extra.get("user_agent", "bolt-shim"))
        hello5 = {"user_agent": agent, "bolt_agent": {"product": agent}}
        async with UPSTREAM:
            server_r, server_w, hello_reply, logon_reply = await open_upstream(
                host, port, hello5, auth or {"scheme": "none"}
            )
        # One reply for the driver's one HELLO: the failure if either step failed.
        if hello_reply[1] == FAILURE:
            reply, failed = hello_reply, True
        else:
            reply, failed = logon_reply, logon_reply[1] == FAILURE
        client_w.write(frame(with_message(reply) if failed else hello_reply))
        await client_w.drain()
        if failed:
            client_w.close()
            server_w.close()
            return
        session = Session(client_w, server_w)
        await asyncio.gather(
            requests(client_r, server_w, session), responses(server_r, client_w, session)
        )
    except (ConnectionError, asyncio.IncompleteReadError, OSError, ValueError) as e:
        print(f"bolt-shim: connection closed: {e}", file=sys.stderr)
        client_w.close()


async def main():
    global UPSTREAM
    UPSTREAM = asyncio.Lock()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", default="127.0.0.1:17687")
    ap.add_argument("--upstream", default="127.0.0.1:17688")
    args = ap.parse_args()
    lhost, lport = args.listen.rsplit(":", 1)
    uhost, uport = args.upstream.rsplit(":", 1)
    server = await asyncio.start_server(
        lambda r, w: serve_client(r, w, (uhost, int(uport))), lhost, int(lport)
    )
    print(f"bolt-shim: {args.listen} -> {args.upstream}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
