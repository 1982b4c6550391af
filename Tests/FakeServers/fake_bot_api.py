#!/usr/bin/env python3
"""A local fake of the Telegram Bot API, for the Swift tests (Python 3.11, standard library only).

It answers like api.telegram.org (same JSON shapes, same error strings) but validates
requests MORE strictly than the real server, so that typos and malformed requests fail
loudly in tests instead of being silently ignored in production. Sources of truth:
shared/telegram/FACTS.md (beside the repository), the Bot API 10.1 spec plus its 10.2/10.3 overlay (the
parameter and type tables below are generated from them, see SPEC TABLES), and TDLib's
parse_html / parse_markdown_v2 / parse_markdown (td/telegram/MessageEntity.cpp).

Start
-----
    python3 Tests/FakeServers/fake_bot_api.py --port 0 --token 123456:ABC \
        [--flood-chat-limit 20 --flood-chat-window 10 --flood-group-limit 20 \
         --flood-group-window 60 --flood-retry-after 3] [--no-stdin-watch]

* Binds 127.0.0.1 only. --port 0 picks a free port.
* Prints exactly one line "READY port=<N>" to stdout (flushed) once listening; all
  logging goes to stderr.
* Exits with status 0 on SIGTERM/SIGINT, and when its stdin reaches EOF, so a test
  process that dies (closing the pipe) does not leak the server. --no-stdin-watch turns
  the stdin rule off for running it by hand with stdin not a terminal or pipe.
* HTTP/1.1 with keep-alive; every response carries Content-Length; request bodies may
  use Content-Length or chunked transfer encoding (at most 52 MiB, else 413).

Bot API: GET|POST /bot<token>/<method>
------------------------------------
Method names are case-insensitive. Parameters come from the query string and the body:
application/x-www-form-urlencoded, application/json (an object; null members count as
absent) or multipart/form-data (parts with a filename are files; "attach://<part>"
names a file part). Answers are {"ok":true,"result":...} (setWebhook/deleteWebhook add
"description"), or {"ok":false,"error_code":N,"description":"...","parameters":{...}}
with HTTP status N.

Methods: getMe, setMyCommands, getMyCommands, sendMessage, editMessageText,
editMessageReplyMarkup, deleteMessage, answerCallbackQuery, sendChatAction, sendDocument,
sendPhoto, getFile, setWebhook, deleteWebhook, getWebhookInfo, getUpdates, setMessageReaction,
sendMessageDraft.

Checks, in this order (the first failure answers):
 1. token       -> 401 "Unauthorized"; unknown method -> 404 "Not Found: method not found".
 2. scripts     -> a scripted answer from POST /__fake/script replaces everything below.
 3. decoding    -> 400 for a malformed body (fake-only strings, see ApiError.malformed).
 4. parameters  -> "unknown parameter "X"" (the real server ignores them), then
                   "parameter "X" is required" (chat_id: "chat_id is empty"; text:
                   "message text is empty", as the real server says), then types:
                   Integer, Boolean (true/false only), String, JSON-serialized objects
                   checked field by field against the spec: unknown fields rejected,
                   "can't parse <Type>: Can't find field "x"" / "Field "x" must be of
                   type T". Fake-only wording: "parameter "X" must be of type T".
 5. semantics   -> the exact strings of FACTS.md: text 1-4096 code points after entity
                   parsing and trimming ("message text is empty", "text must be non-empty",
                   "message is too long"; raw text over 32768 bytes: "text is too long"),
                   caption <= 1024 ("message caption is too long"), parse_mode
                   HTML/MarkdownV2/Markdown case-insensitively (also "none" and "" are
                   rejected, on purpose) else "unsupported parse_mode", parse_mode together
                   with entities is rejected (fake-only), "can't parse entities: <TDLib
                   message>", BUTTON_DATA_INVALID (callback_data 1-64 UTF-8 bytes), exactly
                   one action field per inline button ("Text buttons are unallowed in the
                   inline keyboard" when none), BotCommand rules (BOT_COMMAND_INVALID,
                   BOT_COMMAND_DESCRIPTION_INVALID, BOT_COMMANDS_TOO_MUCH), callback answer
                   text <= 200 (MESSAGE_TOO_LONG), chat actions, webhook URL and secret rules.
                   Chat ids must be non-zero integers ("chat not found" otherwise).
                   setMessageReaction: message_id > 0 ("message to react not found"; the message
                   is NOT looked up, the bot reacts to the user's messages, which the fake never
                   stored), emoji from the spec's list exactly, custom_emoji_id a positive
                   decimal id, no "paid" (all else "REACTION_INVALID"), at most one reaction
                   ("REACTIONS_TOO_MANY"). sendMessageDraft: chat_id <= 0 ->
                   "TEXTDRAFT_PEER_INVALID" (private chats only), draft_id 0 -> "DRAFT_ID_INVALID"
                   (a plausible string, not verified), text 0-4096 after parsing and trimming
                   (empty allowed: "Thinking..."), otherwise the sendMessage text rules and errors.
 6. flood       -> sendMessage, sendMessageDraft, editMessageText, editMessageReplyMarkup,
                   sendDocument and sendPhoto count per chat: more than --flood-chat-limit in the last
                   --flood-chat-window seconds (negative, i.e. group, ids: --flood-group-*
                   instead) -> 429 "Too Many Requests: retry after N" with
                   parameters.retry_after; the chat then stays blocked for retry_after
                   seconds (later requests get the remaining seconds, rounded up) and its
                   count starts afresh after the block. A request counts once it passed 1-5;
                   edits of unknown or unchanged messages count too (checked after this).

Formatting. HTML is a port of TDLib parse_html: tags b strong i em u ins s strike del
span.tg-spoiler tg-spoiler a code pre blockquote[expandable] tg-emoji tg-time, entity
decoding (&lt; &gt; &amp; &quot; and numeric), byte offsets in messages, "</>" closes the
innermost tag. MarkdownV2 ports TDLib's inline rules (escapes, reserved characters
"_*[]()~`>#+-=|{}.!", unclosed entities, link/custom-emoji URLs); block quotes are only
approximated (">" / "**>" at a line start, "||" at the end of a quoted line). Legacy
Markdown ports TDLib parse_markdown. Results carry the parsed text and its entities;
automatic entities (urls, mentions, commands) are not detected, link URLs are normalised
approximately (https://x.y -> https://x.y/) and tg://user?id=N links become text_mention
entities with a placeholder user {"id":N,"is_bot":false,"first_name":"User N"}.

State. Negative chat ids are "supergroup" chats, positive ones "private". Sent messages get
per-chat increasing message_id and are stored; editMessageText without reply_markup
removes the keyboard, as the real server does; "message to edit not found", "message is not
modified: ...", "message to delete not found", "there is no text in the message to edit",
"message to be replied not found". Inline messages (inline_message_id) are validated and
answered True but not stored. rich_message is refused (not modelled by the fake).
sendDocument/sendPhoto accept an upload (stored; getFile can fetch it back), a known file_id
or an http(s) URL ("wrong file identifier/HTTP URL specified" otherwise); photos get one
PhotoSize of a fixed 320x320 (the fake does not decode images). setMessageReaction keeps the
bot's reaction per chat and message (an empty or absent reaction removes it). sendMessageDraft
keeps the latest draft per (chat_id, draft_id); drafts never expire and sendMessage leaves them.

Updates. getUpdates: offset confirms (drops) older updates, a negative offset keeps the last
-offset updates, limit is clamped to 1..100 and timeout to 0..50; a long poll answers as soon
as an update is queued, at the timeout, or with 409 "Conflict: terminated by other getUpdates
request; ..." when another getUpdates arrives (or "...terminated by setWebhook request").
While a webhook is set: 409 "Conflict: can't use getUpdates method while webhook is active;
...". allowed_updates (shared by getUpdates and setWebhook, as on the real server) filters
updates when they are queued: unset or [] means all but chat_member, message_reaction and
message_reaction_count; unknown names are rejected (fake-only). The fake never POSTs to the
webhook URL. setWebhook: https URLs on ports 80/88/443/8443; the local-server relaxation
also allows http://127.0.0.1[:port]/...; secret_token 1-256 of A-Za-z0-9_-; max_connections
clamped to 1..100 (default 40); a multipart "certificate" file sets has_custom_certificate.

getFile: files registered through the control API or uploaded with sendDocument/sendPhoto;
"file is too big" over 20 MB, "invalid file_id" when unknown. GET /file/bot<token>/<file_path>
serves the bytes (404 otherwise).

Callback queries become answerable when registered with POST /__fake/callback_queries or
queued inside a callback_query update; they expire 15 s after that and can be answered once.

Control API for tests: /__fake/... (JSON in, JSON out; errors are {"error": "..."})
------------------------------------------------------------------------------------
GET  /__fake/calls[?method=M][&since=SEQ]
     {"calls":[{"seq":1,"method":"sendMessage","params":{...},"files":{"document":
     {"filename":"a.txt","size":3,"sha256":"...","content_type":"text/plain"}},
     "status":200,"time":1700000000.5,"ok":true,"error":null,"scripted":false}]}
     In arrival order, including failed and scripted calls. params are decoded and typed by
     the spec (integers, booleans, parsed JSON objects) where they are valid, raw otherwise.
     status is null while a call is in flight (long poll) or when a script hung/closed it.
POST /__fake/script {"method":"sendMessage"?, "chat_id":123?, "text_contains":"..."?, "times":1?, "respond":R}
     R is one of {"status":429,"retry_after":5} | {"status":N,"description":"..."?,
     "parameters":{...}?} | {"status":200,"result":...} | {"status":502,"raw":"<html>",
     "content_type":"text/html"?} | {"hang":SECONDS} (read the request, answer nothing for
     SECONDS, close) | {"close":true} (close without answering) | {"delay":SECONDS} (carry
     the call out as usual, so its message is there at once, and hold the answer SECONDS). Scripts are used in the
     order they were added by matching calls (method case-insensitive; absent = any; text_contains:
     the call's text or caption holds that string, e.g. to fail only the message carrying an answer).
POST /__fake/updates {"updates":[{...}, ...]} -> {"update_ids":[...],"dropped":[...]}
     Queues updates for getUpdates; update_id is assigned (increasing) when absent;
     "dropped" lists the ids the current allowed_updates filtered out.
POST /__fake/files {"file_id":"...","content_base64":"...","file_path":"voice/a.oga"?,
     "file_unique_id":"..."?} or {"file_id":"...","size":N} (metadata only, e.g. for the
     20 MB rule) -> {"file": File}
POST /__fake/callback_queries {"id":"...","chat_id":123?} -> {"ok":true}
GET  /__fake/chats/<chat_id>/messages -> {"messages":[{"message_id","date","edit_date",
     "kind","text","raw_text","parse_mode","entities","reply_markup","message_thread_id",
     "caption","document","photo"}]}
GET  /__fake/chats/<chat_id>/reactions -> {"reactions":{"<message_id>":[ReactionType, ...]}}
     The bot's current reactions (setMessageReaction), as sent; removed ones are absent.
GET  /__fake/chats/<chat_id>/drafts -> {"drafts":[{"draft_id","text","entities",
     "message_thread_id","raw_text","parse_mode","can_stop","keep_on_stop"}]}
     The latest draft per draft_id (text and entities parsed), in order of first use.
POST /__fake/script/clear  drops the scripts not yet used up (a fault that ends, e.g. before the
     bot is restarted), keeping calls and state.
POST /__fake/reset   clears calls, scripts and all state, reactions and drafts included (not
     the token or options).
POST /__fake/webhook {"url":"..."} sets the webhook state directly ("" clears it).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import email.message
import email.parser
import hashlib
import json
import logging
import math
import re
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable, NamedTuple

from fake_server_runtime import LoopbackServer, serve

NAME = "fake_bot_api"
log = logging.getLogger("fake_bot_api")

# --------------------------------------------------------------------------------------
# SPEC TABLES, generated from botapi-spec.json (Bot API 10.1) with botapi-spec-overlay.json
# (10.2/10.3) merged over it; test_fake_bot_api.SpecTablesTest re-derives them from those
# files and prints the expected text when they drift. Format: "name:Type[!]" with "!" for
# required; alternatives are joined by "|". InputRichMessage is left out on purpose.
# --------------------------------------------------------------------------------------

METHOD_SPECS = {
    "getMe": "",
    "setMyCommands": "commands:Array of BotCommand!, scope:BotCommandScope, language_code:String",
    "getMyCommands": "scope:BotCommandScope, language_code:String",
    "sendMessage": "business_connection_id:String, chat_id:Integer|String!, message_thread_id:Integer, direct_messages_topic_id:Integer, ephemeral_message_parameters:EphemeralMessageParameters, text:String!, parse_mode:String, entities:Array of MessageEntity, link_preview_options:LinkPreviewOptions, disable_notification:Boolean, protect_content:Boolean, allow_paid_broadcast:Boolean, message_effect_id:String, suggested_post_parameters:SuggestedPostParameters, reply_parameters:ReplyParameters, reply_markup:InlineKeyboardMarkup|ReplyKeyboardMarkup|ReplyKeyboardRemove|ForceReply",
    "editMessageText": "business_connection_id:String, chat_id:Integer|String, message_id:Integer, inline_message_id:String, text:String, parse_mode:String, entities:Array of MessageEntity, link_preview_options:LinkPreviewOptions, rich_message:InputRichMessage, reply_markup:InlineKeyboardMarkup",
    "editMessageReplyMarkup": "business_connection_id:String, chat_id:Integer|String, message_id:Integer, inline_message_id:String, reply_markup:InlineKeyboardMarkup",
    "deleteMessage": "chat_id:Integer|String!, message_id:Integer!",
    "answerCallbackQuery": "callback_query_id:String!, text:String, show_alert:Boolean, url:String, cache_time:Integer",
    "sendChatAction": "business_connection_id:String, chat_id:Integer|String!, message_thread_id:Integer, action:String!",
    "sendDocument": "business_connection_id:String, chat_id:Integer|String!, message_thread_id:Integer, direct_messages_topic_id:Integer, ephemeral_message_parameters:EphemeralMessageParameters, document:InputFile|String!, thumbnail:InputFile|String, caption:String, parse_mode:String, caption_entities:Array of MessageEntity, disable_content_type_detection:Boolean, disable_notification:Boolean, protect_content:Boolean, allow_paid_broadcast:Boolean, message_effect_id:String, suggested_post_parameters:SuggestedPostParameters, reply_parameters:ReplyParameters, reply_markup:InlineKeyboardMarkup|ReplyKeyboardMarkup|ReplyKeyboardRemove|ForceReply",
    "sendPhoto": "business_connection_id:String, chat_id:Integer|String!, message_thread_id:Integer, direct_messages_topic_id:Integer, ephemeral_message_parameters:EphemeralMessageParameters, photo:InputFile|String!, caption:String, parse_mode:String, caption_entities:Array of MessageEntity, show_caption_above_media:Boolean, has_spoiler:Boolean, disable_notification:Boolean, protect_content:Boolean, allow_paid_broadcast:Boolean, message_effect_id:String, suggested_post_parameters:SuggestedPostParameters, reply_parameters:ReplyParameters, reply_markup:InlineKeyboardMarkup|ReplyKeyboardMarkup|ReplyKeyboardRemove|ForceReply",
    "getFile": "file_id:String!",
    "setWebhook": "url:String!, certificate:InputFile, ip_address:String, max_connections:Integer, allowed_updates:Array of String, drop_pending_updates:Boolean, secret_token:String",
    "deleteWebhook": "drop_pending_updates:Boolean",
    "getWebhookInfo": "",
    "getUpdates": "offset:Integer, limit:Integer, timeout:Integer, allowed_updates:Array of String",
    "setMessageReaction": "chat_id:Integer|String!, message_id:Integer!, reaction:Array of ReactionType, is_big:Boolean",
    "sendMessageDraft": "chat_id:Integer!, message_thread_id:Integer, draft_id:Integer!, text:String, parse_mode:String, entities:Array of MessageEntity, can_stop:Boolean, keep_on_stop:Boolean",
}

TYPE_SPECS = {
    "BotCommand": "command:String!, description:String!, is_ephemeral:Boolean",
    "BotCommandScopeAllChatAdministrators": "type:String!",
    "BotCommandScopeAllGroupChats": "type:String!",
    "BotCommandScopeAllPrivateChats": "type:String!",
    "BotCommandScopeChat": "type:String!, chat_id:Integer|String!",
    "BotCommandScopeChatAdministrators": "type:String!, chat_id:Integer|String!",
    "BotCommandScopeChatMember": "type:String!, chat_id:Integer|String!, user_id:Integer!",
    "BotCommandScopeDefault": "type:String!",
    "CallbackGame": "",
    "ChatAdministratorRights": "is_anonymous:Boolean!, can_manage_chat:Boolean!, can_delete_messages:Boolean!, can_manage_video_chats:Boolean!, can_restrict_members:Boolean!, can_promote_members:Boolean!, can_change_info:Boolean!, can_invite_users:Boolean!, can_post_stories:Boolean!, can_edit_stories:Boolean!, can_delete_stories:Boolean!, can_post_messages:Boolean, can_edit_messages:Boolean, can_pin_messages:Boolean, can_manage_topics:Boolean, can_manage_direct_messages:Boolean, can_manage_tags:Boolean, can_send_welcome_messages:Boolean",
    "CopyTextButton": "text:String!",
    "DisabledButton": "",
    "EphemeralMessageParameters": "receiver_user_id:Integer!, callback_query_id:String, replace_callback_query_message:Boolean",
    "ForceReply": "force_reply:Boolean!, input_field_placeholder:String, selective:Boolean",
    "InlineKeyboardButton": "text:String!, icon_custom_emoji_id:String, style:String, url:String, callback_data:String, web_app:WebAppInfo, login_url:LoginUrl, switch_inline_query:String, switch_inline_query_current_chat:String, switch_inline_query_chosen_chat:SwitchInlineQueryChosenChat, copy_text:CopyTextButton, callback_game:CallbackGame, pay:Boolean, disabled:DisabledButton",
    "InlineKeyboardMarkup": "inline_keyboard:Array of Array of InlineKeyboardButton!, force_reply:Boolean",
    "KeyboardButton": "text:String!, icon_custom_emoji_id:String, style:String, request_users:KeyboardButtonRequestUsers, request_chat:KeyboardButtonRequestChat, request_managed_bot:KeyboardButtonRequestManagedBot, request_contact:Boolean, request_location:Boolean, request_poll:KeyboardButtonPollType, web_app:WebAppInfo",
    "KeyboardButtonPollType": "type:String",
    "KeyboardButtonRequestChat": "request_id:Integer!, chat_is_channel:Boolean!, chat_is_forum:Boolean, chat_has_username:Boolean, chat_is_created:Boolean, user_administrator_rights:ChatAdministratorRights, bot_administrator_rights:ChatAdministratorRights, bot_is_member:Boolean, request_title:Boolean, request_username:Boolean, request_photo:Boolean",
    "KeyboardButtonRequestManagedBot": "request_id:Integer!, suggested_name:String, suggested_username:String",
    "KeyboardButtonRequestUsers": "request_id:Integer!, user_is_bot:Boolean, user_is_premium:Boolean, max_quantity:Integer, request_name:Boolean, request_username:Boolean, request_photo:Boolean",
    "LinkPreviewOptions": "is_disabled:Boolean, url:String, prefer_small_media:Boolean, prefer_large_media:Boolean, show_above_text:Boolean",
    "LoginUrl": "url:String!, forward_text:String, bot_username:String, request_write_access:Boolean",
    "MessageEntity": "type:String!, offset:Integer!, length:Integer!, url:String, user:User, language:String, custom_emoji_id:String, unix_time:Integer, date_time_format:String",
    "ReactionTypeCustomEmoji": "type:String!, custom_emoji_id:String!",
    "ReactionTypeEmoji": "type:String!, emoji:String!",
    "ReactionTypePaid": "type:String!",
    "ReplyKeyboardMarkup": "keyboard:Array of Array of KeyboardButton!, is_persistent:Boolean, resize_keyboard:Boolean, one_time_keyboard:Boolean, input_field_placeholder:String, selective:Boolean, force_reply:Boolean",
    "ReplyKeyboardRemove": "remove_keyboard:Boolean!, selective:Boolean",
    "ReplyParameters": "message_id:Integer, chat_id:Integer|String, ephemeral_message_id:Integer, allow_sending_without_reply:Boolean, quote:String, quote_parse_mode:String, quote_entities:Array of MessageEntity, quote_position:Integer, checklist_task_id:Integer, poll_option_id:String",
    "SuggestedPostParameters": "price:SuggestedPostPrice, send_date:Integer",
    "SuggestedPostPrice": "currency:String!, amount:Integer!",
    "SwitchInlineQueryChosenChat": "query:String, allow_user_chats:Boolean, allow_bot_chats:Boolean, allow_group_chats:Boolean, allow_channel_chats:Boolean",
    "User": "id:Integer!, is_bot:Boolean!, first_name:String!, last_name:String, username:String, language_code:String, is_premium:Boolean, added_to_attachment_menu:Boolean, can_join_groups:Boolean, can_read_all_group_messages:Boolean, supports_guest_queries:Boolean, supports_inline_queries:Boolean, can_connect_to_business:Boolean, has_main_web_app:Boolean, has_topics_enabled:Boolean, allows_users_to_create_topics:Boolean, can_manage_bots:Boolean, supports_join_request_queries:Boolean",
    "WebAppInfo": "url:String!",
}

# Abstract types, told apart by their "type" field: "value:Subtype, ...".
UNION_SPECS = {
    "BotCommandScope": "default:BotCommandScopeDefault, all_private_chats:BotCommandScopeAllPrivateChats, all_group_chats:BotCommandScopeAllGroupChats, all_chat_administrators:BotCommandScopeAllChatAdministrators, chat:BotCommandScopeChat, chat_administrators:BotCommandScopeChatAdministrators, chat_member:BotCommandScopeChatMember",
    "ReactionType": "emoji:ReactionTypeEmoji, custom_emoji:ReactionTypeCustomEmoji, paid:ReactionTypePaid",
}

UPDATE_TYPES = (
    "message edited_message channel_post edited_channel_post business_connection business_message "
    "edited_business_message deleted_business_messages guest_message message_reaction "
    "message_reaction_count inline_query chosen_inline_result callback_query shipping_query "
    "pre_checkout_query purchased_paid_media poll poll_answer my_chat_member chat_member "
    "chat_join_request chat_boost removed_chat_boost managed_bot subscription "
    "stopped_message_generation"
).split()


class Field(NamedTuple):
    type: str
    required: bool


def parse_field_spec(spec: str) -> dict[str, Field]:
    fields = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, type_ = item.partition(":")
        fields[name] = Field(type_.rstrip("!"), type_.endswith("!"))
    return fields


METHOD_PARAMS = {name: parse_field_spec(spec) for name, spec in METHOD_SPECS.items()}
OBJECT_TYPES = {name: parse_field_spec(spec) for name, spec in TYPE_SPECS.items()}
UNION_TYPES = {
    name: {value: subtype for value, subtype in (p.split(":") for p in spec.split(", "))}
    for name, spec in UNION_SPECS.items()
}
CANONICAL_METHODS = {name.lower(): name for name in METHOD_PARAMS}

# Limits from FACTS.md.
MAX_TEXT_LENGTH = 4096
MAX_RAW_TEXT_BYTES = 32768
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_CALLBACK_DATA_BYTES = 64
MAX_COMMANDS = 100
MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024
CALLBACK_QUERY_TTL = 15.0
MAX_LONG_POLL_TIMEOUT = 50
MAX_BODY_BYTES = 52 * 1024 * 1024
WEBHOOK_PORTS = (80, 88, 443, 8443)
CHAT_ACTIONS = frozenset(
    "typing upload_photo record_video upload_video record_voice upload_voice upload_document "
    "choose_sticker find_location record_video_note upload_video_note".split()
)
DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
# ReactionTypeEmoji.emoji: exactly the list of the spec (no variation selectors: "❤", not "❤️").
REACTION_EMOJIS = frozenset(
    "👍 👎 ❤ 🔥 🥰 👏 😁 🤔 🤯 😱 🤬 😢 🎉 🤩 🤮 💩 🙏 👌 🕊 🤡 🥱 🥴 😍 🐳 ❤\u200d🔥 🌚 🌭 💯 🤣 ⚡ 🍌 🏆 💔 🤨 😐 "
    "🍓 🍾 💋 🖕 😈 😴 😭 🤓 👻 👨\u200d💻 👀 🎃 🙈 😇 😨 🤝 ✍ 🤗 🫡 🎅 🎄 ☃ 💅 🤪 🗿 🆒 💘 🙉 🦄 😘 💊 🙊 😎 👾 "
    "🤷\u200d♂ 🤷 🤷\u200d♀ 😡".split()
)
MAX_BOT_REACTIONS = 1  # "as non-premium users, bots can set up to one reaction per message"


# --------------------------------------------------------------------------------------
# Errors and outcomes
# --------------------------------------------------------------------------------------

class ApiError(Exception):
    """A Bot API failure; str(description) is exactly what the client sees."""

    def __init__(self, status: int, description: str, parameters: dict | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    @classmethod
    def bad_request(cls, message: str) -> "ApiError":
        return cls(400, "Bad Request: " + message)

    @classmethod
    def malformed(cls, message: str) -> "ApiError":
        """Fake-only: request bodies the real server would also refuse, with our own wording."""
        return cls(400, "Bad Request: " + message)

    @classmethod
    def conflict(cls, message: str) -> "ApiError":
        return cls(409, "Conflict: " + message)

    @classmethod
    def too_many_requests(cls, retry_after: int) -> "ApiError":
        return cls(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})

    def body(self) -> dict:
        body = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class EntityParseError(Exception):
    """A TDLib entity-parser message; becomes "Bad Request: can't parse entities: <message>"."""


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"

    @classmethod
    def json(cls, status: int, value: Any) -> "Reply":
        return cls(status, json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


@dataclass
class Hang:
    """Read the request, answer nothing for `seconds`, then close the connection."""
    seconds: float


@dataclass
class Drop:
    """Close the connection without answering."""


@dataclass
class Late:
    """`reply`, written only after `seconds`: the call took effect, its answer is slow."""
    reply: Reply
    seconds: float


@dataclass
class Delay:
    """A script's marker: carry the call out, then answer it `seconds` late."""
    seconds: float


Outcome = Reply | Hang | Drop | Late


# --------------------------------------------------------------------------------------
# Request decoding: HTTP body framing, then query/form/JSON/multipart parameters
# --------------------------------------------------------------------------------------

class BodyError(Exception):
    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status = status
        self.description = description


class BodyReader:
    """Reads a request body framed by Content-Length or chunked transfer encoding."""

    def __init__(self, rfile, headers, limit: int = MAX_BODY_BYTES):
        self.rfile = rfile
        self.headers = headers
        self.limit = limit

    def read(self) -> bytes:
        transfer_encoding = self.headers.get("Transfer-Encoding")
        content_length = self.headers.get("Content-Length")
        if transfer_encoding is not None:
            if transfer_encoding.strip().lower() != "chunked":
                raise BodyError(501, "Not Implemented: unsupported Transfer-Encoding")
            if content_length is not None:
                # Both framings at once is how request smuggling starts; refuse it.
                raise BodyError(400, "Bad Request: both Content-Length and Transfer-Encoding given")
            return self._read_chunked()
        if content_length is None:
            return b""
        if not content_length.strip().isdigit():
            raise BodyError(400, "Bad Request: invalid Content-Length")
        length = int(content_length)
        if length > self.limit:
            raise BodyError(413, "Request Entity Too Large")
        body = self.rfile.read(length)
        if len(body) != length:
            raise BodyError(400, "Bad Request: request body shorter than Content-Length")
        return body

    def _read_chunked(self) -> bytes:
        chunks = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            size_text = line.split(b";", 1)[0].strip()
            if not line.endswith(b"\n") or not re.fullmatch(rb"[0-9A-Fa-f]{1,8}", size_text):
                raise BodyError(400, "Bad Request: invalid chunk size line")
            size = int(size_text, 16)
            if size == 0:
                break
            total += size
            if total > self.limit:
                raise BodyError(413, "Request Entity Too Large")
            chunk = self.rfile.read(size)
            if len(chunk) != size or self.rfile.read(2) != b"\r\n":
                raise BodyError(400, "Bad Request: truncated chunk")
            chunks.append(chunk)
        while True:  # trailer fields, up to the empty line
            line = self.rfile.readline(8192)
            if not line.endswith(b"\n"):
                raise BodyError(400, "Bad Request: truncated chunked trailer")
            if line in (b"\r\n", b"\n"):
                return b"".join(chunks)


@dataclass
class UploadedFile:
    filename: str
    content_type: str
    data: bytes

    def describe(self) -> dict:
        return {
            "filename": self.filename,
            "size": len(self.data),
            "sha256": hashlib.sha256(self.data).hexdigest(),
            "content_type": self.content_type,
        }


@dataclass
class DecodedRequest:
    """Raw parameters: strings (query, form, multipart) or JSON values (JSON body), and file parts."""
    params: dict[str, Any]
    files: dict[str, UploadedFile]


class MultipartParser:
    """multipart/form-data (RFC 7578), strict about framing and Content-Disposition."""

    BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")

    def __init__(self, boundary: str | None):
        if not boundary or not self.BOUNDARY.fullmatch(boundary):
            raise ApiError.malformed("multipart/form-data needs a valid boundary parameter")
        self.delimiter = b"--" + boundary.encode("ascii")

    def parse(self, body: bytes) -> tuple[dict[str, str], dict[str, UploadedFile]]:
        fields: dict[str, str] = {}
        files: dict[str, UploadedFile] = {}
        pos = self._first_delimiter(body)
        while True:
            pos += len(self.delimiter)
            if body.startswith(b"--", pos):
                return fields, files
            pos = self._skip_transport_padding(body, pos)
            if not body.startswith(b"\r\n", pos):
                raise ApiError.malformed("malformed multipart/form-data: garbage after a boundary")
            end = body.find(b"\r\n" + self.delimiter, pos + 2)
            if end < 0:
                raise ApiError.malformed("malformed multipart/form-data: missing closing boundary")
            name, value = self._parse_part(body[pos + 2:end])
            if name in fields or name in files:
                raise ApiError.malformed(f'malformed multipart/form-data: part "{name}" given twice')
            if isinstance(value, UploadedFile):
                files[name] = value
            else:
                fields[name] = value
            pos = end + 2

    def _first_delimiter(self, body: bytes) -> int:
        if body.startswith(self.delimiter):
            return 0
        pos = body.find(b"\r\n" + self.delimiter)  # after a preamble, which is ignored
        if pos < 0:
            raise ApiError.malformed("malformed multipart/form-data: boundary not found in the body")
        return pos + 2

    @staticmethod
    def _skip_transport_padding(body: bytes, pos: int) -> int:
        while pos < len(body) and body[pos] in b" \t":
            pos += 1
        return pos

    @staticmethod
    def _parse_part(part: bytes) -> tuple[str, str | UploadedFile]:
        if part.startswith(b"\r\n"):  # no headers at all, so no Content-Disposition
            raise ApiError.malformed("malformed multipart/form-data: every part needs Content-Disposition: form-data")
        head, separator, content = part.partition(b"\r\n\r\n")
        if not separator:
            raise ApiError.malformed("malformed multipart/form-data: part headers not terminated")
        try:
            headers = email.parser.HeaderParser().parsestr(head.decode("utf-8"))
        except UnicodeDecodeError:
            raise ApiError.malformed("malformed multipart/form-data: part headers are not UTF-8")
        if headers.get_content_disposition() != "form-data":
            raise ApiError.malformed("malformed multipart/form-data: every part needs Content-Disposition: form-data")
        name = headers.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            raise ApiError.malformed("malformed multipart/form-data: Content-Disposition without a name")
        filename = headers.get_filename()
        if filename is not None:
            content_type = headers.get("Content-Type", "application/octet-stream")
            return name, UploadedFile(filename, content_type.strip(), content)
        try:
            return name, content.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError.bad_request("strings must be encoded in UTF-8")


class RequestDecoder:
    """Turns query string + body into a DecodedRequest; refuses duplicates and bad encodings."""

    def decode(self, query: str, content_type: str | None, body: bytes) -> DecodedRequest:
        params: dict[str, Any] = {}
        files: dict[str, UploadedFile] = {}
        self._merge(params, self._form(query))
        if body:
            mime, options = self._content_type(content_type)
            if mime == "application/x-www-form-urlencoded":
                self._merge(params, self._form(self._utf8(body)))
            elif mime == "application/json":
                self._merge(params, self._json(body))
            elif mime == "multipart/form-data":
                fields, files = MultipartParser(options.get("boundary")).parse(body)
                self._merge(params, fields)
                for name in files:
                    if name in params:
                        raise ApiError.malformed(f'parameter "{name}" given twice')
            else:
                raise ApiError.malformed(f'unsupported Content-Type "{mime}"')
        return DecodedRequest(params, files)

    @staticmethod
    def _content_type(header: str | None) -> tuple[str, dict[str, str]]:
        message = email.message.Message()
        message["Content-Type"] = header or "application/octet-stream"
        options = {key.lower(): value for key, value in message.get_params(failobj=[])[1:]}
        return message.get_content_type(), options

    @staticmethod
    def _utf8(data: bytes) -> str:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError.bad_request("strings must be encoded in UTF-8")

    @staticmethod
    def _form(text: str) -> dict[str, str]:
        params: dict[str, str] = {}
        try:
            pairs = urllib.parse.parse_qsl(text, keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            raise ApiError.bad_request("strings must be encoded in UTF-8")
        for name, value in pairs:
            if name in params:
                raise ApiError.malformed(f'parameter "{name}" given twice')
            params[name] = value
        return params

    @staticmethod
    def _json(body: bytes) -> dict[str, Any]:
        try:
            value = json.loads(body)
            # Lone surrogates (\ud800) decode fine in Python but are not UTF-8.
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeError:
            raise ApiError.bad_request("strings must be encoded in UTF-8")
        except ValueError:
            raise ApiError.malformed("request body is not valid JSON")
        if not isinstance(value, dict):
            raise ApiError.malformed("a JSON request body must be an object")
        return {name: member for name, member in value.items() if member is not None}

    @staticmethod
    def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
        for name, value in new.items():
            if name in into:
                raise ApiError.malformed(f'parameter "{name}" given twice')
            into[name] = value


# --------------------------------------------------------------------------------------
# Formatting: TDLib's entity parsers (HTML, MarkdownV2, legacy Markdown)
# --------------------------------------------------------------------------------------

@dataclass
class FormattedText:
    text: str
    entities: list[dict] = field(default_factory=list)

    def trimmed(self) -> "FormattedText":
        """Strips surrounding whitespace like TDLib's fix_formatted_text, moving entities along."""
        stripped = self.text.strip()
        if stripped == self.text:
            return self
        start = utf16_length(self.text[:len(self.text) - len(self.text.lstrip())])
        end = start + utf16_length(stripped)
        entities = []
        for entity in self.entities:
            begin = max(entity["offset"], start)
            finish = min(entity["offset"] + entity["length"], end)
            if finish > begin:
                entities.append({**entity, "offset": begin - start, "length": finish - begin})
        return FormattedText(stripped, entities)


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# TDLib sorts entities by offset, then longer first, then by this type priority.
ENTITY_PRIORITY = {
    "blockquote": 0, "expandable_blockquote": 0, "pre": 11, "code": 20, "text_link": 49,
    "text_mention": 49, "bold": 90, "italic": 91, "underline": 92, "strikethrough": 93,
    "spoiler": 94, "date_time": 95, "custom_emoji": 99,
}


def sort_entities(entities: list[dict]) -> list[dict]:
    def key(entity):
        priority = ENTITY_PRIORITY[entity["type"]] - (entity["type"] == "pre" and "language" in entity)
        return entity["offset"], -entity["length"], priority
    return sorted(entities, key=key)


class Links:
    """Approximates TDLib's LinkManager for text links: tg://user mentions and URL normalisation."""

    SCHEMES = ("http", "https", "tg", "ton", "tonsite")

    @staticmethod
    def user_id(url: str) -> int | None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme.lower() != "tg" or parts.netloc.lower() != "user":
            return None
        user_id = urllib.parse.parse_qs(parts.query).get("id", [""])[0]
        return int(user_id) if user_id.isdigit() and int(user_id) > 0 else None

    @classmethod
    def checked(cls, url: str) -> str:
        """The URL Telegram would store, or "" when it would drop the link (no error)."""
        if not url or any(ch.isspace() for ch in url):
            return ""
        scheme, separator, rest = url.partition("://")
        if not separator:
            scheme, rest = "http", url
        scheme = scheme.lower()
        if scheme not in cls.SCHEMES or not rest:
            return ""
        if scheme == "tg":
            return "tg://" + rest
        host, tail = re.match(r"([^/?#]*)(.*)", rest).groups()
        hostname = host.rsplit(":", 1)[0] if re.search(r":\d+$", host) else host
        if not re.fullmatch(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+|localhost", hostname):
            return ""
        return f"{scheme}://{host.lower()}{tail if tail.startswith('/') else '/' + tail}"

    @classmethod
    def entity(cls, url: str, offset: int, length: int) -> dict | None:
        user_id = cls.user_id(url)
        if user_id is not None:
            user = {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
            return {"type": "text_mention", "offset": offset, "length": length, "user": user}
        checked = cls.checked(url)
        if checked:
            return {"type": "text_link", "offset": offset, "length": length, "url": checked}
        return None


class Utf8Cursor:
    """Byte-level access with C-string semantics: reading past the end yields 0, like TDLib."""

    def __init__(self, text: str):
        self.data = text.encode("utf-8")
        self.size = len(self.data)

    def __getitem__(self, index: int) -> int:
        return self.data[index] if index < self.size else 0

    def text(self, begin: int, end: int) -> str:
        return self.data[begin:end].decode("utf-8", errors="replace")

    @staticmethod
    def utf16_units(byte: int) -> int:
        """UTF-16 units started by this byte: 0 for continuation bytes, 2 for 4-byte sequences."""
        if byte & 0xC0 == 0x80:
            return 0
        return 2 if byte >= 0xF0 else 1


def is_space(byte: int) -> bool:
    return byte in b" \t\r\n\v\0"


def is_alnum(byte: int) -> bool:
    return byte != 0 and chr(byte).isascii() and chr(byte).isalnum()


def lower_ascii(data: bytes) -> bytes:
    return data.lower()  # bytes.lower() only touches ASCII, like td::to_lower


class HtmlParser:
    """A port of TDLib parse_html (MessageEntity.cpp); messages and byte offsets are TDLib's."""

    TAGS = {
        b"a", b"b", b"strong", b"i", b"em", b"s", b"strike", b"del", b"u", b"ins", b"tg-spoiler",
        b"tg-emoji", b"tg-time", b"span", b"pre", b"code", b"blockquote",
    }
    SIMPLE = {
        b"i": "italic", b"em": "italic", b"b": "bold", b"strong": "bold", b"s": "strikethrough",
        b"strike": "strikethrough", b"del": "strikethrough", b"u": "underline", b"ins": "underline",
        b"tg-spoiler": "spoiler", b"span": "spoiler",
    }
    DATE_FORMAT = re.compile(r"r|w?[dD]?[tT]?")

    @dataclass
    class _Open:
        tag: bytes
        argument: bytes
        date: int
        offset: int  # UTF-16 offset in the result
        result_pos: int  # byte position in the result

    def parse(self, text: str) -> FormattedText:
        s = Utf8Cursor(text)
        result = bytearray()
        entities: list[dict] = []
        nested: list[HtmlParser._Open] = []
        utf16 = 0
        i = 0
        while i < s.size:
            c = s[i]
            if c == ord("&"):
                code, after = decode_html_entity(s, i)
                if code:
                    utf16 += 2 if code > 0xFFFF else 1
                    result += chr(code).encode("utf-8", "surrogatepass")
                    i = after
                    continue
            if c != ord("<"):
                utf16 += Utf8Cursor.utf16_units(c)
                result.append(c)
                i += 1
                continue
            begin = i
            i += 1
            if s[i] != ord("/"):
                i = self._start_tag(s, begin, i, nested, utf16, len(result))
            else:
                i = self._end_tag(s, begin, i, nested, entities, result, utf16)
        if nested:
            raise EntityParseError(
                f'Can\'t find end tag corresponding to start tag "{nested[-1].tag.decode(errors="replace")}"')
        for entity in entities:  # a language only survives on pre
            if entity["type"] == "code":
                entity.pop("language", None)
        try:
            decoded = bytes(result).decode("utf-8")
        except UnicodeDecodeError:  # only decoded surrogate code points (&#xD800;) can cause this
            raise EntityParseError(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units")
        return FormattedText(decoded, sort_entities(entities))

    def _start_tag(self, s: Utf8Cursor, begin: int, i: int, nested: list, utf16: int, result_pos: int) -> int:
        while not is_space(s[i]) and s[i] != ord(">"):
            i += 1
        if s[i] == 0:
            raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
        tag = lower_ascii(s.data[begin + 1:i])
        tag_text = tag.decode(errors="replace")
        if tag not in self.TAGS:
            raise EntityParseError(f'Unsupported start tag "{tag_text}" at byte offset {begin}')
        argument = b""
        date = 0
        while s[i] != ord(">"):
            while s[i] != 0 and is_space(s[i]):
                i += 1
            if s[i] == ord(">"):
                break
            name_begin = i
            while not is_space(s[i]) and s[i] not in b"=>/\"'":
                i += 1
            name = s.data[name_begin:i]
            if not name:
                raise EntityParseError(f'Empty attribute name in the tag "{tag_text}" at byte offset {begin}')
            while s[i] != 0 and is_space(s[i]):
                i += 1
            if s[i] != ord("="):
                if s[i] == 0:
                    raise EntityParseError(f'Unclosed start tag "{tag_text}" at byte offset {begin}')
                if tag == b"blockquote" and name == b"expandable":
                    argument = b"1"
                continue  # an attribute without a value
            i += 1
            while s[i] != 0 and is_space(s[i]):
                i += 1
            if s[i] == 0:
                raise EntityParseError(f'Unclosed start tag "{tag_text}" at byte offset {begin}')
            value, i = self._attribute_value(s, i)
            if s[i] == 0:
                raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
            if tag == b"a" and name == b"href":
                argument = value
            elif tag == b"code" and name == b"class" and value.startswith(b"language-"):
                argument = value[9:]
            elif tag == b"span" and name == b"class" and value.startswith(b"tg-"):
                argument = value[3:]
            elif tag == b"tg-emoji" and name == b"emoji-id":
                argument = value
            elif tag == b"blockquote" and name == b"expandable":
                argument = b"1"
            elif tag == b"tg-time" and name == b"unix":
                digits = re.match(rb"-?\d*", value).group()
                date = int(digits) if digits.strip(b"-") else 0
            elif tag == b"tg-time" and name == b"format":
                argument = value
        if tag == b"span" and argument != b"spoiler":
            raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
        nested.append(self._Open(tag, argument, date, utf16, result_pos))
        return i + 1

    @staticmethod
    def _attribute_value(s: Utf8Cursor, i: int) -> tuple[bytes, int]:
        if s[i] not in b"'\"":
            # A name token (letters, digits, periods, hyphens); not case sensitive.
            token_begin = i
            while is_alnum(s[i]) or s[i] in b".-":
                i += 1
            if not is_space(s[i]) and s[i] != ord(">"):
                raise EntityParseError(f"Unexpected end of name token at byte offset {token_begin}")
            return lower_ascii(s.data[token_begin:i]), i
        quote = s[i]
        i += 1
        value = bytearray()
        while s[i] != quote and s[i] != 0:
            if s[i] == ord("&"):
                code, after = decode_html_entity(s, i)
                if code:
                    value += chr(code).encode("utf-8", "surrogatepass")
                    i = after
                    continue
            value.append(s[i])
            i += 1
        if s[i] == quote:
            i += 1
        return bytes(value), i

    def _end_tag(self, s: Utf8Cursor, begin: int, i: int, nested: list, entities: list,
                 result: bytearray, utf16: int) -> int:
        if not nested:
            raise EntityParseError(f"Unexpected end tag at byte offset {begin}")
        while not is_space(s[i]) and s[i] != ord(">"):
            i += 1
        end_tag = lower_ascii(s.data[begin + 2:i])
        while is_space(s[i]) and s[i] != 0:
            i += 1
        if s[i] != ord(">"):
            raise EntityParseError(f"Unclosed end tag at byte offset {begin}")
        top = nested.pop()
        if end_tag and end_tag != top.tag:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {begin}, expected "</{top.tag.decode(errors="replace")}>", '
                f'found "</{end_tag.decode(errors="replace")}>"')
        if utf16 > top.offset:
            self._add_entity(top, utf16 - top.offset, entities, result)
        return i + 1

    def _add_entity(self, top: "_Open", length: int, entities: list, result: bytearray) -> None:
        base = {"offset": top.offset, "length": length}
        last = entities[-1] if entities else None
        same_span = last is not None and last["offset"] == top.offset and last["length"] == length
        argument = top.argument.decode("utf-8", errors="replace")
        if top.tag in self.SIMPLE:
            entities.append({"type": self.SIMPLE[top.tag], **base})
        elif top.tag == b"tg-emoji":
            if not re.fullmatch(r"-?\d{1,19}", argument) or int(argument) == 0 or abs(int(argument)) >= 2 ** 63:
                raise EntityParseError("Invalid custom emoji identifier specified")
            entities.append({"type": "custom_emoji", **base, "custom_emoji_id": str(int(argument))})
        elif top.tag == b"tg-time":
            if not self.DATE_FORMAT.fullmatch(argument):
                raise EntityParseError("Invalid date format used")
            if top.date > 0:
                entity = {"type": "date_time", **base, "unix_time": top.date}
                if argument:
                    entity["date_time_format"] = argument
                entities.append(entity)
        elif top.tag == b"a":
            url = argument or bytes(result[top.result_pos:]).decode("utf-8", errors="replace")
            entity = Links.entity(url, top.offset, length)
            if entity:
                entities.append(entity)
        elif top.tag == b"pre":
            # <pre><code class="language-x"> in either nesting order becomes one pre+language.
            if same_span and last["type"] == "code" and last.get("language"):
                last["type"] = "pre"
            else:
                entities.append({"type": "pre", **base})
        elif top.tag == b"code":
            if same_span and last["type"] == "pre" and argument:
                last["language"] = argument
            else:
                entities.append({"type": "code", **base, **({"language": argument} if argument else {})})
        elif top.tag == b"blockquote":
            entities.append({"type": "expandable_blockquote" if argument else "blockquote", **base})


def decode_html_entity(s: Utf8Cursor, pos: int) -> tuple[int, int]:
    """TDLib decode_html_entity: (code point, position after it), or (0, pos) if not an entity."""
    end = pos + 1
    code = 0
    if s[pos + 1] == ord("#"):
        end += 1
        if s[pos + 2] == ord("x"):
            end += 1
            while s[end] and chr(s[end]) in "0123456789abcdefABCDEF":
                code = code * 16 + int(chr(s[end]), 16)
                end += 1
        else:
            while ord("0") <= s[end] <= ord("9"):
                code = code * 10 + s[end] - ord("0")
                end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return 0, pos
    else:
        while chr(s[end]).isascii() and chr(s[end]).isalpha():
            end += 1
        code = {b"lt": 0x3C, b"gt": 0x3E, b"amp": 0x26, b"quot": 0x22}.get(s.data[pos + 1:end], 0)
        if code == 0:
            return 0, pos  # other named entities stay literal
    return code, end + 1 if s[end] == ord(";") else end


class MarkdownV2Parser:
    """TDLib parse_markdown_v2 for inline entities; block quotes are approximated (see module doc)."""

    RESERVED = b"_*[]()~`>#+-=|{}.!"
    NAMES = {
        "bold": "Bold", "italic": "Italic", "underline": "Underline", "strikethrough": "Strikethrough",
        "spoiler": "Spoiler", "code": "Code", "pre": "Pre", "pre_code": "PreCode",
        "text_link": "TextUrl", "custom_emoji": "CustomEmoji",
    }

    @dataclass
    class _Open:
        kind: str
        offset: int
        byte_offset: int
        result_pos: int
        language: str = ""

    @dataclass
    class _Quote:
        offset: int
        expandable: bool

    def parse(self, text: str) -> FormattedText:
        s = Utf8Cursor(text)
        result = bytearray()
        entities: list[dict] = []
        nested: list[MarkdownV2Parser._Open] = []
        quote: MarkdownV2Parser._Quote | None = None
        utf16 = 0
        i = 0
        while i < s.size:
            c = s[i]
            in_code = bool(nested) and nested[-1].kind in ("code", "pre", "pre_code")
            if not in_code and (i == 0 or s[i - 1] == ord("\n")):
                quote, i, marker = self._line_start(s, i, quote, nested, entities, utf16)
                if marker:
                    continue
                c = s[i]
            if c == ord("\\") and 0 < s[i + 1] <= 126:
                result.append(s[i + 1])
                utf16 += 1
                i += 2
                continue
            if c not in (b"`" if in_code else self.RESERVED):
                utf16 += Utf8Cursor.utf16_units(c)
                result.append(c)
                i += 1
                continue
            if quote and not in_code and s.data[i:i + 2] == b"||" and s[i + 2] in b"\n\0" \
                    and not (nested and nested[-1].kind == "spoiler"):
                quote.expandable = True  # "||" closing the last line of an expandable quote
                i += 2
                continue
            if nested and self._is_end(nested[-1].kind, s, i):
                i = self._close(s, i, nested.pop(), entities, result, utf16)
            else:
                i = self._open(s, i, nested, utf16, len(result))
        if nested:
            top = nested[-1]
            raise EntityParseError(f"Can't find end of {self.NAMES[top.kind]} entity at byte offset {top.byte_offset}")
        if quote:
            self._close_quote(quote, utf16, entities)
        return FormattedText(result.decode("utf-8"), sort_entities(entities))

    def _line_start(self, s, i, quote, nested, entities, utf16):
        """Handles ">" / "**>" quote markers; returns (quote, next index, consumed a marker)."""
        if s[i] == ord(">") or s.data[i:i + 3] == b"**>":
            expandable = s[i] == ord("*")
            if quote is None:
                quote = self._Quote(utf16, expandable)
            return quote, i + (3 if expandable else 1), True
        if quote is not None:
            if nested:  # entities can't leave the quote they started in
                top = nested[-1]
                raise EntityParseError(
                    f"Can't find end of {self.NAMES[top.kind]} entity at byte offset {top.byte_offset}")
            self._close_quote(quote, utf16 - 1, entities)  # the newline ends the quote
        return None, i, False

    @staticmethod
    def _close_quote(quote, end: int, entities: list) -> None:
        if end > quote.offset:
            kind = "expandable_blockquote" if quote.expandable else "blockquote"
            entities.append({"type": kind, "offset": quote.offset, "length": end - quote.offset})

    @staticmethod
    def _is_end(kind: str, s: Utf8Cursor, i: int) -> bool:
        c, following = s[i], s[i + 1]
        return {
            "bold": c == ord("*"),
            "italic": c == ord("_") and following != ord("_"),
            "underline": c == ord("_") and following == ord("_"),
            "strikethrough": c == ord("~"),
            "spoiler": c == ord("|") and following == ord("|"),
            "code": c == ord("`"),
            "pre": s.data[i:i + 3] == b"```",
            "pre_code": s.data[i:i + 3] == b"```",
            "text_link": c == ord("]"),
            "custom_emoji": c == ord("]"),
        }[kind]

    def _open(self, s: Utf8Cursor, i: int, nested: list, utf16: int, result_pos: int) -> int:
        c, begin = s[i], i
        language = ""
        if c == ord("_"):
            kind, i = ("underline", i + 2) if s[i + 1] == ord("_") else ("italic", i + 1)
        elif c in b"*~[":
            kind, i = {ord("*"): "bold", ord("~"): "strikethrough", ord("["): "text_link"}[c], i + 1
        elif c == ord("|") and s[i + 1] == ord("|"):
            kind, i = "spoiler", i + 2
        elif c == ord("!") and s[i + 1] == ord("["):
            kind, i = "custom_emoji", i + 2
        elif s.data[i:i + 3] == b"```":
            kind, i = "pre", i + 3
            language_end = i
            while not is_space(s[language_end]) and s[language_end] != ord("`"):
                language_end += 1
            if i != language_end and language_end < s.size and s[language_end] != ord("`"):
                kind, language, i = "pre_code", s.text(i, language_end), language_end
            if s[i] in b"\r\n":  # one newline after the opening fence is not text
                i += 2 if s[i + 1] in b"\r\n" and s[i] != s[i + 1] else 1
        elif c == ord("`"):
            kind, i = "code", i + 1
        else:
            raise EntityParseError(f"Character '{chr(c)}' is reserved and must be escaped with the preceding '\\'")
        nested.append(self._Open(kind, utf16, begin, result_pos, language))
        return i

    def _close(self, s: Utf8Cursor, i: int, top: "_Open", entities: list, result: bytearray, utf16: int) -> int:
        base = {"offset": top.offset, "length": utf16 - top.offset}
        entity: dict | None = {"type": top.kind, **base}
        if top.kind in ("bold", "italic", "code", "strikethrough"):
            i += 1
        elif top.kind in ("underline", "spoiler"):
            i += 2
        elif top.kind in ("pre", "pre_code"):
            i += 3
            entity = {"type": "pre", **base, **({"language": top.language} if top.language else {})}
        elif top.kind == "text_link":
            if s[i + 1] == ord("("):
                url, i = self._url(s, i + 2)
            else:
                url, i = bytes(result[top.result_pos:]).decode(), i + 1
            entity = Links.entity(url, top.offset, base["length"])
        else:  # custom_emoji
            if s[i + 1] != ord("("):
                raise EntityParseError("The entity must contain a tg://emoji or tg://time URL")
            url, i = self._url(s, i + 2)
            entity = self._emoji_or_time(url, base)
        if entity and base["length"] > 0:
            entities.append(entity)
        return i

    @staticmethod
    def _url(s: Utf8Cursor, i: int) -> tuple[str, int]:
        begin = i
        url = bytearray()
        while i < s.size and s[i] != ord(")"):
            if s[i] == ord("\\") and 0 < s[i + 1] <= 126:
                i += 1
            url.append(s[i])
            i += 1
        if s[i] != ord(")"):
            raise EntityParseError(f"Can't find end of a URL at byte offset {begin}")
        return url.decode("utf-8", errors="replace"), i + 1

    @staticmethod
    def _emoji_or_time(url: str, base: dict) -> dict:
        parts = urllib.parse.urlsplit(url)
        query = urllib.parse.parse_qs(parts.query)
        if parts.scheme == "tg" and parts.netloc == "emoji":
            emoji_id = query.get("id", [""])[0]
            if emoji_id.isdigit() and int(emoji_id) > 0:
                return {"type": "custom_emoji", **base, "custom_emoji_id": emoji_id}
        if parts.scheme == "tg" and parts.netloc == "time":
            unix = query.get("unix", [""])[0]
            date_format = query.get("format", [""])[0]
            if unix.isdigit() and HtmlParser.DATE_FORMAT.fullmatch(date_format):
                entity = {"type": "date_time", **base, "unix_time": int(unix)}
                return {**entity, "date_time_format": date_format} if date_format else entity
        raise EntityParseError("Invalid tg://emoji or tg://time URL specified")


class MarkdownParser:
    """TDLib parse_markdown (legacy "Markdown"): _italic_ *bold* `code` ```pre``` [text](url)."""

    def parse(self, text: str) -> FormattedText:
        s = Utf8Cursor(text)
        result = bytearray()
        entities: list[dict] = []
        utf16 = 0
        i = 0
        while i < s.size:
            c = s[i]
            if c == ord("\\") and s[i + 1] in b"_*`[" and s[i + 1]:
                result.append(s[i + 1])
                utf16 += 1
                i += 2
                continue
            if c not in b"_*`[":
                utf16 += Utf8Cursor.utf16_units(c)
                result.append(c)
                i += 1
                continue
            begin = i
            end_char = ord("]") if c == ord("[") else c
            i += 1
            language = ""
            is_pre = c == ord("`") and s[i] == ord("`") and s[i + 1] == ord("`")
            if is_pre:
                i += 2
                language_end = i
                while language_end < s.size and not is_space(s[language_end]) and s[language_end] != ord("`"):
                    language_end += 1
                if i != language_end and language_end < s.size and s[language_end] != ord("`"):
                    language, i = s.text(i, language_end), language_end
                if s[i] in b"\r\n" and s[i]:
                    i += 2 if s[i + 1] in b"\r\n" and s[i + 1] and s[i] != s[i + 1] else 1
            entity_begin = len(result)
            length = 0
            while i < s.size and (s[i] != end_char or (is_pre and not (s[i + 1] == ord("`") and s[i + 2] == ord("`")))):
                length += Utf8Cursor.utf16_units(s[i])
                result.append(s[i])
                i += 1
            if i == s.size:
                raise EntityParseError(f"Can't find end of the entity starting at byte offset {begin}")
            base = {"offset": utf16, "length": length}
            if c == ord("["):
                if s[i + 1] == ord("("):
                    url_end = s.data.find(b")", i + 2)
                    url_end = s.size if url_end < 0 else url_end
                    url, i = s.text(i + 2, url_end), url_end
                else:
                    url = bytes(result[entity_begin:]).decode("utf-8", errors="replace")
                entity = Links.entity(url, utf16, length) if length else None
            elif c == ord("`"):
                entity = {"type": "pre" if is_pre else "code", **base, **({"language": language} if language else {})}
            else:
                entity = {"type": "italic" if c == ord("_") else "bold", **base}
            if entity and length:
                entities.append(entity)
            utf16 += length
            i += 3 if is_pre else 1
        return FormattedText(result.decode("utf-8", errors="replace"), sort_entities(entities))


class TextFormatter:
    """parse_mode dispatch and the text/caption length rules of the Bot API."""

    PARSERS = {"html": HtmlParser, "markdownv2": MarkdownV2Parser, "markdown": MarkdownParser}

    def check_parse_mode(self, parse_mode: str | None) -> None:
        if parse_mode is not None and parse_mode.lower() not in self.PARSERS:
            raise ApiError.bad_request("unsupported parse_mode")

    def format(self, text: str, parse_mode: str | None, entities: list | None) -> FormattedText:
        self.check_parse_mode(parse_mode)
        if parse_mode is not None and entities is not None:
            raise ApiError.malformed("parse_mode and entities can't be used together")
        if parse_mode is None:
            return FormattedText(text, list(entities or []))
        try:
            return self.PARSERS[parse_mode.lower()]().parse(text)
        except EntityParseError as error:
            raise ApiError.bad_request(f"can't parse entities: {error}")

    def message_text(self, text: str | None, parse_mode: str | None, entities: list | None) -> FormattedText:
        if not text:
            raise ApiError.bad_request("message text is empty")
        if len(text.encode("utf-8")) > MAX_RAW_TEXT_BYTES:
            raise ApiError.bad_request("text is too long")
        formatted = self.format(text, parse_mode, entities).trimmed()
        if not formatted.text:
            raise ApiError.bad_request("text must be non-empty")
        if len(formatted.text) > MAX_TEXT_LENGTH:  # code points, as TDLib utf8_length
            raise ApiError.bad_request("message is too long")
        return formatted

    def draft_text(self, text: str | None, parse_mode: str | None, entities: list | None) -> FormattedText:
        """sendMessageDraft: like message_text, but 0-4096 (an empty text shows "Thinking...")."""
        text = text or ""
        if len(text.encode("utf-8")) > MAX_RAW_TEXT_BYTES:
            raise ApiError.bad_request("text is too long")
        formatted = self.format(text, parse_mode, entities).trimmed()
        if len(formatted.text) > MAX_TEXT_LENGTH:
            raise ApiError.bad_request("message is too long")
        return formatted

    def caption(self, caption: str | None, parse_mode: str | None, entities: list | None) -> FormattedText | None:
        self.check_parse_mode(parse_mode)
        if caption is None:
            return None
        formatted = self.format(caption, parse_mode, entities).trimmed()
        if len(formatted.text) > MAX_CAPTION_LENGTH:
            raise ApiError.bad_request("message caption is too long")
        return formatted


# --------------------------------------------------------------------------------------
# Parameter validation against the spec tables
# --------------------------------------------------------------------------------------

class ParamValidator:
    """Checks and types a method's parameters against METHOD_PARAMS / OBJECT_TYPES."""

    REQUIRED_MESSAGES = {"chat_id": "chat_id is empty", "text": "message text is empty"}
    # The real server names some types differently in its "can't parse X" messages.
    LABELS = {"InlineKeyboardButton": "inline keyboard button"}
    BUTTON_PLAIN_FIELDS = ("text", "icon_custom_emoji_id", "style")
    BUTTON_STYLES = ("danger", "success", "primary")
    COMMAND = re.compile(r"[a-z0-9_]{1,32}")

    def validate(self, method: str, request: DecodedRequest) -> tuple[dict, dict, ApiError | None]:
        """Returns (typed params, files by parameter, first error). Params stay raw where invalid."""
        spec = METHOD_PARAMS[method]
        attached = {value[len("attach://"):] for value in request.params.values()
                    if isinstance(value, str) and value.startswith("attach://")}
        errors: list[ApiError] = []
        for name in list(request.params) + [n for n in request.files if n not in attached]:
            if name not in spec:
                errors.append(ApiError.malformed(f'unknown parameter "{name}"'))
        for name, param in spec.items():
            if param.required and name not in request.params and name not in request.files:
                message = self.REQUIRED_MESSAGES.get(name, f'parameter "{name}" is required')
                errors.append(ApiError.bad_request(message))
        typed: dict[str, Any] = {}
        files: dict[str, UploadedFile] = {}
        for name in [n for n in spec if n in request.params or n in request.files]:
            raw = request.params.get(name)
            try:
                value = self._param(name, spec[name].type, raw, request.files)
            except ApiError as error:
                errors.append(error)
                typed[name] = raw
                continue
            if isinstance(value, UploadedFile):
                files[name] = value
                if raw is not None:
                    typed[name] = raw  # keep "attach://part" visible in the call log
            else:
                typed[name] = value
        for name, raw in request.params.items():
            typed.setdefault(name, raw)
        return typed, files, errors[0] if errors else None

    def _param(self, name: str, type_: str, raw: Any, files: dict[str, UploadedFile]) -> Any:
        alternatives = type_.split("|")
        if "InputFile" in alternatives:
            upload = files.get(name)
            if upload is None and isinstance(raw, str) and raw.startswith("attach://"):
                upload = files.get(raw[len("attach://"):])
                if upload is None:
                    raise ApiError.malformed(f'parameter "{name}" refers to a missing file part "{raw}"')
            if upload is not None:
                if raw is not None and not (isinstance(raw, str) and raw.startswith("attach://")):
                    raise ApiError.malformed(f'parameter "{name}" given twice')
                return upload
            if alternatives == ["InputFile"]:
                raise ApiError.malformed(f'parameter "{name}" must be a file uploaded with multipart/form-data')
            alternatives = [a for a in alternatives if a != "InputFile"]
        for alternative in alternatives:
            converted = self._scalar(alternative, raw)
            if converted is not None:
                return converted
        if all(a in ("Integer", "String", "Boolean", "Float") for a in alternatives):
            raise ApiError.malformed(f'parameter "{name}" must be of type {" or ".join(alternatives)}')
        if any(self._is_unsupported(a) for a in alternatives):
            raise ApiError.malformed(f'parameter "{name}" is not supported by the fake Bot API')
        value = raw
        if isinstance(raw, str):
            try:
                value = json.loads(raw)
            except ValueError:
                raise ApiError.malformed(f'parameter "{name}" must be a JSON-serialized {" or ".join(alternatives)}')
        return self._json_alternatives(name, alternatives, value)

    @staticmethod
    def _scalar(type_: str, raw: Any) -> Any:
        """Converts a top-level scalar; form values are strings, JSON values may be typed."""
        if type_ == "Integer":
            if isinstance(raw, int) and not isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and re.fullmatch(r"-?\d{1,19}", raw):
                return int(raw)
        elif type_ == "String" and isinstance(raw, str):
            return raw
        elif type_ == "Boolean":
            if isinstance(raw, bool):
                return raw
            if raw in ("true", "false"):
                return raw == "true"
        elif type_ == "Float":
            if isinstance(raw, (int, float)) and not isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", raw):
                return float(raw)
        return None

    def _is_unsupported(self, type_: str) -> bool:
        base = type_.removeprefix("Array of ").removeprefix("Array of ")
        return base not in OBJECT_TYPES and base not in UNION_TYPES and base not in (
            "Integer", "String", "Boolean", "Float", "True")

    def _json_alternatives(self, name: str, alternatives: list[str], value: Any) -> Any:
        if len(alternatives) == 1:
            return self._value(alternatives[0], value, f'parameter "{name}"')
        # Union of object types (reply_markup): pick the one whose required fields are present.
        for alternative in alternatives:
            required = [f for f, spec in OBJECT_TYPES[alternative].items() if spec.required]
            if isinstance(value, dict) and required and all(f in value for f in required):
                return self._value(alternative, value, f'parameter "{name}"')
        raise ApiError.malformed(f'parameter "{name}" must be of type {" or ".join(alternatives)}')

    def _value(self, type_: str, value: Any, where: str) -> Any:
        """Validates a JSON value against a spec type; `where` starts the error message
        ('parameter "x"' at the top level, 'can't parse Type: Field "x"' inside objects)."""
        if type_.startswith("Array of "):
            if not isinstance(value, list):
                raise self._type_error(where, type_)
            return [self._value(type_[len("Array of "):], item, where) for item in value]
        if "|" in type_:  # nested alternatives are scalar (chat_id: Integer|String)
            for alternative in type_.split("|"):
                if self._json_scalar_ok(alternative, value):
                    return value
            raise self._type_error(where, type_)
        if type_ in UNION_TYPES:
            return self._union(type_, value)
        if type_ in OBJECT_TYPES:
            return self._object(type_, value)
        if not self._json_scalar_ok(type_, value):
            raise self._type_error(where, type_)
        return value

    @staticmethod
    def _json_scalar_ok(type_: str, value: Any) -> bool:
        if type_ == "Integer":
            return isinstance(value, int) and not isinstance(value, bool)
        if type_ == "Float":
            return isinstance(value, (int, float)) and not isinstance(value, bool)
        if type_ == "Boolean":
            return isinstance(value, bool)
        if type_ == "True":
            return value is True
        return type_ == "String" and isinstance(value, str)

    @staticmethod
    def _type_error(where: str, type_: str) -> ApiError:
        return ApiError.bad_request(f"{where} must be of type {type_.replace('|', ' or ')}")

    def _union(self, type_: str, value: Any) -> dict:
        label = self.LABELS.get(type_, type_)
        if not isinstance(value, dict):
            raise ApiError.bad_request(f"can't parse {label}: an object expected")
        kind = value.get("type")
        subtype = UNION_TYPES[type_].get(kind) if isinstance(kind, str) else None
        if subtype is None:
            raise ApiError.bad_request(f'can\'t parse {label}: unsupported type "{value.get("type")}"')
        return self._object(subtype, value)

    def _object(self, type_: str, value: Any) -> dict:
        label = self.LABELS.get(type_, type_)
        if not isinstance(value, dict):
            raise ApiError.bad_request(f"can't parse {label}: an object expected")
        fields = OBJECT_TYPES[type_]
        for name in value:
            if name not in fields:
                raise ApiError.bad_request(f'can\'t parse {label}: unknown field "{name}"')
        checked = {}
        for name, spec in fields.items():
            if name not in value:
                if spec.required:
                    raise ApiError.bad_request(f'can\'t parse {label}: Can\'t find field "{name}"')
                continue
            checked[name] = self._value(spec.type, value[name], f'can\'t parse {label}: Field "{name}"')
        check = {"InlineKeyboardButton": self._check_button, "BotCommand": self._check_command}.get(type_)
        if check:
            check(checked)
        return checked

    def _check_button(self, button: dict) -> None:
        actions = [name for name in OBJECT_TYPES["InlineKeyboardButton"]
                   if name not in self.BUTTON_PLAIN_FIELDS and name in button]
        if not actions:
            raise ApiError.bad_request(
                "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
        if len(actions) > 1:
            raise ApiError.malformed(
                "can't parse inline keyboard button: exactly one of the fields other than text, "
                f"icon_custom_emoji_id and style must be used, found {', '.join(actions)}")
        if "callback_data" in button and not 1 <= len(button["callback_data"].encode()) <= MAX_CALLBACK_DATA_BYTES:
            raise ApiError.bad_request("BUTTON_DATA_INVALID")
        if "style" in button and button["style"] not in self.BUTTON_STYLES:
            raise ApiError.malformed(
                f'can\'t parse inline keyboard button: style must be one of {", ".join(self.BUTTON_STYLES)}')

    def _check_command(self, command: dict) -> None:
        if not self.COMMAND.fullmatch(command["command"]):
            raise ApiError.bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(command["description"]) <= 256:
            raise ApiError.bad_request("BOT_COMMAND_DESCRIPTION_INVALID")


# --------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------

@dataclass
class StoredMessage:
    message_id: int
    chat_id: int
    date: int
    kind: str  # "text", "document" or "photo"
    formatted: FormattedText | None  # text, or caption of a media message
    raw_text: str | None
    parse_mode: str | None
    reply_markup: dict | None
    message_thread_id: int | None
    media: Any = None  # Document dict or list of PhotoSize dicts
    edit_date: int | None = None
    reply_to: "StoredMessage | None" = None

    def to_api(self, bot_user: dict, with_reply: bool = True) -> dict:
        chat_type = "supergroup" if self.chat_id < 0 else "private"
        message: dict[str, Any] = {"message_id": self.message_id}
        if self.message_thread_id is not None:
            message["message_thread_id"] = self.message_thread_id
        message.update({"from": bot_user, "chat": {"id": self.chat_id, "type": chat_type}, "date": self.date})
        if self.reply_to is not None and with_reply:
            message["reply_to_message"] = self.reply_to.to_api(bot_user, with_reply=False)
        if self.edit_date is not None:
            message["edit_date"] = self.edit_date
        text_key, entities_key = ("text", "entities") if self.kind == "text" else ("caption", "caption_entities")
        if self.kind != "text":
            message[self.kind] = self.media
        if self.formatted is not None:
            message[text_key] = self.formatted.text
            if self.formatted.entities:
                message[entities_key] = self.formatted.entities
        if self.reply_markup is not None and "inline_keyboard" in self.reply_markup:
            message["reply_markup"] = self.reply_markup  # only inline keyboards are echoed
        return message

    def to_control(self) -> dict:
        text = self.formatted.text if self.formatted else None
        return {
            "message_id": self.message_id, "date": self.date, "edit_date": self.edit_date, "kind": self.kind,
            "text": text if self.kind == "text" else None, "raw_text": self.raw_text,
            "parse_mode": self.parse_mode, "entities": self.formatted.entities if self.formatted else [],
            "reply_markup": self.reply_markup, "message_thread_id": self.message_thread_id,
            "caption": text if self.kind != "text" else None,
            "document": self.media if self.kind == "document" else None,
            "photo": self.media if self.kind == "photo" else None,
        }


class ChatStore:
    """Messages the bot sent, per chat, with per-chat increasing message ids."""

    def __init__(self):
        self._lock = threading.Lock()
        self._messages: dict[int, dict[int, StoredMessage]] = {}
        self._last_id: dict[int, int] = {}

    def add(self, chat_id: int, **fields) -> StoredMessage:
        with self._lock:
            message_id = self._last_id.get(chat_id, 0) + 1
            self._last_id[chat_id] = message_id
            message = StoredMessage(message_id=message_id, chat_id=chat_id, date=int(time.time()), **fields)
            self._messages.setdefault(chat_id, {})[message_id] = message
            return message

    def get(self, chat_id: int, message_id: int) -> StoredMessage | None:
        with self._lock:
            return self._messages.get(chat_id, {}).get(message_id)

    def edit(self, chat_id: int, message_id: int, change: Callable[[StoredMessage], None]) -> StoredMessage:
        """Applies `change` under the lock; it raises ApiError to refuse the edit."""
        with self._lock:
            message = self._messages.get(chat_id, {}).get(message_id)
            if message is None:
                raise ApiError.bad_request("message to edit not found")
            change(message)
            message.edit_date = int(time.time())
            return message

    def delete(self, chat_id: int, message_id: int) -> None:
        with self._lock:
            if self._messages.get(chat_id, {}).pop(message_id, None) is None:
                raise ApiError.bad_request("message to delete not found")

    def list(self, chat_id: int) -> list[StoredMessage]:
        with self._lock:
            return list(self._messages.get(chat_id, {}).values())


class ReactionStore:
    """The bot's own reactions (setMessageReaction), per chat and message; [] removes them."""

    def __init__(self):
        self._lock = threading.Lock()
        self._reactions: dict[int, dict[int, list[dict]]] = {}

    def set(self, chat_id: int, message_id: int, reactions: list[dict]) -> None:
        with self._lock:
            chat = self._reactions.setdefault(chat_id, {})
            if reactions:
                chat[message_id] = reactions
            else:
                chat.pop(message_id, None)

    def list(self, chat_id: int) -> dict[str, list[dict]]:
        with self._lock:
            return {str(message_id): list(reactions)
                    for message_id, reactions in self._reactions.get(chat_id, {}).items()}


@dataclass
class StoredDraft:
    draft_id: int
    formatted: FormattedText
    raw_text: str | None
    parse_mode: str | None
    message_thread_id: int | None
    can_stop: bool
    keep_on_stop: bool

    def to_control(self) -> dict:
        return {
            "draft_id": self.draft_id, "text": self.formatted.text, "entities": self.formatted.entities,
            "message_thread_id": self.message_thread_id, "raw_text": self.raw_text,
            "parse_mode": self.parse_mode, "can_stop": self.can_stop, "keep_on_stop": self.keep_on_stop,
        }


class DraftStore:
    """The latest sendMessageDraft per (chat_id, draft_id); never expired, kept after sendMessage."""

    def __init__(self):
        self._lock = threading.Lock()
        self._drafts: dict[int, dict[int, StoredDraft]] = {}

    def set(self, chat_id: int, draft: StoredDraft) -> None:
        with self._lock:
            self._drafts.setdefault(chat_id, {})[draft.draft_id] = draft  # keeps its first position

    def list(self, chat_id: int) -> list[StoredDraft]:
        with self._lock:
            return list(self._drafts.get(chat_id, {}).values())


@dataclass
class Webhook:
    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    ip_address: str | None = None
    certificate_sha256: str | None = None

    def info(self, pending: int, allowed_updates: list[str] | None) -> dict:
        info: dict[str, Any] = {
            "url": self.url, "has_custom_certificate": self.certificate_sha256 is not None,
            "pending_update_count": pending,
        }
        if self.url:
            info["max_connections"] = self.max_connections
            if self.ip_address:
                info["ip_address"] = self.ip_address
            if allowed_updates is not None:
                info["allowed_updates"] = allowed_updates
        return info


class UpdateDelivery:
    """The update queue, allowed_updates, the webhook and getUpdates long polls, under one lock."""

    def __init__(self):
        self._cond = threading.Condition()
        self._queue: list[dict] = []
        self._next_id = 1
        self.allowed_updates: list[str] | None = None  # None: never set (the default set applies)
        self.webhook = Webhook()
        self._poll_generation = 0
        self._termination = ""
        self._closed = False

    def push(self, updates: list[dict]) -> tuple[list[int], list[int]]:
        with self._cond:
            ids, dropped = [], []
            for update in updates:
                update = dict(update)
                update_id = update.setdefault("update_id", self._next_id)
                self._next_id = max(self._next_id, update_id + 1)
                ids.append(update_id)
                if self._wanted(update_kind(update)):
                    self._queue.append(update)
                else:
                    dropped.append(update_id)
            self._queue.sort(key=lambda u: u["update_id"])
            self._cond.notify_all()
            return ids, dropped

    def _wanted(self, kind: str) -> bool:
        if not self.allowed_updates:
            return kind not in DEFAULT_EXCLUDED_UPDATES
        return kind in self.allowed_updates

    def set_allowed_updates(self, allowed: list[str] | None) -> None:
        if allowed is not None:  # "If not specified, the previous setting will be used"
            with self._cond:
                self.allowed_updates = allowed

    def poll(self, offset: int, limit: int, timeout: float, allowed: list[str] | None) -> list[dict]:
        with self._cond:
            if self.webhook.url:
                raise ApiError.conflict("can't use getUpdates method while webhook is active; "
                                        "use deleteWebhook to delete the webhook first")
            self.set_allowed_updates(allowed)
            self._terminate_polls("terminated by other getUpdates request; "
                                  "make sure that only one bot instance is running")
            generation = self._poll_generation
            self._confirm(offset)
            deadline = time.monotonic() + timeout
            while True:
                if self._poll_generation != generation:
                    raise ApiError.conflict(self._termination)
                remaining = deadline - time.monotonic()
                if self._queue or remaining <= 0 or self._closed:
                    return [dict(u) for u in self._queue[:limit]]
                self._cond.wait(remaining)

    def _terminate_polls(self, reason: str) -> None:
        self._poll_generation += 1
        self._termination = reason
        self._cond.notify_all()

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._queue = [u for u in self._queue if u["update_id"] >= offset]
        elif offset < 0:
            self._queue = self._queue[offset:]  # the last -offset updates; the rest are forgotten

    def set_webhook(self, webhook: Webhook, allowed: list[str] | None, drop_pending: bool) -> bool:
        """Returns whether anything changed (for "Webhook was set" / "is already set")."""
        with self._cond:
            changed = webhook != self.webhook or (allowed is not None and allowed != self.allowed_updates)
            self.webhook = webhook
            self.set_allowed_updates(allowed)
            if drop_pending:
                self._queue.clear()
            if webhook.url:
                self._terminate_polls("terminated by setWebhook request")
            return changed

    def delete_webhook(self, drop_pending: bool) -> bool:
        with self._cond:
            was_set = bool(self.webhook.url)
            self.webhook = Webhook()
            if drop_pending:
                self._queue.clear()
            return was_set

    def webhook_info(self) -> dict:
        with self._cond:
            return self.webhook.info(len(self._queue), self.allowed_updates)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


def update_kind(update: dict) -> str:
    kinds = [key for key in update if key != "update_id"]
    return kinds[0] if kinds else ""


@dataclass
class FileRecord:
    file_id: str
    file_unique_id: str
    file_path: str
    size: int
    content: bytes | None  # None: metadata only, nothing to download

    def to_api(self) -> dict:
        return {"file_id": self.file_id, "file_unique_id": self.file_unique_id,
                "file_size": self.size, "file_path": self.file_path}


class FileStore:
    def __init__(self):
        self._lock = threading.Lock()
        self._by_id: dict[str, FileRecord] = {}
        self._counter = 0

    def register(self, file_id: str | None, content: bytes | None, size: int, file_path: str | None = None,
                 file_unique_id: str | None = None, prefix: str = "documents") -> FileRecord:
        with self._lock:
            self._counter += 1
            number = self._counter
            record = FileRecord(
                file_id=file_id or f"fake-{prefix}-{number}",
                file_unique_id=file_unique_id or f"fake-unique-{number}",
                file_path=file_path or f"{prefix}/file_{number}",
                size=size, content=content)
            self._by_id[record.file_id] = record
            return record

    def get(self, file_id: str) -> FileRecord | None:
        with self._lock:
            return self._by_id.get(file_id)

    def by_path(self, path: str) -> FileRecord | None:
        with self._lock:
            return next((r for r in self._by_id.values() if r.file_path == path), None)


class CallbackQueries:
    """Callback query ids that may be answered once, within CALLBACK_QUERY_TTL of registration."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._registered: dict[str, float] = {}

    def register(self, query_id: str) -> None:
        with self._lock:
            self._registered[query_id] = self._clock()

    def answer(self, query_id: str) -> None:
        with self._lock:
            registered = self._registered.pop(query_id, None)  # answered queries are gone
        if registered is None or self._clock() - registered > CALLBACK_QUERY_TTL:
            raise ApiError.bad_request("query is too old and response timeout expired or query ID is invalid")


class CommandStore:
    def __init__(self):
        self._lock = threading.Lock()
        self._commands: dict[tuple[str, str], list[dict]] = {}

    @staticmethod
    def _key(scope: dict | None, language_code: str | None) -> tuple[str, str]:
        return json.dumps(scope or {"type": "default"}, sort_keys=True), language_code or ""

    def set(self, scope: dict | None, language_code: str | None, commands: list[dict]) -> None:
        with self._lock:
            self._commands[self._key(scope, language_code)] = commands

    def get(self, scope: dict | None, language_code: str | None) -> list[dict]:
        with self._lock:
            return self._commands.get(self._key(scope, language_code), [])


@dataclass(frozen=True)
class FloodPolicy:
    limit: int
    window: float


class FloodControl:
    """Per-chat sliding window; exceeding it blocks the chat for retry_after seconds."""

    @dataclass
    class _Chat:
        sent: list[float] = field(default_factory=list)
        blocked_until: float = 0.0

    def __init__(self, private: FloodPolicy, group: FloodPolicy, retry_after: int,
                 clock: Callable[[], float] = time.monotonic):
        self.private = private
        self.group = group
        self.retry_after = retry_after
        self._clock = clock
        self._lock = threading.Lock()
        self._chats: dict[int, FloodControl._Chat] = {}

    def admit(self, chat_id: int) -> None:
        """Counts one send/edit, or raises 429."""
        with self._lock:
            now = self._clock()
            chat = self._chats.setdefault(chat_id, self._Chat())
            if chat.blocked_until > now:
                raise ApiError.too_many_requests(math.ceil(chat.blocked_until - now))
            policy = self.group if chat_id < 0 else self.private
            chat.sent = [t for t in chat.sent if t > now - policy.window]
            if len(chat.sent) >= policy.limit:
                chat.blocked_until = now + self.retry_after
                chat.sent.clear()  # the block is the penalty; afterwards the chat starts afresh
                raise ApiError.too_many_requests(self.retry_after)
            chat.sent.append(now)


# --------------------------------------------------------------------------------------
# Call log and scripted failures
# --------------------------------------------------------------------------------------

@dataclass
class CallRecord:
    seq: int
    method: str
    time: float
    params: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)
    status: int | None = None
    ok: bool | None = None
    error: str | None = None
    scripted: bool = False

    def to_json(self) -> dict:
        return {"seq": self.seq, "method": self.method, "params": self.params, "files": self.files,
                "status": self.status, "time": self.time, "ok": self.ok, "error": self.error,
                "scripted": self.scripted}


class CallLog:
    def __init__(self):
        self._lock = threading.Lock()
        self._calls: list[CallRecord] = []

    def start(self, method: str) -> CallRecord:
        with self._lock:
            record = CallRecord(seq=len(self._calls) + 1, method=method, time=time.time())
            self._calls.append(record)
            return record

    def finish(self, record: CallRecord, outcome: Outcome, scripted: bool) -> None:
        with self._lock:
            record.scripted = scripted
            if isinstance(outcome, Late):
                outcome = outcome.reply
            if isinstance(outcome, Reply):
                record.status = outcome.status
                record.ok = 200 <= outcome.status < 300
                if not record.ok:
                    record.error = self._description(outcome)
            else:
                record.ok = False
                record.error = "scripted hang" if isinstance(outcome, Hang) else "scripted close"

    @staticmethod
    def _description(reply: Reply) -> str:
        try:
            return json.loads(reply.body)["description"]
        except (ValueError, KeyError, TypeError):
            return reply.body.decode("utf-8", errors="replace")

    def list(self, method: str | None, since: int) -> list[dict]:
        with self._lock:
            return [c.to_json() for c in self._calls
                    if c.seq > since and (method is None or c.method.lower() == method.lower())]


class ScriptBook:
    """Scripted answers (POST /__fake/script), used in insertion order by matching calls."""

    DESCRIPTIONS = {
        400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
        500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
    }

    @dataclass
    class _Script:
        method: str | None
        chat_id: str | None
        times: int
        respond: dict
        text_contains: str | None = None

    def __init__(self, default_retry_after: int):
        self._lock = threading.Lock()
        self._scripts: list[ScriptBook._Script] = []
        self._default_retry_after = default_retry_after

    def add(self, spec: Any) -> None:
        """Validates a script from the control API; raises ValueError with the reason."""
        if not isinstance(spec, dict):
            raise ValueError("a script must be a JSON object")
        unknown = set(spec) - {"method", "chat_id", "times", "respond", "text_contains"}
        if unknown:
            raise ValueError(f"unknown script fields: {sorted(unknown)}")
        method, chat_id, times = spec.get("method"), spec.get("chat_id"), spec.get("times", 1)
        if method is not None and not isinstance(method, str):
            raise ValueError('"method" must be a string')
        if chat_id is not None and (isinstance(chat_id, bool) or not isinstance(chat_id, (int, str))):
            raise ValueError('"chat_id" must be an integer or a string')
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError('"times" must be a positive integer')
        text_contains = spec.get("text_contains")
        if text_contains is not None and (not isinstance(text_contains, str) or not text_contains):
            raise ValueError('"text_contains" must be a non-empty string')
        respond = spec.get("respond")
        self._check_respond(respond)
        with self._lock:
            self._scripts.append(self._Script(method and method.lower(),
                                              None if chat_id is None else str(chat_id), times, respond, text_contains))

    def clear(self) -> int:
        """Drops every script still waiting; returns how many there were."""
        with self._lock:
            dropped, self._scripts = len(self._scripts), []
        return dropped

    @staticmethod
    def _check_respond(respond: Any) -> None:
        if not isinstance(respond, dict):
            raise ValueError('"respond" must be an object')
        if "hang" in respond or "delay" in respond:
            key = "hang" if "hang" in respond else "delay"
            seconds = respond[key]
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
                raise ValueError(f'"{key}" must be a number of seconds')
        elif "close" in respond:
            if respond["close"] is not True:
                raise ValueError('"close" must be true')
        else:
            status = respond.get("status")
            if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
                raise ValueError('"respond" needs "status" (200-599), "hang" or "close"')
            retry_after = respond.get("retry_after")
            if retry_after is not None and (isinstance(retry_after, bool) or not isinstance(retry_after, int)):
                raise ValueError('"retry_after" must be an integer')
            if "raw" in respond and not isinstance(respond["raw"], str):
                raise ValueError('"raw" must be a string')

    def take(self, method: str, chat_id: Any, text: Any = None) -> Outcome | Delay | None:
        with self._lock:
            for script in self._scripts:
                if script.method not in (None, method.lower()):
                    continue
                if script.text_contains is not None and not (isinstance(text, str) and script.text_contains in text):
                    continue
                if script.chat_id is not None and script.chat_id != (None if chat_id is None else str(chat_id)):
                    continue
                script.times -= 1
                if script.times == 0:
                    self._scripts.remove(script)
                return self._outcome(script.respond)
        return None

    def _outcome(self, respond: dict) -> Outcome | Delay:
        if "hang" in respond:
            return Hang(float(respond["hang"]))
        if "delay" in respond:
            return Delay(float(respond["delay"]))
        if "close" in respond:
            return Drop()
        status = respond["status"]
        if "raw" in respond:
            return Reply(status, respond["raw"].encode(), respond.get("content_type", "text/html"))
        if 200 <= status < 300:
            return Reply.json(status, {"ok": True, "result": respond.get("result", True)})
        if status == 429:
            retry_after = respond.get("retry_after", self._default_retry_after)
            error = ApiError.too_many_requests(retry_after)
            error.parameters = {**error.parameters, **respond.get("parameters", {})}
            if "description" in respond:
                error.description = respond["description"]
        else:
            error = ApiError(status, respond.get("description", self.DESCRIPTIONS.get(status, "Error")),
                             respond.get("parameters"))
        return Reply.json(status, error.body())


# --------------------------------------------------------------------------------------
# The Bot API methods
# --------------------------------------------------------------------------------------

@dataclass
class Options:
    token: str
    flood_private: FloodPolicy
    flood_group: FloodPolicy
    flood_retry_after: int


class BotState:
    """Everything POST /__fake/reset throws away."""

    def __init__(self, options: Options):
        self.chats = ChatStore()
        self.updates = UpdateDelivery()
        self.files = FileStore()
        self.callbacks = CallbackQueries()
        self.commands = CommandStore()
        self.reactions = ReactionStore()
        self.drafts = DraftStore()
        self.flood = FloodControl(options.flood_private, options.flood_group, options.flood_retry_after)
        self.calls = CallLog()
        self.scripts = ScriptBook(options.flood_retry_after)


class BotApi:
    """Answers /bot<token>/<method>: checks in the order listed in the module docstring."""

    def __init__(self, options: Options, state: Callable[[], BotState]):
        self.options = options
        self._state = state
        self.validator = ParamValidator()
        self.formatter = TextFormatter()
        bot_id = options.token.split(":", 1)[0]
        self.bot_user = {"id": int(bot_id) if bot_id.isdigit() else 1, "is_bot": True,
                         "first_name": "Fake Bot", "username": "fake_bot"}
        self.handlers: dict[str, Callable[[BotState, dict, dict], Any]] = {
            "getMe": self.get_me, "setMyCommands": self.set_my_commands, "getMyCommands": self.get_my_commands,
            "sendMessage": self.send_message, "editMessageText": self.edit_message_text,
            "editMessageReplyMarkup": self.edit_message_reply_markup, "deleteMessage": self.delete_message,
            "answerCallbackQuery": self.answer_callback_query, "sendChatAction": self.send_chat_action,
            "sendDocument": self.send_document, "sendPhoto": self.send_photo, "getFile": self.get_file,
            "setWebhook": self.set_webhook, "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info, "getUpdates": self.get_updates,
            "setMessageReaction": self.set_message_reaction, "sendMessageDraft": self.send_message_draft,
        }
        assert set(self.handlers) == set(METHOD_PARAMS)

    def handle(self, token: str, method_name: str, request: DecodedRequest | ApiError) -> Outcome:
        state = self._state()
        method = CANONICAL_METHODS.get(method_name.lower())
        record = state.calls.start(method or method_name)
        outcome, scripted = self._answer(state, record, token, method, request)
        state.calls.finish(record, outcome, scripted)
        return outcome

    def _answer(self, state: BotState, record: CallRecord, token: str, method: str | None,
                request: DecodedRequest | ApiError) -> tuple[Outcome, bool]:
        params, files, error = ({}, {}, request) if isinstance(request, ApiError) else (
            self.validator.validate(method, request) if method else (dict(request.params), {}, None))
        record.params = params
        record.files = {name: upload.describe() for name, upload in files.items()}
        if token != self.options.token:
            return Reply.json(401, ApiError(401, "Unauthorized").body()), False
        if method is None:
            return Reply.json(404, ApiError(404, "Not Found: method not found").body()), False
        scripted = state.scripts.take(method, params.get("chat_id"), params.get("text", params.get("caption")))
        if scripted is not None and not isinstance(scripted, Delay):
            return scripted, True
        reply = self._carry_out(state, method, params, files, error)
        if isinstance(scripted, Delay):
            return Late(reply, scripted.seconds), True
        return reply, False

    def _carry_out(self, state: BotState, method: str, params: dict, files: dict, error: ApiError | None) -> Reply:
        try:
            if error is not None:
                raise error
            result = self.handlers[method](state, params, files)
        except ApiError as failure:
            return Reply.json(failure.status, failure.body())
        body = {"ok": True, "result": result[0], "description": result[1]} if isinstance(result, tuple) \
            else {"ok": True, "result": result}
        return Reply.json(200, body)

    # --- helpers shared by the methods ---

    @staticmethod
    def _chat_id(params: dict) -> int:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise ApiError.bad_request("chat_id is empty")
        if not isinstance(chat_id, int) or chat_id == 0:
            raise ApiError.bad_request("chat not found")  # the fake knows numeric chats only
        return chat_id

    def _edit_target(self, params: dict) -> tuple[int, int] | None:
        """(chat_id, message_id), or None for an inline message (validated, not stored)."""
        if "inline_message_id" in params:
            if "chat_id" in params or "message_id" in params:
                raise ApiError.malformed("inline_message_id can't be used together with chat_id/message_id")
            return None
        chat_id = self._chat_id(params)
        if "message_id" not in params:
            raise ApiError.bad_request('parameter "message_id" is required')
        return chat_id, params["message_id"]

    @staticmethod
    def _reply_target(state: BotState, chat_id: int, reply: dict | None) -> StoredMessage | None:
        if not reply or "message_id" not in reply or reply.get("chat_id", chat_id) != chat_id:
            return None
        target = state.chats.get(chat_id, reply["message_id"])
        if target is None and not reply.get("allow_sending_without_reply"):
            raise ApiError.bad_request("message to be replied not found")
        return target

    @staticmethod
    def _input_file(state: BotState, source: UploadedFile | str, prefix: str) -> FileRecord:
        if isinstance(source, UploadedFile):
            if not source.data:
                raise ApiError.bad_request("file must be non-empty")
            return state.files.register(None, source.data, len(source.data), prefix=prefix)
        known = state.files.get(source)
        if known is not None:
            return known
        if re.match(r"https?://", source):
            return state.files.register(None, None, 0, prefix=prefix)
        raise ApiError.bad_request("wrong file identifier/HTTP URL specified")

    # --- methods ---

    def get_me(self, state, params, files):
        return {**self.bot_user, "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False, "can_connect_to_business": False,
                "has_main_web_app": False, "has_topics_enabled": False}

    def set_my_commands(self, state, params, files):
        if len(params["commands"]) > MAX_COMMANDS:
            raise ApiError.bad_request("BOT_COMMANDS_TOO_MUCH")
        state.commands.set(params.get("scope"), params.get("language_code"), params["commands"])
        return True

    def get_my_commands(self, state, params, files):
        return state.commands.get(params.get("scope"), params.get("language_code"))

    def send_message(self, state, params, files):
        chat_id = self._chat_id(params)
        formatted = self.formatter.message_text(params.get("text"), params.get("parse_mode"), params.get("entities"))
        reply_to = self._reply_target(state, chat_id, params.get("reply_parameters"))
        state.flood.admit(chat_id)
        message = state.chats.add(
            chat_id, kind="text", formatted=formatted, raw_text=params["text"], parse_mode=params.get("parse_mode"),
            reply_markup=params.get("reply_markup"), message_thread_id=params.get("message_thread_id"),
            reply_to=reply_to)
        return message.to_api(self.bot_user)

    def send_message_draft(self, state, params, files):
        chat_id = params["chat_id"]  # an Integer here, no @username
        if chat_id <= 0:
            raise ApiError.bad_request("TEXTDRAFT_PEER_INVALID")  # drafts exist in private chats only
        if params["draft_id"] == 0:
            raise ApiError.bad_request("DRAFT_ID_INVALID")
        formatted = self.formatter.draft_text(params.get("text"), params.get("parse_mode"), params.get("entities"))
        state.flood.admit(chat_id)
        state.drafts.set(chat_id, StoredDraft(
            draft_id=params["draft_id"], formatted=formatted, raw_text=params.get("text"),
            parse_mode=params.get("parse_mode"), message_thread_id=params.get("message_thread_id"),
            can_stop=params.get("can_stop", False), keep_on_stop=params.get("keep_on_stop", False)))
        return True

    def edit_message_text(self, state, params, files):
        target = self._edit_target(params)
        formatted = self.formatter.message_text(params.get("text"), params.get("parse_mode"), params.get("entities"))
        if target is None:
            return True
        chat_id, message_id = target
        markup = params.get("reply_markup")
        state.flood.admit(chat_id)

        def change(message: StoredMessage) -> None:
            if message.kind != "text":
                raise ApiError.bad_request("there is no text in the message to edit")
            if message.formatted == formatted and message.reply_markup == markup:
                raise self._not_modified()
            message.formatted, message.raw_text = formatted, params["text"]
            message.parse_mode, message.reply_markup = params.get("parse_mode"), markup

        return state.chats.edit(chat_id, message_id, change).to_api(self.bot_user)

    def edit_message_reply_markup(self, state, params, files):
        target = self._edit_target(params)
        if target is None:
            return True
        chat_id, message_id = target
        markup = params.get("reply_markup")
        state.flood.admit(chat_id)

        def change(message: StoredMessage) -> None:
            if message.reply_markup == markup:
                raise self._not_modified()
            message.reply_markup = markup

        return state.chats.edit(chat_id, message_id, change).to_api(self.bot_user)

    @staticmethod
    def _not_modified() -> ApiError:
        return ApiError.bad_request(
            "message is not modified: specified new message content and reply markup are exactly the same "
            "as a current content and reply markup of the message")

    def delete_message(self, state, params, files):
        state.chats.delete(self._chat_id(params), params["message_id"])
        return True

    def answer_callback_query(self, state, params, files):
        if len(params.get("text", "")) > MAX_CALLBACK_ANSWER_LENGTH:
            raise ApiError.bad_request("MESSAGE_TOO_LONG")
        state.callbacks.answer(params["callback_query_id"])
        return True

    def set_message_reaction(self, state, params, files):
        chat_id = self._chat_id(params)
        # The message is not looked up: bots react to the user's messages, which the fake never stored.
        if params["message_id"] <= 0:
            raise ApiError.bad_request("message to react not found")
        reactions = params.get("reaction") or []
        for reaction in reactions:
            self._check_reaction(reaction)
        if len(reactions) > MAX_BOT_REACTIONS:
            raise ApiError.bad_request("REACTIONS_TOO_MANY")
        state.reactions.set(chat_id, params["message_id"], reactions)
        return True

    @staticmethod
    def _check_reaction(reaction: dict) -> None:
        if reaction["type"] == "emoji":
            valid = reaction["emoji"] in REACTION_EMOJIS
        elif reaction["type"] == "custom_emoji":
            emoji_id = reaction["custom_emoji_id"]
            valid = re.fullmatch(r"\d{1,19}", emoji_id) is not None and 0 < int(emoji_id) < 2 ** 63
        else:  # "paid": "Paid reactions can't be used by bots."
            valid = False
        if not valid:
            raise ApiError.bad_request("REACTION_INVALID")

    def send_chat_action(self, state, params, files):
        self._chat_id(params)
        if params["action"] not in CHAT_ACTIONS:
            raise ApiError.bad_request("wrong parameter action in request")
        return True

    def send_document(self, state, params, files):
        return self._send_media(state, params, files, "document")

    def send_photo(self, state, params, files):
        return self._send_media(state, params, files, "photo")

    def _send_media(self, state: BotState, params: dict, files: dict, kind: str) -> dict:
        chat_id = self._chat_id(params)
        caption = self.formatter.caption(params.get("caption"), params.get("parse_mode"),
                                         params.get("caption_entities"))
        reply_to = self._reply_target(state, chat_id, params.get("reply_parameters"))
        source = files.get(kind, params.get(kind))
        record = self._input_file(state, source, "documents" if kind == "document" else "photos")
        file_fields = {"file_id": record.file_id, "file_unique_id": record.file_unique_id}
        if record.size:
            file_fields["file_size"] = record.size
        if kind == "document":
            media: Any = dict(file_fields)
            if isinstance(source, UploadedFile):
                media.update(file_name=source.filename, mime_type=source.content_type)
        else:
            media = [{**file_fields, "width": 320, "height": 320}]
        state.flood.admit(chat_id)
        message = state.chats.add(
            chat_id, kind=kind, formatted=caption, raw_text=params.get("caption"), parse_mode=params.get("parse_mode"),
            reply_markup=params.get("reply_markup"), message_thread_id=params.get("message_thread_id"),
            media=media, reply_to=reply_to)
        return message.to_api(self.bot_user)

    def get_file(self, state, params, files):
        record = state.files.get(params["file_id"])
        if record is None:
            raise ApiError.bad_request("invalid file_id")
        if record.size > MAX_DOWNLOAD_SIZE:
            raise ApiError.bad_request("file is too big")
        return record.to_api()

    def set_webhook(self, state, params, files):
        url = params["url"]
        allowed = self._allowed_updates(params)
        if not url:
            was_set = state.updates.delete_webhook(params.get("drop_pending_updates", False))
            return True, "Webhook was deleted" if was_set else "Webhook is already deleted"
        self._check_webhook_url(url)
        secret = params.get("secret_token")
        if secret is not None:
            if len(secret.encode()) > 256:
                raise ApiError.bad_request("secret token is too long")
            if not re.fullmatch(r"[A-Za-z0-9_-]*", secret):
                raise ApiError.bad_request("secret token contains unallowed characters")
        certificate = files.get("certificate")
        webhook = Webhook(
            url=url, secret_token=secret or None,
            max_connections=min(max(params.get("max_connections", 40), 1), 100),
            ip_address=params.get("ip_address"),
            certificate_sha256=certificate.describe()["sha256"] if certificate else None)
        changed = state.updates.set_webhook(webhook, allowed, params.get("drop_pending_updates", False))
        return True, "Webhook was set" if changed else "Webhook is already set"

    @staticmethod
    def _check_webhook_url(url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            raise ApiError.bad_request("invalid webhook URL specified")
        if parts.scheme == "http" and parts.hostname == "127.0.0.1":
            return  # the local Bot API server relaxation: plain HTTP to this machine
        if parts.scheme != "https" or not parts.hostname:
            raise ApiError.bad_request("invalid webhook URL specified")
        if (port or 443) not in WEBHOOK_PORTS:
            raise ApiError.bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")

    @staticmethod
    def _allowed_updates(params: dict) -> list[str] | None:
        allowed = params.get("allowed_updates")
        for kind in allowed or []:
            if kind not in UPDATE_TYPES:
                raise ApiError.malformed(f'unknown update type "{kind}" in allowed_updates')
        return allowed

    def delete_webhook(self, state, params, files):
        was_set = state.updates.delete_webhook(params.get("drop_pending_updates", False))
        return True, "Webhook was deleted" if was_set else "Webhook is already deleted"

    def get_webhook_info(self, state, params, files):
        return state.updates.webhook_info()

    def get_updates(self, state, params, files):
        allowed = self._allowed_updates(params)
        limit = min(max(params.get("limit", 100), 1), 100)
        timeout = min(max(params.get("timeout", 0), 0), MAX_LONG_POLL_TIMEOUT)
        return state.updates.poll(params.get("offset", 0), limit, timeout, allowed)


# --------------------------------------------------------------------------------------
# Control API (/__fake/...) and file downloads
# --------------------------------------------------------------------------------------

class ControlError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class ControlApi:
    def __init__(self, app: "FakeBotApiApp"):
        self.app = app

    def handle(self, http_method: str, path: str, query: str, body: bytes) -> Reply:
        try:
            return Reply.json(200, self._route(http_method, path, urllib.parse.parse_qs(query), body))
        except ControlError as error:
            return Reply.json(error.status, {"error": str(error)})

    def _route(self, http_method: str, path: str, query: dict, body: bytes) -> dict:
        state = self.app.state
        chat_path = re.fullmatch(r"/__fake/chats/(-?\d+)/(messages|reactions|drafts)", path)
        if chat_path:
            self._expect(http_method, "GET")
            chat_id, what = int(chat_path.group(1)), chat_path.group(2)
            if what == "reactions":
                return {"reactions": state.reactions.list(chat_id)}
            if what == "drafts":
                return {"drafts": [d.to_control() for d in state.drafts.list(chat_id)]}
            return {"messages": [m.to_control() for m in state.chats.list(chat_id)]}
        routes = {
            "/__fake/calls": ("GET", self.calls), "/__fake/script": ("POST", self.script),
            "/__fake/script/clear": ("POST", self.clear_scripts),
            "/__fake/updates": ("POST", self.updates), "/__fake/files": ("POST", self.files),
            "/__fake/callback_queries": ("POST", self.callback_queries),
            "/__fake/reset": ("POST", self.reset), "/__fake/webhook": ("POST", self.webhook),
        }
        if path not in routes:
            raise ControlError(404, f"unknown control endpoint {path}")
        expected, handler = routes[path]
        self._expect(http_method, expected)
        return handler(state, query if expected == "GET" else self._json(body))

    @staticmethod
    def _expect(http_method: str, expected: str) -> None:
        if http_method != expected:
            raise ControlError(405, f"use {expected}")

    @staticmethod
    def _json(body: bytes) -> dict:
        try:
            value = json.loads(body or b"{}")
        except ValueError:
            raise ControlError(400, "the body must be JSON")
        if not isinstance(value, dict):
            raise ControlError(400, "the body must be a JSON object")
        return value

    def calls(self, state: BotState, query: dict) -> dict:
        since = query.get("since", ["0"])[0]
        if not re.fullmatch(r"\d+", since):
            raise ControlError(400, "since must be a sequence number")
        return {"calls": state.calls.list(query.get("method", [None])[0], int(since))}

    def script(self, state: BotState, body: dict) -> dict:
        try:
            state.scripts.add(body)
        except ValueError as error:
            raise ControlError(400, str(error))
        return {"ok": True}

    def clear_scripts(self, state: BotState, body: dict) -> dict:
        return {"ok": True, "dropped": state.scripts.clear()}

    def updates(self, state: BotState, body: dict) -> dict:
        updates = body.get("updates")
        if not isinstance(updates, list) or not all(isinstance(u, dict) and update_kind(u) for u in updates):
            raise ControlError(400, '"updates" must be a list of update objects with one kind each')
        for update in updates:
            update_id = update.get("update_id")
            if update_id is not None and (isinstance(update_id, bool) or not isinstance(update_id, int)):
                raise ControlError(400, "update_id must be an integer")
        ids, dropped = state.updates.push(updates)
        for update in updates:  # a queued callback query is answerable, as if just pressed
            callback = update.get("callback_query")
            if isinstance(callback, dict) and isinstance(callback.get("id"), str):
                state.callbacks.register(callback["id"])
        return {"update_ids": ids, "dropped": dropped}

    def files(self, state: BotState, body: dict) -> dict:
        file_id = body.get("file_id")
        if not isinstance(file_id, str) or not file_id:
            raise ControlError(400, '"file_id" must be a non-empty string')
        if "content_base64" in body:
            try:
                content = base64.b64decode(body["content_base64"], validate=True)
            except (binascii.Error, TypeError, ValueError):
                raise ControlError(400, '"content_base64" is not valid base64')
            size = len(content)
        elif isinstance(body.get("size"), int) and not isinstance(body.get("size"), bool) and body["size"] >= 0:
            content, size = None, body["size"]
        else:
            raise ControlError(400, 'give "content_base64" or a "size"')
        for key in ("file_path", "file_unique_id"):
            if key in body and not isinstance(body[key], str):
                raise ControlError(400, f'"{key}" must be a string')
        record = state.files.register(file_id, content, size, body.get("file_path"), body.get("file_unique_id"))
        return {"file": record.to_api()}

    def callback_queries(self, state: BotState, body: dict) -> dict:
        if not isinstance(body.get("id"), str) or not body["id"]:
            raise ControlError(400, '"id" must be a non-empty string')
        state.callbacks.register(body["id"])
        return {"ok": True}

    def reset(self, state: BotState, body: dict) -> dict:
        self.app.reset()
        return {"ok": True}

    def webhook(self, state: BotState, body: dict) -> dict:
        url = body.get("url")
        if not isinstance(url, str):
            raise ControlError(400, '"url" must be a string')
        if url:
            state.updates.set_webhook(Webhook(url=url), None, drop_pending=False)
        else:
            state.updates.delete_webhook(drop_pending=False)
        return {"ok": True, "webhook": state.updates.webhook_info()}


class FakeBotApiApp:
    """Routes a request to the Bot API, the control API or the file downloads."""

    BOT_PATH = re.compile(r"/bot([^/]*)/([^/]*)")
    FILE_PATH = re.compile(r"/file/bot([^/]*)/(.+)")

    def __init__(self, options: Options):
        self.options = options
        self._state_lock = threading.Lock()
        self.state = BotState(options)
        self.stopping = threading.Event()
        self.decoder = RequestDecoder()
        self.bot_api = BotApi(options, lambda: self.state)
        self.control = ControlApi(self)

    def reset(self) -> None:
        with self._state_lock:
            old, self.state = self.state, BotState(self.options)
        old.updates.close()  # waiting long polls answer now instead of watching a dead queue

    def shutdown(self) -> None:
        self.stopping.set()
        self.state.updates.close()

    def route(self, http_method: str, target: str, headers, body: bytes) -> Outcome:
        parts = urllib.parse.urlsplit(target)
        path = urllib.parse.unquote(parts.path)
        if path.startswith("/__fake/"):
            return self.control.handle(http_method, path, parts.query, body)
        download = self.FILE_PATH.fullmatch(path)
        if download and http_method == "GET":
            return self._download(*download.groups())
        bot = self.BOT_PATH.fullmatch(path)
        if bot and http_method in ("GET", "POST"):
            try:
                request: DecodedRequest | ApiError = self.decoder.decode(
                    parts.query, headers.get("Content-Type"), body)
            except ApiError as error:
                request = error
            return self.bot_api.handle(bot.group(1), bot.group(2), request)
        return Reply.json(404, ApiError(404, "Not Found").body())

    def _download(self, token: str, file_path: str) -> Reply:
        record = self.state.files.by_path(file_path) if token == self.options.token else None
        if record is None or record.content is None:
            return Reply.json(404, ApiError(404, "Not Found").body())
        return Reply(200, record.content, "application/octet-stream")


# --------------------------------------------------------------------------------------
# HTTP server
# --------------------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeTelegramBotAPI/1.0"
    # A response goes out as two writes (head, body); with Nagle on, the body waits for the
    # client's delayed ACK of the head: ~44 ms added to every keep-alive request.
    disable_nagle_algorithm = True
    timeout = 120  # idle keep-alive connections are closed after this

    server: LoopbackServer

    def do_GET(self):
        self._serve()

    def do_POST(self):
        self._serve()

    def _serve(self) -> None:
        started = time.monotonic()
        try:
            body = BodyReader(self.rfile, self.headers).read()
        except BodyError as error:
            self.close_connection = True  # the rest of the body is still on the wire
            status = error.status
            self._write(Reply.json(status, {"ok": False, "error_code": status, "description": error.description}))
        else:
            try:
                outcome = self.server.app.route(self.command, self.path, self.headers, body)
            except Exception as error:  # a bug in the fake: say so loudly instead of dropping the connection
                log.exception("internal error")
                outcome = Reply.json(500, ApiError(500, f"Internal Server Error: fake bug: {error!r}").body())
            status = outcome.status if isinstance(outcome, Reply) else \
                outcome.reply.status if isinstance(outcome, Late) else type(outcome).__name__.lower()
            self._deliver(outcome)
        log.info("%s %s -> %s (%.1f ms)", self.command, self._masked_path(), status,
                 (time.monotonic() - started) * 1000)

    def _deliver(self, outcome: Outcome) -> None:
        if isinstance(outcome, Late):
            self.server.app.stopping.wait(outcome.seconds)
            self._write(outcome.reply)
        elif isinstance(outcome, Hang):
            self.server.app.stopping.wait(outcome.seconds)
            self.close_connection = True
        elif isinstance(outcome, Drop):
            self.close_connection = True
        else:
            self._write(outcome)

    def _write(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(reply.body)

    def _masked_path(self) -> str:
        return self.path.replace(self.server.app.options.token, "<token>")

    def log_message(self, format: str, *args) -> None:
        log.debug("%s - %s", self.address_string(), format % args)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Fake Telegram Bot API server for tests (binds 127.0.0.1).")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one")
    parser.add_argument("--token", required=True, help="the only accepted bot token, e.g. 123456:ABC")
    parser.add_argument("--flood-chat-limit", type=int, default=20)
    parser.add_argument("--flood-chat-window", type=float, default=10.0)
    parser.add_argument("--flood-group-limit", type=int, default=20)
    parser.add_argument("--flood-group-window", type=float, default=60.0)
    parser.add_argument("--flood-retry-after", type=int, default=3)
    parser.add_argument("--no-stdin-watch", action="store_true",
                        help="do not exit when stdin reaches EOF (for running by hand)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="fake_bot_api %(asctime)s %(levelname)s %(message)s")
    options = Options(
        token=args.token,
        flood_private=FloodPolicy(args.flood_chat_limit, args.flood_chat_window),
        flood_group=FloodPolicy(args.flood_group_limit, args.flood_group_window),
        flood_retry_after=args.flood_retry_after)
    app = FakeBotApiApp(options)
    server = LoopbackServer(args.port, Handler, app)
    return serve(server, NAME, watch_input=not args.no_stdin_watch, on_stop=app.shutdown)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
