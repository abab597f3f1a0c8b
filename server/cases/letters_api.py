"""Letters over HTTP: a file's letters, drafting one, the letters waiting for someone, a letter
(read, moved on, its issued PDF), and the templates with a preview of each against a sample file.
Every read of a letter is audited, as a read of its file is. Case staff only (the permission
table); who may make each move is ``rules/letters.py``'s to say.
"""

from __future__ import annotations

import time
from typing import Annotated

import msgspec
from msgspec import Meta
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from server.access.roles import Principal, Role
from server.cases.letters import LetterDesk, LetterMoveIn, TemplateProblem
from server.cases.rules.letters import KIND_TITLES, LetterKind, LetterMove, LetterState, move
from server.cases.rules.stages import Refused
from server.context import context
from server.http.endpoints import Endpoint, answer, error
from server.http.inputs import read_json, read_query
from server.records.letters import LetterConflict, LetterRow, NoSuchLetter

__all__ = [
    "DraftIn",
    "LetterList",
    "LetterPage",
    "TemplateInfo",
    "Templates",
    "WaitingQuery",
    "draft",
    "endpoints",
    "file_letters",
    "letter_pdf",
    "move_letter",
    "preview",
    "read_letter",
    "templates",
    "waiting",
]

_MAX_BODY = 80 * 1024
_HTML = "text/html"


class DraftIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: LetterKind


class LetterList(msgspec.Struct):
    letters: list[LetterRow]


class LetterPage(msgspec.Struct):
    letter: LetterRow
    html: str  # the letter as it will be (or was) sent
    may: list[str]  # the moves this person may make now


class WaitingQuery(msgspec.Struct, forbid_unknown_fields=True):
    state: Annotated[str, Meta(max_length=20)] = ""  # "" : what waits for me


class TemplateInfo(msgspec.Struct):
    kind: str
    title: str
    overridden: bool


class Templates(msgspec.Struct):
    templates: list[TemplateInfo]
    override_dir: str


def _listed(letter: LetterRow) -> LetterRow:
    """A letter as a list shows it: without its text (reading the letter itself is audited)."""
    return msgspec.structs.replace(letter, body="")


def _desk(request: Request) -> LetterDesk:
    return context(request).part(LetterDesk)


async def _may(desk: LetterDesk, who: Principal, letter: LetterRow) -> list[str]:
    acting = False
    if who.role is Role.CASE_COORDINATOR:
        acting = bool(await desk.cases.delegated_by(who.user, int(time.time() * 1000)))
    out = []
    author = who.user if letter.author == "clock" else letter.author
    for m in LetterMove:
        try:
            move(
                m,
                LetterState(letter.state),
                who.role,
                who.user,
                author,
                acting_for_lead=acting,
                hands=frozenset(letter.hands),
            )
        except Refused:
            continue
        out.append(m.value)
    return out


async def file_letters(request: Request, who: Principal | None) -> Response:
    number = request.path_params["file"]
    assert who is not None
    desk = _desk(request)
    if await desk.cases.version(number) is None:
        return error(404, f"no file {number}")
    await context(request).store.audit(who.user, "case.letters.view", number)
    return answer(LetterList([_listed(x) for x in await desk.records.of_file(number)]))


async def draft(request: Request, who: Principal | None) -> Response:
    assert who is not None
    number = request.path_params["file"]
    ask = await read_json(request, DraftIn, 1024)
    desk = _desk(request)
    try:
        letter = await desk.draft(who, number, ask.kind)
    except LookupError:
        return error(404, f"no file {number}")
    except (Refused, TemplateProblem) as exc:
        return error(422, str(exc.message if isinstance(exc, Refused) else exc))
    return answer(LetterPage(letter, await desk.page(letter), await _may(desk, who, letter)), 201)


async def waiting(request: Request, who: Principal | None) -> Response:
    """What waits for this person: for the team lead, letters submitted for approval; for a
    coordinator, their drafts and returned letters and the drafts the clocks made on their files."""
    assert who is not None
    ask = read_query(request, WaitingQuery)
    desk = _desk(request)
    if ask.state:
        if ask.state not in ("draft", "submitted", "returned", "issued"):
            return error(400, "state is one of draft, submitted, returned, issued")
        rows = await desk.records.waiting((ask.state,))
    elif who.role is Role.TEAM_LEAD:
        rows = await desk.records.waiting(("submitted",))
    else:
        rows = await desk.records.waiting(("draft", "returned"), author=who.user)
    return answer(LetterList([_listed(x) for x in rows]))


async def read_letter(request: Request, who: Principal | None) -> Response:
    assert who is not None
    letter_id = int(request.path_params["id"])
    desk = _desk(request)
    letter = await desk.records.letter(letter_id)
    if letter is None or letter.state == "disposed":
        return error(404, f"no letter {letter_id}")
    await context(request).store.audit(who.user, "case.letter.view", letter.file_number, f"letter={letter_id}")
    return answer(LetterPage(letter, await desk.page(letter), await _may(desk, who, letter)))


async def move_letter(request: Request, who: Principal | None) -> Response:
    assert who is not None
    letter_id = int(request.path_params["id"])
    ask = await read_json(request, LetterMoveIn, _MAX_BODY)
    desk = _desk(request)
    try:
        letter = await desk.move(who, letter_id, ask)
    except (LookupError, NoSuchLetter):
        return error(404, f"no letter {letter_id}")
    except LetterConflict as exc:
        return error(
            409,
            f"{exc.changed_by} changed this letter while you had it open (now version {exc.version}). Nothing of"
            " yours was saved: reload it, then make your change again.",
        )
    except Refused as exc:
        return error(422, exc.message)
    except TemplateProblem as exc:
        return error(422, str(exc))
    return answer(LetterPage(letter, await desk.page(letter), await _may(desk, who, letter)))


async def letter_pdf(request: Request, who: Principal | None) -> Response:
    """An issued letter's PDF, as it was issued (audited)."""
    assert who is not None
    letter_id = int(request.path_params["id"])
    desk = _desk(request)
    found = await desk.records.pdf(letter_id)
    letter = await desk.records.letter(letter_id)
    if found is None or letter is None:
        return error(404, f"no issued letter {letter_id}")
    number, digest, body = found
    await context(request).store.audit(who.user, "case.letter.pdf", letter.file_number, f"letter={letter_id}")
    return Response(
        body,
        media_type="application/pdf",
        headers={"X-Content-SHA256": digest, "Content-Disposition": f'inline; filename="{number}.pdf"'},
    )


async def templates(request: Request, who: Principal | None) -> Response:
    desk = _desk(request)
    return answer(
        Templates(
            [TemplateInfo(k.value, KIND_TITLES[k], desk.templates.overridden(k)) for k in LetterKind],
            str(desk.templates.overrides or ""),
        )
    )


async def preview(request: Request, who: Principal | None) -> Response:
    """The letter of a kind for the sample file, from the template in use (an operator's override
    if there is one): an unknown field or bad syntax is a 422 naming it."""
    kind = request.path_params["kind"]
    if kind not in {k.value for k in LetterKind}:
        return error(404, f"no letter kind {kind}")
    try:
        return HTMLResponse(_desk(request).templates.preview(LetterKind(kind)))
    except TemplateProblem as exc:
        return error(422, str(exc))


def endpoints() -> list[Endpoint]:
    tag, fid, lid = "letters", {"file": "PC-2026-00001"}, {"id": 1}
    kind = {"kind": "acknowledgement"}
    return [
        Endpoint(
            "GET", "/api/cases/letters", waiting, "Letters waiting for me", tag, {200: LetterList}, query=WaitingQuery
        ),
        Endpoint("GET", "/api/cases/letter-templates", templates, "The letter templates in use", tag, {200: Templates}),
        Endpoint(
            "GET",
            "/api/cases/letter-templates/{kind}/preview",
            preview,
            "Preview a letter template against a sample file",
            tag,
            {200: None},
            examples=kind,
            media=_HTML,
        ),
        Endpoint(
            "GET",
            "/api/cases/letters/{id:rowid}",
            read_letter,
            "Read a letter (audited)",
            tag,
            {200: LetterPage},
            examples=lid,
        ),
        Endpoint(
            "POST",
            "/api/cases/letters/{id:rowid}",
            move_letter,
            "Edit, submit, return or approve a letter",
            tag,
            {200: LetterPage},
            body=LetterMoveIn,
            examples=lid,
            max_body=_MAX_BODY,
        ),
        Endpoint(
            "GET",
            "/api/cases/letters/{id:rowid}/pdf",
            letter_pdf,
            "An issued letter's PDF (audited)",
            tag,
            {200: None},
            examples=lid,
            media="application/pdf",
        ),
        Endpoint(
            "GET", "/api/cases/{file}/letters", file_letters, "A file's letters", tag, {200: LetterList}, examples=fid
        ),
        Endpoint(
            "POST",
            "/api/cases/{file}/letters",
            draft,
            "Draft a letter from its template",
            tag,
            {201: LetterPage},
            body=DraftIn,
            examples=fid,
            max_body=1024,
        ),
    ]
