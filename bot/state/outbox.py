"""The outbox: every queued (paper, profile, destination), from queued to delivered or dead.

    pending --mark_sending--> sending --mark_sent--> sent
                                  |----mark_failed---> failed  (transient: retried after backoff)
                                  '----mark_failed---> dead    (permanent: bad token, SMTP 550)
    failed/dead --retry--> pending                             (`digestbot retry`)
    merged                                                     (written so, never sent: below)

One paper, one post per place. A paper that several profiles match for the same channel or
mailbox (the same *place*: `Notifier.place`) on one digest day is queued ONCE (`share`): the
row of the profile that scored it best (on a tie, the first profile) delivers it, with the
reason "also matches: <the other profiles' names>" first among its reasons; the other
profiles' rows are written `merged`, naming that row. They are never due, never retried, and
count as whatever their delivering row is (sent once it is sent); the unique key (paper,
profile, destination) still makes a paper reach a destination at most once. Every match of a
paper is scored in the run that first stores the paper, so the grouping is complete there, in
the same transaction as the rows: a crash cannot leave half of it.

Rows are written `sending` (and committed) before a channel is asked, so a crash between "the
channel accepted" and "marked sent" leaves rows in `sending`: the next run hands them back as a
*recovering* delivery, and the pipeline asks the channel whether it already has them (Slack:
the delivery key in message metadata) before sending again.

One message may carry several deliveries: email's `group: recipient` sends a recipient's
digests of one day (one delivery per profile) as one email. Their rows are marked `sending`,
`sent` or failed together, in one transaction each time (the `*_parts` methods), so a crash
leaves all of them `sending` or none, and the next run groups exactly those again into the
same email.

A delivery's `key` names its exact set of papers, so the recovering attempt looks for exactly
what the crashed attempt sent. Rows belong to the state file's one connection (store.py); the
outbox has no transactions of its own beyond the small ones each method runs.

Several workers (a PostgreSQL state) share the outbox by claims. `claim` hands a worker one
*unit*: every due row of one place (channel or mailbox) and digest day, so whatever one message
carries (a Delivery, or a recipient's grouped email) is in one worker's hands. It is taken in
one transaction: the unit's rows are locked `FOR UPDATE SKIP LOCKED`, then written
`claimed_by` = the worker, `lease_until` = now + the lease. A live lease keeps every other
worker off the rows, whatever their status; a `sending` row whose lease ran out was left by a
dead worker, and is handed out as *recovering*, so the crash recovery above runs. `mark_*`
change only rows the calling worker still holds (or rows nobody ever claimed): a worker whose
lease ran out and was taken over writes nothing, and `mark_sending` tells it not to send. The
unique key still makes a paper reach a destination at most once. On SQLite the same code runs
for the one worker the lock lets in; a lease there keeps nothing back (a row claimed by anyone
else was claimed by a process that is gone).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from bot.models import FOLLOWED_REASON, Delivery, Match, Paper
from bot.state.backend import Db

BACKOFF_START = timedelta(minutes=5)
BACKOFF_MAX = timedelta(hours=6)
# How long a claimed unit stays a worker's own without a word from it: one message's send with
# its retries (an SMTP or Slack call times out after `http.timeout`, retried a few times, and a
# rate-limited Slack post waits its Retry-After) fits many times over; a lease is renewed when
# each message of the unit is marked sending. Past it, a dead worker's unit goes to another
# worker. `delivery_lease` in bot.yaml sets it.
DEFAULT_LEASE = timedelta(minutes=10)
CANDIDATE_UNITS = 16  # units looked at per claim: workers racing skip each other's

PaperFromRow = Callable[[tuple[object, ...]], Paper]
# A delivery and the ids of those of its papers a change applies to.
Part = tuple[Delivery, Iterable[str]]


class Queued(NamedTuple):
    """One match to queue for one destination (a row of `deliveries`)."""

    match: Match
    destination: str
    profile_name: str
    day: date
    candidates: int
    # (profile id, destination) of the row that delivers this paper, when not this one
    merged_into: tuple[str, str] | None = None


class Delivered(NamedTuple):
    """A paper a profile's digest delivered on a day, as the outbox recorded it (web page)."""

    profile_id: str
    profile_name: str
    score: float
    why: tuple[str, ...]
    destinations: tuple[str, ...]
    paper: Paper


def share(queued: Sequence[Queued], place: Callable[[str], str]) -> list[Queued]:
    """`queued` (in profile order) with each paper queued once per digest day and place: the
    best-scored row of a group delivers it, "also matches: ..." first among its reasons; the
    others are merged into it. Pure: `place` maps a destination to where it lands."""
    groups: dict[tuple[date, str, str], list[int]] = {}
    for i, q in enumerate(queued):
        groups.setdefault((q.day, place(q.destination), q.match.paper.id), []).append(i)
    out = list(queued)
    for members in groups.values():
        if len(members) < 2:
            continue
        first = min(members, key=lambda i: (-queued[i].match.score, i))
        owner = queued[first]
        others = [
            queued[i].profile_name
            for i in members
            if queued[i].match.profile_id != owner.match.profile_id
        ]
        if others:
            also = "also matches: " + ", ".join(dict.fromkeys(others))
            match = replace(owner.match, why=(also, *owner.match.why))
            out[first] = owner._replace(match=match)
        for i in members:
            if i != first:
                out[i] = queued[i]._replace(merged_into=(owner.match.profile_id, owner.destination))
    return out


def messages(
    due: Sequence[Delivery], place: Callable[[Delivery], str | None]
) -> list[tuple[Delivery, ...]]:
    """`due` as the messages that carry it: each delivery alone, unless `place` names where it
    lands (its channel sends a place's digests of a day as one message: email's `group:
    recipient`); those go one message per place, digest day and recovery state, in `due`'s
    order (profile order). Recovering deliveries stay apart so that a crashed message is sent
    again as it was (the same parts, the same Message-ID). Pure."""
    groups: dict[object, list[Delivery]] = {}
    for n, delivery in enumerate(due):
        where = place(delivery)
        key: object = n if where is None else (where, delivery.digest_day, delivery.recovering)
        groups.setdefault(key, []).append(delivery)
    return [tuple(group) for group in groups.values()]


def backoff(attempts: int) -> timedelta:
    """How long a delivery that failed `attempts` times waits: 5 min, 10, 20... up to 6 h."""
    wait: timedelta = BACKOFF_START * 2 ** max(0, attempts - 1)
    return min(BACKOFF_MAX, wait)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds")


def _stamp(when: datetime) -> str:
    """A claim's times (claimed_at, lease_until): leases may be short, so to the microsecond."""
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def _due(now: datetime, respect_backoff: bool) -> tuple[str, list[object]]:
    """The WHERE clause (on `deliveries d`) of the rows due now, and its parameters: left
    `sending` by a crash, pending, or failed with the next attempt due (every failed row when
    `respect_backoff` is off)."""
    if respect_backoff:
        clause = " OR (d.status = 'failed' AND d.next_attempt_at <= ?)"
        return f"d.status IN ('pending', 'sending'){clause}", [_iso(now)]
    return "d.status IN ('pending', 'sending') OR d.status = 'failed'", []


class Outbox:
    """Queries and state changes of the `deliveries` table."""

    def __init__(
        self,
        db: Db,
        transaction: Callable[[], AbstractContextManager[None]],
        paper_columns: str,
        paper_from_row: PaperFromRow,
    ) -> None:
        self._db = db
        self._transaction = transaction
        self._paper_columns = paper_columns
        self._paper_from_row = paper_from_row
        self.worker = "local"  # who claims: the Store's worker id
        self.lease = DEFAULT_LEASE
        # The units (digest day, place) a run has yet to try, read once per run (`claim`).
        self._units: deque[tuple[str, str, str]] = deque()
        self._units_since: datetime | None = None

    def due(self, now: datetime, *, respect_backoff: bool = True) -> list[Delivery]:
        """What to deliver now: rows left `sending` by a crash (as recovering deliveries),
        pending rows, and failed rows whose next attempt is due (all of them when
        `respect_backoff` is off: a manual run retries at once). One Delivery per profile,
        destination, digest day and state; oldest day first; matches best first."""
        clause, params = _due(now, respect_backoff)
        rows = self._db.execute(
            f"""SELECT d.profile_id, d.destination, d.profile_name, d.digest_day, d.candidates,
                       d.score, d.why, d.status = 'sending', {self._paper_columns}
                FROM deliveries d JOIN papers p ON p.id = d.paper_id
                WHERE {clause}
                ORDER BY d.digest_day, d.profile_id, d.destination, d.status = 'sending' DESC,
                         d.score DESC, d.paper_id""",
            params,
        )
        return self._deliveries(rows)

    def _deliveries(self, rows: Iterable[Any]) -> list[Delivery]:
        groups: dict[tuple[str, str, str, bool], list[tuple[Match, str, int]]] = {}
        for profile_id, dest, name, day, candidates, score, why, sending, *paper in rows:
            reasons = tuple(json.loads(why))
            followed = bool(reasons) and reasons[0].startswith(FOLLOWED_REASON)
            match = Match(self._paper_from_row(tuple(paper)), profile_id, score, reasons, followed)
            key = (profile_id, dest, day, bool(sending))
            groups.setdefault(key, []).append((match, name, candidates))
        return [
            Delivery(
                profile_id=profile_id,
                profile_name=items[0][1],
                destination=dest,
                digest_day=date.fromisoformat(day),
                matches=tuple(m for m, _, _ in items),
                candidates=max(c for _, _, c in items),
                recovering=sending,
            )
            for (profile_id, dest, day, sending), items in groups.items()
        ]

    def claim(
        self,
        now: datetime,
        place: Callable[[str], str],
        *,
        since: datetime,
        respect_backoff: bool = True,
    ) -> list[Delivery]:
        """Claim the next unit of work for this worker: the due rows (as `due` says) of one
        place and digest day that no other worker holds, or [] when none is left. Rows this
        worker claimed at or after `since` (its run's start) are not handed out again, so a
        run ends. `place` maps a destination to where it lands (`App.place`): each row's place
        is worked out once and kept in the row, so a claim is one indexed query, however many
        thousands of places are due (an institution's mailboxes)."""
        shared = self._db.dialect.shared
        free = " AND (d.lease_until IS NULL OR d.lease_until < ?)" if shared else ""
        due, params = _due(now, respect_backoff)
        where = f"({due}) AND NOT (COALESCE(d.claimed_by, '') = ? AND d.claimed_at >= ?){free}"
        params += [self.worker, _stamp(since)] + ([_stamp(now)] if shared else [])
        if self._units_since != since:  # a new run: its own list of units
            self._units, self._units_since = deque(), since
        while True:
            if not self._units:
                # The units due now, read once and then claimed one by one (looked at again
                # when the list runs out: what other workers left, or queued meanwhile).
                self._fill_places(place)
                self._units.extend(
                    self._db.execute(
                        f"""SELECT d.digest_day, d.place, MIN(d.profile_id) FROM deliveries d
                            WHERE {where} GROUP BY d.digest_day, d.place ORDER BY 1, 3, 2""",
                        params,
                    ).fetchall()
                )
                if not self._units:
                    return []
            while self._units:
                day, unit, _ = self._units.popleft()
                with self._transaction():
                    # One claimer of a unit at a time, so a message is never split between
                    # two workers; a unit another worker is claiming now is passed over.
                    if not self._db.serialise(f"outbox:{unit}:{day}", wait=False):
                        continue
                    claimed = self._claim_unit(day, unit, where, params, now)
                if claimed:
                    return claimed
            # Every unit of the list was taken by others meanwhile: look again.

    def _fill_places(self, place: Callable[[str], str]) -> None:
        """Write the place of every row that has none yet (queued since the last claim), each
        row by its primary key: by destination, each UPDATE read the whole table (no index
        leads with it), 48 s for an institution's 40,000 rows (bench/scale.py)."""
        missing = self._db.execute(
            "SELECT paper_id, profile_id, destination FROM deliveries WHERE place IS NULL"
        ).fetchall()
        if missing:
            places: dict[str, str] = {}
            for _, _, d in missing:
                if d not in places:
                    places[d] = place(d)
            with self._transaction():
                self._db.executemany(
                    """UPDATE deliveries SET place = ?
                       WHERE paper_id = ? AND profile_id = ? AND destination = ?
                         AND place IS NULL""",
                    [(places[d], paper, profile, d) for paper, profile, d in missing],
                )

    def _claim_unit(
        self,
        day: str,
        unit: str,
        where: str,
        params: Sequence[object],
        now: datetime,
    ) -> list[Delivery]:
        rows = self._db.execute(
            f"""SELECT d.profile_id, d.destination, d.profile_name, d.digest_day, d.candidates,
                       d.score, d.why, d.status = 'sending', {self._paper_columns}
                FROM deliveries d JOIN papers p ON p.id = d.paper_id
                WHERE d.digest_day = ? AND d.place = ? AND {where}
                ORDER BY d.digest_day, d.profile_id, d.destination, d.status = 'sending' DESC,
                         d.score DESC, d.paper_id{self._db.dialect.skip_locked}""",
            [day, unit, *params],
        ).fetchall()
        if self._db.dialect.skip_locked:
            # SKIP LOCKED passes over a row another transaction holds for a moment (a worker
            # writing places, marking its own rows): the unit is taken whole or not at all, so
            # a message is never split between two workers; a passed-over unit is due again at
            # the next look.
            (due,) = self._db.execute(
                "SELECT COUNT(*) FROM deliveries d JOIN papers p ON p.id = d.paper_id"
                f" WHERE d.digest_day = ? AND d.place = ? AND {where}",
                [day, unit, *params],
            ).fetchone()
            if due != len(rows):
                return []
        self._db.executemany(
            "UPDATE deliveries SET claimed_by = ?, claimed_at = ?, lease_until = ?"
            " WHERE paper_id = ? AND profile_id = ? AND destination = ?",
            [
                (self.worker, _stamp(now), _stamp(now + self.lease), row[8], row[0], row[1])
                for row in rows
            ],
        )
        return self._deliveries(rows)

    def release(self, deliveries: Iterable[Delivery]) -> None:
        """Give back claimed rows this worker will not deliver (a stop): due again at once for
        any worker."""
        parts = [(d, [m.paper.id for m in d.matches]) for d in deliveries]
        self._update(parts, "lease_until = NULL", ())

    def mark_sending(self, *deliveries: Delivery) -> bool:
        """Commit that the channel is about to be asked (the crash trace): every row of
        `deliveries` (the digests one message carries), in one transaction, with a fresh
        lease for the send. False, and nothing written, when another worker took any of them
        over (this worker's lease ran out): then the message must not be sent."""
        parts = [(d, [m.paper.id for m in d.matches]) for d in deliveries]
        until = _stamp(datetime.now(UTC) + self.lease)
        try:
            with self._transaction():
                changed = self._update_held(parts, "status = 'sending', lease_until = ?", (until,))
                if changed < sum(len(ids) for _, ids in parts):
                    raise _Lost
        except _Lost:
            return False
        return True

    def mark_sent(self, delivery: Delivery, paper_ids: Iterable[str]) -> None:
        self.mark_sent_parts([(delivery, paper_ids)])

    def mark_sent_parts(self, parts: Sequence[Part]) -> None:
        """The rows of `parts` are delivered, in one transaction."""
        self._update(
            parts,
            "status = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL,"
            " next_attempt_at = NULL, lease_until = NULL",
            (_iso(datetime.now(UTC)),),
        )

    def mark_failed(
        self,
        delivery: Delivery,
        paper_ids: Iterable[str],
        error: str,
        *,
        permanent: bool,
        now: datetime | None = None,
        wait_at_least: float | None = None,
    ) -> None:
        """`dead` if `permanent`, else `failed` until the backoff has passed (and at least
        `wait_at_least` seconds: what a rate-limiting destination asked for)."""
        self.mark_failed_parts(
            [(delivery, paper_ids)],
            error,
            permanent=permanent,
            now=now,
            wait_at_least=wait_at_least,
        )

    def mark_failed_parts(
        self,
        parts: Sequence[Part],
        error: str,
        *,
        permanent: bool,
        now: datetime | None = None,
        wait_at_least: float | None = None,
    ) -> None:
        """`mark_failed` for the rows of `parts`, in one transaction."""
        now = now or datetime.now(UTC)
        if permanent:
            self._update(
                parts,
                "status = 'dead', attempts = attempts + 1, last_error = ?, next_attempt_at = NULL,"
                " lease_until = NULL",
                (error,),
            )
            return
        asked = timedelta(seconds=wait_at_least or 0)
        with self._transaction():
            updates: list[tuple[object, ...]] = []
            for delivery, paper_ids in parts:
                # One query per part and one batch of updates (a mail relay that is down fails
                # every message of an institution's run: a round trip per row added up).
                ids = list(dict.fromkeys(paper_ids))
                marks = ", ".join("?" * len(ids))
                attempts = dict(
                    self._db.execute(
                        "SELECT paper_id, attempts FROM deliveries WHERE profile_id = ?"
                        f" AND destination = ? AND paper_id IN ({marks})",
                        (delivery.profile_id, delivery.destination, *ids),
                    ).fetchall()
                )
                for pid in ids:
                    tries = attempts[pid] + 1
                    when = _iso(now + max(backoff(tries), asked))
                    key = (pid, delivery.profile_id, delivery.destination)
                    updates.append((tries, error, when, *key, self.worker))
            self._db.executemany(
                "UPDATE deliveries SET status = 'failed', attempts = ?, last_error = ?,"
                " next_attempt_at = ?, lease_until = NULL WHERE paper_id = ?"
                f" AND profile_id = ? AND destination = ? AND {_HELD}",
                updates,
            )

    def retry(self, destination: str | None = None) -> int:
        """Put failed and dead rows (of one destination, or all) back to pending."""
        where = "status IN ('failed', 'dead')" + (" AND destination = ?" if destination else "")
        with self._transaction():
            cursor = self._db.execute(
                f"UPDATE deliveries SET status = 'pending', next_attempt_at = NULL WHERE {where}",
                (destination,) if destination else (),
            )
        return cursor.rowcount

    def delivering(self, paper_ids: Sequence[str]) -> list[tuple[str, str, str]]:
        """(paper, profile id, destination) of the rows that deliver (or delivered) these
        papers: every row but the merged ones."""
        found: list[tuple[str, str, str]] = []
        for i in range(0, len(paper_ids), 500):  # stay under SQLite's bound-parameter limit
            chunk = list(paper_ids[i : i + 500])
            marks = ",".join("?" * len(chunk))
            found.extend(
                self._db.execute(
                    "SELECT paper_id, profile_id, destination FROM deliveries"
                    f" WHERE paper_id IN ({marks}) AND status != 'merged'"
                    " ORDER BY paper_id, profile_id, destination",
                    chunk,
                )
            )
        return found

    def posted_to(self, paper_id: str, profile_id: str) -> list[str]:
        """The destinations a channel accepted (or is accepting) `paper_id` at for the profile:
        its `sent` and `sending` rows. What a vote button's claim is checked against."""
        rows = self._db.execute(
            "SELECT destination FROM deliveries WHERE paper_id = ? AND profile_id = ?"
            " AND status IN ('sent', 'sending') ORDER BY destination",
            (paper_id, profile_id),
        )
        return [dest for (dest,) in rows]

    def digest_days(self) -> list[date]:
        """Every digest day with a delivered (or delivering) paper, newest first."""
        rows = self._db.execute(
            "SELECT DISTINCT digest_day FROM deliveries"
            " WHERE status IN ('sent', 'sending', 'merged') ORDER BY 1 DESC"
        )
        return [date.fromisoformat(day) for (day,) in rows]

    def delivered(self, day: date) -> list[Delivered]:
        """The papers delivered (or being delivered) on digest day `day`, per profile, best
        score first: one entry per (profile, paper), its destinations gathered."""
        rows = self._db.execute(
            f"""SELECT d.profile_id, d.profile_name, d.score, d.why,
                       group_concat(d.destination, ' '), {self._paper_columns}
                FROM deliveries d JOIN papers p ON p.id = d.paper_id
                WHERE d.digest_day = ? AND d.status IN ('sent', 'sending', 'merged')
                GROUP BY d.profile_id, d.paper_id
                ORDER BY d.profile_id, d.score DESC, d.paper_id""",
            (day.isoformat(),),
        )
        return [
            Delivered(
                str(profile_id),
                str(name),
                float(score),
                tuple(json.loads(why)),
                tuple(sorted(str(dests).split(" "))),
                self._paper_from_row(tuple(paper)),
            )
            for profile_id, name, score, why, dests, *paper in rows
        ]

    def destinations(self) -> list[str]:
        """Every destination the outbox has rows for, sorted."""
        rows = self._db.execute("SELECT DISTINCT destination FROM deliveries ORDER BY 1")
        return [dest for (dest,) in rows]

    def counts(self) -> dict[tuple[str, str], int]:
        """(destination, status) -> number of papers; a merged row counts with the status of
        the row that delivers its paper, and again under "merged"."""
        rows = self._db.execute(
            """SELECT d.destination, COALESCE(o.status, d.status), count(*)
               FROM deliveries d LEFT JOIN deliveries o ON d.status = 'merged'
                    AND o.paper_id = d.paper_id AND o.profile_id = d.merged_profile
                    AND o.destination = d.merged_destination
               GROUP BY 1, 2
               UNION ALL
               SELECT destination, 'merged', count(*) FROM deliveries
               WHERE status = 'merged' GROUP BY 1"""
        )
        return {(dest, status): n for dest, status, n in rows}

    def last_errors(self) -> dict[str, tuple[str, str | None]]:
        """Destination -> (latest error, next attempt time) of rows not delivered."""
        rows = self._db.execute(
            "SELECT destination, last_error, next_attempt_at FROM deliveries"
            " WHERE status IN ('failed', 'dead') AND last_error IS NOT NULL"
            f" ORDER BY {self._db.dialect.row_order}"
        )
        return {dest: (err, nxt) for dest, err, nxt in rows}

    def _update(self, parts: Sequence[Part], assignments: str, values: tuple[object, ...]) -> None:
        with self._transaction():
            self._update_held(parts, assignments, values)

    def _update_held(
        self, parts: Sequence[Part], assignments: str, values: tuple[object, ...]
    ) -> int:
        """Change the rows of `parts` this worker holds (or nobody ever claimed); how many."""
        return self._db.executemany(  # its rowcount: the rows of every statement
            f"UPDATE deliveries SET {assignments}"
            f" WHERE paper_id = ? AND profile_id = ? AND destination = ? AND {_HELD}",
            [
                (*values, pid, delivery.profile_id, delivery.destination, self.worker)
                for delivery, paper_ids in parts
                for pid in paper_ids
            ],
        ).rowcount


# A row this worker may change: its own claim, or one nobody claimed (written before claims
# existed, or by a caller that reads `due` without claiming).
_HELD = "(claimed_by IS NULL OR claimed_by = ?)"


class _Lost(Exception):
    """Another worker holds a row of the message: leave the transaction without writing."""
