"""A minimal Language Server Protocol client over stdio, for yaml-language-server."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from pathlib import Path


class LspError(Exception):
    pass


class Client:
    def __init__(self, argv: list[str], settings: dict, root: Path):
        self.settings = settings
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.next_id = 0
        self.responses: dict[int, queue.Queue] = {}
        self.notifications: queue.Queue = queue.Queue()
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.stderr: list[bytes] = []
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()
        self.request(
            "initialize",
            {
                "processId": None,
                "rootUri": root.as_uri(),
                "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
                "capabilities": {
                    "workspace": {"configuration": True, "didChangeConfiguration": {"dynamicRegistration": True}},
                    "textDocument": {
                        "hover": {"contentFormat": ["markdown", "plaintext"]},
                        "publishDiagnostics": {"relatedInformation": True},
                        "synchronization": {"didSave": True},
                    },
                },
            },
        )
        self.notify("initialized", {})
        self.notify("workspace/didChangeConfiguration", {"settings": settings})

    # --- JSON-RPC framing --------------------------------------------------------------------
    def _send(self, message: dict) -> None:
        body = json.dumps(message).encode()
        with self.lock:
            self.proc.stdin.write(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            self.proc.stdin.flush()

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            headers = {}
            while True:
                line = out.readline()
                if not line:
                    return
                line = line.decode().strip()
                if not line:
                    break
                k, v = line.split(":", 1)
                headers[k.lower()] = v.strip()
            msg = json.loads(out.read(int(headers["content-length"])))
            if "id" in msg and "method" in msg:
                self._answer(msg)
            elif "id" in msg:
                self.responses.setdefault(msg["id"], queue.Queue()).put(msg)
            else:
                self.notifications.put(msg)

    def _answer(self, msg: dict) -> None:
        """Requests from the server: configuration from our settings, everything else null."""
        if msg["method"] == "workspace/configuration":
            result = []
            for item in msg["params"]["items"]:
                node = self.settings
                for part in (item.get("section") or "").split("."):
                    if part:
                        node = node.get(part, {}) if isinstance(node, dict) else None
                result.append(node)
        else:
            result = None
        self._send({"jsonrpc": "2.0", "id": msg["id"], "result": result})

    def request(self, method: str, params: dict, timeout: float = 30):
        self.next_id += 1
        rid = self.next_id
        q = self.responses.setdefault(rid, queue.Queue())
        self._send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        try:
            msg = q.get(timeout=timeout)
        except queue.Empty:
            raise LspError(f"no answer to {method} in {timeout}s; server stderr: {b''.join(self.stderr)[-2000:]!r}") from None
        if "error" in msg:
            raise LspError(f"{method}: {msg['error']}")
        return msg.get("result")

    def notify(self, method: str, params: dict) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    # --- documents -------------------------------------------------------------------------
    def open(self, path: Path, text: str | None = None) -> str:
        uri = path.resolve().as_uri()
        self.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text if text is not None else path.read_text()}},
        )
        return uri

    def diagnostics(self, uri: str, timeout: float = 30, settle: float = 0.75, expect_some: bool = False) -> list[dict]:
        """The last diagnostics published for `uri`, once the server has been quiet for `settle`
        seconds after a publication (it may publish again when the schema loads). With
        `expect_some`, empty publications do not count: it waits for the first non-empty one."""
        deadline = time.monotonic() + timeout
        latest = None
        quiet_until = None
        while True:
            now = time.monotonic()
            if latest is not None and now >= quiet_until and (latest or not expect_some):
                return latest
            if now >= deadline:
                if latest is not None:
                    return latest
                raise LspError(f"no diagnostics for {uri} in {timeout}s; stderr: {b''.join(self.stderr)[-2000:]!r}")
            try:
                msg = self.notifications.get(timeout=min(0.1, deadline - now))
            except queue.Empty:
                continue
            if msg.get("method") == "textDocument/publishDiagnostics" and msg["params"]["uri"] == uri:
                latest = msg["params"]["diagnostics"]
                quiet_until = time.monotonic() + settle

    def hover(self, uri: str, line: int, character: int) -> str:
        result = self.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}})
        if not result:
            return ""
        contents = result["contents"]
        if isinstance(contents, dict):
            return contents.get("value", "")
        if isinstance(contents, list):
            return "\n".join(c if isinstance(c, str) else c.get("value", "") for c in contents)
        return str(contents)

    def close(self) -> None:
        try:
            self.request("shutdown", {}, timeout=5)
            self.notify("exit", {})
            self.proc.wait(timeout=5)
        except Exception:
            pass
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
