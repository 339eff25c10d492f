"""channel states, 1C heartbeats and report deliveries instead of the controls table

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 12:38:50.569030

The ``controls`` key/value rows move into typed tables, so that a paused channel stays paused, an open circuit
stays open, 1C's last word and a sent daily report are still known after the upgrade:

    channel:paused:<channel>          -> channel_states.paused_by / paused_at ("" was a resumed channel)
    channel:sync_requested:<channel>  -> channel_states.sync_requested_by / _at
    sync:circuit_until:<channel>      -> channel_states.circuit_until (the value is an ISO timestamp)
    sync:failures:<channel>           -> channel_states.failures_in_a_row
    shipping:failures:<carrier>       -> channel_states.failures_in_a_row of the carrier's name
    sync:reconciled:<channel>         -> channel_states.reconciled / reconciled_at
    onec:last_update                  -> onec_heartbeats (the value is the source: "stock")
    report:daily:<YYYY-MM-DD>         -> report_deliveries ("sending:<owner>", "sent" or "failed")

Rows of any other name were written by nothing and are dropped with the table.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

import storage.schema

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

_controls = sa.table(
    'controls', sa.column('name', sa.String()), sa.column('value', sa.String()),
    sa.column('at', storage.schema.UtcDateTime()),
)
_channel_states = sa.table(
    'channel_states', sa.column('name', sa.String()), sa.column('paused_by', sa.String()),
    sa.column('paused_at', storage.schema.UtcDateTime()), sa.column('circuit_until', storage.schema.UtcDateTime()),
    sa.column('failures_in_a_row', sa.Integer()), sa.column('sync_requested_at', storage.schema.UtcDateTime()),
    sa.column('sync_requested_by', sa.String()), sa.column('reconciled_at', storage.schema.UtcDateTime()),
    sa.column('reconciled', sa.Text()),
)
_heartbeats = sa.table('onec_heartbeats', sa.column('source', sa.String()), sa.column('at', storage.schema.UtcDateTime()))
_deliveries = sa.table(
    'report_deliveries', sa.column('day', sa.Date()), sa.column('state', sa.String()),
    sa.column('owner', sa.String()), sa.column('at', storage.schema.UtcDateTime()),
)
_STATE_COLUMNS = ('paused_by', 'paused_at', 'circuit_until', 'failures_in_a_row', 'sync_requested_at',
                  'sync_requested_by', 'reconciled_at', 'reconciled')
_EMPTY_STATE: dict[str, Any] = {**dict.fromkeys(_STATE_COLUMNS), 'failures_in_a_row': 0}


def upgrade() -> None:
    op.create_table('channel_states',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('paused_by', sa.String(length=255), nullable=True),
    sa.Column('paused_at', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('circuit_until', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('failures_in_a_row', sa.Integer(), nullable=False),
    sa.Column('sync_requested_at', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('sync_requested_by', sa.String(length=255), nullable=True),
    sa.Column('reconciled_at', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('reconciled', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_channel_states'))
    )
    op.create_table('onec_heartbeats',
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('source', name=op.f('pk_onec_heartbeats'))
    )
    op.create_table('report_deliveries',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('owner', sa.String(length=255), nullable=True),
    sa.Column('at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_report_deliveries'))
    )
    _move_controls_out()
    op.drop_table('controls')


def downgrade() -> None:
    op.create_table('controls',
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.Column('at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_controls'))
    )
    _move_controls_back()
    op.drop_table('report_deliveries')
    op.drop_table('onec_heartbeats')
    op.drop_table('channel_states')


# -- upgrade: controls rows into the typed tables ------------------------------------------------------------------

def _move_controls_out() -> None:
    connection = op.get_bind()
    states: dict[str, dict[str, Any]] = {}
    heartbeats: list[dict[str, Any]] = []
    deliveries: list[dict[str, Any]] = []
    for name, value, at in connection.execute(sa.select(_controls.c.name, _controls.c.value, _controls.c.at)):
        if name == 'onec:last_update':
            heartbeats.append({'source': (value or 'stock')[:64], 'at': at})
        elif name.startswith('report:daily:'):
            deliveries.extend(_delivery(name.removeprefix('report:daily:'), value, at))
        else:
            _channel_state(states, name, value, at)
    rows = [{'name': name, **_EMPTY_STATE, **values} for name, values in sorted(states.items())]
    for table, found in ((_channel_states, rows), (_heartbeats, heartbeats), (_deliveries, deliveries)):
        if found:
            op.bulk_insert(table, found)


_CHANNEL_PREFIXES = ('channel:paused:', 'channel:sync_requested:', 'sync:circuit_until:', 'sync:failures:',
                     'shipping:failures:', 'sync:reconciled:')


def _channel_state(states: dict[str, dict[str, Any]], name: str, value: str, at: datetime) -> None:
    """Fold one controls row of a channel (or the carrier) into its state."""
    prefix = next((p for p in _CHANNEL_PREFIXES if name.startswith(p)), None)
    if prefix is None:
        return
    if prefix == 'channel:paused:':
        values = {'paused_by': value, 'paused_at': at} if value else {}
    elif prefix == 'channel:sync_requested:':
        values = {'sync_requested_by': value, 'sync_requested_at': at}
    elif prefix == 'sync:circuit_until:':
        until = _timestamp(value)
        values = {'circuit_until': until} if until is not None else {}
    elif prefix == 'sync:reconciled:':
        values = {'reconciled': value, 'reconciled_at': at}
    else:  # failures in a row of a channel or of the carrier
        values = {'failures_in_a_row': int(value)} if value.isdigit() and int(value) else {}
    if values:
        states.setdefault(name.removeprefix(prefix), {}).update(values)


def _timestamp(value: str) -> datetime | None:
    try:
        found = datetime.fromisoformat(value)
    except ValueError:
        return None
    return found if found.tzinfo is not None else None


def _delivery(day: str, value: str, at: datetime) -> list[dict[str, Any]]:
    try:
        when = date.fromisoformat(day)
    except ValueError:
        return []
    state, _, owner = value.partition(':')
    return [{'day': when, 'state': state[:16], 'owner': owner or None, 'at': at}]


# -- downgrade: back into controls rows (failures in a row start again from 0) ------------------------------------

def _move_controls_back() -> None:
    connection = op.get_bind()
    rows: list[dict[str, Any]] = []
    for state in connection.execute(sa.select(_channel_states)).mappings():
        rows.extend(_controls_of(state))
    heard = connection.execute(sa.select(_heartbeats).order_by(_heartbeats.c.at.desc()).limit(1)).first()
    if heard is not None:  # 1C's sources become its one newest heartbeat
        rows.append({'name': 'onec:last_update', 'value': heard.source, 'at': heard.at})
    for day, state, owner, at in connection.execute(sa.select(_deliveries)):
        value = f'{state}:{owner}' if state == 'sending' and owner else state
        rows.append({'name': f'report:daily:{day.isoformat()}', 'value': value[:255], 'at': at})
    if rows:
        op.bulk_insert(_controls, rows)


def _controls_of(state: Any) -> list[dict[str, Any]]:
    name, rows = state['name'], []
    if state['paused_by'] is not None:
        rows.append({'name': f'channel:paused:{name}', 'value': state['paused_by'], 'at': state['paused_at']})
    if state['sync_requested_at'] is not None:
        rows.append({'name': f'channel:sync_requested:{name}', 'value': state['sync_requested_by'] or '',
                     'at': state['sync_requested_at']})
    if state['circuit_until'] is not None:
        until = state['circuit_until']
        rows.append({'name': f'sync:circuit_until:{name}', 'value': until.isoformat(), 'at': until})
    if state['reconciled_at'] is not None:
        rows.append({'name': f'sync:reconciled:{name}', 'value': (state['reconciled'] or '')[:255],
                     'at': state['reconciled_at']})
    return rows
