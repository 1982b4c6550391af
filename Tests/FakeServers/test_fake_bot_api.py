"""Self-test of fake_bot_api.py (unittest, standard library only).

Run from the repository root:  python3 -m unittest discover -s Tests/FakeServers -v

The contract is checked over HTTP against real subprocesses started exactly as the Swift
tests start them (python3 Tests/FakeServers/fake_bot_api.py --port 0 --token ...). The
entity parsers, flood control and callback expiry are also checked in-process, where a
fake clock replaces waiting. Every server started here is stopped (stdin closed, then
killed if it lingers) and every network call has a timeout.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import random
import re
import signal
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
SCRIPT = "Tests/FakeServers/fake_bot_api.py"
TOKEN = "123456:ABC"
# shared/ sits beside the repository, on a developer's machine and in CI alike.
SPEC_DIR = REPO_ROOT.parent / "shared" / "telegram"

sys.path.insert(0, str(HERE))
from fake_process import FakeProcess  # noqa: E402
import fake_bot_api as fake  # noqa: E402  (the module under test, for the in-process tests)

NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message")
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"


# --------------------------------------------------------------------------------------
# Harness
# --------------------------------------------------------------------------------------

class FakeServerProcess(FakeProcess):
    """One fake_bot_api.py subprocess; stop() always leaves no process behind."""

    def __init__(self, *extra_args: str):
        super().__init__([SCRIPT, "--port", "0", "--token", TOKEN, *extra_args])

    # --- HTTP helpers ---

    def request(self, http_method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                timeout: float = 10) -> tuple[int, http.client.HTTPResponse, bytes]:
        connection = self.connection(timeout)
        try:
            connection.request(http_method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response, response.read()
        finally:
            connection.close()

    def api(self, method: str, params: dict | None = None, *, encoding: str = "json", token: str = TOKEN,
            timeout: float = 10) -> tuple[int, dict]:
        path = f"/bot{token}/{method}"
        params = params or {}
        if encoding == "json":
            status, _, body = self.request("POST", path, json.dumps(params).encode(),
                                           {"Content-Type": "application/json"}, timeout)
        elif encoding == "form":
            status, _, body = self.request("POST", path, form_encode(params).encode(),
                                           {"Content-Type": "application/x-www-form-urlencoded"}, timeout)
        else:  # "query"
            query = form_encode(params)
            status, _, body = self.request("GET", path + ("?" + query if query else ""), timeout=timeout)
        return status, json.loads(body)

    def multipart(self, method: str, fields: dict, files: dict, boundary: str = "fake-boundary-1234") -> tuple[int, dict]:
        status, _, body = self.request("POST", f"/bot{TOKEN}/{method}", multipart_body(fields, files, boundary),
                                       {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        return status, json.loads(body)

    def control(self, http_method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        data = None if body is None else json.dumps(body).encode()
        status, _, raw = self.request(http_method, f"/__fake/{path}", data, {"Content-Type": "application/json"})
        return status, json.loads(raw)

    def calls(self, query: str = "") -> list[dict]:
        return self.control("GET", "calls" + query)[1]["calls"]

    def wait_for_pending_call(self, method: str, timeout: float = 5) -> None:
        """Waits until a call of `method` is in flight (a long poll has started waiting)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(c["status"] is None for c in self.calls(f"?method={method}")):
                return
            time.sleep(0.02)
        raise AssertionError(f"no {method} call in flight")


def form_value(value) -> str:
    """A parameter as Bot API clients send it in forms: objects JSON-serialized, booleans true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def form_encode(params: dict) -> str:
    return urllib.parse.urlencode({name: form_value(value) for name, value in params.items()})


def multipart_body(fields: dict, files: dict, boundary: str) -> bytes:
    """files: part name -> (filename, content type, bytes)."""
    chunks = []
    for name, value in fields.items():
        chunks.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, content_type, data) in files.items():
        chunks.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                      f'Content-Type: {content_type}\r\n\r\n'.encode() + data + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks)


class ServerTestCase(unittest.TestCase):
    """Shares one server per test class; every test starts from POST /__fake/reset."""

    server_args: tuple[str, ...] = ()
    server: FakeServerProcess

    @classmethod
    def setUpClass(cls):
        cls.server = FakeServerProcess(*cls.server_args).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.assertEqual(self.server.control("POST", "reset", {})[0], 200)

    def send(self, params: dict, method: str = "sendMessage", encoding: str = "json") -> tuple[int, dict]:
        return self.server.api(method, params, encoding=encoding)

    def assertOk(self, answer: tuple[int, dict]):
        status, body = answer
        self.assertEqual((status, body.get("ok")), (200, True), body)
        return body["result"]

    def assertError(self, answer: tuple[int, dict], status: int, description: str):
        self.assertEqual(answer, (status, {"ok": False, "error_code": status, "description": description}))

    def assertBadRequest(self, answer: tuple[int, dict], message: str):
        self.assertError(answer, 400, "Bad Request: " + message)


# --------------------------------------------------------------------------------------
# Bot API basics: routing, encodings, HTTP
# --------------------------------------------------------------------------------------

class BasicsTest(ServerTestCase):
    def test_get_me_and_method_names_are_case_insensitive(self):
        me = self.assertOk(self.server.api("getMe"))
        self.assertEqual((me["id"], me["is_bot"]), (123456, True))
        self.assertEqual(self.assertOk(self.server.api("GETME", encoding="query")), me)

    def test_wrong_token_and_unknown_method(self):
        self.assertError(self.server.api("getMe", token="123456:XYZ"), 401, "Unauthorized")
        self.assertError(self.server.api("sendMessages"), 404, "Not Found: method not found")

    def test_valid_send_message_and_its_call_record(self):
        message = self.assertOk(self.send({"chat_id": 42, "text": "hello"}))
        self.assertEqual(message["message_id"], 1)
        self.assertEqual(message["chat"], {"id": 42, "type": "private"})
        self.assertEqual(message["from"]["id"], 123456)
        self.assertEqual(message["text"], "hello")
        self.assertAlmostEqual(message["date"], time.time(), delta=5)
        [call] = self.server.calls()
        self.assertEqual({k: call[k] for k in ("seq", "method", "params", "files", "status", "ok", "error")},
                         {"seq": 1, "method": "sendMessage", "params": {"chat_id": 42, "text": "hello"},
                          "files": {}, "status": 200, "ok": True, "error": None})
        self.assertAlmostEqual(call["time"], time.time(), delta=5)

    def test_all_parameter_encodings_give_the_same_typed_params(self):
        params = {"chat_id": -1001, "text": "x", "disable_notification": True,
                  "reply_markup": {"inline_keyboard": [[{"text": "a", "callback_data": "b"}]]}}
        for encoding in ("json", "form", "query"):
            self.assertOk(self.send(params, encoding=encoding))
        self.assertOk(self.server.multipart("sendMessage", {k: form_value(v) for k, v in params.items()}, {}))
        recorded = [call["params"] for call in self.server.calls()]
        self.assertEqual([p["chat_id"] for p in recorded], [-1001] * 4)
        self.assertTrue(all(p == recorded[0] for p in recorded), recorded)

    def test_chunked_request_body(self):
        connection = self.server.connection()
        try:
            body = iter([b'{"chat_id": 7, ', b'"text": "chunked"}'])
            connection.request("POST", f"/bot{TOKEN}/sendMessage", body=body, encode_chunked=True,
                               headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
            response = connection.getresponse()
            self.assertEqual(json.loads(response.read())["result"]["text"], "chunked")
        finally:
            connection.close()

    def test_keep_alive_serves_two_requests_on_one_connection(self):
        connection = self.server.connection()
        try:
            connection.request("GET", f"/bot{TOKEN}/getMe")
            first = connection.getresponse()
            first.read()
            socket_after_first = connection.sock
            self.assertIsNotNone(socket_after_first)
            self.assertIsNotNone(first.getheader("Content-Length"))
            self.assertNotEqual(first.getheader("Connection"), "close")
            connection.request("POST", f"/bot{TOKEN}/sendMessage", body=b'{"chat_id":1,"text":"again"}',
                               headers={"Content-Type": "application/json"})
            second = connection.getresponse()
            self.assertEqual(json.loads(second.read())["result"]["text"], "again")
            self.assertIs(connection.sock, socket_after_first)  # no reconnect happened
        finally:
            connection.close()

    def test_calls_filter_by_method_and_since(self):
        self.send({"chat_id": 1, "text": "a"})
        self.server.api("getMe")
        self.send({"chat_id": 1})  # a failed call is recorded too
        self.assertEqual([c["method"] for c in self.server.calls()], ["sendMessage", "getMe", "sendMessage"])
        failed = self.server.calls("?method=sendmessage&since=1")
        self.assertEqual([(c["seq"], c["ok"], c["status"], c["error"]) for c in failed],
                         [(3, False, 400, "Bad Request: message text is empty")])

    def test_malformed_bodies(self):
        status, _, body = self.server.request("POST", f"/bot{TOKEN}/sendMessage", b"{not json",
                                              {"Content-Type": "application/json"})
        self.assertEqual((status, json.loads(body)["description"]), (400, "Bad Request: request body is not valid JSON"))
        status, _, body = self.server.request("POST", f"/bot{TOKEN}/sendMessage", b"chat_id=1",
                                              {"Content-Type": "text/plain"})
        self.assertEqual(status, 400)
        self.assertBadRequest(self.server.api("sendMessage?chat_id=1", {"chat_id": 1, "text": "x"}),
                              'parameter "chat_id" given twice')


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------

class ParameterValidationTest(ServerTestCase):
    def test_required_and_unknown_parameters(self):
        self.assertBadRequest(self.send({"text": "x"}), "chat_id is empty")
        self.assertBadRequest(self.send({"chat_id": 1}), "message text is empty")
        self.assertBadRequest(self.send({"chat_id": 1, "text": "x", "parse_mod": "HTML"}),
                              'unknown parameter "parse_mod"')
        self.assertBadRequest(self.send({"chat_id": 1}, "deleteMessage"), 'parameter "message_id" is required')
        self.assertBadRequest(self.send({}, "answerCallbackQuery"), 'parameter "callback_query_id" is required')

    def test_scalar_types(self):
        self.assertBadRequest(self.send({"chat_id": "abc", "text": "x"}), "chat not found")
        self.assertBadRequest(self.send({"chat_id": 1, "message_id": "one"}, "deleteMessage"),
                              'parameter "message_id" must be of type Integer')
        self.assertBadRequest(self.send({"chat_id": 1, "text": "x", "disable_notification": "yes"}, encoding="form"),
                              'parameter "disable_notification" must be of type Boolean')
        self.assertBadRequest(self.send({"chat_id": 1, "text": 5}), 'parameter "text" must be of type String')

    def test_json_serialized_objects(self):
        self.assertBadRequest(self.send({"chat_id": 1, "text": "x", "reply_markup": "{oops"}, encoding="form"),
                              'parameter "reply_markup" must be a JSON-serialized InlineKeyboardMarkup or '
                              'ReplyKeyboardMarkup or ReplyKeyboardRemove or ForceReply')
        self.assertBadRequest(self.send({"chat_id": 1, "text": "x", "link_preview_options": {"is_disabled": "yes"}}),
                              """can't parse LinkPreviewOptions: Field "is_disabled" must be of type Boolean""")
        self.assertBadRequest(self.send({"chat_id": 1, "text": "x", "reply_parameters": {"message_id": 1, "x": 1}}),
                              """can't parse ReplyParameters: unknown field "x\"""")
        self.assertBadRequest(self.send({"allowed_updates": "message"}, "getUpdates", encoding="form"),
                              'parameter "allowed_updates" must be a JSON-serialized Array of String')
        self.assertOk(self.send({"chat_id": 1, "text": "x", "reply_markup": {"remove_keyboard": True}}, encoding="form"))

    def test_parse_mode(self):
        for mode in ("HTML", "html", "MarkdownV2", "markdownv2", "Markdown"):
            self.assertOk(self.send({"chat_id": 1, "text": "plain", "parse_mode": mode}))
        for mode in ("XML", "none", ""):
            self.assertBadRequest(self.send({"chat_id": 1, "text": "plain", "parse_mode": mode}),
                                  "unsupported parse_mode")

    def test_text_emptiness_and_length(self):
        self.assertBadRequest(self.send({"chat_id": 1, "text": ""}), "message text is empty")
        self.assertBadRequest(self.send({"chat_id": 1, "text": " \n "}), "text must be non-empty")
        self.assertBadRequest(self.send({"chat_id": 1, "text": "<b> </b>", "parse_mode": "HTML"}),
                              "text must be non-empty")
        # 4096 code points pass even though each emoji is 2 UTF-16 units and 4 UTF-8 bytes.
        self.assertEqual(len(self.assertOk(self.send({"chat_id": 1, "text": "😀" * 4096}))["text"]), 4096)
        self.assertBadRequest(self.send({"chat_id": 1, "text": "😀" * 4097}), "message is too long")
        # Counted after entity parsing: &lt; is one character.
        self.assertOk(self.send({"chat_id": 1, "text": "&lt;" * 4096, "parse_mode": "HTML"}))
        self.assertBadRequest(self.send({"chat_id": 1, "text": "&lt;" * 4097, "parse_mode": "HTML"}),
                              "message is too long")
        self.assertBadRequest(self.send({"chat_id": 1, "text": "<b></b>" * 5000, "parse_mode": "HTML"}),
                              "text is too long")

    def test_caption_length(self):
        self.assertOk(self.send({"chat_id": 1, "document": "https://x.y/a.pdf", "caption": "c" * 1024}, "sendDocument"))
        self.assertBadRequest(self.send({"chat_id": 1, "document": "https://x.y/a.pdf", "caption": "c" * 1025},
                                        "sendDocument"), "message caption is too long")

    def test_chat_actions(self):
        self.assertOk(self.send({"chat_id": 1, "action": "typing"}, "sendChatAction"))
        self.assertBadRequest(self.send({"chat_id": 1, "action": "dancing"}, "sendChatAction"),
                              "wrong parameter action in request")


class HtmlOverHttpTest(ServerTestCase):
    def html(self, text: str) -> tuple[int, dict]:
        return self.send({"chat_id": 1, "text": text, "parse_mode": "HTML"})

    def assertParseError(self, text: str, message: str):
        self.assertBadRequest(self.html(text), "can't parse entities: " + message)

    def test_tdlib_parse_errors(self):
        self.assertParseError("<div>x</div>", 'Unsupported start tag "div" at byte offset 0')
        self.assertParseError("hello <br>", 'Unsupported start tag "br" at byte offset 6')
        self.assertParseError("<b>bold", 'Can\'t find end tag corresponding to start tag "b"')
        self.assertParseError("a < b", 'Unsupported start tag "" at byte offset 2')
        self.assertParseError("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"')
        self.assertParseError("x</b>", "Unexpected end tag at byte offset 1")
        self.assertParseError("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0')
        self.assertParseError("🏟 🏟&lt;<abac>", 'Unsupported start tag "abac" at byte offset 13')  # bytes, not chars

    def test_entities_of_a_valid_message(self):
        text = '<b>x</b> &lt; <a href="https://x.y">l</a> <pre><code class="language-swift">let a = 1</code></pre>'
        message = self.assertOk(self.html(text))
        self.assertEqual(message["text"], "x < l let a = 1")
        self.assertEqual(message["entities"], [
            {"type": "bold", "offset": 0, "length": 1},
            {"type": "text_link", "offset": 4, "length": 1, "url": "https://x.y/"},
            {"type": "pre", "offset": 6, "length": 9, "language": "swift"},
        ])

    def test_spoilers_quotes_and_utf16_offsets(self):
        message = self.assertOk(self.html(
            '😀<tg-spoiler>s</tg-spoiler><span class="tg-spoiler">p</span>\n<blockquote expandable>q</blockquote>'))
        self.assertEqual(message["text"], "😀sp\nq")
        self.assertEqual(message["entities"], [
            {"type": "spoiler", "offset": 2, "length": 1},
            {"type": "spoiler", "offset": 3, "length": 1},
            {"type": "expandable_blockquote", "offset": 5, "length": 1},
        ])

    def test_markdown_v2_reserved_characters(self):
        self.assertBadRequest(self.send({"chat_id": 1, "text": "1.5", "parse_mode": "MarkdownV2"}),
                              "can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'")
        message = self.assertOk(self.send({"chat_id": 1, "text": "*b* 1\\.5", "parse_mode": "MarkdownV2"}))
        self.assertEqual((message["text"], message["entities"]), ("b 1.5", [{"type": "bold", "offset": 0, "length": 1}]))


class KeyboardAndCommandsTest(ServerTestCase):
    def keyboard(self, *buttons: dict) -> tuple[int, dict]:
        return self.send({"chat_id": 1, "text": "k", "reply_markup": {"inline_keyboard": [list(buttons)]}})

    def test_callback_data_is_limited_to_64_bytes(self):
        self.assertOk(self.keyboard({"text": "a", "callback_data": "d" * 64}))
        self.assertBadRequest(self.keyboard({"text": "a", "callback_data": "d" * 65}), "BUTTON_DATA_INVALID")
        self.assertOk(self.keyboard({"text": "a", "callback_data": "é" * 32}))  # 64 bytes
        self.assertBadRequest(self.keyboard({"text": "a", "callback_data": "é" * 33}), "BUTTON_DATA_INVALID")
        self.assertBadRequest(self.keyboard({"text": "a", "callback_data": ""}), "BUTTON_DATA_INVALID")

    def test_exactly_one_action_and_a_text_per_button(self):
        self.assertBadRequest(self.keyboard({"text": "a"}),
                              "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
        self.assertBadRequest(self.keyboard({"text": "a", "callback_data": "x", "url": "https://x.y"}),
                              "can't parse inline keyboard button: exactly one of the fields other than text, "
                              "icon_custom_emoji_id and style must be used, found url, callback_data")
        self.assertBadRequest(self.keyboard({"callback_data": "x"}),
                              'can\'t parse inline keyboard button: Can\'t find field "text"')
        self.assertOk(self.keyboard({"text": "a", "url": "https://x.y", "style": "danger"}))

    def test_bot_commands(self):
        commands = [{"command": "start", "description": "Start"}, {"command": "run_2", "description": "d" * 256}]
        self.assertOk(self.send({"commands": commands}, "setMyCommands"))
        self.assertEqual(self.assertOk(self.send({}, "getMyCommands")), commands)
        scope = {"type": "chat", "chat_id": 5}
        self.assertEqual(self.assertOk(self.send({"scope": scope}, "getMyCommands")), [])
        for command, error in [({"command": "Start", "description": "x"}, "BOT_COMMAND_INVALID"),
                               ({"command": "c" * 33, "description": "x"}, "BOT_COMMAND_INVALID"),
                               ({"command": "", "description": "x"}, "BOT_COMMAND_INVALID"),
                               ({"command": "ok", "description": ""}, "BOT_COMMAND_DESCRIPTION_INVALID"),
                               ({"command": "ok", "description": "d" * 257}, "BOT_COMMAND_DESCRIPTION_INVALID"),
                               ({"command": "ok"}, 'can\'t parse BotCommand: Can\'t find field "description"')]:
            self.assertBadRequest(self.send({"commands": [command]}, "setMyCommands"), error)
        too_many = [{"command": f"c{i}", "description": "x"} for i in range(101)]
        self.assertBadRequest(self.send({"commands": too_many}, "setMyCommands"), "BOT_COMMANDS_TOO_MUCH")
        self.assertBadRequest(self.send({"commands": [], "scope": {"type": "everyone"}}, "setMyCommands"),
                              'can\'t parse BotCommandScope: unsupported type "everyone"')

    def test_answer_callback_query(self):
        self.assertBadRequest(self.send({"callback_query_id": "nope"}, "answerCallbackQuery"), QUERY_TOO_OLD[13:])
        self.assertEqual(self.server.control("POST", "callback_queries", {"id": "q1", "chat_id": 1}), (200, {"ok": True}))
        self.assertBadRequest(self.send({"callback_query_id": "q1", "text": "t" * 201}, "answerCallbackQuery"),
                              "MESSAGE_TOO_LONG")
        self.assertOk(self.send({"callback_query_id": "q1", "text": "t" * 200}, "answerCallbackQuery"))
        self.assertBadRequest(self.send({"callback_query_id": "q1"}, "answerCallbackQuery"), QUERY_TOO_OLD[13:])
        self.server.control("POST", "updates", {"updates": [{"callback_query": {"id": "q2", "data": "x"}}]})
        self.assertOk(self.send({"callback_query_id": "q2"}, "answerCallbackQuery"))


# --------------------------------------------------------------------------------------
# Stored messages: edits, deletes, replies
# --------------------------------------------------------------------------------------

class MessageStateTest(ServerTestCase):
    MARKUP = {"inline_keyboard": [[{"text": "Stop", "callback_data": "stop"}]]}

    def test_ids_are_per_chat_and_groups_are_supergroups(self):
        self.assertEqual([self.assertOk(self.send({"chat_id": c, "text": "x"}))["message_id"] for c in (1, 1, 2)],
                         [1, 2, 1])
        group = self.assertOk(self.send({"chat_id": -1001234, "text": "x", "message_thread_id": 7}))
        self.assertEqual((group["chat"], group["message_thread_id"]), ({"id": -1001234, "type": "supergroup"}, 7))

    def test_edit_message_text(self):
        sent = self.assertOk(self.send({"chat_id": 1, "text": "<b>a</b>", "parse_mode": "HTML",
                                        "reply_markup": self.MARKUP}))
        edit = {"chat_id": 1, "message_id": sent["message_id"], "text": "<b>a</b>", "parse_mode": "HTML",
                "reply_markup": self.MARKUP}
        self.assertBadRequest(self.send(edit, "editMessageText"), NOT_MODIFIED[13:])
        edited = self.assertOk(self.send({**edit, "text": "<i>b</i>"}, "editMessageText"))
        self.assertEqual((edited["text"], edited["entities"][0]["type"], edited["reply_markup"]), ("b", "italic", self.MARKUP))
        self.assertIn("edit_date", edited)
        # Same text without reply_markup is a change: the keyboard goes away, as on the real server.
        removed = self.assertOk(self.send({"chat_id": 1, "message_id": 1, "text": "<i>b</i>", "parse_mode": "HTML"},
                                          "editMessageText"))
        self.assertNotIn("reply_markup", removed)
        self.assertBadRequest(self.send({**edit, "message_id": 99}, "editMessageText"), "message to edit not found")
        [stored] = self.server.control("GET", "chats/1/messages")[1]["messages"]
        self.assertEqual({k: stored[k] for k in ("message_id", "text", "raw_text", "parse_mode", "reply_markup")},
                         {"message_id": 1, "text": "b", "raw_text": "<i>b</i>", "parse_mode": "HTML",
                          "reply_markup": None})

    def test_edit_reply_markup_and_delete(self):
        self.assertOk(self.send({"chat_id": 1, "text": "x"}))
        target = {"chat_id": 1, "message_id": 1}
        self.assertEqual(self.assertOk(self.send({**target, "reply_markup": self.MARKUP}, "editMessageReplyMarkup"))
                         ["reply_markup"], self.MARKUP)
        self.assertBadRequest(self.send({**target, "reply_markup": self.MARKUP}, "editMessageReplyMarkup"),
                              NOT_MODIFIED[13:])
        self.assertIs(self.assertOk(self.send(target, "deleteMessage")), True)
        self.assertBadRequest(self.send(target, "deleteMessage"), "message to delete not found")
        self.assertEqual(self.server.control("GET", "chats/1/messages"), (200, {"messages": []}))

    def test_reply_parameters(self):
        self.assertOk(self.send({"chat_id": 1, "text": "first"}))
        reply = self.assertOk(self.send({"chat_id": 1, "text": "re", "reply_parameters": {"message_id": 1}}))
        self.assertEqual(reply["reply_to_message"]["text"], "first")
        self.assertBadRequest(self.send({"chat_id": 1, "text": "re", "reply_parameters": {"message_id": 9}}),
                              "message to be replied not found")
        self.assertOk(self.send({"chat_id": 1, "text": "re",
                                 "reply_parameters": {"message_id": 9, "allow_sending_without_reply": True}}))


# --------------------------------------------------------------------------------------
# Reactions and drafts
# --------------------------------------------------------------------------------------

def emoji_reaction(emoji: str) -> dict:
    return {"type": "emoji", "emoji": emoji}


class ReactionTest(ServerTestCase):
    def react(self, params: dict, encoding: str = "json") -> tuple[int, dict]:
        return self.send({"chat_id": 1, "message_id": 5, **params}, "setMessageReaction", encoding)

    def reactions(self, chat_id: int = 1) -> dict:
        status, body = self.server.control("GET", f"chats/{chat_id}/reactions")
        self.assertEqual(status, 200, body)
        return body["reactions"]

    def test_reacting_to_a_message_the_fake_never_stored(self):
        # message 5 of chat 1 came from the user (via the webhook), so the fake does not know it.
        self.assertIs(self.assertOk(self.react({"reaction": [emoji_reaction("👀")], "is_big": True})), True)
        self.assertOk(self.react({"message_id": 6, "reaction": [emoji_reaction("❤‍🔥")]}, encoding="form"))
        self.assertOk(self.send({"chat_id": -100, "message_id": 1, "reaction": [
            {"type": "custom_emoji", "custom_emoji_id": "5368324170671202286"}]}, "setMessageReaction"))
        self.assertEqual(self.reactions(), {"5": [emoji_reaction("👀")], "6": [emoji_reaction("❤‍🔥")]})
        self.assertEqual(self.reactions(-100), {"1": [{"type": "custom_emoji", "custom_emoji_id": "5368324170671202286"}]})
        self.assertEqual(self.reactions(2), {})
        call = self.server.calls("?method=setMessageReaction")[0]
        self.assertEqual(call["params"], {"chat_id": 1, "message_id": 5, "reaction": [emoji_reaction("👀")],
                                          "is_big": True})

    def test_a_new_reaction_replaces_and_an_empty_one_removes(self):
        self.assertOk(self.react({"reaction": [emoji_reaction("👍")]}))
        self.assertOk(self.react({"reaction": [emoji_reaction("🔥")]}))
        self.assertEqual(self.reactions(), {"5": [emoji_reaction("🔥")]})
        self.assertOk(self.react({"reaction": []}))
        self.assertEqual(self.reactions(), {})
        self.assertOk(self.react({"reaction": [emoji_reaction("🔥")]}))
        self.assertOk(self.react({}))  # no reaction at all removes it too
        self.assertEqual(self.reactions(), {})

    def test_invalid_reactions(self):
        for reaction in [emoji_reaction("❤️"),  # with a variation selector: not in the list
                         emoji_reaction("🙂"), emoji_reaction(""), emoji_reaction("👍👍"), {"type": "paid"},
                         {"type": "custom_emoji", "custom_emoji_id": "abc"},
                         {"type": "custom_emoji", "custom_emoji_id": "0"}]:
            with self.subTest(reaction=reaction):
                self.assertBadRequest(self.react({"reaction": [reaction]}), "REACTION_INVALID")
        self.assertBadRequest(self.react({"reaction": [emoji_reaction("👍"), emoji_reaction("👎")]}),
                              "REACTIONS_TOO_MANY")
        self.assertBadRequest(self.react({"reaction": [emoji_reaction("👍"), emoji_reaction("🙂")]}),
                              "REACTION_INVALID")
        self.assertEqual(self.reactions(), {})  # nothing was recorded by a failed call

    def test_parameters(self):
        self.assertBadRequest(self.react({"message_id": 0, "reaction": [emoji_reaction("👍")]}),
                              "message to react not found")
        self.assertBadRequest(self.react({"message_id": -3}), "message to react not found")
        self.assertBadRequest(self.send({"chat_id": 1, "reaction": []}, "setMessageReaction"),
                              'parameter "message_id" is required')
        self.assertBadRequest(self.send({"message_id": 1}, "setMessageReaction"), "chat_id is empty")
        self.assertBadRequest(self.react({"chat_id": 0}), "chat not found")
        self.assertBadRequest(self.react({"reaction": ["👍"]}), "can't parse ReactionType: an object expected")
        self.assertBadRequest(self.react({"reaction": [{"type": "sticker"}]}),
                              'can\'t parse ReactionType: unsupported type "sticker"')
        self.assertBadRequest(self.react({"reaction": [{"type": "emoji"}]}),
                              'can\'t parse ReactionTypeEmoji: Can\'t find field "emoji"')
        self.assertBadRequest(self.react({"reaction": [{"type": "emoji", "emoji": "👍", "big": True}]}),
                              'can\'t parse ReactionTypeEmoji: unknown field "big"')
        self.assertBadRequest(self.react({"reaction": emoji_reaction("👍")}),
                              'parameter "reaction" must be of type Array of ReactionType')

    def test_not_flood_controlled(self):
        for message_id in range(1, 40):
            self.assertOk(self.react({"message_id": message_id, "reaction": [emoji_reaction("👍")]}))


class DraftTest(ServerTestCase):
    def draft(self, params: dict, encoding: str = "json") -> tuple[int, dict]:
        return self.send({"chat_id": 1, "draft_id": 7, **params}, "sendMessageDraft", encoding)

    def drafts(self, chat_id: int = 1) -> list[dict]:
        status, body = self.server.control("GET", f"chats/{chat_id}/drafts")
        self.assertEqual(status, 200, body)
        return body["drafts"]

    def test_latest_draft_per_draft_id(self):
        self.assertIs(self.assertOk(self.draft({"text": "Hel"})), True)
        self.assertOk(self.draft({"text": "<b>Hello</b> &lt;", "parse_mode": "HTML", "message_thread_id": 3,
                                  "can_stop": True, "keep_on_stop": True}, encoding="form"))
        self.assertOk(self.draft({"draft_id": -2, "text": ""}))  # any non-zero id; empty shows "Thinking..."
        self.assertEqual(self.drafts(), [
            {"draft_id": 7, "text": "Hello <", "entities": [{"type": "bold", "offset": 0, "length": 5}],
             "message_thread_id": 3, "raw_text": "<b>Hello</b> &lt;", "parse_mode": "HTML",
             "can_stop": True, "keep_on_stop": True},
            {"draft_id": -2, "text": "", "entities": [], "message_thread_id": None, "raw_text": "",
             "parse_mode": None, "can_stop": False, "keep_on_stop": False},
        ])
        self.assertEqual(self.drafts(2), [])
        self.assertEqual(self.server.control("GET", "chats/1/messages"), (200, {"messages": []}))  # not messages
        self.assertEqual([c["params"] for c in self.server.calls("?method=sendmessagedraft")][0],
                         {"chat_id": 1, "draft_id": 7, "text": "Hel"})

    def test_text_is_optional_and_trimmed(self):
        self.assertOk(self.draft({}))
        self.assertOk(self.draft({"draft_id": 8, "text": "  <i> </i> ", "parse_mode": "HTML"}))
        self.assertOk(self.draft({"draft_id": 9, "text": "x", "entities": [{"type": "bold", "offset": 0, "length": 1}]}))
        self.assertEqual([(d["text"], d["entities"]) for d in self.drafts()],
                         [("", []), ("", []), ("x", [{"type": "bold", "offset": 0, "length": 1}])])

    def test_private_chats_only_and_non_zero_draft_id(self):
        self.assertBadRequest(self.draft({"chat_id": -1001234, "text": "x"}), "TEXTDRAFT_PEER_INVALID")
        self.assertBadRequest(self.draft({"chat_id": 0, "text": "x"}), "TEXTDRAFT_PEER_INVALID")
        self.assertBadRequest(self.draft({"draft_id": 0, "text": "x"}), "DRAFT_ID_INVALID")
        self.assertBadRequest(self.draft({"chat_id": "@someone", "text": "x"}),
                              'parameter "chat_id" must be of type Integer')
        self.assertBadRequest(self.send({"chat_id": 1, "text": "x"}, "sendMessageDraft"),
                              'parameter "draft_id" is required')
        self.assertBadRequest(self.send({"draft_id": 1, "text": "x"}, "sendMessageDraft"), "chat_id is empty")
        self.assertEqual(self.drafts(-1001234), [])
        self.assertEqual(self.drafts(), [])

    def test_length_after_parsing(self):
        self.assertOk(self.draft({"text": "😀" * 4096}))
        self.assertBadRequest(self.draft({"text": "😀" * 4097}), "message is too long")
        self.assertOk(self.draft({"text": "&lt;" * 4096, "parse_mode": "HTML"}))
        self.assertBadRequest(self.draft({"text": "&lt;" * 4097, "parse_mode": "HTML"}), "message is too long")
        self.assertBadRequest(self.draft({"text": "<b></b>" * 5000, "parse_mode": "HTML"}), "text is too long")
        self.assertEqual(len(self.drafts()[0]["text"]), 4096)  # the last good draft stays

    def test_same_formatting_errors_as_send_message(self):
        for text, error in [("<b>partial", 'Can\'t find end tag corresponding to start tag "b"'),
                            ("a < b", 'Unsupported start tag "" at byte offset 2'),
                            ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"')]:
            with self.subTest(text=text):
                expected = "can't parse entities: " + error
                self.assertBadRequest(self.send({"chat_id": 1, "text": text, "parse_mode": "HTML"}), expected)
                self.assertBadRequest(self.draft({"text": text, "parse_mode": "HTML"}), expected)
        self.assertBadRequest(self.draft({"text": "x", "parse_mode": "XML"}), "unsupported parse_mode")
        self.assertBadRequest(self.draft({"text": "1.5", "parse_mode": "MarkdownV2"}),
                              "can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'")
        self.assertEqual(self.drafts(), [])

    def test_scripts_apply_to_drafts(self):
        self.server.control("POST", "script", {"method": "sendMessageDraft", "respond": {"status": 429, "retry_after": 4}})
        self.assertEqual(self.draft({"text": "x"})[0], 429)
        self.assertOk(self.draft({"text": "x"}))
        self.assertEqual([(c["status"], c["scripted"]) for c in self.server.calls()], [(429, True), (200, False)])


class ReactionsAndDraftsResetTest(ServerTestCase):
    def test_reset_clears_reactions_and_drafts(self):
        self.assertOk(self.send({"chat_id": 1, "message_id": 2, "reaction": [emoji_reaction("👍")]},
                                "setMessageReaction"))
        self.assertOk(self.send({"chat_id": 1, "draft_id": 1, "text": "x"}, "sendMessageDraft"))
        self.assertEqual(len(self.server.control("GET", "chats/1/reactions")[1]["reactions"]), 1)
        self.assertEqual(len(self.server.control("GET", "chats/1/drafts")[1]["drafts"]), 1)
        self.assertEqual(self.server.control("POST", "reset", {}), (200, {"ok": True}))
        self.assertEqual(self.server.control("GET", "chats/1/reactions"), (200, {"reactions": {}}))
        self.assertEqual(self.server.control("GET", "chats/1/drafts"), (200, {"drafts": []}))

    def test_control_endpoints_are_get_only(self):
        self.assertEqual(self.server.control("POST", "chats/1/reactions", {}), (405, {"error": "use GET"}))
        self.assertEqual(self.server.control("POST", "chats/1/drafts", {}), (405, {"error": "use GET"}))
        self.assertEqual(self.server.control("GET", "chats/1/stickers")[0], 404)


# --------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------

class FilesTest(ServerTestCase):
    def test_get_file_and_download(self):
        content = b"OggS fake voice"
        registered = self.server.control("POST", "files", {
            "file_id": "voice-1", "content_base64": base64.b64encode(content).decode(), "file_path": "voice/file_1.oga"})
        self.assertEqual(registered[0], 200)
        file = self.assertOk(self.send({"file_id": "voice-1"}, "getFile"))
        self.assertEqual((file["file_id"], file["file_size"], file["file_path"]), ("voice-1", len(content), "voice/file_1.oga"))
        self.assertIn("file_unique_id", file)
        status, _, body = self.server.request("GET", f"/file/bot{TOKEN}/voice/file_1.oga")
        self.assertEqual((status, body), (200, content))
        self.assertEqual(self.server.request("GET", "/file/bot123456:XYZ/voice/file_1.oga")[0], 404)
        self.assertEqual(self.server.request("GET", f"/file/bot{TOKEN}/voice/other.oga")[0], 404)

    def test_get_file_errors(self):
        self.server.control("POST", "files", {"file_id": "big", "size": 20 * 1024 * 1024 + 1})
        self.assertBadRequest(self.send({"file_id": "big"}, "getFile"), "file is too big")
        self.assertBadRequest(self.send({"file_id": "unknown"}, "getFile"), "invalid file_id")

    def test_multipart_send_document_records_the_file(self):
        data = b"hello, document"
        message = self.assertOk(self.server.multipart(
            "sendDocument", {"chat_id": "5", "caption": "<b>log</b>", "parse_mode": "HTML"},
            {"document": ("build.log", "text/plain", data)}))
        self.assertEqual((message["caption"], message["document"]["file_name"], message["document"]["mime_type"]),
                         ("log", "build.log", "text/plain"))
        [call] = self.server.calls()
        self.assertEqual(call["files"], {"document": {"filename": "build.log", "size": len(data),
                                                      "sha256": hashlib.sha256(data).hexdigest(),
                                                      "content_type": "text/plain"}})
        self.assertEqual(call["params"], {"chat_id": 5, "caption": "<b>log</b>", "parse_mode": "HTML"})
        file = self.assertOk(self.send({"file_id": message["document"]["file_id"]}, "getFile"))
        self.assertEqual(self.server.request("GET", f"/file/bot{TOKEN}/{file['file_path']}")[2], data)

    def test_attach_references_photos_and_file_ids(self):
        data = b"\x89PNG fake"
        photo = self.assertOk(self.server.multipart("sendPhoto", {"chat_id": "5", "photo": "attach://pic"},
                                                    {"pic": ("p.png", "image/png", data)}))["photo"]
        self.assertEqual(photo[0]["file_size"], len(data))
        self.assertEqual(self.server.calls()[0]["files"]["photo"]["sha256"], hashlib.sha256(data).hexdigest())
        self.assertOk(self.send({"chat_id": 5, "photo": photo[0]["file_id"]}, "sendPhoto"))
        self.assertBadRequest(self.send({"chat_id": 5, "document": "no-such-id"}, "sendDocument"),
                              "wrong file identifier/HTTP URL specified")
        self.assertBadRequest(self.server.multipart("sendDocument", {"chat_id": "5"},
                                                    {"document": ("e.txt", "text/plain", b"")}),
                              "file must be non-empty")
        self.assertBadRequest(self.server.multipart("sendDocument", {"chat_id": "5"},
                                                    {"document": ("a", "text/plain", b"a"), "extra": ("b", "text/plain", b"b")}),
                              'unknown parameter "extra"')

    def test_malformed_multipart(self):
        status, _, body = self.server.request("POST", f"/bot{TOKEN}/sendDocument", b"--x\r\n",
                                              {"Content-Type": "multipart/form-data"})
        self.assertEqual((status, json.loads(body)["description"]),
                         (400, "Bad Request: multipart/form-data needs a valid boundary parameter"))
        truncated = multipart_body({"chat_id": "5"}, {}, "b0undary")[:-len("--b0undary--\r\n")]
        status, _, body = self.server.request("POST", f"/bot{TOKEN}/sendDocument", truncated,
                                              {"Content-Type": "multipart/form-data; boundary=b0undary"})
        self.assertEqual(status, 400)
        no_disposition = b"--b0undary\r\nContent-Type: text/plain\r\n\r\nx\r\n--b0undary--\r\n"
        status, _, body = self.server.request("POST", f"/bot{TOKEN}/sendDocument", no_disposition,
                                              {"Content-Type": "multipart/form-data; boundary=b0undary"})
        self.assertEqual((status, json.loads(body)["description"]), (400, "Bad Request: malformed multipart/form-data: "
                                                                          "every part needs Content-Disposition: form-data"))


# --------------------------------------------------------------------------------------
# Updates: getUpdates and webhooks
# --------------------------------------------------------------------------------------

def message_update(text: str) -> dict:
    return {"message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}, "text": text}}


class UpdatesTest(ServerTestCase):
    def push(self, *updates: dict) -> dict:
        status, body = self.server.control("POST", "updates", {"updates": list(updates)})
        self.assertEqual(status, 200, body)
        return body

    def ids(self, params: dict) -> list[int]:
        return [u["update_id"] for u in self.assertOk(self.send(params, "getUpdates"))]

    def test_offset_confirms_and_negative_offset_forgets(self):
        self.assertEqual(self.push(message_update("a"), message_update("b"), message_update("c"))["update_ids"], [1, 2, 3])
        self.assertEqual(self.ids({}), [1, 2, 3])
        self.assertEqual(self.ids({"limit": 1}), [1])
        self.assertEqual(self.ids({"offset": 2}), [2, 3])
        self.assertEqual(self.ids({}), [2, 3])  # 1 was confirmed by offset=2
        self.assertEqual(self.ids({"offset": -1}), [3])
        self.assertEqual(self.ids({}), [3])  # 2 was forgotten
        self.assertEqual(self.push({"update_id": 100, **message_update("d")}, message_update("e"))["update_ids"], [100, 101])

    def test_long_poll_returns_when_an_update_arrives(self):
        answer = {}
        poller = threading.Thread(target=lambda: answer.update(r=self.send({"timeout": 10}, "getUpdates")))
        started = time.monotonic()
        poller.start()
        self.server.wait_for_pending_call("getUpdates")
        self.push(message_update("wake up"))
        poller.join(5)
        self.assertLess(time.monotonic() - started, 5)
        [update] = self.assertOk(answer["r"])
        self.assertEqual(update["message"]["text"], "wake up")

    def test_long_poll_times_out_empty(self):
        started = time.monotonic()
        self.assertEqual(self.assertOk(self.send({"timeout": 1}, "getUpdates")), [])
        self.assertGreaterEqual(time.monotonic() - started, 0.9)

    def test_second_poller_terminates_the_first(self):
        answer = {}
        poller = threading.Thread(target=lambda: answer.update(r=self.send({"timeout": 10}, "getUpdates")))
        poller.start()
        self.server.wait_for_pending_call("getUpdates")
        self.assertEqual(self.assertOk(self.send({}, "getUpdates")), [])
        poller.join(5)
        self.assertError(answer["r"], 409, "Conflict: terminated by other getUpdates request; "
                                           "make sure that only one bot instance is running")

    def test_get_updates_conflicts_with_a_webhook(self):
        self.assertEqual(self.server.control("POST", "webhook", {"url": "https://bot.example/hook"})[0], 200)
        self.assertError(self.send({}, "getUpdates"), 409, "Conflict: can't use getUpdates method while webhook is "
                                                           "active; use deleteWebhook to delete the webhook first")
        self.assertOk(self.send({}, "deleteWebhook"))
        self.assertOk(self.send({}, "getUpdates"))

    def test_set_webhook_terminates_a_long_poll(self):
        answer = {}
        poller = threading.Thread(target=lambda: answer.update(r=self.send({"timeout": 10}, "getUpdates")))
        poller.start()
        self.server.wait_for_pending_call("getUpdates")
        self.assertOk(self.send({"url": "https://bot.example/hook"}, "setWebhook"))
        poller.join(5)
        self.assertError(answer["r"], 409, "Conflict: terminated by setWebhook request")

    def test_allowed_updates_filter_new_updates(self):
        reaction = {"message_reaction": {"chat": {"id": 1, "type": "private"}, "message_id": 1}}
        self.assertEqual(self.push(reaction)["dropped"], [1])  # not in the default set
        self.assertEqual(self.ids({"allowed_updates": ["message_reaction"]}), [])
        self.assertEqual(self.push(reaction, message_update("m")), {"update_ids": [2, 3], "dropped": [3]})
        self.assertEqual(self.ids({}), [2])
        self.assertBadRequest(self.send({"allowed_updates": ["mesage"]}, "getUpdates"),
                              'unknown update type "mesage" in allowed_updates')


class WebhookTest(ServerTestCase):
    def test_set_get_and_delete_webhook(self):
        params = {"url": "https://bot.example/hook", "secret_token": "s3cr3t_-", "max_connections": 1000,
                  "allowed_updates": ["message", "callback_query"]}
        self.assertEqual(self.send(params, "setWebhook"), (200, {"ok": True, "result": True, "description": "Webhook was set"}))
        self.assertEqual(self.send(params, "setWebhook")[1]["description"], "Webhook is already set")
        self.server.control("POST", "updates", {"updates": [message_update("pending")]})
        self.assertEqual(self.assertOk(self.send({}, "getWebhookInfo")), {
            "url": "https://bot.example/hook", "has_custom_certificate": False, "pending_update_count": 1,
            "max_connections": 100, "allowed_updates": ["message", "callback_query"]})
        self.assertEqual(self.assertOk(self.send({**params, "max_connections": 0}, "setWebhook")), True)
        self.assertEqual(self.assertOk(self.send({}, "getWebhookInfo"))["max_connections"], 1)
        self.assertEqual(self.send({"drop_pending_updates": True}, "deleteWebhook")[1]["description"], "Webhook was deleted")
        self.assertEqual(self.send({}, "deleteWebhook")[1]["description"], "Webhook is already deleted")
        self.assertEqual(self.assertOk(self.send({}, "getWebhookInfo")),
                         {"url": "", "has_custom_certificate": False, "pending_update_count": 0})

    def test_webhook_url_and_secret_rules(self):
        self.assertBadRequest(self.send({"url": "http://bot.example/hook"}, "setWebhook"), "invalid webhook URL specified")
        self.assertBadRequest(self.send({"url": "https://bot.example:8080/hook"}, "setWebhook"),
                              "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        self.assertOk(self.send({"url": "http://127.0.0.1:8080/telegram/webhook"}, "setWebhook"))  # local relaxation
        self.assertBadRequest(self.send({"url": "https://bot.example/", "secret_token": "no spaces"}, "setWebhook"),
                              "secret token contains unallowed characters")
        self.assertBadRequest(self.send({"url": "https://bot.example/", "secret_token": "s" * 257}, "setWebhook"),
                              "secret token is too long")
        self.assertEqual(self.send({"url": ""}, "setWebhook")[1]["description"], "Webhook was deleted")

    def test_certificate_upload(self):
        pem = b"-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n"
        self.assertOk(self.server.multipart("setWebhook", {"url": "https://bot.example/hook"},
                                            {"certificate": ("cert.pem", "application/x-pem-file", pem)}))
        self.assertTrue(self.assertOk(self.send({}, "getWebhookInfo"))["has_custom_certificate"])
        self.assertEqual(self.server.calls("?method=setWebhook")[0]["files"]["certificate"]["sha256"],
                         hashlib.sha256(pem).hexdigest())


# --------------------------------------------------------------------------------------
# Scripted failures
# --------------------------------------------------------------------------------------

class ScriptTest(ServerTestCase):
    def script(self, **script) -> None:
        self.assertEqual(self.server.control("POST", "script", script), (200, {"ok": True}))

    def test_scripted_500_then_normal(self):
        self.script(method="sendMessage", respond={"status": 500})
        self.assertError(self.send({"chat_id": 1, "text": "x"}), 500, "Internal Server Error")
        self.assertOk(self.send({"chat_id": 1, "text": "x"}))
        calls = self.server.calls()
        self.assertEqual([(c["status"], c["scripted"]) for c in calls], [(500, True), (200, False)])

    def test_clearing_scripts_ends_a_fault_and_keeps_the_calls(self):
        self.script(method="sendMessage", times=100, respond={"status": 500})
        self.assertError(self.send({"chat_id": 1, "text": "x"}), 500, "Internal Server Error")
        self.assertEqual(self.server.control("POST", "script/clear", {}), (200, {"ok": True, "dropped": 1}))
        self.assertOk(self.send({"chat_id": 1, "text": "x"}))
        self.assertEqual([c["status"] for c in self.server.calls()], [500, 200])
        self.assertEqual(self.server.control("POST", "script/clear", {}), (200, {"ok": True, "dropped": 0}))

    def test_a_script_can_match_the_text_only(self):
        self.script(method="sendMessage", text_contains="answer", times=5, respond={"status": 500})
        self.assertOk(self.send({"chat_id": 1, "text": "progress"}))
        self.assertError(self.send({"chat_id": 1, "text": "the answer"}), 500, "Internal Server Error")
        self.assertEqual(self.server.control("POST", "script", {"text_contains": "", "respond": {"status": 500}})[0], 400)

    def test_scripted_429(self):
        self.script(respond={"status": 429, "retry_after": 5})
        self.assertEqual(self.send({"chat_id": 1, "text": "x"}), (429, {
            "ok": False, "error_code": 429, "description": "Too Many Requests: retry after 5",
            "parameters": {"retry_after": 5}}))

    def test_scripted_raw_502(self):
        self.script(respond={"status": 502, "raw": "<html>bad gateway</html>"})
        status, response, body = self.server.request("POST", f"/bot{TOKEN}/sendMessage", b'{"chat_id":1,"text":"x"}',
                                                     {"Content-Type": "application/json"})
        self.assertEqual((status, body, response.getheader("Content-Type")), (502, b"<html>bad gateway</html>", "text/html"))

    def test_scripted_hang_and_close(self):
        self.script(method="getMe", respond={"hang": 1})
        started = time.monotonic()
        with self.assertRaises(http.client.RemoteDisconnected):
            self.server.api("getMe", timeout=5)
        self.assertGreaterEqual(time.monotonic() - started, 0.9)
        self.script(method="getMe", respond={"close": True})
        with self.assertRaises(http.client.RemoteDisconnected):
            self.server.api("getMe", timeout=5)
        self.assertOk(self.server.api("getMe"))
        self.assertEqual([(c["status"], c["error"]) for c in self.server.calls()],
                         [(None, "scripted hang"), (None, "scripted close"), (200, None)])

    def test_scripted_delay_carries_the_call_out_and_answers_late(self):
        self.script(method="sendMessage", respond={"delay": 1})
        result = {}
        sender = threading.Thread(target=lambda: result.update(answer=self.send({"chat_id": 5, "text": "late"})))
        started = time.monotonic()
        sender.start()
        deadline = time.monotonic() + 5
        def stored():
            return self.server.control("GET", "chats/5/messages")[1]["messages"]
        while not any(m.get("text") == "late" for m in stored()) and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertTrue(sender.is_alive(), "the message is there before its answer")
        sender.join(5)
        self.assertGreaterEqual(time.monotonic() - started, 0.9)
        self.assertEqual(self.assertOk(result["answer"])["text"], "late")
        self.assertEqual([(c["status"], c["scripted"]) for c in self.server.calls()], [(200, True)])

    def test_times_method_and_chat_matching(self):
        self.script(method="SENDMESSAGE", chat_id=2, times=2, respond={"status": 403,
                                                                        "description": "Forbidden: bot was blocked by the user"})
        self.assertOk(self.send({"chat_id": 1, "text": "x"}))
        self.assertOk(self.send({"chat_id": 2, "action": "typing"}, "sendChatAction"))  # other method
        for _ in range(2):
            self.assertError(self.send({"chat_id": 2, "text": "x"}), 403, "Forbidden: bot was blocked by the user")
        self.assertOk(self.send({"chat_id": 2, "text": "x"}))

    def test_invalid_scripts_are_refused(self):
        for script in ({"respond": {}}, {"times": 0, "respond": {"status": 500}}, {"respond": {"hang": "long"}},
                       {"respond": {"delay": -1}}):
            self.assertEqual(self.server.control("POST", "script", script)[0], 400)


# --------------------------------------------------------------------------------------
# Flood control (its own server, with small limits)
# --------------------------------------------------------------------------------------

class FloodTest(ServerTestCase):
    server_args = ("--flood-chat-limit", "3", "--flood-chat-window", "30", "--flood-group-limit", "2",
                   "--flood-group-window", "30", "--flood-retry-after", "2")

    def test_429_with_retry_after_then_recovery(self):
        for _ in range(3):
            self.assertOk(self.send({"chat_id": 7, "text": "x"}))
        too_many = (429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 2",
                          "parameters": {"retry_after": 2}})
        self.assertEqual(self.send({"chat_id": 7, "message_id": 1, "text": "edit"}, "editMessageText"), too_many)
        self.assertEqual(self.send({"chat_id": 7, "text": "x"}), too_many)  # still blocked: remaining, rounded up
        self.assertOk(self.send({"chat_id": 8, "text": "other chat"}))
        self.assertOk(self.send({"chat_id": 7, "action": "typing"}, "sendChatAction"))  # not counted
        time.sleep(2.1)
        self.assertOk(self.send({"chat_id": 7, "text": "recovered"}))

    def test_drafts_count_like_send_message(self):
        for _ in range(2):
            self.assertOk(self.send({"chat_id": 9, "draft_id": 1, "text": "x"}, "sendMessageDraft"))
        self.assertOk(self.send({"chat_id": 9, "text": "final"}))
        self.assertEqual(self.send({"chat_id": 9, "draft_id": 1, "text": "x"}, "sendMessageDraft"), (429, {
            "ok": False, "error_code": 429, "description": "Too Many Requests: retry after 2",
            "parameters": {"retry_after": 2}}))
        self.assertEqual(self.send({"chat_id": 9, "text": "x"})[0], 429)
        # Refused drafts are not counted (nor stored): the checks come first.
        self.assertBadRequest(self.send({"chat_id": 10, "draft_id": 0, "text": "x"}, "sendMessageDraft"),
                              "DRAFT_ID_INVALID")
        for _ in range(3):
            self.assertOk(self.send({"chat_id": 10, "text": "x"}))

    def test_groups_have_their_own_limit(self):
        for _ in range(2):
            self.assertOk(self.send({"chat_id": -100, "text": "x"}))
        self.assertEqual(self.send({"chat_id": -100, "text": "x"})[0], 429)
        self.assertOk(self.send({"chat_id": 100, "text": "x"}))


# --------------------------------------------------------------------------------------
# Process lifecycle
# --------------------------------------------------------------------------------------

class LifecycleTest(unittest.TestCase):
    def test_exits_when_stdin_closes(self):
        server = FakeServerProcess().start()
        try:
            server.process.stdin.close()
            self.assertEqual(server.process.wait(5), 0)
            self.assertEqual(server.process.stdout.read(), b"")  # READY was the only stdout line
        finally:
            server.stop()

    def test_exits_cleanly_on_sigterm_with_an_open_long_poll(self):
        server = FakeServerProcess().start()
        connection = server.connection(timeout=10)
        try:
            connection.request("GET", f"/bot{TOKEN}/getUpdates?timeout=30")
            server.wait_for_pending_call("getUpdates")
            server.process.send_signal(signal.SIGTERM)
            returncode = server.process.wait(5)
            server.stop()
            self.assertEqual(returncode, 0, server.stderr_log)
        finally:
            connection.close()
            server.stop()


# --------------------------------------------------------------------------------------
# In-process tests: parsers (TDLib test vectors), clocks, spec tables
# --------------------------------------------------------------------------------------

def entity(kind: str, offset: int, length: int, **extra) -> dict:
    return {"type": kind, "offset": offset, "length": length, **extra}


class HtmlParserTest(unittest.TestCase):
    """Vectors from TDLib test/message_entities.cpp (parse_html)."""

    ERRORS = [
        ("🏟 🏟&lt;<abacaba", "Unclosed start tag at byte offset 13"),
        ("🏟 🏟&lt;<abac aba>", 'Unsupported start tag "abac" at byte offset 13'),
        ("🏟 🏟&lt;<i   =aba>", 'Empty attribute name in the tag "i" at byte offset 13'),
        ("🏟 🏟&lt;<i    aba>", 'Can\'t find end tag corresponding to start tag "i"'),
        ("🏟 🏟&lt;<i    aba  =  ", 'Unclosed start tag "i" at byte offset 13'),
        ("🏟 🏟&lt;<i    aba  =  190azAz-.,", "Unexpected end of name token at byte offset 27"),
        ('🏟 🏟&lt;<i    aba  =  "&lt;&gt;&quot;>', "Unclosed start tag at byte offset 13"),
        ("🏟 🏟&lt;</", "Unexpected end tag at byte offset 13"),
        ("🏟 🏟&lt;<b></b></", "Unexpected end tag at byte offset 20"),
        ("🏟 🏟&lt;<i>a</i   ", "Unclosed end tag at byte offset 17"),
        ("🏟 🏟&lt;<i>a</em   >", 'Unmatched end tag at byte offset 17, expected "</i>", found "</em>"'),
        ("&#57311;", "Text contains invalid Unicode characters after decoding HTML entities, "
                     "check for unmatched surrogate code units"),
        ('<tg-emoji emoji-id="abc">x</tg-emoji>', "Invalid custom emoji identifier specified"),
        ('<tg-time unix="1" format="x">t</tg-time>', "Invalid date format used"),
    ]

    PARSED = [
        ("", "", []),
        ("&ge;&lt;&gt;&amp;&quot;&laquo;&raquo;&#12345678;", "&ge;<>&\"&laquo;&raquo;&#12345678;", []),
        ("➡️ ➡️<i>➡️ ➡️</i>", "➡️ ➡️➡️ ➡️", [entity("italic", 5, 5)]),
        ("➡️ ➡️<strike>➡️ ➡️</strike>", "➡️ ➡️➡️ ➡️", [entity("strikethrough", 5, 5)]),
        ("🏟 🏟<i>🏟 &gt;<b aba   =   caba>&lt🏟</b></i>", "🏟 🏟🏟 ><🏟",
         [entity("italic", 5, 7), entity("bold", 9, 3)]),
        ("🏟 🏟&lt;<i    aba  =  '&lt;&gt;&quot;'>a</>", "🏟 🏟<a", [entity("italic", 6, 1)]),
        ("<a href=telegram.org>\t</a>", "\t", [entity("text_link", 0, 1, url="http://telegram.org/")]),
        ("<a   href=  'telegram.org?&lt;'   > </a>", " ", [entity("text_link", 0, 1, url="http://telegram.org/?<")]),
        ("<a>telegram.org </a>", "telegram.org ", []),
        ("<a>telegram.org</a>", "telegram.org", [entity("text_link", 0, 12, url="http://telegram.org/")]),
        ('<a href="tg://user?id=42">u</a>', "u",
         [entity("text_mention", 0, 1, user={"id": 42, "is_bot": False, "first_name": "User 42"})]),
        ("<code><i><b> </b></i></code><i><b><code> </code></b></i>", "  ",
         [entity("code", 0, 1), entity("bold", 0, 1), entity("italic", 0, 1),
          entity("code", 1, 1), entity("bold", 1, 1), entity("italic", 1, 1)]),
        ("🏟 🏟&lt;<pre><code>🏟 🏟&lt;</code></>", "🏟 🏟<🏟 🏟<", [entity("pre", 6, 6), entity("code", 6, 6)]),
        ('🏟 🏟&lt;<pre><code class="language-fift">🏟 🏟&lt;</></>', "🏟 🏟<🏟 🏟<",
         [entity("pre", 6, 6, language="fift")]),
        ('🏟 🏟&lt;<code class="language-fift"><pre>🏟 🏟&lt;</></>', "🏟 🏟<🏟 🏟<",
         [entity("pre", 6, 6, language="fift")]),
        ('🏟 🏟&lt;<pre><code class="language-fift">🏟 🏟&lt;</> </>', "🏟 🏟<🏟 🏟< ",
         [entity("pre", 6, 7), entity("code", 6, 6)]),
        ('➡️ ➡️<tg-emoji emoji-id = "12345">➡️ ➡️</tg-emoji><b>➡️ ➡️</b>', "➡️ ➡️➡️ ➡️➡️ ➡️",
         [entity("custom_emoji", 5, 5, custom_emoji_id="12345"), entity("bold", 10, 5)]),
        ('<blockquote   cite="" askdlbas nasjdbaj nj12b3>a&lt;<pre  >b;</></>', "a<b;",
         [entity("blockquote", 0, 4), entity("pre", 2, 2)]),
        ("<blockquote   expandable=false>a&lt;<pre  >b;</></>", "a<b;",
         [entity("expandable_blockquote", 0, 4), entity("pre", 2, 2)]),
        ('<tg-time unix="1647531900" format="wDT">now</tg-time>', "now",
         [entity("date_time", 0, 3, unix_time=1647531900, date_time_format="wDT")]),
    ]

    def test_errors(self):
        for text, message in self.ERRORS:
            with self.subTest(text=text):
                with self.assertRaises(fake.EntityParseError) as raised:
                    fake.HtmlParser().parse(text)
                self.assertEqual(str(raised.exception), message)

    def test_parsed_text_and_entities(self):
        for text, result, entities in self.PARSED:
            with self.subTest(text=text):
                parsed = fake.HtmlParser().parse(text)
                self.assertEqual((parsed.text, parsed.entities), (result, entities))


class MarkdownParsersTest(unittest.TestCase):
    def test_markdown_v2_reserved_characters_need_escaping(self):
        for code in range(1, 126):
            character = chr(code)
            if character in "_*[~`>":
                continue  # these start entities (">" a quote at the line start)
            if character in "]()>#+-=|{}.!":
                with self.assertRaises(fake.EntityParseError) as raised:
                    fake.MarkdownV2Parser().parse(character)
                self.assertEqual(str(raised.exception),
                                 f"Character '{character}' is reserved and must be escaped with the preceding '\\'")
                self.assertEqual(fake.MarkdownV2Parser().parse("\\" + character).text, character)
            else:
                self.assertEqual(fake.MarkdownV2Parser().parse(character).text, character)

    def test_markdown_v2_tdlib_errors(self):
        for text, message in [
            ("🏟 🏟_abacaba", "Can't find end of Italic entity at byte offset 9"),
            ("🏟 🏟_abac * asd ", "Can't find end of Bold entity at byte offset 15"),
            ("🏟 🏟`", "Can't find end of Code entity at byte offset 9"),
            ("🏟 🏟```a", "Can't find end of Pre entity at byte offset 9"),
            ("🏟 🏟```a ", "Can't find end of PreCode entity at byte offset 9"),
            ("🏟 🏟__🏟 🏟_", "Can't find end of Italic entity at byte offset 20"),
            ("🏟 🏟||test\\|", "Can't find end of Spoiler entity at byte offset 9"),
            ("[telegram\\.org](asd\\)", "Can't find end of a URL at byte offset 16"),
            (">*b\n>ld \n>bo\nld*\nasd\ndef", "Can't find end of Bold entity at byte offset 1"),
            (">\n*a*>2", "Character '>' is reserved and must be escaped with the preceding '\\'"),
        ]:
            with self.subTest(text=text):
                with self.assertRaises(fake.EntityParseError) as raised:
                    fake.MarkdownV2Parser().parse(text)
                self.assertEqual(str(raised.exception), message)

    def test_markdown_v2_entities(self):
        parsed = fake.MarkdownV2Parser().parse("*b _i_* __u__ ~s~ ||p|| `c` [l](https://x.y) ```swift\nlet a\n```")
        self.assertEqual(parsed.text, "b i u s p c l let a\n")
        self.assertEqual(parsed.entities, [
            entity("bold", 0, 3), entity("italic", 2, 1), entity("underline", 4, 1), entity("strikethrough", 6, 1),
            entity("spoiler", 8, 1), entity("code", 10, 1), entity("text_link", 12, 1, url="https://x.y/"),
            entity("pre", 14, 6, language="swift")])
        quoted = fake.MarkdownV2Parser().parse(">one\n>two\nthree")
        self.assertEqual((quoted.text, quoted.entities), ("one\ntwo\nthree", [entity("blockquote", 0, 7)]))

    def test_legacy_markdown(self):
        parsed = fake.MarkdownParser().parse("*bold* _it_ `code` [link](https://x.y) \\*")
        self.assertEqual(parsed.text, "bold it code link *")
        self.assertEqual(parsed.entities, [entity("bold", 0, 4), entity("italic", 5, 2), entity("code", 8, 4),
                                           entity("text_link", 13, 4, url="https://x.y/")])
        with self.assertRaises(fake.EntityParseError) as raised:
            fake.MarkdownParser().parse("a *b")
        self.assertEqual(str(raised.exception), "Can't find end of the entity starting at byte offset 2")


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ClockedStateTest(unittest.TestCase):
    def test_flood_block_counts_down_and_resets_the_window(self):
        clock = FakeClock()
        flood = fake.FloodControl(fake.FloodPolicy(2, 10), fake.FloodPolicy(1, 60), retry_after=3, clock=clock)
        flood.admit(1)
        flood.admit(1)
        with self.assertRaises(fake.ApiError) as raised:
            flood.admit(1)
        self.assertEqual((raised.exception.status, raised.exception.parameters), (429, {"retry_after": 3}))
        clock.now += 1.5
        with self.assertRaises(fake.ApiError) as raised:
            flood.admit(1)
        self.assertEqual(raised.exception.description, "Too Many Requests: retry after 2")  # 1.5 rounded up
        clock.now += 1.5
        flood.admit(1)
        flood.admit(1)
        clock.now += 10.1  # the window slides
        flood.admit(1)

    def test_callback_queries_expire_after_15_seconds(self):
        clock = FakeClock()
        queries = fake.CallbackQueries(clock)
        queries.register("fresh")
        queries.register("stale")
        clock.now += 15.0
        queries.answer("fresh")
        clock.now += 0.1
        with self.assertRaises(fake.ApiError) as raised:
            queries.answer("stale")
        self.assertEqual(raised.exception.description, QUERY_TOO_OLD)


class RobustnessTest(unittest.TestCase):
    """Odd inputs must give Bot API errors, never a crash of the fake (a 500); in-process for speed."""

    ODD_VALUES = [None, "", " ", "<", "&#x", "\\", "*", "[a](", "```", "attach://x", 0, -1, 2 ** 70, True, 1.5,
                  [], [1], [[{}]], {}, {"type": []}, {"inline_keyboard": [[{"text": 1}]]}]
    TOKENS = ["<b>", "</b>", "<i>", "</i>", "<a href='https://x.y'>", "<a>", "</a>", "<pre>", "</pre>",
              '<code class="language-py">', "</code>", "<blockquote expandable>", "</blockquote>", "</>",
              '<tg-emoji emoji-id="5">', "</tg-emoji>", "<", ">", "&lt;", "&#x1F600;", "&#xD800;", "&", "x",
              " ", "\n", "😀", "*", "_", "__", "~", "||", "`", "```", "[", "](https://x.y)", "(", ")", "\\",
              "**>", "!", "![", ".", "="]

    HTML_PAIRS = [("<b>", "</b>"), ("<i>", "</i>"), ("<u>", "</u>"), ("<s>", "</s>"), ("<tg-spoiler>", "</tg-spoiler>"),
                  ('<span class="tg-spoiler">', "</span>"), ('<a href="https://x.y">', "</a>"), ("<code>", "</code>"),
                  ("<pre>", "</pre>"), ("<blockquote>", "</blockquote>"), ('<tg-emoji emoji-id="5">', "</tg-emoji>")]
    MARKDOWN_V2_PAIRS = [("*", "*"), ("_", "_"), ("__", "__"), ("~", "~"), ("||", "||"), ("[", "](https://x.y)")]

    @classmethod
    def well_formed(cls, rng: random.Random, pairs: list, atoms: list, depth: int = 0) -> tuple[str, int]:
        """Random nested markup and its number of entities; siblings are space-separated so that
        MarkdownV2's "_" / "__" ambiguity never arises."""
        parts, count = [], 0
        for _ in range(rng.randint(1, 3)):
            if depth < 3 and rng.random() < 0.5:
                opening, closing = rng.choice(pairs)
                inner, inner_count = cls.well_formed(rng, pairs, atoms, depth + 1)
                parts.append(f"{opening}{rng.choice(atoms)}{inner}{rng.choice(atoms)}{closing}")
                count += inner_count + 1
            else:
                parts.append(rng.choice(atoms))
        return " ".join(parts), count

    def test_well_formed_markup_always_parses(self):
        rng = random.Random(7)
        for parser, pairs, atoms in [
                (fake.HtmlParser, self.HTML_PAIRS, ["x", "😀", "&lt;", "&amp;", "é", "\n", "&#x1F600;"]),
                (fake.MarkdownV2Parser, self.MARKDOWN_V2_PAIRS, ["x", "😀", "\\.", "é", "\\_"])]:
            for _ in range(500):
                text, count = self.well_formed(rng, pairs, atoms)
                parsed = parser().parse(text)
                length = fake.utf16_length(parsed.text)
                self.assertTrue(all(0 <= e["offset"] < e["offset"] + e["length"] <= length for e in parsed.entities))
                if parser is fake.MarkdownV2Parser:  # HTML may merge <pre><code> into one entity
                    self.assertEqual(len(parsed.entities), count, text)

    def test_odd_parameter_values(self):
        flood = fake.FloodPolicy(10 ** 6, 1)
        app = fake.FakeBotApiApp(fake.Options(TOKEN, flood, flood, 1))
        try:
            for method, params in fake.METHOD_PARAMS.items():
                for name in params:
                    if name == "timeout":
                        continue  # a valid long poll would just wait
                    for value in self.ODD_VALUES:
                        body = json.dumps({"chat_id": 1, "text": "t", name: value}).encode()
                        reply = app.route("POST", f"/bot{TOKEN}/{method}", {"Content-Type": "application/json"}, body)
                        self.assertLess(reply.status, 500, (method, name, value, reply.body))
        finally:
            app.shutdown()

    def test_parsers_raise_only_entity_errors_and_keep_entities_in_bounds(self):
        rng = random.Random(20260101)
        for _ in range(3000):
            text = "".join(rng.choice(self.TOKENS) for _ in range(rng.randint(0, 12)))
            for parser in (fake.HtmlParser, fake.MarkdownV2Parser, fake.MarkdownParser):
                try:
                    parsed = parser().parse(text)
                except fake.EntityParseError:
                    continue
                length = fake.utf16_length(parsed.text)
                for item in parsed.entities:
                    self.assertTrue(0 <= item["offset"] < item["offset"] + item["length"] <= length,
                                    (parser.__name__, text, parsed))


class SpecTablesTest(unittest.TestCase):
    """The embedded tables must equal what the spec files say (skipped where they are absent)."""

    NOT_EMBEDDED = {"InputRichMessage", "InputFile"}

    def setUp(self):
        base, overlay = SPEC_DIR / "botapi-spec.json", SPEC_DIR / "botapi-spec-overlay.json"
        if not (base.exists() and overlay.exists()):
            self.skipTest(f"spec files not found in {SPEC_DIR}")
        spec, extra = json.loads(base.read_text()), json.loads(overlay.read_text())
        self.methods = {**spec["methods"], **extra["methods"]}
        self.types = {**spec["types"], **extra["types"]}

    @staticmethod
    def fields_text(definition: dict) -> str:
        return ", ".join(f"{f['name']}:{'|'.join(f['types'])}{'!' if f['required'] else ''}"
                         for f in definition.get("fields", []))

    def test_method_parameters(self):
        derived = {name: self.fields_text(self.methods[name]) for name in fake.METHOD_SPECS}
        self.assertEqual(derived, fake.METHOD_SPECS, "\n" + json.dumps(derived, indent=4))

    def test_types_reachable_from_the_methods(self):
        objects, unions, pending = {}, {}, []
        for name in fake.METHOD_SPECS:
            pending += [t for f in self.methods[name].get("fields", []) for t in f["types"]]
        while pending:
            type_ = re.sub(r"^(Array of )+", "", pending.pop())
            if type_ not in self.types or type_ in self.NOT_EMBEDDED or type_ in objects or type_ in unions:
                continue
            definition = self.types[type_]
            if "subtypes" in definition:
                # "Scope type, must be default" / "Type of the reaction, always "emoji""
                values = [re.search(r'(?:must be|always) "?(\w+)', next(f for f in self.types[sub]["fields"]
                                                                       if f["name"] == "type")["description"]).group(1)
                          for sub in definition["subtypes"]]
                unions[type_] = ", ".join(f"{v}:{s}" for v, s in zip(values, definition["subtypes"]))
                pending += definition["subtypes"]
            else:
                objects[type_] = self.fields_text(definition)
                pending += [t for f in definition.get("fields", []) for t in f["types"]]
        self.assertEqual(objects, fake.TYPE_SPECS, "\n" + json.dumps(dict(sorted(objects.items())), indent=4))
        self.assertEqual(unions, fake.UNION_SPECS)

    def test_update_types(self):
        self.assertEqual([f["name"] for f in self.types["Update"]["fields"]][1:], fake.UPDATE_TYPES)


if __name__ == "__main__":
    unittest.main()
