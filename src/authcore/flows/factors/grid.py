"""GRID: challenge random cells of the user's grid card."""

from __future__ import annotations

from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from authcore.flows.factors.base import Answer, Effect, FactorContext, Started, StartInput
from authcore.store.hot import queries as hq
from authcore.store.hot.queries import GridCardRow
from authcore.v1 import authentication_pb2 as authn
from authcore.v1 import authenticators_pb2 as common
from authcore.verify.grid import (
    DEFAULT_ALPHABET,
    GridCard,
    GridCell,
    generate_grid_challenge,
    verify_grid_response,
)


def cells_aad(card_id: str) -> bytes:
    return f"grid_card:{card_id}".encode()


async def active_cards(ctx: FactorContext) -> list[GridCardRow]:
    pk, now = ctx.user.pk, ctx.now
    return await ctx.once("grid", lambda: hq.active_grid_cards(ctx.core.hot, pk, now))


class GridFactor:
    name = "GRID"

    async def available(self, ctx: FactorContext) -> bool:
        return bool(await active_cards(ctx))

    async def start(self, ctx: FactorContext, inp: StartInput) -> Started:
        cards = await active_cards(ctx)
        # Ask only cells every active card has, so any of them can answer.
        rows = min(c.rows for c in cards)
        columns = min(c.columns for c in cards)
        cells = generate_grid_challenge(
            rows=rows, columns=columns,
            num_cells=min(ctx.policy.grid_challenge_cells, rows * columns),
        )
        challenge = common.GridChallenge(
            challenge=[common.GridChallengeCell(row=c.row, column=c.column) for c in cells],
            num_chars_per_cell=cards[0].chars_per_cell,
            cell_alphabets=DEFAULT_ALPHABET,
        )
        for card in cards:
            info = challenge.grid_info.add(serial_number=card.serial_number)
            if card.expires_at is not None:
                info.expiry_date.CopyFrom(Timestamp(seconds=int(card.expires_at)))
        return Started(
            state={"cells": [[c.row, c.column] for c in cells]},
            response=authn.AuthenticatedResponse(grid_challenge=challenge),
        )

    async def finish(
        self, ctx: FactorContext, state: dict[str, Any], answer: Answer
    ) -> Effect | None:
        sealer = ctx.core.sealer
        cards = [
            GridCard.from_json(sealer.open(row.sealed_cells, aad=cells_aad(row.id)).decode())
            for row in await active_cards(ctx)
        ]
        cells = [GridCell(row=r, column=c) for r, c in state["cells"]]
        verify_grid_response(cards=cards, challenge=cells, response=answer.response or "")
        return None
