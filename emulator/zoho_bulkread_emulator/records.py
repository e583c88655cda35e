"""Deterministic, lazily generated records of the synthetic org.

A record is a pure function of (seed, product, module, index): nothing is stored for it, so a
module of a million records costs no memory. Mutations (new and updated records) are kept as a
small overlay. Python's hash of a tuple of ints is not salted, so ``hash((...))`` is a fast,
repeatable mixer across processes.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from zoho_bulkread_emulator.org import CONVERTIBLE_MODULES, USERS, Field, Module, Org

MASK = (1 << 63) - 1
ID_BASE = 4_876_543_000_000_000_000
ID_STEP = 7
MODULE_ID_SPAN = 10**11
EPOCH_START = int(datetime(2019, 1, 6, tzinfo=timezone.utc).timestamp())
EPOCH_END = int(datetime(2025, 10, 1, tzinfo=timezone.utc).timestamp())
LAYOUT_ID = "4876543000000091055"
IMPORTED_PERCENT = 8
SAME_SECOND_PERCENT = 3
CONVERTED_PERCENT = 10  # leads converted before the emulated org's data ends
PENDING_PERCENT = 2  # records awaiting approval
APPROVED, PENDING = "Approved", "Pending"

WORDS = (
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Hooli",
    "Vandelay",
    "Wonka",
)
TEXT_VARIANTS = (
    "{w}",
    "{w} Ltd",
    "{w}, Inc.",
    'The "{w}" Company',
    "{w} & Sons",
    "Zoë {w} Café",
)
MULTILINE_VARIANTS = (
    "Met at the {w} booth.\nFollow up next week, bring the price list.",
    'Called twice, said "not now".\r\nTry again in Q3, ask for {w}.',
    "Single line note about {w}",
    "Address:\n12 {w} Road\nSuite 4, Floor 2",
    "Needs: CRM, billing; support\n\n(blank line above)",
)
TAGS = ("VIP", "Hot", "Renewal 2024", "Partner", "Do not call")
_MISSING = object()
REMINDERS = ("5 mins before", "15 mins before", "1 hour before", "1 day before")


def _stable_key(text: str) -> int:
    return zlib.crc32(text.encode())


@dataclass
class Deletion:
    """A deleted record: when, and whether it sits in the recycle bin or was purged."""

    time: int
    kind: str  # "recycle" or "permanent"


@dataclass(frozen=True)
class Conversion:
    """A converted lead: when, and the ids of the records its conversion made or used."""

    time: int
    contact: str | None
    account: str | None
    deal: str | None = None


@dataclass
class Overlay:
    """What mutations changed: appended, updated, deleted, converted and held records."""

    created_times: dict[int, int] = field(default_factory=dict)
    modified_times: dict[int, int] = field(default_factory=dict)
    values: dict[tuple[int, str], Any] = field(default_factory=dict)
    appended: int = 0
    deleted: dict[int, Deletion] = field(default_factory=dict)
    conversions: dict[int, Conversion] = field(default_factory=dict)
    approvals: dict[int, str] = field(default_factory=dict)


class ModuleData:
    """The records of one module: ids, times and field values by record index."""

    def __init__(
        self,
        dataset: Dataset,
        product: str,
        module: Module,
        module_number: int,
        count: int,
    ) -> None:
        self.dataset = dataset
        self.product = product
        self.module = module
        self.base_count = count
        self.id_base = ID_BASE + module_number * MODULE_ID_SPAN
        self.seed_key = hash((dataset.seed, module_number))
        self.overlay = Overlay()
        self._readers: dict[str, Callable[[int], Any]] = {}

    @property
    def count(self) -> int:
        """Number of record indices now, appended and deleted ones included."""
        return self.base_count + self.overlay.appended

    def live_indices(self) -> Iterable[int]:
        """The indices of the records not deleted, in id order."""
        deleted = self.overlay.deleted
        if not deleted:
            return range(self.count)
        return (index for index in range(self.count) if index not in deleted)

    def id_of(self, index: int) -> str:
        """The 19-digit record id of the record at ``index``."""
        return str(self.id_base + index * ID_STEP)

    def index_of(self, record_id: str) -> int | None:
        """The index of the record with ``record_id``, or None if it does not exist."""
        try:
            offset = int(record_id) - self.id_base
        except ValueError:
            return None
        index, remainder = divmod(offset, ID_STEP)
        if remainder or not 0 <= index < self.count:
            return None
        return index

    def _hash(self, index: int, key: int) -> int:
        return hash((self.seed_key, index, key)) & MASK

    def _normal_created(self, index: int) -> int:
        span = EPOCH_END - EPOCH_START
        return EPOCH_START + span * index // max(self.base_count, 1) + self._hash(index, 1) % 3600

    def created_time(self, index: int) -> int:
        """Created_Time of a record, in epoch seconds."""
        if index >= self.base_count:
            return self.overlay.created_times[index]
        roll = self._hash(index, 2) % 100
        normal = self._normal_created(index)
        if index > 10 and roll < IMPORTED_PERCENT:
            # Imported data: older than records with smaller ids.
            oldest = EPOCH_START + 86400
            return oldest + self._hash(index, 3) % max(normal - oldest - 30 * 86400, 1)
        if index > 0 and roll < IMPORTED_PERCENT + SAME_SECOND_PERCENT:
            return self._normal_created(index - 1)
        return normal

    def modified_time(self, index: int) -> int:
        """Modified_Time of a record, in epoch seconds."""
        override = self.overlay.modified_times.get(index)
        if override is not None:
            return override
        created = self.created_time(index)
        if index >= self.base_count:
            return created
        window = max(min(400 * 86400, EPOCH_END - created), 1)
        return created + self._hash(index, 4) % window

    def conversion(self, index: int) -> Conversion | None:
        """How a lead was converted, or None: a tenth of the generated leads are."""
        found = self.overlay.conversions.get(index)
        if found is not None or index >= self.base_count:
            return found
        if self.module.api_name not in CONVERTIBLE_MODULES:
            return None
        h = self._hash(index, 5)
        if h % 100 >= CONVERTED_PERCENT:
            return None

        def some(module: str, bits: int) -> str | None:
            target = self.dataset.get(self.product, module)
            if target is None or target.base_count == 0:
                return None
            return target.id_of((h >> bits) % target.base_count)

        deal = some("Deals", 24) if (h >> 8) & 1 else None
        contact, account = some("Contacts", 10), some("Accounts", 40)
        return Conversion(self.modified_time(index), contact, account, deal)

    def approval(self, index: int) -> str:
        """``Record_Approval_Status``: a few generated records await approval."""
        found = self.overlay.approvals.get(index)
        if found is not None:
            return found
        if index >= self.base_count or self.module.is_child:
            return APPROVED
        return PENDING if self._hash(index, 6) % 100 < PENDING_PERCENT else APPROVED

    def _state_reader(self, name: str) -> Callable[[int], Any] | None:
        """The reader of a record state column (conversion, approval, lock), or None."""
        conversion = self.conversion
        readers: dict[str, Callable[[int], Any]] = {
            "$converted": lambda i: conversion(i) is not None,
            "Converted__s": lambda i: conversion(i) is not None,
            "Converted_Date_Time": lambda i: getattr(conversion(i), "time", None),
            "Converted_Contact": lambda i: getattr(conversion(i), "contact", None),
            "Converted_Account": lambda i: getattr(conversion(i), "account", None),
            "Converted_Deal": lambda i: getattr(conversion(i), "deal", None),
            "Record_Approval_Status": self.approval,
            "Locked__s": lambda i: self.approval(i) != APPROVED,
            "Change_Log_Time__s": self.modified_time,
        }
        if self.module.is_child or self.module.get(name) is not None:
            return None
        return readers.get(name)

    def value(self, index: int, item: Field) -> Any:
        """The value of one field of one record (None for an empty value).

        Datetimes are epoch seconds, dates ``date``, decimals ``Decimal``,
        multi-selects and tags lists, lookups the target's id.
        """
        return self.reader(item)(index)

    def reader(self, item: Field) -> Callable[[int], Any]:
        """A fast function from record index to the value of ``item`` (built once per field)."""
        name = item.api_name
        cached = self._readers.get(name)
        if cached is not None:
            return cached
        base: Callable[[int], Any]
        if name == "Created_Time":
            base = self.created_time
        elif name == "Modified_Time":
            base = self.modified_time
        elif (state := self._state_reader(name)) is not None:
            base = state
        else:
            make = self._maker(item)
            seed_key, key, optional = self.seed_key, _stable_key(name), not item.required
            filled = item.filled

            def base(index: int) -> Any:
                h = hash((seed_key, index, key)) & MASK
                if filled is not None:
                    return make(index, h) if (h >> 40) % 100 < filled else None
                if optional and (h >> 48) % 10 == 0:
                    return None
                return make(index, h)

        overrides = self.overlay.values

        def read(index: int) -> Any:
            if overrides:
                value = overrides.get((index, name), _MISSING)
                if value is not _MISSING:
                    return value
            return base(index)

        self._readers[name] = read
        return read

    def _maker(self, item: Field) -> Callable[[int, int], Any]:  # noqa: C901, PLR0912
        """The generator of one field's values from (record index, record hash)."""
        data_type = item.value_type
        words = WORDS
        if item.api_name == "Tag":
            return lambda i, h: [TAGS[(h >> 8) % 5], TAGS[(h >> 16) % 5]][: (h >> 4) % 3] or None
        if data_type == "text":
            if item.api_name in ("Last_Name", "Name"):
                return lambda i, h: f"{words[h % 12]}-{i}"
            return lambda i, h: TEXT_VARIANTS[(h >> 8) % 6].format(w=words[h % 12])
        if data_type == "textarea" and item.api_name == "Long_Notes":  # about 4 KB a note
            return lambda i, h: "\n".join(
                [MULTILINE_VARIANTS[(h >> 8) % 5].format(w=words[h % 12])] * 60
            )
        if data_type == "textarea":
            return lambda i, h: MULTILINE_VARIANTS[(h >> 8) % 5].format(w=words[h % 12])
        if data_type == "email":
            return lambda i, h: f"{words[h % 12].lower()}.{i}@example.com"
        if data_type == "phone":
            return lambda i, h: f"+1-555-{(h >> 8) % 10000:04d}"
        if data_type == "website":
            return lambda i, h: f"https://www.{words[h % 12].lower()}{i % 97}.example.com"
        if data_type == "picklist":
            choices = item.pick_list
            return lambda i, h: choices[(h >> 8) % len(choices)]
        if data_type == "multiselectpicklist":
            options = tuple(enumerate(item.pick_list, start=8))
            return lambda i, h: [v for bit, v in options if (h >> bit) & 1] or None
        if data_type == "integer":
            return lambda i, h: (h >> 8) % 100_000
        if data_type == "bigint":
            return lambda i, h: str(10**17 + (h >> 8) % (9 * 10**17))
        if data_type == "percent":
            return lambda i, h: Decimal((h >> 8) % 101)
        if data_type in ("double", "currency", "rollup_summary", "decimal"):
            places = item.decimal_place if item.decimal_place is not None else 2
            scale = Decimal(1).scaleb(-places)
            # 9 places: up to 14 digits before the point as well, 23 significant digits in
            # all, beyond what a float holds (a loader passing numbers through float shows)
            if places > 4:
                modulus = 10 ** (places + 14)  # h holds ~56 bits (17 digits): spread it wider
                return lambda i, h: Decimal((h >> 8) * 1_000_003 % modulus) * scale
            return lambda i, h: Decimal((h >> 8) % 10_000_000) * scale
        if data_type == "boolean":
            return lambda i, h: bool((h >> 8) & 1)
        if data_type == "date":
            first = date(2018, 1, 1)
            return lambda i, h: first + timedelta(days=(h >> 8) % 3000)
        if data_type == "datetime":
            return lambda i, h: EPOCH_START + (h >> 8) % (EPOCH_END - EPOCH_START)
        if data_type in ("ownerlookup", "userlookup"):
            user_ids = tuple(user.id for user in USERS)
            return lambda i, h: user_ids[(h >> 8) % len(user_ids)]
        if data_type == "lookup":
            return self._lookup_maker(item)
        if data_type == "autonumber":
            prefix = self.module.api_name[:3].upper()
            return lambda i, h: f"{prefix}-{i + 1:07d}"
        if data_type in ("fileupload", "imageupload", "profileimage"):
            return lambda i, h: f"{words[h % 12].lower()}_{i}.png"
        if data_type == "event_reminder":
            return lambda i, h: REMINDERS[(h >> 8) % len(REMINDERS)]
        # multiselectlookup, multiuserlookup, subform and anything unknown: not exported.
        return lambda i, h: None

    def _lookup_maker(self, item: Field) -> Callable[[int, int], Any]:
        if item.lookup_module == "Layouts":
            return lambda i, h: LAYOUT_ID
        target = self.dataset.get(self.product, item.lookup_module or "")
        if target is None or target.base_count == 0:
            return lambda i, h: None
        id_of, count = target.id_of, target.base_count
        return lambda i, h: id_of((h >> 8) % count)


class Dataset:
    """All modules' records, for both products, from one seed."""

    def __init__(self, org: Org, seed: int, counts: dict[tuple[str, str], int]) -> None:
        self.org = org
        self.seed = seed
        self.lock = threading.Lock()
        self.modules: dict[tuple[str, str], ModuleData] = {}
        number = 0
        for product in ("crm", "bigin"):
            for name, module in org.modules[product].items():
                number += 1
                count = counts.get((product, name), module.default_records)
                self.modules[(product, name)] = ModuleData(self, product, module, number, count)

    def get(self, product: str, module: str) -> ModuleData | None:
        """The records of ``module`` of ``product``, or None if there is no such module."""
        return self.modules.get((product, module))

    def mutate(
        self,
        product: str,
        module: str,
        *,
        create: int = 0,
        update: int = 0,
        seconds_ago: float = 0,
    ) -> dict[str, list[str]]:
        """Append ``create`` new records and touch ``update`` existing ones, stamped now.

        Returns the ids created and updated. ``seconds_ago`` dates the change that long before
        now.
        """
        data = self.modules[(product, module)]
        now = int(time.time() - seconds_ago)
        created: list[str] = []
        updated: list[str] = []
        with self.lock:
            for _ in range(create):
                index = data.count
                data.overlay.created_times[index] = now
                data.overlay.modified_times[index] = now
                data.overlay.appended += 1
                created.append(data.id_of(index))
            text_field = next(
                (f for f in data.module.fields if f.data_type == "text" and not f.required), None
            )
            existing = data.base_count
            for step in range(min(update, existing)):
                index = (hash((self.seed, now, step)) & MASK) % existing
                data.overlay.modified_times[index] = now
                if text_field is not None:
                    data.overlay.values[(index, text_field.api_name)] = f"Updated {now}"
                updated.append(data.id_of(index))
            self._touch_parents(product, data, [data.index_of(i) for i in created + updated], now)
        return {"created": created, "updated": updated}

    def _touch_parents(
        self, product: str, data: ModuleData, indices: list[int | None], now: int
    ) -> None:
        """Subform rows are written through their parent record (Kaizen #31): it is modified."""
        parent_field = data.module.get("Parent_Id")
        if data.module.generated_type != "subform" or parent_field is None:
            return
        parent = self.modules.get((product, parent_field.lookup_module or ""))
        if parent is None:
            return
        parent_of = data.reader(parent_field)
        for index in indices:
            parent_index = parent.index_of(str(parent_of(index))) if index is not None else None
            if parent_index is not None:
                parent.overlay.modified_times[parent_index] = max(
                    now, parent.modified_time(parent_index)
                )

    def delete(
        self,
        product: str,
        module: str,
        *,
        count: int = 0,
        purge: bool = False,
        seconds_ago: float = 0,
    ) -> list[str]:
        """Move ``count`` live records to the recycle bin; ``purge`` empties the bin for good.

        Returns the ids deleted now (purged ones are not listed). ``seconds_ago`` dates the
        deletion that long before now.
        """
        data = self.modules[(product, module)]
        now = int(time.time() - seconds_ago)
        deleted: list[str] = []
        with self.lock:
            if purge:
                for entry in data.overlay.deleted.values():
                    entry.kind = "permanent"
            live = list(data.live_indices())
            for step in range(min(count, len(live))):
                index = live[(hash((self.seed, now, step, 0xDE1)) & MASK) % len(live)]
                live.remove(index)
                data.overlay.deleted[index] = Deletion(now, "recycle")
                deleted.append(data.id_of(index))
            self._touch_parents(product, data, [data.index_of(i) for i in deleted], now)
        return deleted

    def restore(
        self, product: str, module: str, *, count: int = 0, ids: list[str] | None = None
    ) -> list[str]:
        """Take records out of the recycle bin: ``ids``, else the ``count`` deleted last.

        A restored record is live again with the values and times it had; Zoho does not
        document whether a restore changes Modified_Time, and keeping it is the harder case
        for an incremental export. Purged records cannot be restored. Returns the ids restored.
        """
        data = self.modules[(product, module)]
        with self.lock:
            binned = sorted(
                (entry.time, index)
                for index, entry in data.overlay.deleted.items()
                if entry.kind == "recycle"
            )
            if ids is not None:
                wanted = {data.index_of(record_id) for record_id in ids}
                chosen = [index for _, index in binned if index in wanted]
            else:
                chosen = [index for _, index in binned[::-1][: max(count, 0)]]
            for index in chosen:
                del data.overlay.deleted[index]
        return [data.id_of(index) for index in chosen]

    def convert(
        self, product: str, module: str, *, ids: list[str] | None = None, count: int = 0
    ) -> list[dict[str, str]]:
        """Convert leads as Zoho's Convert Lead does: a new Contact and Account, stamped now.

        ``ids`` (else ``count`` live leads not yet converted, newest first). The lead is
        modified by its conversion and cannot be edited afterwards. Returns, per lead, its id
        and the new records' ids.
        """
        data = self.modules[(product, module)]
        if module not in CONVERTIBLE_MODULES:
            raise ValueError(f"{module} records cannot be converted")
        now = int(time.time())
        if ids is not None:
            chosen = [i for i in (data.index_of(text) for text in ids) if i is not None]
        else:
            live = [i for i in data.live_indices() if data.conversion(i) is None]
            chosen = live[::-1][: max(count, 0)]
        made = []
        for index in chosen:
            contact = self.mutate(product, "Contacts", create=1)["created"][0]
            account = self.mutate(product, "Accounts", create=1)["created"][0]
            with self.lock:
                data.overlay.conversions[index] = Conversion(now, contact, account)
                data.overlay.modified_times[index] = now
            made.append({"id": data.id_of(index), "contact": contact, "account": account})
        return made

    def set_values(self, product: str, module: str, record_id: str, values: dict[str, Any]) -> None:
        """Give one record the ``values`` (as the ground truth writes them), modified now."""
        data = self.modules[(product, module)]
        index = data.index_of(record_id)
        if index is None:
            raise ValueError(f"no record {record_id} in {module}")
        parsed = {}
        for name, text in values.items():
            if name == "Record_Approval_Status":
                parsed[name] = str(text)
                continue
            item = data.module.get(name)
            if item is None:
                raise ValueError(f"no field {name} in {module}")
            parsed[name] = _stored_value(item, text)
        with self.lock:
            for name, value in parsed.items():
                if name == "Record_Approval_Status":
                    data.overlay.approvals[index] = value
                else:
                    data.overlay.values[(index, name)] = value
            data.overlay.modified_times[index] = int(time.time())


def in_record_set(
    data: ModuleData, converted: str = "false", approved: str = "true"
) -> Callable[[int], bool]:
    """Whether a record is among those Get Records' ``converted`` and ``approved`` let through.

    The defaults are Zoho's (only records not converted, only approved ones); ``both`` lets
    either through.
    """

    def shown(index: int) -> bool:
        is_converted = data.conversion(index) is not None
        is_approved = data.approval(index) == APPROVED
        return (converted == "both" or is_converted == (converted == "true")) and (
            approved == "both" or is_approved == (approved == "true")
        )

    return shown


def _stored_value(item: Field, text: Any) -> Any:
    """A value written as the ground truth writes it, as the dataset stores it."""
    kind = item.value_type
    if text is None:
        return None
    if kind == "datetime":
        return int(datetime.fromisoformat(str(text)).timestamp())
    if kind == "date":
        return date.fromisoformat(str(text))
    if kind in ("double", "currency", "percent", "decimal", "rollup_summary"):
        return Decimal(str(text))
    if kind == "integer":
        return int(text)
    if kind == "boolean":
        return bool(text)
    return text


_DAY_OFFSETS: dict[tuple[str, int], tuple[int, str] | None] = {}
_LOCAL_DAYS: dict[int, str] = {}


def _day_offset(zone: ZoneInfo, day: int) -> tuple[int, str] | None:
    """The zone's offset on a UTC day as (seconds, "+hh:mm"), or None if it changes that day."""
    key = (zone.key, day)
    if key not in _DAY_OFFSETS:
        first = datetime.fromtimestamp(day * 86400, zone)
        last = datetime.fromtimestamp(day * 86400 + 86399, zone)
        offset = first.utcoffset() or timedelta(0)
        same = offset == last.utcoffset()
        _DAY_OFFSETS[key] = (int(offset.total_seconds()), first.isoformat()[19:]) if same else None
    return _DAY_OFFSETS[key]


def format_datetime(epoch_seconds: int, zone: ZoneInfo) -> str:
    """A datetime as Zoho writes it: ISO 8601 in the org's zone, with offset, no fraction."""
    known = _day_offset(zone, epoch_seconds // 86400)
    if known is None:  # a day with a daylight saving change
        return datetime.fromtimestamp(epoch_seconds, zone).isoformat()
    local_day, rest = divmod(epoch_seconds + known[0], 86400)
    prefix = _LOCAL_DAYS.get(local_day)
    if prefix is None:
        prefix = time.strftime("%Y-%m-%dT", time.gmtime(local_day * 86400))
        _LOCAL_DAYS[local_day] = prefix
    hour, rest = divmod(rest, 3600)
    minute, second = divmod(rest, 60)
    return f"{prefix}{hour:02d}:{minute:02d}:{second:02d}{known[1]}"
